"""Atomic writes leave files and folders with the permissions open() and mkdir() give."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deephw import atomic
from deephw.cli import main
from deephw.errors import DeephwError


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    """Set the process umask for one test; the old one comes back afterwards."""
    old = os.umask(0o022)
    os.umask(old)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


@pytest.mark.parametrize(
    ("mask", "file_mode", "dir_mode"),
    [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750), (0o002, 0o664, 0o775)],
)
def test_modes_follow_the_umask(
    tmp_path: Path, umask, mask: int, file_mode: int, dir_mode: int
) -> None:
    umask(mask)
    atomic.write_text(tmp_path / "a.txt", "hello")
    assert mode(tmp_path / "a.txt") == file_mode
    with atomic.new_directory(tmp_path / "out") as tmp:
        atomic.write_bytes(tmp / "b.bin", b"\0")
    assert mode(tmp_path / "out") == dir_mode
    assert mode(tmp_path / "out" / "b.bin") == file_mode
    # the same as a plain open() and mkdir() under that umask
    (tmp_path / "plain.txt").write_text("x")
    (tmp_path / "plain").mkdir()
    assert mode(tmp_path / "plain.txt") == file_mode and mode(tmp_path / "plain") == dir_mode


def test_a_replaced_file_keeps_its_mode(tmp_path: Path, umask) -> None:
    umask(0o022)
    path = tmp_path / "secret.txt"
    path.write_text("old")
    path.chmod(0o600)
    atomic.write_text(path, "new")
    assert path.read_text() == "new" and mode(path) == 0o600


def test_an_empty_directory_that_is_replaced_keeps_its_mode(tmp_path: Path, umask) -> None:
    umask(0o022)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o700)
    with atomic.new_directory(out) as tmp:
        (tmp / "x").write_text("1")
    assert mode(out) == 0o700 and (out / "x").read_text() == "1"


def test_current_umask_does_not_change_the_umask(umask) -> None:
    umask(0o027)
    assert atomic.current_umask() == 0o027
    assert os.umask(0o027) == 0o027


def test_current_umask_without_proc(monkeypatch: pytest.MonkeyPatch, umask) -> None:
    """Where /proc/self/status cannot be read, the umask is read by setting it back."""

    def no_proc(*args: object, **kwargs: object) -> None:
        raise OSError("no /proc here")

    monkeypatch.setattr(atomic, "open", no_proc, raising=False)
    umask(0o026)
    assert atomic.current_umask() == 0o026
    assert os.umask(0o026) == 0o026


def test_umask_reads_from_threads_agree(umask) -> None:
    umask(0o022)
    seen: list[int] = []

    def read() -> None:
        seen.extend(atomic.current_umask() for _ in range(50))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(seen) == {0o022}


def test_no_temporary_files_are_left(tmp_path: Path) -> None:
    atomic.write_text(tmp_path / "a.txt", "x")
    with atomic.new_directory(tmp_path / "d"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "d"]


# -- leftovers of killed writers ------------------------------------------------------


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_writers_temporary_directory_is_removed_by_the_next_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = (
        "import os, sys\n"
        "from deephw import atomic\n"
        f"with atomic.new_directory({str(out)!r}) as tmp:\n"
        "    (tmp / 'metrics.csv').write_text('half written')\n"
        "    print(tmp, flush=True)\n"
        "    sys.stdin.read()\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    leftover = Path(writer.stdout.readline().strip())
    assert leftover.name.startswith(f".run.{writer.pid}.") and leftover.name.endswith(".tmp")
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert (leftover / "metrics.csv").is_file()  # the kill left it behind
    config = tmp_path / "run.yaml"
    config.write_text("task: {name: AND}\ntraining: {epochs: 2, seeds: 1}\n")
    assert main(["train", str(config), "--out", str(out)]) == 0
    assert not leftover.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "run.yaml"]


def test_only_temporaries_of_dead_writers_are_removed(tmp_path: Path) -> None:
    dead, alive = dead_pid(), os.getppid()
    stale_dir = tmp_path / f".out.{dead}.ab12cd.tmp"
    stale_dir.mkdir()
    (stale_dir / "weights.npz").write_bytes(b"partial")
    stale_file = tmp_path / f".a.txt.{dead}.x9y8.tmp"
    stale_file.write_text("partial")
    live_dir = tmp_path / f".out.{alive}.ef34gh.tmp"
    live_dir.mkdir()
    mine = tmp_path / f".out.{os.getpid()}.zz00.tmp"
    mine.mkdir()
    others = [tmp_path / f".other.{dead}.q.tmp", tmp_path / ".out.notapid.q.tmp"]
    for path in others:
        path.mkdir()
    with atomic.new_directory(tmp_path / "out") as tmp:
        (tmp / "x").write_text("1")
    atomic.write_text(tmp_path / "a.txt", "whole")
    assert not stale_dir.exists() and not stale_file.exists()
    assert live_dir.is_dir() and mine.is_dir()  # writers still at work keep theirs
    assert all(path.is_dir() for path in others)  # other names, or no pid: not ours to judge
    assert (tmp_path / "a.txt").read_text() == "whole" and (tmp_path / "out" / "x").is_file()
    assert atomic.remove_stale_temporaries(tmp_path / "out") == []


def test_an_output_that_is_a_symbolic_link_is_refused_before_any_work(tmp_path: Path) -> None:
    target = tmp_path / "empty"
    target.mkdir()
    link = tmp_path / "out"
    link.symlink_to(target)
    with pytest.raises(DeephwError, match="is a symbolic link; name a plain path"):
        atomic.check_output_location(link)
    assert link.is_symlink() and list(target.iterdir()) == []


def test_the_free_space_message_names_the_reserve(tmp_path: Path, monkeypatch) -> None:
    usage = shutil.disk_usage(tmp_path)
    free = atomic.OUTPUT_MARGIN_BYTES // 2
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=free))
    with pytest.raises(DeephwError) as exc:
        atomic.check_output_location(tmp_path / "out", 1000)
    message = str(exc.value)
    assert "needs about 1 kB, deephw keeps 16.8 MB in reserve, and 8.39 MB is free" in message


def test_a_disk_that_fills_during_a_write_names_the_file(tmp_path: Path, monkeypatch) -> None:
    import errno

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    target = tmp_path / "metrics.csv"
    with pytest.raises(OSError) as exc:
        atomic.write_bytes(target, b"x")
    assert exc.value.filename == str(target) and exc.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_the_free_space_message_without_an_estimate(tmp_path: Path, monkeypatch) -> None:
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=10**6))
    with pytest.raises(DeephwError) as exc:
        atomic.check_output_location(tmp_path / "out")
    assert str(exc.value).endswith("deephw keeps 16.8 MB in reserve and 1 MB is free")
