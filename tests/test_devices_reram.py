"""ReRAM soft-bounds semantics of IBM aihwkit, over 10 000 devices: cycle-to-cycle noise
scaled by the step at the symmetry point, write noise drawn afresh on the apparent
weight at every update, and the two measured array fits of Gong & Rasch et al., IEDM
2022 (reference device at each device's symmetry point, log-normal step spread,
corrupt devices)."""

from __future__ import annotations

import numpy as np
import pytest

from deephw.devices import DeviceArray, get_device_model, load_card, replace_card
from deephw.devices.base import DeviceParams

SIDE = 100
REL = 0.05
G_REF = 20.0  # µS per weight unit in the Gong cards
# aihwkit presets: dw_min, dw_min_dtod, w_max_dtod, w_min_dtod, dw_min_std,
# write_noise_std, corrupt fraction measured
GONG = {
    "reram_gong2022_om": (0.0949, 0.7829, 0.3499, 0.5695, 0.4158, 1.4113, 0.1348),
    "reram_gong2022_hfo2": (0.4622, 0.7125, 0.4295, 0.5990, 0.2174, 0.5841, 0.0977),
}


def devices(params: DeviceParams, seed: int = 1) -> DeviceArray:
    model = get_device_model(params.model)(params)
    return DeviceArray(model, np.ones((1, SIDE, SIDE), bool), [seed], (2, 0))


def pulse_all(array: DeviceArray, up: bool, rng: np.random.Generator, n: int = 1) -> None:
    idx = array.indices()
    array.pulse(idx, np.full(idx.size, n, np.int64), np.full(idx.size, up), 0.0, rng)


def quiet(card: str, **fields: object) -> DeviceParams:
    zero = {"step_dtod": 0.0, "up_down_dtod": 0.0, "g_min_dtod": 0.0, "g_max_dtod": 0.0}
    return replace_card(card, {"device": {**zero, **fields}}).device


@pytest.mark.parametrize("up", [True, False])
def test_c2c_noise_is_scaled_by_the_step_at_the_symmetry_point(rng, up: bool) -> None:
    """reram_softbounds: 3.75 dw_min with dw_min = 0.04 µS at the symmetry point, in
    both directions and wherever the device is (not the far-bound steps)."""
    p = quiet("reram_softbounds", update_write_noise_uS=0.0)
    for start in (10.0, 20.0, 35.0):
        array = devices(p)
        array.g[...] = start
        pulse_all(array, up, rng)
        change = array.g.reshape(-1) - start
        assert change.std() == pytest.approx(3.75 * 0.04, rel=REL)
        x = (start - p.g_min_uS) / p.range_uS
        mean = p.step_uS * (0.75 * (1 - x) if up else -1.25 * x)
        assert abs(change.mean() - mean) < 4 * 0.15 / SIDE


def test_update_write_noise_is_fresh_on_the_apparent_weight_at_every_update(rng) -> None:
    p = quiet("reram_softbounds", step_c2c=0.0)
    array, reference = devices(p), devices(quiet("reram_softbounds", step_c2c=0.0))
    reference.write_offset = None  # the same devices without write noise
    idx = array.indices()
    for a in (array, reference):
        a.g[...] = 20.0
    offsets = []
    for _ in range(3):
        pulse_all(array, True, rng, n=5)
        pulse_all(reference, True, rng, n=5)
        # the hidden weight accumulates the pulses without the write noise
        np.testing.assert_array_equal(array.g, reference.g)
        apparent = array.value(0.0, idx)
        np.testing.assert_array_equal(apparent, array.value(5.0, idx))  # kept until updated
        offsets.append(apparent - array.g.reshape(-1))
    for offset in offsets:
        assert offset.std() == pytest.approx(2.24, rel=REL)
        assert abs(offset.mean()) < 4 * 2.24 / SIDE
    assert abs(np.corrcoef(offsets[0], offsets[1])[0, 1]) < 4 / SIDE  # drawn afresh
    reads = array.read(0.0, rng, idx)
    np.testing.assert_array_equal(reads, array.value(0.0, idx))  # reads see it


def test_write_sets_the_hidden_weight_and_draws_write_noise_and_reset_clears_it(rng) -> None:
    array = devices(quiet("reram_softbounds"))
    idx = array.indices()
    array.write(idx, np.full(idx.size, 30.0), 0.0, rng)
    np.testing.assert_array_equal(array.g, 30.0)
    error = array.value(0.0, idx) - 30.0
    assert error.std() == pytest.approx(2.24, rel=REL)
    state = array.state_dict("G.")
    copy = devices(quiet("reram_softbounds"), seed=2)
    copy.load_state_dict(state, "G.")
    np.testing.assert_array_equal(copy.value(0.0, idx), array.value(0.0, idx))
    array.reset(idx, 1.0)
    np.testing.assert_array_equal(array.value(1.0, idx), array.g.reshape(-1))


def test_cards_without_update_write_noise_keep_no_hidden_state(rng) -> None:
    for card in ("pcm_pair", "capacitor", "quantized_64", "ideal"):
        array = devices(load_card(card).device)
        assert array.write_offset is None
        assert not any("offset" in key for key in array.state_dict(""))


