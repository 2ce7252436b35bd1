"""The ``deephw`` command line: a thin layer over the Python API."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from deephw import (
    __version__,
    atomic,
    authors_protocol,
    confusion,
    devices,
    digits_command,
    plotting,
    reproduce,
    rundir,
    runpool,
    tasks,
    training,
)
from deephw import config as config_module
from deephw.arguments import positive
from deephw.arguments import seed as seed_type
from deephw.assembly import assemble
from deephw.commandline import run
from deephw.data import source as data_source
from deephw.engines import engine_names
from deephw.errors import ConfigError, DeephwError, quote
from deephw.estimate import estimate_evaluation, estimate_run
from deephw.program.cli import add_commands as add_program_commands
from deephw.sweep.cli import add_commands as add_sweep_commands


def _overrides(args: argparse.Namespace) -> dict[str, dict]:
    training_values = {
        key: getattr(args, key)
        for key in ("epochs", "seeds", "seed")
        if getattr(args, key, None) is not None
    }
    changes: dict[str, dict] = {}
    if training_values:
        changes["training"] = training_values
    return changes


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", choices=engine_names(), help="engine to run the dynamics")
    parser.add_argument("--epochs", type=positive, help="override training.epochs")
    parser.add_argument("--seeds", type=positive, help="override training.seeds")
    parser.add_argument("--seed", type=seed_type, help="override the first seed")
    _add_force(parser)


def _add_force(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force",
        action="store_true",
        help="run even when the estimated work is past the limit (memory is never forced)",
    )


OPTION_FIELDS = {"epochs": "training.epochs", "seeds": "training.seeds", "seed": "training.seed"}
"""Command-line options that set config fields; errors about those fields name the option."""


def _options(args: argparse.Namespace) -> dict[str, str]:
    """``{dotted field: --option}`` for the options given on this command line."""
    return {
        field: f"--{name}"
        for name, field in OPTION_FIELDS.items()
        if getattr(args, name, None) is not None
    }


def cmd_train(args: argparse.Namespace) -> int:
    """Train the seeds of one run config and write a run directory."""
    source = str(args.config)
    config = config_module.load(args.config)
    changes = _overrides(args)
    if args.engine:
        changes["engine"] = {"name": args.engine}
    if changes:
        config = config.replace(**changes)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path("runs") / f"{Path(args.config).stem}-{stamp}"
    task, test = training.load_data(config, source)
    needs = estimate_run(config, task, test)
    needs.enforce(config, source, force=args.force, options=_options(args))
    atomic.check_output_location(out, int(needs.output_bytes))
    parts = assemble(config, task, source, test=test)
    with atomic.claim(out):
        atomic.check_new_directory(out)  # another writer may have finished meanwhile
        with tqdm(
            total=config.training.epochs, desc="train", unit="epoch", leave=False, mininterval=0.5
        ) as bar:
            result = training.train(parts, progress=bar.update, status=bar.set_postfix_str)
        rundir.write_run(result, out)
    _print_training(result, out)
    return 0


def _print_training(result: training.TrainResult, out: Path) -> None:
    config = result.config
    seeds = len(result.seeds)
    print(f"run written to {out}")
    print(
        f"{result.task.name}, {config.learning.rule}, {seeds} seeds, "
        f"{config.training.epochs} epochs on the {config.engine.name} engine"
    )
    print(
        f"  converged (MSE < {config.training.converged_mse:g}): {result.converged.sum()}/{seeds}"
    )
    print(f"  every pattern right: {result.correct.sum()}/{seeds}")
    print(f"  final MSE median {np.median(result.final_mse):.3g}")
    if result.test is not None:
        train, test = 100 * result.final_accuracy, 100 * result.test_accuracy
        print(
            f"  accuracy: training data {np.mean(train):.2f} %, test data {np.mean(test):.2f} % "
            f"(mean of {seeds}; per seed {', '.join(f'{v:.2f}' for v in test)})"
        )
    sparsity = 100 * np.median(result.sparsity)
    solved = result.sparsity[result.correct]
    of_solved = f"{100 * np.median(solved):.2f} %" if solved.size else "-"
    print(f"  sparsity median {sparsity:.2f} % (all seeds), {of_solved} (correct seeds)")
    hw = rundir.hardware_totals(result)
    print(
        f"  chip: {hw['card']} card, {hw['scheme']} scheme; pulses median "
        f"{np.median(hw['pulses_per_seed']):.4g}, energy median "
        f"{np.median(hw['energy_pJ_per_seed']) / 1e3:.4g} nJ, chip time {hw['chip_time_s']:.4g} s"
    )


def cmd_devices(args: argparse.Namespace) -> int:
    """List, show, check or fit device cards."""
    if args.action == "list":
        print(devices.card_table())
    elif args.action == "show":
        print(devices.show_card(args.card))
    elif args.action == "check":
        card = devices.check_card(args.card)
        kind = f"{card.cell.kind} cell, {card.device.model}"
        print(f"{args.card}: valid card {quote(card.name)} ({kind})")
    else:
        devices.fit_card(args.card, args.out, force=args.force)
        print(f"card written to {args.out}; check it with: deephw devices show {args.out}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate a run's networks on its task, another built-in task or a data file."""
    config, arrays = rundir.load_run(args.run)
    if args.engine:
        config = config.replace(engine={"name": args.engine})
    if args.data is not None and args.task is not None:
        raise ConfigError("", "--data", args.data, "give --data or --task, not both")
    if args.scale is not None and not 0 < args.scale < float("inf"):
        raise ConfigError("", "--scale", args.scale, "must be a positive number")
    if args.data is None and (args.labels, args.scale) != (None, None):
        option = "--labels" if args.labels is not None else "--scale"
        raise ConfigError("", option, args.labels or args.scale, "only with --data")
    if args.confusion is not None:
        atomic.check_output_location(args.confusion)
        atomic.check_output_location(Path(args.confusion).with_suffix(".csv"))
    own_task, own_test = training.load_data(config, test=args.data is None and args.task is None)
    if args.data is not None:
        classes = own_task.n_outputs if config.task.accuracy == "argmax" else None
        task = data_source.read_data_file(args.data, args.labels, config.task, classes, args.scale)
        option, what = "--data", args.data
    elif args.task is not None:
        task, option, what = tasks.builtin(args.task), "--task", args.task
    else:
        task, option, what = own_task, "", ""
    if (task.n_inputs, task.n_outputs) != (own_task.n_inputs, own_task.n_outputs):
        raise ConfigError(
            "",
            option,
            what,
            f"has {task.n_inputs} input(s) and {task.n_outputs} output(s); the networks of "
            f"{args.run} have {own_task.n_inputs} input(s) and {own_task.n_outputs} output(s)",
        )
    seeds = arrays["seeds"]
    n = own_task.n_inputs + 1 + config.network.n_hidden + own_task.n_outputs
    expected = (len(seeds), n, n)
    if arrays["weights"].shape != expected:
        raise DeephwError(
            f"{Path(args.run) / 'weights.npz'}: array 'weights' has shape "
            f"{arrays['weights'].shape}, but its config.yaml describes {expected}"
        )
    topo = training.build_topology(config, own_task)
    evaluated = [(task.name, task)] + ([("test data", own_test)] if own_test is not None else [])
    for name, data in evaluated:
        needs = estimate_evaluation(config, data, len(seeds))
        needs.enforce(config, str(Path(args.run) / "config.yaml"), force=args.force)
        mse, accuracy, outputs = training.evaluate(
            config, topo, data, arrays["weights"], seeds, training.make_engine(config)
        )
        _print_evaluation(f"{name} on the {config.engine.name} engine", seeds, mse, accuracy)
    if args.confusion is not None:
        _write_confusion(args.confusion, outputs, data, seeds)
    return 0


