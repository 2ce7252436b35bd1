"""The ``deephw program`` command: export, verify and import weight programs.

::

    deephw program export RUN [--groups GROUPS.yaml] --out DIR
                          [--tile-rows R --tile-cols C] [--seed N] [--card CARD]
                          [--csv auto|always|never]
    deephw program verify DIR [--seed N] [--chips K] [--chip K] [--engine NAME] [--force]
                          [--out DIR]
    deephw program import (DIR | MEASURED.csv) --out RUN [--run ORIGINAL_RUN]
                          [--program DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from deephw.arguments import non_negative, positive, seed
from deephw.engines import engine_names
from deephw.program.export import CSV_AUTO_LIMIT, CSV_CHOICES, export_program
from deephw.program.importing import import_program
from deephw.program.report import summary_lines
from deephw.program.store import open_program
from deephw.program.verify import verify_program


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def cmd_export(args: argparse.Namespace) -> int:
    """Export one network of a run as a weight program."""
    out = export_program(
        args.run,
        args.out,
        groups=args.groups,
        tile_rows=args.tile_rows,
        tile_cols=args.tile_cols,
        seed=args.seed,
        card=args.card,
        csv=args.csv,
    )
    m = open_program(out).manifest
    geo, net = m.geometry, m.network
    print(f"program written to {out} ({_size(out) / 1e3:.1f} kB)")
    print(
        f"  network of seed {m.run.seed} (trained MSE {m.run.trained_mse:.3g}, accuracy "
        f"{100 * m.run.trained_accuracy:.0f} %), card {m.card.name} ({m.mapping.cell} cell, "
        f"roles {', '.join(m.mapping.roles)}, G_ref {m.mapping.g_ref_uS:g} µS, F {m.mapping.F:g})"
    )
    print(
        f"  {net.devices} devices of {net.programmed_cells} cells on {len(geo.tiles)} tiles of "
        f"{geo.tile_rows} x {geo.tile_cols}; {net.pruned_cells} pruned cells left unprogrammed"
    )
    print(
        f"  {len(m.groups)} groups: "
        + ", ".join(f"{g.name} ({g.devices})" for g in m.groups[:8])
        + (" ..." if len(m.groups) > 8 else "")
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Execute a program on simulated chips and report."""
    result = verify_program(
        args.program,
        seed=args.seed,
        chips=args.chips,
        engine=args.engine,
        force=args.force,
        out=args.out,
        chip=args.chip,
    )
    report = result.report
    print(f"report written to {result.out_dir} (card: {report['card_check']})")
    print("\n".join(summary_lines(report)))
    if result.measured is None:
        print(
            f"measured conductances not written: more than {CSV_AUTO_LIMIT} devices "
            f"({report['totals']['devices']})"
        )
    else:
        k = result.measured_chip
        print(
            f"measured conductances of chip {k} (seed {report['chip_seeds'][k]}), read right "
            f"after programming: {result.measured}\n  (another chip: --chip K; import with: "
            f"deephw program import {result.measured} --program {args.program} --out RUN)"
        )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Turn a program or measured conductances into a run directory."""
    out = import_program(args.source, args.out, run=args.run, program=args.program)
    print(f"run written to {out}; evaluate it with: deephw eval {out}")
    return 0


def add_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``program`` (``export``, ``verify``, ``import``) on the ``deephw`` parser.

    Parameters
    ----------
    subparsers
        What ``ArgumentParser.add_subparsers`` returned.

    Returns
    -------
    argparse.ArgumentParser
        The ``program`` parser; each action sets ``func`` and ``parser`` (for errors).
    """
    parser = subparsers.add_parser(
        "program", help="weight programs for device groups: export, verify, import"
    )
    parser.set_defaults(parser=parser)
    actions = parser.add_subparsers(dest="action", required=True)

    export = actions.add_parser("export", help="a run's network as a weight program")
    export.add_argument("run", metavar="RUN", help="run directory written by deephw train")
    export.add_argument(
        "--groups", metavar="GROUPS.yaml", help="device groups (default: one per tile and role)"
    )
    export.add_argument("--out", required=True, metavar="DIR", help="program directory to write")
    export.add_argument("--tile-rows", type=positive, metavar="R", help="rows per tile")
    export.add_argument("--tile-cols", type=positive, metavar="C", help="columns per tile")
    export.add_argument("--seed", type=seed, help="the run's seed to export (default: lowest MSE)")
    export.add_argument("--card", help="device card to program (default: the run's)")
    export.add_argument(
        "--csv", choices=CSV_CHOICES, default="auto", help="CSV copies of the group tables"
    )
    export.set_defaults(parser=export, func=cmd_export)

    verify = actions.add_parser("verify", help="execute a program on simulated chips")
    verify.add_argument("program", metavar="DIR", help="program directory")
    verify.add_argument("--seed", type=seed, default=0, help="seed of the first chip")
    verify.add_argument(
        "--chips", type=positive, default=1, help="chips to sample (seed, seed+1, ...)"
    )
    verify.add_argument(
        "--chip",
        type=non_negative,
        default=0,
        metavar="K",
        help="chip whose conductances go to measured.csv (0 to chips-1; default 0)",
    )
    verify.add_argument("--engine", choices=engine_names(), help="engine evaluating the network")
    verify.add_argument(
        "--force",
        action="store_true",
        help="verify even if the card changed, or past the work limit (never the memory limit)",
    )
    verify.add_argument("--out", metavar="DIR", help="report directory (default: beside DIR)")
    verify.set_defaults(parser=verify, func=cmd_verify)

    imp = actions.add_parser("import", help="a program or measured conductances as a run")
    imp.add_argument("source", metavar="DIR | MEASURED.csv", help="program or measured CSV")
    imp.add_argument("--out", required=True, metavar="RUN", help="run directory to write")
    imp.add_argument("--run", metavar="ORIGINAL_RUN", help="take the config from this run")
    imp.add_argument(
        "--program", metavar="DIR", help="with a CSV: the program it was measured from"
    )
    imp.set_defaults(parser=imp, func=cmd_import)
    return parser
