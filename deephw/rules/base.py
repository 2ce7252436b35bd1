"""The learning-rule interface: how a rule drives the phases and what it programs.

A rule owns the leak the neuron circuits use, the phases it asks the analog core for
after the free phase (one nudged phase, or two), how their results become a weight change
(or the trajectory or counts an in-situ scheme turns into pulses), whether it supports
in-situ accumulation, and its own options (``learning.options``). Rules register by
name (:func:`register_rule`); the name is resolved at the edges (config loading, the
assembly of a run), and the training loop drives any rule through this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from deephw.engines.base import Program, Relax
from deephw.multiply import MultiplyModel
from deephw.pulses import InSituRequest
from deephw.registry import Registry
from deephw.validation import build

if TYPE_CHECKING:
    from deephw.config import RunConfig
    from deephw.topology import Topology

RULES: Registry[type] = Registry("learning rule")


def register_rule(name: str) -> Callable[[type], type]:
    """Class decorator registering a learning rule under ``name``."""
    return RULES.register(name)


def rule_class(name: str) -> type[LearningRule]:
    """The rule class registered as ``name``; :class:`~deephw.errors.UnknownNameError` else."""
    return RULES.get(name)


def rule_names() -> list[str]:
    """Names of the registered learning rules."""
    return RULES.names()


@dataclass(frozen=True)
class NoOptions:
    """A rule without options of its own."""


@dataclass(frozen=True)
class Update:
    """What one learning step programs: a weight change, or what an in-situ scheme
    turns into pulses (the latched nudged trajectory, or the engine's counts)."""

    delta: np.ndarray | None = None
    trajectory: np.ndarray | None = None
    counts: np.ndarray | None = None

    def arguments(self) -> dict[str, np.ndarray]:
        """The given parts, as keyword arguments of the scheme's update."""
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class Step:
    """One learning step of a batch, as the training loop hands it to a rule.

    Attributes
    ----------
    nudged
        The nudged-phase request: from the free equilibrium ``s0`` (analog), with the
        run's ``beta`` and the targets.
    s0
        ``(S, B, N)`` free-phase equilibrium as the periphery latched it.
    run
        Runs one phase on the chip: ``answer = yield from step.run(request)`` (the chip
        clock advances, a non-finite answer is reported as a divergence).
    latch
        States as the periphery reads them (ADC).
    trajectory_pulses
        The scheme turns the nudged trajectory itself into pulses (in situ).
    in_engine
        The request that has the engine accumulate the in-situ coincidences, when the
        scheme asks for that (``hardware.scheme.in_engine``); else None.
    register
        The rule's own state in the chip's periphery (:meth:`LearningRule.start`), which
        its :meth:`LearningRule.learn` may update in place; None for most rules.
    engine_sums
        The engine can answer DEEP's sum over the nudged phase (:attr:`Relax.deep_sum`),
        the periphery reads states exactly (so the sum equals the latched trajectory's)
        and the scheme does not turn the trajectory itself into pulses.
    """

    nudged: Relax
    s0: np.ndarray
    run: Callable[[Relax], Program[np.ndarray]]
    latch: Callable[[np.ndarray], np.ndarray]
    trajectory_pulses: bool = False
    in_engine: InSituRequest | None = None
    register: Any = None
    engine_sums: bool = False


class LearningRule(ABC):
    """A learning rule: its leak, its phases and its weight change.

    Parameters
    ----------
    lr
        Learning rate (``learning.lr``).
    beta
        Nudging strength (``dynamics.beta``).
    extra_leak
        Constant leak added to a measured leak (``dynamics.extra_leak``), for the rules
        whose leak is measured.
    options
        The rule's own options (an instance of :attr:`Options`).
    """

    name: str = "abstract"
    Options: type = NoOptions
    supports_in_situ: bool = False
    records_trajectory: bool = False
    """Whether its nudged phase answers the whole trajectory (memory estimates)."""
    fuses_epochs: bool = False
    """Whether its epoch is the one an engine may run whole (:mod:`deephw.fused`):
    DEEP's measured leak, one nudged phase, eq. 2. Not inherited: a subclass may change
    what an epoch does, so it fuses only when it says so itself."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "fuses_epochs" not in cls.__dict__:
            cls.fuses_epochs = False

    def __init__(
        self, lr: float, beta: float, extra_leak: float = 0.0, options: Any = None
    ) -> None:
        self.lr, self.beta, self.extra_leak = lr, beta, extra_leak
        self.options = self.Options() if options is None else options

    @classmethod
    def from_config(cls, config: RunConfig) -> LearningRule:
        """The rule of a validated run config, with its options."""
        options = options_of(cls, config.learning.options)
        dyn = config.dynamics
        return cls(config.learning.lr, dyn.beta, dyn.extra_leak, options)

    def check(self, config: RunConfig, topology: Topology) -> None:
        """Raise :class:`~deephw.errors.ConfigError` (naming the field) if the run does
        not suit the rule; every run suits it unless a rule says otherwise."""
        return None

    def leak(
        self, weights: np.ndarray, measured: Callable[[], np.ndarray] | None = None
    ) -> np.ndarray:
        """``(S, N)`` leak of the neuron circuits under ``weights``.

        ``measured`` reads the row sums through the periphery (on a chip); a rule whose
        leak is measured calls it, else computes the leak from ``weights``.
        """
        return np.ones(weights.shape[::2])

    def start(self, n_copies: int, topology: Topology) -> Any:
        """State the rule keeps in the chip's periphery for a run of ``n_copies``
        networks, outside the crossbar (e.g. a bias register); None: no such state."""
        return None

    def present(self, multiply: MultiplyModel, register: Any) -> MultiplyModel:
        """The multiply model the neuron circuits see: the array's, plus whatever the
        rule's periphery ``register`` drives into the columns (nothing by default)."""
        return multiply

    def initial_weights(self, weights: np.ndarray, topology: Topology) -> np.ndarray:
        """The weights training starts from, given the masked draws (unchanged here)."""
        return weights

    @abstractmethod
    def learn(self, step: Step) -> Program[Update]:
        """Program: the phases after the free phase, returning what to program."""


def options_of(cls: type[LearningRule], options: dict[str, Any]) -> Any:
    """Build ``cls.Options`` from the ``learning.options`` mapping (validated)."""
    return build(cls.Options, dict(options), prefix="options")


def make_rule(config: RunConfig) -> LearningRule:
    """The learning rule a validated run config names."""
    return rule_class(config.learning.rule).from_config(config)
