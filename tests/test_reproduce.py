"""``deephw reproduce``: results.md, workers, what the user sees, where it may write."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import pytest

from deephw import readme_check, reproduce, results_tables, runpool
from deephw.cli import main
from deephw.config import from_dict
from deephw.errors import DivergenceError

SMALL = ["--epochs", "20", "--seeds", "2", "--seed", "3"]
PER_SEED = (
    "seed_values",
    "converged_per_seed",
    "correct_per_seed",
    "final_mse_per_seed",
    "accuracy_per_seed",
    "epochs_to_converge_per_seed",
    "sparsity_per_seed",
    "prop2_final_per_seed",
)


@pytest.fixture(scope="module")
def one_and_two_workers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A small reproduce with a card study, on 1 worker and on 2; and the output of the first."""
    root = tmp_path_factory.mktemp("reproduce")
    outs = root / "one", root / "two"
    capture = root / "stdout.txt"
    for out, workers in zip(outs, ("1", "2"), strict=True):
        args = ["reproduce", "--out", str(out), *SMALL, "--cards", "pcm_pair", "--workers", workers]
        done = subprocess.run(
            [sys.executable, "-m", "deephw.cli", *args], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        if workers == "1":
            capture.write_text(done.stdout)
    return outs[0], outs[1], capture.read_text()


def per_seed(report: dict) -> dict:
    """The per-seed fields of every run of a summary (``{task: {run: {field: [...]}}}``)."""
    return {
        task: {name: {key: entry[key] for key in PER_SEED} for name, entry in runs.items()}
        for task, runs in report["tasks"].items()
    }


# -- workers -------------------------------------------------------------------------------
def test_two_workers_give_the_per_seed_results_of_one_process(one_and_two_workers) -> None:
    one, two, _ = one_and_two_workers
    first = json.loads((one / "summary.json").read_text())
    second = json.loads((two / "summary.json").read_text())
    assert per_seed(first) == per_seed(second)
    assert first["tasks"]["XOR"]["deep"]["seed_values"] == [3, 4]
    cards_one = json.loads((one / "cards_summary.json").read_text())
    cards_two = json.loads((two / "cards_summary.json").read_text())
    assert per_seed(cards_one["pcm_pair"]) == per_seed(cards_two["pcm_pair"])
    hardware = cards_one["pcm_pair"]["tasks"]["AND"]["deep"]["hardware"]
    assert hardware == cards_two["pcm_pair"]["tasks"]["AND"]["deep"]["hardware"]
    assert (one / "results.md").read_text() == (two / "results.md").read_text()
    runs = sorted(p.relative_to(one) for p in (one / "runs").rglob("metrics.csv"))
    assert runs == sorted(p.relative_to(two) for p in (two / "runs").rglob("metrics.csv"))
    assert len(runs) == 15 + 6
    for run in runs:
        assert (one / run).read_bytes() == (two / run).read_bytes()


def test_an_error_in_a_worker_reaches_the_caller_as_itself(tmp_path) -> None:
    diverging = from_dict(
        {
            "task": {"name": "XOR"},
            "init": {"low": 1e308, "high": 1.5e308},
            "training": {"epochs": 20, "seeds": 2, "seed": 4},
        }
    )
    fine = from_dict({"task": {"name": "AND"}, "training": {"epochs": 5, "seeds": 1}})
    jobs = [
        runpool.Job("fine", fine, tmp_path / "fine"),
        runpool.Job("bad", diverging, tmp_path / "bad"),
    ]
    with pytest.raises(DivergenceError) as caught:
        runpool.run_jobs(jobs, workers=2)
    assert caught.value.epoch == 0 and caught.value.seed == 4
    assert "diverged at epoch 0, seed 4" in str(caught.value)
    assert not (tmp_path / "bad").exists()


def test_workers_must_be_positive(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["reproduce", "--out", str(tmp_path / "x"), "--workers", "0"])
    assert stop.value.code == 2
    assert "--workers" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_default_workers_are_the_cores() -> None:
    assert runpool.default_workers() >= 1
    parser_help = subprocess.run(
        [sys.executable, "-m", "deephw.cli", "reproduce", "--help"], capture_output=True, text=True
    ).stdout
    assert f"here {runpool.default_workers()})" in " ".join(parser_help.split())


# -- what the user sees --------------------------------------------------------------------
def test_every_step_after_training_is_announced(one_and_two_workers) -> None:
    *_, stdout = one_and_two_workers
    lines = stdout.splitlines()
    steps = [
        "writing summary.json, cards_summary.json and results.md",
        "drawing fig1_convergence.png",
        "drawing fig2_sparse_networks.png",
        "drawing deep_vs_asym_ep.png",
    ]
    assert [line for line in lines if line in steps] == steps
    assert lines.index(steps[-1]) < lines.index(next(x for x in lines if x.startswith("task ")))
    assert lines[-1].startswith("figures, summary.json, results.md and run directories in")
    assert lines[-1].endswith("on 1 worker)")


def test_workers_report_what_they_write(tmp_path) -> None:
    seen, epochs = [], []
    config = from_dict({"task": {"name": "OR"}, "training": {"epochs": 7, "seeds": 1}})
    jobs = [runpool.Job(f"run{k}", config, tmp_path / f"run{k}") for k in range(3)]
    runpool.run_jobs(jobs, workers=2, progress=epochs.append, status=seen.append)
    assert sorted(seen) == ["writing run0", "writing run1", "writing run2"]
    assert sum(epochs) == 21
    assert all((tmp_path / f"run{k}" / "training.png").is_file() for k in range(3))


# -- results.md ----------------------------------------------------------------------------
def test_results_md_holds_the_tables_of_the_summaries(one_and_two_workers) -> None:
    one, *_ = one_and_two_workers
    text = (one / "results.md").read_text()
    report = json.loads((one / "summary.json").read_text())
    cards = json.loads((one / "cards_summary.json").read_text())
    tables = readme_check.marked_tables(text, "results.md")
    assert list(tables) == ["dense", "pruning", "cards"]
    assert tables["dense"] == results_tables.dense_table(report)
    assert tables["pruning"] == results_tables.pruning_table(report)
    assert tables["cards"] == results_tables.cards_table(cards)
    assert "Seeds 3–4; dense runs 20 epochs, pruned runs 47; numpy engine." in text
    for task, runs in report["tasks"].items():
        row = next(line for line in tables["dense"].splitlines() if line.startswith(f"| {task} "))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1] == f"{runs['deep']['converged']}/2"
        assert cells[3] == f"{runs['asym_ep']['converged']}/2"
        assert cells[4] == f"{runs['asym_ep_own_lr']['converged']}/2"
    # numbers only: nothing that depends on the machine or the clock
    assert " s " not in text and " s)" not in text and "worker" not in text


