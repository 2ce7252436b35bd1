"""Where the numba engine's compiled kernels live: a project-local, git-ignored folder.

numba's ``cache=True`` writes machine code next to the module by default (``__pycache__``
of an installed package, often not writable) or into ``$NUMBA_CACHE_DIR`` for every
numba user of the process. deephw instead compiles its kernels with the cache folder of
its own choosing, ``$DEEPHW_NUMBA_CACHE`` or ``.numba_cache`` in the working directory
(as Brian2's ``.brian2_cache``): numba reads its ``CACHE_DIR`` setting when a cached
function is created, so it is set only for that moment and put back. The first run in a
folder compiles (a few seconds) and writes the cache; later processes load it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

CACHE_ENV = "DEEPHW_NUMBA_CACHE"
"""Environment variable naming the folder of the compiled kernels."""

DEFAULT_CACHE = ".numba_cache"
"""The folder (in the working directory) when :data:`CACHE_ENV` is unset."""


def default_cache_dir() -> Path:
    """Folder for compiled numba kernels: ``$DEEPHW_NUMBA_CACHE`` or ``./.numba_cache``."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).resolve()


@contextlib.contextmanager
def _numba_cache_dir(folder: Path) -> Iterator[None]:
    """numba's ``CACHE_DIR`` set to ``folder`` for the block only."""
    from numba.core import config

    before = config.CACHE_DIR
    config.CACHE_DIR = str(folder)
    try:
        yield
    finally:
        config.CACHE_DIR = before


@functools.cache
def kernels(cache_dir: Path) -> SimpleNamespace:
    """The compiled entry points of :mod:`deephw.engines.numba_kernels`, by name, cached
    on disk in ``cache_dir`` (created if missing). One set per folder and process;
    compilation happens at each kernel's first call with new argument types.

    When the folder cannot be created or written, the kernels compile in memory only
    (with a warning naming the folder and :data:`CACHE_ENV`): numba would otherwise fall
    back to other places, such as the installed package's folder.
    """
    import numba

    from deephw.engines import numba_kernels

    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        writable = os.access(cache_dir, os.W_OK)
    except OSError:
        writable = False
    if not writable:
        warnings.warn(
            f"the numba cache folder {cache_dir} is not writable: kernels are compiled in "
            f"every process (set {CACHE_ENV} to a writable folder)",
            stacklevel=3,
        )
    with _numba_cache_dir(cache_dir):
        compiled = {
            function.__name__: numba.njit(cache=writable)(function)
            for function in numba_kernels.ENTRY_POINTS
        }
    return SimpleNamespace(**compiled)
