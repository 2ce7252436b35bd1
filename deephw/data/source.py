"""A run config's ``task`` section turned into its training and test tasks.

``task.name`` names a built-in task (the Boolean ones, or ``digits``); ``task.csv``,
``task.npz`` or ``task.idx`` (with ``task.labels``) a file. ``task.test`` names the test
data: ``split`` (the built-in split of ``digits``, or an NPZ file's ``x_test`` and
``y_test``) or a file in the training data's format (IDX: with ``task.test_labels``).
Test data is read with the training data's options and must have its inputs and
outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from deephw.data import digits
from deephw.data.csvdata import Columns, read_csv_task
from deephw.data.files import Reading, idx_task, npz_task
from deephw.data.task import Task
from deephw.errors import ConfigError
from deephw.tasks import builtin

if TYPE_CHECKING:
    from deephw.config import TaskConfig

SPLIT = "split"
"""``task.test: split``: the built-in split (``digits``) or an NPZ file's test arrays."""


@dataclass(frozen=True, eq=False)
class Data:
    """The training task and the test task (``None``: the config names none)."""

    train: Task
    test: Task | None = None


def columns_of(task: TaskConfig, classes: int | None = None, scale: float | None = None) -> Columns:
    """How the config reads CSV columns (``classes`` and ``scale`` override the section's)."""
    scale = task.scale if scale is None else scale
    return Columns(task.inputs, task.targets, task.label, classes or task.classes, scale)


def reading_of(task: TaskConfig, classes: int | None = None, scale: float | None = None) -> Reading:
    """How the config reads NPZ and IDX arrays (``classes`` and ``scale`` override the
    section's)."""
    return Reading(task.scale if scale is None else scale, task.downsample, classes or task.classes)


def load(
    task: TaskConfig, resolve: Callable[[str], Path], source: str = "", test: bool = True
) -> Data:
    """The training task (and with ``test``, the test task) a ``task`` section names.

    Parameters
    ----------
    task
        The validated ``task`` section.
    resolve
        Turns a path of the config into a path (relative to the config's folder).
    source
        The config file, quoted in errors about the fields it gives.
    test
        Also read the test data, if the section names any.
    """
    if task.name is not None and task.name.lower() == digits.NAME:
        train, split = digits.load()
        return Data(train, split if test and task.test == SPLIT else None)
    if task.name is not None:
        return Data(builtin(task.name))
    train = read_file(task, resolve, source)
    if not test or task.test is None:
        return Data(train)
    classes = train.n_outputs if _has_labels(task) else None
    if task.test == SPLIT:
        return Data(train, npz_task(resolve(task.npz), reading_of(task, classes), "test"))
    other = read_file(task, resolve, source, task.test, task.test_labels, classes)
    if (other.n_inputs, other.n_outputs) != (train.n_inputs, train.n_outputs):
        reason = (
            f"{other.n_inputs} inputs and {other.n_outputs} outputs; the training data has "
            f"{train.n_inputs} and {train.n_outputs}"
        )
        raise ConfigError(source, "task.test", task.test, reason)
    return Data(train, other)


def _has_labels(task: TaskConfig) -> bool:
    return task.csv is None or task.label is not None


def read_file(
    task: TaskConfig,
    resolve: Callable[[str], Path],
    source: str = "",
    path: str | None = None,
    labels: str | None = None,
    classes: int | None = None,
) -> Task:
    """The task in the file ``path`` (default: the training file), read as the section
    says (CSV columns, scale, downsampling, classes); ``labels`` is an IDX labels file."""
    if task.csv is not None:
        return read_csv_task(resolve(path or task.csv), columns_of(task, classes), source)
    if task.npz is not None:
        return npz_task(resolve(path or task.npz), reading_of(task, classes))
    images, labels = (path, labels) if path is not None else (task.idx, task.labels)
    field = "task.test" if path is not None else "task.idx"
    return idx_task(resolve(images), resolve(labels), reading_of(task, classes), field)


def read_data_file(
    path: str | Path,
    labels: str | Path | None,
    task: TaskConfig,
    classes: int | None,
    scale: float | None = None,
) -> Task:
    """Data to evaluate a run on (``deephw eval --data``), in the format its suffix says.

    ``.csv``: the run's columns if it learned a CSV file, else a ``label`` column and
    every other column as an input; ``.npz``: ``x``/``y`` (else ``x_test``/``y_test``);
    anything else is an IDX file of images with the IDX file ``labels``. Scale,
    downsampling and ``classes`` (the run's outputs, for labels) are the run's;
    ``scale`` replaces the run's.
    """
    path = Path(path)

    suffix = path.suffix.lower()
    if suffix == ".csv":
        columns = (
            columns_of(task, classes, scale)
            if task.csv is not None
            else Columns(label="label", classes=classes, scale=scale)
        )
        return read_csv_task(path, columns)
    if suffix == ".npz":
        return npz_task(path, reading_of(task, classes, scale), "eval")
    if labels is None:
        reason = "is read as an IDX file of images (not .csv or .npz): give its labels (--labels)"
        raise ConfigError("", "--data", str(path), reason)
    return idx_task(path, Path(labels), reading_of(task, classes, scale), "--data")
