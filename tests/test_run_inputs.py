"""Hostile run-level inputs through the command line: one line, exit 2, nothing written.

Seeds past 64 bits, sizes that cannot fit (memory, work), broken task CSVs, forged
``weights.npz`` files, graphs that cannot learn, two writers of one output, and output
locations that are read-only, full or under a file: each refused before any work.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from deephw import atomic, training
from deephw.cli import main

SMALL = {"task": {"name": "AND"}, "training": {"epochs": 3, "seeds": 2}}


def write_config(folder: Path, data: dict, name: str = "run.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data))
    return path


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The command's stderr, which must be exactly one line; returned without the newline."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    return err.rstrip("\n")


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a command starts training: refusals must come before any work."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("training started")

    monkeypatch.setattr(training, "train", refuse)


class Started(KeyboardInterrupt):
    """Raised in place of training: the command got past every check (exit code 130)."""


@pytest.fixture
def training_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    def start(*args: object, **kwargs: object) -> None:
        raise Started

    monkeypatch.setattr(training, "train", start)
    monkeypatch.setattr(training, "evaluate", start)


# -- seeds past 64 bits --------------------------------------------------------------


@pytest.mark.parametrize("command", ["train", "reproduce"])
def test_seed_option_past_int64_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    config = write_config(tmp_path, SMALL)
    argv = ["train", str(config)] if command == "train" else ["reproduce"]
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--out", str(out), "--seed", "99999999999999999999999"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --seed: must be <= 9223372036854775807, got 99999999999999999999999" in err
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"training": {"seed": 99999999999999999999999}},
            "training.seed = 99999999999999999999999: must be <= 9223372036854775807",
        ),
        (
            {"training": {"seed": 2**63 - 5, "seeds": 10}},
            f"training.seed = {2**63 - 5}: must be <= {2**63 - 10} with 10 seeds (64-bit seeds)",
        ),
        (
            {"training": {"seeds": 2}, "hardware": {"chip_seed": 2**63 - 1}},
            f"hardware.chip_seed = {2**63 - 1}: must be <= {2**63 - 2} with 2 seeds",
        ),
    ],
)
def test_seed_in_config_past_int64(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], section: dict, message: str
) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"task": {"name": "AND"}, **section}))
    out = tmp_path / "run"
    assert main(["train", str(config), "--out", str(out)]) == 2
    assert one_line(capsys).startswith(f"deephw: invalid input: {config}: {message}")
    assert not out.exists()


def test_largest_seed_trains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, {"task": {"name": "AND"}, "training": {"epochs": 2}})
    out = tmp_path / "run"
    argv = ["train", str(config), "--out", str(out), "--seeds", "2", "--seed", str(2**63 - 2)]
    assert main(argv) == 0
    with np.load(out / "weights.npz") as npz:
        assert npz["seeds"].tolist() == [2**63 - 2, 2**63 - 1]


# -- sizes that cannot fit -----------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "field", "what"),
    [
        ({"dynamics": {"free_steps": 10**12}}, "dynamics.free_steps = 1000000000000", "operations"),
        ({"training": {"epochs": 10**12}}, "training.epochs = 1000000000000", "memory"),
        ({"network": {"hidden": 10**6}}, "network.hidden = 1000000", "memory"),
        ({"training": {"seeds": 10**9}}, "training.seeds = 1000000000", "memory"),
        ({"dynamics": {"nudged_steps": 10**9}}, "dynamics.nudged_steps = 1000000000", "memory"),
    ],
)
def test_config_too_large_is_refused_naming_the_field(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_training: None,
    section: dict,
    field: str,
    what: str,
) -> None:
    config = write_config(tmp_path, {"task": {"name": "AND"}, **section})
    out = tmp_path / "run"
    started = time.perf_counter()
    assert main(["train", str(config), "--out", str(out)]) == 2
    assert time.perf_counter() - started < 5
    err = one_line(capsys)
    assert err.startswith(f"deephw: invalid input: {config}: {field}: needs about "), err
    assert ("of memory, more than this machine" if what == "memory" else "operations") in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["run.yaml"]


@pytest.mark.parametrize(
    ("option", "value", "what", "extra"),
    [
        ("--epochs", 10**12, "of memory", []),
        ("--seeds", 10**9, "of memory", []),
        ("--epochs", 10**6, "operations", ["--seeds", "1"]),  # with free_steps 10**4
    ],
)
def test_option_too_large_is_refused_naming_the_option(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_training: None,
    option: str,
    value: int,
    what: str,
    extra: list[str],
) -> None:
    config = write_config(tmp_path, {"task": {"name": "AND"}, "dynamics": {"free_steps": 10**4}})
    out = tmp_path / "run"
    assert main(["train", str(config), "--out", str(out), option, str(value), *extra]) == 2
    err = one_line(capsys)
    assert err.startswith(f"deephw: invalid input: {option} = {value}: needs about "), err
    assert what in err and not out.exists()


def test_force_overrides_the_work_limit_but_never_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], training_starts: None
) -> None:
    slow = write_config(tmp_path, {"task": {"name": "AND"}, "dynamics": {"free_steps": 10**12}})
    out = tmp_path / "run"
    assert main(["train", str(slow), "--out", str(out)]) == 2
    assert "pass --force to run it anyway" in one_line(capsys)
    assert main(["train", str(slow), "--out", str(out), "--force"]) == 130  # training started
    capsys.readouterr()
    huge = write_config(tmp_path, {"task": {"name": "AND"}, "network": {"hidden": 10**6}}, "h.yaml")
    assert main(["train", str(huge), "--out", str(out), "--force"]) == 2
    assert "network.hidden = 1000000: needs about" in one_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize(("option", "value"), [("--epochs", 10**12), ("--seeds", 10**9)])
def test_reproduce_too_large_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_training: None,
    option: str,
    value: int,
) -> None:
    out = tmp_path / "paper"
    assert main(["reproduce", "--out", str(out), option, str(value)]) == 2
    err = one_line(capsys)
    assert err.startswith(f"deephw: invalid input: {option} = {value}: needs about "), err
    assert not out.exists()


# -- task CSV files ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"a,b,y\n0,0,0\n1,1,1,1\n", "line 3: 4 fields, but the header has 3"),
        (b"a,b,y\n0,0,0\n1,\xe9,1\n", "line 3: byte b'\\xe9' is not UTF-8 text"),
        (b'a,b,y\n0,0,0\n1,"' + b"1" * 200_000 + b'",1\n', "line 3: a field is longer than 131072"),
    ],
)
def test_bad_task_csv_names_file_and_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_training: None,
    data: bytes,
    reason: str,
) -> None:
    table = tmp_path / "data.csv"
    table.write_bytes(data)
    task = {"csv": "data.csv", "inputs": ["a", "b"], "targets": ["y"]}
    config = write_config(tmp_path, {"task": task})
    out = tmp_path / "run"
    assert main(["train", str(config), "--out", str(out)]) == 2
    err = one_line(capsys)
    assert err.startswith(f"deephw: invalid input: {table}: ") and reason in err, err
    assert len(err) < 400 and not out.exists()


# -- graphs that cannot learn --------------------------------------------------------


@pytest.mark.parametrize(
    ("edges", "message"),
    [
        ("edges: []", "edges = []: the graph has no connection, nothing to train"),
        ("edges: [[0, true]]", "edges[0] = [0, True]: booleans are not neuron indices"),
        ("edges: [[2, 3]]", "edges: output neuron 3 (out) has no path from the inputs"),
    ],
)
def test_graph_that_cannot_learn_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_training: None,
    edges: str,
    message: str,
) -> None:
    graph = tmp_path / "graph.yaml"
    graph.write_text(edges + "\n")
    network = {"hidden": 1, "topology": "adjacency", "adjacency": "graph.yaml"}
    config = write_config(tmp_path, {"task": {"name": "NOT"}, "network": network})
    out = tmp_path / "run"
    assert main(["train", str(config), "--out", str(out)]) == 2
    err = one_line(capsys)
    assert err.startswith(f"deephw: invalid input: {graph}: {message}"), err
    assert "nan" not in err and not out.exists()


# -- forged weights.npz --------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("trained")
    assert main(["train", str(write_config(folder, SMALL)), "--out", str(folder / "run")]) == 0
    return folder / "run"


def forge(run: Path, folder: Path, **changes: object) -> Path:
    """A copy of ``run`` whose weights.npz has ``changes`` (None removes an array)."""
    copy = folder / "forged"
    shutil.copytree(run, copy)
    with np.load(copy / "weights.npz") as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays.update(changes)
    arrays = {key: value for key, value in arrays.items() if value is not None}
    np.savez(copy / "weights.npz", **arrays)
    return copy


WEIGHTS = np.zeros((2, 9, 9))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"weights": np.full((2, 9, 9), "w", dtype="<U5")}, "array 'weights' holds <U5 values"),
        ({"seeds": np.array(["a", "b"])}, "array 'seeds' holds <U1 values"),
        ({"seeds": np.array([-1, 0])}, "array 'seeds' holds -1: seeds are integers in 0.."),
        ({"seeds": np.array([0.0, 1.0])}, "array 'seeds' must be a non-empty list of integers"),
        ({"weights": np.where(np.eye(9) > 0, np.nan, WEIGHTS)}, "array 'weights' holds nan"),
        ({"weights": np.full((2, 9, 9), np.inf)}, "array 'weights' holds inf at seed 0"),
        (
            {"weights": np.zeros((2, 7, 7)), "mask": np.ones((2, 7, 7), bool)},
            "array 'weights' has shape (2, 7, 7), but its config.yaml describes (2, 9, 9)",
        ),
        ({"weights": np.zeros((3, 9, 9))}, "array 'weights' has shape (3, 9, 9), not (2, N, N)"),
        ({"weights": np.zeros((2, 9))}, "array 'weights' has shape (2, 9), not (2, N, N)"),
        ({"mask": np.full((2, 9, 9), 2)}, "array 'mask' must hold 0/1 in the shape of"),
        ({"mask": None}, "array 'mask' is missing"),
        ({"seeds": np.array([0, 1], dtype=object)}, "array 'seeds' holds object values"),
        ({"weights": np.zeros((2, 9, 9), dtype=complex)}, "array 'weights' holds complex128"),
    ],
)
def test_eval_of_forged_weights_names_file_and_array(
    trained: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    changes: dict,
    message: str,
) -> None:
    if any(getattr(v, "dtype", None) is np.dtype(object) for v in changes.values()):
        forged = tmp_path / "forged"  # np.savez refuses nothing: write the pickle by hand
        shutil.copytree(trained, forged)
        with np.load(forged / "weights.npz") as npz:
            arrays = {key: npz[key] for key in npz.files}
        arrays.update(changes)
        np.savez(forged / "weights.npz", **arrays, allow_pickle=True)
    else:
        forged = forge(trained, tmp_path, **changes)
    before = sorted(p.name for p in forged.iterdir())
    capsys.readouterr()
    assert main(["eval", str(forged)]) == 2
    err = one_line(capsys)
    assert err.startswith(f"deephw: invalid input: {forged / 'weights.npz'}: {message}"), err
    assert sorted(p.name for p in forged.iterdir()) == before


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not really a zip", b"\x93NUMPY"])
def test_eval_of_a_damaged_weights_file(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    forged = tmp_path / "forged"
    shutil.copytree(trained, forged)
    (forged / "weights.npz").write_bytes(content)
    capsys.readouterr()
    assert main(["eval", str(forged)]) == 2
    err = one_line(capsys)
    assert err.startswith(f"deephw: invalid input: {forged / 'weights.npz'}: "), err
    assert ("empty (0 bytes)" if not content else "not a readable NPZ file") in err


def test_eval_refuses_an_array_too_large_to_load(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = tmp_path / "forged"
    shutil.copytree(trained, forged)
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6, 10**6)}
    with np.load(forged / "weights.npz") as npz:
        arrays = {key: npz[key] for key in npz.files if key != "weights"}
    np.savez(forged / "weights.npz", **arrays)
    with (
        zipfile.ZipFile(forged / "weights.npz", "a") as archive,
        archive.open("weights.npy", "w") as member,
    ):
        np.lib.format.write_array_header_1_0(member, header)
    capsys.readouterr()
    started = time.perf_counter()
    assert main(["eval", str(forged)]) == 2
    err = one_line(capsys)
    shape = "(1000000, 1000000, 1000000)"
    assert err.startswith(f"deephw: invalid input: {forged / 'weights.npz'}: array weights = ")
    assert f"{shape}: needs about 8e+03 PB of memory" in err, err
    assert time.perf_counter() - started < 5


def test_eval_work_limit_and_force(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], training_starts: None
) -> None:
    forged = tmp_path / "forged"
    shutil.copytree(trained, forged)
    config = yaml.safe_load((forged / "config.yaml").read_text())
    config["dynamics"]["free_steps"] = 10**14
    (forged / "config.yaml").write_text(yaml.safe_dump(config))
    capsys.readouterr()
    assert main(["eval", str(forged)]) == 2
    err = one_line(capsys)
    assert f"{forged / 'config.yaml'}: dynamics.free_steps = {10**14}: needs about" in err
    assert main(["eval", str(forged), "--force"]) == 130  # evaluation started


# -- two writers, and output locations -----------------------------------------------


@contextlib.contextmanager
def claimed_by_another_process(path: Path) -> Iterator[None]:
    """A separate Python process holding deephw's claim on ``path`` for the block."""
    ready = path.parent / "ready"
    code = (
        "import sys, time, pathlib\n"
        "from deephw import atomic\n"
        f"with atomic.claim({str(path)!r}):\n"
        f"    pathlib.Path({str(ready)!r}).write_text('1')\n"
        "    sys.stdin.read()\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert holder.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        yield
    finally:
        holder.communicate(b"", timeout=60)
        ready.unlink(missing_ok=True)


def test_second_writer_of_one_output_is_refused_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, SMALL)
    out = tmp_path / "run"
    with claimed_by_another_process(out):
        started = time.perf_counter()
        assert main(["train", str(config), "--out", str(out)]) == 2
        assert time.perf_counter() - started < 5
        err = one_line(capsys)
        assert err == (
            f"deephw: invalid input: {out}: another deephw process is writing this output; "
            "wait for it or choose another path"
        )
        assert main(["reproduce", "--out", str(out), "--epochs", "2", "--seeds", "1"]) == 2
        assert "another deephw process is writing this output" in one_line(capsys)
        assert not out.exists()
    assert main(["train", str(config), "--out", str(out)]) == 0  # the claim is gone with it
    assert (out / "weights.npz").is_file()
    assert not (tmp_path / ".run.lock").exists()


