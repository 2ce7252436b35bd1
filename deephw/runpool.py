"""Train many run configs on a pool of worker processes, one run (all its seeds) per task.

A run trains the same in a worker as in this process: it is one call of
:func:`deephw.training.train` on its config, whose seeds own their generators, so where
it runs changes nothing in its results. Workers are started with the ``spawn`` method
(no state inherited from this process), report their epochs through a queue for the
progress bar, and write each run's directory themselves, so that drawing its figures
happens in parallel too.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deephw.config import RunConfig
from deephw.errors import DeephwError
from deephw.rundir import write_run
from deephw.training import TrainResult, train

REPORT_INTERVAL_S = 0.2
"""A worker sends its epoch count at most this often (and at the end of a run)."""


@dataclass(frozen=True)
class Job:
    """One run to train: a name (shown in progress), its config, and where to write it.

    ``run_dir`` is the run directory to write when the run is trained, or ``None`` to
    only return the result.
    """

    name: str
    config: RunConfig
    run_dir: Path | None = None


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def execute(
    job: Job,
    progress: Callable[[int], None] | None = None,
    status: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train ``job`` and write its run directory (if it has one); the work of one task."""
    result = train(job.config, progress=progress)
    if job.run_dir is not None:
        if status is not None:
            status(f"writing {job.name}")
        write_run(result, job.run_dir)
    return result


def run_jobs(
    jobs: Sequence[Job],
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    status: Callable[[str], None] | None = None,
) -> list[TrainResult]:
    """Train every job; results in the order of ``jobs``.

    Parameters
    ----------
    jobs
        The runs to train.
    workers
        Worker processes; 1 trains every job in this process, one after the other.
    progress
        Called with a number of epochs done, as they are done.
    status
        Called with a short text saying what is happening (``writing NAME``).

    Notes
    -----
    Workers are spawned: a script that calls this with ``workers > 1`` must do so under
    ``if __name__ == "__main__":``, as :mod:`multiprocessing` requires.

    Raises
    ------
    DeephwError
        The first error of a job (a :class:`~deephw.errors.DivergenceError` stays one);
        the other jobs are stopped.
    """
    if workers <= 1 or len(jobs) <= 1:
        return [execute(job, progress, status) for job in jobs]
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    # longest first: the pool hands out tasks in the order they are submitted
    order = sorted(range(len(jobs)), key=lambda k: -jobs[k].config.training.epochs)
    results: list[TrainResult | None] = [None] * len(jobs)
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)),
        mp_context=context,
        initializer=_start_worker,
        initargs=(messages,),
    )
    received = 0
    try:
        futures = {pool.submit(_work, jobs[k]): k for k in order}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=REPORT_INTERVAL_S, return_when=FIRST_COMPLETED)
            received += _relay(messages, progress, status)
            for future in done:
                results[futures[future]] = _outcome(future.result)
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown()
    # the last counts may still be in the queue's pipe when the last result is in
    expected = sum(job.config.training.epochs for job in jobs)
    while received < expected:
        more = _relay(messages, progress, status, timeout=1.0)
        if not more:
            break
        received += more
    return results


# -- in the workers ------------------------------------------------------------------------
_MESSAGES: Any = None
"""The queue to the parent process (set in each worker by :func:`_start_worker`)."""


def _start_worker(messages: Any) -> None:
    global _MESSAGES
    _MESSAGES = messages
    # Ctrl-C reaches the whole process group: the parent stops the workers itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Reporter:
    """Counts epochs and sends them to the parent at most every ``REPORT_INTERVAL_S``."""

    def __init__(self) -> None:
        self.count = 0
        self.last = time.monotonic()

    def __call__(self, epochs: int) -> None:
        self.count += epochs
        if time.monotonic() - self.last >= REPORT_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        if self.count:
            _MESSAGES.put(("epochs", self.count))
            self.count = 0
        self.last = time.monotonic()


class _RemoteError(Exception):
    """A deephw error raised in a worker, in a form that survives pickling.

    deephw's errors take their parts as constructor arguments, which pickle cannot
    replay; this carries the class, the message and the attributes instead.
    """

    def __init__(self, kind: type, message: str, attributes: dict[str, Any]) -> None:
        super().__init__(kind, message, attributes)

    def original(self) -> DeephwError:
        kind, message, attributes = self.args
        error = kind.__new__(kind)
        Exception.__init__(error, message)
        error.__dict__.update(attributes)
        return error


def _work(job: Job) -> TrainResult:
    reporter = _Reporter()
    try:
        return execute(job, reporter, lambda text: _MESSAGES.put(("status", text)))
    except DeephwError as error:
        raise _RemoteError(type(error), str(error), dict(vars(error))) from None
    finally:
        reporter.flush()


# -- in the parent -------------------------------------------------------------------------
def _outcome(result: Callable[[], TrainResult]) -> TrainResult:
    try:
        return result()
    except _RemoteError as error:
        raise error.original() from None
    except BrokenProcessPool:
        raise DeephwError(
            "a worker process died (out of memory, or killed); nothing was written"
        ) from None


def _relay(
    messages: Any,
    progress: Callable[[int], None] | None,
    status: Callable[[str], None] | None,
    timeout: float | None = None,
) -> int:
    """Pass on the workers' messages waiting in the queue; return the epochs among them.

    With ``timeout``, wait up to that long for the first message.
    """
    epochs = 0
    while True:
        try:
            kind, value = messages.get(timeout=timeout) if timeout else messages.get_nowait()
        except queue_module.Empty:
            return epochs
        timeout = None
        if kind == "epochs":
            epochs += value
            if progress is not None:
                progress(value)
        elif status is not None:
            status(value)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now, running tasks included (an error or Ctrl-C in the parent)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)
