"""Learning rules, L1 shrinkage and Boltzmann pruning checked against explicit formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from deephw import model
from deephw.engines.numpy_engine import NumpyEngine


def test_deep_update_matches_triple_loop(rng: np.random.Generator) -> None:
    """Eq. 2: ``lr/(Mb B) sum_b sum_{m=1..Mb} s_i(m) (s_j(m) - s_j(m-1))``."""
    n_steps, n_copies, batch, n = 6, 2, 3, 5
    traj = rng.uniform(0.0, 1.0, (n_steps + 1, n_copies, batch, n))
    lr = 2.5
    got = model.deep_update(traj, lr)
    assert got.shape == (n_copies, n, n)
    for c in range(n_copies):
        for i in range(n):
            for j in range(n):
                total = 0.0
                for b in range(batch):
                    for m in range(1, n_steps + 1):
                        s = traj[:, c, b]
                        total += s[m, i] * (s[m, j] - s[m - 1, j])
                want = lr / (n_steps * batch) * total
                assert got[c, i, j] == pytest.approx(want, abs=1e-12, rel=0)


def test_deep_update_static_trajectory_is_zero(rng: np.random.Generator) -> None:
    state = rng.uniform(0.0, 1.0, (1, 2, 4, 6))
    np.testing.assert_array_equal(model.deep_update(np.repeat(state, 5, axis=0), 3.0), 0.0)


def test_deep_update_single_step_is_outer_product() -> None:
    """One step, one sample: ``dW_ij = lr s_i(1) (s_j(1) - s_j(0))``; biases use s_i = 1."""
    s0 = np.array([1.0, 0.2, 0.5])
    s1 = np.array([1.0, 0.6, 0.1])
    got = model.deep_update(np.stack([s0, s1])[:, None, None, :], 0.5)[0]
    want = 0.5 * np.array([[a * (c - d) for c, d in zip(s1, s0, strict=True)] for a in s1])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)
    np.testing.assert_allclose(got[0], [0.0, 0.2, -0.2], rtol=0, atol=1e-15)


def batched_deep_update(trajectory: np.ndarray, lr: float) -> np.ndarray:
    """Eq. 2 as deephw computed it before it took one product per copy: the stacked
    copies' states and changes transposed into ``(S, Mb B, N)`` and multiplied at once."""
    n_steps, n_copies, batch, n = trajectory.shape
    n_steps -= 1
    pre = trajectory[1:].transpose(1, 0, 2, 3).reshape(n_copies, n_steps * batch, n)
    change = np.diff(trajectory, axis=0).transpose(1, 0, 2, 3).reshape(pre.shape)
    return (lr / (n_steps * batch)) * (pre.transpose(0, 2, 1) @ change)


@pytest.mark.parametrize(
    "shape",
    [
        (21, 1, 32, 107),  # digits, one seed (its states are contiguous: no gather)
        (21, 3, 32, 107),  # digits, three seeds
        (11, 10, 4, 9),  # the paper's graph, ten seeds
        (3, 2, 300, 40),  # long batch: BLAS blocks the (Mb B)-long sum
        (2, 1, 1, 3),
    ],
)
@pytest.mark.parametrize("threads", [1, 2])
def test_deep_update_bit_identical_to_batched_product(
    rng: np.random.Generator, shape: tuple[int, ...], threads: int
) -> None:
    """The per-copy products give the batched product's numbers bit for bit, at either
    BLAS thread count (OpenBLAS's round-off depends on it; both sides use the same)."""
    trajectory = rng.uniform(0.0, 1.0, shape)
    with threadpool_limits(threads, user_api="blas"):
        got = model.deep_update(trajectory, 0.3)
        want = batched_deep_update(trajectory, 0.3)
    np.testing.assert_array_equal(got, want)
    assert got.flags.c_contiguous and got.dtype == np.float64


def test_deep_update_of_a_strided_trajectory(rng: np.random.Generator) -> None:
    """A trajectory that is a view with gaps (every other copy) gives the same numbers as
    its contiguous copy."""
    whole = rng.uniform(0.0, 1.0, (6, 4, 5, 7))
    view = whole[:, ::2]
    np.testing.assert_array_equal(
        model.deep_update(view, 1.7), batched_deep_update(np.ascontiguousarray(view), 1.7)
    )


