"""Atomic file and directory writes: a temporary sibling, then a rename.

``tempfile`` makes private files (0600) and directories (0700); the results get the
permissions a plain ``open`` or ``mkdir`` would give them instead (0666 and 0777 less the
process umask), so that they can be shared. A file that replaces another keeps the old
file's permissions, as writing into it would.
"""

from __future__ import annotations

import contextlib
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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.chmod(tmp, mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def check_new_directory(path: str | Path) -> None:
    """Raise :class:`DeephwError` unless ``path`` is free for a new output directory."""
    path = Path(path)
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
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        os.chmod(tmp, mode)
        yield tmp
        if path.exists():
            path.rmdir()
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
