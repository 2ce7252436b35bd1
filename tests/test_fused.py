"""Whole epochs in one engine call (deephw.fused): the same numbers, bit for bit, as the
step-by-step path on the same engine, taken only where it applies, and what it rests on
(NumPy's row sums, one generator call for many epochs, DEEP's sum from the engine)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import deephw
from deephw import fused as fused_module
from deephw import model
from deephw.assembly import assemble
from deephw.config import from_dict
from deephw.engines import Relax, get_engine
from deephw.engines.base import Epochs
from deephw.errors import DivergenceError
from deephw.tasks import Task
from deephw.topology import complete
from deephw.training import initial_state, initial_states, load_task


class Counting:
    """Counts the Epochs requests a numba engine answers."""

    def __init__(self, fuse: bool = True) -> None:
        self.engine = get_engine("numba", fuse=fuse)
        self.calls: list[int] = []
        answer = self.engine.epochs

        def epochs(request: Epochs):
            self.calls.append(request.starts.shape[0])
            return answer(request)

        self.engine.epochs = epochs


def _both(config: dict, **train):
    """The training of ``config`` fused and step by step on the numba engine, and the
    sizes of the fused runs of epochs."""
    fused = Counting(fuse=True)
    one = deephw.train(from_dict(config), engine=fused.engine, **train)
    other = deephw.train(from_dict(config), engine=get_engine("numba", fuse=False), **train)
    return one, other, fused.calls


def _assert_identical(a, b) -> None:
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.history.keys() == b.history.keys()
    for name in a.history:
        np.testing.assert_array_equal(a.history[name], b.history[name], err_msg=name)
    assert a.events.keys() == b.events.keys()
    for name in a.events:
        np.testing.assert_array_equal(a.events[name], b.events[name], err_msg=name)
    np.testing.assert_array_equal(a.chip_time_s, b.chip_time_s)
    for name in ("final_mse", "final_accuracy", "final_outputs", "test_mse", "test_accuracy"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    xa, xb = a.controller.crossbar, b.controller.crossbar
    assert (xa.updates, xa.time_s) == (xb.updates, xb.time_s)
    da, db = xa.cell.devices["G"], xb.cell.devices["G"]
    np.testing.assert_array_equal(da.g, db.g)
    np.testing.assert_array_equal(da.pulses, db.pulses)
    for name in da.counts:
        np.testing.assert_array_equal(da.counts[name], db.counts[name], err_msg=name)


CASES = {
    "xor": {"task": {"name": "XOR"}, "training": {"epochs": 60, "seeds": 3}},
    "and-leak-cosine": {
        "task": {"name": "AND"},
        "dynamics": {"extra_leak": 0.3},
        "learning": {"schedule": "cosine"},
        "training": {"epochs": 40, "seeds": 2},
        "hardware": {"update_time_s": 1e-6},
    },
    "authors": {
        "task": {"name": "XOR"},
        "init": {"weights": "normal", "std": 0.05},
        "dynamics": {"dt": 0.05, "free_steps": 300, "nudged_steps": 300, "beta": 10.0},
        "learning": {"lr": 100.0},
        "training": {"epochs": 12, "seeds": 1},
    },
    "6-neurons": {
        "task": {"name": "OR"},
        "network": {"hidden": 2},
        "training": {"epochs": 30, "seeds": 2},
    },
    "18-neurons": {
        "task": {"name": "XOR"},
        "network": {"hidden": 14},
        "init": {"high": 0.1},
        "training": {"epochs": 30, "seeds": 2},
    },
}


@pytest.mark.parametrize("name", CASES)
def test_fused_epochs_equal_the_step_by_step_path(name: str) -> None:
    fused, stepwise, calls = _both(CASES[name])
    assert calls == [CASES[name]["training"]["epochs"]]  # one call for the whole training
    _assert_identical(fused, stepwise)
    assert np.abs(fused.weights - fused.initial_weights).max() > 1e-3  # it learned
    assert fused.events["G.set"][-1].sum() > 0 and fused.chip_time_s[-1] > 0


def test_test_evaluations_split_the_epochs() -> None:
    """With test data, a run of epochs ends at each evaluation, on the weights then."""
    config = {**CASES["xor"], "training": {"epochs": 20, "seeds": 2, "eval_every": 7}}
    task = load_task(from_dict(config))
    held = Task("held", task.x[::-1].copy(), task.y[::-1].copy())
    fused, stepwise, calls = _both(config, task=task, test=held)
    assert calls == [7, 7, 6]
    _assert_identical(fused, stepwise)
    tested = ~np.isnan(fused.history["test_mse"][:, 0])
    assert np.flatnonzero(tested).tolist() == [6, 13, 19]


def test_long_runs_are_split_within_the_work_of_a_call(monkeypatch) -> None:
    """Each call does at most ``CALL_PRODUCTS`` multiply-adds of currents: an epoch of 2
    seeds of 4 patterns, 110 steps, 9 x 6 weights is 47 520 of them."""
    monkeypatch.setattr(fused_module, "CALL_PRODUCTS", 3 * 2 * 4 * 110 * 9 * 6)
    config = {
        **CASES["xor"],
        "dynamics": {"free_steps": 100, "nudged_steps": 10},
        "training": {"epochs": 10, "seeds": 2},
    }
    fused, stepwise, calls = _both(config)
    assert calls == [3, 3, 3, 1]
    _assert_identical(fused, stepwise)
    assert fused_module.epochs_per_call(assemble(from_dict(config)), 10) == 1  # at least one


def test_many_outputs_scored_by_argmax() -> None:
    """An in-memory task of three classes (3 outputs, argmax accuracy, 6 patterns)."""
    rng = np.random.default_rng(0)
    task = Task("three", rng.random((6, 3)), np.eye(3)[rng.integers(0, 3, 6)])
    config = {
        "task": {"name": "XOR", "accuracy": "argmax"},
        "network": {"hidden": 5},
        "training": {"epochs": 25, "seeds": 2},
    }
    fused, stepwise, calls = _both(config, task=task)
    assert calls == [25]
    _assert_identical(fused, stepwise)
    assert fused.final_outputs.shape == (2, 6, 3)


def test_long_runs_are_split_within_the_memory_of_a_call(monkeypatch) -> None:
    """Each call's per-epoch arrays stay within ``CALL_BYTES``: 9 epochs of 2 seeds of
    9 neurons and 4 patterns take 8 * 2 * (2 * 4 * 9 + 81) bytes each."""
    monkeypatch.setattr(fused_module, "CALL_BYTES", 4 * 8 * 2 * (2 * 4 * 9 + 81))
    config = {**CASES["xor"], "training": {"epochs": 9, "seeds": 2}}
    fused, stepwise, calls = _both(config)
    assert calls == [4, 4, 1]
    _assert_identical(fused, stepwise)


@pytest.mark.parametrize(
    "change",
    [
        {"hardware": {"card": "capacitor"}},
        {"hardware": {"card_overrides": {"periphery": {"adc_bits": 8, "adc_full_scale_uS": 2.0}}}},
        {"hardware": {"card_overrides": {"device": {"read_noise_uS": 0.01}}}},
        {"hardware": {"card_overrides": {"cell": {"g_ref_uS": 2.0}}}},
        {"learning": {"l1": 1e-4}},
        {"pruning": {"enabled": True}},
        {"training": {"epochs": 6, "seeds": 2, "batch_size": 2}},
        {"learning": {"rule": "asym_ep"}},
        {"network": {"hidden": 30}},  # N (N - P) over the loops' limit
    ],
    ids=lambda change: next(iter(change)) + ":" + str(next(iter(change.values()))),
)
def test_not_fused_where_it_does_not_apply(change: dict) -> None:
    config = {"task": {"name": "XOR"}, "training": {"epochs": 6, "seeds": 2}}
    for section, values in change.items():
        config[section] = {**config.get(section, {}), **values}
    fused, stepwise, calls = _both(config)
    assert calls == []
    _assert_identical(fused, stepwise)


def test_a_rule_derived_from_deep_fuses_only_when_it_says_so() -> None:
    """A subclass may change the leak, the presented weights or the update: it is run
    step by step unless it declares ``fuses_epochs`` itself."""
    from deephw.controller import Controller
    from deephw.rules.deep import Deep

    class Halved(Deep):
        def leak(self, weights, measured=None):
            return 2.0 * super().leak(weights, measured)

    class Declared(Deep):
        fuses_epochs = True

    assert Deep.fuses_epochs and Declared.fuses_epochs and not Halved.fuses_epochs
    run = assemble(from_dict(CASES["xor"]), engine=get_engine("numba"))
    mask = np.broadcast_to(run.topology.mask, (3, run.topology.n, run.topology.n))
    chip = Controller(run, mask, np.arange(3), np.zeros(mask.shape))
    assert fused_module.fusable(run, chip)
    halved = dataclasses.replace(run, rule=Halved(run.rule.lr, run.rule.beta))
    assert not fused_module.fusable(halved, chip)


@pytest.mark.parametrize("behaviour", ["time_dependent", "read_noise", "update_noise"])
def test_device_models_that_evolve_or_add_noise_are_not_transparent(monkeypatch, behaviour):
    """Transparency asks the device model too, not only the card's fields."""
    from deephw.crossbar import Crossbar
    from deephw.devices.ideal import IdealDevice

    mask = np.ones((1, 4, 4), dtype=bool)
    assert Crossbar("ideal", mask, [0]).transparent
    if behaviour == "time_dependent":
        monkeypatch.setattr(IdealDevice, "time_dependent", True)
    elif behaviour == "read_noise":
        monkeypatch.setattr(IdealDevice, "read_sigma", lambda self, *args: 0.0)
    else:
        monkeypatch.setattr(IdealDevice, "update_noise_uS", lambda self: 0.1)
    assert not Crossbar("ideal", mask, [0]).transparent


