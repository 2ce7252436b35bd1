"""The tables of ``results.md``: what ``deephw reproduce`` found, as markdown.

They are built from the summaries ``reproduce`` writes (``summary.json``,
``cards_summary.json``) and hold only numbers that the seeds determine (counts, epochs,
sparsities, pulses; no times), so that the README can embed them and a check
(:mod:`deephw.readme_check`) can keep the two equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deephw.readme_check import marked

PAPER_SPARSITY = {"AND": 45 / 48, "OR": 46 / 48, "XOR": 30 / 48}
"""Sparsity of the pruned networks of the paper's Fig. 2 (weights removed of 48)."""

MISSING = "–"
"""What a cell shows when there is nothing to report (no seed converged, ...)."""


def percent(fraction: float | None) -> str:
    """``0.9375`` as ``93.75``, ``0.625`` as ``62.5`` (no unit; ``MISSING`` for None)."""
    if fraction is None:
        return MISSING
    return f"{100 * fraction:.2f}".rstrip("0").rstrip(".")


def _count(entry: dict[str, Any], key: str) -> str:
    return f"{entry[key]}/{entry['seeds']}"


def _epochs(entry: dict[str, Any]) -> str:
    value = entry["median_epochs_to_converge"]
    return MISSING if value is None else f"{value:g}"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: Sequence[str], rows: list[Sequence[str]]) -> str:
    lines = [_row(header), "|" + "---|" * len(header)]
    return "\n".join(lines + [_row(row) for row in rows])


def dense_table(report: dict[str, Any]) -> str:
    """DEEP, asymmetric EP at both learning rates and symmetric EP (when the report has
    it): converged seeds and median epochs."""
    tasks = report["tasks"]
    first = next(iter(tasks.values()))
    at_deep, own = f"{first['asym_ep']['lr']:g}", f"{first['asym_ep_own_lr']['lr']:g}"
    header = [
        "task",
        "DEEP converged",
        "DEEP median epochs",
        f"asym. EP, lr {at_deep}: converged",
        f"asym. EP, lr {own}: converged",
        "… median epochs",
    ]
    symmetric = first.get("sym_ep")  # a run of the reproduction, present since sym_ep exists
    if symmetric:
        header += [f"sym. EP, lr {symmetric['lr']:g}: converged", "… median epochs"]
    rows = []
    for task, runs in tasks.items():
        row = [
            task,
            _count(runs["deep"], "converged"),
            _epochs(runs["deep"]),
            _count(runs["asym_ep"], "converged"),
            _count(runs["asym_ep_own_lr"], "converged"),
            _epochs(runs["asym_ep_own_lr"]),
        ]
        if symmetric:
            row += [_count(runs["sym_ep"], "converged"), _epochs(runs["sym_ep"])]
        rows.append(row)
    return _table(header, rows)


def _correct_sparsities(entry: dict[str, Any]) -> list[float]:
    return [
        s for s, ok in zip(entry["sparsity_per_seed"], entry["correct_per_seed"], strict=True) if ok
    ]


def _range(values: list[float]) -> str:
    if not values:
        return MISSING
    low, high = percent(min(values)), percent(max(values))
    return f"{low} %" if low == high else f"{low}–{high} %"


def _killed(entry: dict[str, Any]) -> str:
    if entry["killed_by_pruning"] is None:
        return MISSING
    return f"{entry['killed_by_pruning']} of {entry['correct_when_pruning_started']}"


def pruning_table(report: dict[str, Any]) -> str:
    """The pruned runs: correct nets, their sparsity against the paper's, nets killed."""
    header = [
        "task",
        "correct after pruning",
        "sparsity of the correct nets",
        "median",
        "paper",
        "killed by pruning (of those correct when it started)",
    ]
    rows = []
    for task, runs in report["tasks"].items():
        sparse = runs["deep_sparse"]
        median = sparse["median_sparsity_of_correct"]
        paper = PAPER_SPARSITY.get(task)
        rows.append(
            [
                task,
                _count(sparse, "correct"),
                _range(_correct_sparsities(sparse)),
                MISSING if median is None else f"{percent(median)} %",
                MISSING if paper is None else f"{percent(paper)} %",
                _killed(sparse),
            ]
        )
    return _table(header, rows)


