"""Shared fixtures: every registered engine, and small builders used across test modules."""

from __future__ import annotations

import numpy as np
import pytest

import deephw


def skip_unless_capable(engine_cls: type[deephw.Engine], capabilities: tuple[str, ...]) -> None:
    """Skip the test, with the engine's declared reason, when it lacks a capability."""
    for capability in capabilities:
        reason = engine_cls.capabilities.lacks(capability)
        if reason is not None:
            pytest.skip(f"the {engine_cls.name} engine lacks {capability}: {reason}")


@pytest.fixture(params=deephw.engine_names())
def engine(request: pytest.FixtureRequest) -> deephw.Engine:
    """One instance of each registered engine; a test marked ``needs("circuit_noise")``
    (any :class:`deephw.engines.Capabilities` field) is skipped, with the engine's
    declared reason, on engines that lack it."""
    engine_cls = deephw.engines.engine_class(request.param)
    for marker in request.node.iter_markers("needs"):
        skip_unless_capable(engine_cls, marker.args)
    return deephw.get_engine(request.param)


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator, so every random test input is reproducible."""
    return np.random.default_rng(20200615)
