"""The ``train`` study: every configuration trained from scratch, its seeds batched."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from deephw import training
from deephw.config import RunConfig, from_dict, load
from deephw.errors import ConfigError, DivergenceError
from deephw.sweep.studies.base import Base, Job, Study, register_study
from deephw.sweep.studies.rows import SCORE_METRICS, number, rows_of, seed_metrics
from deephw.validation import FieldError

if TYPE_CHECKING:
    from deephw.sweep.spec import SweepFile


@register_study("train")
class TrainStudy(Study):
    """Train every configuration from scratch, all seeds batched in one array program.

    A configuration whose batch diverges is trained again seed by seed (a seed trains
    the same alone or batched), so the seeds that stay finite keep their results and
    each diverged seed gets a row with ``diverged`` true and the epoch it diverged at.
    """

    metrics: ClassVar[dict[str, str]] = {
        **SCORE_METRICS,
        "epochs_to_converge": "Int64",
        "diverged": "bool",
        "diverged_epoch": "Int64",
    }

    def check_spec(self, spec: SweepFile) -> None:
        """A train study needs ``base`` and takes no ``runs``."""
        if spec.base is None:
            raise FieldError("base", None, "a train study needs a base run config")
        if spec.runs:
            raise FieldError("runs", list(spec.runs), "only an evaluate study takes runs")

    def bases(self, spec: SweepFile, folder: Path, source: str) -> list[Base]:
        """The sweep's base run config (a file, or inline), with its seeds overridden."""
        if isinstance(spec.base, str):
            try:
                config = load(folder / spec.base)
            except ConfigError as exc:
                raise ConfigError(source, "base", spec.base, str(exc)) from None
        else:
            try:
                config = from_dict(spec.base or {}, "", folder)
            except ConfigError as exc:
                raise ConfigError(source, f"base.{exc.field}", exc.value, exc.reason) from None
        data = config.to_dict()
        if spec.seeds is not None:
            data["training"]["seeds"] = spec.seeds
        if spec.seed is not None:
            data["training"]["seed"] = spec.seed
        return [Base(data, config.base_dir)]

    def prepare(self, config: RunConfig, base: Base, options: Mapping[str, Any]) -> dict[str, Any]:
        """Load the task and its test data (sent to workers as data) and check that the
        graph builds."""
        task, test = self.load_data(config)
        training.build_topology(config, task)
        return {"task": task, "test": test}

    def seeds(self, config: RunConfig, base: Base, options: Mapping[str, Any]) -> tuple[int, ...]:
        """``training.seed`` to ``training.seed + training.seeds - 1``."""
        return tuple(int(s) for s in training.seed_list(config))

    def run(self, job: Job) -> list[dict[str, Any]]:
        """Train all seeds in one batch; fall back to one seed at a time on divergence."""
        config = job.run_config()
        data = {"task": job.inputs.get("task"), "test": job.inputs.get("test")}
        try:
            return self._result_rows(training.train(config, **data))
        except DivergenceError:
            pass
        rows = []
        for seed in training.seed_list(config):
            alone = config.replace(training={"seed": int(seed), "seeds": 1})
            try:
                rows.extend(self._result_rows(training.train(alone, **data)))
            except DivergenceError as exc:
                rows.append(self._diverged_row(int(seed), exc.epoch))
        return rows

    def _result_rows(self, result: training.TrainResult) -> list[dict[str, Any]]:
        epochs = result.epochs_to_converge
        columns = {
            "final_mse": [number(v) for v in result.final_mse],
            "accuracy": [number(v) for v in result.final_accuracy],
            "converged": [bool(v) for v in result.converged],
            "correct": [bool(v) for v in result.correct],
            "sparsity": [number(v) for v in result.sparsity],
            "epochs_to_converge": [int(v) if v >= 0 else None for v in epochs],
            "diverged": [False] * len(result.seeds),
            "diverged_epoch": [None] * len(result.seeds),
        }
        return rows_of(result.seeds, columns, seed_metrics(result, len(result.seeds)))

    def _diverged_row(self, seed: int, epoch: int) -> dict[str, Any]:
        row: dict[str, Any] = {"seed": seed}
        row.update(dict.fromkeys(self.metrics))
        row.update(converged=False, correct=False, diverged=True, diverged_epoch=epoch)
        return row