def _one_decimal(fraction: float | None) -> str:
    return MISSING if fraction is None else f"{100 * fraction:.1f}"


def cards_table(cards_report: dict[str, Any]) -> str:
    """The card study, one row per card, the tasks' values separated by ``/``."""
    header = [
        "card",
        "task",
        "converged",
        "correct",
        "pruned: correct",
        "median sparsity (correct)",
        "killed by pruning",
        "median pulses (dense)",
    ]
    rows = []
    for card, by_card in cards_report.items():
        tasks = by_card["tasks"]
        dense = [runs["deep"] for runs in tasks.values()]
        sparse = [runs["deep_sparse"] for runs in tasks.values()]
        pulses = [np.median(entry["hardware"]["pulses_per_seed"]) for entry in dense]
        sparsity = [_one_decimal(entry["median_sparsity_of_correct"]) for entry in sparse]
        rows.append(
            [
                card,
                " / ".join(tasks),
                " / ".join(str(entry["converged"]) for entry in dense),
                " / ".join(str(entry["correct"]) for entry in dense),
                " / ".join(str(entry["correct"]) for entry in sparse),
                " / ".join(sparsity) + " %",
                " / ".join(_killed(entry) for entry in sparse),
                " / ".join(f"{p:,.0f}".replace(",", " ") for p in pulses),
            ]
        )
    return _table(header, rows)


def results_markdown(
    report: dict[str, Any], cards_report: dict[str, Any] | None, *, setup: str
) -> str:
    """The text of ``results.md``: a heading, ``setup`` (one line) and the marked tables."""
    parts = [
        "# Results of `deephw reproduce`",
        setup,
        "Every number below is determined by the seeds. The README embeds these tables; "
        "`python -m deephw.readme_check results.md README.md` compares them.",
        "Dense runs (converged: final free-phase MSE below the threshold; median epochs "
        "over the converged seeds):",
        marked("dense", dense_table(report)),
        "Pruned runs (sparsity: the fraction of trainable weights removed):",
        marked("pruning", pruning_table(report)),
    ]
    if cards_report:
        parts += ["DEEP on each device card:", marked("cards", cards_table(cards_report))]
    return "\n\n".join(parts) + "\n"


AUTHORS_RUNS = {
    "deep": "DEEP, lr {lr:g}",
    "deep_sparse": "DEEP, lr {lr:g}, their L1 and pruning",
    "asym_ep": "asym. EP, separate bias, lr {lr:g}",
}
"""The runs of ``deephw reproduce --protocol authors`` and their labels."""


def authors_table(report: dict[str, Any]) -> str:
    """The authors' protocol: one row per task and run (counts, epochs, MSE, sparsity)."""
    header = [
        "task",
        "run",
        "converged",
        "correct",
        "median epochs",
        "median final MSE",
        "median sparsity (correct)",
    ]
    rows = []
    for task, runs in report["tasks"].items():
        for name, label in AUTHORS_RUNS.items():
            entry = runs[name]
            sparsity = entry["median_sparsity_of_correct"] if name == "deep_sparse" else None
            rows.append(
                [
                    task,
                    label.format(lr=entry["lr"]),
                    _count(entry, "converged"),
                    _count(entry, "correct"),
                    _epochs(entry),
                    f"{np.median(entry['final_mse_per_seed']):.3g}",
                    MISSING if sparsity is None else f"{percent(sparsity)} %",
                ]
            )
    return _table(header, rows)


def authors_markdown(report: dict[str, Any], setup: str) -> str:
    """The text of ``results.md`` of ``--protocol authors``: heading, setup, marked table."""
    parts = [
        "# Results of `deephw reproduce --protocol authors`",
        setup,
        "Every number below is determined by the seeds. The README embeds this table; "
        "`python -m deephw.readme_check results.md README.md` compares them.",
        "Converged: final free-phase MSE below the threshold; median epochs over the "
        "converged seeds; sparsity: the fraction of trainable weights at zero at the end.",
        marked("authors", authors_table(report)),
    ]
    return "\n\n".join(parts) + "\n"


