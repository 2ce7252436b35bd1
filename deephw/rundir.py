"""Run directories: what ``deephw train`` writes and ``deephw eval`` reads.

A run directory holds ``config.yaml`` (resolved; the files it names are copied into
``data/``, so the directory can be moved), ``metrics.csv``
(one row per epoch and seed), ``weights.npz`` (seeds, initial and final weights, masks),
``devices.npz`` (the crossbar: every conductance and sampled device parameter),
``events.csv`` (events per epoch, seed and device group), ``summary.json`` (final
results per seed and totals, the test accuracy with test data), ``confusion.csv`` for
class tasks, and figures (PNG). Everything a
figure shows can be recomputed from the files beside it.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import stat
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from deephw import atomic, confusion, plotting
from deephw.config import SEED_MAX, RunConfig, from_dict
from deephw.data.npz import read_npz
from deephw.devices.cards import is_card_file
from deephw.errors import DeephwError
from deephw.training import HISTORY_FIELDS, TEST_FIELDS, TrainResult, pulse_total
from deephw.validation import file_problem, read_yaml


def summarize(result: TrainResult) -> dict[str, Any]:
    """Final results per seed and their totals, as JSON-safe data."""
    epochs = result.epochs_to_converge
    reached = epochs[result.converged & (epochs >= 0)]
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
        **({"hardware": hardware_totals(result)} if result.controller is not None else {}),
        **(held_out(result) if result.test is not None else {}),
    }


def held_out(result: TrainResult) -> dict[str, Any]:
    """The final networks' accuracy and MSE on the test data, and on the training data."""
    return {
        "test_patterns": result.test.n_patterns,
        "train_patterns": result.task.n_patterns,
        "train_accuracy_per_seed": [float(v) for v in result.final_accuracy],
        "test_accuracy_per_seed": [float(v) for v in result.test_accuracy],
        "test_mse_per_seed": [float(v) for v in result.test_mse],
        "mean_test_accuracy": float(np.mean(result.test_accuracy)),
    }


def metrics_csv(result: TrainResult) -> str:
    """The per-epoch, per-seed metrics as CSV text (with ``test_mse`` and
    ``test_accuracy`` columns when the run has test data)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    hist = result.history
    tested = [name for name in TEST_FIELDS if name in hist]
    writer.writerow(["epoch", "seed", *HISTORY_FIELDS, "sparsity", *tested])
    n_trainable = result.topology.n_trainable
    for epoch in range(hist["mse"].shape[0]):
        for k, seed in enumerate(result.seeds):
            row = [hist[name][epoch, k] for name in HISTORY_FIELDS]
            sparsity = 1.0 - hist["connections"][epoch, k] / n_trainable
            # test columns are empty in the epochs without an evaluation
            test = [_cell(hist[name][epoch, k]) for name in tested]
            writer.writerow(
                [epoch, int(seed), *(f"{v:.10g}" for v in row), f"{sparsity:.6g}", *test]
            )
    return out.getvalue()


def _cell(value: float) -> str:
    return "" if np.isnan(value) else f"{value:.10g}"


def events_csv(result: TrainResult) -> str:
    """One row per epoch and seed: that epoch's events per device group, energy, clock.

    Columns ``GROUP.EVENT``: the cell's device roles (``G+``, ``G-``, ``g``, or ``G``)
    with their SET, RESET and read counts, and ``cell`` with transfers, refreshes and
    pruned cells; ``energy_pJ`` is the epoch's energy from the card's costs. Counts are
    per epoch, not cumulative; ``chip_time_s`` is the clock at the end of the epoch.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = list(result.events)
    writer.writerow(["epoch", "seed", *names, "chip_time_s"])
    per_epoch = [np.diff(result.events[name], axis=0, prepend=0.0) for name in names]
    for epoch, clock in enumerate(result.chip_time_s):
        for k, seed in enumerate(result.seeds):
            counts = (f"{values[epoch, k]:.10g}" for values in per_epoch)
            writer.writerow([epoch, int(seed), *counts, f"{clock:.10g}"])
    return out.getvalue()


def hardware_totals(result: TrainResult) -> dict[str, Any]:
    """Totals per seed at the end of training: pulses, energy, chip time, per-group events."""
    events = result.events
    pulses = pulse_total({name: values[-1] for name, values in events.items()})
    return {
        "card": result.controller.crossbar.card.name,
        "scheme": result.config.hardware.scheme_name,
        "pulses_per_seed": [float(v) for v in np.atleast_1d(0.0 if pulses is None else pulses)],
        "energy_pJ_per_seed": [float(v) for v in events["energy_pJ"][-1]],
        "chip_time_s": float(result.chip_time_s[-1]),
        "events_per_seed": {k: [float(v) for v in values[-1]] for k, values in events.items()},
        **ir_drop_summary(result),
    }


