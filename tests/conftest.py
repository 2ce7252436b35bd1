"""Shared fixtures: every registered engine, and small builders used across test modules."""

from __future__ import annotations

import numpy as np
import pytest

import deephw


@pytest.fixture(params=deephw.engine_names())
def engine(request: pytest.FixtureRequest) -> deephw.Engine:
    """One instance of each registered engine (``numpy`` today, ``brian2`` once registered)."""
    return deephw.get_engine(request.param)


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator, so every random test input is reproducible."""
    return np.random.default_rng(20200615)
