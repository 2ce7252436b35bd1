"""The ``ablation`` study: what each non-ideality of a card costs in training.

From the card of the base run config (``hardware.card`` with its ``card_overrides``),
every non-ideality group the card has (:func:`deephw.devices.nonideality.groups`: read
noise, c2c, drift...) is trained

- switched off, the others kept (``without``; compared with the full card), and
- alone on top of ideal devices (``only``; compared with every group off),

beside two baselines, the ``full`` card and ``ideal`` (every switchable group off;
bounds and step sizes, which no value switches off, stay). The groups come from the card
fields' metadata, so a new card or field needs no code here. A sweep file::

    kind: ablation
    base: ../xor.yaml          # a run config naming the card (and its overrides)
    seeds: 10
    groups: [drift, c2c]       # optional: only these (default: all the card has)
    modes: [without, only]     # optional: default both

Each condition is one configuration: the base config whose ``card_overrides`` also set
the condition's card fields to their ideal values, so its key, its stored result and
its resolved config say exactly which card it trained on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from deephw import training
from deephw.assembly import hardware_card
from deephw.config import RunConfig, from_dict
from deephw.devices import nonideality
from deephw.devices.cards import Card, load_card
from deephw.errors import ConfigError, DeephwError
from deephw.sweep import paths
from deephw.sweep.studies.base import Base, Job, register_study
from deephw.sweep.studies.rows import number
from deephw.sweep.studies.train import TrainStudy
from deephw.validation import FieldError, as_dict

if TYPE_CHECKING:
    from deephw.sweep.plan import Sweep
    from deephw.sweep.spec import SweepFile

MODES = ("without", "only")
"""How a group is switched: off on the full card, or alone on ideal devices."""

FULL, IDEAL = "full", "ideal"
"""The baselines' modes (and condition names)."""

CARD_PATHS = ("hardware.card", "hardware.card_overrides")
"""Config paths an ablation sets itself: the card comes from the base run config."""


@dataclass(frozen=True)
class Condition:
    """One configuration of an ablation: a mode and the group it switches.

    Attributes
    ----------
    mode
        ``full``, ``ideal``, ``without`` or ``only``.
    group
        The non-ideality group (one of :data:`~deephw.devices.nonideality.GROUPS`), or
        ``""`` for a baseline.
    """

    mode: str
    group: str = ""

    @property
    def name(self) -> str:
        """The condition's label: ``full``, ``ideal``, ``without drift``, ``only c2c``."""
        return f"{self.mode} {self.group}" if self.group else self.mode

    def card(self, card: Card | str | Path) -> Card:
        """``card`` as this condition trains on it."""
        if self.mode == FULL:
            return load_card(card)
        if self.mode == IDEAL:
            return nonideality.switched_off(card, set(nonideality.GROUPS))
        if self.mode == "without":
            return nonideality.without(card, self.group)
        return nonideality.only(card, self.group)


def conditions(
    card: Card | str | Path,
    groups: tuple[str, ...] | None = None,
    modes: tuple[str, ...] = MODES,
) -> list[Condition]:
    """The conditions of an ablation of ``card``: the two baselines, then each group of
    ``groups`` (default: every group the card has) in each mode of ``modes``."""
    chosen = nonideality.groups(card) if groups is None else list(groups)
    found = [Condition(FULL), Condition(IDEAL)]
    return found + [Condition(mode, group) for mode in modes for group in chosen]


def not_switchable(card: Card | str | Path) -> dict[str, list[str]]:
    """The groups the card sets with no field that a value switches off (bounds and step
    sizes), with their fields: listed by an ablation, never run."""
    rows: dict[str, list[nonideality.Nonideality]] = {}
    for row in nonideality.nonidealities(card):
        rows.setdefault(row.group, []).append(row)
    return {
        group: [row.field for row in found]
        for group, found in rows.items()
        if not any(row.switchable for row in found)
    }


def card_changes(before: Card, after: Card) -> dict[str, Any]:
    """The card overrides that turn ``before`` into ``after`` (their names aside): per
    section, the fields that differ (a sub-section, e.g. a device's ``costs``, whole;
    a section ``after`` lacks as ``None``)."""
    old, new = as_dict(before), as_dict(after)
    changes: dict[str, Any] = {}
    for section in nonideality.SECTIONS:
        if old.get(section) == new.get(section):
            continue
        if not isinstance(old.get(section), dict) or not isinstance(new.get(section), dict):
            changes[section] = new.get(section)
            continue
        changes[section] = {
            name: value for name, value in new[section].items() if old[section].get(name) != value
        }
    return changes


