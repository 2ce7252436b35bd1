"""The numba engine beyond the shared engine tests: its two kernels, in-situ counts, what it
refuses, and where its compiled code is cached."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import deephw
from deephw.engines import InSituRequest, Relax, get_engine, numba_cache
from deephw.multiply import DenseMultiply

N, P, OUT, STEPS, DT, BETA = 20, 4, 3, 25, 0.3, 1.2


def _case(copies: int = 3, batch: int = 5, seed: int = 0):
    """Random signed weights (zero into clamped neurons), leak, states, targets."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(0.0, 0.15, (copies, N, N))
    weights[:, :, :P] = 0.0
    leak = weights.sum(axis=2) + 0.2
    state = rng.uniform(0.0, 1.0, (copies, batch, N))
    targets = rng.uniform(0.0, 1.0, (copies, batch, OUT))
    return weights, leak, state, targets


def test_registered_and_lazy() -> None:
    """Importing deephw does not import numba (about 0.3 s); creating the engine does."""
    assert isinstance(get_engine("numba"), deephw.Engine)
    code = "import sys, deephw; sys.exit('numba' in sys.modules)"
    root = str(Path(deephw.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


@pytest.mark.parametrize("blas_from", [0, 10**9], ids=["blas", "loops"])
def test_both_kernels_match_numpy(blas_from: int) -> None:
    weights, leak, state, targets = _case()
    engine = get_engine("numba", blas_from=blas_from)
    before = state.copy()
    traj = engine.relax(weights, leak, state, P, STEPS, DT, BETA, targets, record=True)
    ref = get_engine("numpy").relax(weights, leak, state, P, STEPS, DT, BETA, targets, record=True)
    np.testing.assert_array_equal(state, before)  # the request's state is not modified
    assert traj.shape == (STEPS + 1, 3, 5, N)
    np.testing.assert_allclose(traj, ref, rtol=0, atol=1e-12)
    if blas_from == 0:  # NumPy's own product, then the same operations: bit for bit
        np.testing.assert_array_equal(traj, ref)
    np.testing.assert_array_equal(
        traj[:, ..., :P], np.broadcast_to(state[..., :P], traj[..., :P].shape)
    )
    assert 0.01 < np.abs(traj[-1] - traj[0]).max()  # the states move
    assert ((traj == 0.0) | (traj == 1.0)).any() and traj.min() >= 0 and traj.max() <= 1
    final = engine.relax(weights, leak, state, P, STEPS, DT, BETA, targets)
    np.testing.assert_array_equal(final, traj[-1])
    free = engine.relax(weights, leak, state, P, STEPS, DT)  # no nudge
    np.testing.assert_allclose(
        free, get_engine("numpy").relax(weights, leak, state, P, STEPS, DT), atol=1e-12
    )
    assert np.abs(free - final).max() > 1e-3


@pytest.mark.parametrize("blas_from", [0, 10**9], ids=["blas", "loops"])
def test_centred_nudging_pushes_away(blas_from: int) -> None:
    """A negative beta (centred nudging's second phase) as the NumPy engine does it."""
    weights, leak, state, targets = _case(seed=4)
    ours = get_engine("numba", blas_from=blas_from).relax(
        weights, leak, state, P, STEPS, DT, -0.8, targets
    )
    ref = get_engine("numpy").relax(weights, leak, state, P, STEPS, DT, -0.8, targets)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    plain = get_engine("numpy").relax(weights, leak, state, P, STEPS, DT)
    assert np.abs(ours - plain).max() > 1e-3


def test_zero_steps_returns_the_state() -> None:
    weights, leak, state, targets = _case()
    engine = get_engine("numba")
    np.testing.assert_array_equal(engine.relax(weights, leak, state, P, 0, DT), state)
    traj = engine.relax(weights, leak, state, P, 0, DT, record=True)
    np.testing.assert_array_equal(traj, state[None])


@pytest.mark.parametrize("management", [True, False])
def test_in_situ_counts_are_the_numpy_engines(management: bool) -> None:
    """Same generators, same draws in the same order: the same counts."""
    weights, leak, state, targets = _case(copies=2, batch=3)

    def counts(name: str) -> np.ndarray:
        rngs = [np.random.default_rng([5, c]) for c in range(2)]
        request = InSituRequest(8, 0.4, management, rngs)
        return get_engine(name).relax(
            weights, leak, state, P, STEPS, DT, BETA, targets, in_situ=request
        )

    ours = counts("numba")
    assert ours.dtype == np.int64 and ours.shape == (2, 2, N, N)
    assert ours.sum() > 100 and not ours[..., :P].any()
    np.testing.assert_array_equal(ours, counts("numpy"))


def test_in_situ_training_matches_numpy() -> None:
    from deephw.config import from_dict

    config = from_dict(
        {
            "task": {"name": "XOR"},
            "training": {"epochs": 5, "seeds": 2},
            "hardware": {"card": "ideal", "scheme": {"name": "in_situ", "in_engine": True}},
        }
    )
    ours = deephw.train(config, engine=get_engine("numba"))
    reference = deephw.train(config, engine=get_engine("numpy"))
    np.testing.assert_allclose(ours.weights, reference.weights, rtol=0, atol=1e-9)
    assert np.abs(ours.weights - ours.initial_weights).max() > 1e-3


class IRDropLike(DenseMultiply):
    """A multiply model built on the dense one that the engine must not take for it."""


def test_refuses_other_multiply_models() -> None:
    weights, leak, state, _ = _case()
    engine = get_engine("numba")
    with pytest.raises(
        ValueError,
        match="with DenseMultiply or IRDropMultiply only, not IRDropLike",
    ):
        engine.relax(Relax(IRDropLike(weights), leak, state, P, 3, DT))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"state": np.zeros((3, 5))}, r"state must be \(S, B, N\), got shape \(3, 5\)"),
        ({"leak": np.zeros((3, N - 1))}, rf"leak must be \(3, {N}\), got \(3, {N - 1}\)"),
        (
            {"multiply": np.zeros((2, N, N))},
            rf"weights must be \(3, {N}, {N}\), got \(2, {N}, {N}\)",
        ),
        ({"n_clamped": N + 1}, rf"n_clamped must be in 0..{N}, got {N + 1}"),
        ({"n_steps": -1}, "n_steps must be >= 0, got -1"),
        ({"dt": 0.0}, "dt must be > 0, got 0.0"),
        ({"targets": np.zeros((3, 5, N))}, rf"1 <= O <= {N - P}, got \(3, 5, {N}\)"),
        ({"targets": np.zeros((3, 4, 2))}, r"targets must be \(S, B, O\) = \(3, 5, O\)"),
    ],
)
def test_malformed_requests_are_refused_before_compiled_code(change, message) -> None:
    weights, leak, state, targets = _case()
    fields = {
        "multiply": weights,
        "leak": leak,
        "state": state,
        "n_clamped": P,
        "n_steps": 3,
        "dt": DT,
        "beta": BETA,
        "targets": targets,
    }
    with pytest.raises(ValueError, match=message):
        get_engine("numba").relax(Relax(**{**fields, **change}))


