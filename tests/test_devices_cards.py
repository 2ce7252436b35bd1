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
            if isinstance(getattr(section, name), bool):  # a switch
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


LOOKUP = {
    "model": "lookup",
    "g_min_uS": 1.0,
    "g_max_uS": 11.0,
    "grid_uS": [1.0, 11.0],
    "up_mean_uS": [0.1, 0.05],
    "down_mean_uS": [-0.05, -0.1],
    "up_c2c_uS": [0.01, 0.01],
    "down_c2c_uS": [0.01, 0.01],
}

NONSENSE_CARDS = [
    # (card, device fields, field named, reason)
    ("quantized_64", {"g_min_uS": -5.0}, "device.g_min_uS", "cannot be negative"),
    ("pcm_pair", {"g_min_uS": -30.0, "g_max_uS": -1.0}, "device.g_min_uS", "cannot be negative"),
    ("quantized_64", {"g_max_uS": 0.0}, "device.g_max_uS", "must be > g_min_uS"),
    ("quantized_64", {"read_noise_uS": 30.0}, "device.read_noise_uS", "larger than the conduct"),
    ("quantized_64", {"write_noise_uS": 30.0}, "device.write_noise_uS", "larger than the conduct"),
    ("quantized_64", {"step_c2c": 100.0}, "device.step_c2c", "= 100.0: gives noise of"),
    ("quantized_64", {"g_min_dtod": 1.5}, "device.g_min_dtod", "spread larger than the"),
    ("quantized_64", {"g_max_dtod": 2.0}, "device.g_max_dtod", "spread larger than the"),
    ("quantized_64", {"step_dtod": 3.0}, "device.step_dtod", "relative spread over 100 %"),
    ("quantized_64", {"up_down_dtod": 3.0}, "device.up_down_dtod", "relative spread over 100"),
    ("quantized_64", {"levels": None, "step_uS": 30.0}, "device.step_uS", "larger than the"),
    ("quantized_64", {"levels": 10**16}, "device.levels", "at most 1e+15"),
    ("quantized_64", {"levels": None, "step_uS": 1e-300}, "device.step_uS", "at most 1e+15"),
    ("pcm_pair", {"set_c2c": 1000.0}, "device.set_c2c", "= 1000.0: gives noise of"),
    ("pcm_pair", {"read_noise_q_max": 1000.0}, "device.read_noise_q_max", "must be <= 1"),
    ("pcm_pair", {"set_step_uS": 500.0}, "device.set_step_uS", "larger than the conductance"),
    ("pcm_pair", {"set_step_dtod": 2.0}, "device.set_step_dtod", "relative spread over 100 %"),
    ("pcm_pair", {"prog_noise_poly_uS": [1, 50]}, "device.prog_noise_poly_uS", "noise of 51 uS"),
    ("capacitor", {"g_reset_dtod_uS": 100.0}, "device.g_reset_dtod_uS", "noise larger than"),
    ("capacitor", {"tau_dtod": 5.0}, "device.tau_dtod", "relative spread over 100 %"),
    ("lookup", {"up_c2c_uS": [0.01, 20.0]}, "device.up_c2c_uS", "gives noise of 20 uS"),
    ("lookup", {"up_mean_uS": [0.0, 0.0]}, "device.up_mean_uS", "hold inf steps"),
    ("lookup", {"step_dtod": 1.5}, "device.step_dtod", "relative spread over 100 %"),
    ("lookup", {"write_noise_uS": 11.0}, "device.write_noise_uS", "noise larger than the"),
    ("ideal", {"g_min_uS": -1.0, "g_max_uS": 1.0, "step_uS": 5.0}, "device.step_uS", "larger"),
]


@pytest.mark.parametrize(("card", "change", "field", "reason"), NONSENSE_CARDS)
def test_nonsense_device_fields_are_refused_naming_the_field(
    tmp_path: Path, card: str, change: dict, field: str, reason: str
) -> None:
    data = as_dict(load_card("quantized_64" if card == "lookup" else card))
    if card == "lookup":
        data["device"] = dict(LOOKUP)
    data["device"].update(change)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        check_card(path)
    assert info.value.field == field
    assert reason in str(info.value)
    assert str(path) in str(info.value)


def test_sane_edge_cards_still_load(tmp_path: Path) -> None:
    """Negative bounds are fine for the ideal device (a weight, not a conductance), and a
    trillion-level card loads (its pulses cost the same as any other card's)."""
    data = as_dict(load_card("quantized_64"))
    data["device"] = dict(LOOKUP)
    load_card(replace_card("ideal", {"device": {"g_min_uS": -1.0, "g_max_uS": 1.0}}))
    assert replace_card("quantized_64", {"device": {"levels": 10**12}}).device.levels == 10**12
    path = tmp_path / "lookup.yaml"
    path.write_text(yaml.safe_dump(data))
    assert check_card(path).device.model == "lookup"


@pytest.mark.parametrize("source", ["", "   "])
def test_empty_source_is_refused(tmp_path: Path, source: str) -> None:
    data = as_dict(load_card("pcm_pair"))
    data["source"] = source
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        check_card(path)
    assert info.value.field == "source" and "must not be empty" in str(info.value)


def test_output_noise_over_the_full_scale_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        replace_card("pcm_pair", {"periphery": {"out_noise": 2.0}})
    assert info.value.field == "periphery.out_noise"


def test_a_card_name_too_long_for_a_file_name_is_one_line(capsys) -> None:
    from deephw.cli import main

    assert main(["devices", "show", "x" * 300]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no such card" in err and "(302 characters)" in err