def test_results_md_without_cards_has_no_card_table(tmp_path) -> None:
    out = tmp_path / "paper"
    assert main(["reproduce", "--out", str(out), "--epochs", "3", "--seeds", "1"]) == 0
    tables = readme_check.marked_tables((out / "results.md").read_text(), "results.md")
    assert list(tables) == ["dense", "pruning"]


def entry(converged, correct, median, sparsity, correct_flags, lr=10.0, killed=None, start=None):
    return {
        "seeds": 4,
        "lr": lr,
        "converged": converged,
        "correct": correct,
        "median_epochs_to_converge": median,
        "sparsity_per_seed": sparsity,
        "correct_per_seed": correct_flags,
        "median_sparsity_of_correct": None,
        "killed_by_pruning": killed,
        "correct_when_pruning_started": start,
        "hardware": {"pulses_per_seed": [1000.0, 1200.0, 36188.0, 36190.5]},
    }


def fake_report() -> dict:
    flags = [True, False, True, True]
    sparse = entry(3, 3, 31.0, [0.9375, 0.5, 0.8125, 0.875], flags, killed=1, start=4)
    sparse["median_sparsity_of_correct"] = 0.875
    nothing = entry(0, 0, None, [0.0] * 4, [False] * 4, killed=0, start=0)
    runs = {
        "deep": entry(4, 4, 29.5, [0.0] * 4, flags),
        "asym_ep": entry(1, 1, 8.0, [0.0] * 4, flags),
        "asym_ep_own_lr": entry(4, 4, 28.0, [0.0] * 4, flags, lr=1.0),
        "deep_sparse": sparse,
    }
    xor = {**runs, "deep": entry(0, 1, None, [0.0] * 4, flags), "deep_sparse": nothing}
    return {"tasks": {"AND": runs, "XOR": xor}}


