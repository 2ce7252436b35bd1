"""PCM gradual SET against IBM aihwkit's PCM preset (Nandakumar et al. 2020), over
10 000 devices: the step and its noise terms at several states, the RESET level and
its spread, the spread of g_max.

The reference numbers are aihwkit's own (``PCMPresetDevice``: an exponential-step
device in weights ``w = g / 12.5 uS`` on ``[0, 2]``), written here in their units so
that the card's conversion to µS is checked too.
"""

from __future__ import annotations

import numpy as np
import pytest

from deephw.devices import DeviceArray, get_device_model, load_card, replace_card
from deephw.devices.base import DeviceParams

SIDE = 100  # 10 000 devices
REL = 0.05
UNIT = 12.5  # µS per aihwkit weight unit: w_max = 2 is g_max = 25 µS
DW_MIN, A_UP, GAMMA_UP = 0.01, -27.235, 2.5
DW_MIN_STD, STD_ADD, STD_SLOPE = 0.6, 0.042, 0.108
RESET, RESET_DTOD = 0.01, 0.02


def aihwkit_step_uS(g: np.ndarray | float, w_max: float = 2.0) -> np.ndarray:
    """The preset's up step at ``g`` (``a = -1``, ``b = 0``: ``z = -2 w / w_max``)."""
    w = np.asarray(g) / UNIT
    return UNIT * DW_MIN * np.maximum(1 - A_UP * np.exp(GAMMA_UP * (-2 * w / w_max)), 0)


def aihwkit_sigma_uS(g: np.ndarray | float) -> np.ndarray:
    """The preset's cycle-to-cycle noise of a step from ``g``."""
    dw = aihwkit_step_uS(g) / UNIT
    return UNIT * DW_MIN_STD * (np.abs(dw) + STD_ADD + STD_SLOPE * np.abs(np.asarray(g) / UNIT))


def pcm(**fields: object) -> DeviceParams:
    return replace_card("pcm_pair", {"device": fields}).device


def devices(params: DeviceParams, seed: int = 1) -> DeviceArray:
    model = get_device_model(params.model)(params)
    return DeviceArray(model, np.ones((1, SIDE, SIDE), bool), [seed], (2, 0))


def set_once(array: DeviceArray, rng: np.random.Generator) -> None:
    idx = array.indices()
    array.pulse(idx, np.ones(idx.size, np.int64), np.ones(idx.size, bool), 0.0, rng)


def test_the_card_is_the_aihwkit_preset_in_microsiemens() -> None:
    p = load_card("pcm_pair").device
    assert p.set_step_uS == pytest.approx(aihwkit_step_uS(0.0), rel=1e-6)
    assert p.g_max_dtod == 0.1  # w_max_dtod 0.1 of w_max = the range
    assert p.set_c2c == DW_MIN_STD
    assert p.set_c2c_add_uS == pytest.approx(STD_ADD * UNIT)
    assert p.set_c2c_slope == STD_SLOPE
    # the spread of the RESET level is the preset's; its mean (0.125 µS) is put at g_min
    assert (p.reset_uS, p.reset_dtod_uS) == pytest.approx((0.0, RESET_DTOD * UNIT))
    assert p.set_step_dtod == pytest.approx(np.hypot(0.2, 0.05), rel=1e-5)
    assert load_card("pcm_ambrogio2018").device == p


def test_set_step_vs_state_is_the_exponential_step_formula(rng) -> None:
    p = pcm(set_c2c=0.0, set_step_dtod=0.0, g_max_dtod=0.0)
    array = devices(p)
    start = rng.uniform(p.g_min_uS, p.g_max_uS, SIDE * SIDE)
    array.g.reshape(-1)[:] = start
    set_once(array, rng)
    change = array.g.reshape(-1) - start
    expected = np.minimum(aihwkit_step_uS(start), p.g_max_uS - start)
    np.testing.assert_allclose(change, expected, rtol=1e-5)
    first, last = aihwkit_step_uS(0.0), aihwkit_step_uS(p.g_max_uS)
    assert first / p.range_uS == pytest.approx(0.141, abs=0.001)  # about 14 % of the range
    assert first / last == pytest.approx(23.85, abs=0.05)  # shrinking about 24x


