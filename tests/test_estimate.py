"""Estimates of a run's memory, work and output size, made before anything is allocated."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from deephw import rundir, tasks, training
from deephw.budget import WORK_LIMIT_OPS, BudgetError
from deephw.config import from_dict
from deephw.estimate import combine, estimate_evaluation, estimate_run

XOR = tasks.builtin("XOR")


def config(**sections: dict) -> object:
    return from_dict({"task": {"name": "XOR"}, **sections})


@pytest.mark.parametrize(
    ("hidden", "seeds", "card", "scheme", "rule"),
    [
        (60, 3, "ideal", "digital", "deep"),
        (100, 2, "pcm_ambrogio2018", "hybrid", "deep"),
        (80, 3, "pcm_pair", "in_situ", "deep"),
        (100, 3, "ideal", "digital", "asym_ep"),
    ],
)
def test_memory_estimate_bounds_the_measured_peak(
    hidden: int, seeds: int, card: str, scheme: str, rule: str
) -> None:
    run = config(
        network={"hidden": hidden},
        training={"epochs": 2, "seeds": seeds},
        hardware={"card": card, "scheme": scheme},
        learning={"rule": rule},
    )
    estimate = estimate_run(run, XOR)
    tracemalloc.start()
    try:
        training.train(run)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= estimate.memory_bytes <= 4 * peak, (peak, estimate.memory_bytes)


def test_output_estimate_bounds_the_run_directory(tmp_path: Path) -> None:
    run = config(
        network={"hidden": 40},
        training={"epochs": 40, "seeds": 3},
        hardware={"card": "pcm_pair"},
    )
    estimate = estimate_run(run, XOR)
    out = rundir.write_run(training.train(run), tmp_path / "run")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert size <= estimate.output_bytes <= 20 * size, (size, estimate.output_bytes)


def test_estimates_scale_with_their_sizes() -> None:
    base = estimate_run(config(), XOR)
    longer = estimate_run(config(training={"epochs": 3000}), XOR)
    assert longer.operations == pytest.approx(2 * base.operations, rel=0.01)
    assert base.operations < WORK_LIMIT_OPS / 1e3  # the paper's runs are far from the limit
    narrow = estimate_run(config(network={"hidden": 296}), XOR)  # N = 300
    wide = estimate_run(config(network={"hidden": 596}), XOR)  # N = 600
    assert 3.5 < wide.memory_bytes / narrow.memory_bytes <= 4
    assert 3.5 < wide.operations / narrow.operations <= 4


@pytest.mark.parametrize(
    ("sections", "memory_field", "work_field"),
    [
        ({"network": {"hidden": 10**6}}, "network.hidden", "network.hidden"),
        ({"training": {"seeds": 10**9}}, "training.seeds", "training.seeds"),
        ({"training": {"epochs": 10**12}}, "training.epochs", "training.epochs"),
        ({"dynamics": {"free_steps": 10**12}}, None, "dynamics.free_steps"),
        ({"dynamics": {"nudged_steps": 10**9}}, "dynamics.nudged_steps", "dynamics.nudged_steps"),
        (
            {"hardware": {"scheme": {"name": "in_situ", "bit_length": 10**12}, "card": "pcm_pair"}},
            None,
            "hardware.scheme.bit_length",
        ),
    ],
)
def test_the_driving_field_is_named(
    sections: dict, memory_field: str | None, work_field: str
) -> None:
    estimate = estimate_run(config(**sections), XOR)
    assert estimate.work_field == work_field
    if memory_field is not None:
        assert estimate.memory_field == memory_field


def test_a_csv_task_with_many_rows_is_named(tmp_path: Path) -> None:
    rows = 200_000
    big = tasks.Task("big", XOR.x.repeat(rows // 4, 0), XOR.y.repeat(rows // 4, 0))
    run = from_dict(
        {
            "task": {"csv": "big.csv", "inputs": ["a", "b"], "targets": ["y"]},
            "network": {"hidden": 2000},
        }
    )
    estimate = estimate_run(run, big)
    assert estimate.memory_field == "task.csv"
    assert estimate.memory_bytes > 2e11  # 10 seeds x 2e5 rows x 2004 neurons x 8 B x copies


def test_enforce_names_the_option_that_set_a_field() -> None:
    run = config(training={"epochs": 10**12})
    with pytest.raises(BudgetError) as exc:
        estimate_run(run, XOR).enforce(run, "run.yaml")
    assert str(exc.value).startswith("run.yaml: training.epochs = 1000000000000: needs about ")
    with pytest.raises(BudgetError) as exc:
        estimate_run(run, XOR).enforce(run, "run.yaml", options={"training.epochs": "--epochs"})
    assert str(exc.value).startswith("--epochs = 1000000000000: needs about ")


def test_sizes_past_the_float_range_are_refused() -> None:
    run = config(dynamics={"free_steps": 10**400})
    estimate = estimate_run(run, XOR)
    assert estimate.operations == float("inf")
    with pytest.raises(BudgetError, match=r"dynamics.free_steps = 1000.*characters\): needs"):
        estimate.enforce(run, "run.yaml", force=False)


def test_combined_runs_add_work_and_keep_the_largest_memory() -> None:
    small = estimate_run(config(), XOR)
    large = estimate_run(config(network={"hidden": 500}), XOR)
    both = combine([small, large, small])
    assert both.memory_bytes == large.memory_bytes
    assert both.operations == pytest.approx(2 * small.operations + large.operations)
    assert both.output_bytes == pytest.approx(2 * small.output_bytes + large.output_bytes)


def test_evaluation_estimate_counts_one_relaxation() -> None:
    run = config(dynamics={"free_steps": 10**14})
    evaluation = estimate_evaluation(run, XOR, 10)
    assert evaluation.work_field == "dynamics.free_steps"
    assert evaluation.operations < estimate_run(run, XOR).operations / 1000
    assert estimate_evaluation(config(), XOR, 10).operations < 1e8
