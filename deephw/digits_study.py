"""``deephw reproduce --study digits``: DEEP on scikit-learn's 8x8 handwritten digits.

Three parts, trained together on a pool of workers:

- ``deep``: :data:`CONFIG` (``examples/digits.yaml``: 64 inputs, 32 hidden, 10 outputs,
  ideal devices, lr 0.3 with cosine decay, batch 32), 3 seeds, 100 epochs, tested on the
  fixed 450-image split every epoch; beside it, scikit-learn's logistic regression and a
  small MLP (32 hidden, one per seed) fitted in the same run on the same split.
- ``variants``: what changes the known obstacle, hidden neurons that sit at 1 (a free
  neuron's inflow from 65 clamped sources outweighs its leak, its outgoing weight sum):
  a constant leak, a layered graph, smaller inputs, another initialisation, symmetric EP;
  :data:`VARIANT_EPOCHS` epochs each (fewer than ``deep``).
- ``cards`` (with ``--cards``): the same network on device cards, the Ambrogio cell with
  the ``hybrid`` scheme, the other cards with ``digital`` accumulation (as the paper's card
  study), at most :data:`CARD_EPOCHS` epochs and :data:`CARD_SEEDS` seeds (card runs are
  slower): test accuracy, pulses and energy per epoch, chip time.

``--subset N`` trains on the first N training images and tests on the first N // 3 test
images (an NPZ file written into the study's ``data/``), to try the study quickly.
"""

from __future__ import annotations

import copy
import io
import json
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deephw import atomic, runpool
from deephw.config import RunConfig, from_dict
from deephw.data import digits
from deephw.data.task import Task
from deephw.devices import load_card
from deephw.digits_figures import figure_cards, figure_training
from deephw.estimate import RunEstimate, combine, estimate_run
from deephw.results_tables import digits_markdown
from deephw.rundir import summarize
from deephw.runpool import Job
from deephw.streams import EVAL_STREAM
from deephw.training import TrainResult, free_phase, load_data, make_engine

EPOCHS = 100
SEEDS = 3
VARIANT_EPOCHS = 30
VARIANT_SEEDS = 1
CARD_EPOCHS = 50
CARD_SEEDS = 3
"""Card runs cost about 1 s of CPU per epoch for 2 seeds (the Ambrogio cell, 0.4 s the PCM
pair, measured on a loaded machine), against 0.1 s on ideal devices: 50 epochs of 3 seeds
on the six shipped cards, with their run directories, fit in about 10-15 minutes on 2
workers."""
MLP_HIDDEN = 32
DATA_FILE = "data/digits.npz"
"""Where the study writes the digits it trains on when a run reads them from a file."""

CONFIG: dict[str, Any] = {
    "task": {"name": "digits", "test": "split"},
    "network": {"hidden": 32, "topology": "complete"},
    "init": {"weights": "uniform", "low": 0.0, "high": 0.02},
    "dynamics": {"dt": 0.5, "free_steps": 30, "nudged_steps": 20, "beta": 1.0},
    "learning": {"rule": "deep", "lr": 0.3, "schedule": "cosine"},
    "training": {"epochs": EPOCHS, "batch_size": 32, "seeds": SEEDS, "eval_every": 1},
    "engine": "numpy",
}
"""The study's run config: ``examples/digits.yaml`` (a test keeps the two equal)."""

VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "base": ("examples/digits.yaml", {}),
    "extra_leak_0.2": ("dynamics.extra_leak 0.2", {"dynamics": {"extra_leak": 0.2}}),
    "extra_leak_1": ("dynamics.extra_leak 1", {"dynamics": {"extra_leak": 1.0}}),
    "layered": ("layered graph (64-32-10)", {"network": {"hidden": [32], "topology": "layered"}}),
    "inputs_quarter": ("inputs in [0, 0.25] (task.scale 4)", {"task": {"scale": 4.0}}),
    "init_normal": ("W ~ N(0, 0.02)", {"init": {"weights": "normal", "std": 0.02}}),
    "sym_ep": ("rule sym_ep (tied weights)", {"learning": {"rule": "sym_ep"}}),
}
"""The obstacle's variants: name -> (label, changes to :data:`CONFIG`)."""


def card_hardware(card: str) -> dict[str, str]:
    """The ``hardware`` section of a card study's run: ``hybrid`` for a card with a fast
    device (the Ambrogio cell), else ``digital`` accumulation."""
    scheme = "hybrid" if load_card(card).fast_device is not None else "digital"
    return {"card": card, "scheme": scheme}


def _merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for section, values in changes.items():
        out[section] = {**out.get(section, {}), **values}
    return out


