"""The Brian2 engine against the NumPy reference engine.

Brian2 really runs here: the numpy code-generation target for most tests, and one test
that compiles the cython target (it needs a C compiler and the Python headers).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import deephw
from deephw import model, topology
from deephw.config import from_dict
from deephw.engines import engine_names, get_engine
from deephw.engines.brian2_engine import Brian2Engine, default_cache_dir

pytestmark = [  # Brian2's deprecated pyparsing calls
    pytest.mark.filterwarnings("ignore::DeprecationWarning:brian2"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyparsing"),
]

DT = 0.5
BETA = 1.5
LR = 10.0


def _network(topo: topology.Topology, n_copies: int, batch: int, signed: bool, seed: int):
    """Random weights, DEEP leaks, initial states and targets for ``n_copies`` networks."""
    rng = np.random.default_rng(seed)
    n, p = topo.n, topo.n_clamped
    if signed:
        weights = rng.normal(0.0, 0.15, (n_copies, n, n))
    else:
        weights = rng.uniform(0.0, 0.25, (n_copies, n, n))
    mask = topo.mask & (rng.random((n_copies, n, n)) < 0.8)
    weights *= mask
    state = rng.uniform(0.0, 0.1, (n_copies, batch, n))
    state[..., : topo.n_inputs] = rng.integers(0, 2, (n_copies, batch, topo.n_inputs))
    state[..., topo.bias_index] = 1.0
    targets = rng.integers(0, 2, (n_copies, batch, topo.n_outputs)).astype(float)
    assert p == topo.n_clamped
    return weights, model.deep_leak(weights), state, targets


NETWORKS = {
    "paper": (topology.complete(2, 5, 1), 3, 4, False),
    "bigger": (topology.complete(4, 12, 3), 2, 5, True),
}


@pytest.fixture(scope="module")
def brian2_engine() -> Brian2Engine:
    return Brian2Engine(target="numpy")


@pytest.fixture(scope="module")
def numpy_engine():
    return get_engine("numpy")


def _one_step(engine, weights, leak, state, topo, targets, free_steps=100, nudged_steps=20):
    """Free phase, nudged trajectory and DEEP's weight change of one training step."""
    p = topo.n_clamped
    s0 = engine.relax(weights, leak, state, p, free_steps, DT)
    trajectory = engine.relax(weights, leak, s0, p, nudged_steps, DT, BETA, targets, record=True)
    return s0, trajectory, model.deep_update(trajectory, LR)


def test_registered_and_lazy():
    assert "brian2" in engine_names()
    engine = get_engine("brian2", target="numpy")
    assert isinstance(engine, Brian2Engine)
    root = Path(deephw.__file__).resolve().parents[1]
    path = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    code = "import sys, deephw; sys.exit('brian2' in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_one_training_step_matches_numpy(name, brian2_engine, numpy_engine):
    topo, n_copies, batch, signed = NETWORKS[name]
    weights, leak, state, targets = _network(topo, n_copies, batch, signed, seed=1)
    s0, trajectory, delta = _one_step(brian2_engine, weights, leak, state, topo, targets)
    r0, r_trajectory, r_delta = _one_step(numpy_engine, weights, leak, state, topo, targets)
    assert s0.shape == state.shape
    assert trajectory.shape == (21, n_copies, batch, topo.n)
    np.testing.assert_array_equal(trajectory[0], s0)
    np.testing.assert_allclose(s0, r0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(trajectory, r_trajectory, rtol=0, atol=1e-12)
    np.testing.assert_allclose(delta, r_delta, rtol=0, atol=1e-12)
    # The nets really move: the nudge changes the outputs and the rule changes weights.
    assert np.abs(delta).max() > 1e-3
    assert not np.allclose(trajectory[-1], s0)


def test_clamped_neurons_stay_exactly(brian2_engine):
    topo = topology.complete(2, 5, 1)
    weights, leak, state, targets = _network(topo, 3, 4, False, seed=2)
    state[..., :2] = [0.3, 1.7]  # even outside the rails
    out = brian2_engine.relax(weights, leak, state, topo.n_clamped, 50, DT, BETA, targets)
    np.testing.assert_array_equal(out[..., : topo.n_clamped], state[..., : topo.n_clamped])
    assert out[..., topo.n_clamped :].min() >= 0.0
    assert out[..., topo.n_clamped :].max() <= 1.0


def test_training_matches_numpy_after_5_epochs():
    config = from_dict({"task": {"name": "XOR"}, "training": {"epochs": 5, "seeds": 3}})
    reference = deephw.train(config)
    engine = Brian2Engine(target="numpy")
    result = deephw.train(config, engine=engine)
    np.testing.assert_allclose(result.weights, reference.weights, rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.history["mse"], reference.history["mse"], atol=1e-9)
    np.testing.assert_allclose(result.final_mse, reference.final_mse, atol=1e-9)
    assert engine.builds == 1


@pytest.mark.parametrize("loop", ["direct", "network"])
def test_network_built_once_and_reused(loop):
    topo = topology.complete(2, 5, 1)
    weights, leak, state, targets = _network(topo, 3, 4, False, seed=3)
    engine = Brian2Engine(target="numpy", loop=loop)
    p = topo.n_clamped
    s0 = engine.relax(weights, leak, state, p, 30, DT)
    (network,) = engine.networks()
    for _ in range(3):
        s0 = engine.relax(weights, leak, state, p, 30, DT)
        engine.relax(weights, leak, s0, p, 10, DT, BETA, targets, record=True)
        engine.relax(weights * 0.5, leak, s0, p, 5, DT)
    assert engine.builds == 1
    assert engine.networks()[0] is network
    assert engine.circuit((3, 4, topo.n, p)).runs == 10
    # Another shape gets its own network; the first one is kept.
    engine.relax(weights[:1], leak[:1], state[:1], p, 5, DT)
    assert engine.builds == 2
    assert engine.networks()[0] is network


def test_direct_loop_equals_network_run():
    topo = topology.complete(2, 5, 1)
    weights, leak, state, targets = _network(topo, 3, 4, False, seed=4)
    runs = {}
    for loop in ("direct", "network"):
        engine = Brian2Engine(target="numpy", loop=loop)
        outputs = []
        for k in range(3):
            w = weights * (1 + 0.1 * k)
            s0, trajectory, _ = _one_step(engine, w, leak, state, topo, targets, 40, 10)
            outputs += [s0, trajectory]
        runs[loop] = outputs
    for a, b in zip(runs["direct"], runs["network"], strict=True):
        np.testing.assert_array_equal(a, b)


def test_changing_dt_matches_numpy(brian2_engine, numpy_engine):
    topo = topology.complete(2, 5, 1)
    weights, leak, state, _ = _network(topo, 3, 4, False, seed=5)
    for dt in (0.5, 0.3, 0.5, 0.1):
        out = brian2_engine.relax(weights, leak, state, topo.n_clamped, 40, dt)
        ref = numpy_engine.relax(weights, leak, state, topo.n_clamped, 40, dt)
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)


