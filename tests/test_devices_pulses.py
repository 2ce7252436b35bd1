"""Long pulse trains: applied at a cost independent of their length, statistics unchanged.

Each model is checked against a reference loop that applies one pulse at a time (the
definition of a pulse train), over 10 000 devices.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from deephw.crossbar import Crossbar
from deephw.devices import DeviceArray, card_from_dict, get_device_model, load_card, replace_card
from deephw.devices.array import EXACT_PULSES, MAX_TRAIN
from deephw.devices.base import DeviceParams
from deephw.devices.cards import as_dict

SIDE = 100  # 10 000 devices
SMALL, LARGE = (3, EXACT_PULSES), 1200
SIGMAS = 4.0  # mean and std agree within this many standard errors


def devices(params: DeviceParams, seed: int) -> DeviceArray:
    model = get_device_model(params.model)(params)
    return DeviceArray(model, np.ones((1, SIDE, SIDE), bool), [seed], (2, 0))


def start(array: DeviceArray, up: bool) -> None:
    """Start up trains at g_min, down trains at g_max (the hard cases at the bounds)."""
    if not up:
        array.g[...] = array.d2d["g_max"]


def reference(array: DeviceArray, n: int, up: bool, rng: np.random.Generator) -> np.ndarray:
    """``n`` pulses, one at a time: the loop that defines a pulse train."""
    model, idx = array.model, array.indices()
    g, d2d, direction = array.g.reshape(-1)[idx].copy(), array.params_at(idx), np.full(idx.size, up)
    for _ in model.program_draws():  # drawn afresh by every programming (PCM's drift)
        rng.standard_normal(idx.size)
    for _ in range(n):
        noise = rng.standard_normal(idx.size) if model.step_noise() else None
        g = model.pulse(g, direction, d2d, noise)
    return g


def train(array: DeviceArray, n: int, up: bool, rng: np.random.Generator) -> np.ndarray:
    idx = array.indices()
    array.pulse(idx, np.full(idx.size, n, np.int64), np.full(idx.size, up), 0.0, rng)
    return array.g.reshape(-1)[idx]


def lookup_card():
    """A soft-bounds-like measured table with a spread that varies with g."""
    grid = np.linspace(2.0, 30.0, 9)
    x = (grid - 2.0) / 28.0
    device = {
        "model": "lookup",
        "g_min_uS": 2.0,
        "g_max_uS": 30.0,
        "grid_uS": grid.tolist(),
        "up_mean_uS": (0.05 * (1 - x) + 0.002).tolist(),
        "down_mean_uS": (-0.04 * x - 0.002).tolist(),
        "up_c2c_uS": (0.01 + 0.02 * x).tolist(),
        "down_c2c_uS": (0.03 - 0.02 * x).tolist(),
        "step_dtod": 0.1,
    }
    data = as_dict(load_card("quantized_64"))
    data["device"] = device
    return card_from_dict(data, "lookup test card")


def exp_card(**extra):
    device = {
        "model": "exp_step",
        "levels": None,
        "step_uS": 0.001,
        "gamma_up": 2.0,
        "gamma_down": 3.0,
        "up_down": 0.1,
        "step_dtod": 0.1,
        **extra,
    }
    data = as_dict(load_card("quantized_64"))
    data["device"] = device
    return card_from_dict(data, "lookup test card")


CASES = {
    # name: (card, fields that switch the cycle-to-cycle noise off / on)
    "constant_step": (
        replace_card("quantized_64", {"device": {"levels": 4000, "step_dtod": 0.1}}),
        {"step_c2c": 0.3},
    ),
    "constant_step additive": (
        replace_card("quantized_64", {"device": {"levels": 4000, "c2c_additive": True}}),
        {"step_c2c": 1.0},
    ),
    "soft_bounds": (load_card("reram_softbounds"), {"step_c2c": 0.5, "c2c_additive": False}),
    "soft_bounds additive": (load_card("reram_softbounds"), {"step_c2c": 3.75}),
    "exp_step": (exp_card(), {"step_c2c": 0.3}),
    "exp_step additive": (exp_card(c2c_additive=True), {"step_c2c": 0.5}),
    "capacitor": (replace_card("capacitor", {"device": {"levels": 2000}}), {"step_c2c": 0.16}),
    "pcm": (
        replace_card("pcm_pair", {"device": {"set_step_uS": 0.02}}),
        {"set_c2c": 0.6, "set_c2c_add_uS": 0.002, "set_c2c_slope": 0.0005},
    ),
    "pcm card": (load_card("pcm_pair"), {"set_c2c": 0.6}),
    "pcm preset noise": (
        replace_card("pcm_pair", {"device": {"set_step_uS": 0.2, "set_c2c_add_uS": 0.03}}),
        {"set_c2c": 0.6, "set_c2c_slope": 0.002},
    ),
    "lookup": (lookup_card(), None),
}


def quiet(name: str) -> DeviceParams:
    card, noisy = CASES[name]
    if name == "lookup":
        zeros = [0.0] * len(card.device.grid_uS)
        return replace_card(card, {"device": {"up_c2c_uS": zeros, "down_c2c_uS": zeros}}).device
    off = {key: 0.0 for key in noisy if key != "c2c_additive"}
    return replace_card(card, {"device": {**noisy, **off}}).device


def noisy(name: str) -> DeviceParams:
    card, fields = CASES[name]
    return card.device if fields is None else replace_card(card, {"device": fields}).device


def directions(params: DeviceParams) -> tuple[bool, ...]:
    return (True,) if params.model == "pcm" else (True, False)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("noise", [False, True], ids=["no c2c", "c2c"])
def test_short_trains_are_the_one_pulse_loop_bit_for_bit(name: str, noise: bool) -> None:
    params = noisy(name) if noise else quiet(name)
    for up in directions(params):
        for n in SMALL:
            expected, array = devices(params, 1), devices(params, 1)
            start(expected, up)
            start(array, up)
            want = reference(expected, n, up, np.random.default_rng(7))
            got = train(array, n, up, np.random.default_rng(7))
            assert np.array_equal(got, want), (name, up, n)


@pytest.mark.parametrize("name", list(CASES))
def test_long_noise_free_trains_follow_the_loop(name: str) -> None:
    params = quiet(name)
    for up in directions(params):
        expected, array = devices(params, 1), devices(params, 1)
        start(expected, up)
        start(array, up)
        want = reference(expected, LARGE, up, np.random.default_rng(0))
        got = train(array, LARGE, up, np.random.default_rng(0))
        span = params.g_max_uS - params.g_min_uS
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * span)


@pytest.mark.parametrize("name", list(CASES))
def test_long_noisy_trains_match_the_loop_in_mean_and_spread(name: str) -> None:
    """Independent chips (other seeds) and draws: the means and standard deviations of
    the final conductance agree within a few standard errors."""
    params = noisy(name)
    for up in directions(params):
        expected, array = devices(params, 1), devices(params, 2)
        start(expected, up)
        start(array, up)
        want = reference(expected, LARGE, up, np.random.default_rng(3))
        got = train(array, LARGE, up, np.random.default_rng(4))
        spread = np.hypot(want.std(), got.std())
        assert abs(got.mean() - want.mean()) < SIGMAS * spread / np.sqrt(want.size), (name, up)
        assert abs(got.std() - want.std()) < SIGMAS * spread / np.sqrt(2 * want.size), (name, up)
        assert 0 < want.std()


def test_a_billion_pulses_on_a_trillion_level_card_take_well_under_a_second() -> None:
    card = replace_card("quantized_64", {"device": {"levels": 10**12, "step_c2c": 0.2}})
    model = get_device_model(card.device.model)(card.device)
    array = DeviceArray(model, np.ones((1, 30, 30), bool), [0], (2, 0))
    step = card.device.nominal_step
    began = time.perf_counter()
    got = train(array, 10**9, True, np.random.default_rng(0))
    elapsed = time.perf_counter() - began
    assert elapsed < 0.5  # one pulse at a time: hours
    # a sum of 1e9 steps (1 + 0.2 xi): mean 1e9 step, std 0.2 step sqrt(1e9)
    assert got.mean() == pytest.approx(1e9 * step, rel=1e-6)
    assert got.std() == pytest.approx(0.2 * step * np.sqrt(1e9), rel=0.1)
    assert np.all(array.counts["set"] == 10**9) and np.all(array.pulses == 10**9)


def test_a_huge_update_is_clipped_to_the_pulses_that_reach_the_bound() -> None:
    card = replace_card("quantized_64", {"device": {"levels": 10**12}})
    bar = Crossbar(card, np.ones((1, 3, 3), bool), seeds=[0])
    before = bar.true_weights().copy()
    began = time.perf_counter()
    pulses = bar.program(np.full((1, 3, 3), 1e300), np.random.default_rng(0))
    assert time.perf_counter() - began < 1.0
    assert pulses.dtype == np.int64 and 0 < pulses.max() <= MAX_TRAIN
    assert np.all(bar.true_weights() >= before)
    device = bar.cell.devices["G"]
    np.testing.assert_allclose(device.g, device.d2d["g_max"])  # at the bound, no overflow


def test_endurance_is_reached_inside_a_long_train() -> None:
    params = replace_card(
        "quantized_64", {"device": {"levels": 4000, "endurance_pulses": 1000}}
    ).device
    array = devices(params, 1)
    train(array, 5000, True, np.random.default_rng(0))
    assert array.stuck.all() and np.all(array.pulses == 5000)
    # it moved for exactly its 1000 pulses
    np.testing.assert_allclose(array.g, 1000 * array.d2d["step_up"], rtol=1e-9)