def test_asym_ep_update_matches_formula(rng: np.random.Generator) -> None:
    """``dW_ij = lr / B sum_b s0_i (sb_j - s0_j) / beta``."""
    n_copies, batch, n = 3, 4, 5
    s0 = rng.uniform(0.0, 1.0, (n_copies, batch, n))
    sb = rng.uniform(0.0, 1.0, (n_copies, batch, n))
    beta, lr = 0.7, 1.3
    got = model.asym_ep_update(s0, sb, beta, lr)
    for c in range(n_copies):
        for i in range(n):
            for j in range(n):
                total = sum(s0[c, b, i] * (sb[c, b, j] - s0[c, b, j]) for b in range(batch))
                want = lr / batch * total / beta
                assert got[c, i, j] == pytest.approx(want, abs=1e-12, rel=0)


def test_asym_ep_leak_is_one() -> None:
    np.testing.assert_array_equal(model.asym_ep_leak(np.zeros((3, 4, 4))), np.ones((3, 4)))


def test_apply_update_l1_and_mask() -> None:
    w = np.array([[[0.0, 0.5, -0.3], [0.2, 0.0, 0.00005], [9.0, -0.1, 0.0]]])
    delta = np.array([[[0.1, 0.1, 0.1], [-0.2, 0.0, -0.0001], [1.0, 0.0, 0.0]]])
    mask = np.array([[[False, True, True], [True, False, True], [False, True, False]]])
    l1 = 1e-3
    model.apply_update(w, delta, mask, l1)
    # added: [[.1, .6, -.2], [0, 0, -.00005], [10, -.1, 0]]; then W -= l1 sign(W); then mask
    want = [[0.0, 0.6 - l1, -0.2 + l1], [0.0, 0.0, -0.00005 + l1], [0.0, -0.1 + l1, 0.0]]
    np.testing.assert_allclose(w[0], want, rtol=0, atol=1e-15)


def test_l1_request_is_the_whole_change(rng: np.random.Generator) -> None:
    """The programmed change is ``delta - l1 sign(W + delta)``; without L1 it is ``delta``."""
    w = rng.normal(size=(2, 4, 4))
    delta = rng.normal(size=(2, 4, 4))
    got = model.l1_request(w, delta, 0.01)
    for idx in np.ndindex(w.shape):
        total = w[idx] + delta[idx]
        want = delta[idx] - 0.01 * (1.0 if total > 0 else -1.0 if total < 0 else 0.0)
        assert got[idx] == pytest.approx(want, abs=1e-15, rel=0)
    assert model.l1_request(w, delta, 0.0) is delta


def test_apply_update_without_l1(rng: np.random.Generator) -> None:
    w = rng.normal(size=(2, 4, 4))
    delta = rng.normal(size=(2, 4, 4))
    mask = rng.random((2, 4, 4)) < 0.5
    want = (w + delta) * mask
    model.apply_update(w, delta, mask, 0.0)
    np.testing.assert_array_equal(w, want)


def removal_probabilities(w: np.ndarray, mask: np.ndarray, temperature: float) -> np.ndarray:
    """Eq. 3 probabilities for one ``(N, N)`` network, by loops over each column ``j``."""
    n = w.shape[0]
    p = np.zeros_like(w)
    for j in range(n):
        present = [k for k in range(n) if mask[k, j]]
        total = sum(math.exp(-abs(w[k, j]) / temperature) for k in present)
        for i in present:
            p[i, j] = math.exp(-abs(w[i, j]) / temperature) / total
    return p


def pruning_case() -> tuple[np.ndarray, np.ndarray]:
    """A 4-neuron net: column 3 has three present inputs (one strong), column 2 has one."""
    w = np.zeros((4, 4))
    mask = np.zeros((4, 4), dtype=bool)
    for (i, j), v in {(0, 3): 0.02, (1, 3): -0.08, (2, 3): 0.5, (0, 2): 0.15, (3, 1): -0.3}.items():
        w[i, j] = v
        mask[i, j] = True
    w[1, 2] = 0.01  # a stale weight outside the mask: not a connection
    return w, mask