def ir_drop_summary(result: TrainResult) -> dict[str, Any]:
    """With resistive wires: the card's wires and tiles, and per seed the relative
    mismatch of the measured leak and the dropped outgoing currents of the final
    weights (``TrainResult.seed_metrics``); nothing with ideal wires."""
    imbalance = result.seed_metrics.get("leak_imbalance")
    if imbalance is None:
        return {}
    wires = result.controller.crossbar.card.array
    return {
        "ir_drop": {
            "wire_ohm": wires.wire_ohm,
            "tile": [wires.tile_rows, wires.tile_cols],
            "leak_imbalance_per_seed": [float(v) for v in imbalance],
        }
    }


def named_files(config: RunConfig) -> list[tuple[str, str, str]]:
    """``(section, key, path)`` of every file the config names: the task's data files,
    the adjacency file, a card file (paths as written, relative to the config's folder)."""
    named = (
        *(("task", key, value) for key, value in config.task.files()),
        ("network", "adjacency", config.network.adjacency),
        ("hardware", "card", config.hardware.card if is_card_file(config.hardware.card) else None),
    )
    return [(section, key, value) for section, key, value in named if value is not None]


def portable_config(config: RunConfig, run_dir: Path) -> dict[str, Any]:
    """The config as data, with copies of the files it names inside ``run_dir/data/``.

    The task's data files, the adjacency file and a card file are copied, and the config points
    at the copies with paths relative to the run directory, so the run can be moved.
    """
    data = config.to_dict()
    for section, key, value in named_files(config):
        source = config.resolve(value)
        relative = Path("data") / source.name
        if (run_dir / relative).exists():  # two named files with one name
            relative = Path("data") / f"{section}_{source.name}"
        (run_dir / "data").mkdir(exist_ok=True)
        shutil.copyfile(source, run_dir / relative)
        data[section][key] = relative.as_posix()
    return data


def weights_npz_bytes(
    seeds: np.ndarray,
    weights: np.ndarray,
    mask: np.ndarray,
    structural_mask: np.ndarray,
    initial_weights: np.ndarray | None = None,
) -> bytes:
    """A run's ``weights.npz`` (read back by :func:`read_weights`), compressed."""
    arrays = {"seeds": seeds, "weights": weights, "mask": mask, "structural_mask": structural_mask}
    if initial_weights is not None:
        arrays["initial_weights"] = initial_weights
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def write_run(result: TrainResult, out_dir: str | Path) -> Path:
    """Write a complete run directory atomically (nothing is left at ``out_dir`` on error)."""
    out_dir = Path(out_dir)
    with atomic.new_directory(out_dir) as tmp:
        text = yaml.safe_dump(portable_config(result.config, tmp), sort_keys=False)
        atomic.write_text(tmp / "config.yaml", text)
        atomic.write_text(tmp / "metrics.csv", metrics_csv(result))
        arrays = weights_npz_bytes(
            result.seeds,
            result.weights,
            result.mask,
            result.topology.mask,
            initial_weights=result.initial_weights,
        )
        atomic.write_bytes(tmp / "weights.npz", arrays)
        summary = summarize(result)
        if result.controller is not None:
            result.controller.crossbar.save(tmp / "devices.npz")
            atomic.write_text(tmp / "events.csv", events_csv(result))
            fig = plotting.hardware_figure(
                result.events, result.chip_time_s, plotting.run_title(result)
            )
            plotting.save(fig, tmp / "hardware.png")
        atomic.write_text(tmp / "summary.json", json.dumps(summary, indent=2) + "\n")
        fig = plotting.training_figure(
            result.history,
            result.topology.n_trainable,
            plotting.run_title(result),
            plotting.pruning_window(result.config),
        )
        plotting.save(fig, tmp / "training.png")
        if result.config.task.accuracy == "argmax":
            write_confusion(result, tmp)
        best = int(np.argmin(result.final_mse))
        fig, ax = plotting.plt.subplots(figsize=(5, 4))
        weights, mask = result.weights[best], result.mask[best]
        if mask.sum() > plotting.GRAPH_DRAW_EDGES:
            plotting.draw_weight_matrix(ax, weights, mask)
        else:
            plotting.draw_network(ax, weights, mask, result.topology)
        ax.set_title(
            f"seed {int(result.seeds[best])}: MSE {result.final_mse[best]:.2g}, "
            f"sparsity {100 * result.sparsity[best]:.1f} %"
        )
        plotting.save(fig, tmp / "network.png")
    return out_dir