def test_tables_from_known_summaries() -> None:
    report = fake_report()
    assert results_tables.dense_table(report) == "\n".join(
        [
            "| task | DEEP converged | DEEP median epochs | asym. EP, lr 10: converged "
            "| asym. EP, lr 1: converged | … median epochs |",
            "|---|---|---|---|---|---|",
            "| AND | 4/4 | 29.5 | 1/4 | 4/4 | 28 |",
            "| XOR | 0/4 | – | 1/4 | 4/4 | 28 |",
        ]
    )
    assert results_tables.pruning_table(report).splitlines()[2:] == [
        "| AND | 3/4 | 81.25–93.75 % | 87.5 % | 93.75 % | 1 of 4 |",
        "| XOR | 0/4 | – | – | 62.5 % | 0 of 0 |",
    ]
    cards = {"ideal": report, "pcm_pair": report}
    rows = results_tables.cards_table(cards).splitlines()
    assert rows[2] == (
        "| ideal | AND / XOR | 4 / 0 | 4 / 1 | 3 / 0 | 87.5 / – % | 1 of 4 / 0 of 0 "
        "| 18 694 / 18 694 |"
    )
    assert len(rows) == 4 and rows[3].startswith("| pcm_pair |")


def test_percentages_drop_trailing_zeros() -> None:
    assert [results_tables.percent(x) for x in (0.9375, 0.625, 46 / 48, 1.0, 0.0)] == [
        "93.75",
        "62.5",
        "95.83",
        "100",
        "0",
    ]
    assert results_tables.percent(None) == "–"


# -- where it may write --------------------------------------------------------------------
def test_a_full_disk_is_refused_before_any_work(tmp_path, capsys, monkeypatch) -> None:
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 10**6, 10**6))
    monkeypatch.setattr(reproduce, "train_all", pytest.fail)  # never reached
    out = tmp_path / "paper"
    assert main(["reproduce", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert f"{out}: not enough free space" in err and "1 MB is free" in err
    assert list(tmp_path.iterdir()) == []


def test_output_estimate_covers_what_reproduce_writes(one_and_two_workers) -> None:
    one, *_ = one_and_two_workers
    written = sum(p.stat().st_size for p in one.rglob("*") if p.is_file())
    estimate = reproduce.estimate(20, 2, 0, "numpy", ["pcm_pair"]).output_bytes
    assert written < estimate < 10 * written  # generous: figures are estimated high


@pytest.fixture
def small_tmpfs(tmp_path: Path, tmpfs):
    """A real 1 MB file system (root only: mount)."""
    with tmpfs(tmp_path / "small", "size=1m") as where:
        yield where


def test_a_small_file_system_is_refused_before_any_work(small_tmpfs, capsys) -> None:
    out = small_tmpfs / "paper"
    assert main(["reproduce", "--out", str(out), "--epochs", "5", "--seeds", "1"]) == 2
    err = capsys.readouterr().err
    assert f"{out}: not enough free space in {small_tmpfs}" in err
    assert list(small_tmpfs.iterdir()) == []


def test_ctrl_c_stops_the_workers_and_leaves_nothing(tmp_path) -> None:
    out = tmp_path / "paper"
    args = ["reproduce", "--out", str(out), "--epochs", "400", "--seeds", "2", "--workers", "2"]
    process = subprocess.Popen(
        [sys.executable, "-m", "deephw.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".paper.*.tmp/runs/*")):  # a worker wrote a run
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        workers = children(process.pid)
        assert len(workers) >= 2
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert err.decode().strip().endswith("deephw: interrupted; nothing was written")
    assert not out.exists() and not list(tmp_path.glob(".paper.*"))
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in workers if Path(f"/proc/{pid}").exists()] == []


def children(pid: int) -> list[int]:
    """The pool's worker processes whose parent is ``pid`` (Linux)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
            command = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in command:
            found.append(int(status.parent.name))
    return found
