"""IR drop in runs: the card's ``array`` section, the crossbar's multiply model, both
engines seeing the dropped currents, and the leak imbalance a run reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

import deephw
import deephw.cli
import deephw.rundir
from deephw.config import from_dict
from deephw.crossbar import Crossbar
from deephw.devices.cards import load_card, noiseless, replace_card
from deephw.engines import Capabilities, Engine, Relax, get_engine
from deephw.errors import ConfigError
from deephw.multiply import DenseMultiply, IRDropMultiply
from deephw.rules import make_rule
from deephw.rules.asym_ep import BiasRegister
from deephw.validation import as_dict


def _wired(wire_ohm: float, rows: int = 4, cols: int = 4, card: str = "pcm_pair"):
    return replace_card(
        noiseless(card), {"array": {"wire_ohm": wire_ohm, "tile_rows": rows, "tile_cols": cols}}
    )


def _chip(card, rng: np.random.Generator) -> Crossbar:
    mask = np.ones((2, 9, 9), dtype=bool)
    chip = Crossbar(card, mask, [3, 4])
    chip.write_weights(rng.uniform(-1, 1, (2, 9, 9)), [np.random.default_rng(k) for k in (1, 2)])
    return chip


def test_cards_default_to_ideal_wires_and_512_tiles() -> None:
    for name in ("ideal", "pcm_pair", "pcm_ambrogio2018", "reram_softbounds"):
        array = load_card(name).array
        assert (array.wire_ohm, array.tile_rows, array.tile_cols) == (0.0, 512, 512)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"wire_ohm": -0.1}, "array.wire_ohm = -0.1"),
        ({"tile_rows": 0}, "array.tile_rows = 0"),
        ({"tile_cols": 2.5}, "array.tile_cols = 2.5"),
        ({"wire_ohms": 1.0}, "array.wire_ohms"),
    ],
)
def test_bad_array_section_names_the_file_and_field(tmp_path, capsys, section, message) -> None:
    data = as_dict(load_card("pcm_pair"))
    data["array"] = section
    path = tmp_path / "card.yaml"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_card(path)
    assert deephw.cli.main(["devices", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and message in err and "Traceback" not in err


def test_ideal_wires_keep_the_dense_multiply_and_its_draws() -> None:
    plain = _chip(load_card("pcm_pair"), np.random.default_rng(5))
    model = plain.multiply_model([np.random.default_rng(7), np.random.default_rng(8)])
    assert type(model) is DenseMultiply
    wired = _chip(_wired(1.0), np.random.default_rng(20200615))
    noisy = _chip(replace_card("pcm_pair", {"array": {"wire_ohm": 1.0}}), np.random.default_rng(5))
    dropped = noisy.multiply_model([np.random.default_rng(7), np.random.default_rng(8)])
    # the same chip read with the same generators: the same weights, bit for bit
    assert isinstance(dropped, IRDropMultiply)
    np.testing.assert_array_equal(dropped.weights, model.weights)
    assert wired.leak_imbalance(3) is not None and plain.leak_imbalance(3) is None


def test_load_is_the_sum_of_the_devices(rng: np.random.Generator) -> None:
    chip = _chip(_wired(1.0), rng)
    idx = np.flatnonzero(chip.enabled)
    plus, minus = (chip.cell.devices[r].value(0.0, idx) for r in ("G+", "G-"))
    np.testing.assert_allclose(chip.load_uS().reshape(-1)[idx], plus + minus)
    model = chip.multiply_model([np.random.default_rng(1), np.random.default_rng(2)])
    np.testing.assert_array_equal(model.load_uS, chip.load_uS())
    assert model.tile == (4, 4) and model.wire_ohm == 1.0


class NoWires(Engine):
    """An engine that multiplies densely only and says why."""

    name = "nowires"
    capabilities = Capabilities(reasons=(("ir_drop", "computes the ideal product only"),))

    def answer(self, request: Relax) -> np.ndarray:
        return request.state


def test_an_engine_without_ir_drop_refuses_it_with_its_reason() -> None:
    assert NoWires.capabilities.lacks("ir_drop") == "computes the ideal product only"
    assert get_engine("numpy").capabilities.lacks("ir_drop") is None
    weights = np.full((1, 3, 3), 0.1)
    model = IRDropMultiply(weights, np.full((1, 3, 3), 10.0), 1.0)
    request = Relax(model, np.ones((1, 3)), np.full((1, 2, 3), 0.5), 1, 4, 0.5)
    with pytest.raises(ValueError, match="not IRDropMultiply: computes the ideal product only"):
        NoWires().relax(request)
    NoWires().relax(Relax(weights, np.ones((1, 3)), np.full((1, 2, 3), 0.5), 1, 4, 0.5))


@pytest.mark.needs("ir_drop")
def test_engines_see_the_dropped_currents(engine: Engine, rng: np.random.Generator) -> None:
    weights = rng.normal(0, 0.5, (2, 9, 9))
    load = rng.uniform(0, 50, (2, 9, 9))
    model = IRDropMultiply(weights, load, 200.0, 6, 6)  # eps about 0.3 on 6 x 6 tiles
    assert (model.eps > 0.1).all()
    leak = np.abs(weights).sum(axis=2)
    state = rng.uniform(0, 1, (2, 4, 9))
    targets = rng.uniform(0, 1, (2, 4, 1))
    for beta, steps in ((0.0, 60), (1.5, 20)):
        request = Relax(model, leak, state, 3, steps, 0.5, beta, targets, record=True)
        dropped = engine.relax(request)
        reference = get_engine("numpy").relax(
            Relax(DenseMultiply(model.effective), leak, state, 3, steps, 0.5, beta, targets, True)
        )
        np.testing.assert_allclose(dropped, reference, rtol=0, atol=1e-12)
        ideal = get_engine("numpy").relax(
            Relax(weights, leak, state, 3, steps, 0.5, beta, targets, record=True)
        )
        assert np.abs(dropped - ideal).max() > 1e-3  # the drop is seen


def _run(
    card_overrides: dict, rule: dict | None = None, engine: str = "numpy", card: str = "pcm_pair"
):
    data = {
        "task": {"name": "XOR"},
        "training": {"epochs": 4, "seeds": 2, "seed": 0},
        "hardware": {"card": card, "card_overrides": card_overrides},
        "engine": engine,
    }
    if rule is not None:
        data["learning"] = rule
    return deephw.train(from_dict(data))


def test_a_run_reports_the_leak_imbalance_and_feels_the_drop(tmp_path) -> None:
    # a card that learns in 4 epochs (the PCM pair's first SET step saturates XOR's nets)
    quiet = {"device": as_dict(noiseless("capacitor").device), "periphery": {"out_noise": 0.0}}
    plain = _run(quiet, card="capacitor")
    wires = {"wire_ohm": 100.0, "tile_rows": 9, "tile_cols": 9}
    wired = _run({**quiet, "array": wires}, card="capacitor")
    summary = deephw.rundir.summarize(wired)["hardware"]["ir_drop"]
    assert summary["wire_ohm"] == 100.0 and summary["tile"] == [9, 9]
    imbalance = np.array(summary["leak_imbalance_per_seed"])
    assert imbalance.shape == (2,) and (imbalance > 1e-3).all()
    assert "ir_drop" not in deephw.rundir.summarize(plain)["hardware"]
    np.testing.assert_array_equal(wired.seed_metrics["leak_imbalance"], imbalance)
    assert plain.seed_metrics == {}
    # the same chips and draws, different currents: the training differs
    assert np.abs(wired.history["mse"] - plain.history["mse"]).max() > 1e-6
    assert not np.array_equal(wired.final_outputs, plain.final_outputs)


def test_asym_ep_bias_register_keeps_the_wires(rng: np.random.Generator) -> None:
    config = from_dict(
        {
            "task": {"name": "XOR"},
            "learning": {"rule": "asym_ep", "options": {"separate_bias": True}},
        }
    )
    rule = make_rule(config)
    register = BiasRegister(rng.uniform(-1, 1, (2, 9)), row=2, n_clamped=3)
    model = IRDropMultiply(rng.normal(0, 1, (2, 9, 9)), np.full((2, 9, 9), 20.0), 100.0)
    presented = rule.present(model, register)
    assert isinstance(presented, IRDropMultiply) and presented.wire_ohm == 100.0
    changed = presented.weights != model.weights
    assert changed[:, 2].any() and not np.delete(changed, 2, axis=1).any()  # the bias row


def test_study_files_load() -> None:
    from pathlib import Path

    from deephw.assembly import load_run
    from deephw.sweep.spec import read_spec

    examples = Path(__file__).resolve().parents[1] / "examples"
    run = load_run(examples / "irdrop_bars64.yaml")
    assert run.task.n_inputs == 64 and run.task.n_patterns == 32
    assert run.topology.n == 71
    for name in ("xor_irdrop.yaml", "bars64_irdrop.yaml"):
        spec = read_spec(examples / "sweeps" / name)
        arrays = [c["hardware.card_overrides.array"] for c in spec.combinations()]
        assert {a["wire_ohm"] for a in arrays} >= {0.0, 30.0, 300.0}
        assert len({(a["tile_rows"], a["tile_cols"]) for a in arrays}) == 2