def write_confusion(result: TrainResult, run_dir: Path) -> None:
    """``confusion.csv`` and ``confusion.png`` of the final networks: on the test data,
    or on the training data when the run has none."""
    on_test = result.test is not None
    outputs = result.test_outputs if on_test else result.final_outputs
    targets = (result.test if on_test else result.task).y
    counts = confusion.confusion_counts(outputs, targets)
    atomic.write_text(run_dir / "confusion.csv", confusion.confusion_csv(counts, result.seeds))
    data = "test data" if on_test else "training data (the run has no test data)"
    fig = confusion.confusion_figure(counts, f"{result.task.name}: final networks on the {data}")
    plotting.save(fig, run_dir / "confusion.png")


def load_run(run_dir: str | Path) -> tuple[RunConfig, dict[str, np.ndarray]]:
    """The config and the arrays of ``weights.npz`` of a run directory."""
    run_dir = Path(run_dir)
    try:
        what = None if stat.S_ISDIR(run_dir.stat().st_mode) else "is not a directory"
    except (FileNotFoundError, NotADirectoryError):
        what = "does not exist"
    except OSError as exc:
        what = f"cannot be read ({exc.strerror})"
    if what is not None:
        raise DeephwError(f"{run_dir}: {what} (expected a run directory from deephw train)")
    config_path = run_dir / "config.yaml"
    weights_path = run_dir / "weights.npz"
    for path in (config_path, weights_path):
        problem = file_problem(path)
        if problem == "file does not exist":
            raise DeephwError(f"{run_dir}: not a run directory ({path.name} is missing)")
        if problem is not None:
            raise DeephwError(f"{path}: {problem}")
    data = read_yaml(config_path)
    config = from_dict(data, str(config_path), run_dir)
    return config, read_weights(weights_path)


WEIGHT_ARRAYS = ("seeds", "weights", "mask")
"""The arrays of ``weights.npz`` that every reader needs."""


def read_weights(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a ``weights.npz``, checked before and after they are read.

    Before: the file is a ZIP of ``.npy`` arrays (never pickles), each array's header
    declares a number or boolean type and a size that fits in memory. After: ``seeds`` is
    a non-empty list of seeds in ``0 .. 2**63 - 1``; ``weights`` is ``(S, N, N)`` and
    finite; ``mask`` has the shape of ``weights`` and holds 0/1. Every problem is one
    :class:`DeephwError` naming the file and the array.
    """
    path = Path(path)
    arrays = read_npz(path)
    for key in WEIGHT_ARRAYS:
        if key not in arrays:
            raise DeephwError(f"{path}: array {key!r} is missing")
    seeds, weights, mask = (arrays[key] for key in WEIGHT_ARRAYS)
    if seeds.ndim != 1 or seeds.size == 0 or seeds.dtype.kind not in "iu":
        raise DeephwError(
            f"{path}: array 'seeds' must be a non-empty list of integers, "
            f"got {seeds.dtype} of shape {seeds.shape}"
        )
    outside = (seeds < 0) | (seeds > SEED_MAX)
    if outside.any():
        raise DeephwError(
            f"{path}: array 'seeds' holds {int(seeds[outside][0])}: seeds are integers in "
            f"0..{SEED_MAX}"
        )
    expected = f"({seeds.size}, N, N) for its {seeds.size} seed(s)"
    if weights.ndim != 3 or weights.shape[0] != seeds.size or weights.shape[1] != weights.shape[2]:
        raise DeephwError(f"{path}: array 'weights' has shape {weights.shape}, not {expected}")
    if weights.dtype.kind == "b":
        raise DeephwError(f"{path}: array 'weights' holds booleans, not numbers")
    if not np.isfinite(weights).all():
        k, i, j = (int(v) for v in np.argwhere(~np.isfinite(weights))[0])
        raise DeephwError(
            f"{path}: array 'weights' holds {weights[k, i, j]} at seed {int(seeds[k])}, "
            f"entry [{i}, {j}]: weights must be finite"
        )
    if mask.shape != weights.shape or not np.isin(mask, (0, 1)).all():
        raise DeephwError(
            f"{path}: array 'mask' must hold 0/1 in the shape of 'weights' {weights.shape}, "
            f"got {mask.dtype} of shape {mask.shape}"
        )
    arrays["mask"] = mask.astype(bool)
    return arrays
