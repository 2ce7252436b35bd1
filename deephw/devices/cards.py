"""Device cards: YAML files describing a unit cell, its devices and the periphery.

A card is validated into frozen dataclasses by :func:`deephw.validation.build`: unknown
keys, wrong types and out-of-range values raise :class:`~deephw.errors.ConfigError`
naming the file, the field and the value. A card has the sections::

    name:         the card's name (defaults to the file name without .yaml)
    source:       citation of the numbers in the card (required)
    description:  free text
    cell:         the unit cell (kind, G_ref, gain F, refresh, tuning, transfer)
    device:       the main device (model: ... and the model's fields, with its
                  costs: energy (pJ) and duration (ns) of a SET, a RESET and a read)
    fast_device:  the fast device of an ``ambrogio`` cell (the 3T1C capacitor)
    periphery:    DAC / ADC bits and output noise of digital reads
    array:        wire resistance per cell segment and tile geometry (IR drop)
    costs:        energy of the array reads during the phases and of ADC conversions
                  (:class:`~deephw.devices.energy.ChipCosts`)

Shipped cards live in the package ``deephw.cards`` (the ``devices/`` folder of a
source checkout); :func:`load_card` takes a shipped card's name or a path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from deephw.devices.base import DeviceParams, get_device_model
from deephw.devices.energy import ChipCosts
from deephw.devices.periphery import PeripherySpec
from deephw.errors import ConfigError
from deephw.irdrop import ArraySpec
from deephw.validation import as_dict, build, check, file_problem, read_yaml

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

CELL_KINDS = ("single", "pair", "ambrogio")


@dataclass(frozen=True)
class CellSpec:
    """The unit cell that turns conductances into a signed weight.

    - ``single``: ``W = (G - g_offset_uS) / g_ref_uS`` (a reference conductance
      subtracted, e.g. a reference column); the device must be bidirectional.
    - ``pair``: ``W = (G+ - G-) / g_ref_uS``; updates SET one side (positive: G+,
      negative: G-); a side reaching ``g_min + refresh_fraction (g_max - g_min)`` is
      refreshed (both reset, the difference reprogrammed by closed-loop tuning).
    - ``ambrogio``: ``W = [gain (G+ - G-) + p (g - g_shared)] / g_ref_uS`` with the fast
      device ``g``, a shared reference ``g_shared`` per column and polarity ``p = +-1``;
      updates go to ``g``; a transfer moves ``g``'s contribution into the pair.

    Closed-loop tuning stops when the pair difference read back is within
    ``tune_tolerance_uS`` of its target, or after ``tune_max_iterations`` pulses.
    """

    kind: str = field(
        metadata=check(choices=CELL_KINDS, unit="", doc="how the devices make a weight")
    )
    g_ref_uS: float = field(
        default=1.0, metadata=check(gt=0, unit="uS", doc="conductance of a unit weight")
    )
    g_offset_uS: float = field(
        default=0.0, metadata=check(unit="uS", doc="reference subtracted by a single cell")
    )
    gain: float = field(
        default=1.0, metadata=check(gt=0, unit="", doc="F of the ambrogio cell: the pair's gain")
    )
    refresh_fraction: float = field(
        default=0.9,
        metadata=check(
            gt=0, le=1, unit="fraction of the range", doc="side level that triggers a refresh"
        ),
    )
    tune_tolerance_uS: float = field(
        default=0.5, metadata=check(gt=0, unit="uS", doc="closed-loop tuning stops within it")
    )
    tune_max_iterations: int = field(
        default=30, metadata=check(ge=1, unit="verify reads", doc="closed-loop tuning's limit")
    )
    transfer_every: int = field(
        default=100, metadata=check(ge=1, unit="updates", doc="updates between transfers")
    )
    transfer_offset_uS: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            unit="uS",
            doc="ambrogio transfer: the pair is tuned to W - offset - g's reset contribution",
        ),
    )


@dataclass(frozen=True)
class Card:
    """A validated device card (see the module docstring)."""

    name: str = field(metadata=check(unit="", doc="the card's name"))
    source: str = field(metadata=check(unit="", doc="where the card's numbers come from"))
    cell: CellSpec = field(metadata=check(unit="", doc="the unit cell"))
    device: DeviceParams = field(metadata=check(unit="", doc="the main device"))
    fast_device: DeviceParams | None = field(
        default=None, metadata=check(unit="", doc="the fast device of an ambrogio cell")
    )
    periphery: PeripherySpec = field(
        default=PeripherySpec(), metadata=check(unit="", doc="converters and output noise")
    )
    array: ArraySpec = field(
        default=ArraySpec(), metadata=check(unit="", doc="wires and tiles of the array (IR drop)")
    )
    costs: ChipCosts = field(
        default=ChipCosts(),
        metadata=check(unit="", doc="energy of array reads and ADC conversions"),
    )
    description: str = field(default="", metadata=check(unit="", doc="free text"))


def card_from_dict(data: dict, source: str = "", name: str = "") -> Card:
    """Validate a card mapping; errors name ``source``, the field and the value."""
    if not isinstance(data, dict):
        raise ConfigError(source, "<top>", data, "must be a mapping")
    data = dict(data)
    for section in ("device", "fast_device"):
        if data.get(section) is not None:
            data[section] = _device_params(data[section], source, section)
    if name and "name" not in data:
        data["name"] = name
    card = build(Card, data, source)
    for fld, value, reason in _card_problems(card):
        raise ConfigError(source, fld, value, reason)
    return card


def _device_params(raw: object, source: str, section: str) -> DeviceParams:
    if not isinstance(raw, dict):
        raise ConfigError(source, section, raw, "must be a mapping")
    model = raw.get("model")
    if model is None:
        raise ConfigError(source, f"{section}.model", None, "required field is missing")
    if not isinstance(model, str):
        raise ConfigError(source, f"{section}.model", model, "must be a string")
    try:
        cls = get_device_model(model)
    except KeyError as exc:
        raise ConfigError(source, f"{section}.model", model, exc.args[0]) from None
    params = build(cls.params_type, raw, source, section)
    for fld, value, reason in params.problems():
        raise ConfigError(source, f"{section}.{fld}", value, reason)
    return params


def _card_problems(card: Card) -> list[tuple[str, object, str]]:
    found = []
    for name in ("name", "source"):
        if not getattr(card, name).strip():
            found.append((name, getattr(card, name), "must not be empty"))
    kind = card.cell.kind
    device = get_device_model(card.device.model)
    if kind == "ambrogio":
        if card.fast_device is None:
            found.append(("fast_device", None, "an ambrogio cell needs a fast_device"))
        elif not get_device_model(card.fast_device.model).bidirectional:
            found.append(("fast_device.model", card.fast_device.model, "must be bidirectional"))
    elif card.fast_device is not None:
        found.append(("fast_device", card.fast_device.model, f"a {kind} cell has none"))
    if kind == "single" and not device.bidirectional:
        found.append(("device.model", card.device.model, "a single cell needs two directions"))
    if kind != "single" and not card.device.bounded:
        found.append(("device.g_max_uS", None, f"a {kind} cell needs bounded devices"))
    periphery = card.periphery
    if periphery.adc_bits and not card.device.bounded and periphery.adc_full_scale_uS is None:
        found.append(("periphery.adc_full_scale_uS", None, "needed with unbounded devices"))
    return found


# -- finding cards -----------------------------------------------------------------
def card_dirs() -> list[Traversable]:
    """Folders searched for shipped cards: the installed ``deephw.cards`` package, and
    the ``devices/`` folder of a source checkout."""
    found: list[Traversable] = []
    try:
        found.append(importlib.resources.files("deephw.cards"))
    except ModuleNotFoundError:
        pass
    root = Path(__file__).resolve().parents[2]
    checkout = root / "devices"
    if (root / "pyproject.toml").is_file() and checkout.is_dir():
        if not any(Path(str(folder)).resolve() == checkout for folder in found):
            found.append(checkout)
    return found


def _shipped() -> dict[str, Traversable]:
    cards: dict[str, Traversable] = {}
    for folder in card_dirs():
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".yaml") and entry.is_file():
                cards.setdefault(entry.name[: -len(".yaml")], entry)
    return cards


def list_cards() -> list[str]:
    """Names of the shipped cards."""
    return sorted(_shipped())


SOURCE_WIDTH = 60
"""Characters of a card's source shown by :func:`card_table`."""


