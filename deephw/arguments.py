"""Argument types shared by the ``deephw`` subcommands."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from deephw.config import SEED_MAX
from deephw.errors import quote


def integer_at_least(low: int, name: str, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer >= ``low`` (and <= ``high``); ``name`` names it in usage."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{quote(text)} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {quote(value)}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high}, got {quote(value)}")
        return value

    parse.__name__ = name
    return parse


positive = integer_at_least(1, "positive integer")
non_negative = integer_at_least(0, "non-negative integer")
seed = integer_at_least(0, "seed", high=SEED_MAX)
"""A seed: an integer in ``0 .. 2**63 - 1`` (seeds are stored as 64-bit integers)."""
