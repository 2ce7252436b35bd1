"""IR drop: the exact nodal solve against closed forms, the fast iteration against the
exact solve on 64 x 64 arrays (with the bound it states), tiles, and the multiply model."""

from __future__ import annotations

import numpy as np
import pytest

from deephw import irdrop
from deephw.irdrop_exact import exact_currents, exact_effective_weights, tile_solver
from deephw.multiply import DenseMultiply, IRDropMultiply


def _array(rng: np.random.Generator, n_chips: int = 2, n: int = 64, g_max_uS: float = 20.0):
    weights = rng.normal(0, 1, (n_chips, n, n))
    load = rng.uniform(0, g_max_uS * 1e-6, (n_chips, n, n))
    return weights, load


def ladder_far_loss(n: int, g_siemens: float, r_ohm: float) -> np.ndarray:
    """Relative drop of every node of a row line of ``n`` cells (closed form).

    The line is driven at one end through one segment; each cell is ``g`` in series with
    its column's one segment to the virtual ground, i.e. a shunt ``g / (1 + r g)``. Node
    ``k`` sits at ``cosh(theta (n - 1/2 - k)) / cosh(theta (n + 1/2))`` with
    ``cosh(theta) = 1 + r g' / 2``.
    """
    shunt = g_siemens / (1 + r_ohm * g_siemens)
    theta = np.arccosh(1 + r_ohm * shunt / 2)
    k = np.arange(n)
    return 1 - np.cosh(theta * (n - 0.5 - k)) / np.cosh(theta * (n + 0.5))


@pytest.mark.parametrize("r_ohm", [0.15, 1.0])
def test_exact_solve_matches_the_closed_form_of_one_line(r_ohm: float) -> None:
    n, g = 512, 3e-6
    delta = tile_solver(np.full((1, n), g), r_ohm)(np.ones((1, 1)))[0, 0]
    node_loss = ladder_far_loss(n, g, r_ohm)
    # the cell voltage is its row node's minus its column node's (r g' of it)
    cell_loss = 1 - (1 - node_loss) / (1 + r_ohm * g)
    np.testing.assert_allclose(1 - delta, cell_loss, rtol=1e-9, atol=1e-12)


def test_one_line_reproduces_the_issues_far_cell_numbers() -> None:
    # A 512-cell line loaded by g a = 10 uS x 0.3 per node loses 1 - 1/cosh(n sqrt(r g a))
    # at its far end: about 5.6 % at 0.15 ohm and 30 % at 1 ohm.
    for r_ohm, expected in ((0.15, 0.056), (1.0, 0.296)):
        delta = tile_solver(np.full((1, 512), 3e-6), r_ohm)(np.ones((1, 1)))[0, 0]
        assert abs((1 - delta[-1]) - expected) < 0.002
        assert abs((1 - delta[-1]) - (1 - 1 / np.cosh(512 * np.sqrt(r_ohm * 3e-6)))) < 0.002


def test_exact_solve_is_linear_and_ideal_without_resistance(rng: np.random.Generator) -> None:
    weights, load = _array(rng, n=24)
    state = rng.uniform(0, 1, (2, 5, 24))
    currents = exact_currents(state, weights, load, 2.0, 24, 24)
    effective = exact_effective_weights(weights, load, 2.0, 24, 24)
    np.testing.assert_allclose(currents, state @ effective, rtol=0, atol=1e-12)
    # no drive, no current; a tiny wire is the ideal product
    assert np.abs(exact_currents(0 * state, weights, load, 2.0, 24, 24)).max() == 0
    tiny = exact_currents(state, weights, load, 1e-9, 24, 24)
    np.testing.assert_allclose(tiny, state @ weights, rtol=0, atol=1e-10)


@pytest.mark.parametrize("r_ohm", [0.15, 1.0, 3.0, 8.0])
def test_fast_iteration_agrees_with_the_exact_solve_on_64x64(
    rng: np.random.Generator, r_ohm: float
) -> None:
    weights, load = _array(rng)
    eps = irdrop.contraction(load, r_ohm, 64, 64)
    # eps is the first-order drop of the worst cell, at most r G_max n (n + 1)
    assert (eps <= r_ohm * load.max(axis=(1, 2)) * 64 * 65).all()
    exact = exact_effective_weights(weights, load, r_ohm, 64, 64)
    fast, held = irdrop.effective_weights(weights, load, r_ohm, 64, 64)
    scale = np.abs(weights).sum(axis=1, keepdims=True)  # sum_i |W_ij| per column
    assert (held <= irdrop.FAST_TOLERANCE).all()
    assert (np.abs(fast - exact) <= held[:, None, None] * scale).all()
    # first order, K = 1: the a-priori bound eps^2 / (1 - eps) holds on the currents
    first, _ = irdrop.effective_weights(weights, load, r_ohm, 64, 64, steps=1)
    error = (np.abs(first - exact) / scale).max(axis=(1, 2))
    assert (error <= irdrop.bound(eps, 1)).all()
    # ... and on the cell voltages, where it is tight within a factor 10
    drive = np.repeat(np.eye(64)[:, :, None], 64, 2)
    for chip in range(2):
        true = tile_solver(load[chip], r_ohm)(np.eye(64))
        volts, _, _ = irdrop.fast_voltages(drive, load[chip], r_ohm, 64, steps=1)
        worst = np.abs(volts - true).max()
        assert irdrop.bound(eps[chip], 1) / 10 <= worst <= irdrop.bound(eps[chip], 1)
    # and the drop itself is not negligible at the larger resistances
    if r_ohm >= 1:
        assert (np.abs(exact - weights) / scale).max() > 1e-3


