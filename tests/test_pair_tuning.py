"""Closed-loop tuning of a pair (``tune_pair``) ends as write-verify of single devices
does: on a PCM card, a cell the loop reads within tolerance holds its difference at the
target with the measured spread ``sigma_prog`` of the devices the loop programmed,
checked over 10 000 cells of a pcm_pair refresh and of Ambrogio transfers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from deephw.crossbar import Crossbar
from deephw.devices import ambrogio, cells, load_card, replace_card
from deephw.devices.cards import Card, noiseless
from deephw.devices.cells import PairTuneResult
from deephw.devices.pcm import PcmDevice

SIDE = 100  # 100 x 100 = 10 000 cells on one chip


@dataclass
class Tuned:
    """One ``tune_pair`` call seen from outside: its cells, targets and result, and the
    crossbar after it."""

    xbar: Crossbar
    idx: np.ndarray
    target: np.ndarray
    result: PairTuneResult
    t: float

    def error(self) -> np.ndarray:
        """True pair difference minus the target (µS), drift included."""
        devices = self.xbar.cell.devices
        pair = devices["G+"].value(self.t, self.idx) - devices["G-"].value(self.t, self.idx)
        return pair - self.target


def spied(monkeypatch, module) -> list[Tuned]:
    """Record every ``tune_pair`` call made through ``module``."""
    calls: list[tuple] = []
    real = cells.tune_pair

    def spy(cell, idx, target, t, rng, periphery):
        result = real(cell, idx, target, t, rng, periphery)
        calls.append((np.array(idx), np.array(target, dtype=float), result, t))
        return result

    monkeypatch.setattr(module, "tune_pair", spy)
    return calls


def chip(card: Card) -> Crossbar:
    return Crossbar(card, np.ones((1, SIDE, SIDE), bool), [3])


def signed(low: float, high: float, seed: int) -> np.ndarray:
    """``(1, SIDE, SIDE)`` magnitudes uniform in ``[low, high]`` with random signs."""
    rng = np.random.default_rng(seed)
    shape = (1, SIDE, SIDE)
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


def refresh_pcm_pair(monkeypatch, card: Card) -> Tuned:
    """Write differences of 3-15 uS on a pcm_pair chip and refresh every cell."""
    xbar = chip(card)
    rngs = [np.random.default_rng([3, 1])]
    xbar.write_weights(signed(3.0, 15.0, 5) / card.cell.g_ref_uS, rngs)
    xbar.advance(10.0)
    calls = spied(monkeypatch, cells)
    xbar.cell.refresh(np.flatnonzero(xbar.mask), xbar.time_s, rngs, xbar.periphery, True)
    ((idx, target, result, t),) = calls
    return Tuned(xbar, idx, target, result, t)


def transfer_ambrogio(monkeypatch, card: Card) -> Tuned:
    """Write weights of 0.5-1.5 on an Ambrogio chip (pair differences of 4-13 uS),
    let g leak for a second and transfer every cell."""
    xbar = chip(card)
    rngs = [np.random.default_rng([3, 1])]
    xbar.write_weights(signed(0.5, 1.5, 6), rngs)
    xbar.advance(1.0)
    calls = spied(monkeypatch, ambrogio)
    xbar.transfer(rngs)
    ((idx, target, result, t),) = calls
    return Tuned(xbar, idx, target, result, t)


def expected_sigma(card: Card, tuned: Tuned, cells_: np.ndarray) -> float:
    """RMS of ``sqrt(sum sigma_prog(q)^2)`` over the devices the loop programmed in
    ``cells_`` (``q`` of each device's final conductance)."""
    devices = tuned.xbar.cell.devices
    variance = np.zeros(cells_.sum())
    for column, role in enumerate(("G+", "G-")):
        g = devices[role].value(tuned.t, tuned.idx[cells_])
        q = np.clip(g / card.device.g_max_uS, 0.0, 1.0)
        sigma = np.polynomial.polynomial.polyval(q, card.device.prog_noise_poly_uS)
        variance += tuned.result.programmed[cells_, column] * sigma**2
    return float(np.sqrt(variance.mean()))


CASES = {
    "pcm_pair refresh": (refresh_pcm_pair, lambda: load_card("pcm_pair")),
    "ambrogio transfer, offset 0": (
        transfer_ambrogio,
        lambda: replace_card("pcm_ambrogio2018", {"cell": {"transfer_offset_uS": 0.0}}),
    ),
    "ambrogio transfer, offset 2 uS": (transfer_ambrogio, lambda: load_card("pcm_ambrogio2018")),
}


@pytest.mark.parametrize("case", CASES)
def test_a_tuned_pair_holds_the_measured_programming_spread(monkeypatch, case: str) -> None:
    run, make_card = CASES[case]
    card = make_card()
    assert card.periphery.out_noise == 0.06 and card.device.read_noise_t_min_s == 20.0
    tuned = run(monkeypatch, card)
    result, n = tuned.result, tuned.idx.size
    assert n >= 9900  # offset 2 uS: the few cells with 0 < W_transfer < 2 uS stay in g
    placed = result.within & result.programmed.any(axis=1)
    # the PCM preset's SET noise (about 1.4 uS at mid-range) against 0.5 uS of tolerance
    assert result.within.mean() > 0.85 and placed.mean() > 0.75
    error = tuned.error()[placed]
    expected = expected_sigma(card, tuned, placed)
    assert np.sqrt(np.mean(error**2)) == pytest.approx(expected, rel=0.15)
    assert abs(error.mean()) < 0.05 * expected
    # the loop's noisy reads (about 2 uS on a difference against 0.5 uS of tolerance)
    # still decide the work: several verify reads and SET pulses per cell
    counters = tuned.xbar.counters()
    reads = counters["G+"]["reads"].sum() + counters["G-"]["reads"].sum()
    assert reads > 2 * 3 * n  # both devices read at more than 3 iterations per cell
    assert counters["G+"]["set"].sum() + counters["G-"]["set"].sum() > 3 * n


def test_the_loop_alone_leaves_pairs_further_off(monkeypatch) -> None:
    """Without the measured model the pair ends where the first lucky read stops it:
    well over the measured spread on a pcm_pair refresh (about twice)."""
    card = load_card("pcm_pair")
    placed_run = refresh_pcm_pair(monkeypatch, card)
    monkeypatch.setattr(PcmDevice, "measured_programming", False)
    loop_run = refresh_pcm_pair(monkeypatch, card)
    assert np.array_equal(placed_run.result.within, loop_run.result.within)
    ok = loop_run.result.within
    loop_rms = np.sqrt(np.mean(loop_run.error()[ok] ** 2))
    placed_rms = np.sqrt(np.mean(placed_run.error()[ok] ** 2))
    assert loop_rms > 1.6 * placed_rms


@pytest.mark.parametrize("case", CASES)
def test_failed_and_unprogrammed_cells_stay_where_the_loop_leaves_them(
    monkeypatch, case: str
) -> None:
    run, make_card = CASES[case]
    card = replace_card(make_card(), {"cell": {"tune_max_iterations": 8}})
    placed_run = run(monkeypatch, card)
    monkeypatch.setattr(PcmDevice, "measured_programming", False)
    loop_run = run(monkeypatch, card)
    result = placed_run.result
    assert np.array_equal(result.within, loop_run.result.within)
    assert np.array_equal(result.programmed, loop_run.result.programmed)
    kept = ~(result.within & result.programmed.any(axis=1))
    assert 0.05 < kept.mean() < 0.95
    np.testing.assert_array_equal(placed_run.error()[kept], loop_run.error()[kept])
    # placed cells moved (but for a few in a thousand whose only programmed side would
    # need to go below its lower bound, where the loop had left it)
    assert np.mean(placed_run.error()[~kept] != loop_run.error()[~kept]) > 0.99
    for role in ("G+", "G-"):  # the same work was counted
        for name, counts in placed_run.xbar.counters()[role].items():
            np.testing.assert_array_equal(counts, loop_run.xbar.counters()[role][name], name)


@pytest.mark.parametrize("case", CASES)
def test_noise_free_pair_tuning_is_the_loop_alone(monkeypatch, case: str) -> None:
    """With the measured spread switched off (noise-free card), nothing is placed: the
    state, counters and random streams are those of the loop without the measured model."""
    run, make_card = CASES[case]
    card = noiseless(make_card())
    quiet = run(monkeypatch, card)
    monkeypatch.setattr(PcmDevice, "measured_programming", False)
    loop = run(monkeypatch, card)
    for role in ("G+", "G-"):
        a, b = quiet.xbar.cell.devices[role], loop.xbar.cell.devices[role]
        np.testing.assert_array_equal(a.g, b.g)
        np.testing.assert_array_equal(a.t_prog, b.t_prog)
    np.testing.assert_array_equal(quiet.xbar.true_weights(), loop.xbar.true_weights())
    ok = quiet.result.within
    assert ok.mean() > 0.99
    error = quiet.error()[ok]
    devices = quiet.xbar.cell.devices
    lsb = quiet.xbar.periphery.lsb(quiet.xbar.periphery.device_full_scale_uS(card.device))
    assert devices["G+"].model.write_sigma(np.array([10.0]), {}) == 0
    # within tolerance but for the ADC's rounding of each of the two reads
    assert np.abs(error).max() <= card.cell.tune_tolerance_uS + lsb + 1e-9
    assert np.mean(error != 0) > 0.5  # the loop's pulses, not an exact placement
