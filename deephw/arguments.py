"""Argument types shared by the ``deephw`` subcommands."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def integer_at_least(low: int, name: str) -> Callable[[str], int]:
    """An argparse type: an integer >= ``low``; ``name`` is how usage errors call it."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    parse.__name__ = name
    return parse


positive = integer_at_least(1, "positive integer")
non_negative = integer_at_least(0, "non-negative integer")
