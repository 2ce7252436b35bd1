"""The controller on the ideal card is the NumPy core; on real cards it counts and clocks."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

import deephw
from deephw import model
from deephw.analysis import gershgorin_stable
from deephw.assembly import load_run
from deephw.config import from_dict
from deephw.engines import get_engine
from deephw.errors import ConfigError
from deephw.training import build_topology, initial_state, initial_weights, load_task, seed_list


def reference_training(config):
    """DEEP / asymmetric EP on plain float weights, written out from DESIGN.md section 1.

    No crossbar, no controller: the weights are a NumPy array updated with
    ``W += l1_request(W, dW, l1); W *= mask`` and pruned with eq. 3.
    """
    task = load_task(config)
    topo = build_topology(config, task)
    seeds = seed_list(config)
    rngs = [np.random.default_rng(int(s)) for s in seeds]
    mask = np.broadcast_to(topo.mask, (len(seeds), topo.n, topo.n)).copy()
    weights = initial_weights(config, topo.mask, rngs)
    engine = get_engine("numpy")
    dyn, learn, prune = config.dynamics, config.learning, config.pruning
    x = np.broadcast_to(task.x, (len(seeds), *task.x.shape))
    stable = []
    for epoch in range(config.training.epochs):
        if learn.rule == "deep":
            leak = weights.sum(axis=2) + dyn.extra_leak
        else:
            leak = np.ones(weights.shape[:2])
        state = initial_state(config, topo, x, rngs)
        s0 = engine.relax(weights, leak, state, topo.n_clamped, dyn.free_steps, dyn.dt)
        if learn.rule == "deep":
            trajectory = engine.relax(
                weights,
                leak,
                s0,
                topo.n_clamped,
                dyn.nudged_steps,
                dyn.dt,
                dyn.beta,
                task.y,
                record=True,
            )
            delta = model.deep_update(trajectory, learn.lr)
        else:
            s_beta = engine.relax(
                weights, leak, s0, topo.n_clamped, dyn.nudged_steps, dyn.dt, dyn.beta, task.y
            )
            delta = model.asym_ep_update(s0, s_beta, dyn.beta, learn.lr)
        weights += model.l1_request(weights, delta, learn.l1)
        weights *= mask
        if prune.enabled and prune.start_epoch <= epoch:
            model.boltzmann_prune(weights, mask, prune.threshold, prune.temperature, rngs)
        stable.append(gershgorin_stable(weights, topo.n_clamped))
    return weights, mask, np.array(stable)


CASES = {
    "deep": {"learning": {"rule": "deep"}},
    "asym_ep": {"learning": {"rule": "asym_ep", "lr": 1.0}},
    "l1_and_pruning": {
        "learning": {"rule": "deep", "l1": 2e-4},
        "pruning": {"enabled": True, "threshold": 0.2, "start_epoch": 60},
    },
    "extra_leak": {"dynamics": {"extra_leak": 0.05}},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_ideal_card_with_digital_scheme_is_the_core_to_the_last_bit(case: str) -> None:
    data = {"task": {"name": "XOR"}, "training": {"epochs": 150, "seeds": 4}, **CASES[case]}
    data["hardware"] = {"card": "ideal", "scheme": "digital"}
    config = from_dict(data)
    weights, mask, stable = reference_training(config)
    result = deephw.train(config)
    assert np.array_equal(result.weights, weights)
    assert np.array_equal(result.mask, mask)
    assert np.array_equal(result.history["prop2"], stable)


def test_pcm_run_counts_pulses_and_advances_the_clock() -> None:
    data = {
        "task": {"name": "AND"},
        "training": {"epochs": 20, "seeds": 2},
        "dynamics": {"free_steps": 40, "nudged_steps": 10},
        "hardware": {"card": "pcm_pair", "update_time_s": 0.5},
    }
    result = deephw.train(from_dict(data))
    sets = result.events["G+.set"] + result.events["G-.set"]
    assert (np.diff(sets, axis=0) >= 0).all() and (sets[-1] > 0).all()
    step_s = 0.5 * 100e-9
    circuit_s = 20 * 50 * step_s
    # the shared clock: circuit phases + idle time; programming time is counted per chip
    np.testing.assert_allclose(result.chip_time_s[-1], circuit_s + 20 * 0.5)
    programming = result.events["programming_s"][-1]
    np.testing.assert_array_less(0.0, programming)
    assert (programming <= sets[-1] * 100e-9 + 1e-15).all()  # at most one pulse time per SET
    card = deephw.devices.load_card("pcm_pair")
    per_set = card.device.costs.set_pJ
    assert (result.events["energy_pJ"][-1] >= sets[-1] * per_set).all()


def test_same_seed_same_noisy_run_and_another_chip_differs() -> None:
    data = {
        "task": {"name": "OR"},
        "training": {"epochs": 15, "seeds": 2},
        "hardware": {"card": "pcm_ambrogio2018", "scheme": {"name": "hybrid", "transfer_every": 5}},
    }
    first, again = deephw.train(from_dict(data)), deephw.train(from_dict(data))
    assert np.array_equal(first.weights, again.weights)
    transfers = first.events["cell.transfers"][:, 0]
    cells = first.topology.n_trainable
    # every 5th update transfers every cell: after updates 5, 10 and 15
    np.testing.assert_array_equal(transfers[[3, 4, 9, 14]], [0, cells, 2 * cells, 3 * cells])
    other = deephw.train(from_dict({**data, "hardware": {**data["hardware"], "chip_seed": 100}}))
    assert not np.array_equal(first.weights, other.weights)


@pytest.mark.parametrize(
    ("hardware", "field", "value"),
    [
        ({"card": "no_such_card"}, "hardware.card", "no_such_card"),
        ({"card": "pcm_pair", "scheme": "hybrid"}, "hardware.scheme", "hybrid"),
        ({"card": "pcm_ambrogio2018", "scheme": "digital"}, "hardware.scheme", "digital"),
        (
            {"card": "pcm_pair", "card_overrides": {"device": {"set_c2c": -1.0}}},
            "hardware.card_overrides.device.set_c2c",
            "-1.0",
        ),
        ({"card": "pcm_pair", "card_overrides": {"devise": {}}}, "hardware.card_overrides", ""),
    ],
)
def test_bad_hardware_names_the_config_field(tmp_path, hardware, field, value) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"task": {"name": "AND"}, "hardware": hardware}))
    with pytest.raises(ConfigError) as info:
        load_run(path)
    message = str(info.value)
    assert str(path) in message and field in message and value in message


@pytest.mark.parametrize(
    "hardware",
    [
        {"card": "pcm_pair"},
        {"card": "pcm_ambrogio2018", "scheme": {"name": "hybrid", "transfer_every": 5}},
        {"card": "capacitor", "chip_seed": 40},
    ],
)
def test_a_seed_trains_the_same_alone_or_batched_on_a_noisy_chip(hardware) -> None:
    data = {"task": {"name": "XOR"}, "training": {"epochs": 40, "seeds": 3}, "hardware": hardware}
    batched = deephw.train(from_dict(data))
    alone = deephw.train(from_dict({**data, "training": {"epochs": 40, "seeds": 1, "seed": 1}}))
    assert np.array_equal(batched.weights[1], alone.weights[0])
    assert np.array_equal(batched.history["mse"][:, 1], alone.history["mse"][:, 0])
    for name, values in alone.events.items():
        assert np.array_equal(batched.events[name][:, 1], values[:, 0]), name
    assert np.array_equal(batched.chip_time_s, alone.chip_time_s)


def test_in_situ_pulses_need_the_deep_rule(tmp_path) -> None:
    path = tmp_path / "run.yaml"
    data = {
        "task": {"name": "AND"},
        "learning": {"rule": "asym_ep", "lr": 1.0},
        "hardware": {"card": "capacitor", "scheme": "in_situ"},
    }
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        deephw.load(path)
    assert str(path) in str(info.value) and "hardware.scheme = 'in_situ'" in str(info.value)


def test_in_engine_coincidences_on_brian2_need_update_management_off(tmp_path) -> None:
    hardware = {"card": "capacitor", "scheme": {"name": "in_situ", "in_engine": True}}
    data = {"task": {"name": "AND"}, "hardware": hardware, "engine": {"name": "brian2"}}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        deephw.load(path)
    message = str(info.value)
    assert "hardware.scheme.in_engine = True" in message and "update_management" in message
    data["hardware"]["scheme"]["update_management"] = False
    path.write_text(yaml.safe_dump(data))
    assert deephw.load(path).hardware.scheme_options.update_management is False
