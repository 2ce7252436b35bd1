"""The ``deephw sweep`` command: run a sweep file, or redraw a sweep's report.

::

    deephw sweep SWEEP.yaml [--scheduler ADDRESS | --workers N] [--out DIR] [--force] [--quiet]
    deephw sweep report DIR

Both forms live in one sub-command with two positional arguments, because argparse
cannot tell a file name from a nested sub-command: the first argument is ``report`` or
a sweep file (a file literally named ``report`` is given as ``./report``). Heavy modules
(Dask, pandas) are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deephw.arguments import positive
from deephw.commandline import run
from deephw.errors import quote

REPORT = "report"
DEFAULT_ROOT = "sweeps"
"""Folder of sweep directories when ``--out`` is not given (``sweeps/NAME``)."""


def add_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``sweep`` on the sub-command set of the ``deephw`` parser.

    Parameters
    ----------
    subparsers
        What ``ArgumentParser.add_subparsers`` returned.

    Returns
    -------
    argparse.ArgumentParser
        The ``sweep`` parser; its ``func`` default is :func:`cmd_sweep`.
    """
    parser = subparsers.add_parser(
        "sweep",
        help="noise-robustness studies: run a sweep file, or redraw its report",
        usage=(
            "%(prog)s SWEEP.yaml [--scheduler ADDRESS | --workers N] [--out DIR] [--force] "
            "[--quiet]\n"
            "       %(prog)s report DIR"
        ),
        description=(
            "Run every configuration of a sweep file (one Dask task each, all seeds "
            "batched) and write one table row per configuration and seed, with figures. "
            "Finished configurations are kept: an interrupted sweep, run again, computes "
            "only what is missing. 'report DIR' redraws the figures from DIR's table."
        ),
    )
    parser.add_argument("target", metavar="SWEEP.yaml | report", help="a sweep file, or 'report'")
    parser.add_argument(
        "directory", nargs="?", metavar="DIR", help="with 'report': the sweep directory"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on an existing Dask cluster: its scheduler's tcp://HOST:PORT",
    )
    where.add_argument(
        "--workers",
        type=positive,
        metavar="N",
        help="worker processes of the embedded cluster (default: one per core)",
    )
    parser.add_argument(
        "--out", metavar="DIR", help=f"sweep directory (default {DEFAULT_ROOT}/NAME)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="run a sweep whose estimated work is past the limit (never past the memory)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(func=cmd_sweep, parser=parser)
    return parser


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run ``deephw sweep``; returns the exit code."""
    parser: argparse.ArgumentParser = args.parser
    if args.target == REPORT:
        if args.directory is None:
            parser.error("report needs the sweep directory: deephw sweep report DIR")
        names = ("scheduler", "workers", "out", "force")
        extra = [f"--{name}" for name in names if getattr(args, name)]
        if extra:
            parser.error(f"report takes only DIR, not {', '.join(extra)}")
        return _report(Path(args.directory), args.quiet)
    if args.directory is not None:
        parser.error(f"unexpected argument {quote(args.directory)} after the sweep file")
    return _run(args)


def _report(directory: Path, quiet: bool) -> int:
    from deephw import atomic

    if not quiet:
        print(f"reading the table of {directory}...", file=sys.stderr, flush=True)
    from deephw.sweep import figures, report, table

    frame, description = table.read(directory)  # before the claim: it creates nothing
    with atomic.claim(directory):
        written = figures.draw_all(frame, description, directory, progress=not quiet)
    if not quiet:
        print(report.summary_text(frame, description))
        print(f"{len(written)} figures in {directory / 'figures'}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from deephw.sweep import scheduler

    if args.scheduler is not None:
        scheduler.parse_address(args.scheduler)  # a malformed address: before any work
    out = Path(args.out) if args.out else Path(DEFAULT_ROOT) / Path(args.target).stem
    progress = not args.quiet
    if progress:
        print(f"reading {args.target}...", file=sys.stderr, flush=True)
    from deephw.sweep import execute, plan, report, table

    execute.check_directory(out)
    sweep = plan.load_sweep(args.target, force=args.force, progress=progress)
    if progress:
        workers = args.workers or execute.default_workers()
        where = args.scheduler or f"{workers} local worker{'s' if workers > 1 else ''}"
        print(
            f"{sweep.spec.kind} sweep {args.target}: {len(sweep.points)} configurations, "
            f"{sweep.n_rows} rows, on {where}; results in {out}"
        )
    try:
        outcome = execute.run_sweep(
            sweep, out, scheduler=args.scheduler, workers=args.workers, progress=progress
        )
    except KeyboardInterrupt:
        from deephw.sweep.store import ResultStore

        done = len(ResultStore(out / execute.RESULTS).done(sweep.points))
        print(
            f"deephw: interrupted; {done}/{len(sweep.points)} configurations are saved in "
            f"{out}; run the same command again to compute the rest",
            file=sys.stderr,
        )
        return 130
    if outcome.failed:
        for point, message in outcome.failed:
            print(f"deephw: configuration {point.values} failed: {message}", file=sys.stderr)
        print(
            f"deephw: {len(outcome.failed)} configurations failed; the others are saved in "
            f"{out}; run again to retry",
            file=sys.stderr,
        )
        return 1
    if progress:
        frame, description = table.read(out)
        print(report.summary_text(frame, description))
        print(f"computed {outcome.computed}, reused {outcome.reused}")
        print(f"table: {out / table.PARQUET}, {out / table.CSV}")
        print(f"{len(outcome.figures)} figures in {out / 'figures'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sweep`` on its own (``python -m deephw.sweep ARGS``): ``deephw sweep ARGS``."""
    parser = argparse.ArgumentParser(prog="deephw")
    parser.set_defaults(parser=parser)
    add_commands(parser.add_subparsers(dest="command", required=True))
    return run(parser, ["sweep", *(sys.argv[1:] if argv is None else argv)])
