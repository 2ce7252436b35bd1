"""``deephw reproduce --protocol authors``: AND, OR, XOR at the settings of the authors' notebooks.

The notebooks linked from the paper's repository train the paper's graph (2 inputs +
bias, 5 hidden, 1 output) with dt 0.05, 1000 free and 1000 nudged steps, beta 10,
W ~ N(0, 0.05), 200 epochs, full batch, and differ from deephw's model in three ways,
each an option here (see :mod:`deephw.model`): the L1 shrink takes the sign of the weight
before the update; pruning zeroes connections that can grow back, normalises eq. 3 over
the whole column and prunes every epoch from epoch 0 with ``|W| <= lambda`` (0.01,
T 5); their asymmetric EP keeps a separate bias vector. Three runs per task:

- ``deep``: DEEP, dense, lr 100 (the DEEP notebook's ``dt_W``);
- ``deep_sparse``: the same with their L1 (1.5e-4, sign before) and pruning;
- ``asym_ep``: asymmetric EP with the separate bias, lr 1 (the asymmetric-EP
  notebook's ``dt_W``).

The module offers what :mod:`deephw.reproduce` offers the command line (``TASKS``,
``DENSE_EPOCHS``, :func:`experiment_configs`, :func:`estimate`, :func:`total_epochs`,
:func:`train_all`, :func:`write_outputs`), so that ``--protocol`` only picks the module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from deephw import atomic, plotting, reproduce
from deephw.config import RunConfig, from_dict
from deephw.estimate import RunEstimate
from deephw.results_tables import authors_markdown
from deephw.runpool import Job
from deephw.training import TrainResult

TASKS = reproduce.TASKS
DENSE_EPOCHS = 200
DEEP_LR = 100.0
ASYM_EP_LR = 1.0
L1 = 1.5e-4
PRUNING = {"threshold": 0.01, "temperature": 5.0, "regrow": True, "normaliser": "column"}


def experiment_configs(
    task: str, epochs: int, seeds: int, seed: int, engine: str = "numpy"
) -> dict[str, RunConfig]:
    """The three runs of one task at the notebooks' settings: ``deep``, ``deep_sparse``,
    ``asym_ep`` (all ``epochs`` long)."""
    base = {
        "task": {"name": task},
        "network": {"hidden": 5, "topology": "complete"},
        "init": {"weights": "normal", "std": 0.05},
        "dynamics": {"dt": 0.05, "free_steps": 1000, "nudged_steps": 1000, "beta": 10.0},
        "training": {"epochs": epochs, "seeds": seeds, "seed": seed},
        "engine": {"name": engine},
    }
    return {
        "deep": from_dict({**base, "learning": {"rule": "deep", "lr": DEEP_LR}}),
        "deep_sparse": from_dict(
            {
                **base,
                "learning": {"rule": "deep", "lr": DEEP_LR, "l1": L1, "l1_sign": "before"},
                "pruning": {"enabled": True, "start_epoch": 0, **PRUNING},
            }
        ),
        "asym_ep": from_dict(
            {
                **base,
                "learning": {
                    "rule": "asym_ep",
                    "lr": ASYM_EP_LR,
                    "options": {"separate_bias": True},
                },
            }
        ),
    }


def plan(
    epochs: int, seeds: int, seed: int, engine: str = "numpy", runs_dir: Path | None = None
) -> list[tuple[tuple[str, ...], Job]]:
    """Every run, keyed ``(task, run)``; with ``runs_dir`` each writes ``TASK_RUN`` there."""
    planned = []
    for task in TASKS:
        for name, config in experiment_configs(task, epochs, seeds, seed, engine).items():
            label = f"{task}_{name}"
            job = Job(label, config, None if runs_dir is None else runs_dir / label)
            planned.append(((task, name), job))
    return planned


def _no_cards(cards: Sequence[str]) -> None:
    if cards:
        raise ValueError("the authors' protocol has no card study")


def estimate(
    epochs: int, seeds: int, seed: int, engine: str, cards: Sequence[str] = ()
) -> RunEstimate:
    """What every run needs together: memory, work and output bytes."""
    _no_cards(cards)
    return reproduce.estimate_configs([job.config for _, job in plan(epochs, seeds, seed, engine)])


def total_epochs(epochs: int, seeds: int, seed: int, cards: Sequence[str] = ()) -> int:
    """Epochs over all runs (the progress bar's total)."""
    _no_cards(cards)
    return sum(job.config.training.epochs for _, job in plan(epochs, seeds, seed))


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
) -> tuple[dict[str, dict[str, TrainResult]], dict]:
    """Train every run on ``workers`` processes; ``results[task][run]`` and no card study."""
    _no_cards(cards)
    planned = plan(epochs, seeds, seed, engine, runs_dir)
    return reproduce.train_planned(planned, workers, progress, status)


def setup_line(results: dict[str, dict[str, TrainResult]]) -> str:
    """What the runs were: seeds, epochs, engine, settings (the line atop results.md)."""
    dense = next(iter(results.values()))["deep"]
    seeds = dense.seeds
    first, last = int(seeds[0]), int(seeds[-1])
    span = f"seed {first}" if len(seeds) == 1 else f"seeds {first}–{last}"
    return (
        f"{span.capitalize()}; {dense.config.training.epochs} epochs, full batch; "
        f"{dense.config.engine.name} engine. The notebooks' settings: dt 0.05, 1000 free and "
        f"1000 nudged steps, beta 10, W ~ N(0, 0.05); DEEP lr {DEEP_LR:g}, asymmetric EP "
        f"lr {ASYM_EP_LR:g}; pruning: L1 {L1:g} (sign before the update), lambda "
        f"{PRUNING['threshold']:g}, T {PRUNING['temperature']:g}, every epoch from epoch 0, "
        "zeroed connections regrow, column normaliser."
    )


def write_outputs(
    results: dict[str, dict[str, TrainResult]],
    directory: Path,
    card_results: dict | None = None,
    say: Callable[[str], None] | None = None,
) -> None:
    """Write ``summary.json``, ``results.md`` and the convergence figure."""
    say = say or (lambda text: None)
    report = reproduce.summary(results)
    say("writing summary.json and results.md")
    atomic.write_text(directory / "summary.json", json.dumps(report, indent=2) + "\n")
    atomic.write_text(directory / "results.md", authors_markdown(report, setup_line(results)))
    say("drawing fig1_convergence.png")
    plotting.save(reproduce.figure_convergence(results), directory / "fig1_convergence.png")


def table(report: dict[str, Any]) -> str:
    """The plain-text table of a summary (as :func:`deephw.reproduce.table`)."""
    return reproduce.table(report)
