"""Write irdrop_bars64.csv: a 64-input task for the IR-drop study (8 x 8 bars).

Each pattern is an 8 x 8 image (pixels p0..p63, row-major) holding one or two full
horizontal or vertical bars, with 5 % of the pixels flipped; the targets are one-hot,
``horizontal`` or ``vertical``. 32 patterns, 16 per class, drawn from a fixed seed:
``python examples/irdrop_bars64_make.py`` rewrites the same file.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def patterns(seed: int = 11, per_class: int = 16, flip: float = 0.05) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    rows = []
    for vertical in (0, 1):
        for _ in range(per_class):
            image = np.zeros((8, 8))
            for line in rng.choice(8, size=rng.integers(1, 3), replace=False):
                if vertical:
                    image[:, line] = 1
                else:
                    image[line, :] = 1
            image = np.abs(image - (rng.random((8, 8)) < flip))
            rows.append([*image.ravel(), 1 - vertical, vertical])
    return rows


if __name__ == "__main__":
    out = Path(__file__).with_name("irdrop_bars64.csv")
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*(f"p{k}" for k in range(64)), "horizontal", "vertical"])
        writer.writerows([[f"{v:g}" for v in row] for row in patterns()])
