"""A sweep refused before any work: too large a grid or too many seeds (estimated without
generating the grid), an output location that cannot take it, a directory another
process is writing or that holds another sweep; and what the sweep then tells the user
(status lines, the summary's counts)."""

from __future__ import annotations

import errno
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from collections import namedtuple
from pathlib import Path

import pandas as pd
import pytest
import yaml

import deephw
from deephw import atomic
from deephw.errors import DeephwError
from deephw.sweep import estimate, execute, plan, report, spec
from deephw.sweep.cli import main

REPO = Path(deephw.__file__).resolve().parents[1]
BASE = {
    "task": {"name": "XOR"},
    "dynamics": {"free_steps": 40, "nudged_steps": 8},
    "training": {"epochs": 20, "seeds": 2},
}
AXES = {"dynamics.beta": [1.0, 2.0], "learning.lr": [5.0, 10.0]}


def write_sweep(folder: Path, name: str = "sweep.yaml", **changes: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump({"base": BASE, "axes": AXES, **changes}, sort_keys=False))
    return path


def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def no_generation(monkeypatch) -> None:
    """Fail the test if any configuration of the grid is generated."""

    def refuse(self):
        raise AssertionError("the grid was generated")

    monkeypatch.setattr(spec.SweepFile, "combinations", refuse)


# --- estimates before anything runs --------------------------------------------------

TEN = [round(0.1 * k, 1) for k in range(1, 11)]
HUGE_GRID = {
    "dynamics.beta": TEN,
    "learning.lr": TEN,
    "dynamics.dt": TEN,
    "init.high": TEN,
    "dynamics.extra_leak": TEN,
    "pruning.threshold": TEN,
    "pruning.temperature": TEN,
}


def test_a_ten_million_point_grid_is_refused_without_being_generated(tmp_path, capsys, monkeypatch):
    no_generation(monkeypatch)
    out = tmp_path / "out"
    sweep_file = write_sweep(tmp_path, axes=HUGE_GRID)
    assert main([str(sweep_file), "--out", str(out), "--force", "--quiet"]) == 2
    line = one_line_error(capsys)
    assert f"{sweep_file}: axes = '10000000 configurations (10 dynamics.beta x 10 " in line
    assert "of memory, more than this machine can give" in line  # --force does not help
    assert not out.exists()


