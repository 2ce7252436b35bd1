"""Sweep files without Dask: dotted paths, validation errors, configurations and keys,
the study kinds run in-process, and the ``sweep`` command line's parsing."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

import deephw
from deephw.devices import card_to_yaml
from deephw.devices.cards import noiseless
from deephw.errors import ConfigError, DivergenceError
from deephw.sweep import paths, plan, studies
from deephw.sweep.cli import add_commands, main

BASE = {
    "task": {"name": "XOR"},
    "dynamics": {"free_steps": 40, "nudged_steps": 8},
    "training": {"epochs": 20, "seeds": 2},
}


def write_sweep(folder: Path, data: dict, name: str = "sweep.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def sweep_data(**changes: object) -> dict:
    data = {"base": BASE, "axes": {"dynamics.beta": [1.0, 2.0], "learning.lr": [5.0, 10.0]}}
    data.update(changes)
    return data


def error_of(folder: Path, data: dict) -> ConfigError:
    path = write_sweep(folder, data)
    with pytest.raises(ConfigError) as info:
        plan.load_sweep(path)
    assert str(path) in str(info.value)
    return info.value


# --- dotted paths ---------------------------------------------------------------------


def test_paths_create_missing_sections_without_knowing_their_names():
    data = {"dynamics": {"beta": 1.0}, "hardware": None}
    paths.assign(data, "hardware.card_overrides.read_noise_uS", 0.3)
    paths.assign(data, "dynamics.beta", 2.0)
    assert data == {
        "dynamics": {"beta": 2.0},
        "hardware": {"card_overrides": {"read_noise_uS": 0.3}},
    }
    assert paths.get(data, "hardware.card_overrides.read_noise_uS") == 0.3
    assert paths.has(data, "dynamics.beta") and not paths.has(data, "dynamics.dt")


def test_paths_refuse_to_walk_through_a_value_and_bad_syntax():
    with pytest.raises(paths.PathError, match="dynamics.beta is 1.0, not a section"):
        paths.assign({"dynamics": {"beta": 1.0}}, "dynamics.beta.x", 1)
    for bad in ("", "a..b", ".a", "a. b"):
        with pytest.raises(paths.PathError):
            paths.split(bad)
    assert paths.overlaps("a.b", "a.b.c") and not paths.overlaps("a.b", "a.bc")


def test_assigned_values_are_copies():
    value = {"x": [1, 2]}
    first = paths.with_values({}, {"hardware.card_overrides": value})
    value["x"].append(3)
    assert first["hardware"]["card_overrides"] == {"x": [1, 2]}


# --- configurations -------------------------------------------------------------------


def test_grid_generates_every_combination_validated_and_keyed(tmp_path):
    sweep = plan.load_sweep(write_sweep(tmp_path, sweep_data(seeds=3, seed=5)))
    assert sweep.columns == ("dynamics.beta", "learning.lr")
    assert [p.values for p in sweep.points] == [
        {"dynamics.beta": 1.0, "learning.lr": 5.0},
        {"dynamics.beta": 1.0, "learning.lr": 10.0},
        {"dynamics.beta": 2.0, "learning.lr": 5.0},
        {"dynamics.beta": 2.0, "learning.lr": 10.0},
    ]
    assert all(p.seeds == (5, 6, 7) for p in sweep.points) and sweep.n_rows == 12
    assert len({p.key for p in sweep.points}) == 4
    config = sweep.points[3].job.run_config()
    assert (config.dynamics.beta, config.learning.lr, config.training.seeds) == (2.0, 10.0, 3)


def test_zip_pairs_values_and_fixed_values_apply_everywhere(tmp_path):
    data = sweep_data(combine="zip", fixed={"training.epochs": 7, "dynamics.dt": 0.25})
    sweep = plan.load_sweep(write_sweep(tmp_path, data))
    assert [(p.values["dynamics.beta"], p.values["learning.lr"]) for p in sweep.points] == [
        (1.0, 5.0),
        (2.0, 10.0),
    ]
    for point in sweep.points:
        config = point.job.run_config()
        assert config.training.epochs == 7 and config.dynamics.dt == 0.25


def test_keys_are_stable_and_ignore_how_a_value_is_written(tmp_path):
    first = plan.load_sweep(write_sweep(tmp_path, sweep_data(), "a.yaml"))
    data = sweep_data(axes={"learning.lr": [10, 5], "dynamics.beta": [2, 1]})
    second = plan.load_sweep(write_sweep(tmp_path, data, "b.yaml"))
    assert {p.key for p in first.points} == {p.key for p in second.points}
    changed = plan.load_sweep(write_sweep(tmp_path, sweep_data(seeds=3), "c.yaml"))
    assert not {p.key for p in first.points} & {p.key for p in changed.points}


def test_base_may_be_a_run_config_file_relative_to_the_sweep_file(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "run.yaml").write_text(yaml.safe_dump(BASE))
    (tmp_path / "sweeps").mkdir()
    data = {"base": "../configs/run.yaml", "axes": {"learning.lr": [3.0]}}
    sweep = plan.load_sweep(write_sweep(tmp_path / "sweeps", data))
    config = sweep.points[0].job.run_config()
    assert config.learning.lr == 3.0 and config.training.seeds == 2


def test_a_sweep_without_axes_is_its_base_with_its_seeds(tmp_path):
    sweep = plan.load_sweep(write_sweep(tmp_path, {"base": BASE, "seeds": 4}))
    assert len(sweep.points) == 1 and sweep.points[0].seeds == (0, 1, 2, 3)


# --- validation errors: file, field, value --------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"axis": [1]}, "axis = [1]: unknown key"),
        ({"seeds": "ten"}, "seeds = 'ten': must be an integer"),
        ({"seeds": 0}, "seeds = 0: must be >= 1"),
        ({"combine": "product"}, "combine = 'product': must be one of ['grid', 'zip']"),
        ({"kind": "fit"}, "kind = 'fit': must be one of ['ablation', 'evaluate', 'train']"),
        ({"axes": {"dynamics.beta": 1.5}}, "axes.dynamics.beta = 1.5: must be a non-empty list"),
        ({"axes": {"dynamics.beta": []}}, "axes.dynamics.beta = []: must be a non-empty list"),
        ({"axes": {"dynamics..beta": [1.0]}}, "axes = 'dynamics..beta': 'dynamics..beta' is not"),
        ({"runs": ["r"]}, "runs = ['r']: only an evaluate study takes runs"),
        ({"base": None}, "base = None: a train study needs a base run config"),
    ],
)
def test_bad_sweep_files_name_the_field_and_value(tmp_path, change, expected):
    assert expected in str(error_of(tmp_path, sweep_data(**change)))


def test_a_bad_axis_path_names_the_axis_and_the_value(tmp_path):
    error = error_of(tmp_path, sweep_data(axes={"dynamics.betta": [0.5]}))
    assert error.field == "axes.dynamics.betta" and error.value == 0.5
    assert "dynamics.betta = 0.5: unknown key" in str(error)


def test_a_bad_axis_value_names_the_axis_and_the_value(tmp_path):
    error = error_of(tmp_path, sweep_data(axes={"learning.lr": [1.0, -2.0]}))
    assert (error.field, error.value) == ("axes.learning.lr", -2.0)
    assert "must be > 0" in str(error)
    error = error_of(tmp_path, sweep_data(axes={"training.batch_size": [2, "all"]}))
    assert (error.field, error.value) == ("axes.training.batch_size", "all")


def test_a_path_through_a_value_or_into_an_unknown_section_is_reported(tmp_path):
    error = error_of(tmp_path, sweep_data(axes={"dynamics.beta.x": [1]}))
    assert error.field == "axes.dynamics.beta.x" and "not a section" in str(error)
    # No section name is known to the sweep: an unknown one is rejected by the config.
    error = error_of(tmp_path, sweep_data(axes={"chip.read_noise_uS": [0.1]}))
    assert error.field == "axes.chip.read_noise_uS"
    assert "chip = " in str(error) and "unknown key" in str(error)


HARDWARE = {"hardware.card": "pcm_ambrogio2018", "hardware.scheme": "hybrid"}


def test_card_fields_are_reached_by_path_through_the_hardware_section(tmp_path):
    axes = {
        "hardware.card_overrides.device.read_noise_uS": [0.0, 0.5],
        "hardware.card_overrides.fast_device.levels": [9, 33],
    }
    sweep = plan.load_sweep(write_sweep(tmp_path, sweep_data(fixed=HARDWARE, axes=axes)))
    assert len({p.key for p in sweep.points}) == 4
    config = sweep.points[3].job.run_config()
    assert config.hardware.card_overrides == {
        "device": {"read_noise_uS": 0.5},
        "fast_device": {"levels": 33},
    }
    assert sweep.points[3].values["hardware.card_overrides.fast_device.levels"] == 33


def test_a_bad_card_field_or_value_is_reported_before_anything_runs(tmp_path):
    axes = {"hardware.card_overrides.device.read_noise_uS": [0.1, -0.5]}
    error = error_of(tmp_path, sweep_data(fixed=HARDWARE, axes=axes))
    assert (error.field, error.value) == ("axes.hardware.card_overrides.device.read_noise_uS", -0.5)
    assert "must be >= 0" in str(error)
    axes = {"hardware.card_overrides.device.read_noise": [0.1]}
    error = error_of(tmp_path, sweep_data(fixed=HARDWARE, axes=axes))
    assert error.field == "axes.hardware.card_overrides.device.read_noise"
    assert "unknown key" in str(error)


def test_keys_follow_the_content_of_the_card_and_files_a_config_names(tmp_path):
    (tmp_path / "data.csv").write_text("a,y\n0,1\n1,0\n")
    base = {**BASE, "task": {"csv": "data.csv", "inputs": ["a"], "targets": ["y"]}}
    data = sweep_data(base=base, axes={"learning.lr": [5.0]})
    first = plan.load_sweep(write_sweep(tmp_path, data)).points[0].key
    (tmp_path / "data.csv").write_text("a,y\n0,1\n1,1\n")
    assert plan.load_sweep(write_sweep(tmp_path, data)).points[0].key != first


def test_a_bad_combination_and_a_bad_fixed_value_are_reported(tmp_path):
    data = sweep_data(axes={"init.low": [0.0, 0.3], "init.high": [0.25, 0.2]}, combine="zip")
    error = error_of(tmp_path, data)
    assert error.field == "axes.init.high" and "must be >= init.low" in str(error)
    error = error_of(tmp_path, sweep_data(fixed={"dynamics.dt": 0}))
    assert error.field == "fixed.dynamics.dt" and "must be > 0" in str(error)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"combine": "zip", "axes": {"dynamics.beta": [1.0], "learning.lr": [1.0, 2.0]}},
            "same length",
        ),
        ({"axes": {"learning.lr": [1, 1.0]}}, "gives the same configuration"),
        ({"fixed": {"learning": {"lr": 2}}, "axes": {"learning.lr": [1.0]}}, "overlaps learning"),
        ({"base": "missing.yaml"}, "base = 'missing.yaml'"),
        ({"base": {"task": {"name": "XOR"}, "dynamics": {"dt": -1}}}, "base.dynamics.dt = -1"),
        ({"base": {"task": {"csv": "none.csv", "inputs": ["a"], "targets": ["b"]}}}, "none.csv"),
    ],
)
def test_more_sweep_errors(tmp_path, change, expected):
    assert expected in str(error_of(tmp_path, sweep_data(**change)))


def test_an_evaluate_study_needs_readable_runs(tmp_path):
    error = error_of(tmp_path, {"kind": "evaluate", "runs": ["nowhere"]})
    assert error.field == "runs[0]" and "run directory" in str(error)
    error = error_of(tmp_path, {"kind": "evaluate", "runs": ["r"], "base": "x.yaml"})
    assert error.field == "base"


def test_a_bad_sweep_writes_nothing(tmp_path, capsys):
    path = write_sweep(tmp_path, sweep_data(axes={"learning.lr": [-1.0]}))
    out = tmp_path / "out"
    assert main([str(path), "--out", str(out)]) == 2
    assert "axes.learning.lr = -1.0" in capsys.readouterr().err
    assert not out.exists()


# --- study kinds, in process ----------------------------------------------------------


def test_train_rows_equal_a_direct_training(tmp_path):
    sweep = plan.load_sweep(write_sweep(tmp_path, sweep_data()))
    point = sweep.points[2]
    rows = studies.run_job(point.job)
    config = deephw.config.from_dict(BASE).replace(dynamics={"beta": 2.0}, learning={"lr": 5.0})
    direct = deephw.train(config)
    assert [row["seed"] for row in rows] == [0, 1]
    assert [row["final_mse"] for row in rows] == direct.final_mse.tolist()
    assert [row["accuracy"] for row in rows] == direct.final_accuracy.tolist()
    assert [row["converged"] for row in rows] == direct.converged.tolist()
    assert all(row["diverged"] is False for row in rows)


def test_a_diverging_batch_is_retrained_seed_by_seed(tmp_path, monkeypatch):
    real_train = deephw.training.train

    def train(config, **kwargs):
        if config.training.seed <= 1 < config.training.seed + config.training.seeds:
            raise DivergenceError(4, 1, "weight[0, 5] is not finite")
        return real_train(config, **kwargs)

    monkeypatch.setattr(deephw.training, "train", train)
    sweep = plan.load_sweep(write_sweep(tmp_path, sweep_data(seeds=3)))
    rows = studies.run_job(sweep.points[0].job)
    assert [(row["seed"], row["diverged"]) for row in rows] == [(0, False), (1, True), (2, False)]
    assert rows[1]["diverged_epoch"] == 4 and rows[1]["final_mse"] is None
    alone = real_train(sweep.points[0].job.run_config().replace(training={"seed": 2, "seeds": 1}))
    assert rows[2]["final_mse"] == alone.final_mse[0]


def test_extra_per_seed_metrics_of_a_result_become_columns():
    class Result:
        events = {
            "G+.set": np.array([[1, 2], [3, 4]]),  # cumulative per epoch and seed
            "g.reset": np.array([[0, 0], [5, 1]]),
            "cell.transfers": np.array([[0, 0], [1, 1]]),
            "energy_pJ": np.array([[0.5, 0.5], [2.0, 3.0]]),
        }
        chip_time_s = np.array([1e-6, 2e-6])
        seed_metrics = {"refreshes": [1, 0]}

    metrics = studies.seed_metrics(Result(), 2)
    assert metrics["pulses"] == [8.0, 5.0] and metrics["energy_pJ"] == [2.0, 3.0]
    assert metrics["chip_time_ns"] == pytest.approx([2000.0, 2000.0])
    assert metrics["cell.transfers"] == [1.0, 1.0] and metrics["refreshes"] == [1.0, 0.0]
    assert studies.seed_metrics(object(), 2) == {}


def test_a_hardware_training_fills_the_hardware_columns(tmp_path):
    data = sweep_data(fixed={**HARDWARE, "training.epochs": 3}, axes={"learning.lr": [5.0]})
    rows = studies.run_job(plan.load_sweep(write_sweep(tmp_path, data)).points[0].job)
    for row in rows:
        assert row["pulses"] > 0 and row["energy_pJ"] > 0 and row["chip_time_ns"] > 0
        assert row["cell.transfers"] >= 0


def test_the_sweep_and_the_run_directory_count_the_same_pulses():
    data = {**BASE, "training": {"epochs": 3, "seeds": 2}}
    for path, value in HARDWARE.items():
        paths.assign(data, path, value)
    result = deephw.train(deephw.config.from_dict(data))
    totals = deephw.rundir.hardware_totals(result)
    metrics = studies.seed_metrics(result, 2)
    assert metrics["pulses"] == totals["pulses_per_seed"] and min(metrics["pulses"]) > 0
    devices = [k for k in totals["events_per_seed"] if k.endswith((".set", ".reset"))]
    by_hand = np.sum([totals["events_per_seed"][k] for k in devices], axis=0)
    assert metrics["pulses"] == by_hand.tolist()


def trained_run(tmp_path: Path) -> Path:
    config = deephw.config.from_dict(
        {**BASE, "task": {"name": "AND"}, "training": {"epochs": 40, "seeds": 3}}
    )
    run = tmp_path / "runs" / "and"
    deephw.rundir.write_run(deephw.train(config), run)
    return run


def test_evaluate_rows_equal_a_direct_evaluation_on_ideal_devices(tmp_path):
    trained_run(tmp_path)
    data = {"kind": "evaluate", "runs": ["runs/and"], "axes": {"task.name": ["AND", "OR"]}}
    sweep = plan.load_sweep(write_sweep(tmp_path, data))
    assert sweep.columns == ("run", "task.name")
    assert sweep.points[1].values == {"run": "runs/and", "task.name": "OR"}
    assert sweep.points[1].seeds == (0, 1, 2)  # as many chips as the run has seeds
    config, arrays = deephw.rundir.load_run(tmp_path / "runs" / "and")
    rows = studies.run_job(sweep.points[1].job)
    k = list(arrays["seeds"]).index(rows[0]["network_seed"])  # the run's seeds are 0, 1, 2
    changed = config.replace(task={"name": "OR"})
    topo = deephw.training.build_topology(changed, deephw.tasks.builtin("OR"))
    mse, accuracy, _ = deephw.evaluate(
        changed, topo, deephw.tasks.builtin("OR"), arrays["weights"][k : k + 1], [k]
    )
    assert [row["seed"] for row in rows] == [0, 1, 2]
    assert {row["final_mse"] for row in rows} == {row["trained_mse"] for row in rows} == {mse[0]}
    assert {row["accuracy"] for row in rows} == {row["accuracy_1year_gdc"] for row in rows}
    assert rows[0]["accuracy"] == accuracy[0] and rows[0]["within_tolerance"] == 1.0


@pytest.fixture(scope="module")
def xor_trained(tmp_path_factory) -> Path:
    """XOR trained on ideal devices; seed 0 of 2 gets every pattern right."""
    config = deephw.config.from_dict(
        {"task": {"name": "XOR"}, "training": {"epochs": 600, "seeds": 2}}
    )
    return deephw.rundir.write_run(deephw.train(config), tmp_path_factory.mktemp("xor") / "run")


@pytest.fixture
def xor_run(tmp_path, xor_trained) -> tuple[Path, dict[str, str]]:
    """A copy of the XOR run in ``runs/xor``, and ``fixed`` values naming a card file of a
    noise-free PCM pair (no programming, read or drift noise, no variation)."""
    run = Path(shutil.copytree(xor_trained, tmp_path / "runs" / "xor"))
    card = tmp_path / "quiet_pair.yaml"
    card.write_text(card_to_yaml(noiseless("pcm_pair", name="quiet_pair")))
    return run, {"hardware.card": str(card)}


def test_a_hardware_axis_changes_what_an_evaluate_study_measures(tmp_path, xor_run):
    run, fixed = xor_run
    noise = "hardware.card_overrides.device.read_noise_uS"
    data = {"kind": "evaluate", "runs": ["runs/xor"], "fixed": fixed, "axes": {noise: [0.0, 20.0]}}
    sweep = plan.load_sweep(write_sweep(tmp_path, {**data, "seeds": 4, "seed": 10}))
    quiet, noisy = sweep.points
    assert quiet.seeds == noisy.seeds == (10, 11, 12, 13) and quiet.key != noisy.key
    summary = json.loads((run / "summary.json").read_text())
    best = int(np.argmin(summary["final_mse_per_seed"]))
    assert summary["accuracy_per_seed"][best] == 1.0
    # A noise-free card reproduces the trained network exactly, on every chip, at all times.
    for row in studies.run_job(quiet.job):
        assert row["network_seed"] == summary["seed_values"][best]
        assert row["accuracy"] == row["trained_accuracy"] == 1.0
        assert row["final_mse"] == row["trained_mse"] == summary["final_mse_per_seed"][best]
        assert all(row[name] == 1.0 for _, names in studies.DRIFT_COLUMNS for name in names[::2])
        assert row["within_tolerance"] == 1.0 and row["failed_devices"] == 0
    # Huge read noise (20 uS on a 25 uS device) spoils write-verify and inference.
    rows = studies.run_job(noisy.job)
    assert np.mean([row["accuracy"] for row in rows]) < 0.9
    assert np.mean([row["accuracy_1year"] for row in rows]) < 0.9
    assert all(row["within_tolerance"] < 1.0 and row["pulses"] > 0 for row in rows)
    assert all(row["trained_accuracy"] == 1.0 for row in rows)


def test_an_evaluate_sweep_run_again_reuses_its_rows_until_the_card_changes(tmp_path, xor_run):
    from deephw.sweep import execute, figures, table
    from deephw.sweep.store import ResultStore

    _, fixed = xor_run
    data = {
        "kind": "evaluate",
        "runs": ["runs/xor"],
        "fixed": fixed,
        "axes": {"hardware.card_overrides.device.drift_nu_std_clip": [[0.0, 0.0], [0.2, 0.2]]},
        "seeds": 2,
    }
    path = write_sweep(tmp_path, data)
    sweep = plan.load_sweep(path)
    execute.prepare_directory(tmp_path / "out", sweep)
    store = ResultStore(tmp_path / "out" / execute.RESULTS)
    for point in sweep.points:  # what the workers would compute and the executor store
        store.write(point, studies.run_job(point.job), 0.0)
    again = plan.load_sweep(path)  # exported again: the same keys
    assert [p.key for p in again.points] == [p.key for p in sweep.points]
    outcome = execute.run_sweep(again, tmp_path / "out", progress=False)  # needs no cluster
    assert (outcome.reused, outcome.computed, outcome.complete) == (2, 0, True)
    frame, description = table.read(tmp_path / "out")
    assert len(frame) == 4 and frame["accuracy_1year"].dtype == float
    drifting = frame[frame["seed"] == 0]["accuracy_1year"].tolist()
    assert drifting[0] == 1.0 and drifting[1] < 1.0  # drift exponents spread by 0.2
    names = {p.name for p in outcome.figures}
    axis = "hardware.card_overrides.device.drift_nu_std_clip"
    assert {f"vs_{axis}.png", f"drift_accuracy_vs_{axis}.png"} <= names
    assert "accuracy_1year" not in figures.metrics_of(frame, description)
    card = Path(fixed["hardware.card"])
    card.write_text(card.read_text().replace("g_max_uS: 25.0", "g_max_uS: 24.0"))
    changed = plan.load_sweep(path)
    assert not {p.key for p in changed.points} & {p.key for p in sweep.points}


@pytest.mark.parametrize(
    ("axis", "values", "bad", "expected"),
    [
        ("program.tile_rows", [4, 0], 0, "must be >= 1"),
        ("program.network_seed", [0, 7], 7, "no network (seeds: 0, 1)"),
        ("program.tiles", [4], 4, "unknown key"),
        ("program.groups", ["none.yaml"], "none.yaml", "none.yaml"),
        ("hardware.card_overrides.device.g_max_uS", [25.0, 4.0], 4.0, "outside the device"),
    ],
)
def test_evaluate_options_and_unexportable_cards_are_reported_before_anything_runs(
    tmp_path, xor_run, axis, values, bad, expected
):
    _, fixed = xor_run
    data = {"kind": "evaluate", "runs": ["runs/xor"], "fixed": fixed, "axes": {axis: values}}
    error = error_of(tmp_path, data)
    assert (error.field, error.value) == (f"axes.{axis}", bad)
    assert expected in str(error) and "(run runs/xor)" in str(error)


def test_evaluate_rejects_a_graph_other_than_the_runs(tmp_path):
    trained_run(tmp_path)
    data = {"kind": "evaluate", "runs": ["runs/and"], "axes": {"network.hidden": [4]}}
    error = error_of(tmp_path, data)
    assert error.field == "axes.network.hidden" and "(run runs/and)" in str(error)


# --- command line ---------------------------------------------------------------------


def deephw_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deephw")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def test_both_forms_of_the_sweep_command_parse():
    args = deephw_parser().parse_args(["sweep", "s.yaml", "--workers", "3", "--out", "d"])
    assert (args.target, args.directory, args.workers, args.out) == ("s.yaml", None, 3, "d")
    args = deephw_parser().parse_args(["sweep", "s.yaml", "--scheduler", "tcp://h:8786"])
    assert args.scheduler == "tcp://h:8786"
    args = deephw_parser().parse_args(["sweep", "report", "d"])
    assert (args.target, args.directory) == ("report", "d")


@pytest.mark.parametrize(
    "argv",
    [
        ["report"],
        ["report", "d", "--workers", "2"],
        ["s.yaml", "d"],
        ["s.yaml", "--workers", "0"],
        ["s.yaml", "--workers", "2", "--scheduler", "tcp://h:1"],
    ],
)
def test_bad_sweep_command_lines_are_usage_errors(argv, capsys):
    parser = deephw_parser()
    with pytest.raises(SystemExit) as info:
        args = parser.parse_args(["sweep", *argv])
        args.func(args)
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_report_of_an_unfinished_sweep_is_an_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no table.parquet" in capsys.readouterr().err


EXAMPLES = sorted((Path(__file__).parents[1] / "examples" / "sweeps").glob("*.yaml"))


def short_runs(path: Path, tmp_path: Path) -> Path:
    """A copy of an evaluate example at the same depth under ``tmp_path``, its runs
    trained briefly from ``examples/program/RUN.yaml`` (as its header says)."""
    copy = tmp_path / "examples" / "sweeps" / path.name
    copy.parent.mkdir(parents=True)
    shutil.copyfile(path, copy)
    for run in yaml.safe_load(path.read_text())["runs"]:
        config = deephw.config.load(path.parents[1] / "program" / f"{Path(run).name}.yaml")
        short = config.replace(training={"epochs": 10, "seeds": 2})
        deephw.rundir.write_run(deephw.train(short), copy.parent / run)
    return copy


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_sweeps_are_valid(path, tmp_path):
    if yaml.safe_load(path.read_text()).get("kind") == "evaluate":
        path = short_runs(path, tmp_path)
    sweep = plan.load_sweep(path)
    assert sweep.points and sweep.n_rows >= len(sweep.points)


# --- results files and the table, without Dask ----------------------------------------


def test_result_files_and_table_from_stored_rows(tmp_path):
    from deephw.sweep import execute, table
    from deephw.sweep.store import ResultStore

    data = sweep_data(axes={"training.batch_size": [None, 2]}, seeds=2)
    sweep = plan.load_sweep(write_sweep(tmp_path, data))
    store = ResultStore(tmp_path / "out" / execute.RESULTS)
    first, second = sweep.points
    diverged = {"seed": 1, "final_mse": None, "converged": False, "correct": False}
    diverged.update(diverged=True, diverged_epoch=3)
    with pytest.raises(ValueError, match="expected"):
        store.write(first, [{"seed": 0}], None)  # a seed is missing: nothing written
    assert store.done(sweep.points) == set()
    store.write(first, [{"seed": 0, "final_mse": 0.5, "pulses": 7.0, "G+.set": 3.0}, diverged], 1.0)
    store.write(second, [{"seed": 0, "final_mse": 0.25}, {"seed": 1, "final_mse": 0.125}], 1.0)
    store.path(second.key).write_text("{not json")  # unreadable: counts as missing
    assert store.done(sweep.points) == {first.key}
    store.write(second, [{"seed": 1, "final_mse": 0.125}, {"seed": 0, "final_mse": 0.25}], 1.0)
    frame = table.build(sweep, store)
    assert list(frame.columns[:3]) == ["config", "training.batch_size", "seed"]
    assert frame["seed"].tolist() == [0, 1, 0, 1]
    assert frame["final_mse"].tolist()[0] == 0.5 and np.isnan(frame["final_mse"][1])
    assert frame["diverged"].tolist() == [False, True, False, False]
    assert frame["diverged_epoch"].isna().tolist() == [True, False, True, True]
    assert frame["pulses"].tolist()[0] == 7.0 and frame["energy_pJ"].isna().all()
    assert "G+.set" in frame.columns
    table.write(frame, table.info(sweep), tmp_path / "out")
    again, description = table.read(tmp_path / "out")
    assert again.equals(frame) and description["axes"] == ["training.batch_size"]


def test_a_sweep_seed_past_64_bits_names_the_sweep_field(tmp_path):
    error = error_of(tmp_path, sweep_data(seed=10**23, seeds=2))
    assert (error.field, error.value) == ("seed", 10**23)
    assert "must be <= 9223372036854775806 (64-bit seeds)" in str(error)
