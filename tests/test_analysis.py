"""Stability analysis: Proposition 2's Gershgorin test and the exact Jacobian check."""

from __future__ import annotations

import numpy as np
import pytest

import deephw
from deephw import analysis, model, topology


def three_neurons(**edges: float) -> np.ndarray:
    """``(3, 3)`` weights over bias 0 (clamped) and free neurons 1 and 2; keys like ``w12``."""
    w = np.zeros((3, 3))
    for key, value in edges.items():
        w[int(key[1]), int(key[2])] = value
    return w


PASS = {"w01": 0.5, "w02": 0.5, "w10": 1.0, "w20": 1.0, "w12": 0.2, "w21": 0.3}


def test_gershgorin_pass() -> None:
    # out sums 1.2 and 1.3 > 0; free inflows 0.3 < 1.2 and 0.2 < 1.3
    assert analysis.gershgorin_stable(three_neurons(**PASS), 1)


def test_gershgorin_ignores_clamped_rows() -> None:
    assert analysis.gershgorin_stable(three_neurons(**{**PASS, "w01": -9.0, "w02": 7.0}), 1)


def test_gershgorin_fails_on_negative_out_sum() -> None:
    # neuron 2: out sum -0.7 (condition 1 fails) while inflow 0.2 < |-0.7| (condition 2 holds)
    assert not analysis.gershgorin_stable(three_neurons(**{**PASS, "w20": -1.0}), 1)


def test_gershgorin_fails_on_large_inflow() -> None:
    # out sums 1.2 and 2.5 > 0 (condition 1 holds); inflow of neuron 1 is 1.5 > 1.2
    assert not analysis.gershgorin_stable(three_neurons(**{**PASS, "w21": 1.5}), 1)


def test_gershgorin_boundary_is_strict() -> None:
    # inflow of neuron 1 is |-1.2| == out sum 1.2: not strictly smaller
    w = three_neurons(**{**PASS, "w21": -1.2, "w20": 2.4})
    assert w[1].sum() == pytest.approx(1.2) and w[2].sum() == pytest.approx(1.2)
    assert not analysis.gershgorin_stable(w, 1)
    w[2, 1] = -1.1999
    assert analysis.gershgorin_stable(w, 1)


def test_gershgorin_stacked_and_paper_graph(rng: np.random.Generator) -> None:
    good = three_neurons(**PASS)
    bad1 = three_neurons(**{**PASS, "w20": -1.0})
    bad2 = three_neurons(**{**PASS, "w21": 1.5})
    got = analysis.gershgorin_stable(np.stack([good, bad1, bad2, good]), 1)
    np.testing.assert_array_equal(got, [True, False, False, True])
    # With no edges into clamped neurons and W >= 0, sum_j inflow_j = sum_j outsum_j, so
    # the strict condition cannot hold for every j: the paper's graph never passes it.
    mask = topology.complete(2, 5, 1).mask
    w = rng.uniform(0.0, 0.25, (20, 9, 9)) * mask
    assert not analysis.gershgorin_stable(w, 3).any()


def jacobian(w: np.ndarray, leak: np.ndarray, idx: list[int]) -> np.ndarray:
    """``J[a, b] = dV_j/ds_i = W_ij - delta_ij leak_j`` for ``j = idx[a]``, ``i = idx[b]``."""
    return np.array(
        [[w[i, j] - (leak[j] if i == j else 0.0) for i in idx] for j in idx], dtype=float
    )


