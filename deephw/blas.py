"""One BLAS thread while deephw computes.

The products of a simulation are small (a batch of states by one network's weights, one
update's outer products), yet large enough ones are split by OpenBLAS over all cores. On
a machine whose cores are busy with other work its threads then wait for each other:
measured on a shared 2-core x86-64 machine (load about 12), DEEP's update of the digits
network (107 neurons, 20 steps of 32 samples) took 130 ms with NumPy's default two
threads and 0.3 ms with one. One thread also makes the numbers
independent of the machine's core count: OpenBLAS's round-off depends on how many threads
share a product.

:func:`single_threaded` limits every loaded BLAS library to one thread while it is
active; the engines run their programs inside it. Nested and concurrent uses (threads of
one process) share one limit, released when the last of them ends. The limit is the
library's, for the whole process; OpenBLAS 0.3.30 ignores it when a thread other than
the main one sets it after the main thread set a larger count, so an engine run from
such a thread may keep the caller's threads.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np  # noqa: F401  (loaded first, so that its BLAS is found)
from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_users = 0
_limit: Any = None
_controller: ThreadpoolController | None = None
_modules_seen = 0


@contextmanager
def single_threaded() -> Iterator[None]:
    """Context manager: BLAS runs on one thread until the last active use ends."""
    global _users, _limit, _controller, _modules_seen
    with _lock:
        if _users == 0:
            # finding the libraries takes about 1 ms; a library comes with an import
            if _controller is None or len(sys.modules) != _modules_seen:
                _controller, _modules_seen = ThreadpoolController(), len(sys.modules)
            _limit = _controller.limit(limits=1, user_api="blas")
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                _limit.restore_original_limits()
                _limit = None


def blas_threads() -> dict[str, int]:
    """Threads of each loaded BLAS library, by file (for tests and benchmarks)."""
    infos = ThreadpoolController().select(user_api="blas").info()
    return {info["filepath"]: info["num_threads"] for info in infos}
