"""Atomic file and directory writes: a temporary sibling, then a rename.

``tempfile`` makes private files (0600) and directories (0700); the results get the
permissions a plain ``open`` or ``mkdir`` would give them instead (0666 and 0777 less the
process umask), so that they can be shared. A file that replaces another keeps the old
file's permissions, as writing into it would.

Temporary names carry the writer's process id (``.NAME.PID.XXXX.tmp``), so that a later
writer of the same name removes what a killed writer left behind. An output location is
checked before any work starts (:func:`check_output_location`: writable, a directory,
enough free space), and :func:`claim` keeps two deephw processes from writing one path.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from deephw.errors import DeephwError

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows.

    Linux shows it in ``/proc/self/status``; elsewhere it is read by setting and
    restoring it, under a lock so that two deephw threads never see a wrong value.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def _mode(path: Path, fresh: int) -> int:
    """The mode ``path`` has, or ``fresh`` less the umask if it does not exist yet."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return fresh & ~current_umask()


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (readers see the old file or the new one)."""
    write_bytes(path, text.encode())


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, with the permissions ``open`` would give."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode(path, 0o666)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.chmod(tmp, mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None and exc.errno:
            # a full disk says "No space left on device" without a name: give it one
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise


def check_new_directory(path: str | Path) -> None:
    """Raise :class:`DeephwError` unless ``path`` is free for a new output directory."""
    path = Path(path)
    if path.is_symlink():
        raise DeephwError(
            f"{path}: is a symbolic link; name a plain path for the output "
            "(deephw writes a new directory there and never follows links out of it)"
        )
    if not path.exists():
        return
    if not path.is_dir():
        raise DeephwError(f"{path}: exists and is not a directory; choose another output path")
    if any(path.iterdir()):
        raise DeephwError(f"{path}: output directory already exists and is not empty")


@contextlib.contextmanager
def new_directory(path: str | Path) -> Iterator[Path]:
    """Build a directory under a temporary name; rename it to ``path`` only on success.

    ``path`` must not exist yet (or be an empty directory). On any error the temporary
    directory is removed and nothing is left at ``path``. The directory gets the
    permissions ``mkdir`` would give it (those of the empty directory it replaces).
    """
    path = Path(path)
    check_new_directory(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode(path, 0o777)
    remove_stale_temporaries(path)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent))
    try:
        os.chmod(tmp, mode)
        yield tmp
        if path.exists():
            try:
                path.rmdir()
            except OSError:
                raise DeephwError(
                    f"{path}: another process wrote this directory meanwhile; "
                    "nothing was written, choose another output path"
                ) from None
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove the temporaries of ``path`` whose writer process is gone; return them.

    Only names of the form ``.NAME.PID.XXXX.tmp`` next to ``path`` are considered, and
    only those whose PID is not a live process: a writer still at work keeps its files.
    """
    path = Path(path)
    removed = []
    prefix = f".{path.name}."
    try:
        candidates = list(path.parent.glob(f"{glob_escape(prefix)}*.tmp"))
    except OSError:
        return removed
    for candidate in candidates:
        pid_text = candidate.name[len(prefix) :].split(".", 1)[0]
        if not pid_text.isdigit() or _process_alive(int(pid_text)):
            continue
        if candidate.is_dir() and not candidate.is_symlink():
            shutil.rmtree(candidate, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                candidate.unlink()
        removed.append(candidate)
    return removed


def glob_escape(text: str) -> str:
    """``text`` with the glob metacharacters ``*?[`` made literal."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


OUTPUT_MARGIN_BYTES = 16 * 2**20
"""Free space kept in reserve beyond an output's estimated size."""


def check_output_location(
    path: str | Path, needed_bytes: int = 0, *, must_be_new: bool = True
) -> None:
    """Check, before any work, that ``path`` can receive an output of ``needed_bytes``.

    The path must be free for a new directory (unless ``must_be_new`` is false, for
    outputs that are resumed in place), its nearest existing ancestor must be a directory
    that this process can write into (checked by creating and removing a file there), and
    the file system must hold ``needed_bytes`` plus :data:`OUTPUT_MARGIN_BYTES`.
    Raises :class:`DeephwError` with one line naming the path otherwise.
    """
    path = Path(path)
    if must_be_new:
        check_new_directory(path)
    elif path.exists() and not path.is_dir():
        raise DeephwError(f"{path}: exists and is not a directory; choose another output path")
    ancestor = path
    while not ancestor.exists():
        if ancestor.is_symlink():  # a dangling symlink on the way
            raise DeephwError(f"{path}: {ancestor} is a broken symbolic link")
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise DeephwError(f"{path}: {ancestor} is not a directory; choose another output path")
    try:
        fd, probe = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=ancestor)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise DeephwError(f"{path}: cannot write into {ancestor} ({reason})") from None
    free = shutil.disk_usage(ancestor).free
    if free < needed_bytes + OUTPUT_MARGIN_BYTES:
        reserve = format_bytes(OUTPUT_MARGIN_BYTES)
        needs = (
            f"the output needs about {format_bytes(needed_bytes)}, deephw keeps {reserve} "
            "in reserve,"
            if needed_bytes
            else f"deephw keeps {reserve} in reserve"
        )
        raise DeephwError(
            f"{path}: not enough free space in {ancestor}: {needs} and {format_bytes(free)} is free"
        )


def format_bytes(count: float) -> str:
    """``count`` bytes in a short human form: ``512 B``, ``3.2 MB``, ``1.5 TB``."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(count) < 1000 or unit == "PB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.3g} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


@contextlib.contextmanager
def claim(path: str | Path) -> Iterator[None]:
    """Hold an exclusive claim on writing ``path`` for the duration of the block.

    The claim is an advisory lock (``flock``) on ``.NAME.lock`` beside ``path``; the
    operating system releases it when the holder dies, so a killed writer never blocks
    the next one. A second claim, from this process or another, raises
    :class:`DeephwError` naming the path.
    """
    path = Path(path)
    lock_path = path.parent / f".{path.name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = open(lock_path, "a+b")  # noqa: SIM115 - closed below
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise DeephwError(
                    f"{path}: another deephw process is writing this output; "
                    "wait for it or choose another path"
                ) from None
            raise
        try:  # the holder before us may have removed the file after we opened it
            same = os.fstat(handle.fileno()).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        handle.close()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock_path)
        handle.close()
