"""The authors' variant: L1 sign before the update, pruning with regrowth and a column
normaliser, a separate bias for asymmetric EP. Each against numbers computed by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deephw import cli, model, tasks, topology
from deephw.config import from_dict
from deephw.crossbar import Crossbar
from deephw.errors import ConfigError
from deephw.training import train


def tiny_run(learning: dict, y: float = 0.0, **sections: dict) -> tuple:
    """One epoch of one seed on the 3-neuron graph: weights W02 = W12 = 0.1, states from 0,
    dt 0.5, one free and one nudged step (small enough to follow by hand)."""
    config = from_dict(
        {
            "task": {"name": "AND"},  # replaced by the in-memory task below
            "network": {"hidden": 0},
            "init": {"weights": "uniform", "low": 0.1, "high": 0.1, "state_high": 0.0},
            "dynamics": {"dt": 0.5, "free_steps": 1, "nudged_steps": 1, "beta": 4.0},
            "learning": learning,
            "training": {"epochs": 1, "seeds": 1},
            **sections,
        }
    )
    task = tasks.Task("one", np.array([[1.0]]), np.array([[y]]))
    return train(config, task=task)


# -- learning.l1_sign ----------------------------------------------------------------------
# DEEP, by hand. Output 2 has no outgoing edge, so no leak. Free phase from s2 = 0:
#   V2 = W02 * 1 + W12 * 1 = 0.2, s2 = 0.5 * 0.2 = 0.1.
# Nudged step (beta 4, y 0): V2 = 0.2 + 4 (0 - 0.1) = -0.2, s2 = 0.1 - 0.1 = 0.
# Rule (Mb = B = 1, lr 3): dW_i2 = 3 * s_i(1) * (0 - 0.1) = -0.3 for i = 0, 1 (s_0 = s_1 = 1).
# W + dW = -0.2 changes sign, so the two L1 signs differ (l1 0.01):
#   after  (deephw):  W = 0.1 - 0.3 - 0.01 sign(-0.2) = -0.19
#   before (authors): W = 0.1 - 0.3 - 0.01 sign(0.1)  = -0.21
@pytest.mark.parametrize(("sign", "expected"), [("after", -0.19), ("before", -0.21)])
def test_l1_sign_hand_computed(sign: str, expected: float) -> None:
    result = tiny_run({"rule": "deep", "lr": 3.0, "l1": 0.01, "l1_sign": sign})
    w = result.weights[0]
    assert w[0, 2] == pytest.approx(expected, abs=1e-12)
    assert w[1, 2] == pytest.approx(expected, abs=1e-12)
    # the final evaluation relaxes one step from 0: s2 = clip(0.5 * 2 W, 0, 1) = 0
    assert result.final_outputs[0, 0, 0] == 0.0


def test_l1_request_signs() -> None:
    w = np.array([0.1, -0.1, 0.0, 0.3])
    delta = np.array([-0.3, 0.05, 0.2, 0.0])
    # after: sign(W + dW) = [-1, -1, 1, 1]; before: sign(W) = [1, -1, 0, 1]
    assert model.l1_request(w, delta, 0.01) == pytest.approx([-0.29, 0.06, 0.19, -0.01])
    got = model.l1_request(w, delta, 0.01, "before")
    assert got == pytest.approx([-0.31, 0.06, 0.2, -0.01])


# -- pruning.regrow and pruning.normaliser --------------------------------------------------
# Graph: 0 input, 1 bias, 2 hidden, 3 output. Column 3's incoming connections and T = 1:
#   W03 = ln(4/3) -> exp(-|W|) = 0.75,  W13 = -ln 2 -> 0.5,  W23 = ln 4 -> 0.25.
# incoming normaliser: 0.75 + 0.5 + 0.25 = 1.5, p = 0.5, 1/3, 1/6;
# column normaliser: + exp(0) for the self loop 3 -> 3 = 2.5, p = 0.3, 0.2, 0.1.
# lambda = ln 2: strict test (deephw) candidates W03 only; regrow's |W| <= lambda also W13.
# Column 2's connections are 1.0 > lambda: never candidates.
LN2 = float(np.log(2.0))


class FixedDraws:
    """A generator stand-in whose uniform draws are all ``u``."""

    def __init__(self, u: float) -> None:
        self.u = u

    def random(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.full(shape, self.u)


def four_neurons() -> tuple[np.ndarray, np.ndarray]:
    mask = topology.complete(1, 1, 1).mask[None].copy()
    w = np.where(mask, 1.0, 0.0)
    w[0, 0, 3], w[0, 1, 3], w[0, 2, 3] = np.log(4 / 3), -LN2, np.log(4.0)
    return w, mask


@pytest.mark.parametrize(
    ("regrow", "normaliser", "u", "zeroed"),
    [
        (False, "incoming", 0.25, {(0, 3)}),  # p 0.5 > 0.25; W13 is no candidate (strict)
        (False, "column", 0.25, {(0, 3)}),  # p 0.3 > 0.25
        (False, "column", 0.4, set()),  # p 0.3 < 0.4 (incoming: 0.5 > 0.4 removes it)
        (False, "incoming", 0.4, {(0, 3)}),
        (True, "incoming", 0.25, {(0, 3), (1, 3)}),  # |W13| = lambda is a candidate: 1/3
        (True, "column", 0.25, {(0, 3)}),  # W13: p 0.2 < 0.25 stays
        (True, "column", 0.15, {(0, 3), (1, 3)}),  # W23 (p 0.1) is above lambda anyway
    ],
)
def test_prune_hand_computed(regrow: bool, normaliser: str, u: float, zeroed: set) -> None:
    w, mask = four_neurons()
    before, structural = w.copy(), mask.copy()
    removed = model.boltzmann_prune(
        w, mask, LN2, 1.0, [FixedDraws(u)], regrow=regrow, normaliser=normaliser
    )
    assert {(int(i), int(j)) for i, j in np.argwhere(removed[0])} == zeroed
    for i, j in zeroed:
        assert w[0, i, j] == 0.0
    untouched = ~removed & structural
    assert np.array_equal(w[untouched], before[untouched])
    if regrow:  # zeroed, not removed: the mask keeps them and an update regrows them
        assert np.array_equal(mask, structural)
        model.apply_update(w, np.full(w.shape, 0.01), mask, 0.0)
        assert all(w[0, i, j] == 0.01 for i, j in zeroed)
    else:
        assert np.array_equal(mask, structural & ~removed)
        model.apply_update(w, np.full(w.shape, 0.01), mask, 0.0)
        assert all(w[0, i, j] == 0.0 for i, j in zeroed)


def test_crossbar_reset_keeps_cells_programmable() -> None:
    mask = topology.complete(1, 1, 1).mask[None].copy()
    rng = np.random.default_rng(0)
    bar = Crossbar("pcm_pair", mask, [0])
    bar.write_weights(np.where(mask, 0.3, 0.0), rng)
    cells = np.zeros_like(mask)
    cells[0, 0, 3] = True
    assert bar.reset(cells, rng).tolist() == [1]
    assert bar.enabled[0, 0, 3] and bar.counters()["cell"]["pruned"].tolist() == [1]
    assert abs(bar.true_weights()[0, 0, 3]) < 0.05  # RESET to zero within write noise
    bar.program(np.where(cells, 0.2, 0.0), rng)
    assert bar.true_weights()[0, 0, 3] > 0.1  # and it grows back


def test_regrow_training_keeps_every_cell() -> None:
    config = from_dict(
        {
            "task": {"name": "XOR"},
            "init": {"weights": "normal", "std": 0.05},
            "training": {"epochs": 5, "seeds": 2},
            "pruning": {
                "enabled": True,
                "threshold": 0.05,
                "temperature": 5.0,
                "regrow": True,
                "normaliser": "column",
            },
        }
    )
    result = train(config)
    chip = result.controller.crossbar
    structural = np.broadcast_to(result.topology.mask, chip.shape)
    assert np.array_equal(chip.enabled, structural) and np.array_equal(result.mask, structural)
    assert (result.events["cell.pruned"][-1] > 0).all()
    zeros = ((result.weights == 0) & result.mask).sum(axis=(1, 2))
    assert np.array_equal(result.history["connections"][-1], 48 - zeros)
    assert result.sparsity == pytest.approx(zeros / 48)


# -- learning.separate_bias ----------------------------------------------------------------
# Asymmetric EP, leak 1, by hand (y 1, beta 1, lr 1, W02 = W12 = 0.2, b = 0, l1 0.1).
# Free phase from 0: V2 = 0.2 + 0.2 + b2 - s2 = 0.4, s2 = 0.5 * 0.4 = 0.2.
# Nudged step: V2 = 0.4 - 0.2 + 1 (1 - 0.2) = 1.0, s2 = 0.2 + 0.5 = 0.7.
# Rule: dW_i2 = lr / beta * s0_i (sb_2 - s0_2) = 0.5 (i = 0, 1); db_2 = 0.5.
# L1 (after): W = 0.2 + 0.5 - 0.1 = 0.6 on the crossbar; b2 = 0.5, never shrunk.
# Final network: bias row W12 + b2 = 1.1; evaluation s2 = 0.5 * (0.6 + 1.1) = 0.85.
# Without the separate bias: W12 = 0.6 and s2 = 0.5 * 1.2 = 0.6.
@pytest.mark.parametrize(("separate", "bias_row", "output"), [(True, 1.1, 0.85), (False, 0.6, 0.6)])
def test_separate_bias_hand_computed(separate: bool, bias_row: float, output: float) -> None:
    config = from_dict(
        {
            "task": {"name": "AND"},
            "network": {"hidden": 0},
            "init": {"weights": "uniform", "low": 0.2, "high": 0.2, "state_high": 0.0},
            "dynamics": {"dt": 0.5, "free_steps": 1, "nudged_steps": 1, "beta": 1.0},
            "learning": {
                "rule": "asym_ep",
                "lr": 1.0,
                "l1": 0.1,
                "options": {"separate_bias": separate},
            },
            "training": {"epochs": 1, "seeds": 1},
        }
    )
    task = tasks.Task("one", np.array([[1.0]]), np.array([[1.0]]))
    result = train(config, task=task)
    assert result.controller.crossbar.true_weights()[0, 1, 2] == pytest.approx(0.6)
    assert result.weights[0, 0, 2] == pytest.approx(0.6)
    assert result.weights[0, 1, 2] == pytest.approx(bias_row)
    assert result.final_outputs[0, 0, 0] == pytest.approx(output)
    assert result.history["mse"][0, 0] == pytest.approx(0.5 * 0.8**2)  # read at s0 = 0.2


def test_with_bias_adds_to_the_bias_row_only() -> None:
    w = np.zeros((1, 3, 3))
    got = model.with_bias(w, np.array([[0.0, 0.0, 0.5]]), 1)
    assert got[0, 1].tolist() == [0.0, 0.0, 0.5] and got.sum() == 0.5 and w.sum() == 0
    assert model.with_bias(w, None, 1) is w


# -- validation: options that the chosen rule or setting does not use ---------------------
@pytest.mark.parametrize(
    ("yaml", "field", "value"),
    [
        ("learning: {separate_bias: true}", "learning.separate_bias", "True"),
        (
            "learning: {rule: deep, options: {separate_bias: true}}",
            "learning.options.separate_bias",
            "True",
        ),
        ("learning: {l1_sign: before}", "learning.l1_sign", "'before'"),
        ("learning: {l1: 0.1, l1_sign: sideways}", "learning.l1_sign", "'sideways'"),
        ("pruning: {regrow: true}", "pruning.regrow", "True"),
        ("pruning: {normaliser: column}", "pruning.normaliser", "'column'"),
        ("pruning: {enabled: true, normaliser: row}", "pruning.normaliser", "'row'"),
        (
            "learning: {l1: 0.1, l1_sign: before}\nhardware: {card: pcm_pair, scheme: in_situ}",
            "learning.l1_sign",
            "'before'",
        ),
    ],
)
def test_unused_or_bad_options_name_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture, yaml: str, field: str, value: str
) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(f"task: {{name: XOR}}\n{yaml}\n")
    out = tmp_path / "out"
    assert cli.main(["train", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {field} = {value}: " in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_in_situ_scheme_refuses_l1_before_in_the_api() -> None:
    from deephw.schemes import get_scheme

    mask = topology.complete(1, 0, 1).mask[None].copy()
    bar = Crossbar("pcm_pair", mask, [0])
    scheme = get_scheme("in_situ")
    trajectory = np.zeros((2, 1, 1, 3))
    with pytest.raises(ConfigError, match="learning.l1_sign"):
        scheme.update(
            bar, np.random.default_rng(0), trajectory=trajectory, l1=0.1, l1_sign="before"
        )