def card_table() -> str:
    """The shipped cards as an aligned table with a header: name, cell, models, source."""
    rows = [("name", "cell", "models", "source")]
    for name in list_cards():
        card = load_card(name)
        models = card.device.model
        if card.fast_device is not None:
            models += f" + {card.fast_device.model}"
        source = " ".join(card.source.split())
        if len(source) > SOURCE_WIDTH:
            source = source[: SOURCE_WIDTH - 1] + "…"
        rows.append((name, card.cell.kind, models, source))
    return aligned(rows)


def aligned(rows: list[tuple[str, ...]]) -> str:
    """Rows of text cells as lines, every column but the last padded to its widest cell."""
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]) - 1)]
    lines = []
    for *first, last in rows:
        cells = [f"{value:<{width}}" for value, width in zip(first, widths, strict=True)]
        lines.append("  ".join([*cells, last]).rstrip())
    return "\n".join(lines)


def is_card_file(card: str) -> bool:
    """Whether a card reference names a file (else a shipped card's name)."""
    return card.endswith((".yaml", ".yml")) or "/" in card or "\\" in card


def load_card(name_or_path: str | Path | Card) -> Card:
    """A card by shipped name (e.g. ``"pcm_pair"``) or by path to a YAML file."""
    if isinstance(name_or_path, Card):
        return name_or_path
    text = str(name_or_path)
    path = Path(text)
    if is_card_file(text) or file_problem(path) is None:
        return check_card(path)
    shipped = _shipped()
    if text not in shipped:
        known = ", ".join(sorted(shipped)) or "none found"
        raise ConfigError("", "card", text, f"no such card (shipped: {known})")
    with importlib.resources.as_file(shipped[text]) as real:
        return check_card(real)


