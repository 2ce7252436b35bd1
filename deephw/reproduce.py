"""The paper's experiments: AND, OR, XOR on its graph, dense and pruned, vs asymmetric EP.

Graph: 2 inputs + bias, 5 hidden, 1 output (48 trainable parameters). Dense runs use
W ~ U(0, 0.25), dt 0.5, M0 100, Mb 20, beta 1.5, lr 10, full batch, 1500 epochs. The
pruned runs train 3500 epochs with L1 and Boltzmann pruning (T = 0.1) switched on once
the task is learned and off before the end. Asymmetric EP runs on the same graph and
hyperparameters, once with DEEP's learning rate and once with its own best (1);
symmetric EP (``sym_ep``, tied weights) with its own best learning rate (1).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deephw import atomic, plotting, runpool
from deephw.config import RunConfig, from_dict
from deephw.digits_study import card_hardware
from deephw.estimate import RunEstimate, combine, estimate_run
from deephw.results_tables import results_markdown
from deephw.rundir import summarize, write_run
from deephw.runpool import Job
from deephw.training import TrainResult, load_task

TASKS = ("AND", "OR", "XOR")
DENSE_EPOCHS = 1500
SPARSE_EPOCHS = 3500
ASYM_EP_OWN_LR = 1.0
SYM_EP_LR = 1.0
"""Symmetric EP's best of lr 0.1, 0.3, 1, 3 on seeds 100-109 (all three tasks converged
on every seed up to lr 1, fastest at 1; lr 3 lost OR and XOR seeds)."""


@dataclass(frozen=True)
class PruningSetup:
    """Per-task pruning: threshold lambda, L1 per epoch, and the pruning window.

    The window is given as fractions of the run's epochs, so that ``--epochs`` scales it.
    """

    threshold: float
    l1: float
    start_fraction: float
    stop_fraction: float


PRUNING = {
    "AND": PruningSetup(threshold=0.03, l1=2e-4, start_fraction=300 / 3500, stop_fraction=6 / 7),
    "OR": PruningSetup(threshold=0.05, l1=1e-4, start_fraction=1000 / 3500, stop_fraction=6 / 7),
    "XOR": PruningSetup(threshold=0.2, l1=1.5e-4, start_fraction=500 / 3500, stop_fraction=6 / 7),
}


def experiment_configs(
    task: str, epochs: int, seeds: int, seed: int, engine: str = "numpy"
) -> dict[str, RunConfig]:
    """The runs of one task: ``deep``, ``asym_ep``, ``asym_ep_own_lr``, ``sym_ep``,
    ``deep_sparse``.

    ``epochs`` is the dense runs' length; the pruned run is ``SPARSE_EPOCHS / DENSE_EPOCHS``
    times longer.
    """
    base = {
        "task": {"name": task},
        "network": {"hidden": 5, "topology": "complete"},
        "training": {"epochs": epochs, "seeds": seeds, "seed": seed},
        "engine": {"name": engine},
    }
    sparse_epochs = max(1, round(epochs * SPARSE_EPOCHS / DENSE_EPOCHS))
    setup = PRUNING[task]
    sparse = {
        **base,
        "training": {**base["training"], "epochs": sparse_epochs},
        "learning": {"rule": "deep", "l1": setup.l1},
        "pruning": {
            "enabled": True,
            "threshold": setup.threshold,
            "temperature": 0.1,
            "start_epoch": int(sparse_epochs * setup.start_fraction),
            "stop_epoch": int(sparse_epochs * setup.stop_fraction),
        },
    }
    return {
        "deep": from_dict({**base, "learning": {"rule": "deep"}}),
        "asym_ep": from_dict({**base, "learning": {"rule": "asym_ep"}}),
        "asym_ep_own_lr": from_dict(
            {**base, "learning": {"rule": "asym_ep", "lr": ASYM_EP_OWN_LR}}
        ),
        "sym_ep": from_dict({**base, "learning": {"rule": "sym_ep", "lr": SYM_EP_LR}}),
        "deep_sparse": from_dict(sparse),
    }


def run_all(
    epochs: int = DENSE_EPOCHS,
    seeds: int = 10,
    seed: int = 0,
    engine: str = "numpy",
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
) -> dict[str, dict[str, TrainResult]]:
    """Train every experiment of every task; ``results[task][experiment]``."""
    return train_all(epochs, seeds, seed, engine, workers=workers, progress=progress)[0]


def card_configs(
    card: str, task: str, epochs: int, seeds: int, seed: int, engine: str = "numpy"
) -> dict[str, RunConfig]:
    """DEEP dense and pruned on one device card: the paper's setup on a chip.

    Cards with a fast device (the Ambrogio cell) use the ``hybrid`` scheme, the others
    ``digital`` accumulation with stochastic rounding.
    """
    runs = experiment_configs(task, epochs, seeds, seed, engine)
    hardware = card_hardware(card)
    return {name: runs[name].replace(hardware=hardware) for name in ("deep", "deep_sparse")}


def run_cards(
    cards: list[str],
    epochs: int = DENSE_EPOCHS,
    seeds: int = 10,
    seed: int = 0,
    engine: str = "numpy",
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
) -> dict[str, dict[str, dict[str, TrainResult]]]:
    """The card study: ``results[card][task][run]`` for ``run`` in ``deep``, ``deep_sparse``."""
    return train_all(
        epochs, seeds, seed, engine, cards, workers=workers, progress=progress, paper=False
    )[1]


def plan(
    epochs: int,
    seeds: int,
    seed: int,
    engine: str = "numpy",
    cards: Sequence[str] = (),
    runs_dir: Path | None = None,
    paper: bool = True,
) -> list[tuple[tuple[str, ...], Job]]:
    """Every run of a reproduction, keyed ``(task, run)`` or ``(card, task, run)``.

    With ``runs_dir``, each job writes its run directory there: ``TASK_RUN`` and
    ``cards/CARD/TASK_RUN``. ``paper=False`` leaves out the paper's experiments.
    """
    planned = []
    for task in TASKS if paper else ():
        for name, config in experiment_configs(task, epochs, seeds, seed, engine).items():
            planned.append(((task, name), f"{task}_{name}", config))
    for card in cards:
        for task in TASKS:
            for name, config in card_configs(card, task, epochs, seeds, seed, engine).items():
                planned.append(((card, task, name), f"cards/{card}/{task}_{name}", config))
    return [
        (key, Job(label, config, None if runs_dir is None else runs_dir / label))
        for key, label, config in planned
    ]


def train_all(
    epochs: int = DENSE_EPOCHS,
    seeds: int = 10,
    seed: int = 0,
    engine: str = "numpy",
    cards: Sequence[str] = (),
    *,
    workers: int = 1,
    runs_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    status: Callable[[str], None] | None = None,
    paper: bool = True,
) -> tuple[dict[str, dict[str, TrainResult]], dict[str, dict[str, dict[str, TrainResult]]]]:
    """Train the paper's experiments and the card study of ``cards`` on ``workers`` processes.

    Returns ``results[task][run]`` and ``card_results[card][task][run]``; each run's
    results are the same for any number of workers. With ``runs_dir``, each run's
    directory is written there as soon as it is trained (see :func:`plan`).
    """
    planned = plan(epochs, seeds, seed, engine, cards, runs_dir, paper)
    return train_planned(planned, workers, progress, status)


def train_planned(
    planned: list[tuple[tuple[str, ...], Job]],
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    status: Callable[[str], None] | None = None,
) -> tuple[dict[str, dict[str, TrainResult]], dict[str, dict[str, dict[str, TrainResult]]]]:
    """Train the jobs of a :func:`plan` (or of another protocol's); results by their keys."""
    trained = runpool.run_jobs([job for _, job in planned], workers, progress, status)
    results: dict[str, dict[str, TrainResult]] = {}
    card_results: dict[str, dict[str, dict[str, TrainResult]]] = {}
    for (key, _), result in zip(planned, trained, strict=True):
        if len(key) == 2:
            results.setdefault(key[0], {})[key[1]] = result
        else:
            card_results.setdefault(key[0], {}).setdefault(key[1], {})[key[2]] = result
    return results, card_results


def total_epochs(epochs: int, seeds: int, seed: int, cards: Sequence[str] = ()) -> int:
    """Epochs over all experiments, and over the card study of ``cards`` (progress bar)."""
    return sum(job.config.training.epochs for _, job in plan(epochs, seeds, seed, cards=cards))


def estimate(
    epochs: int, seeds: int, seed: int, engine: str, cards: Sequence[str] = ()
) -> RunEstimate:
    """What every run of a reproduction needs together: memory, work and output bytes."""
    return estimate_configs(
        [job.config for _, job in plan(epochs, seeds, seed, engine, cards=cards)]
    )


def estimate_configs(configs: Sequence[RunConfig]) -> RunEstimate:
    """What the runs of ``configs`` need together: memory, work and output bytes."""
    return combine([estimate_run(config, load_task(config)) for config in configs])


def summary(results: dict[str, dict[str, TrainResult]]) -> dict[str, Any]:
    """``{"tasks": {task: {experiment: {...}}}}`` with each run's :func:`summarize`."""
    tasks = {}
    for task, runs in results.items():
        tasks[task] = {}
        for name, result in runs.items():
            entry = summarize(result)
            entry["rule"] = result.config.learning.rule
            entry["lr"] = result.config.learning.lr
            entry["epochs"] = result.config.training.epochs
            entry.update(pruning_outcome(result))
            tasks[task][name] = entry
    return {"tasks": tasks}


def pruning_outcome(result: TrainResult) -> dict[str, int | None]:
    """How pruning changed a run's seeds (``None`` for a run without pruning).

    ``correct_when_pruning_started``: seeds that classified every pattern right at the
    pruning start epoch (the metrics of an epoch are read before its update and its
    pruning); ``killed_by_pruning``: those of them that no longer do at the end. A
    seed that never learned the task is not counted as killed.
    """
    prune = result.config.pruning
    epochs = result.history["accuracy"].shape[0]
    if not prune.enabled or prune.start_epoch >= epochs:
        return {"correct_when_pruning_started": None, "killed_by_pruning": None}
    before = result.history["accuracy"][prune.start_epoch] >= 1.0
    return {
        "correct_when_pruning_started": int(before.sum()),
        "killed_by_pruning": int((before & ~result.correct).sum()),
    }


def figure_convergence(results: dict[str, dict[str, TrainResult]]) -> plotting.plt.Figure:
    """Fig. 1: free-phase MSE per epoch for AND, OR and XOR (median, quartiles, range)."""
    fig, axes = plotting.plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
    for ax, task in zip(axes, TASKS, strict=True):
        result = results[task]["deep"]
        plotting.spread_bands(ax, plotting.floored(result.history["mse"]), "C0", "DEEP")
        threshold = result.config.training.converged_mse
        ax.axhline(
            threshold, color="k", lw=0.8, ls=":", label=f"convergence threshold (MSE {threshold:g})"
        )
        ax.set_title(f"{task}: {result.converged.sum()}/{len(result.seeds)} converged")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    plotting.mse_axis(axes[0], "free-phase MSE")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def figure_sparse(results: dict[str, dict[str, TrainResult]]) -> plotting.plt.Figure:
    """Fig. 2: the sparsest correct pruned network of each task."""
    fig, axes = plotting.plt.subplots(1, 3, figsize=(13, 4.2))
    for ax, task in zip(axes, TASKS, strict=True):
        result = results[task]["deep_sparse"]
        order = np.argsort(-result.sparsity, kind="stable")
        ranked = [k for k in order if result.correct[k]] or list(order)
        best = int(ranked[0])
        plotting.draw_network(ax, result.weights[best], result.mask[best], result.topology)
        state = "correct" if result.correct[best] else "NOT correct"
        ax.set_title(
            f"{task}: seed {int(result.seeds[best])}, sparsity "
            f"{100 * result.sparsity[best]:.2f} % ({state})"
        )
    fig.tight_layout()
    return fig


def figure_comparison(results: dict[str, dict[str, TrainResult]]) -> plotting.plt.Figure:
    """DEEP vs asymmetric EP (DEEP's lr and its own) on the same graph: MSE per epoch.

    Each panel's title gives how many seeds of each run converged; one legend below the
    panels names the runs.
    """
    fig, axes = plotting.plt.subplots(1, 3, figsize=(13, 4.3), sharey=True)
    runs = (
        ("deep", "C0", "DEEP (lr {lr:g})", "DEEP"),
        ("asym_ep", "C3", "asym. EP at DEEP's lr ({lr:g})", "asym. EP (lr {lr:g})"),
        ("asym_ep_own_lr", "C2", "asym. EP at its own lr ({lr:g})", "asym. EP (lr {lr:g})"),
    )
    for ax, task in zip(axes, TASKS, strict=True):
        counts = []
        for name, color, label, short in runs:
            result = results[task][name]
            mse = plotting.floored(result.history["mse"])
            q = np.quantile(mse, [0.25, 0.5, 0.75], axis=1)
            epochs = np.arange(1, q.shape[1] + 1)
            lr = result.config.learning.lr
            ax.fill_between(epochs, q[0], q[2], color=color, alpha=0.25, lw=0)
            ax.plot(epochs, q[1], color=color, lw=1.4, label=label.format(lr=lr))
            counts.append(f"{short.format(lr=lr)} {result.converged.sum()}")
        threshold = results[task]["deep"].config.training.converged_mse
        ax.axhline(
            threshold, color="k", lw=0.8, ls=":", label=f"convergence threshold (MSE {threshold:g})"
        )
        seeds = len(results[task]["deep"].seeds)
        ax.set_title(f"{task}: seeds converged (out of {seeds})\n{', '.join(counts)}", fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    plotting.mse_axis(axes[0], "free-phase MSE (median, q25-q75)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


FIGURES = {
    "fig1_convergence.png": figure_convergence,
    "fig2_sparse_networks.png": figure_sparse,
    "deep_vs_asym_ep.png": figure_comparison,
}
"""The figures of a reproduction, by file name."""


def setup_line(results: dict[str, dict[str, TrainResult]]) -> str:
    """What the runs of ``results`` were: seeds, epochs, engine (the line atop results.md)."""
    dense = next(iter(results.values()))["deep"]
    sparse = next(iter(results.values()))["deep_sparse"]
    seeds = dense.seeds
    first, last = int(seeds[0]), int(seeds[-1])
    span = f"seed {first}" if len(seeds) == 1 else f"seeds {first}–{last}"
    return (
        f"{span.capitalize()}; dense runs {dense.config.training.epochs} epochs, pruned runs "
        f"{sparse.config.training.epochs}; {dense.config.engine.name} engine."
    )


def write_outputs(
    results: dict[str, dict[str, TrainResult]],
    directory: Path,
    card_results: dict[str, dict[str, dict[str, TrainResult]]] | None = None,
    say: Callable[[str], None] | None = None,
) -> None:
    """Write ``summary.json``, ``results.md``, the figures (and ``cards_summary.json``).

    ``say`` is called with a line before each step, so that a user sees what happens.
    """
    say = say or (lambda text: None)
    report = summary(results)
    cards_report = None
    names = "summary.json and results.md"
    if card_results:
        cards_report = {card: summary(by_task) for card, by_task in card_results.items()}
        names = "summary.json, cards_summary.json and results.md"
    say(f"writing {names}")
    atomic.write_text(directory / "summary.json", json.dumps(report, indent=2) + "\n")
    if cards_report:
        atomic.write_text(
            directory / "cards_summary.json", json.dumps(cards_report, indent=2) + "\n"
        )
    markdown = results_markdown(report, cards_report, setup=setup_line(results))
    atomic.write_text(directory / "results.md", markdown)
    for name, draw in FIGURES.items():
        say(f"drawing {name}")
        plotting.save(draw(results), directory / name)


def write_reproduction(
    results: dict[str, dict[str, TrainResult]],
    out_dir: str | Path,
    card_results: dict[str, dict[str, dict[str, TrainResult]]] | None = None,
) -> Path:
    """Write figures, ``summary.json``, ``results.md`` and every run directory, atomically.

    With ``card_results`` (:func:`run_cards`), also ``cards_summary.json`` and the card
    study's run directories under ``runs/cards/CARD/TASK_RUN``. (``deephw reproduce``
    has its workers write the run directories instead, see :func:`train_all`.)
    """
    with atomic.new_directory(out_dir) as tmp:
        for task, runs in results.items():
            for name, result in runs.items():
                write_run(result, tmp / "runs" / f"{task}_{name}")
        for card, by_task in (card_results or {}).items():
            for task, runs in by_task.items():
                for name, result in runs.items():
                    write_run(result, tmp / "runs" / "cards" / card / f"{task}_{name}")
        write_outputs(results, tmp, card_results)
    return Path(out_dir)


def table(report: dict[str, Any]) -> str:
    """A plain-text table of a :func:`summary`, one line per task and experiment."""
    lines = [
        f"{'task':<5} {'run':<15} {'lr':>5} {'converged':>9} {'correct':>8} "
        f"{'median ep.':>10} {'median sparsity (correct)':>26}"
    ]
    for task, runs in report["tasks"].items():
        for name, entry in runs.items():
            median_ep = entry["median_epochs_to_converge"]
            sparsity = entry["median_sparsity_of_correct"] if name == "deep_sparse" else None
            converged = f"{entry['converged']}/{entry['seeds']}"
            correct = f"{entry['correct']}/{entry['seeds']}"
            epochs = "-" if median_ep is None else f"{median_ep:g}"
            sparse = "-" if sparsity is None else f"{100 * sparsity:.2f} %"
            lines.append(
                f"{task:<5} {name:<15} {entry['lr']:>5g} {converged:>9} {correct:>8} "
                f"{epochs:>10} {sparse:>26}"
            )
    return "\n".join(lines)


def cards_table(report: dict[str, Any]) -> str:
    """A plain-text table of the card study (``cards_summary.json``)."""
    lines = [
        f"{'card':<18} {'task':<5} {'converged':>9} {'correct':>8} "
        f"{'pruned: correct':>15} {'median sparsity':>15} {'median pulses':>13}"
    ]
    for card, by_card in report.items():
        for task, runs in by_card["tasks"].items():
            dense, sparse = runs["deep"], runs["deep_sparse"]
            sparsity = sparse["median_sparsity_of_correct"]
            pulses = np.median(dense["hardware"]["pulses_per_seed"])
            lines.append(
                f"{card:<18} {task:<5} {dense['converged']:>6}/{dense['seeds']:<2} "
                f"{dense['correct']:>5}/{dense['seeds']:<2} "
                f"{sparse['correct']:>12}/{sparse['seeds']:<2} "
                f"{'-' if sparsity is None else f'{100 * sparsity:.2f} %':>15} {pulses:>13.4g}"
            )
    return "\n".join(lines)