def test_a_set_sweep_takes_the_nominal_pulses(rng) -> None:
    p = pcm(set_c2c=0.0, set_step_dtod=0.0, g_max_dtod=0.0, reset_dtod_uS=0.0)
    model = get_device_model("pcm")(p)
    pulses = p.range_uS / model.nominal_step_uS()
    array = devices(p)
    array.g[...] = 0.0
    g, count = 0.0, 0
    while g < 0.99 * p.g_max_uS:
        g += float(aihwkit_step_uS(g))
        count += 1
    assert pulses == pytest.approx(73.1, abs=0.1)
    assert abs(count - pulses) < 4  # the continuous limit of the one-pulse loop


@pytest.mark.parametrize("g", [2.5, 7.5, 12.5, 17.5, 22.5])
def test_set_noise_terms_match_the_preset_at_each_state(rng, g: float) -> None:
    """Mean and standard deviation of 10 000 steps from one state, unclipped."""
    p = pcm(set_step_dtod=0.0, g_max_dtod=0.0)
    array = devices(p)
    model, idx = array.model, array.indices()
    start = np.full(idx.size, g)
    after = model.step(
        start, np.ones(idx.size, bool), array.params_at(idx), rng.standard_normal(idx.size)
    )
    change = after - start
    sigma = aihwkit_sigma_uS(g)
    assert change.std() == pytest.approx(sigma, rel=REL)
    assert abs(change.mean() - aihwkit_step_uS(g)) < 4 * sigma / np.sqrt(idx.size)


def test_at_mid_range_the_noise_is_several_times_the_step(rng) -> None:
    p = load_card("pcm_pair").device
    array = devices(pcm(set_step_dtod=0.0, g_max_dtod=0.0))
    array.g[...] = 12.5
    set_once(array, rng)
    change = array.g.reshape(-1) - 12.5
    assert change.std() / aihwkit_step_uS(12.5) == pytest.approx(3.38, rel=REL)
    assert change.std() == pytest.approx(aihwkit_sigma_uS(12.5), rel=REL)
    assert (change < 0).mean() > 0.3  # the noise is added to the step: SET may lower g
    assert p.set_c2c * (p.set_c2c_add_uS + p.set_c2c_slope * 12.5) > 2 * aihwkit_step_uS(12.5)


def test_step_d2d_spread_scales_every_step(rng) -> None:
    array = devices(pcm(set_c2c=0.0, g_max_dtod=0.0))
    set_once(array, rng)
    first = array.g.reshape(-1) - np.clip(array.d2d["g_reset"].reshape(-1), 0.0, None)
    nominal = aihwkit_step_uS(0.0)
    assert first.std() / nominal == pytest.approx(np.hypot(0.2, 0.05), rel=REL)


def test_reset_level_and_its_spread(rng) -> None:
    p = pcm(reset_uS=RESET * UNIT)  # the preset's mean level
    array = devices(p)
    level = array.d2d["g_reset"].reshape(-1)
    assert level.mean() == pytest.approx(RESET * UNIT, abs=4 * RESET_DTOD * UNIT / SIDE)
    assert level.std() == pytest.approx(RESET_DTOD * UNIT, rel=REL)
    for _ in range(20):
        set_once(array, rng)
    assert array.g.mean() > 10 * RESET * UNIT
    array.reset(array.indices(), 1.0)
    np.testing.assert_array_equal(array.g, np.clip(array.d2d["g_reset"], 0.0, None))
    at_floor = np.mean(array.g == 0.0)  # aihwkit clips the RESET level to the bounds
    assert at_floor == pytest.approx(0.3085, abs=0.02)  # P(0.01 + 0.02 z < 0)
    with pytest.raises(ValueError, match="no gradual depression"):
        idx = array.indices()
        array.pulse(idx, np.ones(idx.size, np.int64), np.zeros(idx.size, bool), 0.0, rng)


def test_g_max_spread_is_ten_percent_of_the_range(rng) -> None:
    p = pcm(set_c2c=0.0, set_step_dtod=0.0)
    array = devices(p)
    for _ in range(300):
        set_once(array, rng)
    top = array.g.reshape(-1)
    np.testing.assert_allclose(top, array.d2d["g_max"].reshape(-1), rtol=1e-9)
    assert top.std() / p.range_uS == pytest.approx(0.1, rel=REL)
    assert top.mean() == pytest.approx(p.g_max_uS, rel=0.01)