def check_card(path: str | Path) -> Card:
    """Load and validate the card file at ``path``; raises ConfigError if invalid."""
    path = Path(path)
    data = read_yaml(path)
    stem = path.name.rsplit(".", 1)[0]
    return card_from_dict(data, str(path), stem)


def card_to_yaml(card: Card) -> str:
    """The validated card as YAML text (every field, defaults included)."""
    return yaml.safe_dump(as_dict(card), sort_keys=False, allow_unicode=True, width=88)


def replace_card(card: Card | str | Path, changes: dict, name: str | None = None) -> Card:
    """A validated copy of ``card`` with ``changes`` merged in, section by section.

    ``changes`` mirrors the card's layout, e.g. ``{"device": {"read_noise_uS": 0.1}}``;
    a section given as ``None`` is removed. Useful for studies that sweep a parameter.
    """
    data = as_dict(load_card(card))
    for section, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(section), dict):
            data[section] = {**data[section], **value}
        elif value is None:
            data.pop(section, None)
        else:
            data[section] = value
    if name is not None:
        data["name"] = name
    return card_from_dict(data, f"{data.get('name', '')} (modified)")


NOISE_FIELD_PREFIXES = ("drift_nu", "stuck_")
"""Device fields that are noise or variation by their prefix (drift exponents, stuck-at
fractions); fields whose name contains ``dtod``, ``c2c`` or ``noise`` are too."""


def _is_noise_field(name: str, value: object) -> bool:
    if isinstance(value, bool) or "exponent" in name:  # c2c_additive; read_noise_q_exponent
        return False
    return name.startswith(NOISE_FIELD_PREFIXES) or any(
        word in name for word in ("dtod", "c2c", "noise")
    )


def noiseless(card: Card | str | Path, name: str | None = None) -> Card:
    """A validated copy of ``card`` with every noise and variation switched off.

    Zeroed in ``device`` and ``fast_device``: device-to-device spreads (``*_dtod``),
    cycle-to-cycle noise (``*_c2c``, ``*_c2c_uS``), programming, read and write noise
    (``prog_noise_poly_uS``, ``read_noise_*``, ``write_noise_uS``), drift (``drift_nu_*``,
    so the drift exponent is 0) and stuck-at fractions; in ``periphery``: ``out_noise``.
    Bounds, steps, nonlinearity, up/down asymmetry, levels, the capacitor leak
    (``tau_s``), converters and costs are kept. The name gets a ``_noiseless`` suffix
    unless ``name`` is given.
    """
    card = load_card(card)
    changes: dict[str, dict] = {"periphery": {"out_noise": 0.0}}
    for section in ("device", "fast_device"):
        params = getattr(card, section)
        if params is None:
            continue
        zeroed = {}
        for fld in dataclasses.fields(params):
            value = getattr(params, fld.name)
            if value is None or not _is_noise_field(fld.name, value):
                continue
            if isinstance(value, tuple):
                zeroed[fld.name] = [0.0] * len(value)
            else:
                zeroed[fld.name] = type(value)(0)
        changes[section] = zeroed
    return replace_card(card, changes, name=name or f"{card.name}_noiseless")


def card_hash(card: Card) -> str:
    """SHA-256 of the card's canonical content (every field, sorted keys)."""
    text = yaml.safe_dump(as_dict(card), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