def test_unwritable_cache_folder_compiles_in_memory(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "cache"
    monkeypatch.setattr(numba_cache.os, "access", lambda *args: False)
    with pytest.warns(UserWarning, match=f"numba cache folder {folder} is not writable"):
        compiled = numba_cache.kernels(folder)
    assert type(compiled.relax_loops._cache).__name__ == "NullCache"
    assert list(folder.iterdir()) == []


SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import deephw
    engine = deephw.get_engine("numba")
    w = np.full((1, 5, 5), 0.1)
    print(engine.relax(w, w.sum(axis=2), np.full((1, 2, 5), 0.5), 2, 10, 0.5).sum())
    print(deephw.engines.numba_engine.__file__)
    print(sum(engine.kernels.relax_loops.stats.cache_hits.values()))
    """
)


def test_installed_package_caches_in_the_working_directory(tmp_path: Path, tmpfs) -> None:
    """A copy of the package on a read-only file system (as a root-owned site-packages
    may be): the kernels are cached in ``.numba_cache`` of the working directory, and a
    second process loads them instead of compiling."""
    source = Path(deephw.__file__).parent
    work = tmp_path / "work"
    work.mkdir()
    with tmpfs(tmp_path / "site", "size=64m") as site:
        shutil.copytree(source, site / "deephw", ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run(["mount", "-o", "remount,ro", str(site)], check=True)
        env = {**os.environ, "PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("DEEPHW_NUMBA_CACHE", None)
        runs = [
            subprocess.run(
                [sys.executable, "-c", SCRIPT], cwd=work, env=env, capture_output=True, text=True
            )
            for _ in range(2)
        ]
    for run in runs:
        assert run.returncode == 0, run.stderr
    first, second = (run.stdout.split() for run in runs)
    assert first[0] == second[0]
    assert first[1].startswith(str(site))  # the copy ran, not the working tree
    cached = sorted(path.name for path in (work / ".numba_cache").rglob("*.nb*"))
    assert any(name.startswith("numba_kernels.relax_loops") for name in cached), cached
    assert (int(first[2]), int(second[2])) == (0, 1)  # compiled, then loaded


def test_train_from_the_command_line_on_the_numba_engine(tmp_path: Path, capsys) -> None:
    from deephw.cli import main

    path = tmp_path / "run.yaml"
    path.write_text("task: {name: XOR}\ntraining: {epochs: 20, seeds: 2}\n")
    out = tmp_path / "run"
    assert main(["train", str(path), "--engine", "numba", "--out", str(out)]) == 0
    reference = deephw.train(deephw.load(path))  # the NumPy engine
    with np.load(out / "weights.npz") as npz:
        np.testing.assert_allclose(npz["weights"], reference.weights, rtol=0, atol=1e-9)
    path.write_text("task: {name: XOR}\ntraining: {epochs: 20, seeds: 2}\nengine: numba\n")
    assert deephw.load(path).engine.name == "numba"


@pytest.mark.parametrize(
    ("engine", "message"),
    [
        (
            "{name: numba, target: cython}",
            "engine.target = 'cython': the numba engine has no option",
        ),
        (
            "{name: numba, noise_sigma: 0.1}",
            "engine.noise_sigma = 0.1: the numba engine has no circuit",
        ),
    ],
)
def test_config_refuses_what_the_numba_engine_lacks(
    tmp_path: Path, capsys, engine, message
) -> None:
    from deephw.cli import main

    path = tmp_path / "run.yaml"
    path.write_text(f"task: {{name: XOR}}\nengine: {engine}\n")
    out = tmp_path / "run"
    assert main(["train", str(path), "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_an_engine_sent_to_another_process_keeps_its_cache_folder(tmp_path: Path) -> None:
    import pickle

    engine = get_engine("numba", blas_from=7)
    copy = pickle.loads(pickle.dumps(engine))
    assert (copy.cache_dir, copy.blas_from) == (engine.cache_dir, 7)
    assert copy.kernels is engine.kernels  # the folder's compiled set, not a new one
    weights, leak, state, _ = _case()
    np.testing.assert_array_equal(
        copy.relax(weights, leak, state, P, 5, DT), engine.relax(weights, leak, state, P, 5, DT)
    )