def test_numpy_engine_runs_no_whole_epochs() -> None:
    engine = get_engine("numpy")
    assert not engine.capabilities.epochs and not engine.fuses(9, 3)
    with pytest.raises(ValueError, match="cannot do epochs"):
        engine.epochs(None)


@pytest.mark.parametrize(
    ("high", "lr", "epoch"), [(1e308, 1.0, 0), (2e307, 1e308, 7)], ids=["first", "later"]
)
def test_a_diverging_epoch_is_reported_as_step_by_step(high: float, lr: float, epoch: int) -> None:
    """The engine stops before the epoch whose leak overflows; the step-by-step path
    then runs it and names the same epoch, seed and state."""
    config = {
        "task": {"name": "XOR"},
        "init": {"high": high},
        "learning": {"lr": lr},
        "training": {"epochs": 30, "seeds": 2},
    }
    errors = []
    fused = Counting(fuse=True)
    for engine in (fused.engine, get_engine("numba", fuse=False)):
        with pytest.raises(DivergenceError) as caught:
            deephw.train(from_dict(config), engine=engine)
        errors.append(str(caught.value))
    assert errors[0] == errors[1]
    assert f"diverged at epoch {epoch}, seed" in errors[0] and "free-phase state" in errors[0]
    assert fused.calls == [30]  # one call; the failing epoch ran step by step