def run_config(
    epochs: int,
    seeds: int,
    seed: int,
    engine: str = "numpy",
    changes: dict[str, Any] | None = None,
    data: Path | None = None,
) -> RunConfig:
    """:data:`CONFIG` with ``changes``; with ``data`` (an NPZ file of the split) the run
    reads its digits from that file, otherwise from the built-in data set."""
    setup = _merged(CONFIG, changes or {})
    setup["training"] = {**setup["training"], "epochs": epochs, "seeds": seeds, "seed": seed}
    setup["engine"] = engine
    scale = setup["task"].pop("scale", None)
    if data is not None or scale is not None:
        setup["task"] = {"npz": str(data or DATA_FILE), "test": "split"}
        if scale is not None:
            setup["task"]["scale"] = scale
    return from_dict(setup)


def plan(
    epochs: int,
    seeds: int,
    seed: int,
    engine: str = "numpy",
    cards: Sequence[str] = (),
    data: Path | None = None,
    runs_dir: Path | None = None,
    subset: bool = False,
) -> list[tuple[tuple[str, str], Job]]:
    """Every run of the study keyed ``("deep", "deep")``, ``("variants", NAME)`` or
    ``("cards", CARD)``; with ``runs_dir`` the ``deep`` and card runs write their run
    directories there.

    ``data`` is the NPZ file of the split that runs read when they need a file (the
    scaled inputs); with ``subset`` every run reads it.
    """
    every = data if subset else None
    variant_epochs = min(epochs, VARIANT_EPOCHS)
    card_epochs, card_seeds = min(epochs, CARD_EPOCHS), min(seeds, CARD_SEEDS)
    planned = [(("deep", "deep"), "deep", run_config(epochs, seeds, seed, engine, data=every))]
    for name, (_, changes) in VARIANTS.items():
        config = run_config(
            variant_epochs, min(seeds, VARIANT_SEEDS), seed, engine, changes, every or data
        )
        planned.append((("variants", name), f"variants/{name}", config))
    for card in cards:
        config = run_config(card_epochs, card_seeds, seed, engine, data=every)
        planned.append(
            (("cards", card), f"cards/{card}", config.replace(hardware=card_hardware(card)))
        )
    # the variants are summarised, not kept: a digits run directory takes minutes to draw
    return [
        (
            key,
            Job(
                label,
                config,
                None if runs_dir is None or key[0] == "variants" else runs_dir / label,
            ),
        )
        for key, label, config in planned
    ]


