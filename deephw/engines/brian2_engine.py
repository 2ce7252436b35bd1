"""The Brian2 engine: the neuron circuits of the analog core as a continuous-time network.

Every neuron circuit integrates its column current with time constant ``tau``,

.. math::

    \\tau \\frac{dv_j}{dt} = I_j - \\ell_j v_j + \\beta_j (y_j - v_j)
        \\; [+ \\sigma_j \\sqrt{\\tau} \\, \\xi_j(t)],
    \\qquad I_j = \\sum_i W_{ij} v_i,

with activity ``v`` (dimensionless), leak conductance ``ell_j`` (DEEP: the outgoing weight
sum, measured by the periphery and passed in), nudge ``beta_j`` (``beta`` on the outputs,
0 elsewhere) toward the target ``y_j``, and optional white circuit noise of strength
``sigma``. Euler integration with the Brian2 clock step ``dt * tau`` is exactly one Euler
step of size ``dt`` of the dimensionless dynamics of :mod:`deephw.engines.base`; the hard
rails ``[0, 1]`` are applied after the state update in the same step. With the noise on,
one step adds ``sigma * sqrt(dt) * N(0, 1)`` to each free neuron.

All ``S x B`` network copies (seeds x samples) live in one ``NeuronGroup`` of ``S*B*N``
neurons, copy-major (neuron ``i`` of copy ``c`` is ``c*N + i``), with block-diagonal
``Synapses``: each copy's neuron ``i`` drives each non-clamped neuron ``j`` of the same
copy through a synapse whose weight is ``W[s, i, j]``; the column current is a summed
variable. Clamped neurons receive no synapses, have no leak, no nudge and no rails, so they
keep their values exactly.

One explicit ``brian2.Network`` is built per circuit shape ``(S, B, N, P)`` and reused by
every :meth:`Brian2Engine.relax` call, which only writes weights, leaks, states, nudges and
targets into existing variables. Objects have fixed names and the generated code does not
depend on sizes, so the compiled (cython) code is reused across runs and processes.

Brian2 is imported only when an engine is created: importing :mod:`deephw` never needs it.
In this module "device" means Brian2's runtime device, never a memory device.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deephw.engines.base import Engine, register_engine

CODE_TARGETS = ("numpy", "cython")
"""Brian2 code-generation targets the engine supports."""

LOOPS = ("network", "direct")
"""How a relax call advances the network: see :class:`Brian2Engine`."""

CACHE_ENV = "DEEPHW_BRIAN2_CACHE"
"""Environment variable naming the folder of compiled Brian2 code."""

DEFAULT_CACHE = ".brian2_cache"
"""Default folder of compiled Brian2 code, relative to the working directory."""

_NAME = "deephw_circuit"

_NEURON_PARAMETERS = """
i_in : 1
leak : 1
nudge : 1
target : 1
sigma : 1
v_min : 1
v_max : 1
"""


def _equations(noise: bool) -> str:
    """The neuron-circuit equation in Brian2 syntax (time constant ``tau``)."""
    drift = "(i_in - leak*v + nudge*(target - v)) / tau"
    if noise:
        drift += " + sigma*xi*tau**-0.5"
    return f"dv/dt = {drift} : 1\n{_NEURON_PARAMETERS}"


def default_cache_dir() -> Path:
    """Folder for compiled Brian2 code: ``$DEEPHW_BRIAN2_CACHE`` or ``./.brian2_cache``."""
    return Path(os.environ.get(CACHE_ENV, DEFAULT_CACHE)).resolve()


@dataclass
class _Circuit:
    """One built Brian2 network of a fixed shape, and direct views of its arrays."""

    shape: tuple[int, int, int, int]
    network: Any
    clock: Any
    neurons: Any
    synapses: Any
    monitor: Any
    pre: np.ndarray
    post: np.ndarray
    dt: float
    runs: int = 0
    schedules: dict[bool, list] = field(default_factory=dict)

    def array(self, owner: Any, name: str) -> np.ndarray:
        """The live NumPy array behind a Brian2 variable (writes go straight in)."""
        return owner.variables[name].get_value()


@register_engine("brian2")
class Brian2Engine(Engine):
    """Relaxes states with Brian2: the analog core as continuous-time neuron circuits.

    Parameters
    ----------
    target
        Brian2 code-generation target, ``"numpy"`` or ``"cython"`` (compiled C; the first
        build of a circuit compiles, later processes reuse the cache).
    tau_ns
        Time constant of the neuron circuits in ns; one Euler step of dimensionless size
        ``dt`` lasts ``dt * tau_ns`` ns of chip time.
    noise_sigma
        Strength of white noise in the neuron circuits (dimensionless, per unit of
        dimensionless time): each step adds ``noise_sigma * sqrt(dt) * N(0, 1)`` to every
        free neuron. 0 (default) gives the deterministic circuit.
    seed
        Seed of the circuit noise. Each relax call reseeds Brian2's generator with a
        number drawn from ``numpy.random.default_rng(seed)``, so an engine reproduces its
        noise bit for bit from its seed, whatever else runs in between. Brian2 draws from
        NumPy's legacy global generator, which this reseeding therefore also resets.
    cache_dir
        Folder for the compiled code; by default ``$DEEPHW_BRIAN2_CACHE`` or
        ``.brian2_cache`` in the working directory.
    loop
        ``"network"`` (default): every relax call is one ``Network.run``, which prepares
        every object (code generation, namespace checks) before stepping. ``"direct"``:
        the first call of a circuit is a ``Network.run``; later calls execute the code
        objects that run prepared, in the network's schedule, one time step after the
        other, exactly as ``Network.run``'s loop does, without the preparation.
    freeze_gc
        Move the objects alive before each run into the garbage collector's permanent
        generation for the duration of the run (and back after), so the
        ``gc.collect()`` that ``Network.run`` starts with has little to scan.

    Attributes
    ----------
    builds
        Number of Brian2 networks built so far (one per circuit shape).
    """

    def __init__(
        self,
        target: str = "numpy",
        tau_ns: float = 100.0,
        noise_sigma: float = 0.0,
        seed: int | None = None,
        cache_dir: str | os.PathLike | None = None,
        loop: str = "network",
        freeze_gc: bool = True,
    ) -> None:
        if target not in CODE_TARGETS:
            raise ValueError(f"unknown Brian2 target {target!r} (known: {', '.join(CODE_TARGETS)})")
        if loop not in LOOPS:
            raise ValueError(f"unknown loop {loop!r} (known: {', '.join(LOOPS)})")
        if not tau_ns > 0:
            raise ValueError(f"tau_ns must be > 0, got {tau_ns}")
        if not noise_sigma >= 0:
            raise ValueError(f"noise_sigma must be >= 0, got {noise_sigma}")
        self.target = target
        self.tau_ns = float(tau_ns)
        self.noise_sigma = float(noise_sigma)
        self.seed = seed
        self.loop = loop
        self.freeze_gc = freeze_gc
        self.cache_dir = Path(cache_dir).resolve() if cache_dir else default_cache_dir()
        self.builds = 0
        self._rng = np.random.default_rng(seed)
        self._circuits: dict[tuple[int, int, int, int], _Circuit] = {}
        self._b2 = _import_brian2(self.cache_dir if target == "cython" else None)

    # ------------------------------------------------------------------ public API

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
    ) -> np.ndarray:
        """Run ``n_steps`` Euler steps of the circuit; see :meth:`Engine.relax`."""
        state = np.asarray(state, dtype=float)
        weights = np.asarray(weights, dtype=float)
        leak = np.asarray(leak, dtype=float)
        if state.ndim != 3:
            raise ValueError(f"state must be (S, B, N), got shape {state.shape}")
        n_copies, batch, n = state.shape
        if weights.shape != (n_copies, n, n):
            raise ValueError(f"weights must be {(n_copies, n, n)}, got {weights.shape}")
        if leak.shape != (n_copies, n):
            raise ValueError(f"leak must be {(n_copies, n)}, got {leak.shape}")
        if not 0 <= n_clamped <= n:
            raise ValueError(f"n_clamped must be in 0..{n}, got {n_clamped}")
        if n_steps < 0:
            raise ValueError(f"n_steps must be >= 0, got {n_steps}")
        if beta > 0:
            if targets is None:
                raise ValueError("beta > 0 needs targets")
            targets = np.asarray(targets, dtype=float)
            n_out = targets.shape[-1] if targets.ndim == 3 else -1
            if targets.shape[:2] != (n_copies, batch) or not 1 <= n_out <= n - n_clamped:
                raise ValueError(
                    f"targets must be (S, B, O) = ({n_copies}, {batch}, O) with "
                    f"1 <= O <= {n - n_clamped}, got {targets.shape}"
                )
        if n_steps == 0:
            return state[None].copy() if record else state.copy()

        circuit = self.circuit((n_copies, batch, n, n_clamped))
        self._set_dt(circuit, dt)
        self._load(circuit, weights, leak, state, n_clamped, beta, targets)
        circuit.monitor.active = record
        if record:
            circuit.monitor.resize(0)
        if self.noise_sigma:
            self._b2.seed(int(self._rng.integers(2**31 - 1)))
        self._advance(circuit, n_steps, record)

        final = circuit.array(circuit.neurons, "v").reshape(state.shape).copy()
        if not record:
            return final
        recorded = circuit.array(circuit.monitor, "v")
        if recorded.shape[0] != n_steps:
            raise RuntimeError(f"Brian2 recorded {recorded.shape[0]} steps, expected {n_steps}")
        trajectory = np.empty((n_steps + 1, *state.shape))
        trajectory[0] = state
        trajectory[1:] = recorded.reshape(n_steps, *state.shape)
        return trajectory

    def circuit(self, shape: tuple[int, int, int, int]) -> _Circuit:
        """The circuit for ``(S, B, N, n_clamped)``, built on first use and kept."""
        circuit = self._circuits.get(shape)
        if circuit is None:
            circuit = self._build(shape)
            self._circuits[shape] = circuit
            self.builds += 1
        return circuit

    def networks(self) -> list[Any]:
        """The Brian2 networks built so far (one per circuit shape)."""
        return [c.network for c in self._circuits.values()]

    def chip_time_ns(self, n_steps: int, dt: float) -> float:
        """Chip time of ``n_steps`` Euler steps of dimensionless size ``dt``, in ns."""
        return n_steps * dt * self.tau_ns

    # ------------------------------------------------------------------ building

    def _build(self, shape: tuple[int, int, int, int]) -> _Circuit:
        b2 = self._b2
        n_copies, batch, n, n_clamped = shape
        copies = n_copies * batch
        codeobj = b2.codeobj_class[self.target]
        tau = self.tau_ns * b2.nsecond
        dt = 0.5
        clock = b2.Clock(dt=dt * tau, name=f"{_NAME}_clock")
        noise = self.noise_sigma > 0
        neurons = b2.NeuronGroup(
            copies * n,
            _equations(noise),
            method="euler",
            clock=clock,
            namespace={"tau": tau},
            codeobj_class=codeobj,
            name=f"{_NAME}_neurons",
        )
        neurons.run_regularly(
            "v = clip(v, v_min, v_max)",
            when="after_groups",
            codeobj_class=codeobj,
            name=f"{_NAME}_rails",
        )
        # Synapse k of copy c: pre neuron i -> post neuron j (j not clamped), i-major.
        pre_local, post_local = np.meshgrid(np.arange(n), np.arange(n_clamped, n), indexing="ij")
        pre_local, post_local = pre_local.ravel(), post_local.ravel()
        offsets = (np.arange(copies) * n)[:, None]
        synapses = b2.Synapses(
            neurons,
            neurons,
            "w : 1\ni_in_post = w*v_pre : 1 (summed)",
            clock=clock,
            codeobj_class=codeobj,
            name=f"{_NAME}_synapses",
        )
        synapses.connect(i=(offsets + pre_local).ravel(), j=(offsets + post_local).ravel())
        if not (
            np.array_equal(synapses.i[:], (offsets + pre_local).ravel())
            and np.array_equal(synapses.j[:], (offsets + post_local).ravel())
        ):
            raise RuntimeError("Brian2 reordered the synapses; cannot map weights")
        monitor = b2.StateMonitor(
            neurons,
            "v",
            record=True,
            when="end",
            clock=clock,
            codeobj_class=codeobj,
            name=f"{_NAME}_trajectory",
        )
        network = b2.Network(neurons, synapses, monitor, name=_NAME)
        circuit = _Circuit(
            shape, network, clock, neurons, synapses, monitor, pre_local, post_local, dt
        )
        # Clamped neurons: no leak, no nudge, no noise, no rails -> exactly constant.
        rails_low = np.zeros((copies, n))
        rails_high = np.ones((copies, n))
        rails_low[:, :n_clamped] = -np.inf
        rails_high[:, :n_clamped] = np.inf
        circuit.array(neurons, "v_min")[:] = rails_low.ravel()
        circuit.array(neurons, "v_max")[:] = rails_high.ravel()
        sigma = np.full((copies, n), self.noise_sigma)
        sigma[:, :n_clamped] = 0.0
        circuit.array(neurons, "sigma")[:] = sigma.ravel()
        network.store(f"{_NAME}_built")
        return circuit

    # ------------------------------------------------------------------ running

    def _load(
        self,
        circuit: _Circuit,
        weights: np.ndarray,
        leak: np.ndarray,
        state: np.ndarray,
        n_clamped: int,
        beta: float,
        targets: np.ndarray | None,
    ) -> None:
        """Write this call's weights, leaks, states, nudges and targets into the circuit."""
        n_copies, batch, n = state.shape
        weight = weights[:, circuit.pre, circuit.post]  # (S, n_synapses_per_copy)
        circuit.array(circuit.synapses, "w")[:] = np.broadcast_to(
            weight[:, None, :], (n_copies, batch, weight.shape[1])
        ).ravel()
        neuron_leak = np.broadcast_to(leak[:, None, :], state.shape).copy()
        neuron_leak[..., :n_clamped] = 0.0
        circuit.array(circuit.neurons, "leak")[:] = neuron_leak.ravel()
        circuit.array(circuit.neurons, "v")[:] = state.ravel()
        nudge = np.zeros(state.shape)
        target = np.zeros(state.shape)
        if beta > 0:
            n_out = targets.shape[-1]
            nudge[..., n - n_out :] = beta
            target[..., n - n_out :] = targets
        circuit.array(circuit.neurons, "nudge")[:] = nudge.ravel()
        circuit.array(circuit.neurons, "target")[:] = target.ravel()

    def _set_dt(self, circuit: _Circuit, dt: float) -> None:
        """Set the clock step to ``dt * tau`` (back to time 0 if the step changes)."""
        if dt == circuit.dt:
            return
        if not dt > 0:
            raise ValueError(f"dt must be > 0, got {dt}")
        # A new step size need not divide the elapsed time: restart the clock at t = 0.
        network = circuit.network
        network.restore(f"{_NAME}_built")
        circuit.clock.dt = dt * self.tau_ns * self._b2.nsecond
        circuit.dt = dt
        circuit.schedules.clear()

    def _advance(self, circuit: _Circuit, n_steps: int, record: bool) -> None:
        """Advance the circuit ``n_steps`` clock steps."""
        frozen = self.freeze_gc and gc.get_freeze_count() == 0
        if frozen:
            gc.freeze()
        try:
            schedule = circuit.schedules.get(record)
            if self.loop == "direct" and schedule is not None:
                _step(circuit, schedule, n_steps)
            else:
                network = circuit.network
                network.run(n_steps * circuit.clock.dt, namespace={})
                circuit.schedules[record] = [o for o in network.sorted_objects if o.active]
            circuit.runs += 1
        finally:
            if frozen:
                gc.unfreeze()


