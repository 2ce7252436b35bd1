"""Data sets in NPZ and IDX files, turned into tasks.

NPZ: arrays ``x`` and ``y``, or ``x_train``, ``y_train`` (and ``x_test``, ``y_test``).
IDX: one file of images and one of labels (MNIST's ``*-images-idx3-ubyte[.gz]`` and
``*-labels-idx1-ubyte[.gz]``). Inputs are ``(N, F)`` features or ``(N, H, W)`` images
(flattened, optionally averaged over blocks first); ``y`` holds integer class labels
``(N,)`` (one-hot encoded) or targets ``(N, K)`` in [0, 1].
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deephw.data import arrays
from deephw.data.idx import read_idx
from deephw.data.npz import read_npz
from deephw.data.task import Task
from deephw.errors import ConfigError, DeephwError
from deephw.validation import file_problem

NPZ_LAYOUTS = {"": ("x", "y"), "train": ("x_train", "y_train"), "test": ("x_test", "y_test")}
"""The arrays of an NPZ data set: ``x``/``y``, or a training and a test pair."""

NPZ_PARTS = {"": ("", "train"), "test": ("test",), "eval": ("", "test")}
"""The layouts tried, in order, for training data, test data and data to evaluate on."""


@dataclass(frozen=True)
class Reading:
    """How raw arrays become a task: ``scale`` divides the inputs (default: 255 for
    unsigned bytes, else 1), ``downsample`` averages ``(N, H, W)`` images over square
    blocks, ``classes`` fixes the number of classes of integer labels."""

    scale: float | None = None
    downsample: int = 1
    classes: int | None = None


def to_task(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    reading: Reading,
    path: Path,
    names: tuple[str, str] = ("x", "y"),
    label_path: Path | None = None,
) -> Task:
    """A task from raw inputs ``x`` and labels or targets ``y`` read from ``path``."""
    label_path = label_path or path
    arrays.paired(x, y, path, label_path if label_path != path else None)
    if x.ndim not in (2, 3):
        reason = "inputs must be (samples, features) or (samples, height, width)"
        raise ConfigError(str(path), names[0], x.shape, reason)
    scale = arrays.default_scale(x) if reading.scale is None else reading.scale
    if reading.downsample > 1:
        x = arrays.downsample(x, reading.downsample, path, names[0])
    features = x.reshape(x.shape[0], -1)
    inputs = arrays.unit_inputs(features, scale, path, names[0])
    if y.ndim == 1:
        labels = arrays.class_labels(y, label_path, names[1])
        classes = arrays.count_classes(labels, reading.classes)
        targets = arrays.one_hot(labels, classes, label_path, names[1])
    elif y.ndim == 2:
        if reading.classes is not None and y.shape[1] != reading.classes:
            reason = f"{y.shape[1]} target columns, but task.classes is {reading.classes}"
            raise ConfigError(str(label_path), names[1], y.shape, reason)
        targets = arrays.finite_numbers(y, label_path, names[1])
        outside = (targets < 0) | (targets > 1)
        if outside.any():
            index = [int(k) for k in np.argwhere(outside)[0]]
            value = float(targets[tuple(index)])
            raise ConfigError(str(label_path), f"{names[1]}{index}", value, "must be in [0, 1]")
    else:
        reason = "must be class labels (samples,) or targets (samples, outputs)"
        raise ConfigError(str(label_path), names[1], y.shape, reason)
    return Task(name, inputs, targets)


def npz_arrays(path: Path, part: str) -> tuple[np.ndarray, np.ndarray, tuple[str, str]]:
    """The raw inputs and labels of ``part`` of an NPZ data set: for training (``""``)
    ``x``/``y``, else ``x_train``/``y_train``; ``"test"``: ``x_test``/``y_test``;
    ``"eval"``: ``x``/``y``, else ``x_test``/``y_test``."""
    problem = file_problem(path)
    if problem is not None:
        raise ConfigError(str(path), "", None, problem)
    try:
        found = read_npz(path, [name for pair in NPZ_LAYOUTS.values() for name in pair])
    except DeephwError as exc:
        raise ConfigError("", "", None, str(exc)) from None
    for layout in NPZ_PARTS[part]:
        names = NPZ_LAYOUTS[layout]
        if set(names) <= set(found):
            return found[names[0]], found[names[1]], names
    expected = " or ".join(" and ".join(NPZ_LAYOUTS[layout]) for layout in NPZ_PARTS[part])
    with zipfile.ZipFile(path) as archive:  # read by read_npz already: a valid archive
        held = sorted(name.removesuffix(".npy") for name in archive.namelist())
    reason = f"needs arrays {expected}; it holds {held}"
    raise ConfigError(str(path), "", None, reason)


def npz_task(path: str | Path, reading: Reading, part: str = "") -> Task:
    """A task from an NPZ data set (see :func:`npz_arrays` for ``part``)."""
    path = Path(path)
    x, y, names = npz_arrays(path, part)
    suffix = f" ({part})" if part == "test" else ""
    return to_task(f"{path.stem}{suffix}", x, y, reading, path, names)


def idx_task(images: str | Path, labels: str | Path, reading: Reading, field: str) -> Task:
    """A task from an IDX file of images and one of labels (``field`` names them)."""
    images, labels = Path(images), Path(labels)
    x = read_idx(images, field, dims=(2, 3))
    y = read_idx(labels, field, dims=(1,))
    return to_task(images.stem, x, y, reading, images, ("images", "labels"), labels)