def test_fast_iteration_reports_divergence(rng: np.random.Generator) -> None:
    load = np.full((1, 64, 64), 300e-6)  # eps = 1 ohm x 300 uS x 64 x 65 > 1
    assert irdrop.contraction(load, 1.0, 64, 64)[0] > 1
    _, held = irdrop.effective_weights(np.ones((1, 64, 64)), load, 1.0, 64, 64)
    assert np.isinf(held).all()
    # the model then solves exactly
    model = IRDropMultiply(np.ones((1, 64, 64)), load * 1e6, 1.0, 64, 64)
    assert model.held[0] == 0
    np.testing.assert_allclose(
        model.effective, exact_effective_weights(np.ones((1, 64, 64)), load, 1.0, 64, 64)
    )


def test_fast_voltages_of_samples_match_the_exact_solve(rng: np.random.Generator) -> None:
    load = rng.uniform(0, 20e-6, (64, 64))
    drive = (rng.random((6, 64)) < 0.3).astype(float)
    exact = tile_solver(load, 1.0)(drive)
    fast, steps, held = irdrop.fast_voltages(np.repeat(drive[:, :, None], 64, 2), load, 1.0, 64)
    assert steps >= 2 and held < irdrop.FAST_TOLERANCE
    assert np.abs(fast - exact).max() <= held


def test_tiles_are_solved_separately(rng: np.random.Generator) -> None:
    weights, load = _array(rng, n_chips=1, n=40)
    # 40 x 40 on 16 x 24 tiles: 3 x 2 tiles, partial at the edges
    effective = exact_effective_weights(weights, load, 2.0, 16, 24)
    by_hand = np.zeros_like(weights)
    for r0, r1 in ((0, 16), (16, 32), (32, 40)):
        for c0, c1 in ((0, 24), (24, 40)):
            delta = tile_solver(load[0, r0:r1, c0:c1], 2.0)(np.eye(r1 - r0))
            by_hand[0, r0:r1, c0:c1] = np.einsum("kij,ij->kj", delta, weights[0, r0:r1, c0:c1])
    np.testing.assert_allclose(effective, by_hand, rtol=0, atol=1e-14)
    fast, _ = irdrop.effective_weights(weights, load, 2.0, 16, 24)
    np.testing.assert_allclose(fast, effective, rtol=0, atol=1e-5)
    # a tile larger than the matrix is the matrix's own size; smaller tiles drop less
    big = exact_effective_weights(weights, load, 2.0, 512, 512)
    np.testing.assert_allclose(big, exact_effective_weights(weights, load, 2.0, 40, 40))
    assert np.abs(effective - weights).sum() < np.abs(big - weights).sum()


def test_ir_drop_multiply_model(rng: np.random.Generator) -> None:
    weights, load = _array(rng, n=12)
    model = IRDropMultiply(weights, load * 1e6, 2.0, 8, 8)
    exact = IRDropMultiply(weights, load * 1e6, 2.0, 8, 8, method="exact")
    np.testing.assert_allclose(model.effective, exact.effective, rtol=0, atol=1e-5)
    state = rng.uniform(0, 1, (2, 3, 12))
    out = np.empty((2, 3, 9))
    model.free_columns(3)(state, out)
    np.testing.assert_allclose(out, (state @ model.effective)[..., 3:], rtol=0, atol=1e-14)
    assert model.column_weights is model.effective
    dense = DenseMultiply(weights)
    assert dense.column_weights is dense.weights
    again = model.with_weights(2 * weights)
    assert isinstance(again, IRDropMultiply)
    np.testing.assert_allclose(again.effective, 2 * model.effective, rtol=1e-12, atol=1e-14)
    # the leak measured without drop overstates the outgoing currents
    imbalance = model.leak_imbalance(3)
    assert imbalance.shape == (2,) and (imbalance > 1e-4).all()
    assert (IRDropMultiply(weights, load * 1e6, 1e-6, 8, 8).leak_imbalance(3) < 1e-8).all()
    with pytest.raises(ValueError, match="wire_ohm must be > 0"):
        IRDropMultiply(weights, load, 0.0)
    with pytest.raises(ValueError, match="method must be one of"):
        IRDropMultiply(weights, load, 1.0, method="guess")
    with pytest.raises(ValueError, match="load_uS must be"):
        IRDropMultiply(weights, load[:1], 1.0)
