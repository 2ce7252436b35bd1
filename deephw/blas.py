"""One BLAS thread while deephw computes.

The products of a simulation are small (a batch of states by one network's weights, one
update's outer products), and OpenBLAS splits them over all cores once they pass about
0.3 million multiply-adds. On a machine whose cores are busy with other work its threads
then wait for each other: measured on a shared 2-core x86-64 machine (load about 12),
DEEP's update of the digits network (107 neurons, 20 steps of 32 samples) took 130 ms
with NumPy's default two threads and 0.3 ms with one. One thread also makes the numbers
independent of the machine's core count: OpenBLAS's round-off depends on how many threads
share a product.

:func:`single_threaded` limits every loaded BLAS library to one thread while it is
active; the engines run their programs inside it. Nested and concurrent uses (threads of
one process) share one limit, released when the last of them ends.
"""

from __future__ import annotations

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


@contextmanager
def single_threaded() -> Iterator[None]:
    """Context manager: BLAS runs on one thread until the last active use ends."""
    global _users, _limit, _controller
    with _lock:
        if _users == 0:
            if _controller is None:
                _controller = ThreadpoolController()
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


def blas_threads() -> list[int]:
    """Threads of each loaded BLAS library (for tests and benchmarks)."""
    return [info["num_threads"] for info in ThreadpoolController().select(user_api="blas").info()]