def _accuracies(values: Sequence[float]) -> str:
    return " / ".join(f"{100 * v:.2f}" for v in values)


def _mean_percent(values: Sequence[float]) -> str:
    return f"{100 * float(np.mean(values)):.2f} %"


DIGITS_BASELINES = {"logistic_regression": "logistic regression", "mlp": "MLP, 32 hidden"}
"""The baselines of the digits study and their labels."""


def digits_table(found: dict[str, Any]) -> str:
    """The digits study: DEEP on ideal devices and the scikit-learn baselines, test accuracy
    per seed, its mean and the mean train accuracy."""
    deep = found["deep"]
    header = ["model", "test accuracy per seed (%)", "mean test", "mean train"]
    rows = [
        [
            f"DEEP, ideal devices, {deep['epochs']} epochs",
            _accuracies(deep["test_accuracy_per_seed"]),
            _mean_percent(deep["test_accuracy_per_seed"]),
            _mean_percent(deep["train_accuracy_per_seed"]),
        ]
    ]
    for name, label in DIGITS_BASELINES.items():
        entry = found["baselines"][name]
        rows.append(
            [
                f"scikit-learn {label}",
                _accuracies(entry["test_accuracy_per_seed"]),
                _mean_percent(entry["test_accuracy_per_seed"]),
                _mean_percent(entry["train_accuracy_per_seed"]),
            ]
        )
    return _table(header, rows)


def digits_variants_table(found: dict[str, Any]) -> str:
    """The obstacle's variants: test and train accuracy, free neurons on the rails at the
    last epoch, hidden neurons at 1 on the test images (means over seeds)."""
    header = [
        "variant",
        "epochs",
        "test accuracy",
        "train accuracy",
        "free neurons on a rail",
        "hidden neurons at 1",
    ]
    rows = [
        [
            entry["label"],
            str(entry["epochs"]),
            _mean_percent(entry["test_accuracy_per_seed"]),
            _mean_percent(entry["train_accuracy_per_seed"]),
            _mean_percent(entry["rail_fraction_final_per_seed"]),
            _mean_percent(entry["hidden_at_one_per_seed"]),
        ]
        for entry in found["variants"].values()
    ]
    return _table(header, rows)


def _engineering(value: float) -> str:
    return f"{value:.3g}"


def digits_cards_table(found: dict[str, Any]) -> str:
    """The digits on each card: scheme, epochs, test accuracy, pulses and energy per epoch
    (means over seeds), chip time of the whole training."""
    header = [
        "card",
        "scheme",
        "epochs",
        "test accuracy per seed (%)",
        "mean test",
        "pulses per epoch",
        "energy per epoch (µJ)",
        "chip time (s)",
    ]
    rows = []
    for card, entry in found["cards"].items():
        hardware = entry["hardware"]
        rows.append(
            [
                card,
                hardware["scheme"],
                str(entry["epochs"]),
                _accuracies(entry["test_accuracy_per_seed"]),
                _mean_percent(entry["test_accuracy_per_seed"]),
                _engineering(hardware["pulses_per_epoch"]),
                _engineering(hardware["energy_pJ_per_epoch"] * 1e-6),
                _engineering(hardware["chip_time_s"]),
            ]
        )
    return _table(header, rows)


def digits_markdown(found: dict[str, Any], setup: str) -> str:
    """The text of ``results.md`` of ``--study digits``: heading, setup, marked tables."""
    parts = [
        "# Results of `deephw reproduce --study digits`",
        setup,
        "Every number below is determined by the seeds (and, for the baselines, the "
        "scikit-learn version). The README embeds these tables; "
        "`python -m deephw.readme_check results.md README.md` compares them.",
        f"Test accuracy on the {found['deep']['test_patterns']} held-out images:",
        marked("digits", digits_table(found)),
    ]
    if found["variants"]:
        parts += [
            "What keeps hidden neurons at 1 (fewer epochs than above; a neuron is on a rail "
            "when its free-phase state is 0 or 1):",
            marked("digits-variants", digits_variants_table(found)),
        ]
    if found["cards"]:
        parts += [
            "DEEP on the digits on each device card:",
            marked("digits-cards", digits_cards_table(found)),
        ]
    return "\n\n".join(parts) + "\n"
