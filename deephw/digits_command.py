"""``deephw reproduce --study digits``: the command line of :mod:`deephw.digits_study`."""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from tqdm import tqdm

from deephw import atomic, digits_study, runpool
from deephw.arguments import positive
from deephw.errors import ConfigError

STUDIES = ("paper", "digits")
"""``deephw reproduce --study``: the paper's experiments (default) or the digits study."""


def add_options(parser: argparse.ArgumentParser) -> None:
    """``--study`` and ``--subset`` of ``deephw reproduce``."""
    parser.add_argument(
        "--study",
        choices=STUDIES,
        default="paper",
        help="paper: AND, OR, XOR (default); digits: DEEP on the 8x8 handwritten digits "
        f"({digits_study.EPOCHS} epochs, {digits_study.SEEDS} seeds), baselines, variants, "
        "and with --cards each card",
    )
    parser.add_argument(
        "--subset",
        type=positive,
        metavar="N",
        help="--study digits only: train on the first N training images (and N // 3 test "
        "images), to try the study quickly",
    )


def _settings(args: argparse.Namespace) -> tuple[int, int, int, str]:
    return (
        args.epochs or digits_study.EPOCHS,
        args.seeds or digits_study.SEEDS,
        args.seed or 0,
        args.engine or "numpy",
    )


def preflight(args: argparse.Namespace, cards: Sequence[str], options: Mapping[str, str]) -> Path:
    """Estimate every run of the study and check its ``--out``; return it."""
    if args.protocol != "paper":
        raise ConfigError("", "--protocol", args.protocol, "the digits study has no protocol")
    if args.subset is not None and args.subset > 1347:
        raise ConfigError("", "--subset", args.subset, "more than the 1347 training images")
    epochs, seeds, seed, engine = _settings(args)
    needs = digits_study.estimate(epochs, seeds, seed, engine, cards)
    config = digits_study.run_config(epochs, seeds, seed, engine)
    needs.enforce(config, "", force=args.force, options=options)
    out = Path(args.out)
    atomic.check_output_location(out, int(needs.output_bytes))
    return out


def command(args: argparse.Namespace, cards: Sequence[str]) -> int:
    """Run the study into ``--out``; print its tables and how long it took."""
    from deephw.results_tables import digits_cards_table, digits_table, digits_variants_table

    epochs, seeds, seed, engine = _settings(args)
    workers = args.workers or runpool.default_workers()
    total = digits_study.total_epochs(epochs, seeds, seed, cards)
    started = time.perf_counter()
    with tqdm(total=total, desc="digits study", unit="epoch", mininterval=0.5) as bar:
        found = digits_study.run_study(
            Path(args.out),
            epochs,
            seeds,
            seed,
            engine,
            cards,
            subset=args.subset,
            workers=workers,
            progress=bar.update,
            status=bar.set_postfix_str,
            say=bar.write,
        )
    print(digits_table(found))
    print()
    print(digits_variants_table(found))
    if cards:
        print()
        print(digits_cards_table(found))
    elapsed = time.perf_counter() - started
    print(
        f"figures, summary.json, results.md and run directories in {args.out} "
        f"({elapsed:.1f} s on {workers} worker{'s' if workers > 1 else ''})"
    )
    return 0
