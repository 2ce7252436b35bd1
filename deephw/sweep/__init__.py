"""Noise-robustness studies: parameter sweeps run on Dask distributed.

A sweep file (:mod:`deephw.sweep.spec`) varies any field of a run config by dotted path
(:mod:`deephw.sweep.paths`), as a grid or a zipped list, around a base config (a
``train`` study) or around trained run directories (an ``evaluate`` study, which exports
a run's network as a weight program for each configuration's device card and verifies it
on simulated chips), or trains a card with each of its non-idealities switched off in
turn and alone on ideal devices (an ``ablation`` study; :mod:`deephw.sweep.studies`,
reported by :mod:`deephw.sweep.ablation_report`). :mod:`deephw.sweep.plan` estimates the
sweep's memory and work from its file (:mod:`deephw.sweep.estimate`, refusing one too
large), then generates and validates every configuration before anything runs;
:mod:`deephw.sweep.execute` checks and claims the sweep directory (one writer, one sweep
per directory), reaches the cluster (a scheduler address is probed first:
:mod:`deephw.sweep.scheduler`) and runs
one Dask task per configuration with all its seeds batched, storing each result
atomically as it completes (:mod:`deephw.sweep.store`), so an interrupted sweep resumes
where it stopped;
:mod:`deephw.sweep.table` writes the tidy table and :mod:`deephw.sweep.figures` the
figures, which :func:`report` redraws from the table alone.

Example
-------
>>> from deephw import sweep
>>> study = sweep.load_sweep("examples/sweeps/xor_beta_lr.yaml")  # doctest: +SKIP
>>> outcome = sweep.run_sweep(study, "sweeps/xor_beta_lr")  # doctest: +SKIP
>>> frame, description = sweep.read_table("sweeps/xor_beta_lr")  # doctest: +SKIP

Dask and pandas are imported when these functions are first used, not with this package.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_sweep": "deephw.sweep.plan",
    "expand": "deephw.sweep.plan",
    "Sweep": "deephw.sweep.plan",
    "Point": "deephw.sweep.plan",
    "read_spec": "deephw.sweep.spec",
    "SweepFile": "deephw.sweep.spec",
    "run_sweep": "deephw.sweep.execute",
    "connect": "deephw.sweep.execute",
    "SweepOutcome": "deephw.sweep.execute",
    "report": "deephw.sweep.report",
    "Study": "deephw.sweep.studies",
    "register_study": "deephw.sweep.studies",
    "study_names": "deephw.sweep.studies",
    "HARDWARE_METRICS": "deephw.sweep.studies",
}

__all__ = [*sorted(_EXPORTS), "read_table"]


def __getattr__(name: str) -> Any:
    if name == "read_table":
        return importlib.import_module("deephw.sweep.table").read
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'deephw.sweep' has no attribute {name!r}")
