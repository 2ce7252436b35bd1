"""Card field metadata: every field described, non-idealities listed and switched off."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from deephw.cli import main
from deephw.devices import card_from_dict, list_cards, load_card, nonideality
from deephw.devices.nonideality import GROUPS, field_problems, only, section_types, without
from deephw.validation import NO_IDEAL, check


def test_every_card_field_has_a_doc_a_unit_and_noise_fields_a_group() -> None:
    """Adding a card field without its metadata fails here: give it
    ``metadata=check(doc=..., unit=..., group=..., ideal=...)``."""
    types = section_types()
    names = {cls.__name__ for cls in types}
    # the walk reaches every section and every registered model's parameters
    assert {"Card", "CellSpec", "PeripherySpec", "ChipCosts", "CostSpec", "PcmParams"} <= names
    assert {"CapacitorParams", "LookupParams", "IdealParams"} <= names
    problems = [problem for cls in types for problem in field_problems(cls)]
    assert problems == []


def test_the_metadata_check_catches_what_is_missing() -> None:
    @dataclasses.dataclass(frozen=True)
    class Section:
        documented: float = dataclasses.field(default=0.0, metadata=check(doc="x", unit="uS"))
        bare: float = 0.0
        read_noise_uS: float = dataclasses.field(default=0.0, metadata=check(doc="y", unit="uS"))
        odd: float = dataclasses.field(
            default=0.0, metadata=check(doc="z", unit="", group="gremlins", ideal=0.0)
        )

    assert field_problems(Section) == [
        "Section.bare: no doc",
        "Section.bare: no unit (give unit='' when it has none)",
        "Section.read_noise_uS: noise-like but in no non-ideality group",
        "Section.odd: unknown group 'gremlins'",
    ]


def test_ambrogio_card_lists_its_nonidealities_with_values_units_and_fields() -> None:
    card = load_card("pcm_ambrogio2018")
    assert nonideality.groups(card) == [
        "read noise",
        "output noise",
        "programming noise",
        "d2d",
        "c2c",
        "nonlinearity",
        "drift",
        "capacitor leak",
        "DAC/ADC bits",
    ]
    rows = {row.field: row for row in nonideality.nonidealities(card)}
    leak = rows["fast_device.tau_s"]
    assert (leak.group, leak.value, leak.unit, leak.ideal) == ("capacitor leak", 1.0, "s", None)
    assert rows["device.prog_noise_poly_uS"].value == (0.26348, 1.9650, -1.1731)
    assert rows["device.g_max_uS"].ideal is NO_IDEAL and rows["device.g_max_uS"].active
    assert rows["periphery.out_noise"].active  # aihwkit's 0.06
    active = nonideality.nonidealities(card, active_only=True)
    assert "periphery.out_noise" in {row.field for row in active}
    assert all(row.active for row in active) and len(active) < len(rows)


def test_ideal_card_has_no_nonideality_to_switch_off() -> None:
    assert nonideality.groups("ideal") == []


def test_without_switches_one_group_off_and_keeps_the_others() -> None:
    card = load_card("pcm_ambrogio2018")
    no_leak = without(card, "capacitor leak")
    assert no_leak.fast_device.tau_s is None
    assert no_leak.fast_device.g_rest_uS == card.fast_device.g_rest_uS  # no ideal value
    assert no_leak.device == card.device and no_leak.periphery == card.periphery
    assert nonideality.groups(no_leak) == [
        g for g in nonideality.groups(card) if g != "capacitor leak"
    ]
    no_drift = without(card, "drift")
    assert no_drift.device.drift_nu_mean == (0.0, 0.0)
    assert no_drift.device.drift_nu_mean_clip == (0.0, 0.0)  # or the clip keeps nu at 0.049


def test_only_keeps_one_group_on_ideal_devices() -> None:
    card = load_card("pcm_ambrogio2018")
    drift = only(card, "drift")
    assert nonideality.groups(drift) == ["drift"]
    assert drift.device.drift_nu_mean == card.device.drift_nu_mean
    assert drift.device.set_c2c == 0.0 and drift.fast_device.tau_s is None
    assert drift.periphery.adc_bits is None
    assert drift.device.g_max_uS == card.device.g_max_uS  # bounds stay: no value removes them


@pytest.mark.parametrize("name", list_cards())
def test_every_group_can_be_switched_off_or_kept_alone_on_every_card(name: str) -> None:
    card = load_card(name)
    for group in GROUPS:
        assert group not in nonideality.groups(without(card, group))
        assert set(nonideality.groups(only(card, group))) <= {group}


def test_lookup_tables_switch_off_their_c2c_at_their_own_length() -> None:
    data = {
        "name": "lookup_demo",
        "source": "a made-up lookup table for a test of the c2c switch",
        "cell": {"kind": "single", "g_ref_uS": 1.0, "g_offset_uS": 1.0},
        "device": {
            "model": "lookup",
            "g_min_uS": 0.0,
            "g_max_uS": 2.0,
            "grid_uS": [0.0, 1.0, 2.0],
            "up_mean_uS": [0.1, 0.1, 0.1],
            "down_mean_uS": [-0.1, -0.1, -0.1],
            "up_c2c_uS": [0.01, 0.02, 0.03],
            "down_c2c_uS": [0.01, 0.02, 0.03],
        },
    }
    card = card_from_dict(data, "test")
    quiet = without(card, "c2c")
    assert quiet.device.up_c2c_uS == (0.0, 0.0, 0.0)
    assert quiet.device.down_c2c_uS == (0.0, 0.0, 0.0)


def test_unknown_group_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown non-ideality groups"):
        without("pcm_pair", "gremlins")


def test_devices_show_prints_each_nonideality(capsys) -> None:
    assert main(["devices", "show", "pcm_ambrogio2018"]) in (0, None)
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "fast_device.tau_s" in line]
    assert len(lines) == 1
    assert lines[0].split()[1:] == ["capacitor", "leak", "fast_device.tau_s", "1", "s", "null"]
    assert "device.prog_noise_poly_uS" in out and "uS, polynomial in q" in out
    # still a card: the comments aside, the YAML loads back to the same card
    assert card_from_dict(yaml.safe_load(out)) == load_card("pcm_ambrogio2018")