def interior_network(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paper graph with a constant extra leak of 1 and its exact interior equilibrium."""
    topo = topology.complete(2, 3, 1)
    w = rng.uniform(0.0, 0.2, (topo.n, topo.n)) * topo.mask
    leak = model.deep_leak(w[None], extra_leak=1.0)[0]
    clamped = np.array([1.0, 0.0, 1.0])
    p = topo.n_clamped
    # free equilibrium: (diag(leak_f) - W_ff^T) s_f = W_cf^T s_c
    s_free = np.linalg.solve(np.diag(leak[p:]) - w[p:, p:].T, w[:p, p:].T @ clamped)
    return w, leak, np.concatenate([clamped, s_free])


def test_jacobian_interior_stable(engine: deephw.Engine, rng: np.random.Generator) -> None:
    w, leak, exact = interior_network(rng)
    p = 3
    assert ((exact[p:] > 0.05) & (exact[p:] < 0.95)).all()
    start = np.concatenate([exact[:p], np.full(len(exact) - p, 0.05)])
    s0 = engine.relax(w[None], leak[None], start[None, None], p, 400, 0.5)[0, 0]
    np.testing.assert_allclose(s0, exact, rtol=0, atol=1e-10)
    check = analysis.jacobian_check(w, leak, s0, p)
    assert check.stable
    assert check.residual < 1e-10
    np.testing.assert_array_equal(check.active, np.arange(len(s0)) >= p)
    want = np.linalg.eigvals(jacobian(w, leak, list(range(p, len(s0)))))
    np.testing.assert_allclose(np.sort_complex(check.eigenvalues), np.sort_complex(want))
    assert (check.eigenvalues.real < 0).all()


def test_jacobian_not_at_equilibrium_has_residual(rng: np.random.Generator) -> None:
    w, leak, exact = interior_network(rng)
    off = exact.copy()
    off[4] += 0.1
    check = analysis.jacobian_check(w, leak, off, 3)
    v4 = (off @ w)[4] - leak[4] * off[4]
    assert check.residual == pytest.approx(max(abs((off @ w)[3:] - leak[3:] * off[3:])))
    assert check.residual >= abs(v4) > 0.05


def test_jacobian_pinned_neurons_drop_out(engine: deephw.Engine, rng: np.random.Generator) -> None:
    w, _, _ = interior_network(rng)
    w[2, 3] = 5.0  # bias drives h1 (neuron 3) onto the upper rail
    w[2, 4] = -5.0  # and h2 (neuron 4) onto the lower rail
    leak = model.deep_leak(w[None], extra_leak=1.0)[0]
    start = np.array([1.0, 0.0, 1.0, 0.05, 0.05, 0.05, 0.05])
    s0 = engine.relax(w[None], leak[None], start[None, None], 3, 400, 0.5)[0, 0]
    assert s0[3] == 1.0 and s0[4] == 0.0
    assert ((s0[5:] > 0) & (s0[5:] < 1)).all()
    check = analysis.jacobian_check(w, leak, s0, 3)
    np.testing.assert_array_equal(check.active, [False] * 5 + [True] * 2)
    assert len(check.eigenvalues) == 2
    want = np.linalg.eigvals(jacobian(w, leak, [5, 6]))
    np.testing.assert_allclose(np.sort_complex(check.eigenvalues), np.sort_complex(want))
    assert check.stable and check.residual < 1e-10


def test_jacobian_golden_fixed_point_fully_pinned() -> None:
    w = np.zeros((5, 5))
    w[0, 3], w[1, 3], w[2, 3], w[3, 4], w[2, 4], w[4, 3] = 0.6, -0.4, 0.1, 0.8, -0.2, 0.3
    check = analysis.jacobian_check(w, w.sum(axis=1), np.array([1.0, 0, 1, 1, 1]), 3)
    assert not check.active.any() and len(check.eigenvalues) == 0
    assert check.stable and check.residual == 0.0


def test_jacobian_negative_leak_unstable(engine: deephw.Engine) -> None:
    """One free neuron, leak -0.5, input -0.25: equilibrium 0.5 with eigenvalue +0.5."""
    w = np.array([[0.0, -0.25], [0.0, 0.0]])
    leak = np.array([0.0, -0.5])
    check = analysis.jacobian_check(w, leak, np.array([1.0, 0.5]), 1)
    assert check.residual == 0.0
    np.testing.assert_allclose(check.eigenvalues, [0.5])
    assert not check.stable
    # and the dynamics really run away from it
    traj = engine.relax(w[None], leak[None], np.array([[[1.0, 0.51]]]), 1, 20, 0.1, record=True)
    distance = np.abs(traj[:, 0, 0, 1] - 0.5)
    assert (np.diff(distance) > 0).all() and distance[-1] > 0.02


def test_jacobian_stable_where_gershgorin_fails() -> None:
    """Gershgorin is only sufficient: a triangular Jacobian with eigenvalues -4 and -1."""
    w = three_neurons(w01=1.0, w02=-0.25, w10=1.0, w12=3.0, w20=1.0)
    assert not analysis.gershgorin_stable(w, 1)
    check = analysis.jacobian_check(w, w.sum(axis=1), np.array([1.0, 0.25, 0.5]), 1)
    assert check.residual == 0.0
    np.testing.assert_allclose(np.sort(check.eigenvalues.real), [-4.0, -1.0])
    assert check.stable


def test_velocity_matches_loop(rng: np.random.Generator) -> None:
    w = rng.normal(size=(4, 4))
    leak = rng.normal(size=4)
    s = rng.uniform(size=4)
    want = [sum(w[i, j] * s[i] for i in range(4)) - leak[j] * s[j] for j in range(4)]
    np.testing.assert_allclose(analysis.velocity(w, leak, s), want, rtol=0, atol=1e-14)


def test_rail_fraction() -> None:
    s0 = np.array(
        [
            [[1, 0, 0.0, 1.0, 0.5], [1, 1, 0.2, 0.3, 1.0]],
            [[0, 1, 0.5, 0.5, 0.5], [0, 0, 0.5, 1e-12, 1 - 1e-12]],
        ]
    )
    np.testing.assert_allclose(analysis.rail_fraction(s0, 2), [3 / 6, 0.0])
    assert analysis.rail_fraction(s0[0], 2) == pytest.approx(0.5)
    assert analysis.rail_fraction(s0[0], 4) == pytest.approx(0.5)
