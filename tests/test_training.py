"""Training DEEP and the asymmetric-EP baseline: reproducibility, per-seed random streams,
convergence on the Boolean tasks, pruning permanence and divergence reporting."""

from __future__ import annotations

import numpy as np
import pytest

import deephw
from deephw import DivergenceError, config, training

SHORT = {"epochs": 40, "seeds": 3}


def cfg(task: str = "AND", **sections: dict) -> deephw.RunConfig:
    return config.from_dict({"task": {"name": task}, **sections})


def assert_same_run(a: deephw.TrainResult, b: deephw.TrainResult) -> None:
    """Two runs are identical bit for bit."""
    for name in ("initial_weights", "weights", "mask", "final_mse", "final_outputs"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.history.keys() == b.history.keys()
    for name in a.history:
        assert np.array_equal(a.history[name], b.history[name]), name


class SpyEngine(deephw.Engine):
    """The NumPy engine, recording the weights of every relax call; optionally poisons one
    call's result with NaN in one network copy."""

    name = "spy"

    def __init__(self, poison_call: int | None = None, poison_copy: int = 0) -> None:
        self.inner = deephw.get_engine("numpy")
        self.weights: list[np.ndarray] = []
        self.poison_call, self.poison_copy = poison_call, poison_copy

    def answer(self, request):
        self.weights.append(request.multiply.weights.copy())
        out = self.inner.relax(request)
        if len(self.weights) - 1 == self.poison_call:
            out[..., self.poison_copy, :, -1] = np.nan
        return out


def test_reproducible_bit_for_bit() -> None:
    c = cfg("XOR", training=SHORT)
    a, b = deephw.train(c), deephw.train(c)
    assert_same_run(a, b)
    np.testing.assert_array_equal(a.seeds, [0, 1, 2])
    assert a.history["mse"].shape == (40, 3)
    assert not np.array_equal(a.weights, a.initial_weights)


def test_seed_runs_the_same_alone_or_batched() -> None:
    together = deephw.train(cfg("XOR", training={"epochs": 60, "seeds": 5, "seed": 0}))
    alone = deephw.train(cfg("XOR", training={"epochs": 60, "seeds": 1, "seed": 3}))
    np.testing.assert_array_equal(alone.seeds, [3])
    assert np.array_equal(alone.initial_weights[0], together.initial_weights[3])
    assert np.array_equal(alone.weights[0], together.weights[3])
    assert np.array_equal(alone.final_mse[0], together.final_mse[3])
    assert np.array_equal(alone.final_outputs[0], together.final_outputs[3])
    for name in alone.history:
        assert np.array_equal(alone.history[name][:, 0], together.history[name][:, 3]), name


def test_initial_weights_follow_the_seed() -> None:
    """The first draw of ``default_rng(seed)`` is the initial weights, masked."""
    result = deephw.train(cfg(training={"epochs": 1, "seeds": 2, "seed": 4}))
    mask = result.topology.mask
    for k, seed in enumerate((4, 5)):
        want = np.random.default_rng(seed).uniform(0.0, 0.25, mask.shape) * mask
        assert np.array_equal(result.initial_weights[k], want)


def test_different_seeds_differ() -> None:
    a = deephw.train(cfg(training={"epochs": 20, "seeds": 1, "seed": 0}))
    b = deephw.train(cfg(training={"epochs": 20, "seeds": 1, "seed": 1}))
    assert not np.array_equal(a.initial_weights, b.initial_weights)
    assert np.abs(a.weights - b.weights).max() > 1e-3


def test_and_converges_with_defaults() -> None:
    c = cfg(training={"epochs": 300})
    d, lr = c.dynamics, c.learning
    assert (d.dt, d.free_steps, d.nudged_steps, d.beta, lr.lr) == (0.5, 100, 20, 1.5, 10.0)
    assert (c.training.seeds, c.training.batch_size, c.init.high) == (10, None, 0.25)
    result = deephw.train(c)
    assert result.final_mse.shape == (10,)
    assert (result.final_mse < 0.01).all(), result.final_mse
    assert result.converged.all() and result.correct.all()
    np.testing.assert_array_equal(result.final_accuracy, 1.0)
    np.testing.assert_allclose(result.final_outputs[..., 0], [[0, 0, 0, 1]] * 10, atol=0.15)
    first = result.epochs_to_converge
    assert ((first >= 1) & (first < 300)).all()
    assert (result.history["mse"][0] > 0.01).all()  # it had to learn


def test_pruning_is_permanent() -> None:
    c = cfg(
        training={"epochs": 400, "seeds": 4},
        learning={"l1": 1e-4},
        pruning={
            "enabled": True,
            "threshold": 0.2,
            "temperature": 0.1,
            "start_epoch": 100,
            "stop_epoch": 300,
        },
    )
    spy = SpyEngine()
    result = deephw.train(c, engine=spy)
    structural = result.topology.mask
    conns = result.history["connections"]
    assert (np.diff(conns, axis=0) <= 0).all()
    np.testing.assert_array_equal(conns[:100], 48)  # nothing before start_epoch
    assert (conns[299:] == conns[-1]).all()  # nothing after stop_epoch
    assert (conns[-1] < 48).all()  # it did prune
    np.testing.assert_array_equal(conns[-1], result.mask.sum(axis=(1, 2)))
    assert not (result.mask & ~structural).any()
    assert (result.weights[~result.mask] == 0).all()
    # the weights each relax call saw: once a connection is gone it never comes back
    support = np.array([w != 0 for w in spy.weights])
    gone = np.logical_or.accumulate(~support & structural, axis=0)
    assert not (gone & support).any()
    assert np.array_equal(gone[-1], ~result.mask & structural)
    assert len(spy.weights) == 2 * 400 + 1  # free + nudged phase per epoch, final evaluation


def test_train_uses_the_given_engine() -> None:
    c = cfg(training=SHORT)
    spy = SpyEngine()
    assert_same_run(deephw.train(c, engine=spy), deephw.train(c))
    assert len(spy.weights) == 2 * 40 + 1  # + the final evaluation


def test_divergence_names_epoch_and_seed() -> None:
    """Epoch 4's free phase (call 8) returns NaN in copy 2, i.e. seed 12."""
    c = cfg(training={"epochs": 10, "seeds": 4, "seed": 10})
    with pytest.raises(DivergenceError) as exc:
        deephw.train(c, engine=SpyEngine(poison_call=8, poison_copy=2))
    assert (exc.value.epoch, exc.value.seed) == (4, 12)
    assert "epoch 4" in str(exc.value) and "seed 12" in str(exc.value)
    assert "state" in str(exc.value)
    # a NaN in the nudged trajectory (call 7, epoch 3) of copy 1
    with pytest.raises(DivergenceError) as exc:
        deephw.train(c, engine=SpyEngine(poison_call=7, poison_copy=1))
    assert (exc.value.epoch, exc.value.seed) == (3, 11)
    assert "epoch 3" in str(exc.value) and "seed 11" in str(exc.value)
    assert "nudged-phase state" in str(exc.value)


def test_overflowing_weights_diverge() -> None:
    """Weights near the float maximum overflow the leak: the real dynamics produce NaN."""
    c = cfg(init={"low": 1e307, "high": 1.7e308}, training={"epochs": 5, "seeds": 2, "seed": 7})
    with pytest.raises(DivergenceError) as exc:
        deephw.train(c)
    assert exc.value.epoch == 0 and exc.value.seed in (7, 8)
    assert "epoch 0" in str(exc.value) and f"seed {exc.value.seed}" in str(exc.value)
    assert isinstance(exc.value, FloatingPointError)


def test_minibatch_training() -> None:
    c = cfg("XOR", training={"epochs": 60, "seeds": 3, "batch_size": 2})
    a, b = deephw.train(c), deephw.train(c)
    assert_same_run(a, b)
    full = deephw.train(c.replace(training={"batch_size": None}))
    assert np.array_equal(full.initial_weights, a.initial_weights)
    assert not np.array_equal(full.weights, a.weights)  # two updates per epoch, not one
    alone = deephw.train(c.replace(training={"seeds": 1, "seed": 2}))
    assert np.array_equal(alone.weights[0], a.weights[2])


def test_uneven_minibatches_weight_the_metrics() -> None:
    """Batches of 3 and 1 on 4 patterns: the epoch MSE still averages over 4 patterns."""
    c = cfg("OR", training={"epochs": 1, "seeds": 1, "batch_size": 3}, learning={"lr": 1e-12})
    result = deephw.train(c)
    # with a negligible update, the epoch's MSE is that of the initial weights on the
    # states of that epoch; recompute it from the same random stream
    rng = np.random.default_rng(0)
    topo, task = result.topology, result.task
    w0 = rng.uniform(0.0, 0.25, topo.mask.shape) * topo.mask
    order = rng.permutation(4)
    engine = deephw.get_engine("numpy")
    errors: list[float] = []
    for index in (order[:3], order[3:]):
        state = np.empty((1, len(index), topo.n))
        state[0, :, :2] = task.x[index]
        state[0, :, 2] = 1.0
        state[0, :, 3:] = rng.uniform(0.0, 0.1, (len(index), topo.n - 3))
        s0 = engine.relax(w0[None], w0.sum(axis=1)[None], state, 3, 100, 0.5)
        errors += list(0.5 * (s0[0, :, -1] - task.y[index, 0]) ** 2)
    assert result.history["mse"][0, 0] == pytest.approx(np.mean(errors), abs=1e-9)
    per_batch = (np.mean(errors[:3]) + errors[3]) / 2  # what equal batch weights would give
    assert abs(per_batch - np.mean(errors)) > 1e-3


def test_asym_ep_learns_or() -> None:
    c = cfg("OR", learning={"rule": "asym_ep", "lr": 1.0}, training={"epochs": 300})
    result = deephw.train(c)
    assert (result.final_mse < 0.01).all(), result.final_mse
    assert result.correct.all()


def test_evaluate_reproducible_and_independent() -> None:
    c = cfg(training={"epochs": 50, "seeds": 3, "seed": 2})
    result = deephw.train(c)
    args = (c, result.topology, result.task, result.weights, result.seeds)
    mse, acc, out = deephw.evaluate(*args)
    assert np.array_equal(mse, result.final_mse)
    assert np.array_equal(acc, result.final_accuracy)
    assert np.array_equal(out, result.final_outputs)
    again = deephw.evaluate(*args)
    assert all(np.array_equal(u, v) for u, v in zip((mse, acc, out), again, strict=True))
    # seed 3 evaluated alone gives the same numbers: its stream is its own
    alone = deephw.evaluate(c, result.topology, result.task, result.weights[1:2], np.array([3]))
    assert np.array_equal(alone[2][0], out[1])
    # independent expectation: initial states from default_rng([seed, 1]), then M0 steps
    topo, task = result.topology, result.task
    engine = deephw.get_engine("numpy")
    for k, seed in enumerate(result.seeds):
        rng = np.random.default_rng([int(seed), training.EVAL_STREAM])
        state = np.empty((1, 4, topo.n))
        state[0, :, :2] = task.x
        state[0, :, 2] = 1.0
        state[0, :, 3:] = rng.uniform(0.0, 0.1, (4, topo.n - 3))
        w = result.weights[k : k + 1]
        s0 = engine.relax(w, w.sum(axis=2), state, 3, 100, 0.5)
        np.testing.assert_array_equal(out[k], s0[0, :, 8:])
        want = np.mean(0.5 * (s0[0, :, 8] - task.y[:, 0]) ** 2)
        assert mse[k] == pytest.approx(want, abs=1e-15)
