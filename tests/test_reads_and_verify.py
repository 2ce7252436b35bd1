"""The read path every digital read shares (device read noise, output noise, ADC ranged
to the device role), write-verify through it, and the PCM drift exponent, checked over
10 000 devices against the card formulas."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from deephw.crossbar import Crossbar
from deephw.devices import DeviceArray, get_device_model, load_card, replace_card
from deephw.devices.base import DeviceParams
from deephw.devices.cards import list_cards, noiseless
from deephw.devices.periphery import Periphery
from deephw.devices.tuning import digital_read, tune_devices

SIDE = 100  # 100 x 100 = 10 000 devices on one chip
REL = 0.05


def devices(params: DeviceParams, seed: int = 1) -> DeviceArray:
    """10 000 devices of one chip with the given card section."""
    model = get_device_model(params.model)(params)
    return DeviceArray(model, np.ones((1, SIDE, SIDE), bool), [seed], (2, 0))


def sigma_prog(params: DeviceParams, q: float) -> float:
    """The card's programming noise ``sum_k c_k q^k`` (µS)."""
    return float(np.polynomial.polynomial.polyval(q, params.prog_noise_poly_uS))


def flicker_sigma(params: DeviceParams, g: float, elapsed: float) -> float:
    """The card's 1/f read noise (µS) of a device at ``g`` read ``elapsed`` s after
    programming, with the card's floor on the elapsed time."""
    q = g / params.g_max_uS
    q_factor = min(params.read_noise_q_coeff / q**params.read_noise_q_exponent, 0.2)
    t = max(elapsed, params.read_noise_t_min_s)
    return g * q_factor * np.sqrt(np.log((t + params.t_read_s) / (2 * params.t_read_s)))


# -- write-verify -----------------------------------------------------------------------
@pytest.mark.parametrize("q", [0.2, 0.4, 0.8])
def test_write_verify_leaves_the_measured_programming_noise(q: float) -> None:
    # every device can reach the target: a g_max spread would clip the high ones
    card = replace_card("pcm_pair", {"device": {"g_max_dtod": 0.0}})
    assert card.periphery.out_noise == 0.06 and card.device.read_noise_t_min_s == 20.0
    xbar = Crossbar(card, np.ones((1, SIDE, SIDE), bool), [7])
    device = xbar.cell.devices["G+"]
    idx = device.indices()
    target = np.full(idx.size, q * card.device.g_max_uS)
    rngs = [np.random.default_rng([7, 1])]
    device.reset(idx, 0.0)
    result = tune_devices(
        device, idx, target, card.cell.tune_tolerance_uS, 30, 0.0, rngs, xbar.periphery
    )
    error = device.value(0.0, idx) - target
    assert error.std() == pytest.approx(sigma_prog(card.device, q), rel=0.15)
    assert abs(error.mean()) < 0.05 * sigma_prog(card.device, q)
    # the verify reads are noisy (read noise at 20 s, 1.5 uS of output noise against a
    # 0.5 uS tolerance): several reads per device, yet nearly all end within tolerance
    assert result.iterations.mean() > 2.5
    assert result.within.mean() > 0.99  # SET noise (~1.7 uS at q = 0.8) against 0.5 uS


def test_write_verify_without_noise_lands_on_the_target() -> None:
    card = noiseless("pcm_pair")
    xbar = Crossbar(card, np.ones((1, SIDE, SIDE), bool), [7])
    device = xbar.cell.devices["G+"]
    idx = device.indices()
    target = np.linspace(0.0, 20.0, idx.size)
    rngs = [np.random.default_rng(3)]
    result = tune_devices(device, idx, target, 0.5, 30, 0.0, rngs, xbar.periphery)
    assert result.within.all() and np.all(result.iterations == 1)
    np.testing.assert_array_equal(device.value(0.0, idx), target)


