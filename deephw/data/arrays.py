"""Checks and transforms shared by the loaders: labels to one-hot targets, input scaling,
block-averaged downsampling and the memory a file's declared size needs.

Each check raises :class:`~deephw.errors.ConfigError` with the file as its source, so
that a bad file reads ``PATH: WHAT = VALUE: REASON`` in one line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deephw.budget import Estimate, enforce
from deephw.errors import ConfigError

CHUNK = 8192
"""Images converted to floats at a time, so that peak memory stays near the result's."""


def need_memory(path: Path, what: str, shape: tuple[int, ...], bytes_per_value: float) -> None:
    """Refuse (one line naming ``path``) data whose declared ``shape`` would not fit in
    memory at ``bytes_per_value`` bytes per value (see :func:`deephw.budget.enforce`)."""
    values = float(np.prod([float(n) for n in shape]))
    enforce(
        Estimate(memory_bytes=values * bytes_per_value),
        source=str(path),
        field=what,
        value=tuple(int(n) for n in shape),
    )


def finite_numbers(values: np.ndarray, path: Path, what: str) -> np.ndarray:
    """``values`` as float64, refusing booleans and non-finite values."""
    if values.dtype.kind not in "iuf":
        raise ConfigError(str(path), what, str(values.dtype), "must hold numbers")
    out = np.asarray(values, dtype=float)
    bad = ~np.isfinite(out)
    if bad.any():
        index = tuple(int(k) for k in np.argwhere(bad)[0])
        raise ConfigError(str(path), f"{what}{list(index)}", float(out[index]), "must be finite")
    return out


def default_scale(values: np.ndarray) -> float:
    """The divisor that maps raw inputs to [0, 1] when ``task.scale`` is not given:
    255 for unsigned bytes (image files), 1 otherwise."""
    return 255.0 if values.dtype == np.uint8 else 1.0


def unit_inputs(x: np.ndarray, scale: float | None, path: Path, what: str) -> np.ndarray:
    """Inputs ``x`` divided by ``scale`` (see :func:`default_scale`), checked in [0, 1]."""
    divisor = default_scale(x) if scale is None else float(scale)
    out = finite_numbers(x, path, what)
    if divisor != 1.0:
        out = out / divisor
    outside = (out < 0) | (out > 1)
    if outside.any():
        index = tuple(int(k) for k in np.argwhere(outside)[0])
        raw = float(out[index] * divisor)
        hint = "" if divisor != 1.0 else " (set task.scale to divide them, e.g. 255)"
        given = "" if divisor == 1.0 else f" once divided by {divisor:g}"
        raise ConfigError(
            str(path), f"{what}{list(index)}", raw, f"inputs must be in [0, 1]{given}{hint}"
        )
    return out


def downsample(images: np.ndarray, factor: int, path: Path, what: str) -> np.ndarray:
    """``(N, H, W)`` images averaged over ``factor x factor`` blocks, as float64
    ``(N, H / factor, W / factor)``; converted in chunks of :data:`CHUNK` images."""
    if images.ndim != 3:
        reason = f"downsampling (task.downsample = {factor}) needs (N, H, W) images"
        raise ConfigError(str(path), what, images.shape, reason)
    n, height, width = images.shape
    if height % factor or width % factor:
        reason = f"{height}x{width} images do not split into {factor}x{factor} blocks"
        raise ConfigError(str(path), "task.downsample", factor, reason)
    h, w = height // factor, width // factor
    out = np.empty((n, h, w))
    for start in range(0, n, CHUNK):
        part = finite_numbers(images[start : start + CHUNK], path, what)
        out[start : start + CHUNK] = part.reshape(-1, h, factor, w, factor).mean(axis=(2, 4))
    return out


def one_hot(labels: np.ndarray, classes: int, path: Path, what: str) -> np.ndarray:
    """``(N, classes)`` one-hot targets of integer ``labels`` in ``0 .. classes - 1``."""
    labels = class_labels(labels, path, what)
    outside = (labels < 0) | (labels >= classes)
    if outside.any():
        k = int(np.argmax(outside))
        reason = f"outside the classes 0..{classes - 1}"
        raise ConfigError(str(path), f"{what}[{k}]", int(labels[k]), reason)
    out = np.zeros((labels.size, classes))
    out[np.arange(labels.size), labels] = 1.0
    return out


def class_labels(labels: np.ndarray, path: Path, what: str) -> np.ndarray:
    """``labels`` (1-D, integers or integral floats) as int64, else one line naming the file."""
    if labels.ndim != 1:
        raise ConfigError(str(path), what, labels.shape, "class labels must be one per sample")
    if labels.dtype.kind == "f":
        values = finite_numbers(labels, path, what)
        fractional = values != np.round(values)
        if fractional.any():
            k = int(np.argmax(fractional))
            raise ConfigError(str(path), f"{what}[{k}]", float(values[k]), "not a class number")
        labels = values
    elif labels.dtype.kind not in "iu":
        raise ConfigError(str(path), what, str(labels.dtype), "class labels must be integers")
    if labels.size and labels.min() < 0:
        k = int(np.argmin(labels))
        raise ConfigError(str(path), f"{what}[{k}]", labels[k].item(), "labels must be >= 0")
    return labels.astype(np.int64)


def count_classes(labels: np.ndarray, classes: int | None) -> int:
    """``classes`` if given, else the largest label + 1 (at least 2)."""
    return classes if classes is not None else max(int(labels.max(initial=0)) + 1, 2)


def paired(x: np.ndarray, y: np.ndarray, path: Path, other: Path | None = None) -> None:
    """Refuse inputs and targets (or labels) whose sample counts differ."""
    if x.shape[0] != y.shape[0]:
        where = f"{path} and {other}" if other is not None else str(path)
        reason = f"{x.shape[0]} samples of inputs but {y.shape[0]} of labels or targets"
        raise ConfigError(where, "", None, reason)
    if x.shape[0] == 0:
        raise ConfigError(str(path), "", None, "holds no samples")
