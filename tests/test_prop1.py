"""Proposition 1 as a property: with no clamped neurons and ``beta = 0`` the total activity
of a DEEP network is conserved (``sum_j ds_j/dt = 0``) while no neuron touches a rail."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import deephw
from deephw import analysis, model

DT = 0.005
STEPS = 4
weight = st.floats(-0.5, 0.5, allow_nan=False, allow_infinity=False)
activity = st.floats(0.3, 0.7, allow_nan=False, allow_infinity=False)


def complete_no_clamped(data: st.DataObject) -> tuple[np.ndarray, np.ndarray]:
    """Random ``(1, N, N)`` weights on the complete graph (no self loops) and ``(1, 2, N)``
    states."""
    n = data.draw(st.integers(2, 12), label="N")
    w = data.draw(hnp.arrays(np.float64, (n, n), elements=weight), label="W")
    np.fill_diagonal(w, 0.0)
    s = data.draw(hnp.arrays(np.float64, (2, n), elements=activity), label="s")
    return w[None], s[None]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_total_activity_is_conserved(data: st.DataObject) -> None:
    w, s = complete_no_clamped(data)
    for name in deephw.engine_names():
        traj = deephw.get_engine(name).relax(w, model.deep_leak(w), s, 0, STEPS, DT, record=True)
        assert traj.min() > 0.0 and traj.max() < 1.0, "a neuron hit a rail: not a Prop. 1 case"
        totals = traj.sum(axis=-1)
        np.testing.assert_allclose(totals, np.broadcast_to(totals[0], totals.shape), atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_total_flow_is_zero(data: st.DataObject) -> None:
    w, s = complete_no_clamped(data)
    for sample in s[0]:
        assert abs(analysis.total_flow(w[0], sample)) < 1e-9


def test_conservation_needs_the_outgoing_leak(rng: np.random.Generator) -> None:
    """With an incoming-sum leak the same check fails: the property test has teeth."""
    n = 7
    w = rng.uniform(-0.5, 0.5, (n, n))
    np.fill_diagonal(w, 0.0)
    s = rng.uniform(0.3, 0.7, n)
    wrong = analysis.velocity(w, w.sum(axis=0), s).sum()
    assert abs(wrong) > 1e-3
    assert abs(analysis.velocity(w, w.sum(axis=1), s).sum()) < 1e-12


def test_clamped_neurons_break_conservation(rng: np.random.Generator) -> None:
    """With a clamped neuron feeding the others, the total moves by ``dt * inflow``."""
    engine = deephw.get_engine("numpy")
    n = 6
    w = rng.uniform(0.0, 0.5, (1, n, n))
    np.fill_diagonal(w[0], 0.0)
    w[0, :, 0] = 0.0  # no edges into the clamped neuron 0
    s = rng.uniform(0.3, 0.7, (1, 1, n))
    after = engine.relax(w, model.deep_leak(w), s, 1, 1, DT)
    change = after[0, 0, 1:].sum() - s[0, 0, 1:].sum()
    np.testing.assert_allclose(change, DT * s[0, 0, 0] * w[0, 0, 1:].sum(), rtol=0, atol=1e-14)
    assert change > 1e-4