def split(subset: int | None = None) -> tuple[Task, Task]:
    """The training and test digits; with ``subset``, the first ``subset`` training and
    ``max(1, subset // 3)`` test images."""
    train, test = digits.load()
    if subset is None:
        return train, test
    keep = max(1, subset // 3)
    return (
        Task(train.name, train.x[:subset], train.y[:subset]),
        Task(test.name, test.x[:keep], test.y[:keep]),
    )


def write_data(path: Path, subset: int | None = None) -> None:
    """The split (see :func:`split`) as an NPZ file ``x_train``, ``y_train``, ``x_test``,
    ``y_test``."""
    train, test = split(subset)
    buffer = io.BytesIO()
    np.savez(buffer, x_train=train.x, y_train=train.y, x_test=test.x, y_test=test.y)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(path, buffer.getvalue())


def estimate(
    epochs: int, seeds: int, seed: int, engine: str, cards: Sequence[str] = ()
) -> RunEstimate:
    """What every run of the study needs together: memory, work and output bytes."""
    configs = [job.config for _, job in plan(epochs, seeds, seed, engine, cards)]
    return combine([estimate_run(config, *load_data(_built_in(config))) for config in configs])


def _built_in(config: RunConfig) -> RunConfig:
    """``config`` on the built-in digits (a run that reads them from a file has their shapes)."""
    if config.task.name is not None:
        return config
    setup = config.to_dict()
    setup["task"] = {"name": digits.NAME, "test": "split"}
    return from_dict(setup)


def total_epochs(epochs: int, seeds: int, seed: int, cards: Sequence[str] = ()) -> int:
    """Epochs over every run of the study (the progress bar's total)."""
    return sum(job.config.training.epochs for _, job in plan(epochs, seeds, seed, cards=cards))


def baselines(train: Task, test: Task, seeds: Sequence[int]) -> dict[str, Any]:
    """scikit-learn's logistic regression and an MLP of :data:`MLP_HIDDEN` hidden units (one
    per seed, ``random_state`` the seed), fitted on ``train``; their accuracy per seed."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    labels, test_labels = train.y.argmax(axis=1), test.y.argmax(axis=1)
    models = {
        "logistic_regression": lambda s: LogisticRegression(max_iter=5000, random_state=s),
        "mlp": lambda s: MLPClassifier((MLP_HIDDEN,), max_iter=2000, random_state=s),
    }
    found: dict[str, Any] = {}
    for name, make in models.items():
        train_acc, test_acc = [], []
        for s in seeds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = make(int(s)).fit(train.x, labels)
            train_acc.append(float(model.score(train.x, labels)))
            test_acc.append(float(model.score(test.x, test_labels)))
        found[name] = {
            "seed_values": [int(s) for s in seeds],
            "train_accuracy_per_seed": train_acc,
            "test_accuracy_per_seed": test_acc,
            "mean_test_accuracy": float(np.mean(test_acc)),
        }
    return found


def hidden_at_one(result: TrainResult) -> list[float]:
    """Per seed: the fraction of hidden neurons at 1 at the free equilibrium of the test
    images, under the final weights on ideal dynamics."""
    config, topo = result.config, result.topology
    rngs = [np.random.default_rng([int(s), EVAL_STREAM]) for s in result.seeds]
    x = np.broadcast_to(result.test.x, (len(result.seeds), *result.test.x.shape))
    s0 = make_engine(config).run(free_phase(config, topo, result.weights, x, rngs))
    hidden = s0[..., topo.n_clamped : topo.output_slice.start]
    return [float(v) for v in (hidden >= 1.0).mean(axis=(1, 2))]


def run_entry(result: TrainResult, hidden: bool = True) -> dict[str, Any]:
    """A run's :func:`~deephw.rundir.summarize` with its setup, rail fractions and, for
    cards, pulses and energy per epoch."""
    entry = summarize(result)
    entry["epochs"] = result.config.training.epochs
    entry["rule"] = result.config.learning.rule
    entry["rail_fraction_final_per_seed"] = [float(v) for v in result.history["rail_fraction"][-1]]
    if hidden:
        entry["hidden_at_one_per_seed"] = hidden_at_one(result)
    if "hardware" in entry:
        epochs = entry["epochs"]
        entry["hardware"]["pulses_per_epoch"] = float(
            np.mean(entry["hardware"]["pulses_per_seed"]) / epochs
        )
        entry["hardware"]["energy_pJ_per_epoch"] = float(
            np.mean(entry["hardware"]["energy_pJ_per_seed"]) / epochs
        )
    return entry


def report(results: dict[str, dict[str, TrainResult]], base: dict[str, Any]) -> dict[str, Any]:
    """``summary.json``: the ``deep`` run, the ``baselines``, the ``variants`` (with their
    labels) and the ``cards``."""
    found: dict[str, Any] = {
        "deep": run_entry(results["deep"]["deep"]),
        "baselines": base,
        "variants": {},
        "cards": {},
    }
    for name, result in results.get("variants", {}).items():
        found["variants"][name] = {"label": VARIANTS[name][0], **run_entry(result)}
    for card, result in results.get("cards", {}).items():
        found["cards"][card] = run_entry(result, hidden=False)
    return found


def train(
    planned: list[tuple[tuple[str, str], Job]],
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    status: Callable[[str], None] | None = None,
) -> dict[str, dict[str, TrainResult]]:
    """Train the runs of a :func:`plan`; ``results[part][name]``."""
    trained = runpool.run_jobs([job for _, job in planned], workers, progress, status)
    results: dict[str, dict[str, TrainResult]] = {}
    for (part, name), result in zip((key for key, _ in planned), trained, strict=True):
        results.setdefault(part, {})[name] = result
    return results


def setup_line(found: dict[str, Any], subset: int | None) -> str:
    """What the runs were (the line atop results.md)."""
    deep = found["deep"]
    seeds = deep["seed_values"]
    span = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}–{seeds[-1]}"
    data = (
        f"the first {subset} training and {deep['test_patterns']} test images"
        if subset
        else f"{deep['train_patterns']} training and {deep['test_patterns']} test images"
    )
    return f"DEEP on the digits ({data}); {span.capitalize()}, {deep['epochs']} epochs."


def write_outputs(
    results: dict[str, dict[str, TrainResult]],
    directory: Path,
    base: dict[str, Any],
    subset: int | None = None,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write ``summary.json``, ``results.md`` and the figures; return the summary."""
    say = say or (lambda text: None)
    say("evaluating the hidden neurons and writing summary.json and results.md")
    found = report(results, base)
    atomic.write_text(directory / "summary.json", json.dumps(found, indent=2) + "\n")
    atomic.write_text(directory / "results.md", digits_markdown(found, setup_line(found, subset)))
    from deephw import plotting

    say("drawing digits_training.png")
    plotting.save(figure_training(results, base), directory / "digits_training.png")
    if results.get("cards"):
        say("drawing digits_cards.png")
        plotting.save(figure_cards(results), directory / "digits_cards.png")
    return found


def run_study(
    out: Path,
    epochs: int = EPOCHS,
    seeds: int = SEEDS,
    seed: int = 0,
    engine: str = "numpy",
    cards: Sequence[str] = (),
    *,
    subset: int | None = None,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    status: Callable[[str], None] | None = None,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train, fit the baselines and write the whole study to the new directory ``out``."""
    started = time.perf_counter()
    with atomic.new_directory(out) as tmp:
        data = tmp / DATA_FILE
        write_data(data, subset)
        planned = plan(epochs, seeds, seed, engine, cards, data, tmp / "runs", subset is not None)
        results = train(planned, workers, progress, status)
        base = baselines(*split(subset), [seed + k for k in range(seeds)])
        found = write_outputs(results, tmp, base, subset, say)
        found["seconds"] = time.perf_counter() - started
    return found
