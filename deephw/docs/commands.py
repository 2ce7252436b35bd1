"""Every ``deephw`` subcommand and option, read from the argument parsers.

:func:`commands` walks :func:`deephw.cli.build_parser` into :class:`Command` rows, the
material of the command-line reference and of the test that every option has help.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Option:
    """One argument of a command: an option (``--out``) or a positional (``config``)."""

    names: tuple[str, ...]
    metavar: str
    help: str
    default: str
    choices: tuple[str, ...]
    required: bool

    @property
    def positional(self) -> bool:
        """Whether the argument is positional."""
        return not self.names[0].startswith("-")


@dataclass(frozen=True)
class Command:
    """A command or subcommand: its words (``deephw program export``), help and usage."""

    words: tuple[str, ...]
    help: str
    description: str
    usage: str
    options: list[Option] = field(default_factory=list)
    subcommands: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The command as typed, e.g. ``deephw devices show``."""
        return " ".join(self.words)


def _option(action: argparse.Action) -> Option:
    names = tuple(action.option_strings) or (action.dest,)
    if action.metavar is not None:
        metavar = str(action.metavar)
    elif action.nargs == 0:
        metavar = ""
    else:
        metavar = action.dest.upper() if action.option_strings else action.dest
    default = action.default
    shown = "" if default in (None, False, argparse.SUPPRESS) else str(default)
    choices = tuple(str(c) for c in action.choices) if action.choices else ()
    required = bool(action.required) or not action.option_strings
    return Option(names, metavar, action.help or "", shown, choices, required)


def commands(
    parser: argparse.ArgumentParser | None = None,
    words: tuple[str, ...] = ("deephw",),
    help: str = "",
) -> Iterator[Command]:
    """The command ``parser`` (default: ``deephw``'s) and, depth first, its subcommands."""
    if parser is None:
        from deephw.cli import build_parser

        parser = build_parser()
    options, subs = [], []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            subs += [(name, sub, helps.get(name, "")) for name, sub in action.choices.items()]
        elif not isinstance(action, argparse._HelpAction):
            options.append(_option(action))
    usage = " ".join(parser.format_usage().split())
    usage = usage.removeprefix("usage: ")
    description = parser.description or ""
    yield Command(words, help, description, usage, options, tuple(name for name, _, _ in subs))
    for name, sub, sub_help in subs:
        yield from commands(sub, (*words, name), sub_help)


def undocumented(parser: argparse.ArgumentParser | None = None) -> list[str]:
    """Subcommands and options without help text, as ``deephw train --out``."""
    found = []
    for command in commands(parser):
        if len(command.words) > 1 and not command.help:
            found.append(command.name)
        found += [f"{command.name} {opt.names[0]}" for opt in command.options if not opt.help]
    return found
