"""One registry mechanism serves every swappable part."""

from __future__ import annotations

import pytest

from deephw.devices.base import DEVICE_MODELS
from deephw.devices.cells import CELLS
from deephw.engines.base import ENGINES
from deephw.registry import Registry
from deephw.schemes import SCHEMES


def test_register_get_and_names() -> None:
    parts: Registry[type] = Registry("widget", attribute="kind")

    @parts.register("round")
    class Round:
        pass

    assert parts.get("round") is Round and Round.kind == "round"
    assert parts.names() == ["round"]
    with pytest.raises(KeyError, match=r"unknown widget 'square' \(known: round\)"):
        parts.get("square")


def test_every_part_is_registered() -> None:
    assert {"numpy", "brian2"} <= set(ENGINES.names())
    assert {"ideal", "pcm", "capacitor", "soft_bounds", "lookup"} <= set(DEVICE_MODELS.names())
    assert CELLS.names() == ["ambrogio", "pair", "single"]
    assert SCHEMES.names() == ["digital", "hybrid", "in_situ"]
