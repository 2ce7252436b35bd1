"""The ``task`` section of a run config: what to learn and what to test on.

See :mod:`deephw.data.source` for how its fields are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deephw.data.digits import NAME as DIGITS
from deephw.data.source import SPLIT
from deephw.tasks import BUILTIN
from deephw.validation import FieldError, check

DATA_FILES = ("csv", "npz", "idx")
"""The ``task`` fields that name a data file (one of them, or ``task.name``)."""

TASK_FILES = (*DATA_FILES, "labels", "test", "test_labels")
"""Every ``task`` field that may name a file (``test`` unless it is ``split``)."""


def _no_effect(name: str, value: Any, when: str) -> FieldError:
    value = list(value) if isinstance(value, tuple) else value
    return FieldError(name, value, f"has no effect {when}")


@dataclass(frozen=True)
class TaskConfig:
    """What to learn: a built-in task or data set by name, or a data file, and its test data.

    See :mod:`deephw.data.source` for how the fields are read. ``accuracy`` defaults to
    ``argmax`` for data sets of classes (``digits``, a CSV label column, NPZ, IDX) and to
    ``threshold`` otherwise.
    """

    name: str | None = field(
        default=None, metadata=check(doc="a built-in task (AND, OR, XOR, NOT, IDENTITY, digits)")
    )
    csv: str | None = field(default=None, metadata=check(doc="a CSV file with a header row"))
    npz: str | None = field(
        default=None, metadata=check(doc="an NPZ file: x, y or x_train, y_train, x_test, y_test")
    )
    idx: str | None = field(default=None, metadata=check(doc="an IDX (MNIST) file of images"))
    labels: str | None = field(
        default=None, metadata=check(doc="the IDX file of labels of task.idx")
    )
    inputs: tuple[str, ...] | str = field(
        default=(),
        metadata=check(doc="CSV input columns: names, 'FIRST:LAST', or [] for all but targets"),
    )
    targets: tuple[str, ...] = field(
        default=(), metadata=check(doc="CSV target columns, values in [0, 1]")
    )
    label: str | None = field(
        default=None, metadata=check(doc="CSV column of integer class labels (one-hot outputs)")
    )
    classes: int | None = field(
        default=None, metadata=check(ge=2, doc="number of classes (default: largest label + 1)")
    )
    scale: float | None = field(
        default=None,
        metadata=check(gt=0, doc="inputs are divided by it (default: 255 for bytes, else 1)"),
    )
    downsample: int = field(
        default=1, metadata=check(ge=1, doc="average images over blocks of this side")
    )
    test: str | None = field(
        default=None, metadata=check(doc="test data: 'split' (built-in or NPZ) or a file")
    )
    test_labels: str | None = field(
        default=None, metadata=check(doc="the IDX file of labels of task.test")
    )
    accuracy: str | None = field(
        default=None, metadata=check(choices=("threshold", "argmax"), doc="how a sample is right")
    )

    def __post_init__(self) -> None:
        given = [key for key in ("name", *DATA_FILES) if getattr(self, key) is not None]
        if len(given) != 1:
            first = given[0] if given else "name"
            reason = "give exactly one of task.name, task.csv, task.npz and task.idx"
            raise FieldError(first, getattr(self, first), reason)
        if self.name is not None and self.name.upper() not in BUILTIN and not self.is_digits:
            names = [*BUILTIN, DIGITS]
            raise FieldError("name", self.name, f"must be one of {names} (any case)")
        self._check_file_options()
        self._check_test()
        if self.accuracy is None:
            classes = self.is_digits or self.npz or self.idx or self.label is not None
            object.__setattr__(self, "accuracy", "argmax" if classes else "threshold")

    def files(self) -> list[tuple[str, str]]:
        """``(field, path)`` of every file the section names, as written."""
        named = [(key, getattr(self, key)) for key in TASK_FILES]
        return [(key, value) for key, value in named if value not in (None, SPLIT)]

    @property
    def is_digits(self) -> bool:
        """The built-in digits data set."""
        return self.name is not None and self.name.lower() == DIGITS

    def _check_file_options(self) -> None:
        if (self.idx is None) != (self.labels is None):
            name, value = ("labels", self.labels) if self.idx is None else ("idx", self.idx)
            raise FieldError(name, value, "task.idx and task.labels go together")
        if self.csv is None:
            for name in ("inputs", "targets", "label"):
                if getattr(self, name) not in ((), None):
                    raise _no_effect(name, getattr(self, name), "without task.csv")
        elif self.label is not None and self.targets:
            raise FieldError("label", self.label, "give task.targets or task.label, not both")
        elif self.label is None and not self.targets:
            raise FieldError(
                "targets", [], "name the target columns, or a label column (task.label)"
            )
        if self.name is not None:
            for name in ("classes", "scale"):
                if getattr(self, name) is not None:
                    raise _no_effect(name, getattr(self, name), "with a built-in task")
        if self.downsample != 1 and self.npz is None and self.idx is None:
            raise _no_effect("downsample", self.downsample, "without images (task.npz, task.idx)")
        if self.classes is not None and self.csv is not None and self.label is None:
            raise _no_effect("classes", self.classes, "without task.label")

    def _check_test(self) -> None:
        if self.test is None:
            if self.test_labels is not None:
                raise _no_effect("test_labels", self.test_labels, "without task.test")
            return
        if self.name is not None and not self.is_digits:
            raise FieldError("test", self.test, f"the {self.name} task has no test data")
        if self.test == SPLIT and not (self.is_digits or self.npz):
            reason = "the built-in split is for digits and NPZ files (x_test, y_test); name a file"
            raise FieldError("test", self.test, reason)
        if self.is_digits and self.test != SPLIT:
            raise FieldError("test", self.test, "the digits' test data is 'split'")
        if self.idx is not None and self.test != SPLIT and self.test_labels is None:
            raise FieldError("test", self.test, "an IDX test file needs task.test_labels")
        if self.idx is None and self.test_labels is not None:
            raise _no_effect("test_labels", self.test_labels, "without IDX data (task.idx)")
