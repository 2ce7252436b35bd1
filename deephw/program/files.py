"""Reading a program directory without ever leaving it.

A program may come from someone else. Its tools read only the files ``program.yaml``
lists, each a regular file reached from the program directory without following any
symbolic link (every component is opened with ``O_NOFOLLOW`` relative to the one
before), and they refuse a program that holds a symbolic link anywhere: a link could
make ``import`` copy, or ``verify`` read, files from outside (``ln -s /etc data``).
Files present but not listed are ignored: never read, never copied.

``program.yaml`` is covered by ``program.sha256`` beside it (``sha256sum`` format),
written at export and checked before the manifest is parsed, so that an edit of a
schedule or a count in the manifest is noticed like a changed table. This is a check of
integrity, not of authenticity: whoever edits a program can recompute every digest,
which is why the tools also validate what the files hold (:mod:`deephw.program.checks`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from deephw.config import RunConfig
from deephw.errors import ConfigError, DeephwError, quote
from deephw.hashing import sha256_bytes
from deephw.rundir import named_files

DIGEST = "program.sha256"
"""The file beside ``program.yaml`` holding its SHA-256."""

_CHUNK = 1 << 20


def refuse_links(directory: Path, listed: list[str]) -> None:
    """Raise :class:`DeephwError` naming a symbolic link among the entries of
    ``directory``, of its ``data`` and ``groups`` folders and of the folders its
    ``listed`` files lie in.

    Links are never followed anyway; a program holds none, so a planted one is reported
    rather than silently ignored. The directory itself may be reached through a link
    (the user chose that path).
    """
    folders = {directory, directory / "data", directory / "groups"}
    folders |= {(directory / relative).parent for relative in listed}
    for folder in sorted(folders):
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except (FileNotFoundError, NotADirectoryError):
            continue  # reported with the listed file itself
        for entry in entries:
            if entry.is_symlink():
                raise DeephwError(
                    f"{entry.path}: is a symbolic link (to {quote(os.readlink(entry.path))}); "
                    f"a program holds only regular files and folders, and nothing is read "
                    f"through a link"
                )


def regular_files(folder: Path) -> list[Path]:
    """The regular files directly in ``folder`` (none if it does not exist), sorted.

    Raises
    ------
    DeephwError
        ``folder`` or one of its entries is a symbolic link: what it points to would be
        copied from outside the directory it belongs to.
    """
    if folder.is_symlink():
        raise DeephwError(f"{folder}: is a symbolic link; refusing to copy what it points to")
    if not folder.is_dir():
        return []
    files = []
    for entry in sorted(os.scandir(folder), key=lambda entry: entry.name):
        if entry.is_symlink():
            raise DeephwError(
                f"{entry.path}: is a symbolic link; refusing to copy what it points to"
            )
        if entry.is_file(follow_symlinks=False):
            files.append(Path(entry.path))
    return files


def run_data_files(run_dir: Path, config: RunConfig) -> list[Path]:
    """The regular files of a run's ``data/`` folder (see :func:`regular_files`), which a
    program carries; every file the run's config names must be one of them."""
    files = regular_files(run_dir / "data")
    inside = {os.path.normpath(path) for path in files}
    for section, key, value in named_files(config):
        if os.path.normpath(config.resolve(value)) not in inside:
            raise ConfigError(
                str(run_dir / "config.yaml"),
                f"{section}.{key}",
                value,
                f"names a file outside {run_dir / 'data'}; a program carries only the files "
                f"of that folder",
            )
    return files


@contextlib.contextmanager
def open_inside(directory: Path, relative: str) -> Iterator[int]:
    """A read-only descriptor of the regular file ``directory/relative``.

    Every component below ``directory`` is opened with ``O_NOFOLLOW`` relative to the
    previous one, so that a link swapped in meanwhile is not followed either; a FIFO or
    device is refused without blocking on it.
    """
    path = directory / relative
    parts = Path(relative).parts
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    fds: list[int] = []
    try:
        fds.append(os.open(directory, flags | getattr(os, "O_DIRECTORY", 0)))
        for k, part in enumerate(parts):
            last = k == len(parts) - 1
            where = Path(directory, *parts[: k + 1])
            info = os.stat(part, dir_fd=fds[-1], follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                raise DeephwError(
                    f"{where}: is a symbolic link; program files are read only from inside "
                    f"the program directory, never through a link"
                )
            kind = stat.S_ISREG if last else stat.S_ISDIR
            if not kind(info.st_mode):
                need = "a regular file" if last else "a folder"
                raise DeephwError(f"{where}: is not {need} ({path} is listed in program.yaml)")
            extra = os.O_NONBLOCK if last else getattr(os, "O_DIRECTORY", 0)
            fds.append(os.open(part, flags | nofollow | extra, dir_fd=fds[-1]))
        if not stat.S_ISREG(os.fstat(fds[-1]).st_mode):  # replaced since the check
            raise DeephwError(f"{path}: is not a regular file")
        yield fds[-1]
    except FileNotFoundError:
        raise DeephwError(f"{path}: file listed in program.yaml is missing") from None
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise DeephwError(f"{path}: cannot read ({reason})") from None
    finally:
        for fd in reversed(fds):
            os.close(fd)


def _chunks(fd: int) -> Iterator[bytes]:
    while chunk := os.read(fd, _CHUNK):
        yield chunk


def read_inside(directory: Path, relative: str) -> bytes:
    """The bytes of ``directory/relative`` (see :func:`open_inside`)."""
    with open_inside(directory, relative) as fd:
        return b"".join(_chunks(fd))


def hash_inside(directory: Path, relative: str) -> str:
    """The SHA-256 of ``directory/relative``, read in chunks (see :func:`open_inside`)."""
    digest = hashlib.sha256()
    with open_inside(directory, relative) as fd:
        for chunk in _chunks(fd):
            digest.update(chunk)
    return digest.hexdigest()


def digest_text(manifest: bytes, name: str) -> str:
    """The content of :data:`DIGEST` for the manifest bytes ``manifest`` named ``name``."""
    return f"{sha256_bytes(manifest)}  {name}\n"


def read_sealed(directory: Path, name: str) -> bytes:
    """The bytes of the manifest ``name``, after checking them against :data:`DIGEST`.

    Raises
    ------
    DeephwError
        The digest file is missing (a program exported before manifests were sealed:
        re-export it), malformed, or does not match (the manifest was edited).
    """
    path, seal = directory / name, directory / DIGEST
    data = read_inside(directory, name)
    try:
        text = read_inside(directory, DIGEST).decode("ascii")
    except DeephwError as exc:
        if "is missing" not in str(exc):
            raise
        raise DeephwError(
            f"{seal}: missing, so {name} cannot be checked (a program exported before "
            f"deephw sealed its manifests?); re-export it with deephw program export"
        ) from None
    except UnicodeDecodeError:
        text = ""
    fields = text.split()
    if len(fields) != 2 or fields[1] != name or len(fields[0]) != 64:
        raise DeephwError(f"{seal}: expected one line 'SHA256  {name}', got {quote(text)}")
    actual = sha256_bytes(data)
    if actual != fields[0]:
        raise DeephwError(
            f"{path}: SHA-256 {actual} differs from {DIGEST}'s {fields[0]}: the manifest was "
            f"changed after export; re-export the program rather than editing it"
        )
    return data