def test_zero_steps_and_bad_input(brian2_engine):
    topo = topology.complete(2, 5, 1)
    weights, leak, state, _ = _network(topo, 3, 4, False, seed=6)
    p = topo.n_clamped
    np.testing.assert_array_equal(brian2_engine.relax(weights, leak, state, p, 0, DT), state)
    assert brian2_engine.relax(weights, leak, state, p, 0, DT, record=True).shape == (1, 3, 4, 9)
    with pytest.raises(ValueError, match="needs targets"):
        brian2_engine.relax(weights, leak, state, p, 5, DT, beta=1.0)
    with pytest.raises(ValueError, match="weights"):
        brian2_engine.relax(weights[:, :-1], leak, state, p, 5, DT)
    with pytest.raises(ValueError, match="target"):
        Brian2Engine(target="fortran")


def _noisy_run(seed: int, sigma: float = 0.05):
    topo = topology.complete(2, 5, 1)
    weights, leak, state, targets = _network(topo, 3, 4, False, seed=7)
    engine = Brian2Engine(target="numpy", noise_sigma=sigma, seed=seed)
    return _one_step(engine, weights, leak, state, topo, targets, 50, 10)


def test_noise_reproducible_from_seed():
    first, again, other = _noisy_run(11), _noisy_run(11), _noisy_run(12)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert np.abs(first[1] - other[1]).max() > 1e-3
    s0, trajectory, _ = first
    assert s0[..., :3].tolist() == trajectory[-1][..., :3].tolist()  # clamped: no noise
    assert 0.0 <= trajectory.min() and trajectory.max() <= 1.0


def test_noise_step_size():
    """One step of a circuit with no input and no leak adds sigma * sqrt(dt) * N(0, 1)."""
    sigma, dt, n = 0.02, 0.25, 50
    engine = Brian2Engine(target="numpy", noise_sigma=sigma, seed=0)
    state = np.full((1, 400, n), 0.5)
    out = engine.relax(np.zeros((1, n, n)), np.zeros((1, n)), state, 1, 1, dt)
    step = (out - state)[..., 1:].ravel()
    assert abs(step.mean()) < 0.1 * sigma * np.sqrt(dt)
    assert step.std() == pytest.approx(sigma * np.sqrt(dt), rel=0.05)


def test_cython_target_compiles_and_matches_numpy(numpy_engine):
    """Compiles the circuit's C code with the cython target (needs gcc, Python headers).

    Uses the project's compiled-code folder, so a second run reuses the cache.
    """
    topo = topology.complete(2, 5, 1)
    weights, leak, state, targets = _network(topo, 3, 4, False, seed=8)
    engine = get_engine("brian2", target="cython")
    assert engine.cache_dir == default_cache_dir()
    for _ in range(2):  # the first call runs Network.run, the second the direct loop
        s0, trajectory, delta = _one_step(engine, weights, leak, state, topo, targets)
        r0, r_trajectory, r_delta = _one_step(numpy_engine, weights, leak, state, topo, targets)
        np.testing.assert_allclose(s0, r0, rtol=0, atol=1e-12)
        np.testing.assert_allclose(trajectory, r_trajectory, rtol=0, atol=1e-12)
        np.testing.assert_allclose(delta, r_delta, rtol=0, atol=1e-12)
    assert engine.builds == 1
    assert any(engine.cache_dir.iterdir())
