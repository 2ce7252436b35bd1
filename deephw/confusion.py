"""Confusion matrices of class tasks: counts per true and predicted class, CSV and figure.

A sample's predicted class is its largest output, its true class its target's largest
(``task.accuracy: argmax``). ``confusion.csv`` holds the counts per seed; the figure
shows them summed over the seeds, each row as percentages of its true class.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from deephw.plotting import plt


def confusion_counts(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``(S, K, K)`` counts: ``[s, true, predicted]`` of outputs ``(S, B, K)`` against
    targets ``(B, K)``."""
    n_copies, _, classes = outputs.shape
    true = np.broadcast_to(targets.argmax(axis=-1), outputs.shape[:2])
    predicted = outputs.argmax(axis=-1)
    flat = (np.arange(n_copies)[:, None] * classes + true) * classes + predicted
    counts = np.bincount(flat.ravel(), minlength=n_copies * classes * classes)
    return counts.reshape(n_copies, classes, classes)


def confusion_csv(counts: np.ndarray, seeds: np.ndarray) -> str:
    """Rows ``seed, true, predicted, count`` (every pair, zeros included)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["seed", "true", "predicted", "count"])
    for k, seed in enumerate(seeds):
        for (true, predicted), count in np.ndenumerate(counts[k]):
            writer.writerow([int(seed), true, predicted, int(count)])
    return out.getvalue()


def confusion_figure(counts: np.ndarray, title: str) -> plt.Figure:
    """The counts ``(S, K, K)`` summed over seeds, each row in % of its true class."""
    total = counts.sum(axis=0)
    per_row = total.sum(axis=1, keepdims=True)
    share = 100.0 * total / np.maximum(per_row, 1)
    classes = total.shape[0]
    side = min(3.0 + 0.45 * classes, 12.0)
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=100)
    fig.colorbar(image, ax=ax, label="% of the true class")
    if classes <= 20:
        for (true, predicted), value in np.ndenumerate(share):
            if total[true, predicted]:
                color = "white" if value > 60 else "black"
                ax.text(
                    predicted,
                    true,
                    f"{value:.0f}",
                    ha="center",
                    va="center",
                    color=color,
                    fontsize=7,
                )
    ticks = np.arange(classes)
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_xlabel("predicted class (largest output)")
    ax.set_ylabel("true class")
    right = np.trace(total) / max(total.sum(), 1)
    ax.set_title(
        f"{title}\naccuracy {100 * right:.1f} % over {counts.shape[0]} seed(s)", fontsize=10
    )
    fig.tight_layout()
    return fig
