"""Sweeps on a real Dask cluster on the loopback interface: a worker killed mid-sweep, the
sweep process killed (SIGKILL) or interrupted (SIGINT) mid-way and run again, the table
against the same configurations trained directly, and the report redrawn from the table.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import deephw
from deephw.sweep import execute, plan, report, table
from deephw.sweep.cli import main
from deephw.sweep.store import ResultStore

distributed = pytest.importorskip("distributed")

# 12 configurations x 3 seeds; one configuration takes ~0.2 s on one core.
BASE = {
    "task": {"name": "XOR"},
    "dynamics": {"free_steps": 50, "nudged_steps": 10},
    "training": {"epochs": 300, "seeds": 3},
}
AXES = {"dynamics.beta": [0.5, 1.0, 1.5, 2.0], "learning.lr": [5.0, 10.0, 20.0]}
REPO = Path(deephw.__file__).resolve().parents[1]


def write_sweep(folder: Path, **changes: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump({"base": BASE, "axes": AXES, **changes}, sort_keys=False))
    return path


def assert_complete(frame: pd.DataFrame, sweep: plan.Sweep) -> None:
    """Every (configuration, seed) of the sweep is in the table exactly once."""
    expected = sorted((p.key, s) for p in sweep.points for s in p.seeds)
    found = sorted(zip(frame["config"], frame["seed"], strict=True))
    assert found == expected
    assert len(frame) == sweep.n_rows


def stored_files(out: Path) -> dict[str, tuple[int, int]]:
    folder = out / execute.RESULTS
    if not folder.is_dir():
        return {}
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.json")}


def test_a_worker_killed_mid_sweep_loses_and_duplicates_nothing(tmp_path, dask_client):
    sweep = plan.load_sweep(write_sweep(tmp_path))
    killed: list[tuple[str, list]] = []

    def kill_a_busy_worker(point, rows):
        if killed:
            return
        busy = {addr: keys for addr, keys in dask_client.processing().items() if keys}
        if not busy:
            return
        address, keys = next(iter(busy.items()))
        pid = dask_client.run(os.getpid, workers=[address])[address]
        os.kill(pid, signal.SIGKILL)  # the nanny starts a new worker; Dask reruns its task
        killed.append((address, list(keys)))

    outcome = execute.run_sweep(
        sweep, tmp_path / "out", client=dask_client, progress=False, on_result=kill_a_busy_worker
    )
    assert killed, "no worker was busy to be killed"
    assert outcome.complete and not outcome.failed
    assert outcome.computed == len(sweep.points)
    frame, _ = table.read(tmp_path / "out")
    assert_complete(frame, sweep)
    assert len(stored_files(tmp_path / "out")) == len(sweep.points)
    dask_client.wait_for_workers(2, timeout=30)

    # The table holds what deephw.train gives for the same configurations, bit for bit.
    base = deephw.config.from_dict(BASE)
    for (beta, lr), rows in frame.groupby(["dynamics.beta", "learning.lr"]):
        result = deephw.train(base.replace(dynamics={"beta": beta}, learning={"lr": lr}))
        rows = rows.sort_values("seed")
        assert rows["seed"].tolist() == result.seeds.tolist()
        assert rows["final_mse"].tolist() == result.final_mse.tolist()
        assert rows["accuracy"].tolist() == result.final_accuracy.tolist()
        assert rows["converged"].tolist() == result.converged.tolist()
        assert rows["correct"].tolist() == result.correct.tolist()
        assert rows["sparsity"].tolist() == result.sparsity.tolist()
        epochs = [int(v) if v >= 0 else None for v in result.epochs_to_converge]
        assert [None if pd.isna(v) else int(v) for v in rows["epochs_to_converge"]] == epochs

    # CSV and Parquet hold the same rows; the report is redrawn from the table alone.
    csv = pd.read_csv(tmp_path / "out" / table.CSV)
    assert np.array_equal(csv["final_mse"].to_numpy(), frame["final_mse"].to_numpy())
    assert csv["config"].tolist() == frame["config"].tolist()
    figures = sorted(p.name for p in outcome.figures)
    assert figures == [
        "heatmap_dynamics.beta__learning.lr.png",
        "vs_dynamics.beta.png",
        "vs_learning.lr.png",
    ]
    for path in outcome.figures:
        path.unlink()
    (tmp_path / "out" / execute.RESULTS).rename(tmp_path / "elsewhere")
    assert main(["report", str(tmp_path / "out"), "--quiet"]) == 0
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in outcome.figures)


def start_sweep(sweep_file: Path, out: Path, cwd: Path) -> subprocess.Popen:
    """``python -m deephw.sweep`` with 2 local workers, in a new process group."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deephw.sweep",
            str(sweep_file),
            "--out",
            str(out),
            "--workers",
            "2",
            "--quiet",
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for_results(process: subprocess.Popen, out: Path, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(stored_files(out)) < count:
        if process.poll() is not None:
            pytest.fail(f"sweep ended early:\n{process.stderr.read()}")
        if time.monotonic() > deadline:
            pytest.fail("no results written in time")
        time.sleep(0.02)


def stop_group(process: subprocess.Popen) -> None:
    """Kill what is left of the process group this test started (its Dask workers)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def test_a_killed_sweep_process_resumes_without_losing_or_duplicating_rows(tmp_path, dask_client):
    sweep_file = write_sweep(tmp_path)
    sweep = plan.load_sweep(sweep_file)
    out = tmp_path / "out"
    process = start_sweep(sweep_file, out, tmp_path)
    try:
        wait_for_results(process, out, 2)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        stop_group(process)
    before = stored_files(out)
    assert 2 <= len(before) < len(sweep.points)
    assert not list((out / execute.RESULTS).glob(".*"))  # no partial file left
    assert not (out / table.PARQUET).exists()

    outcome = execute.run_sweep(sweep, out, client=dask_client, progress=False, draw_figures=False)
    assert (outcome.reused, outcome.computed) == (len(before), len(sweep.points) - len(before))
    after = stored_files(out)
    assert {name: after[name] for name in before} == before  # finished files untouched
    frame, _ = table.read(out)
    assert_complete(frame, sweep)
    again = execute.run_sweep(sweep, out, client=dask_client, progress=False, draw_figures=False)
    assert (again.reused, again.computed) == (len(sweep.points), 0)
    assert_complete(table.read(out)[0], sweep)


def test_an_interrupted_sweep_says_what_is_saved_and_finishes_when_rerun(tmp_path, dask_client):
    sweep_file = write_sweep(
        tmp_path, axes={"dynamics.beta": [0.5, 1.0, 1.5, 2.0], "learning.lr": [5.0, 10.0]}
    )
    sweep = plan.load_sweep(sweep_file)
    out = tmp_path / "out"
    process = start_sweep(sweep_file, out, tmp_path)
    try:
        wait_for_results(process, out, 1)
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: to every process of the group
        _, stderr = process.communicate(timeout=60)
    finally:
        stop_group(process)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "run the same command again" in stderr
    assert "Traceback" not in stderr  # workers leave Ctrl-C to the sweep process
    done = ResultStore(out / execute.RESULTS).done(sweep.points)
    assert 1 <= len(done) < len(sweep.points)
    outcome = execute.run_sweep(sweep, out, client=dask_client, progress=False, draw_figures=False)
    assert outcome.computed == len(sweep.points) - len(done)
    assert_complete(table.read(out)[0], sweep)


def test_an_evaluate_study_on_the_cluster(tmp_path, dask_client):
    config = deephw.config.from_dict(
        {**BASE, "task": {"name": "AND"}, "training": {"epochs": 60, "seeds": 3}}
    )
    deephw.rundir.write_run(deephw.train(config), tmp_path / "runs" / "and")
    data = {
        "kind": "evaluate",
        "runs": ["runs/and"],
        "axes": {"dynamics.free_steps": [20, 100], "task.name": ["AND", "OR"]},
    }
    sweep_file = tmp_path / "eval.yaml"
    sweep_file.write_text(yaml.safe_dump(data))
    sweep = plan.load_sweep(sweep_file)
    outcome = execute.run_sweep(
        sweep, tmp_path / "out", client=dask_client, progress=False, draw_figures=False
    )
    assert outcome.complete
    frame, description = table.read(tmp_path / "out")
    assert_complete(frame, sweep)
    assert description["label"] == "run" and set(frame["run"]) == {"runs/and"}
    assert "epochs_to_converge" not in frame.columns
    run_config, arrays = deephw.rundir.load_run(tmp_path / "runs" / "and")
    rows = frame[(frame["dynamics.free_steps"] == 20) & (frame["task.name"] == "OR")]
    assert rows["seed"].tolist() == [0, 1, 2]  # one chip per seed of the run
    k = list(arrays["seeds"]).index(rows["network_seed"].iloc[0])
    changed = run_config.replace(dynamics={"free_steps": 20}, task={"name": "OR"})
    task = deephw.tasks.builtin("OR")
    topo = deephw.training.build_topology(changed, task)
    mse, _, _ = deephw.evaluate(changed, topo, task, arrays["weights"][k : k + 1], [k])
    assert rows["final_mse"].tolist() == [mse[0]] * 3  # programmed exactly on ideal chips
    assert "run=runs/and" in report.summary_text(frame, description)
    again = execute.run_sweep(
        plan.load_sweep(sweep_file), tmp_path / "out", client=dask_client, progress=False
    )
    assert (again.reused, again.computed, again.complete) == (4, 0, True)


def test_an_unreachable_scheduler_is_an_error_that_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(execute, "CONNECT_TIMEOUT", 1.0)
    sweep_file = write_sweep(tmp_path)
    out = tmp_path / "out"
    assert main([str(sweep_file), "--out", str(out), "--scheduler", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "--scheduler = 'tcp://127.0.0.1:1': cannot reach a Dask scheduler there" in err
    assert not out.exists()


def test_the_command_sends_a_sweep_to_an_existing_scheduler(tmp_path, dask_client, capsys):
    sweep_file = write_sweep(tmp_path, axes={"learning.lr": [5.0, 10.0]})
    out = tmp_path / "out"
    address = dask_client.scheduler.address
    assert main([str(sweep_file), "--out", str(out), "--scheduler", address]) == 0
    printed = capsys.readouterr().out
    assert f"on {address}" in printed and "computed 2, reused 0" in printed
    frame, _ = table.read(out)
    assert_complete(frame, plan.load_sweep(sweep_file))
    assert main([str(sweep_file), "--out", str(out), "--scheduler", address]) == 0
    assert "computed 0, reused 2" in capsys.readouterr().out