def test_two_concurrent_trains_one_wins(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"task": {"name": "XOR"}, "training": {"epochs": 400}})
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "deephw.cli", "train", str(config), "--out", str(out)]
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / ".run.lock"
    deadline = time.monotonic() + 60
    while not lock.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    second = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    first_out, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_err
    assert second.returncode == 2, second.stderr
    assert second.stderr.strip().splitlines()[-1].startswith(f"deephw: invalid input: {out}: ")
    assert "another deephw process" in second.stderr or "already exists" in second.stderr
    assert (out / "summary.json").is_file()


def test_output_under_a_file_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None
) -> None:
    config = write_config(tmp_path, SMALL)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for out in (blocker, blocker / "run"):
        assert main(["train", str(config), "--out", str(out)]) == 2
        assert "is not a directory; choose another output path" in one_line(capsys)
        assert main(["reproduce", "--out", str(out)]) == 2
        assert "is not a directory; choose another output path" in one_line(capsys)
    assert blocker.read_text() == "not a folder"


def test_output_on_a_full_disk_is_refused_before_any_work(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_training: None,
) -> None:
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda path: usage._replace(free=4096))
    config = write_config(tmp_path, SMALL)
    out = tmp_path / "run"
    assert main(["train", str(config), "--out", str(out)]) == 2
    err = one_line(capsys)
    assert err.startswith(f"deephw: invalid input: {out}: not enough free space in {tmp_path}")
    assert "the output needs about 2.0" in err and "MB in reserve, and 4.1 kB is free" in err
    assert main(["reproduce", "--out", str(tmp_path / "paper")]) == 2
    assert "not enough free space" in one_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.yaml"]