def test_pruning_frequencies_match_eq3() -> None:
    w, mask = pruning_case()
    threshold, temperature = 0.2, 0.1
    p = removal_probabilities(w, mask, temperature)
    assert p[0, 2] == pytest.approx(1.0)  # the only input of neuron 2
    assert 0.3 < p[0, 3] < 0.7 and 0.1 < p[1, 3] < 0.5  # far from 0 and 1: a sharp test
    draws = 20000
    copies = 1000
    counts = np.zeros((4, 4))
    gen = np.random.default_rng(7)
    for _ in range(draws // copies):
        ws = np.broadcast_to(w, (copies, 4, 4)).copy()
        ms = np.broadcast_to(mask, (copies, 4, 4)).copy()
        rngs = [np.random.default_rng(s) for s in gen.integers(0, 2**63, copies)]
        counts += model.boltzmann_prune(ws, ms, threshold, temperature, rngs).sum(axis=0)
    freq = counts / draws
    expected = np.where(mask & (np.abs(w) < threshold), p, 0.0)
    se = np.sqrt(expected * (1 - expected) / draws)
    assert np.all(np.abs(freq - expected) <= 4 * se + 1e-12), (freq, expected)
    assert freq[0, 2] == 1.0
    assert freq[2, 3] == 0.0 and freq[3, 1] == 0.0  # |W| >= threshold
    assert freq[1, 2] == 0.0  # absent


def test_pruning_invariants(rng: np.random.Generator) -> None:
    n_copies, n = 8, 7
    w = rng.normal(0.0, 0.2, (n_copies, n, n))
    mask = rng.random((n_copies, n, n)) < 0.7
    w *= mask
    w[~mask] = rng.normal(0.0, 0.01, (~mask).sum())  # stale values outside the mask
    threshold = 0.15
    rngs = [np.random.default_rng(s) for s in range(n_copies)]
    total_removed = 0
    for _ in range(30):
        before_w, before_mask = w.copy(), mask.copy()
        removed = model.boltzmann_prune(w, mask, threshold, 0.1, rngs)
        total_removed += removed.sum()
        assert not (removed & ~before_mask).any()  # removes nothing absent
        assert not (removed & (np.abs(before_w) >= threshold)).any()  # never strong ones
        np.testing.assert_array_equal(mask, before_mask & ~removed)  # never resurrects
        np.testing.assert_array_equal(w, before_w * mask)  # weights follow the mask
    assert total_removed > 0


def test_pruning_threshold_is_strict() -> None:
    """``|W| < lambda`` is pruned, ``|W| == lambda`` is not (here p = 1 for both)."""
    w = np.zeros((1, 3, 3))
    mask = np.zeros((1, 3, 3), dtype=bool)
    w[0, 0, 1] = 0.1
    mask[0, 0, 1] = mask[0, 0, 2] = True
    w[0, 0, 2] = -0.1 - 1e-12
    removed = model.boltzmann_prune(w, mask, 0.1, 0.1, [np.random.default_rng(0)])
    assert not removed[0, 0, 1] and not removed[0, 0, 2]
    w[0, 0, 1] = 0.1 - 1e-12
    removed = model.boltzmann_prune(w, mask, 0.1, 0.1, [np.random.default_rng(0)])
    assert removed[0, 0, 1] and not removed[0, 0, 2]
    assert w[0, 0, 1] == 0.0 and not mask[0, 0, 1]


def test_pruning_reproducible(rng: np.random.Generator) -> None:
    w = rng.normal(0.0, 0.1, (3, 6, 6))
    mask = np.ones((3, 6, 6), dtype=bool)
    results = []
    for _ in range(2):
        ws, ms = w.copy(), mask.copy()
        rngs = [np.random.default_rng(s) for s in (11, 12, 13)]
        removed = [model.boltzmann_prune(ws, ms, 0.2, 0.05, rngs) for _ in range(5)]
        results.append((np.array(removed), ws, ms))
    for a, b in zip(results[0], results[1], strict=True):
        np.testing.assert_array_equal(a, b)
    assert results[0][0].any()
    other = model.boltzmann_prune(
        w.copy(), mask.copy(), 0.2, 0.05, [np.random.default_rng(s) for s in (21, 22, 23)]
    )
    assert not np.array_equal(other, results[0][0][0])


def test_deep_update_of_a_numpy_engine_trajectory(rng: np.random.Generator) -> None:
    """The NumPy engine records each copy's nudged phase as one block, so the update takes
    a copy's states without gathering them, and its numbers are the batched product's."""
    n_copies, batch, n, p = 3, 4, 9, 3
    weights = rng.uniform(0.0, 0.3, (n_copies, n, n))
    state = rng.uniform(0.0, 1.0, (n_copies, batch, n))
    targets = rng.uniform(0.0, 1.0, (n_copies, batch, 2))
    trajectory = NumpyEngine().relax(
        weights, weights.sum(axis=2), state, p, 5, 0.5, 1.0, targets, record=True
    )
    assert trajectory.shape == (6, n_copies, batch, n)
    pre = trajectory[1:, 1].reshape(-1, n)
    assert np.shares_memory(pre, trajectory)
    np.testing.assert_array_equal(
        model.deep_update(trajectory, 0.3),
        batched_deep_update(np.ascontiguousarray(trajectory), 0.3),
    )
