"""Device cards: shipped cards load and validate; bad cards fail naming file, field, value."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from deephw.devices import (
    Card,
    card_from_dict,
    card_hash,
    card_to_yaml,
    check_card,
    get_device_model,
    list_cards,
    load_card,
    replace_card,
    show_card,
)
from deephw.devices.cards import card_dirs
from deephw.errors import ConfigError
from deephw.validation import as_dict

REQUIRED = {"ideal", "pcm_ambrogio2018", "pcm_pair", "reram_softbounds", "capacitor"}
UNIT_SUFFIXES = ("_uS", "_s", "_pJ", "_ns")
# Dimensionless card fields: spreads, fractions, counts, shapes, coefficient lists.
DIMENSIONLESS = (
    "_dtod",
    "_c2c",
    "_fraction",
    "levels",
    "up_down",
    "gamma",
    "nonlinearity",
    "endurance_pulses",
    "endurance_stuck",
    "c2c_additive",
    "model",
    "drift_nu",
    "read_noise_q",
    "step_scale",
)


@pytest.fixture(params=list_cards())
def card_name(request: pytest.FixtureRequest) -> str:
    """The name of each shipped card."""
    return request.param


def test_required_cards_are_shipped() -> None:
    names = set(list_cards())
    assert REQUIRED <= names
    quantized = [n for n in names if n.startswith("quantized_")]
    assert quantized, "a quantized constant-step card is shipped"
    card = load_card(quantized[0])
    assert card.device.model == "constant_step"
    assert card.device.levels == int(quantized[0].split("_")[1])


def test_shipped_card_is_valid_cited_and_round_trips(card_name: str) -> None:
    card = load_card(card_name)
    assert isinstance(card, Card)
    assert card.name == card_name
    assert len(card.source.split()) >= 8, "source cites where the numbers come from"
    again = card_from_dict(yaml.safe_load(card_to_yaml(card)))
    assert again == card
    assert card_hash(again) == card_hash(card)
    text = show_card(card_name)
    assert card_hash(card) in text and "weight per pulse" in text


def test_card_fields_carry_units_or_are_dimensionless(card_name: str) -> None:
    card = load_card(card_name)
    sections = [card.device, card.fast_device, card.periphery]
    sections += [d.costs for d in (card.device, card.fast_device) if d is not None]
    for section in filter(None, sections):
        for fld in dataclasses.fields(section):
            name = fld.name
            if name == "costs":  # a sub-section, checked on its own
                continue
            if name.endswith(UNIT_SUFFIXES) or any(tag in name for tag in DIMENSIONLESS):
                continue
            assert name.endswith("_bits") or name == "out_noise", f"{name} lacks a unit"


def test_load_by_path_equals_load_by_name(tmp_path: Path) -> None:
    folder = Path(str(card_dirs()[0]))
    by_path = load_card(folder / "pcm_pair.yaml")
    assert by_path == load_card("pcm_pair")
    copy = tmp_path / "mine.yaml"
    copy.write_text((folder / "pcm_pair.yaml").read_text().replace("name: pcm_pair\n", ""))
    assert load_card(str(copy)).name == "mine"


def test_unknown_card_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError) as info:
        load_card("no_such_device")
    assert info.value.value == "no_such_device"
    assert "pcm_pair" in str(info.value)


BAD_DEVICE_FIELDS = [
    ({"colour": "red"}, "device.colour", "red", "unknown key"),
    ({"g_max_uS": "big"}, "device.g_max_uS", "big", "must be a number"),
    ({"set_c2c": -0.1}, "device.set_c2c", -0.1, ">= 0"),
    ({"stuck_min_fraction": 1.5}, "device.stuck_min_fraction", 1.5, "<= 1"),
    ({"g_max_uS": -1.0}, "device.g_max_uS", -1.0, "must be > g_min_uS"),
    ({"drift_nu_mean": [0.1]}, "device.drift_nu_mean", [0.1], "two numbers"),
    ({"endurance_stuck": "sideways"}, "device.endurance_stuck", "sideways", "must be one of"),
    ({"model": "unobtainium"}, "device.model", "unobtainium", "unknown device model"),
]


@pytest.mark.parametrize(("change", "field", "value", "reason"), BAD_DEVICE_FIELDS)
def test_bad_device_field_names_file_field_value(
    tmp_path: Path, change: dict, field: str, value: object, reason: str
) -> None:
    data = as_dict(load_card("pcm_pair"))
    data["device"].update(change)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        check_card(path)
    err = info.value
    assert err.source == str(path)
    assert err.field == field
    assert err.value == value
    assert reason in str(err)
    assert str(path) in str(err) and field in str(err)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"source": None}, "source"),
        ({"cell": {"kind": "triple"}}, "cell.kind"),
        ({"cell": {"kind": "pair", "g_ref_uS": 0}}, "cell.g_ref_uS"),
        ({"cell": {"kind": "ambrogio"}}, "fast_device"),
        ({"cell": {"kind": "single"}}, "device.model"),
        ({"periphery": {"adc_bits": 1}}, "periphery.adc_bits"),
        ({"device": [1, 2]}, "device"),
    ],
)
def test_bad_card_sections(tmp_path: Path, change: dict, field: str) -> None:
    data = as_dict(load_card("pcm_pair"))
    for key, value in change.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        check_card(path)
    assert info.value.field == field
    assert str(path) in str(info.value)


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("device: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        check_card(broken)
    with pytest.raises(ConfigError, match="does not exist"):
        check_card(tmp_path / "absent.yaml")


def test_replace_card_merges_and_revalidates() -> None:
    card = replace_card("pcm_pair", {"device": {"read_noise_uS": 0.3}}, name="noisy")
    assert card.device.read_noise_uS == 0.3
    assert card.device.set_c2c == load_card("pcm_pair").device.set_c2c
    assert card.name == "noisy"
    with pytest.raises(ConfigError) as info:
        replace_card("pcm_pair", {"device": {"read_noise_uS": -1.0}})
    assert info.value.field == "device.read_noise_uS"


def test_every_model_documents_its_update_equation() -> None:
    for name in ("ideal", "constant_step", "soft_bounds", "exp_step", "pcm", "capacitor"):
        doc = get_device_model(name).__doc__
        assert "<-" in doc or "g(t)" in doc, name