def merged_overrides(overrides: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` merged into the config's ``card_overrides``, section by section, as
    :func:`deephw.devices.cards.replace_card` applies them."""
    out = dict(overrides)
    for section, value in changes.items():
        before = out.get(section)
        if isinstance(before, dict) and isinstance(value, dict):
            out[section] = {**before, **value}
        else:
            out[section] = value
    return out


@register_study("ablation")
class AblationStudy(TrainStudy):
    """Train a card with each non-ideality off in turn, and each alone on ideal devices.

    One configuration per condition (:func:`conditions`), trained as a ``train`` study
    trains (all seeds batched; seed by seed on divergence). Its rows carry the
    condition's ``mode`` and ``group``, the train scores, and the test scores
    (``test_accuracy``, ``test_mse``) when the run has test data. The same seed starts
    from the same weights in every condition, so the accuracy a non-ideality costs is
    taken seed by seed (:mod:`deephw.sweep.ablation_report`).
    """

    label_column: ClassVar[str | None] = "condition"
    spec_fields: ClassVar[tuple[str, ...]] = ("groups", "modes")
    metrics: ClassVar[dict[str, str]] = {
        "mode": "string",
        "group": "string",
        **TrainStudy.metrics,
        "test_accuracy": "float64",
        "test_mse": "float64",
    }

    def check_spec(self, spec: SweepFile) -> None:
        """A base run config; no runs or axes; known groups and modes; no card paths."""
        if spec.base is None:
            raise FieldError("base", None, "an ablation needs a base run config (with its card)")
        if spec.runs:
            raise FieldError("runs", list(spec.runs), "only an evaluate study takes runs")
        if spec.axes:
            reason = "an ablation varies the card's non-idealities; set other values in fixed"
            raise FieldError("axes", dict(spec.axes), reason)
        for path in spec.fixed:
            for card_path in CARD_PATHS:
                if paths.overlaps(path, card_path):
                    reason = "an ablation takes its card from the base run config; set it there"
                    raise FieldError(f"fixed.{path}", spec.fixed[path], reason)
        for name, known in (("groups", nonideality.GROUPS), ("modes", MODES)):
            values = getattr(spec, name)
            if values is None:
                continue
            if not values:
                raise FieldError(name, [], "must name at least one (or be left out for all)")
            for index, value in enumerate(values):
                if value not in known:
                    raise FieldError(f"{name}[{index}]", value, f"must be one of {list(known)}")
                if value in values[:index]:
                    raise FieldError(f"{name}[{index}]", value, "is given twice")

    def bases(self, spec: SweepFile, folder: Path, source: str) -> list[Base]:
        """One base per condition: the base config with the condition's card overrides.

        Raises
        ------
        deephw.errors.ConfigError
            If the base's card does not load, or ``groups`` names a group the card does
            not have or cannot switch off.
        """
        (base,) = super().bases(spec, folder, source)
        config = from_dict(base.data, "", base.base_dir)
        try:
            card = hardware_card(config)
        except ConfigError as exc:
            raise ConfigError(source, f"base.{exc.field}", exc.value, exc.reason) from None
        if spec.groups is not None:
            self._check_groups(spec.groups, card, source)
        hardware = base.data["hardware"]
        found = []
        for condition in conditions(card, spec.groups, spec.modes or MODES):
            changes = card_changes(card, condition.card(card))
            data = paths.with_values(base.data, {})
            data["hardware"] = {
                **hardware,
                "card_overrides": merged_overrides(hardware.get("card_overrides") or {}, changes),
            }
            inputs = {"mode": condition.mode, "group": condition.group or None}
            # The condition is part of the key: on a card with one group, "without" it
            # is the ideal card, yet a row of its own.
            found.append(Base(data, base.base_dir, condition.name, condition.name, inputs))
        return found

    def _check_groups(self, groups: tuple[str, ...], card: Card, source: str) -> None:
        have = nonideality.groups(card)
        fixed = not_switchable(card)
        for index, group in enumerate(groups):
            if group in have:
                continue
            if group in fixed:
                reason = (
                    f"cannot be switched off: no value of {', '.join(fixed[group])} does "
                    f"(switchable on {card.name}: {', '.join(have) or 'none'})"
                )
            else:
                reason = f"{card.name} does not have it (it has: {', '.join(have) or 'none'})"
            raise ConfigError(source, f"groups[{index}]", group, reason)

    def bases_factor(self, spec: SweepFile, bases: list[Base]) -> tuple[str, Any] | None:
        """``groups``: the number of conditions they make (with both baselines)."""
        groups = len({base.inputs["group"] for base in bases} - {None})
        modes = len(spec.modes or MODES)
        return "groups", f"{len(bases)} conditions ({groups} groups x {modes} modes + 2)"

    def prepare(self, config: RunConfig, base: Base, options: Mapping[str, Any]) -> dict[str, Any]:
        """As a train study's, with the condition's mode and group."""
        return {**super().prepare(config, base, options), **base.inputs}

    def describe(self, sweep: Sweep) -> dict[str, Any]:
        """``ablation``: the card, the groups run, the modes, and the groups the card sets
        but no value switches off (with their fields)."""
        full = next(p for p in sweep.points if p.job.inputs["mode"] == FULL)
        card = hardware_card(full.job.run_config())
        run = [p.job.inputs["group"] for p in sweep.points if p.job.inputs["group"]]
        have, fixed = nonideality.groups(card), not_switchable(card)
        return {
            "ablation": {
                "card": card.name,
                "groups": list(dict.fromkeys(run)),
                "modes": list(sweep.spec.modes or MODES),
                "not_switchable": fixed,
                "absent": [g for g in nonideality.GROUPS if g not in [*have, *fixed]],
            }
        }

    def run(self, job: Job) -> list[dict[str, Any]]:
        """Train the condition's configuration; each row with its mode and group."""
        rows = super().run(job)
        for row in rows:
            row.update(mode=job.inputs["mode"], group=job.inputs["group"])
        return rows

    def _result_rows(self, result: training.TrainResult) -> list[dict[str, Any]]:
        rows = super()._result_rows(result)
        for name in ("test_accuracy", "test_mse"):
            values = _per_seed(getattr(result, name, None), len(rows))
            for row, value in zip(rows, values, strict=True):
                row[name] = value
        return rows


def _per_seed(values: Any, n_seeds: int) -> list[float | None]:
    """Final per-seed values of a result's test score, or empty cells if it has none."""
    if values is None:
        return [None] * n_seeds
    array = np.asarray(values, dtype=float)
    if array.ndim == 2:
        array = array[-1]
    if array.shape != (n_seeds,):
        raise DeephwError(f"test scores of shape {array.shape} for {n_seeds} seeds")
    return [number(v) for v in array]
