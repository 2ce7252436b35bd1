"""Running a sweep on Dask distributed, one task per configuration.

By default an embedded ``LocalCluster`` is started on the loopback interface, sized to
the machine: one worker process per core, one thread each. With a scheduler address,
the same tasks go to an existing cluster (whose workers need deephw installed; the
sweep's files are not needed there, as jobs carry their task data and trained weights).

Results are written by the submitting process, one file per configuration as soon as it
completes (:class:`~deephw.sweep.store.ResultStore`). A worker that dies is replaced and
its task rerun by Dask; an interrupted sweep keeps every finished file, and running it
again computes only what is missing. The table and figures are written once every
configuration is done.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from deephw import atomic
from deephw.errors import DeephwError, quote
from deephw.sweep import estimate
from deephw.sweep import scheduler as scheduler_module
from deephw.sweep.plan import Point, Sweep
from deephw.sweep.spec import KIND_FIELDS
from deephw.sweep.store import ResultStore
from deephw.sweep.studies import run_timed
from deephw.validation import as_dict, parse_yaml, read_yaml

MARKER = "sweep.yaml"
"""File that marks a sweep directory and records the sweep that last ran in it."""

CONNECT_TIMEOUT = 30.0
"""Seconds to reach a scheduler given by address, its handshake included."""

WORKER_SETUP = "deephw.sweep.worker"
"""Dask preload run in each worker process of the embedded cluster."""

RESULTS = "results"
"""Folder of the per-configuration result files inside a sweep directory."""


@dataclass
class SweepOutcome:
    """What a call of :func:`run_sweep` did.

    Attributes
    ----------
    out_dir
        The sweep directory.
    total
        Configurations in the sweep.
    reused
        Configurations whose results were already stored.
    computed
        Configurations computed and stored by this call.
    failed
        ``(point, message)`` of configurations whose task raised an error.
    table
        The Parquet table, once every configuration is done (else ``None``).
    figures
        The figures drawn from the table.
    """

    out_dir: Path
    total: int
    reused: int = 0
    computed: int = 0
    failed: list[tuple[Point, str]] = field(default_factory=list)
    table: Path | None = None
    figures: list[Path] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every configuration's results are stored and the table written."""
        return self.table is not None


def default_workers() -> int:
    """Worker processes of the embedded cluster: the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def check_directory(out_dir: str | Path, needed_bytes: int = 0) -> Path:
    """``out_dir`` if it can hold the sweep: absent, empty, or a sweep directory, in a
    writable place with ``needed_bytes`` free (:func:`deephw.atomic.check_output_location`;
    a sweep directory is resumed in place, so it may exist).

    Raises
    ------
    DeephwError
        If ``out_dir`` is a file, lies under a file, cannot be written, lacks the space,
        or is a non-empty directory that is not a sweep directory.
    """
    out = Path(out_dir)
    atomic.check_output_location(out, needed_bytes, must_be_new=False)
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise DeephwError(f"{out}: not empty and not a sweep directory (no {MARKER})")
    return out


IGNORED_FIELDS = ("source", "description")
"""Fields of a sweep's record that do not change its results: a sweep that differs only
in them is the same sweep."""

MAX_DIFFERENCES = 3
"""Differences named when a directory holds another sweep."""


def record(sweep: Sweep) -> dict[str, Any]:
    """What :data:`MARKER` holds: the sweep file's name and validated content (without
    the unset fields of other study kinds, :data:`~deephw.sweep.spec.KIND_FIELDS`)."""
    content = as_dict(sweep.spec)
    for name in KIND_FIELDS:
        if content[name] is None:
            del content[name]
    return {"source": sweep.source, **content}


def check_same_sweep(out_dir: str | Path, sweep: Sweep) -> None:
    """Refuse to run ``sweep`` in a sweep directory that holds another sweep.

    A sweep is resumed in its directory; a different sweep (other axes, base, fixed
    values, seeds...) would leave a record of one sweep beside the table of the other.

    Raises
    ------
    DeephwError
        Naming the directory, the sweep it holds and the first differences.
    """
    marker = Path(out_dir) / MARKER
    if not marker.is_file():
        return
    there = read_yaml(marker)
    here = parse_yaml(yaml.safe_dump(record(sweep), sort_keys=False), str(marker))
    differences = [
        text
        for key in dict.fromkeys([*there, *here])
        if key not in IGNORED_FIELDS
        for text in _differences(key, there.get(key, _ABSENT), here.get(key, _ABSENT))
    ]
    if differences:
        shown = "; ".join(differences[:MAX_DIFFERENCES])
        more = len(differences) - MAX_DIFFERENCES
        if more > 0:
            shown += f"; and {more} more"
        raise DeephwError(
            f"{out_dir}: holds another sweep ({quote(there.get('source'))}): {shown}; "
            "choose another --out, or remove that directory"
        )


_ABSENT = object()


def _differences(path: str, there: Any, here: Any) -> list[str]:
    """``PATH is X there, Y here`` for each value that differs, mappings compared by key."""
    if isinstance(there, dict) and isinstance(here, dict):
        return [
            text
            for key in dict.fromkeys([*there, *here])
            for text in _differences(
                f"{path}.{key}", there.get(key, _ABSENT), here.get(key, _ABSENT)
            )
        ]
    if there == here:
        return []

    def show(value: Any) -> str:
        return "absent" if value is _ABSENT else quote(value, 60)

    return [f"{path} is {show(there)} there, {show(here)} here"]


def prepare_directory(out_dir: str | Path, sweep: Sweep) -> Path:
    """Create (or reopen) a sweep directory and record the sweep in it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / MARKER, yaml.safe_dump(record(sweep), sort_keys=False))
    return out


