r"""The Brian2 engine: the neuron circuits of the analog core as a continuous-time network.

Every neuron circuit integrates its column current with time constant ``tau``,

.. math::

    \tau \frac{dv_j}{dt} = I_j - \ell_j v_j + \beta_j (y_j - v_j)
        \; [+ \sigma \sqrt{\tau} \, \xi_j(t)],
    \qquad I_j = \sum_i W_{ij} v_i,

with activity ``v`` (dimensionless), leak ``ell_j`` (DEEP: the outgoing weight sum the
periphery measured, passed in), nudge ``beta_j`` (``beta`` on the outputs, 0 elsewhere)
toward the target ``y_j``, and optional white circuit noise of strength ``sigma``. Euler
integration with the Brian2 clock step ``dt * tau`` is one Euler step of size ``dt`` of
the dimensionless dynamics of :mod:`deephw.engines.base`; the hard rails ``[0, 1]`` are
applied after the state update in the same step. With the noise on, each step adds
``sigma * sqrt(dt) * N(0, 1)`` to every free neuron (Euler-Maruyama).

All ``S x B`` network copies (seeds x samples) live in one ``NeuronGroup`` of ``S*B*N``
neurons, copy-major (neuron ``i`` of copy ``c`` is ``c*N + i``), with block-diagonal
``Synapses``: neuron ``i`` of a copy drives every non-clamped neuron ``j`` of the same copy
through a synapse of weight ``W[s, i, j]``; the column current is a summed variable.
Clamped neurons receive no synapses and have no leak, nudge, noise or rails, so they keep
their values exactly.

One explicit ``brian2.Network`` is built per circuit shape ``(S, B, N, P)`` and reused by
every :meth:`Brian2Engine.relax` call, which only writes weights, leaks, states, nudges and
targets into existing variables. Objects have fixed names and the generated code does not
depend on sizes, so compiled (cython) code is reused across circuits and processes.

Brian2 is imported when an engine is created, never when this module is: importing
:mod:`deephw` does not need it. In this module "device" means Brian2's runtime device,
never a memory device.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import numpy as np

from deephw.engines.base import Capabilities, Engine, Relax, register_engine
from deephw.engines.brian2_circuit import (  # noqa: F401  (names of this engine's API)
    CACHE_ENV,
    CODE_TARGETS,
    DEFAULT_CACHE,
    LOOPS,
    OBJECT_PREFIX,
    STORED,
    Circuit,
    array,
    check_compiler,
    circuit_equations,
    coincidence_code,
    default_cache_dir,
    fire_code,
    import_brian2,
    step,
)
from deephw.multiply import DenseMultiply, IRDropMultiply


@register_engine("brian2")
class Brian2Engine(Engine):
    """Relaxes states with Brian2: the analog core as continuous-time neuron circuits.

    Parameters
    ----------
    target
        Brian2 code-generation target: ``"numpy"`` or ``"cython"`` (compiled C; the first
        circuit compiles once, later circuits and processes reuse the cache).
    tau_ns
        Time constant of the neuron circuits in ns; one Euler step of dimensionless size
        ``dt`` lasts ``dt * tau_ns`` ns of chip time.
    noise_sigma
        Strength of white noise in the neuron circuits (dimensionless, per square root of
        dimensionless time): each step adds ``noise_sigma * sqrt(dt) * N(0, 1)`` to every
        free neuron. 0 (the default) gives the deterministic circuit.
    seed
        Seed of the circuit noise. Each relax call reseeds Brian2's generator with a number
        drawn from ``numpy.random.default_rng(seed)``, so an engine reproduces its noise bit
        for bit from its seed whatever runs in between. Brian2 draws from NumPy's legacy
        global generator, which this reseeding therefore also sets.
    cache_dir
        Folder for compiled code (cython target); by default ``$DEEPHW_BRIAN2_CACHE`` or
        ``.brian2_cache`` in the working directory. It is a Brian2-wide setting: the last
        cython engine created chooses it.
    loop
        ``"direct"`` (default): the first relax call of a circuit in each mode (free,
        recorded) is a ``Network.run``, which generates and compiles the code objects;
        later calls execute those code objects in the network's schedule, one time step
        after the other, as ``Network.run``'s own loop does, without repeating the
        per-run preparation (code generation, namespace resolution, ``gc.collect()``).
        ``"network"``: every relax call is one ``Network.run`` (about 8 ms each).
    freeze_gc
        During a ``Network.run``, move the objects alive before it into the garbage
        collector's permanent generation (and back after), so the ``gc.collect()`` the
        run starts with has little to scan. Skipped when objects are already frozen.

    Attributes
    ----------
    capabilities : Capabilities
        In-situ accumulation (without update management), circuit noise, the dense and
        the IR-drop multiply (its effective weights are the synapses' weights).
    builds : int
        Number of Brian2 networks built so far (one per circuit shape).
    """

    capabilities = Capabilities(
        in_situ=True,
        circuit_noise=True,
        multiply=(DenseMultiply, IRDropMultiply),
        reasons=(
            (
                "managed_in_situ",
                "accumulates in-situ coincidences without update management only "
                "(it would need per-chip maxima at every step)",
            ),
        ),
    )
    targets = ("cython", "numpy")

    def __init__(
        self,
        target: str = "numpy",
        tau_ns: float = 100.0,
        noise_sigma: float = 0.0,
        seed: int | None = None,
        cache_dir: str | os.PathLike | None = None,
        loop: str = "direct",
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
        self._circuits: dict[tuple[int, int, int, int, int], Circuit] = {}
        if target == "cython":
            check_compiler()
        self._b2, self._codeobj_class = import_brian2(target, self.cache_dir)

    def answer(self, request: Relax) -> np.ndarray:
        """Run ``n_steps`` Euler steps of the neuron circuits; see :class:`Relax`.

        With ``in_situ``, the coincidences are drawn and summed by Brian2 code during the
        run: at the end of every step a neuron ``run_regularly`` sets the slots' row and
        column fires with ``rand()``, and a synapse ``run_regularly`` adds their
        coincidences to the synaptic counters ``up`` and ``down``. ``rand()`` is seeded
        with ``in_situ.seed``. Update management (per-chip maxima at every step) is not
        available here: ``in_situ.update_management`` must be false.
        """
        # a linear model (dense, IR drop) is synapses of its column weights
        weights, leak, state = request.multiply.column_weights, request.leak, request.state
        n_clamped, n_steps, dt = request.n_clamped, request.n_steps, request.dt
        beta, targets = request.beta, request.targets
        record, in_situ = request.record, request.in_situ
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
        if not dt > 0:
            raise ValueError(f"dt must be > 0, got {dt}")
        if request.nudged:
            targets = np.asarray(targets, dtype=float)
            n_out = targets.shape[-1] if targets.ndim == 3 else 0
            if targets.shape[:2] != (n_copies, batch) or not 1 <= n_out <= n - n_clamped:
                raise ValueError(
                    f"targets must be (S, B, O) = ({n_copies}, {batch}, O) with "
                    f"1 <= O <= {n - n_clamped}, got {targets.shape}"
                )
        bit_length = 0
        if in_situ is not None:
            bit_length = int(in_situ.bit_length)
            gain = in_situ.gains(n_copies)
        if n_steps == 0:
            if in_situ is not None:
                return np.zeros((2, n_copies, n, n), dtype=np.int64)
            return state[None].copy() if record else state.copy()

        circuit = self.circuit((n_copies, batch, n, n_clamped, bit_length))
        self._set_dt(circuit, float(dt))
        self._load(circuit, weights, leak, state, beta, targets)
        circuit.monitor.active = record
        if record:
            circuit.monitor.resize(0)
        noise_seed = int(self._rng.integers(2**31 - 1)) if self.noise_sigma else None
        if in_situ is not None:
            array(circuit.neurons, "v_prev")[:] = state.ravel()
            c_in = np.broadcast_to(np.sqrt(gain)[:, None, None], state.shape)
            array(circuit.neurons, "c_in")[:] = c_in.ravel()
            array(circuit.synapses, "up")[:] = 0.0
            array(circuit.synapses, "down")[:] = 0.0
            words = [0 if in_situ.seed is None else int(in_situ.seed)]
            if noise_seed is not None:
                words.append(noise_seed)
            self._b2.seed(int(np.random.SeedSequence(words).generate_state(1)[0] >> 1))
        elif noise_seed is not None:
            self._b2.seed(noise_seed)
        self._advance(circuit, n_steps, record)

        if in_situ is not None:
            return self._counts(circuit)
        final = array(circuit.neurons, "v").reshape(state.shape).copy()
        if not record:
            return final
        recorded = array(circuit.monitor, "v")
        if recorded.shape[0] != n_steps:
            raise RuntimeError(f"Brian2 recorded {recorded.shape[0]} steps, expected {n_steps}")
        trajectory = np.empty((n_steps + 1, *state.shape))
        trajectory[0] = state
        trajectory[1:] = recorded.reshape(n_steps, *state.shape)
        circuit.monitor.resize(0)
        return trajectory

    def circuit(self, shape: tuple[int, ...]) -> Circuit:
        """The circuit of shape ``(S, B, N, n_clamped[, bit_length])``, built on first use
        and kept.

        Parameters
        ----------
        shape
            ``(S, B, N, n_clamped)``, optionally with the in-situ ``bit_length`` (default
            0: no in-situ objects).

        Returns
        -------
        Circuit
            The circuit whose Brian2 network every relax call of that shape reuses.
        """
        shape = (*shape, 0) if len(shape) == 4 else tuple(shape)
        circuit = self._circuits.get(shape)
        if circuit is None:
            circuit = self._build(shape)
            self._circuits[shape] = circuit
            self.builds += 1
        return circuit

    def networks(self) -> list[Any]:
        """The Brian2 networks built so far, one per circuit shape."""
        return [circuit.network for circuit in self._circuits.values()]

    def _counts(self, circuit: Circuit) -> np.ndarray:
        """``(2, S, N, N)`` int64 up/down coincidences of the last call, summed over the batch."""
        n_copies, batch, n, _, _ = circuit.shape
        counts = np.zeros((2, n_copies, n, n), dtype=np.int64)
        for row, name in enumerate(("up", "down")):
            values = np.rint(array(circuit.synapses, name)).astype(np.int64)
            counts[row][:, circuit.pre, circuit.post] = values.reshape(n_copies, batch, -1).sum(1)
        return counts

    def _build(self, shape: tuple[int, int, int, int, int]) -> Circuit:
        """Build the Brian2 network of one circuit shape."""
        b2, codeobj_class = self._b2, self._codeobj_class
        n_copies, batch, n, n_clamped, bit_length = shape
        copies = n_copies * batch
        tau = self.tau_ns * b2.nsecond
        dt = 0.5
        clock = b2.Clock(dt=dt * tau, name=f"{OBJECT_PREFIX}_clock")
        neurons = b2.NeuronGroup(
            copies * n,
            circuit_equations(noise=self.noise_sigma > 0, bit_length=bit_length),
            method="euler",
            clock=clock,
            namespace={"tau": tau},
            codeobj_class=codeobj_class,
            name=f"{OBJECT_PREFIX}_neurons",
        )
        neurons.run_regularly(
            "v = clip(v, v_min, v_max)",
            when="after_groups",
            codeobj_class=codeobj_class,
            name=f"{OBJECT_PREFIX}_rails",
        )
        # The synapses of one copy, i-major: pre i -> post j for every non-clamped j.
        pre, post = np.meshgrid(np.arange(n), np.arange(n_clamped, n), indexing="ij")
        pre, post = pre.ravel(), post.ravel()
        offsets = (np.arange(copies) * n)[:, None]
        pre_all, post_all = (offsets + pre).ravel(), (offsets + post).ravel()
        synapse_model = "w : 1\ni_in_post = w*v_pre : 1 (summed)"
        if bit_length:
            synapse_model += "\nup : 1\ndown : 1"
        synapses = b2.Synapses(
            neurons,
            neurons,
            synapse_model,
            clock=clock,
            codeobj_class=codeobj_class,
            name=f"{OBJECT_PREFIX}_synapses",
        )
        synapses.connect(i=pre_all, j=post_all)
        if not (
            np.array_equal(array(synapses, "_synaptic_pre"), pre_all)
            and np.array_equal(array(synapses, "_synaptic_post"), post_all)
        ):
            raise RuntimeError("Brian2 reordered the synapses; the weights cannot be mapped")
        if bit_length:
            # After the rails, before the monitor: fires of this step, then coincidences.
            neurons.run_regularly(
                fire_code(bit_length),
                when="end",
                order=-2,
                codeobj_class=codeobj_class,
                name=f"{OBJECT_PREFIX}_fires",
            )
            synapses.run_regularly(
                coincidence_code(bit_length),
                when="end",
                order=-1,
                codeobj_class=codeobj_class,
                name=f"{OBJECT_PREFIX}_coincidences",
            )
        monitor = b2.StateMonitor(
            neurons,
            "v",
            record=True,
            when="end",
            clock=clock,
            codeobj_class=codeobj_class,
            name=f"{OBJECT_PREFIX}_trajectory",
        )
        network = b2.Network(neurons, synapses, monitor, name=OBJECT_PREFIX)
        # Clamped neurons: no leak, nudge, noise or rails (set per call), so they stay put.
        free = np.ones((copies, n), dtype=bool)
        free[:, :n_clamped] = False
        array(neurons, "v_min")[:] = np.where(free, 0.0, -np.inf).ravel()
        array(neurons, "v_max")[:] = np.where(free, 1.0, np.inf).ravel()
        array(neurons, "sigma")[:] = np.where(free, self.noise_sigma, 0.0).ravel()
        network.store(STORED)
        return Circuit(shape, network, clock, neurons, synapses, monitor, pre, post, dt)

    def _set_dt(self, circuit: Circuit, dt: float) -> None:
        """Set the clock step to ``dt * tau``; a new step restarts the clock at t = 0."""
        if dt == circuit.dt:
            return
        # The elapsed time need not be a multiple of the new step: go back to t = 0.
        circuit.network.restore(STORED)
        circuit.clock.dt = dt * self.tau_ns * self._b2.nsecond
        circuit.dt = dt
        circuit.schedules.clear()

    def _load(
        self,
        circuit: Circuit,
        weights: np.ndarray,
        leak: np.ndarray,
        state: np.ndarray,
        beta: float,
        targets: np.ndarray | None,
    ) -> None:
        """Write one call's weights, leaks, states, nudges and targets into the circuit."""
        n_copies, batch, n, n_clamped, _ = circuit.shape
        weight = weights[:, circuit.pre, circuit.post]
        array(circuit.synapses, "w")[:] = np.broadcast_to(
            weight[:, None, :], (n_copies, batch, weight.shape[1])
        ).ravel()
        neuron_leak = np.broadcast_to(leak[:, None, :], state.shape).copy()
        neuron_leak[..., :n_clamped] = 0.0
        array(circuit.neurons, "leak")[:] = neuron_leak.ravel()
        array(circuit.neurons, "v")[:] = state.ravel()
        nudge = np.zeros(state.shape)
        target = np.zeros(state.shape)
        if beta != 0:
            n_out = targets.shape[-1]
            nudge[..., n - n_out :] = beta
            target[..., n - n_out :] = targets
        array(circuit.neurons, "nudge")[:] = nudge.ravel()
        array(circuit.neurons, "target")[:] = target.ravel()

    def _advance(self, circuit: Circuit, n_steps: int, record: bool) -> None:
        """Advance ``circuit`` by ``n_steps`` clock steps."""
        schedule = circuit.schedules.get(record)
        if self.loop == "direct" and schedule is not None:
            step(circuit, schedule, n_steps)
        else:
            frozen = self.freeze_gc and gc.get_freeze_count() == 0
            if frozen:
                gc.freeze()
            try:
                circuit.network.run(n_steps * circuit.clock.dt, namespace={})
            finally:
                if frozen:
                    gc.unfreeze()
            circuit.schedules[record] = [o for o in circuit.network.sorted_objects if o.active]
        circuit.runs += 1
