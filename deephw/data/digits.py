"""The built-in ``digits`` data set: scikit-learn's 8x8 handwritten digits.

1797 images of 64 pixels (values 0..16, scaled to [0, 1]) with their digit 0..9 as 10
one-hot outputs; it ships inside scikit-learn (no download). The split is fixed: a
stratified draw of :data:`TEST_SIZE` test images from ``default_rng(SPLIT_SEED)``, the
other 1347 for training; it is computed here, not by scikit-learn's splitters, so that
it does not change with scikit-learn's version.
"""

from __future__ import annotations

import numpy as np

from deephw.data.task import Task

NAME = "digits"
"""The name a run config gives it (``task.name: digits``)."""

TEST_SIZE = 450
"""Images held out for testing (1347 remain for training)."""

SPLIT_SEED = 2018
"""Seed of the fixed stratified split."""

LEVELS = 16.0
"""The largest pixel value of the images."""


def stratified_split(
    labels: np.ndarray, test_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and test indices; each class gives the test set its share of
    ``test_size`` (largest remainders settle the rounding), drawn from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    share = counts * test_size / labels.size
    take = np.floor(share).astype(int)
    short = test_size - take.sum()
    take[np.argsort(-(share - take), kind="stable")[:short]] += 1
    test = np.concatenate(
        [
            rng.permutation(np.flatnonzero(labels == c))[:k]
            for c, k in zip(classes, take, strict=True)
        ]
    )
    is_test = np.zeros(labels.size, dtype=bool)
    is_test[test] = True
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def load() -> tuple[Task, Task]:
    """The training (1347) and test (450) parts of the digits."""
    from sklearn.datasets import load_digits  # scikit-learn is slow to import: only here

    data = load_digits()
    x = np.asarray(data.data, dtype=float) / LEVELS
    labels = np.asarray(data.target, dtype=np.int64)
    y = np.eye(10)[labels]
    train, test = stratified_split(labels, TEST_SIZE, SPLIT_SEED)
    return Task(NAME, x[train], y[train]), Task(f"{NAME} (test)", x[test], y[test])