def test_epochs_requests_are_checked() -> None:
    engine = get_engine("numba")
    n, p, copies, batch = 9, 3, 2, 4
    good = dict(
        conductance=np.zeros((copies, n, n)),
        enabled=np.ones((copies, n, n), dtype=bool),
        starts=np.full((5, copies, batch, n), 0.5),
        targets=np.zeros((copies, batch, 1)),
        lrs=np.ones(5),
        n_clamped=p,
        free_steps=10,
        nudged_steps=2,
        dt=0.5,
        beta=1.0,
    )
    assert engine.epochs(Epochs(**good)).done == 5
    for name, bad in [
        ("conductance", np.zeros((copies, n, n + 1))),
        ("lrs", np.ones(4)),
        ("targets", np.zeros((copies, batch + 1, 1))),
        ("targets", np.zeros((copies, batch, 0))),
    ]:
        with pytest.raises(ValueError, match=name):
            engine.epochs(Epochs(**{**good, name: bad}))
    with pytest.raises(ValueError, match="fuses no epochs of 40 neurons.*N <= 128"):
        engine.epochs(Epochs(**{**good, "starts": np.zeros((5, copies, batch, 40))}))
    with pytest.raises(ValueError, match=r"starts must be \(E, S, B, N\), got shape \(5, 2, 4\)"):
        engine.epochs(Epochs(**{**good, "starts": np.zeros((5, copies, batch))}))
    with pytest.raises(ValueError, match="fuse is off"):
        get_engine("numba", fuse=False).epochs(Epochs(**good))