@contextlib.contextmanager
def connect(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A Dask client: to ``scheduler`` if given, else to a new embedded LocalCluster.

    The embedded cluster listens on the loopback interface only, has ``workers``
    single-threaded worker processes (default: one per core) and no dashboard; it is
    shut down on exit. A scheduler address is checked and its peer probed first
    (:mod:`deephw.sweep.scheduler`): a malformed address, or one that does not answer as
    a Dask scheduler within :data:`CONNECT_TIMEOUT` seconds, is a one-line error.
    """
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with scheduler_module.open_client(scheduler, CONNECT_TIMEOUT) as client:
            yield client
        return
    # One task per worker thread at a time: configurations are coarse tasks, and a task
    # queued behind a busy worker while another worker idles would stretch the sweep.
    with (
        dask.config.set({"distributed.scheduler.worker-saturation": 1.0}),
        LocalCluster(
            n_workers=workers or default_workers(),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            # A worker whose scheduler goes away first (Ctrl-C, a slow machine) logs its
            # failed heartbeat as an error with a traceback; task failures reach the sweep
            # through their futures, so the workers' own logs are kept to critical ones.
            silence_logs=logging.CRITICAL,
            preload=[WORKER_SETUP],
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def run_sweep(
    sweep: Sweep,
    out_dir: str | Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    client: Any = None,
    progress: bool = True,
    draw_figures: bool = True,
    on_result: Callable[[Point, list[dict[str, Any]]], None] | None = None,
) -> SweepOutcome:
    """Run the configurations of ``sweep`` that have no results yet; write the table.

    Parameters
    ----------
    sweep
        The loaded sweep (:func:`~deephw.sweep.plan.load_sweep`).
    out_dir
        The sweep directory: created, or reopened to resume.
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``); by default an
        embedded LocalCluster is started.
    workers
        Worker processes of the embedded cluster (default: one per core).
    client
        An existing ``distributed.Client`` to use instead (left open).
    progress
        Show a progress bar over configurations.
    draw_figures
        Draw the figures once the table is written (``report`` can draw them later).
    on_result
        Called with each point and its rows once its file is written.

    Returns
    -------
    SweepOutcome
        Counts, failures, and the table and figures if the sweep is complete.
    """
    out = check_directory(out_dir, estimate.disk_bytes(len(sweep.points), sweep.n_rows))
    with atomic.claim(out):
        check_same_sweep(out, sweep)
        store = ResultStore(out / RESULTS)
        done = store.done(sweep.points)
        todo = [point for point in sweep.points if point.key not in done]
        outcome = SweepOutcome(out, len(sweep.points), reused=len(done))
        if not todo:
            prepare_directory(out, sweep)
        else:  # the directory is made once the cluster is up: a failed start leaves nothing
            if client is None:
                say(_starting(scheduler, workers), progress)
            session = (
                contextlib.nullcontext(client)
                if client is not None
                else connect(scheduler, workers)
            )
            with session as dask_client:
                prepare_directory(out, sweep)
                _compute(dask_client, todo, store, outcome, progress, on_result)
                if client is None:
                    say("stopping the cluster", progress and scheduler is None)
        if not outcome.failed and len(store.done(sweep.points)) == len(sweep.points):
            say(f"writing the table ({sweep.n_rows} rows)", progress)
            from deephw.sweep import figures, table  # pandas and matplotlib: only when needed

            frame = table.build(sweep, store)
            outcome.table = table.write(frame, table.info(sweep), out)
            if draw_figures:
                outcome.figures = figures.draw_all(frame, table.info(sweep), out, progress=progress)
    return outcome


def say(message: str, show: bool = True) -> None:
    """Tell the user what a phase without a progress bar is doing (on stderr)."""
    if show:
        print(f"{message}...", file=sys.stderr, flush=True)


def _starting(scheduler: str | None, workers: int | None) -> str:
    if scheduler is not None:
        return f"connecting to the Dask scheduler at {scheduler}"
    count = workers or default_workers()
    return f"starting the embedded Dask cluster ({count} worker process{'es' * (count != 1)})"


def _compute(
    client: Any,
    todo: list[Point],
    store: ResultStore,
    outcome: SweepOutcome,
    progress: bool,
    on_result: Callable[[Point, list[dict[str, Any]]], None] | None,
) -> None:
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]
    futures = []
    by_key: dict[str, Point] = {}
    for point in todo:
        future = client.submit(run_timed, point.job, key=f"deephw-sweep-{point.key}-{token}")
        by_key[future.key] = point
        futures.append(future)
    bar = tqdm(
        total=outcome.total,
        initial=outcome.reused,
        desc="sweep",
        unit="config",
        disable=not progress,
        mininterval=0.5,
        file=sys.stderr,
    )
    try:
        with bar:
            for future in as_completed(futures):
                point = by_key[future.key]
                try:
                    rows, seconds = future.result()
                    store.write(point, rows, seconds)
                except Exception as exc:  # a failed task is reported; the others go on
                    outcome.failed.append((point, f"{type(exc).__name__}: {exc}"))
                else:
                    outcome.computed += 1
                    if on_result is not None:
                        on_result(point, rows)
                finally:
                    future.release()
                bar.update(1)
    finally:
        pending = [future for future in futures if not future.done()]
        if pending:
            with contextlib.suppress(Exception):
                client.cancel(pending)
