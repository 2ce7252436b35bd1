"""The controller's time and energy: array-parallel in-situ programming, priced array
reads during the phases and ADC conversions."""

from __future__ import annotations

import numpy as np
import pytest

import deephw
from deephw.config import from_dict
from deephw.devices import load_card

EPOCHS, FREE, NUDGED, TAU_NS, DT = 6, 30, 8, 100.0, 0.5


def config(card, scheme, overrides=None, **extra):
    hardware = {"card": card, "scheme": scheme, "card_overrides": overrides or {}}
    return from_dict(
        {
            "task": {"name": "XOR"},
            "training": {"epochs": EPOCHS, "seeds": 2},
            "dynamics": {"free_steps": FREE, "nudged_steps": NUDGED, "dt": DT},
            "engine": {"tau_ns": TAU_NS},
            "hardware": hardware,
            **extra,
        }
    )


@pytest.mark.parametrize(
    "scheme",
    [
        {"name": "in_situ", "bit_length": 7},
        {"name": "in_situ", "bit_length": 7, "in_engine": True},
        {"name": "hybrid", "inner": "in_situ", "bit_length": 7},
    ],
)
def test_in_situ_programming_time_is_array_parallel(scheme: dict) -> None:
    """Every slot pulses the whole array at once, up and down in two passes: an update
    lasts ``2 bit_length Mb B`` slots whatever the pulses (4 samples of XOR)."""
    card = "pcm_ambrogio2018" if scheme["name"] == "hybrid" else "pcm_pair"
    result = deephw.train(config(card, scheme))
    pulse_s = type(result.controller.crossbar.cell).update_model(load_card(card)).params
    slot_s = pulse_s.costs.set_ns * 1e-9
    expected = np.arange(1, EPOCHS + 1) * 2 * 7 * NUDGED * 4 * slot_s
    np.testing.assert_allclose(result.events["programming_s"], np.c_[expected, expected])


def test_digital_programming_time_stays_row_by_row() -> None:
    result = deephw.train(config("pcm_pair", "digital"))
    programming = result.events["programming_s"][-1]
    sets = result.events["G+.set"][-1] + result.events["G-.set"][-1]
    assert (programming > 0).all() and (programming <= sets * 100e-9 + 1e-15).all()
    assert not np.allclose(programming, programming[0])  # depends on each chip's pulses


def test_array_reads_and_adc_conversions_are_priced_as_the_card_states() -> None:
    """With lr 1e-12 nothing is programmed, so the array's conductances stay as written
    (PCM drift starts after 20 s): each phase step of each sample costs ``V^2 G t``,
    and each batch converts every cell (leak), the latched s0 and the nudged trajectory."""
    costs = {"costs": {"read_voltage_mV": 200.0, "adc_conversion_pJ": 3.0}}
    quiet = {"name": "digital", "rounding": "deterministic"}
    result = deephw.train(config("pcm_pair", quiet, costs, learning={"lr": 1e-12}))
    events, chip = result.events, result.controller
    assert events["G+.set"][-1].sum() == events["G+.set"][0].sum()  # written once, no update
    conductance = chip._conductance_sum_uS()
    step_s = DT * TAU_NS * 1e-9
    per_epoch = 0.2**2 * conductance * 1e-6 * (FREE + NUDGED) * step_s * 4 * 1e12
    np.testing.assert_allclose(events["energy.array_read_pJ"][-1], EPOCHS * per_epoch)
    n, cells = result.topology.n, result.mask.sum(axis=(1, 2))
    conversions = cells + 4 * n + (NUDGED + 1) * 4 * n
    np.testing.assert_allclose(events["energy.adc_pJ"][-1], EPOCHS * 3 * conversions)
    parts = ("energy.devices_pJ", "energy.array_read_pJ", "energy.adc_pJ")
    np.testing.assert_allclose(events["energy_pJ"], sum(events[k] for k in parts))


def test_ideal_card_prices_nothing_beyond_its_events() -> None:
    result = deephw.train(config("ideal", "digital"))
    assert not result.events["energy_pJ"].any()
    assert not result.events["energy.array_read_pJ"].any()
    assert not result.events["energy.adc_pJ"].any()


def test_the_ambrogio_card_prices_array_reads_and_conversions() -> None:
    result = deephw.train(config("pcm_ambrogio2018", "hybrid"))
    final = {k: v[-1] for k, v in result.events.items() if k.startswith("energy")}
    assert (final["energy.array_read_pJ"] > 0).all() and (final["energy.adc_pJ"] > 0).all()
    np.testing.assert_allclose(
        final["energy_pJ"],
        final["energy.devices_pJ"] + final["energy.array_read_pJ"] + final["energy.adc_pJ"],
    )
