"""The engine interface: the analog core that relaxes neuron states.

An engine integrates the neuron dynamics shared by the learning rules,

    V_j = I_j - leak_j s_j + beta (y_j - s_j) [j is an output]
    s_j <- clip(s_j + dt V_j, 0, 1)            for every non-clamped j,

for many independent networks at once (``S`` copies, e.g. seeds, each with a batch of
``B`` samples). The column currents ``I_j`` come from the request's multiply model
(:mod:`deephw.multiply`; the dense one is ``I_j = sum_i W_ij s_i``), the leak from the
learning rule (DEEP: a neuron's outgoing weight sum; EP: 1). Engines register by name;
strings are resolved only at the edges with :func:`get_engine`. Each engine declares its
:class:`Capabilities`; a request it cannot answer is refused with the declared reason.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from deephw.blas import single_threaded
from deephw.multiply import DenseMultiply, IRDropMultiply, MultiplyModel
from deephw.pulses import InSituRequest
from deephw.registry import Registry

T = TypeVar("T")

ENGINES: Registry[type] = Registry("engine")


def register_engine(name: str) -> Callable[[type], type]:
    """Class decorator registering an engine under ``name``."""
    return ENGINES.register(name)


def get_engine(name: str, **options: object) -> Engine:
    """Instantiate the engine registered as ``name``."""
    return ENGINES.get(name)(**options)


def engine_class(name: str) -> type[Engine]:
    """The engine class registered as ``name`` (its options and capabilities)."""
    return ENGINES.get(name)


def engine_names() -> list[str]:
    """Names of the registered engines."""
    return ENGINES.names()


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do, each missing capability with the reason it is missing.

    Attributes
    ----------
    in_situ
        Accumulates in-situ coincidences during a relax call (:attr:`Relax.in_situ`).
    managed_in_situ
        Balances the in-situ row and column probabilities per chip and step (update
        management) while accumulating.
    circuit_noise
        Simulates white noise in the neuron circuits.
    deep_sum
        Answers DEEP's sum over a nudged phase (:attr:`Relax.deep_sum`).
    epochs
        Runs whole epochs of DEEP on exact weights in one call (:class:`Epochs`), for
        the networks :meth:`Engine.fuses` accepts.
    multiply
        The multiply models (:mod:`deephw.multiply`) it computes currents with.
    ir_drop
        (Derived from ``multiply``.) Computes the currents of an IR-dropped array
        (:class:`~deephw.multiply.IRDropMultiply`); a model class names the field it needs
        in its ``capability``.
    reasons
        Why a capability is missing, by name (e.g. ``circuit_noise``).
    """

    in_situ: bool = False
    managed_in_situ: bool = False
    circuit_noise: bool = False
    deep_sum: bool = False
    epochs: bool = False
    multiply: tuple[type[MultiplyModel], ...] = (DenseMultiply,)
    reasons: tuple[tuple[str, str], ...] = ()

    @property
    def ir_drop(self) -> bool:
        """Whether :class:`~deephw.multiply.IRDropMultiply` is among ``multiply``."""
        return any(issubclass(cls, IRDropMultiply) for cls in self.multiply)

    def lacks(self, capability: str) -> str | None:
        """The reason ``capability`` is missing, or None when the engine has it."""
        if capability == "multiply" or getattr(self, capability):
            return None
        return dict(self.reasons).get(capability, f"no {capability.replace('_', ' ')}")


