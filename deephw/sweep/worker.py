"""Set-up of the embedded cluster's worker processes, loaded by Dask as a preload."""

from __future__ import annotations

import signal
from typing import Any


def dask_setup(worker: Any) -> None:
    """Leave Ctrl-C to the sweep's own process, which shuts the cluster down.

    A terminal sends Ctrl-C to every process of the foreground group, the worker
    processes included; a worker that took it would die with a traceback (and its nanny
    restart it) while the sweep is stopping anyway.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