@pytest.mark.parametrize("card", list(GONG))
def test_gong_cards_are_the_aihwkit_presets_in_microsiemens(card: str) -> None:
    dw_min, dtod, w_max_dtod, w_min_dtod, std, write, corrupt = GONG[card]
    c = load_card(card)
    p = c.device
    model = get_device_model(p.model)(p)
    assert model.nominal_step_uS() == pytest.approx(dw_min * G_REF)
    assert model.symmetry_uS() == c.cell.g_offset_uS == 25.0
    assert c.cell.g_ref_uS == G_REF
    assert (p.step_dtod, p.step_dtod_log_normal, p.step_c2c, p.c2c_additive) == (
        dtod,
        True,
        std,
        True,
    )
    assert p.g_max_dtod * p.range_uS == pytest.approx(w_max_dtod * G_REF)
    assert p.g_min_dtod * p.range_uS == pytest.approx(w_min_dtod * G_REF)
    assert p.update_write_noise_uS == pytest.approx(write * dw_min * G_REF, rel=1e-5)
    assert p.subtract_symmetry_point and p.reference_dtod_uS == 0.05 * G_REF
    assert p.stuck_corrupt_fraction == corrupt
    assert p.stuck_corrupt_range_uS == pytest.approx(0.01 * G_REF)


@pytest.mark.parametrize("card", list(GONG))
def test_gong_device_statistics(rng, card: str) -> None:
    dw_min, dtod, w_max_dtod, w_min_dtod, std, _, corrupt = GONG[card]
    p = load_card(card).device
    array = devices(p)
    stuck = array.stuck.reshape(-1)
    assert stuck.mean() == pytest.approx(corrupt, abs=4 * np.sqrt(corrupt / SIDE**2))
    d2d = {key: value.reshape(-1)[~stuck] for key, value in array.d2d.items()}
    # log-normal step spread around dw_min at the symmetry point (step_up: far bound)
    log_step = np.log(d2d["step_up"] / p.step_uS)
    assert log_step.std() == pytest.approx(dtod, rel=REL)
    assert abs(log_step.mean()) < 4 * dtod / SIDE
    # bounds spreads (the reference shift moves both bounds alike)
    width = d2d["g_max"] - d2d["g_min"]
    assert width.std() == pytest.approx(G_REF * np.hypot(w_max_dtod, w_min_dtod), rel=REL)
    # c2c noise: dw_min_std times the device's own step at the symmetry point
    fields = {"update_write_noise_uS": 0.0, "g_min_dtod": 0.0, "g_max_dtod": 0.0}
    noisy = devices(replace_card(card, {"device": fields}).device)
    live = ~noisy.stuck.reshape(-1)
    noisy.g.reshape(-1)[live] = 25.0
    pulse_all(noisy, True, rng)
    params = {key: value.reshape(-1)[live] for key, value in noisy.d2d.items()}
    sigma = std * params["noise_up"]
    # the step at g* of the device before its reference shift (aihwkit's physical zero)
    np.testing.assert_allclose(params["noise_up"], params["step_up"] / 2, rtol=1e-12)
    mean = params["step_up"] * (params["g_max"] - 25.0) / 40.0
    change = noisy.g.reshape(-1)[live] - 25.0
    room = (params["g_max"] - 25.0, params["g_min"] - 25.0)
    unclipped = (mean + 5 * sigma < room[0]) & (mean - 5 * sigma > room[1])
    assert unclipped.sum() > 4000  # HfO2's steps are large: many would hit a bound
    z = (change - mean)[unclipped] / sigma[unclipped]
    assert z.std() == pytest.approx(1.0, rel=REL)
    assert abs(z.mean()) < 4 / np.sqrt(z.size)


@pytest.mark.parametrize("card", list(GONG))
def test_each_device_is_read_against_its_own_symmetry_point(card: str) -> None:
    """With bounds that all hold g* (no bounds spread): every device's own symmetry
    point (it varies with the up/down spread) reads at g* = 25 µS up to the 1 µS
    reference error; without the subtraction it would spread with the up/down spread."""
    for subtract in (True, False):
        p = replace_card(
            card,
            {
                "device": {
                    "g_min_dtod": 0.0,
                    "g_max_dtod": 0.0,
                    "up_down_dtod": 0.1,
                    "subtract_symmetry_point": subtract,
                }
            },
        ).device
        array = devices(p)
        d2d = {key: value.reshape(-1)[~array.stuck.reshape(-1)] for key, value in array.d2d.items()}
        own = d2d["g_min"] + (d2d["g_max"] - d2d["g_min"]) * d2d["step_up"] / (
            d2d["step_up"] + d2d["step_down"]
        )
        error = own - 25.0
        # up/down spread 0.1 moves the symmetry point by 0.05 of the 40 µS range: 2 µS
        expected = 0.05 * G_REF if subtract else np.hypot(0.05 * G_REF, 0.05 * 40)
        assert error.std() == pytest.approx(expected, rel=REL)
        assert abs(error.mean()) < 4 * expected / np.sqrt(error.size)


@pytest.mark.parametrize("card", list(GONG))
def test_corrupt_devices_sit_near_the_symmetry_point_and_never_move(rng, card: str) -> None:
    p = replace_card(card, {"device": {"g_min_dtod": 0.0, "g_max_dtod": 0.0}}).device
    array = devices(p)
    corrupt = array.stuck.reshape(-1)
    g = array.g.reshape(-1)[corrupt]
    np.testing.assert_array_equal(g, array.d2d["g_min"].reshape(-1)[corrupt])
    np.testing.assert_array_equal(g, array.d2d["g_max"].reshape(-1)[corrupt])
    # uniform within +-0.2 µS of g*, read against a reference with a 1 µS error
    assert g.mean() == pytest.approx(25.0, abs=4 * 1.0 / np.sqrt(g.size))
    assert g.std() == pytest.approx(np.hypot(1.0, 0.4 / np.sqrt(12)), rel=2 * REL)
    for up in (True, False):
        pulse_all(array, up, rng, n=3)
    idx = array.indices()
    array.write(idx, np.full(idx.size, 40.0), 0.0, rng)
    np.testing.assert_array_equal(array.g.reshape(-1)[corrupt], g)
    np.testing.assert_array_equal(array.value(0.0, idx)[corrupt], g)  # no write noise either
