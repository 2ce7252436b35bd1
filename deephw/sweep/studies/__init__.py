"""Study kinds: what one configuration of a sweep computes, for all its seeds at once.

:mod:`~deephw.sweep.studies.base` holds the :class:`Study` interface and the registry
(:func:`register_study`, :func:`get_study`); :mod:`~deephw.sweep.studies.rows` turns
results into per-seed rows; the kinds shipped are :mod:`~deephw.sweep.studies.train`,
:mod:`~deephw.sweep.studies.evaluate` and :mod:`~deephw.sweep.studies.ablation`,
registered when this package is imported.
"""

from deephw.sweep.studies.ablation import AblationStudy
from deephw.sweep.studies.base import (
    HARDWARE_METRICS,
    STUDIES,
    Base,
    Job,
    Study,
    get_study,
    register_study,
    run_job,
    run_timed,
    study_names,
)
from deephw.sweep.studies.evaluate import DRIFT_COLUMNS, EvaluateStudy, ProgramOptions
from deephw.sweep.studies.rows import SCORE_METRICS, seed_metrics
from deephw.sweep.studies.train import TrainStudy

__all__ = [
    "AblationStudy",
    "DRIFT_COLUMNS",
    "HARDWARE_METRICS",
    "SCORE_METRICS",
    "STUDIES",
    "Base",
    "EvaluateStudy",
    "Job",
    "ProgramOptions",
    "Study",
    "TrainStudy",
    "get_study",
    "register_study",
    "run_job",
    "run_timed",
    "seed_metrics",
    "study_names",
]
