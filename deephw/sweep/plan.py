"""A sweep's configurations: generated, validated and keyed before anything runs.

Every base of the study (:meth:`Study.bases`) is combined with every combination of
axis values; ``fixed`` values and then the axis values are assigned into the base's
run-config data by dotted path, and the result is validated with
:func:`deephw.config.from_dict` and checked by the study. An error names the sweep file,
the axis (or the combination) and its value, and the reason.

Each configuration gets a key, a stable hash of the study kind, its validated config
data (and the study's options, if it takes any), its base's identity (e.g. trained
weights) and the content of what the config names but does not hold (data files, the
device card with its overrides). Keys name the result files, so a sweep that is run
again finds what is already done, whatever order or sweep file it came from.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from deephw.config import from_dict
from deephw.errors import ConfigError, DeephwError
from deephw.sweep import estimate, paths
from deephw.sweep.spec import SweepFile, read_spec
from deephw.sweep.studies import Base, Job, Study, get_study

KEY_LENGTH = 20
"""Hex digits of a configuration key (80 bits)."""


@dataclass(frozen=True, eq=False)
class Point:
    """One configuration of a sweep: one Dask task, one result file.

    Attributes
    ----------
    key
        Stable hash of the configuration (see :func:`config_key`).
    values
        Table columns that identify it: the study's label column (if any), then every
        axis path with the value it takes (as validated, e.g. ``10`` becomes ``10.0``).
    seeds
        The seeds its job reports, one row each.
    job
        What a worker runs.
    """

    key: str
    values: dict[str, Any]
    seeds: tuple[int, ...]
    job: Job


@dataclass(frozen=True, eq=False)
class Sweep:
    """A loaded sweep: its file, study kind and validated configurations."""

    source: str
    spec: SweepFile
    points: tuple[Point, ...]

    @property
    def study(self) -> Study:
        """The study kind."""
        return get_study(self.spec.kind)

    @property
    def columns(self) -> tuple[str, ...]:
        """The identifying columns of every point: label column, then the axes."""
        label = self.study.label_column
        return ((label,) if label else ()) + tuple(self.spec.axes)

    @property
    def n_rows(self) -> int:
        """Rows of the finished table: configurations times seeds."""
        return sum(len(point.seeds) for point in self.points)


def canonical(data: Any) -> str:
    """Compact JSON with sorted keys: the text a configuration key hashes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def config_key(kind: str, config: Mapping[str, Any], identity: str = "") -> str:
    """The stable key of a configuration: a hash of the kind, the config and ``identity``."""
    text = canonical({"kind": kind, "config": config, "base": identity})
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def column_value(value: Any) -> Any:
    """A config value as a table cell: scalars as they are, anything else as JSON text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return canonical(value)


def load_sweep(path: str | Path, *, force: bool = False, progress: bool = False) -> Sweep:
    """Read a sweep file and generate and validate all its configurations.

    Parameters
    ----------
    path
        The sweep file.
    force
        Accept a sweep whose estimated work is past the limit (never its memory).
    progress
        Show a progress bar while the configurations are validated, if that takes more
        than a moment.

    Raises
    ------
    deephw.errors.ConfigError
        Naming the sweep file, the field or axis, and the value.
    deephw.budget.BudgetError
        If the sweep needs more memory or work than allowed, naming the field.
    """
    path = Path(path)
    return expand(read_spec(path), path.parent, str(path), force=force, progress=progress)


PROGRESS_DELAY_S = 1.0
"""Validation shows a progress bar once it has taken this long."""


def expand(
    spec: SweepFile,
    folder: str | Path,
    source: str = "",
    *,
    force: bool = False,
    progress: bool = False,
) -> Sweep:
    """Generate, validate and key every configuration of a sweep.

    The sweep's memory and work are estimated first (:mod:`deephw.sweep.estimate`), so
    that a sweep too large to run is refused before its configurations are generated.

    Parameters
    ----------
    spec
        The validated sweep file.
    folder
        Folder that relative paths in the sweep file start from.
    source
        The sweep file's name, quoted in errors.
    force
        Accept work past the limit of :mod:`deephw.budget`.
    progress
        Show a progress bar over the configurations (after :data:`PROGRESS_DELAY_S`).
    """
    study = get_study(spec.kind)
    bases = study.bases(spec, Path(folder), source)
    needs = _estimate(study, spec, bases)
    estimate.check(needs, source, force)
    points: list[Point] = []
    seen: dict[str, dict[str, Any]] = {}
    bar = tqdm(
        total=round(needs.configurations),
        desc="validating",
        unit="config",
        disable=not progress,
        delay=PROGRESS_DELAY_S,
        mininterval=0.5,
        file=sys.stderr,
    )
    with bar:
        for base in bases:
            for combo in spec.combinations():
                point = _point(study, spec, base, combo, source)
                if point.key in seen:
                    raise ConfigError(
                        source, "axes", combo, f"gives the same configuration as {seen[point.key]}"
                    )
                seen[point.key] = combo
                points.append(point)
                bar.update(1)
    return Sweep(source, spec, tuple(points))


def _estimate(study: Study, spec: SweepFile, bases: list[Base]) -> estimate.SweepEstimate:
    """The sweep's needs, from its bases (their config data, task sizes and the study's
    default options) and axes."""
    sizes = []
    for base in bases:
        data = base.data
        try:
            task = study.load_task(from_dict(data, "", base.base_dir))
        except DeephwError:  # reported with its configuration by the validation
            shape = estimate.TaskShape(1, 1, 1)
        else:
            shape = estimate.TaskShape(task.n_inputs, task.n_outputs, task.n_patterns)
        section = study.options_section
        defaults = base.inputs.get("defaults", {}) if section else {}
        fixed = [(f"{section}.{name}", value) for name, value in defaults.items()]
        fixed += list(spec.fixed.items())
        sizes.append(estimate.BaseSizes(study.name, data, fixed, shape, base.base_dir, section))
    return estimate.estimate_sweep(
        sizes,
        spec.axes,
        spec.combine,
        seeds_field="seeds",
        base_field="base" if spec.base is not None else "runs",
        bases_field=study.bases_factor(spec, bases),
    )


def _point(study: Study, spec: SweepFile, base: Base, combo: dict[str, Any], source: str) -> Point:
    values = {**spec.fixed, **combo}
    data = paths.with_values(base.data, {})
    for path, value in values.items():
        try:
            paths.assign(data, path, value)
        except paths.PathError as exc:
            raise _blame(source, path, spec, combo, base, str(exc)) from None
    section = study.options_section
    raw_options = (data.pop(section, None) or {}) if section else {}
    try:
        config = from_dict(data, "", base.base_dir)
        options = study.options(raw_options, base) if section else {}
        inputs = study.prepare(config, base, options)
        fingerprint = study.fingerprint(config, options)
    except ConfigError as exc:
        raise _blame(source, exc.field, spec, combo, base, str(exc)) from None
    except (DeephwError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) else str(exc)
        raise _blame(source, "", spec, combo, base, message) from None
    config_data = config.to_dict()
    keyed = {**config_data, section: options} if section else config_data
    key = config_key(study.name, keyed, canonical([base.identity, fingerprint]))
    columns: dict[str, Any] = {}
    if study.label_column:
        columns[study.label_column] = base.label
    for path, raw in combo.items():
        value = paths.get(keyed, path) if paths.has(keyed, path) else raw
        columns[path] = column_value(value)
    job = Job(study.name, config_data, config.base_dir, inputs, options)
    return Point(key, columns, study.seeds(config, base, options), job)


def _blame(
    source: str,
    failed: str,
    spec: SweepFile,
    combo: dict[str, Any],
    base: Base,
    reason: str,
) -> ConfigError:
    """The sweep-file field a failed configuration comes from: an axis, fixed, or all.

    When several axes (or fixed values) lie on the failed field (e.g. two card fields
    and an error about the whole card), their combination is named.
    """
    where = f" (run {base.label})" if base.label else ""
    for section, values in (("axes", combo), ("fixed", spec.fixed)):
        found = {path: v for path, v in values.items() if failed and _overlaps(path, failed)}
        if len(found) == 1:
            ((path, value),) = found.items()
            return ConfigError(source, f"{section}.{path}", value, reason + where)
        if found:
            return ConfigError(source, section, found, reason + where)
    if combo:
        return ConfigError(source, "axes", combo, reason + where)
    return ConfigError(source, "base" if spec.base is not None else "runs", None, reason + where)


def _overlaps(path: str, failed: str) -> bool:
    """Whether an error's field (maybe with an index, ``a.b[0]``) lies on ``path``."""
    try:
        return paths.overlaps(path, failed.split("[", 1)[0])
    except paths.PathError:
        return False
