"""Sweep files: YAML validated into a frozen dataclass, like run configs.

A sweep file names a study kind, what to vary around, and the axes::

    kind: train                  # train (default), evaluate or ablation
    description: XOR over beta x lr
    base: ../xor.yaml            # train, ablation: a run config file (relative to this file) or
                                 #        an inline mapping {task: {name: XOR}, ...}
    # runs: [../runs/xor]        # evaluate: trained run directories instead of a base
    fixed:                       # dotted path: value, set in every configuration
      training.epochs: 300
    axes:                        # dotted path: list of values
      dynamics.beta: [0.5, 1.0, 1.5]
      learning.lr: [3.0, 10.0]
    combine: grid                # grid (cartesian product) or zip (i-th values together)
    seeds: 10                    # train: overrides the base's training.seeds ...
    seed: 0                      # ... and training.seed; evaluate: chips and first chip
    # groups: [drift, c2c]       # ablation only: the non-idealities switched (default
    # modes: [without, only]     #   all of the card's) and how (default both)

A dotted path names any value of the run config's data, e.g. ``dynamics.beta``,
``training.batch_size`` or, in a section holding free-form fields,
``hardware.card_overrides.device.read_noise_uS``, or an option of the study kind (an
evaluate study's ``program.tile_rows``, ``program.network_seed``...; see
:class:`~deephw.sweep.studies.evaluate.ProgramOptions`). Errors name the file, the field and the
value.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deephw.config import SEED_MAX
from deephw.sweep import paths
from deephw.sweep.studies import get_study, study_names
from deephw.validation import FieldError, build, check, read_yaml

COMBINE = ("grid", "zip")
"""How axes combine: every combination, or the i-th values of every axis together."""

KIND_FIELDS = ("groups", "modes")
"""Fields only some study kinds take (those naming them in ``Study.spec_fields``); left
out of a sweep's record when unset, so that earlier sweep directories still match."""


@dataclass(frozen=True)
class SweepFile:
    """The validated content of a sweep file (see the module docstring)."""

    kind: str = "train"
    description: str = ""
    base: str | dict[str, Any] | None = None
    runs: tuple[str, ...] = ()
    fixed: dict[str, Any] = field(default_factory=dict)
    axes: dict[str, Any] = field(default_factory=dict)
    combine: str = field(default="grid", metadata=check(choices=COMBINE))
    seeds: int | None = field(default=None, metadata=check(ge=1))
    seed: int | None = field(default=None, metadata=check(ge=0))
    groups: tuple[str, ...] | None = None
    modes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in study_names():
            raise FieldError("kind", self.kind, f"must be one of {study_names()}")
        study = get_study(self.kind)
        for name in KIND_FIELDS:
            value = getattr(self, name)
            if value is not None and name not in study.spec_fields:
                takers = [kind for kind in study_names() if name in get_study(kind).spec_fields]
                reason = f"only {', '.join(takers)} studies take it (kind: {self.kind})"
                raise FieldError(name, list(value), reason)
        if self.seed is not None and self.seed + (self.seeds or 1) - 1 > SEED_MAX:
            reason = f"must be <= {SEED_MAX - (self.seeds or 1) + 1} (64-bit seeds)"
            raise FieldError("seed", self.seed, reason)
        for section in ("fixed", "axes"):
            for path in getattr(self, section):
                try:
                    paths.split(path)
                except paths.PathError as exc:
                    raise FieldError(section, path, str(exc)) from None
        for path, values in self.axes.items():
            if not isinstance(values, list) or not values:
                raise FieldError(f"axes.{path}", values, "must be a non-empty list of values")
        swept = list(self.fixed) + list(self.axes)
        for i, first in enumerate(swept):
            for second in swept[i + 1 :]:
                if paths.overlaps(first, second):
                    section = "axes" if second in self.axes else "fixed"
                    raise FieldError(f"{section}.{second}", None, f"overlaps {first}")
        lengths = {path: len(values) for path, values in self.axes.items()}
        if self.combine == "zip" and len(set(lengths.values())) > 1:
            raise FieldError("axes", lengths, "zipped axes need lists of the same length")
        study.check_spec(self)

    def combinations(self) -> Iterator[dict[str, Any]]:
        """Every combination of axis values, ``{path: value}``, the first axis slowest.

        Generated one at a time: a large grid is never held whole.
        """
        names = list(self.axes)
        if not names:
            yield {}
            return
        if self.combine == "zip":
            rows: Iterable[tuple[Any, ...]] = zip(*self.axes.values(), strict=True)
        else:
            rows = itertools.product(*self.axes.values())
        for row in rows:
            yield dict(zip(names, row, strict=True))


def read_spec(path: str | Path) -> SweepFile:
    """Read and validate a sweep file (not yet its configurations).

    Raises
    ------
    deephw.errors.ConfigError
        Naming the file, the field and the value, for unknown keys, wrong types and
        malformed axes.
    """
    path = Path(path)
    return build(SweepFile, read_yaml(path), str(path))