def _step(circuit: _Circuit, schedule: list, n_steps: int) -> None:
    """Execute prepared code objects for ``n_steps`` steps, as ``Network.run``'s loop does."""
    clock_vars = circuit.clock.variables
    timestep = clock_vars["timestep"].get_value()
    t = clock_vars["t"].get_value()
    dt = clock_vars["dt"].get_value()
    runners = [obj.run for obj in schedule]
    for _ in range(n_steps):
        for run in runners:
            run()
        timestep[0] += 1
        t[0] = timestep[0] * dt[0]
    network = circuit.network
    network.t_ = float(t[0])
    for obj in schedule:
        obj.after_run()


class _Brian2:
    """The parts of Brian2 the engine uses, imported once and configured."""

    def __init__(self, cache_dir: Path | None) -> None:
        import brian2
        from brian2.codegen.runtime.numpy_rt import NumpyCodeObject

        codeobj_class: dict[str, type] = {"numpy": NumpyCodeObject}
        if cache_dir is not None:
            from brian2.codegen.runtime.cython_rt import CythonCodeObject

            cache_dir.mkdir(parents=True, exist_ok=True)
            brian2.prefs.codegen.runtime.cython.cache_dir = str(cache_dir)
            codeobj_class["cython"] = CythonCodeObject
        self.codeobj_class = codeobj_class
        self.Clock = brian2.Clock
        self.NeuronGroup = brian2.NeuronGroup
        self.Synapses = brian2.Synapses
        self.StateMonitor = brian2.StateMonitor
        self.Network = brian2.Network
        self.nsecond = brian2.nsecond
        self.seed: Callable[[int], None] = brian2.seed


def _import_brian2(cache_dir: Path | None) -> _Brian2:
    """Import and configure Brian2; the compiled-code cache goes to ``cache_dir``."""
    return _Brian2(cache_dir)
