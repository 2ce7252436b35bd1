"""The assembly of a run: a validated config turned, once, into the parts that run it.

:func:`assemble` resolves every name of a :class:`~deephw.config.RunConfig` (task,
graph, device card, update scheme, learning rule, engine) and returns one frozen
:class:`Run`; training, evaluation, reproduction, sweeps and programs work from it, so
the card file is read once per run and every unused or misfit option is an error
before any work starts. Names are resolved here and in config loading only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from deephw import tasks, topology
from deephw.data import source as data_source
from deephw.devices import Card, load_card, replace_card
from deephw.devices.cards import is_card_file
from deephw.engines import Engine, get_engine
from deephw.errors import ConfigError
from deephw.rules import LearningRule, make_rule
from deephw.schemes import UpdateScheme, configured_scheme

if TYPE_CHECKING:
    from deephw.config import RunConfig


@dataclass(frozen=True, eq=False)
class Run:
    """The resolved parts of one run.

    Attributes
    ----------
    config
        The validated run config.
    source
        The config file's name, quoted in errors.
    task, topology
        What to learn, and the graph sized for it.
    card, scheme
        The device card (overrides applied, validated) and the update scheme.
    rule, engine
        The learning rule and the engine that relaxes the states.
    test
        The held-out data the networks are evaluated on (``task.test``), or ``None``.
    """

    config: RunConfig
    source: str
    task: tasks.Task
    topology: topology.Topology
    card: Card
    scheme: UpdateScheme
    rule: LearningRule
    engine: Engine
    test: tasks.Task | None = None


def assemble(
    config: RunConfig,
    task: tasks.Task | None = None,
    source: str = "",
    engine: Engine | None = None,
    test: tasks.Task | None = None,
) -> Run:
    """Build every part of a run from a validated config, once.

    Parameters
    ----------
    config
        The validated run config.
    task
        An in-memory task to use instead of the one the config names.
    source
        The config file's name, quoted in errors.
    engine
        An engine instance to use instead of the one the config names.
    test
        With ``task``: the test data to use (none by default); without ``task``, the
        config's test data is read.

    Raises
    ------
    ConfigError
        Naming the config file, the field and the value, when a file, the card or a
        part does not fit.
    """
    if task is None:
        task, test = load_data(config, source)
    graph = build_topology(config, task, source)
    card = hardware_card(config, source)
    rule = make_rule(config)
    try:
        rule.check(config, graph)
    except ConfigError as exc:
        raise ConfigError(source, exc.field, exc.value, exc.reason) from None
    engine = engine or make_engine(config)
    return Run(config, source, task, graph, card, make_scheme(config), rule, engine, test)


def load_run(path: str | Path, task: tasks.Task | None = None, engine: Engine | None = None) -> Run:
    """Load the run config file at ``path`` and assemble its run (errors name the file)."""
    from deephw.config import load  # config never imports this module: no cycle

    return assemble(load(path), task, str(path), engine)


def load_task(config: RunConfig, source: str = "") -> tasks.Task:
    """The training task a config names (built-in, or read from its data file)."""
    return load_data(config, source, test=False)[0]


def load_data(
    config: RunConfig, source: str = "", test: bool = True
) -> tuple[tasks.Task, tasks.Task | None]:
    """The training task and the test task (``None`` without ``task.test``) of a config."""
    data = data_source.load(config.task, config.resolve, source, test)
    if config.task.accuracy == "argmax" and data.train.n_outputs < 2:
        reason = "needs at least 2 outputs; with one output use threshold"
        raise ConfigError(source, "task.accuracy", "argmax", reason)
    return data.train, data.test


def build_topology(config: RunConfig, task: tasks.Task, source: str = "") -> topology.Topology:
    """The graph a config names, sized for ``task``."""
    net = config.network
    if net.topology == "layered":
        layers = net.hidden if isinstance(net.hidden, tuple) else (net.hidden,)
        layers = tuple(h for h in layers if h > 0)
        return topology.layered(task.n_inputs, layers, task.n_outputs)
    if net.topology == "adjacency":
        path = config.resolve(net.adjacency)
        return topology.from_adjacency(task.n_inputs, net.n_hidden, task.n_outputs, path, source)
    return topology.complete(task.n_inputs, net.n_hidden, task.n_outputs)


def make_engine(config: RunConfig) -> Engine:
    """The engine a config names, with its options; circuit noise is seeded by the run."""
    spec = config.engine
    if spec.target is not None or spec.noise_sigma:
        options = {"tau_ns": spec.tau_ns, "noise_sigma": spec.noise_sigma}
        options["seed"] = config.training.seed
        if spec.target is not None:
            options["target"] = spec.target
        return get_engine(spec.name, **options)
    return get_engine(spec.name)


def make_scheme(config: RunConfig) -> UpdateScheme:
    """The update scheme a config names, with its options."""
    hw = config.hardware
    return configured_scheme(hw.scheme_name, hw.scheme_given)


def hardware_card(config: RunConfig, source: str = "") -> Card:
    """The device card a run config names, with its overrides applied and validated.

    Errors name the config file and the field (``hardware.card``, the overridden
    ``hardware.card_overrides.SECTION.FIELD``, or ``hardware.scheme`` when the card does
    not fit the scheme).
    """
    hw = config.hardware
    ref = hw.card
    try:
        card = load_card(config.resolve(ref) if is_card_file(ref) else ref)
    except (ConfigError, FileNotFoundError) as exc:
        reason = exc.reason if isinstance(exc, ConfigError) else str(exc).strip("'\"")
        raise ConfigError(source, "hardware.card", ref, reason) from None
    except OSError as exc:  # e.g. a name too long for the file system
        raise ConfigError(source, "hardware.card", ref, f"cannot read ({exc.strerror})") from None
    if hw.card_overrides:
        try:
            card = replace_card(card, hw.card_overrides)
        except ConfigError as exc:
            field = f"hardware.card_overrides.{exc.field}" if exc.field else "hardware"
            raise ConfigError(source, field, exc.value, exc.reason) from None
    try:
        make_scheme(config).check_card(card)
    except ConfigError as exc:
        raise ConfigError(source, "hardware.scheme", hw.scheme_name, exc.reason) from None
    return card
