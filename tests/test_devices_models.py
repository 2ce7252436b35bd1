"""Device physics, checked statistically over 10 000 devices against the card formulas."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from deephw.devices import DeviceArray, get_device_model, load_card, replace_card
from deephw.devices.base import DeviceParams

SIDE = 100  # 100 x 100 = 10 000 devices on one chip
REL = 0.05  # spreads and noise sigmas must match the card within 5 %


def devices(params: DeviceParams, seed: int = 1) -> DeviceArray:
    """10 000 devices of one chip with the given card section."""
    model = get_device_model(params.model)(params)
    return DeviceArray(model, np.ones((1, SIDE, SIDE), bool), [seed], (2, 0))


def every(array: DeviceArray) -> np.ndarray:
    return array.indices()


def pulse_all(array: DeviceArray, up: bool, rng: np.random.Generator, t: float = 0.0) -> None:
    idx = every(array)
    array.pulse(idx, np.ones(idx.size, np.int64), np.full(idx.size, up), t, rng)


def device_of(card: str, **fields: object) -> DeviceParams:
    return replace_card(card, {"device": fields}).device


def fast_of(card: str, **fields: object) -> DeviceParams:
    return replace_card(card, {"fast_device": fields}).fast_device


# -- constant step ---------------------------------------------------------------------
def test_constant_step_walks_the_levels_and_stops_at_hard_bounds(rng) -> None:
    p = load_card("quantized_64").device
    step = p.range_uS / (p.levels - 1)
    arr = devices(p)
    for k in range(1, p.levels + 5):
        pulse_all(arr, True, rng)
        expected = min(k * step, p.g_max_uS)
        np.testing.assert_allclose(arr.g, expected, atol=1e-9)
    assert np.all(arr.g == p.g_max_uS)
    for _ in range(p.levels + 5):
        pulse_all(arr, False, rng)
    assert np.all(arr.g == p.g_min_uS)


def test_constant_step_write_lands_on_a_level(rng) -> None:
    p = load_card("quantized_64").device
    arr = devices(p)
    idx = every(arr)
    arr.write(idx, rng.uniform(p.g_min_uS, p.g_max_uS, idx.size), 0.0, rng)
    levels = arr.g / (p.range_uS / (p.levels - 1))
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-9)


def test_step_d2d_and_c2c_spreads_match_the_card(rng) -> None:
    d2d = devices(device_of("quantized_64", step_dtod=0.3))
    pulse_all(d2d, True, rng)
    step = d2d.model.nominal_step_uS()
    assert d2d.g.mean() == pytest.approx(step, rel=0.01)
    assert d2d.g.std() / step == pytest.approx(0.3, rel=REL)
    c2c = devices(device_of("quantized_64", step_c2c=0.2))
    before = c2c.g.copy()
    pulse_all(c2c, True, rng)
    assert (c2c.g - before).std() / step == pytest.approx(0.2, rel=REL)


# -- soft bounds and exponential steps -------------------------------------------------
def test_soft_bounds_step_shrinks_linearly_toward_the_bound(rng) -> None:
    p = device_of(
        "reram_softbounds",
        step_c2c=0.0,
        step_dtod=0.0,
        up_down_dtod=0.0,
        g_min_dtod=0.0,
        g_max_dtod=0.0,
    )
    arr = devices(p)
    idx = every(arr)
    start = rng.uniform(p.g_min_uS, p.g_max_uS, idx.size)
    step_up, step_down = p.step_uS * (1 + p.up_down), p.step_uS * (1 - p.up_down)
    for up, expected in (
        (True, step_up * (p.g_max_uS - start) / p.range_uS),
        (False, -step_down * (start - p.g_min_uS) / p.range_uS),
    ):
        arr.g.reshape(-1)[:] = start
        pulse_all(arr, up, rng)
        change = arr.g.reshape(-1) - start
        np.testing.assert_allclose(change, expected, rtol=1e-9, atol=1e-12)
        fit = stats.linregress(start, change)
        assert fit.rvalue**2 == pytest.approx(1.0, abs=1e-12)
        slope = -step_up / p.range_uS if up else -step_down / p.range_uS
        assert fit.slope == pytest.approx(slope, rel=1e-9)
    symmetry = p.g_min_uS + p.range_uS * step_up / (step_up + step_down)
    assert symmetry == pytest.approx(load_card("reram_softbounds").cell.g_offset_uS)


def test_soft_bounds_cycle_noise_is_additive_as_carded(rng) -> None:
    p = device_of("reram_softbounds", step_dtod=0.0, g_min_dtod=0.0, g_max_dtod=0.0)
    arr = devices(p)
    idx = every(arr)
    arr.g[...] = 25.0
    pulse_all(arr, True, rng)
    change = arr.g.reshape(-1) - 25.0
    step_up = p.step_uS * (1 + p.up_down)
    mean = step_up * (p.g_max_uS - 25.0) / p.range_uS
    sigma = p.step_c2c * arr.model.nominal_step_uS()  # the step at the symmetry point
    assert change.std() == pytest.approx(sigma, rel=REL)
    assert abs(change.mean() - mean) < 4 * sigma / np.sqrt(idx.size)


def test_exponential_step_decays_with_distance(rng) -> None:
    base = load_card("quantized_64")
    card = replace_card(
        base,
        {
            "device": {
                "model": "exp_step",
                "levels": None,
                "step_uS": 0.5,
                "gamma_up": 2.0,
                "gamma_down": 3.0,
                "up_down": 0.1,
            }
        },
    )
    p = card.device
    arr = devices(p)
    idx = every(arr)
    start = rng.uniform(p.g_min_uS, p.g_max_uS, idx.size)
    x = (start - p.g_min_uS) / p.range_uS
    for up, expected in (
        (True, 0.55 * np.exp(-2.0 * x)),
        (False, -0.45 * np.exp(-3.0 * (1 - x))),
    ):
        arr.g.reshape(-1)[:] = start
        pulse_all(arr, up, rng)
        change = arr.g.reshape(-1) - start
        room = p.g_max_uS - start if up else start - p.g_min_uS
        expected = np.sign(expected) * np.minimum(np.abs(expected), room)
        np.testing.assert_allclose(change, expected, rtol=1e-9, atol=1e-12)


# -- PCM -------------------------------------------------------------------------------
@pytest.mark.parametrize("q", [0.1, 0.3, 0.6])
def test_pcm_programming_noise_matches_the_polynomial(rng, q: float) -> None:
    p = device_of("pcm_pair", g_max_dtod=0.0)
    arr = devices(p)
    idx = every(arr)
    target = q * p.g_max_uS
    arr.write(idx, np.full(idx.size, target), 0.0, rng)
    c0, c1, c2 = p.prog_noise_poly_uS
    sigma = c0 + c1 * q + c2 * q**2
    error = arr.g.reshape(-1) - target
    assert error.std() == pytest.approx(sigma, rel=REL)
    assert abs(error.mean()) < 4 * sigma / np.sqrt(idx.size)


def _nu_stats(p, q: float) -> tuple[float, float]:
    mean = np.clip(p.drift_nu_mean[0] * np.log(q) + p.drift_nu_mean[1], *p.drift_nu_mean_clip)
    std = np.clip(p.drift_nu_std[0] * np.log(q) + p.drift_nu_std[1], *p.drift_nu_std_clip)
    return float(mean), float(std)


@pytest.mark.parametrize("q", [0.05, 0.5])
def test_pcm_drift_follows_a_power_law_with_the_carded_nu(rng, q: float) -> None:
    p = device_of("pcm_pair", prog_noise_poly_uS=[0.0])
    arr = devices(p)
    idx = every(arr)
    g0 = q * p.g_max_uS
    arr.write(idx, np.full(idx.size, g0), 0.0, rng)
    t0 = p.drift_t0_s
    np.testing.assert_array_equal(arr.value(t0 / 2, idx), g0)
    late, later = arr.value(1000 * t0, idx), arr.value(10**5 * t0, idx)
    nu = -np.log(late / g0) / np.log(1000)
    np.testing.assert_allclose(-np.log(later / g0) / np.log(10**5), nu, rtol=1e-9)
    mean, std = _nu_stats(p, q)
    assert nu.mean() == pytest.approx(mean, rel=REL)
    assert nu.std() == pytest.approx(std, rel=REL)


@pytest.mark.parametrize("elapsed", [10.0, 2000.0])
def test_pcm_read_noise_is_one_over_f_as_carded(rng, elapsed: float) -> None:
    p = device_of("pcm_pair", prog_noise_poly_uS=[0.0])
    arr = devices(p)
    idx = every(arr)
    q = 0.5
    arr.write(idx, np.full(idx.size, q * p.g_max_uS), 0.0, rng)
    g_now = arr.value(elapsed, idx)
    reads = arr.read(elapsed, rng, idx)
    q_factor = min(p.read_noise_q_coeff / q**p.read_noise_q_exponent, p.read_noise_q_max)
    log_term = np.log((elapsed + p.t_read_s) / (2 * p.t_read_s))
    sigma = g_now * q_factor * np.sqrt(log_term)
    z = (reads - g_now) / sigma
    assert z.std() == pytest.approx(1.0, rel=REL)
    assert abs(z.mean()) < 4 / np.sqrt(idx.size)
    assert np.all(arr.counts["reads"] == 1)


def test_bound_spread_matches_the_card(rng) -> None:
    p = device_of("pcm_pair", set_c2c=0.0)
    arr = devices(p)
    for _ in range(400):
        pulse_all(arr, True, rng)
    top = arr.g.reshape(-1)
    assert top.mean() == pytest.approx(p.g_max_uS, rel=0.01)
    assert top.std() / p.range_uS == pytest.approx(p.g_max_dtod, rel=REL)


# -- capacitor -------------------------------------------------------------------------
def test_capacitor_decays_exponentially_toward_rest(rng) -> None:
    p = load_card("capacitor").device
    arr = devices(p)
    idx = every(arr)
    arr.write(idx, np.full(idx.size, 19.0), 0.0, rng)
    g0 = arr.value(0.0, idx)
    assert np.all(g0 == arr.g.reshape(-1))
    for t in (0.01, 0.03, 0.1):
        fraction = (arr.value(t, idx) - p.g_rest_uS) / (g0 - p.g_rest_uS)
        tau = -t / np.log(fraction)
        np.testing.assert_allclose(tau, arr.d2d["tau_s"].reshape(-1), rtol=1e-6)
    assert tau.mean() == pytest.approx(p.tau_s, rel=0.01)
    assert tau.std() / p.tau_s == pytest.approx(p.tau_dtod, rel=REL)
    arr.settle(1e6, idx)
    np.testing.assert_allclose(arr.g, p.g_rest_uS, atol=1e-9)


def test_capacitor_steps_are_near_linear_with_per_device_asymmetry(rng) -> None:
    p = device_of("capacitor", step_c2c=0.0, step_dtod=0.0, g_min_dtod=0.0, g_max_dtod=0.0)
    arr = devices(p)
    idx = every(arr)
    mid = (p.g_min_uS + p.g_max_uS) / 2
    arr.g[...] = mid
    pulse_all(arr, True, rng)
    up = arr.g.reshape(-1) - mid
    arr.g[...] = mid
    pulse_all(arr, False, rng)
    down = mid - arr.g.reshape(-1)
    asymmetry = (up - down) / (up + down)
    assert asymmetry.std() == pytest.approx(p.up_down_dtod, rel=REL)
    assert abs(asymmetry.mean()) < 4 * p.up_down_dtod / np.sqrt(idx.size)
    step = p.range_uS / (p.levels - 1)
    np.testing.assert_allclose((up + down) / 2, step * (1 - p.nonlinearity / 2), rtol=1e-9)
    arr.g[...] = p.g_min_uS
    pulse_all(arr, True, rng)
    low = arr.g.reshape(-1) - p.g_min_uS
    np.testing.assert_allclose(low / up, 1 / (1 - p.nonlinearity / 2), rtol=1e-9)
    arr.reset(idx, 0.0)
    np.testing.assert_array_equal(arr.g.reshape(-1), arr.d2d["g_reset"].reshape(-1))
    assert arr.d2d["g_reset"].std() == pytest.approx(p.g_reset_dtod_uS, rel=REL)


def test_white_read_noise_matches_the_card(rng) -> None:
    p = device_of("capacitor", read_noise_uS=0.4, tau_s=None)
    arr = devices(p)
    idx = every(arr)
    noise = arr.read(0.0, rng, idx) - arr.value(0.0, idx)
    assert noise.std() == pytest.approx(0.4, rel=REL)


# -- faults and endurance --------------------------------------------------------------
def test_endurance_budget_then_stuck(rng) -> None:
    for policy, final in (("current", None), ("min", 0.0), ("max", 25.2)):
        p = device_of("quantized_64", endurance_pulses=10, endurance_stuck=policy)
        arr = devices(p)
        for k in range(1, 26):
            pulse_all(arr, True, rng)
            if k < 10:
                np.testing.assert_allclose(arr.g, k * 0.4, atol=1e-9)
        assert arr.stuck.all()
        np.testing.assert_allclose(arr.g, 4.0 if final is None else final, atol=1e-9)
        assert np.all(arr.pulses == 25) and np.all(arr.counts["set"] == 25)


def test_endurance_budget_spread(rng) -> None:
    arr = devices(device_of("quantized_64", endurance_pulses=10**6, endurance_dtod=0.4))
    budget = arr.d2d["budget"].reshape(-1)
    assert np.log(budget).std() == pytest.approx(0.4, rel=REL)
    assert np.median(budget) == pytest.approx(1e6, rel=0.03)


def test_ideal_device_draws_nothing_and_adds_exactly(rng) -> None:
    arr = devices(load_card("ideal").device)
    state = rng.bit_generator.state
    delta = rng.normal(size=arr.shape)
    state = rng.bit_generator.state
    enabled = np.ones(arr.shape, bool)
    arr.add(delta, enabled)
    idx = every(arr)
    assert np.array_equal(arr.read(0.0, rng, idx), delta.reshape(-1))
    arr.write(idx, 2 * delta.reshape(-1), 0.0, rng)
    assert np.array_equal(arr.g, 2 * delta)
    assert rng.bit_generator.state == state