def test_targets_at_the_reset_level_accept_reads_below_it() -> None:
    card = load_card("pcm_pair")
    xbar = Crossbar(card, np.ones((1, SIDE, SIDE), bool), [7])
    device = xbar.cell.devices["G+"]
    idx = device.indices()
    device.reset(idx, 0.0)
    start = device.value(0.0, idx)
    rngs = [np.random.default_rng(4)]
    target = np.full(idx.size, card.device.g_min_uS)
    result = tune_devices(device, idx, target, 0.5, 30, 0.0, rngs, xbar.periphery, False)
    assert result.within.all()
    # a read below the lower bound is output noise: no SET pulse raises a device held at
    # RESET (1.5 uS of output noise: 37 % of the reads pass 0.5 uS and rewrite it)
    assert device.counts["set"].sum() <= np.sum(result.iterations - 1)  # rewrites only
    g = device.value(0.0, idx)
    assert np.mean(g == start) > 0.5
    assert g.max() < start.max() + 5 * sigma_prog(card.device, 0.0)


# -- the read path ----------------------------------------------------------------------
def test_a_read_right_after_programming_has_the_read_noise_of_t_min(rng) -> None:
    p = replace_card("pcm_pair", {"device": {"prog_noise_poly_uS": [0.0]}}).device
    arr = devices(p)
    idx = arr.indices()
    g0 = 0.4 * p.g_max_uS
    arr.write(idx, np.full(idx.size, g0), 0.0, rng)
    for elapsed in (0.0, 1e-6, 1.0):
        z = (arr.read(elapsed, rng, idx) - arr.value(elapsed, idx)) / flicker_sigma(p, g0, elapsed)
        assert z.std() == pytest.approx(1.0, rel=REL)
        assert abs(z.mean()) < 4 / np.sqrt(idx.size)
    assert flicker_sigma(p, g0, 0.0) == pytest.approx(0.668, abs=0.001)


def test_output_noise_is_the_carded_fraction_of_the_read_range(rng) -> None:
    card = load_card("pcm_ambrogio2018")
    periphery = Periphery(card.periphery, 91.0)
    value = np.full((1, 10_000), 10.0)
    gen = np.random.default_rng(1)
    error = periphery.digital_read(value, gen) - value
    lsb = 91.0 / 255
    assert periphery.lsb_uS == pytest.approx(lsb)
    expected = np.sqrt((0.06 * 91.0) ** 2 + lsb**2 / 12)
    assert error.std() == pytest.approx(expected, rel=REL)
    for role, full in (("G+", 25.0), ("g", 20.0)):
        params = card.device if role == "G+" else card.fast_device
        assert periphery.device_full_scale_uS(params) == full
        read = periphery.digital_read(value, gen, full_scale_uS=full)
        codes = read / (full / 255)
        np.testing.assert_allclose(codes, np.round(codes), atol=1e-9)
        expected = np.sqrt((0.06 * full) ** 2 + (full / 255) ** 2 / 12)
        assert (read - value).std() == pytest.approx(expected, rel=REL)


def test_single_device_reads_are_ranged_to_their_role(rng) -> None:
    quiet_devices = {
        "device": {"read_noise_q_coeff": 0.0},
        "periphery": {"out_noise": 0.0},
    }
    card = replace_card("pcm_ambrogio2018", quiet_devices)
    xbar = Crossbar(card, np.ones((1, SIDE, SIDE), bool), [2])
    assert xbar.periphery.lsb_uS == pytest.approx((3 * 25 + 16) / 255)  # a cell read
    for role, full in (("G+", 25.0), ("G-", 25.0), ("g", 20.0)):
        device = xbar.cell.devices[role]
        idx = device.indices()
        true = device.value(0.0, idx)
        read = digital_read(device, idx, 0.0, rng, xbar.periphery)
        lsb = full / 255
        np.testing.assert_allclose(read / lsb, np.round(read / lsb), atol=1e-9)
        assert np.all(np.abs(read - true) <= lsb / 2 + 1e-12)
    # a capacitor single cell contributes at most 8 uS, but its device reads 4-20 uS
    cap = Crossbar(
        replace_card("capacitor", {"periphery": {"out_noise": 0.0}}), np.ones((1, 4, 4), bool), [0]
    )
    device = cap.cell.devices["G"]
    idx = device.indices()
    device.write(idx, np.full(idx.size, 18.0), 0.0, rng)
    read = digital_read(device, idx, 0.0, rng, cap.periphery)
    assert np.all(np.abs(read - device.value(0.0, idx)) <= 20.0 / 255 / 2 + 1e-12)


