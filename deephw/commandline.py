"""Running a command line: one-line errors and exit codes, shared by every entry point."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from deephw.errors import DeephwError, DivergenceError, quote


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` with ``parser`` and run the chosen command; returns the exit code.

    Exit codes: 0 success, 1 the run failed (divergence), 2 invalid input (config, card,
    files, arguments) or a file that cannot be read or written, 130 interrupted.
    """
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return args.func(args)
    except DivergenceError as exc:
        print(f"deephw: error: {exc}", file=sys.stderr)
        return 1
    except DeephwError as exc:
        print(f"deephw: invalid input: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("deephw: interrupted; nothing was written", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of our output went away (e.g. `deephw eval RUN | head`)
        sys.stderr.close()
        return 0
    except OSError as exc:  # a file the checks could not foresee (e.g. a name too long)
        where = f"{quote(str(exc.filename))}: " if exc.filename else ""
        print(f"deephw: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
