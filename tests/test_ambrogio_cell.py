"""The Ambrogio cell: a shared reference that leaks like g, and the transfer-offset rule."""

from __future__ import annotations

import numpy as np
import pytest

from deephw.crossbar import Crossbar
from deephw.devices import load_card, nonideality, replace_card
from deephw.devices.nonideality import GROUPS

N = 6


def chip(card, chips: int = 2) -> Crossbar:
    mask = np.ones((chips, N, N), bool)
    mask[:, np.arange(N), np.arange(N)] = False
    return Crossbar(card, mask, np.arange(chips) + 7)


def rngs(chips: int = 2) -> list[np.random.Generator]:
    return [np.random.default_rng([k, 3]) for k in range(chips)]


def fast_part(xbar: Crossbar) -> np.ndarray:
    """Each cell's weight minus its pair's: ``p (g - g_shared) / G_ref``."""
    devices, cell, t = xbar.cell.devices, xbar.card.cell, xbar.time_s
    idx = np.flatnonzero(xbar.mask)
    pair = devices["G+"].value(t, idx) - devices["G-"].value(t, idx)  # drift included
    return xbar.true_weights().reshape(-1)[idx] - cell.gain * pair / cell.g_ref_uS


@pytest.mark.parametrize("transfers", [0, 1, 2])
def test_a_leaking_cell_left_alone_tends_to_weight_zero(transfers: int) -> None:
    """g and g_shared leak toward the same rest value: with no update, g's part of the
    weight returns to 0 once both have leaked, and a weight written as 0 with it (g's
    part went to +-0.16 when g_shared did not leak: (g_rest - g_reset) / G_ref =
    4 uS / 25 uS). While they leak, the two move at their own rates (leak time d2d
    30 %), by at most the reset-to-rest distance."""
    # transfers tune without noise; a pair written to 0 holds 0 (no RESET-level spread)
    quiet = {"device": {"read_noise_q_coeff": 0.0, "reset_dtod_uS": 0.0}}
    card = replace_card("pcm_ambrogio2018", {**quiet, "periphery": {"out_noise": 0.0}})
    fast, cell = card.fast_device, card.cell
    xbar = chip(card)
    random = rngs()
    xbar.write_weights(np.zeros(xbar.shape), random)
    for _ in range(transfers):
        xbar.advance(30.0)
        xbar.transfer(random)
    moving = (fast.g_rest_uS - fast.g_reset_uS + 4 * fast.g_reset_dtod_uS) / cell.g_ref_uS
    for seconds in (0.1, 0.3, 1.0):
        xbar.advance(seconds)
        assert np.abs(fast_part(xbar)).max() < moving, seconds
    for seconds in (30.0, 100.0, 1000.0):  # long after every leak time constant
        xbar.advance(seconds)
        assert np.abs(fast_part(xbar)).max() < 1e-4, seconds
    if not transfers:
        assert np.abs(xbar.true_weights()).max() < 1e-4
    shared = xbar.cell.shared_value(np.flatnonzero(xbar.mask), xbar.time_s)
    np.testing.assert_allclose(shared, fast.g_rest_uS, atol=1e-9)


def test_the_shared_reference_is_reset_at_each_transfer_and_saved() -> None:
    xbar = chip(load_card("pcm_ambrogio2018"))
    random = rngs()
    xbar.write_weights(np.zeros(xbar.shape), random)
    idx = np.flatnonzero(xbar.mask)
    start = xbar.cell.shared_value(idx, 0.0)
    xbar.advance(2.0)
    assert np.all(np.abs(xbar.cell.shared_value(idx, xbar.time_s) - start) > 0.1)
    xbar.transfer(random)
    np.testing.assert_allclose(xbar.cell.shared_value(idx, xbar.time_s), start, atol=1e-12)
    xbar.advance(0.7)
    again = Crossbar.from_state_dict(xbar.state_dict())
    assert np.array_equal(again.true_weights(), xbar.true_weights())


def quiet_ambrogio(offset_uS: float):
    """The Ambrogio card with every switchable non-ideality off and fine SET steps."""
    card = nonideality.switched_off("pcm_ambrogio2018", set(GROUPS))
    # a SET step well below the tuning tolerance (the card's first step is 3.5 uS)
    changes = {"cell": {"transfer_offset_uS": offset_uS}, "device": {"set_step_uS": 0.1}}
    return replace_card(card, changes)


def test_transfer_tunes_the_pair_to_w_minus_the_offset() -> None:
    """``W_transfer = W - offset - [g - g_shared]`` after g's reset (0 here: no spread)."""
    card = quiet_ambrogio(2.0)
    xbar = chip(card, chips=1)
    g_ref, tolerance = card.cell.g_ref_uS, card.cell.tune_tolerance_uS * card.cell.gain
    weights = np.where(xbar.mask, 1.0, 0.0)
    weights[0, 1, :] = -0.5
    weights[0, 2, :] = 0.06  # W_transfer = 1.5 - 2 < 0: still tuned into the pair
    xbar.write_weights(weights, rngs(1))
    xbar.transfer(rngs(1))
    after = xbar.true_weights()
    expected = (weights * g_ref - 2.0) / g_ref
    assert np.abs((after - expected)[xbar.mask]).max() <= tolerance / g_ref + 1e-12
    assert xbar.cell.polarity[0] == -1
    assert xbar.counters()["cell"]["transfers"][0] == xbar.mask.sum()


def test_a_small_positive_transfer_resets_both_pcms_and_g_holds_the_weight() -> None:
    """When ``0 < W_transfer < offset`` both PCM devices are reset and g, tuned in
    closed loop under the new polarity, keeps the weight."""
    card = quiet_ambrogio(2.0)
    xbar = chip(card, chips=1)
    g_ref = card.cell.g_ref_uS
    weights = np.where(xbar.mask, 0.12, 0.0)  # 3 uS: W_transfer = 1 uS, below the offset
    weights[0, 0, :] = 1.0  # 25 uS: tuned into the pair
    xbar.write_weights(weights, rngs(1))
    resets = xbar.counters()["G+"]["reset"].copy()
    xbar.transfer(rngs(1))
    small = xbar.mask.copy()
    small[0, 0, :] = False
    plus = xbar.cell.devices["G+"].g[small]
    minus = xbar.cell.devices["G-"].g[small]
    assert np.all(plus == card.device.g_min_uS) and np.all(minus == card.device.g_min_uS)
    assert xbar.counters()["G+"]["reset"][0] - resets[0] >= small.sum()
    after = xbar.true_weights()
    tolerance = card.cell.tune_tolerance_uS / g_ref
    assert np.abs(after[small] - 0.12).max() <= tolerance + 1e-12
    g = xbar.cell.devices["g"].g[small]
    assert np.all(g < card.fast_device.g_reset_uS)  # polarity -1: g below reset raises W
    big = np.zeros_like(small)
    big[0, 0, :] = xbar.mask[0, 0, :]
    assert np.all(xbar.cell.devices["G+"].g[big] > 5.0)


def test_without_offset_the_transfer_keeps_the_weight() -> None:
    card = quiet_ambrogio(0.0)
    xbar = chip(card, chips=1)
    weights = np.where(xbar.mask, 0.12, 0.0)
    xbar.write_weights(weights, rngs(1))
    xbar.transfer(rngs(1))
    tolerance = card.cell.tune_tolerance_uS * card.cell.gain / card.cell.g_ref_uS
    assert np.abs((xbar.true_weights() - weights)[xbar.mask]).max() <= tolerance
    assert np.all(xbar.cell.devices["G+"].g[xbar.mask] > 0)  # the pair holds it