def test_no_output_noise_draws_nothing() -> None:
    card = replace_card("pcm_pair", {"periphery": {"out_noise": 0.0}})
    periphery = Periphery(card.periphery, 25.0)
    gen = np.random.default_rng(9)
    state = gen.bit_generator.state
    periphery.digital_read(np.ones((2, 5)), gen)
    periphery.digital_read(np.ones(4), gen, np.array([0, 0, 1, 1]), 2, full_scale_uS=3.0)
    assert gen.bit_generator.state == state


@pytest.mark.parametrize("name", list_cards())
def test_every_non_ideal_card_has_output_noise(name: str) -> None:
    card = load_card(name)
    abstract = name in ("ideal", "quantized_64")  # no noise of any kind, by definition
    assert card.periphery.out_noise == (0.0 if abstract else 0.06)
    assert noiseless(card).periphery.out_noise == 0.0


# -- the PCM drift exponent -------------------------------------------------------------
def _measured_nu(arr: DeviceArray, idx: np.ndarray, g0: float, t: float) -> np.ndarray:
    """``nu`` of devices programmed to ``g0`` at ``t``, from their drift over 1000 t0."""
    t0 = arr.model.params.drift_t0_s
    return -np.log(arr.value(t + 1000 * t0, idx) / g0) / np.log(1000)


@pytest.mark.parametrize(
    "fields",
    [
        {},  # the card's own exponents at q = 0.02: mean 0.085, spread 0.043
        {"drift_nu_mean": [0.0, 0.01], "drift_nu_mean_clip": [0.0, 1.0]},  # folded a lot
    ],
)
def test_drift_exponent_is_folded_and_drawn_afresh_at_each_programming(rng, fields) -> None:
    p = replace_card("pcm_pair", {"device": {"prog_noise_poly_uS": [0.0], **fields}}).device
    arr = devices(p)
    idx = arr.indices()
    q = 0.02
    g0 = q * p.g_max_uS
    mean = np.clip(p.drift_nu_mean[0] * np.log(q) + p.drift_nu_mean[1], *p.drift_nu_mean_clip)
    std = np.clip(p.drift_nu_std[0] * np.log(q) + p.drift_nu_std[1], *p.drift_nu_std_clip)
    folded = stats.foldnorm(mean / std, scale=std)
    measured = []
    for t in (0.0, 10.0):  # programmed twice
        arr.write(idx, np.full(idx.size, g0), t, rng)
        measured.append(_measured_nu(arr, idx, g0, t))
    for nu in measured:
        assert np.all(nu >= 0)
        assert nu.mean() == pytest.approx(folded.mean(), rel=0.02)
        assert nu.std() == pytest.approx(folded.std(), rel=REL)
        assert stats.kstest(nu, folded.cdf).pvalue > 1e-3
    assert abs(np.corrcoef(*measured)[0, 1]) < 4 / np.sqrt(idx.size)
    before = measured[-1]
    arr.pulse(idx, np.ones(idx.size, np.int64), np.ones(idx.size, bool), 10.0, rng)
    g = arr.g.reshape(-1)[idx]
    moved = g > 0  # a SET pulse's noise can take a device down to g_min, where nothing drifts
    assert moved.mean() > 0.5
    after = -np.log(arr.value(10.0 + 1000 * p.drift_t0_s, idx)[moved] / g[moved]) / np.log(1000)
    assert abs(np.corrcoef(before[moved], after)[0, 1]) < 4 / np.sqrt(moved.sum())


def test_a_drift_exponent_without_spread_draws_nothing() -> None:
    model = get_device_model("pcm")
    assert model(load_card("pcm_pair").device).program_draws() == ("nu_z",)
    assert model(noiseless("pcm_pair").device).program_draws() == ()
    fixed = replace_card("pcm_pair", {"device": {"drift_nu_std": [0.0, 0.0]}}).device
    assert model(fixed).program_draws() == ("nu_z",)  # clipped to 0.008-0.045: random
    fixed = replace_card(
        "pcm_pair", {"device": {"drift_nu_std": [0.0, 0.0], "drift_nu_std_clip": [0.0, 0.1]}}
    ).device
    assert model(fixed).program_draws() == ()