@dataclass(frozen=True, eq=False)
class Relax:
    """One request to the analog core.

    A controller is a generator that yields ``Relax`` requests and receives each result
    (the final state, the trajectory if ``record``, or the in-situ coincidence counts if
    ``in_situ``); see :meth:`Engine.run`.

    Attributes
    ----------
    multiply
        How the column currents follow from the states (supplied by the crossbar); an
        ``(S, N, N)`` array is taken as the weights of a
        :class:`~deephw.multiply.DenseMultiply`.
    leak
        ``(S, N)`` leak coefficient of each neuron.
    state
        ``(S, B, N)`` initial state; the first ``n_clamped`` neurons stay as given. Not
        modified.
    n_clamped
        Number of clamped neurons ``P``.
    n_steps, dt
        Number and size of the Euler steps (dimensionless time).
    beta
        Nudging strength; with ``beta > 0``, ``targets`` (``(S, B, O)``) pull the last
        ``O`` neurons. A negative ``beta`` pushes them away (centred nudging).
    record
        Answer the whole trajectory ``(n_steps + 1, S, B, N)`` (index 0 is the initial
        state) instead of the final state ``(S, B, N)``.
    in_situ
        Accumulate the in-situ coincidences of every step (:mod:`deephw.pulses`) and
        answer their ``(2, S, N, N)`` int64 up and down counts, summed over the steps and
        the batch, instead of the state. Not with ``record``.
    deep_sum
        Answer DEEP's ``(S, N, N)`` sum ``sum_b sum_m s_i(m) (s_j(m) - s_j(m-1))`` over
        the steps (:func:`deephw.model.deep_sum`) instead of the state. Not with
        ``record`` or ``in_situ``.
    """

    multiply: MultiplyModel
    leak: np.ndarray
    state: np.ndarray
    n_clamped: int
    n_steps: int
    dt: float
    beta: float = 0.0
    targets: np.ndarray | None = None
    record: bool = False
    in_situ: InSituRequest | None = None
    deep_sum: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.multiply, MultiplyModel):  # weights given directly
            object.__setattr__(self, "multiply", DenseMultiply(self.multiply))

    @property
    def nudged(self) -> bool:
        """Whether the outputs are nudged toward (or away from) the targets."""
        return self.beta != 0


def request_shape(request: Relax) -> tuple[int, int, int, int]:
    """``(S, B, N, O)`` of a request whose arrays fit together (``O = 0``: not nudged).

    Engines running compiled code without bounds checks call this before it.

    Raises
    ------
    ValueError
        Naming the array or number that does not fit, and its shape or value.
    """
    state, leak = np.shape(request.state), np.shape(request.leak)
    if len(state) != 3:
        raise ValueError(f"state must be (S, B, N), got shape {state}")
    n_copies, batch, n = state
    if tuple(request.multiply.shape) != (n_copies, n, n):
        raise ValueError(f"weights must be {(n_copies, n, n)}, got {request.multiply.shape}")
    if leak != (n_copies, n):
        raise ValueError(f"leak must be {(n_copies, n)}, got {leak}")
    if not 0 <= request.n_clamped <= n:
        raise ValueError(f"n_clamped must be in 0..{n}, got {request.n_clamped}")
    if request.n_steps < 0:
        raise ValueError(f"n_steps must be >= 0, got {request.n_steps}")
    if not request.dt > 0:
        raise ValueError(f"dt must be > 0, got {request.dt}")
    if not request.nudged:
        return n_copies, batch, n, 0
    targets = np.shape(request.targets)
    n_out = targets[-1] if len(targets) == 3 else 0
    if targets[:2] != (n_copies, batch) or not 1 <= n_out <= n - request.n_clamped:
        raise ValueError(
            f"targets must be (S, B, O) = ({n_copies}, {batch}, O) with "
            f"1 <= O <= {n - request.n_clamped}, got {targets}"
        )
    return n_copies, batch, n, n_out


@dataclass(frozen=True, eq=False)
class Epochs:
    """A request for whole epochs of DEEP with full batches on exact digital weights.

    Each epoch ``e``: the weights are read as the enabled cells' conductances (a unit
    weight is 1 µS), each neuron's leak is its row sum plus ``extra_leak``; the free
    phase relaxes ``starts[e]`` for ``free_steps`` steps, the nudged phase goes on
    from there for ``nudged_steps`` steps with ``beta`` and ``targets``, and the change
    ``lrs[e] / (Mb B)`` times DEEP's sum is added exactly: ``G += dW; G *= enabled``.
    The engine stops before an epoch in which a state or an enabled weight is not
    finite, so that the caller can run that epoch step by step and report it.

    Attributes
    ----------
    conductance
        ``(S, N, N)`` conductances (µS) before the first epoch; not modified.
    enabled
        ``(S, N, N)`` bool, the cells that hold devices and take updates.
    starts
        ``(E, S, B, N)`` initial state of each epoch's free phase.
    targets
        ``(S, B, O)`` targets of the last ``O`` neurons.
    lrs
        ``(E,)`` learning rate of each epoch.
    n_clamped, free_steps, nudged_steps, dt, beta, extra_leak
        As in :class:`Relax` and the run's dynamics.
    """

    conductance: np.ndarray
    enabled: np.ndarray
    starts: np.ndarray
    targets: np.ndarray
    lrs: np.ndarray
    n_clamped: int
    free_steps: int
    nudged_steps: int
    dt: float
    beta: float
    extra_leak: float = 0.0