def test_one_generator_call_draws_the_states_of_many_epochs() -> None:
    config = from_dict({"task": {"name": "XOR"}, "training": {"seeds": 3}})
    topo = complete(2, config.network.hidden, 1)
    x = np.broadcast_to(load_task(config).x, (3, 4, 2))
    many = initial_states(config, topo, x, [np.random.default_rng(s) for s in range(3)], 6)
    rngs = [np.random.default_rng(s) for s in range(3)]
    one_by_one = np.stack([initial_state(config, topo, x, rngs) for _ in range(6)])
    np.testing.assert_array_equal(many, one_by_one)


def test_row_sums_add_up_in_numpys_order() -> None:
    """The fused leak is NumPy's ``sum(axis=2)`` bit for bit: pairwise, eight partial
    sums from eight values on (values of many magnitudes make the order show)."""
    from deephw.engines.numba_kernels import row_sum

    rng = np.random.default_rng(3)
    differs = 0
    for n in range(1, 129):
        rows = rng.normal(size=(20, n)) * 10.0 ** rng.integers(-8, 9, size=(20, n))
        expected = rows.sum(axis=1)
        found = np.array([row_sum(row) for row in rows])
        np.testing.assert_array_equal(found, expected, err_msg=f"{n} values")
        differs += int((np.array([sum(row) for row in rows]) != expected).any())
    assert differs > 50  # a plain left-to-right sum would not pass


@pytest.mark.parametrize("blas_from", [0, 10**9], ids=["blas", "loops"])
def test_deep_sum_from_the_engine(blas_from: int) -> None:
    rng = np.random.default_rng(0)
    n, p, copies, batch, steps = 12, 3, 2, 5, 7
    weights = rng.normal(0.0, 0.2, (copies, n, n))
    leak = weights.sum(axis=2) + 0.5
    state = rng.uniform(size=(copies, batch, n))
    targets = rng.uniform(size=(copies, batch, 2))
    engine = get_engine("numba", blas_from=blas_from)
    args = (weights, leak, state, p, steps, 0.4, 1.5, targets)
    sums = engine.relax(*args, deep_sum=True)
    trajectory = get_engine("numpy").relax(*args, record=True)
    expected = model.deep_sum(trajectory)
    if blas_from == 0:  # the NumPy engine's product: the same bits
        np.testing.assert_array_equal(sums, expected)
    np.testing.assert_allclose(sums, expected, rtol=0, atol=1e-12)
    assert np.abs(sums).max() > 1e-3 and not sums[:, :, :p].any()
    with pytest.raises(ValueError, match="neither record nor in_situ"):
        engine.relax(Relax(weights, leak, state, p, steps, 0.4, 1.5, targets, True, None, True))
    with pytest.raises(ValueError, match="cannot do deep_sum"):
        get_engine("numpy").relax(*args, deep_sum=True)
