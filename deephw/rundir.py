"""Run directories: what ``deephw train`` writes and ``deephw eval`` reads.

A run directory holds ``config.yaml`` (resolved, with absolute paths), ``metrics.csv``
(one row per epoch and seed), ``weights.npz`` (seeds, initial and final weights, masks),
``summary.json`` (final results per seed and totals) and figures (PNG). Everything a
figure shows can be recomputed from the files beside it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from deephw import atomic, plotting
from deephw.config import RunConfig, from_dict
from deephw.errors import DeephwError
from deephw.training import HISTORY_FIELDS, TrainResult


def summarize(result: TrainResult) -> dict[str, Any]:
    """Final results per seed and their totals, as JSON-safe data."""
    epochs = result.epochs_to_converge
    reached = epochs[epochs >= 0]
    solved = result.correct
    return {
        "seeds": len(result.seeds),
        "seed_values": [int(s) for s in result.seeds],
        "converged": int(result.converged.sum()),
        "correct": int(solved.sum()),
        "converged_per_seed": [bool(v) for v in result.converged],
        "correct_per_seed": [bool(v) for v in solved],
        "final_mse_per_seed": [float(v) for v in result.final_mse],
        "accuracy_per_seed": [float(v) for v in result.final_accuracy],
        "epochs_to_converge_per_seed": [int(v) if v >= 0 else None for v in epochs],
        "median_epochs_to_converge": float(np.median(reached)) if len(reached) else None,
        "sparsity_per_seed": [float(v) for v in result.sparsity],
        "median_sparsity_of_correct": (
            float(np.median(result.sparsity[solved])) if solved.any() else None
        ),
        "prop2_final_per_seed": [bool(v) for v in result.history["prop2"][-1]],
        "trainable_parameters": result.topology.n_trainable,
    }


def metrics_csv(result: TrainResult) -> str:
    """The per-epoch, per-seed metrics as CSV text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", "seed", *HISTORY_FIELDS, "sparsity"])
    hist = result.history
    n_trainable = result.topology.n_trainable
    for epoch in range(hist["mse"].shape[0]):
        for k, seed in enumerate(result.seeds):
            row = [hist[name][epoch, k] for name in HISTORY_FIELDS]
            sparsity = 1.0 - hist["connections"][epoch, k] / n_trainable
            writer.writerow([epoch, int(seed), *(f"{v:.10g}" for v in row), f"{sparsity:.6g}"])
    return out.getvalue()


def resolved_config(config: RunConfig) -> dict[str, Any]:
    """The config as data, with the files it names made absolute."""
    data = config.to_dict()
    if config.task.csv is not None:
        data["task"]["csv"] = str(config.resolve(config.task.csv).resolve())
    if config.network.adjacency is not None:
        data["network"]["adjacency"] = str(config.resolve(config.network.adjacency).resolve())
    return data


def write_run(result: TrainResult, out_dir: str | Path) -> Path:
    """Write a complete run directory atomically (nothing is left at ``out_dir`` on error)."""
    out_dir = Path(out_dir)
    with atomic.new_directory(out_dir) as tmp:
        text = yaml.safe_dump(resolved_config(result.config), sort_keys=False)
        atomic.write_text(tmp / "config.yaml", text)
        atomic.write_text(tmp / "metrics.csv", metrics_csv(result))
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            seeds=result.seeds,
            weights=result.weights,
            mask=result.mask,
            initial_weights=result.initial_weights,
            structural_mask=result.topology.mask,
        )
        atomic.write_bytes(tmp / "weights.npz", buffer.getvalue())
        summary = summarize(result)
        atomic.write_text(tmp / "summary.json", json.dumps(summary, indent=2) + "\n")
        title = f"{result.task.name}: {result.config.learning.rule}, {len(result.seeds)} seeds"
        fig = plotting.training_figure(result.history, result.topology.n_trainable, title)
        plotting.save(fig, tmp / "training.png")
        best = int(np.argmin(result.final_mse))
        fig, ax = plotting.plt.subplots(figsize=(5, 4))
        plotting.draw_network(ax, result.weights[best], result.mask[best], result.topology)
        ax.set_title(
            f"seed {int(result.seeds[best])}: MSE {result.final_mse[best]:.2g}, "
            f"sparsity {100 * result.sparsity[best]:.1f} %"
        )
        plotting.save(fig, tmp / "network.png")
    return out_dir


def load_run(run_dir: str | Path) -> tuple[RunConfig, dict[str, np.ndarray]]:
    """The config and the arrays of ``weights.npz`` of a run directory."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    weights_path = run_dir / "weights.npz"
    for path in (config_path, weights_path):
        if not path.is_file():
            raise DeephwError(f"{run_dir}: not a run directory ({path.name} is missing)")
    data = yaml.safe_load(config_path.read_text())
    config = from_dict(data, str(config_path), run_dir)
    try:
        with np.load(weights_path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as exc:
        raise DeephwError(f"{weights_path}: cannot read ({exc})") from None
    for key in ("seeds", "weights", "mask"):
        if key not in arrays:
            raise DeephwError(f"{weights_path}: array {key!r} is missing")
    return config, arrays