@dataclass(frozen=True, eq=False)
class EpochsAnswer:
    """What an engine returns for :class:`Epochs`: the first ``done`` epochs.

    Attributes
    ----------
    done
        Epochs completed (all, unless one would have diverged).
    s0
        ``(done, S, B, N)`` free-phase equilibrium of each epoch.
    weights
        ``(done, S, N, N)`` weights after each epoch's update (0 where not enabled).
    conductance
        ``(S, N, N)`` conductances after the last completed epoch.
    sets, resets
        ``(done, S)`` cells raised and lowered by each epoch's update.
    set_cells, reset_cells, changed_cells
        ``(S, N, N)`` per cell: updates that raised it, lowered it, changed it.
    """

    done: int
    s0: np.ndarray
    weights: np.ndarray
    conductance: np.ndarray
    sets: np.ndarray
    resets: np.ndarray
    set_cells: np.ndarray
    reset_cells: np.ndarray
    changed_cells: np.ndarray


Program = Generator[Relax | Epochs, Any, T]
"""A controller program: yields :class:`Relax` (and :class:`Epochs`) requests, returns
its result."""


class Engine(ABC):
    """Relaxes batched neuron states under fixed devices."""

    name: str = "abstract"
    capabilities: Capabilities = Capabilities()
    targets: tuple[str, ...] = ()
    """Code-generation targets (``engine.target``), the default first; none: no option."""

    def run(self, program: Program[Any]) -> Any:
        """Drive a controller program to its end and return what it returns.

        Each :class:`Relax` request the program yields is answered with :meth:`relax`,
        each :class:`Epochs` request with :meth:`epochs`, all of it with BLAS on one
        thread (:func:`deephw.blas.single_threaded`). An
        engine whose per-call overhead is large may override this to run the whole
        program inside one simulation, answering requests at phase boundaries.
        """
        with single_threaded():
            try:
                request = next(program)
                while True:
                    answer = (
                        self.epochs(request) if isinstance(request, Epochs) else self.relax(request)
                    )
                    request = program.send(answer)
            except StopIteration as stop:
                return stop.value

    def relax(self, request: Relax | np.ndarray, *arguments: Any, **options: Any) -> np.ndarray:
        """Answer one :class:`Relax` request (see its attributes for the answer).

        For direct use, ``relax(weights, leak, state, n_clamped, n_steps, dt, ...)``
        builds the request (a ``Relax`` given weights multiplies them densely).

        Raises
        ------
        ValueError
            When the request asks for something the engine lacks (with the reason), or
            is malformed.
        """
        if not isinstance(request, Relax):
            request = Relax(request, *arguments, **options)
        elif arguments or options:
            raise TypeError("relax takes a Relax request, or the arrays of one")
        if request.deep_sum:
            self._require("deep_sum")
            if request.record or request.in_situ is not None:
                raise ValueError("deep_sum returns DEEP's sum: neither record nor in_situ")
        if request.in_situ is not None:
            if request.record:
                raise ValueError("in_situ returns coincidence counts, not a trajectory: no record")
            self._require("in_situ")
            if request.in_situ.update_management:
                self._require("managed_in_situ")
        if not isinstance(request.multiply, self.capabilities.multiply):
            known = ", ".join(cls.__name__ for cls in self.capabilities.multiply)
            reason = self.capabilities.lacks(type(request.multiply).capability)
            raise ValueError(
                f"the {self.name} engine computes currents with {known} only, "
                f"not {type(request.multiply).__name__}" + (f": {reason}" if reason else "")
            )
        if request.nudged and request.targets is None:
            raise ValueError("beta != 0 needs targets")
        with single_threaded():
            return self.answer(request)

    def _require(self, capability: str) -> None:
        reason = self.capabilities.lacks(capability)
        if reason is not None:
            raise ValueError(f"the {self.name} engine cannot do {capability}: {reason}")

    def fuses(self, n: int, n_clamped: int) -> bool:
        """Whether :meth:`epochs` runs networks of ``n`` neurons, ``n_clamped`` of them
        clamped (none by default)."""
        return False

    def epochs(self, request: Epochs) -> EpochsAnswer:
        """Answer an :class:`Epochs` request (engines that declare ``epochs``).

        Raises
        ------
        ValueError
            When the engine cannot run whole epochs.
        """
        self._require("epochs")
        raise NotImplementedError  # an engine declaring the capability overrides this

    @abstractmethod
    def answer(self, request: Relax) -> np.ndarray:
        """Run ``request.n_steps`` Euler steps of the clipped dynamics (a request that
        :meth:`relax` checked against the capabilities)."""