def test_a_billion_seeds_are_refused_naming_the_seeds(tmp_path, capsys, monkeypatch):
    no_generation(monkeypatch)
    sweep_file = write_sweep(tmp_path, seeds=10**9)
    assert main([str(sweep_file), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    line = one_line_error(capsys)
    assert f"{sweep_file}: seeds = 1000000000: needs about" in line and "of memory" in line


def test_an_axis_value_with_astronomical_epochs_is_named(tmp_path, capsys, monkeypatch):
    no_generation(monkeypatch)
    sweep_file = write_sweep(tmp_path, axes={"training.epochs": [10, 10**12]})
    assert main([str(sweep_file), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert f"{sweep_file}: axes.training.epochs = [10, 1000000000000]: needs" in one_line_error(
        capsys
    )


def test_an_evaluate_sweep_of_a_billion_chips_is_refused_naming_the_seeds(
    tmp_path, capsys, monkeypatch
):
    config = deephw.config.from_dict({**BASE, "training": {"epochs": 5, "seeds": 2}})
    deephw.rundir.write_run(deephw.train(config), tmp_path / "runs" / "xor")
    no_generation(monkeypatch)
    sweep_file = tmp_path / "eval.yaml"
    sweep_file.write_text(
        yaml.safe_dump({"kind": "evaluate", "runs": ["runs/xor"], "seeds": 10**9})
    )
    assert main([str(sweep_file), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    line = one_line_error(capsys)
    assert f"{sweep_file}: seeds = 1000000000: needs about" in line and "of memory" in line


LONG_RUN = {
    "task": {"name": "XOR"},
    "network": {"hidden": 1000},
    "training": {"epochs": 10**6, "seeds": 1},
}
"""One configuration of about 1e15 operations (past the work limit) in about 1.5 GB."""
CLOSED_PORT = "tcp://127.0.0.1:1"
"""A scheduler address nothing listens at: a sweep that gets past its checks stops there."""


def test_work_past_the_limit_is_refused_unless_forced(tmp_path, capsys):
    sweep_file = write_sweep(tmp_path, base=LONG_RUN, axes={})
    out = tmp_path / "out"
    argv = [str(sweep_file), "--out", str(out), "--quiet", "--scheduler", CLOSED_PORT]
    assert main(argv) == 2
    line = one_line_error(capsys)
    assert f"{sweep_file}: base = 'its run size': needs about 1.2e+15 operations" in line
    assert "pass --force to run it anyway" in line
    # With --force the sweep goes on past the estimate, here to a closed scheduler port.
    assert main([*argv, "--force"]) == 2
    assert "cannot reach a Dask scheduler there" in one_line_error(capsys)
    assert not out.exists()


def test_a_grid_estimate_sums_its_configurations_without_generating_them():
    """Axes scaling different factors of the work: the estimate is the sum over the
    grid (to 1 %: a run's work is a sum of terms, not one product), and one
    configuration's needs are those ``deephw train`` estimates for it."""
    axes = {"training.epochs": [100, 300, 1000], "dynamics.free_steps": [10, 50]}
    axes["training.seeds"] = [1, 4]
    data = deephw.config.from_dict(BASE).to_dict()
    task = estimate.TaskShape(2, 1, 4)
    sizes = estimate.BaseSizes("train", data, [], task)
    needs = estimate.estimate_sweep([sizes], axes, "grid", "seeds", "base")
    total = 0.0
    for combo in itertools.product(*axes.values()):
        one, _ = estimate.run_estimate("train", data, list(zip(axes, combo, strict=True)), task)
        total += one.operations
    n = 3 * 2 * 2
    assert needs.configurations == n
    assert needs.rows == pytest.approx(n * 2.5)  # seeds 1 and 4, half the grid each
    assert needs.estimate.operations == pytest.approx(total + n * estimate.VALIDATION_OPS, rel=0.01)
    one, seeds = estimate.run_estimate("train", data, [], task)
    run = deephw.estimate.estimate_run(deephw.config.from_dict(BASE), task)
    assert seeds == 2 and (one.operations, one.memory_bytes) == (run.operations, run.memory_bytes)
    # A configuration that does not validate counts as nothing (its validation reports it).
    bad, _ = estimate.run_estimate("train", data, [("training.epochs", -5)], task)
    assert (bad.operations, bad.memory_bytes) == (0.0, 0.0)


def test_validation_shows_a_progress_bar_when_it_takes_a_while(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(plan, "PROGRESS_DELAY_S", 0.0)
    sweep = plan.load_sweep(write_sweep(tmp_path), progress=True)
    assert len(sweep.points) == 4
    err = capsys.readouterr().err
    assert "validating" in err and "4/4" in err
    plan.load_sweep(write_sweep(tmp_path))  # no bar unless asked
    assert capsys.readouterr().err == ""


# --- the output location --------------------------------------------------------------


def refuse_before_validation(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the sweep was validated before its output was checked")

    monkeypatch.setattr(plan, "load_sweep", refuse)


def test_a_file_as_output_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    sweep_file = write_sweep(tmp_path)
    refuse_before_validation(monkeypatch)
    target = tmp_path / "file.txt"
    target.write_text("keep")
    assert main([str(sweep_file), "--out", str(target), "--quiet"]) == 2
    assert "file.txt: exists and is not a directory" in one_line_error(capsys)
    assert main([str(sweep_file), "--out", str(target / "sub"), "--quiet"]) == 2
    assert "file.txt is not a directory" in one_line_error(capsys)
    assert target.read_text() == "keep"


def test_a_read_only_output_is_refused_before_any_work(tmp_path, capsys, monkeypatch, tmpfs):
    sweep_file = write_sweep(tmp_path)
    refuse_before_validation(monkeypatch)
    with tmpfs(tmp_path / "ro", "ro,size=4m") as folder:
        assert main([str(sweep_file), "--out", str(folder / "out"), "--quiet"]) == 2
        line = one_line_error(capsys)
        assert f"cannot write into {folder} (Read-only file system)" in line
        assert not any(folder.iterdir())


def test_a_read_only_output_simulated(tmp_path, capsys, monkeypatch):
    sweep_file = write_sweep(tmp_path)
    refuse_before_validation(monkeypatch)

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    assert main([str(sweep_file), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "(Read-only file system)" in one_line_error(capsys)
    assert not (tmp_path / "out").exists()


def test_a_full_output_is_refused_before_any_work(tmp_path, capsys, monkeypatch, tmpfs):
    sweep_file = write_sweep(tmp_path)
    refuse_before_validation(monkeypatch)
    with tmpfs(tmp_path / "full", "size=1m") as folder:
        assert main([str(sweep_file), "--out", str(folder / "out"), "--quiet"]) == 2
        assert "not enough free space" in one_line_error(capsys)
        assert not any(folder.iterdir())


def test_a_full_output_simulated_counts_what_the_sweep_writes(tmp_path, capsys, monkeypatch):
    sweep_file = write_sweep(tmp_path)
    sweep = plan.load_sweep(sweep_file)
    needed = estimate.disk_bytes(len(sweep.points), sweep.n_rows)
    assert needed > estimate.FIGURES_BYTES
    usage = namedtuple("usage", "total used free")
    free = atomic.OUTPUT_MARGIN_BYTES + needed - 1  # one byte short of what it needs
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**12, 0, free))
    with pytest.raises(DeephwError, match="not enough free space"):
        execute.run_sweep(sweep, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


# --- one writer, one sweep per directory --------------------------------------------


def hold_claim(path: Path) -> subprocess.Popen:
    """Another process holding the write claim on ``path`` until killed."""
    code = (
        "import sys, time\n"
        "from deephw import atomic\n"
        "with atomic.claim(sys.argv[1]):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(120)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_sweep_directory_another_process_writes_is_refused(tmp_path, capsys):
    sweep_file, out = stored_sweep(tmp_path)
    sweep = plan.load_sweep(sweep_file)
    assert execute.run_sweep(sweep, out, progress=False, draw_figures=False).complete
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    holder = hold_claim(out)
    try:
        assert main([str(sweep_file), "--out", str(out), "--quiet"]) == 2
        assert "another deephw process is writing this output" in one_line_error(capsys)
        assert main(["report", str(out), "--quiet"]) == 2
        assert "another deephw process is writing this output" in one_line_error(capsys)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # untouched
    # Two claims in one process conflict as well.
    with atomic.claim(out):
        with pytest.raises(DeephwError, match="another deephw process is writing this output"):
            execute.run_sweep(sweep, out, progress=False)
    # The holder died: its lock went with it, and the figures are drawn.
    assert main(["report", str(out), "--quiet"]) == 0
    assert (out / "figures").is_dir()


def test_a_different_sweep_in_a_sweep_directory_is_refused_naming_what_differs(tmp_path, capsys):
    first = plan.load_sweep(write_sweep(tmp_path, "a.yaml"))
    out = tmp_path / "out"
    execute.prepare_directory(out, first)
    before = (out / execute.MARKER).read_bytes()
    other = write_sweep(tmp_path, "b.yaml", axes={**AXES, "learning.lr": [5.0, 20.0]}, seeds=3)
    assert main([str(other), "--out", str(out), "--quiet"]) == 2
    line = one_line_error(capsys)
    assert f"{out}: holds another sweep ('{tmp_path / 'a.yaml'}')" in line
    assert "axes.learning.lr is [5.0, 10.0] there, [5.0, 20.0] here" in line
    assert "seeds is None there, 3 here" in line
    assert (out / execute.MARKER).read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == [execute.MARKER]


def test_the_same_sweep_is_resumed_whatever_its_file_name_or_description(tmp_path):
    first = plan.load_sweep(write_sweep(tmp_path, "a.yaml"))
    out = tmp_path / "out"
    execute.prepare_directory(out, first)
    same = plan.load_sweep(write_sweep(tmp_path / "elsewhere", "b.yaml", description="again"))
    execute.check_same_sweep(out, same)  # no error
    changed_base = plan.load_sweep(
        write_sweep(tmp_path, "c.yaml", base={**BASE, "training": {"epochs": 30, "seeds": 2}})
    )
    with pytest.raises(DeephwError, match=r"base\.training\.epochs is 20 there, 30 here"):
        execute.check_same_sweep(out, changed_base)


# --- what the user reads -----------------------------------------------------------


def summary_frame(kind: str) -> tuple[pd.DataFrame, dict]:
    """100 rows of one configuration: 70 converged, 71 with every pattern right."""
    frame = pd.DataFrame(
        {
            "config": ["k"] * 100,
            "seed": range(100),
            "final_mse": [0.001] * 70 + [0.02] * 30,
            "converged": [True] * 70 + [False] * 30,
            "correct": [True] * 71 + [False] * 29,
        }
    )
    return frame, {"kind": kind, "axes": [], "label": None}


def test_the_evaluate_summary_counts_chips_with_every_pattern_right():
    text = report.summary_text(*summary_frame("evaluate"))
    assert "base: all patterns right on 71/100 chips, median final MSE 0.001" in text
    assert "converged" not in text


def test_the_train_summary_counts_converged_and_right_seeds_apart():
    text = report.summary_text(*summary_frame("train"))
    assert "base: converged 70/100 seeds, all patterns right 71/100" in text


def stored_sweep(folder: Path) -> tuple[Path, Path]:
    """A sweep file and its directory holding every configuration's rows (made up), so
    that running it again needs no cluster."""
    sweep_file = write_sweep(folder)
    out = folder / "out"
    sweep = plan.load_sweep(sweep_file)
    for point in sweep.points:
        rows = [
            {
                "seed": s,
                "final_mse": 0.1 * s,
                "accuracy": 0.75,
                "converged": False,
                "correct": s == 1,
                "sparsity": 0.0,
                "epochs_to_converge": None,
                "diverged": False,
                "diverged_epoch": None,
            }
            for s in point.seeds
        ]
        execute.ResultStore(out / execute.RESULTS).write(point, rows, 0.1)
    execute.prepare_directory(out, sweep)
    return sweep_file, out


def test_a_sweep_says_what_it_does_outside_its_bars(tmp_path, capsys):
    """Every phase without a bar is announced: reading, the table, the figures' bar."""
    sweep_file, out = stored_sweep(tmp_path)
    assert main([str(sweep_file), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"reading {sweep_file}..." in err
    assert "writing the table (8 rows)..." in err
    assert "figures: 100%" in err
    assert main(["report", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"reading the table of {out}..." in err and "figures: 100%" in err


def test_starting_the_cluster_is_announced(tmp_path, capsys, monkeypatch):
    def stop(*args, **kwargs):
        raise DeephwError("stopped here")

    monkeypatch.setattr(execute, "connect", stop)
    sweep = plan.load_sweep(write_sweep(tmp_path))
    with pytest.raises(DeephwError, match="stopped here"):
        execute.run_sweep(sweep, tmp_path / "out", workers=2, progress=True)
    assert "starting the embedded Dask cluster (2 worker processes)..." in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