def test_output_on_a_read_only_file_system(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None, tmpfs
) -> None:
    config = write_config(tmp_path, SMALL)
    with tmpfs(tmp_path / "ro", "ro,size=1m") as ro:
        for argv in (["train", str(config)], ["reproduce"]):
            assert main([*argv, "--out", str(ro / "deep" / "run")]) == 2
            assert one_line(capsys).endswith(f"cannot write into {ro} (Read-only file system)")
        assert list(ro.iterdir()) == []


def test_output_on_a_full_file_system(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None, tmpfs
) -> None:
    config = write_config(tmp_path, SMALL)
    with tmpfs(tmp_path / "full", "size=20m") as full:
        with contextlib.suppress(OSError):  # fill it
            (full / "filler").write_bytes(b"\0" * 20 * 2**20)
        assert main(["train", str(config), "--out", str(full / "run")]) == 2
        assert f"not enough free space in {full}" in one_line(capsys)
        assert [p.name for p in full.iterdir()] == ["filler"]


# -- paths the operating system refuses ----------------------------------------------


def test_paths_that_cannot_be_read_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long = "x" * 300  # longer than a file name may be
    assert main(["train", str(tmp_path / long)]) == 2
    assert one_line(capsys).endswith("cannot read the file (File name too long)")
    assert main(["eval", str(tmp_path / long)]) == 2
    assert "cannot be read (File name too long)" in one_line(capsys)
    assert main(["devices", "show", long]) == 2  # not a file: an unknown card name
    assert "(302 characters): no such card" in one_line(capsys)
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)  # reading it would wait forever
    assert main(["train", str(fifo)]) == 2
    assert one_line(capsys).endswith(f"{fifo}: is not a regular file")
    table = tmp_path / "data.csv"
    os.mkfifo(table)
    config = write_config(
        tmp_path, {"task": {"csv": "data.csv", "inputs": ["a"], "targets": ["y"]}}
    )
    assert main(["train", str(config)]) == 2
    assert one_line(capsys).endswith("task.csv = 'data.csv': is not a regular file")
