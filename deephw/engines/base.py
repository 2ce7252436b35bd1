"""The engine interface: the analog core that relaxes neuron states.

An engine integrates the neuron dynamics shared by DEEP and asymmetric EP,

    V_j = sum_i W_ij s_i - leak_j s_j + beta (y_j - s_j) [j is an output]
    s_j <- clip(s_j + dt V_j, 0, 1)            for every non-clamped j,

for many independent networks at once (``S`` copies, e.g. seeds, each with a batch of
``B`` samples). DEEP's leak is a neuron's outgoing weight sum (plus an optional constant
leak); asymmetric EP's leak is 1. Engines register by name; strings are resolved only
at the edges with :func:`get_engine`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from deephw.engines.in_situ import InSituRequest
from deephw.registry import Registry

T = TypeVar("T")

ENGINES: Registry[type] = Registry("engine")


def register_engine(name: str) -> Callable[[type], type]:
    """Class decorator registering an engine under ``name``."""
    return ENGINES.register(name)


def get_engine(name: str, **options: object) -> Engine:
    """Instantiate the engine registered as ``name``."""
    return ENGINES.get(name)(**options)


def engine_names() -> list[str]:
    """Names of the registered engines."""
    return ENGINES.names()


@dataclass(frozen=True, eq=False)
class Relax:
    """One request to the analog core: the arguments of :meth:`Engine.relax`.

    A controller is a generator that yields ``Relax`` requests and receives each result
    (the final state, the trajectory if ``record``, or the in-situ coincidence counts if
    ``in_situ``); see :meth:`Engine.run`.
    """

    weights: np.ndarray
    leak: np.ndarray
    state: np.ndarray
    n_clamped: int
    n_steps: int
    dt: float
    beta: float = 0.0
    targets: np.ndarray | None = None
    record: bool = False
    in_situ: InSituRequest | None = None


Program = Generator[Relax, np.ndarray, T]
"""A controller program: yields :class:`Relax` requests, returns its result."""


class Engine(ABC):
    """Relaxes batched neuron states under fixed weights."""

    name: str = "abstract"

    def run(self, program: Program[Any]) -> Any:
        """Drive a controller program to its end and return what it returns.

        Each :class:`Relax` request the program yields is answered with :meth:`relax`.
        An engine whose per-call overhead is large may override this to run the whole
        program inside one simulation, answering requests at phase boundaries.
        """
        try:
            request = next(program)
            while True:
                request = program.send(self.relax(**_arguments(request)))
        except StopIteration as stop:
            return stop.value

    @abstractmethod
    def relax(
        self,
        weights: np.ndarray,
        leak: np.ndarray,
        state: np.ndarray,
        n_clamped: int,
        n_steps: int,
        dt: float,
        beta: float = 0.0,
        targets: np.ndarray | None = None,
        record: bool = False,
        in_situ: InSituRequest | None = None,
    ) -> np.ndarray:
        """Run ``n_steps`` Euler steps of the clipped dynamics.

        Parameters
        ----------
        weights
            ``(S, N, N)`` weights, ``weights[s, i, j]`` for ``i -> j``.
        leak
            ``(S, N)`` leak coefficient of each neuron.
        state
            ``(S, B, N)`` initial state; the first ``n_clamped`` neurons stay as given.
            Not modified.
        n_clamped
            Number of clamped neurons ``P``.
        n_steps, dt
            Number and size of the Euler steps (dimensionless time).
        beta
            Nudging strength; with ``beta > 0``, ``targets`` (``(S, B, O)``) pull the
            last ``O`` neurons.
        record
            Return the whole trajectory ``(n_steps + 1, S, B, N)`` (index 0 is the
            initial state) instead of the final state ``(S, B, N)``.
        in_situ
            Accumulate the in-situ coincidences of every step (see
            :mod:`deephw.engines.in_situ`) and return their ``(2, S, N, N)`` int64 up and
            down counts, summed over the steps and the batch, instead of the state.
            Not with ``record``.
        """


def _arguments(request: Relax) -> dict[str, Any]:
    """Keyword arguments of ``relax`` for ``request`` (``in_situ`` only when asked for,
    so that engines without the capability answer every other request)."""
    arguments = dict(vars(request))
    if arguments["in_situ"] is None:
        del arguments["in_situ"]
    return arguments