def _print_evaluation(title: str, seeds: np.ndarray, mse: np.ndarray, accuracy: np.ndarray) -> None:
    print(title)
    print(f"{'seed':>6} {'MSE':>12} {'accuracy':>9}")
    for seed, m, a in zip(seeds, mse, accuracy, strict=True):
        print(f"{int(seed):>6} {m:>12.4g} {100 * a:>8.1f}%")
    print(
        f"median MSE {np.median(mse):.4g}, mean accuracy {100 * np.mean(accuracy):.2f} %, "
        f"all patterns right in {int((accuracy >= 1).sum())}"
    )


def _write_confusion(path: str, outputs: np.ndarray, data: tasks.Task, seeds: np.ndarray) -> None:
    """The confusion matrix of the last evaluation: a figure at ``path``, counts beside."""
    if data.n_outputs < 2:
        raise ConfigError("", "--confusion", path, "needs a task of 2 or more classes (outputs)")
    counts = confusion.confusion_counts(outputs, data.y)
    atomic.write_text(Path(path).with_suffix(".csv"), confusion.confusion_csv(counts, seeds))
    plotting.save(confusion.confusion_figure(counts, data.name), path)
    print(f"confusion matrix in {path} (counts in {Path(path).with_suffix('.csv')})")


def _card_list(text: str | None) -> list[str]:
    """``--cards`` as a list: ``all`` is every shipped card; names are checked."""
    if text is None:
        return []
    known = devices.list_cards()
    names = known if text == "all" else [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if name not in known:
            raise ConfigError("", "--cards", name, f"not a shipped card ({', '.join(known)})")
    return names


PROTOCOLS = {"paper": reproduce, "authors": authors_protocol}
"""``deephw reproduce --protocol``: the modules that run each protocol."""


def _reproduce_preflight(args: argparse.Namespace) -> Path:
    """Estimate every run of ``deephw reproduce`` and check its ``--out``; return it."""
    if args.study == "digits":
        return digits_command.preflight(args, _card_list(args.cards), _options(args))
    if args.subset is not None:
        raise ConfigError("", "--subset", args.subset, "only with --study digits")
    protocol = PROTOCOLS[args.protocol]
    if args.cards is not None and protocol is not reproduce:
        reason = "the card study runs with --protocol paper only"
        raise ConfigError("", "--cards", args.cards, reason)
    epochs = args.epochs or protocol.DENSE_EPOCHS
    seeds, seed, engine = args.seeds or 10, args.seed or 0, args.engine or "numpy"
    cards = _card_list(args.cards)
    needs = protocol.estimate(epochs, seeds, seed, engine, cards)
    first = protocol.experiment_configs(protocol.TASKS[0], epochs, seeds, seed, engine)
    needs.enforce(next(iter(first.values())), "", force=args.force, options=_options(args))
    out = Path(args.out)
    atomic.check_output_location(out, int(needs.output_bytes))
    return out


def _claiming(
    command: Callable[[argparse.Namespace], int],
    preflight: Callable[[argparse.Namespace], Path],
) -> Callable[[argparse.Namespace], int]:
    """``command`` run under a claim on its output, after ``preflight`` returned and checked it.

    A second deephw process writing the same output is refused at start, in one line.
    """

    def run(args: argparse.Namespace) -> int:
        out = preflight(args)
        with atomic.claim(out):
            atomic.check_new_directory(out)  # another writer may have finished meanwhile
            return command(args)

    return run


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Rerun the paper's experiments; write figures, summary.json, results.md and the runs."""
    if args.study == "digits":
        return digits_command.command(args, _card_list(args.cards))
    protocol = PROTOCOLS[args.protocol]
    out = Path(args.out)
    epochs = args.epochs or protocol.DENSE_EPOCHS
    seeds = args.seeds or 10
    seed = args.seed or 0
    engine = args.engine or "numpy"
    workers = args.workers or runpool.default_workers()
    cards = _card_list(args.cards)
    total = protocol.total_epochs(epochs, seeds, seed, cards)
    started = time.perf_counter()
    with atomic.new_directory(out) as tmp:
        with tqdm(total=total, desc="reproduce", unit="epoch", mininterval=0.5) as bar:
            results, card_results = protocol.train_all(
                epochs,
                seeds,
                seed,
                engine,
                cards,
                workers=workers,
                runs_dir=tmp / "runs",
                progress=bar.update,
                status=bar.set_postfix_str,
            )
            bar.set_postfix_str("every run trained and written")
        protocol.write_outputs(results, tmp, card_results, say=print)
    print(reproduce.table(reproduce.summary(results)))
    if cards:
        report = {card: reproduce.summary(by_task) for card, by_task in card_results.items()}
        print()
        print(reproduce.cards_table(report))
    elapsed = time.perf_counter() - started
    print(
        f"figures, summary.json, results.md and run directories in {out} "
        f"({elapsed:.1f} s on {workers} worker{'s' if workers > 1 else ''})"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``deephw`` command."""
    parser = argparse.ArgumentParser(
        prog="deephw", description="Co-simulator for analog chips that learn with DEEP."
    )
    parser.add_argument("--version", action="version", version=f"deephw {__version__}")
    parser.set_defaults(parser=parser)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train the seeds of a run config")
    train.add_argument("config", help="run config (YAML)")
    train.add_argument("--out", help="run directory to write (default runs/NAME-TIME)")
    _add_run_options(train)
    train.set_defaults(parser=train, func=cmd_train)

    evaluate = commands.add_parser("eval", help="evaluate a run directory")
    evaluate.add_argument("run", help="run directory written by deephw train")
    evaluate.add_argument(
        "--task", help="built-in task to evaluate on (default: the run's, and its test data)"
    )
    evaluate.add_argument(
        "--data",
        metavar="FILE",
        help="data to evaluate on: .csv, .npz, or an IDX file of images (with --labels)",
    )
    evaluate.add_argument("--labels", metavar="FILE", help="the IDX file of labels of --data")
    evaluate.add_argument(
        "--scale", type=float, help="divide the inputs of --data by this (default: the run's)"
    )
    evaluate.add_argument(
        "--confusion", metavar="PNG", help="write the confusion matrix figure (and its CSV)"
    )
    evaluate.add_argument("--engine", choices=engine_names(), help="engine to run the dynamics")
    _add_force(evaluate)
    evaluate.set_defaults(parser=evaluate, func=cmd_eval)

    cards = commands.add_parser("devices", help="device cards: list, show, check, fit")
    card_actions = cards.add_subparsers(dest="action", required=True)
    card_actions.add_parser("list", help="the shipped cards")
    show = card_actions.add_parser("show", help="a card's validated content and hash")
    show.add_argument("card", help="a shipped card's name or a card file")
    check = card_actions.add_parser("check", help="validate a card file")
    check.add_argument("card", help="card file (YAML)")
    fit = card_actions.add_parser("fit", help="a lookup-table card from measured pulse data")
    fit.add_argument("card", metavar="DATA.csv", help="conductance after each pulse, or steps")
    fit.add_argument("--out", required=True, help="card file to write (must not exist)")
    fit.add_argument("--force", action="store_true", help="replace an existing --out file")
    cards.set_defaults(parser=cards, func=cmd_devices)

    repro = commands.add_parser("reproduce", help="the paper's experiments, figures and summary")
    repro.add_argument("--out", required=True, help="directory to write (must not exist)")
    repro.add_argument(
        "--protocol",
        choices=sorted(PROTOCOLS),
        default="paper",
        help="paper: deephw's reproduction (default); authors: the settings and variant "
        "of the authors' notebooks (200 epochs)",
    )
    digits_command.add_options(repro)
    repro.add_argument(
        "--cards",
        metavar="all|NAME,...",
        help="also run DEEP, dense and pruned, on these device cards (all: every shipped one)",
    )
    repro.add_argument(
        "--workers",
        type=positive,
        help=f"processes training the runs (default: the cores, here {runpool.default_workers()})",
    )
    _add_run_options(repro)
    repro.set_defaults(parser=repro, func=_claiming(cmd_reproduce, _reproduce_preflight))
    add_program_commands(commands)
    add_sweep_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deephw`` console script; returns the exit code (see
    :func:`deephw.commandline.run`)."""
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
