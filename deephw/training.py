"""Training a learning rule (DEEP, asymmetric or symmetric EP) on many seeds at once.

Each seed owns one ``numpy.random.Generator`` (``default_rng(seed)``) that draws, in a
fixed order, its initial weights, every epoch's initial states, its mini-batch order and
its pruning draws; a seed therefore trains identically whether it runs alone or batched
with others, and a run is reproducible bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from deephw import fused, tasks, topology
from deephw.analysis import rail_fraction, score
from deephw.assembly import (  # noqa: F401  (load_task, build_topology: kept here too)
    Run,
    assemble,
    build_topology,
    load_data,
    load_task,
    make_engine,
)
from deephw.config import LearningConfig, RunConfig
from deephw.controller import Controller
from deephw.engines import Engine
from deephw.engines.base import Program, Relax
from deephw.epoch_log import EpochLog
from deephw.errors import DivergenceError
from deephw.multiply import DenseMultiply, MultiplyModel
from deephw.rules import Step, Update, make_rule
from deephw.schedule import learning_rate
from deephw.streams import EVAL_STREAM

HISTORY_FIELDS = ("mse", "accuracy", "connections", "min_out_sum", "prop2", "rail_fraction")
TEST_FIELDS = ("test_mse", "test_accuracy")
"""History of runs with test data: free-phase MSE and accuracy on ``task.test`` after
the epochs of ``training.eval_every`` (NaN in the others)."""


@dataclass
class TrainResult:
    """Everything a training run produced, for all its seeds.

    ``history[name]`` is ``(epochs, S)``; the metrics of epoch ``e`` are read at the
    free-phase equilibrium before that epoch's update. ``final_*`` come from a fresh
    evaluation of the final weights, ``test_*`` from one on the test data (``None``
    without it). ``events[GROUP.EVENT]`` and ``events["energy_pJ"]``
    are cumulative ``(epochs, S)`` counts at the end of each epoch, ``chip_time_s`` the
    chip clock then; ``controller`` holds the chip (its crossbar state).
    """

    config: RunConfig
    topology: topology.Topology
    task: tasks.Task
    seeds: np.ndarray
    initial_weights: np.ndarray
    weights: np.ndarray
    mask: np.ndarray
    history: dict[str, np.ndarray] = field(default_factory=dict)
    final_mse: np.ndarray | None = None
    final_accuracy: np.ndarray | None = None
    final_outputs: np.ndarray | None = None
    controller: Controller | None = None
    events: dict[str, np.ndarray] = field(default_factory=dict)
    chip_time_s: np.ndarray | None = None
    test: tasks.Task | None = None
    test_mse: np.ndarray | None = None
    test_accuracy: np.ndarray | None = None
    test_outputs: np.ndarray | None = None

    @property
    def converged(self) -> np.ndarray:
        """Per seed: final free-phase MSE below ``training.converged_mse``."""
        return self.final_mse < self.config.training.converged_mse

    @property
    def correct(self) -> np.ndarray:
        """Per seed: every pattern classified right."""
        return self.final_accuracy >= 1.0

    @property
    def sparsity(self) -> np.ndarray:
        """Per seed: fraction of the structural mask's connections pruned away.

        With ``pruning.regrow`` the mask keeps every connection: the fraction of them
        that hold zero weight after the last epoch (``history["connections"]``).
        """
        if self.config.pruning.regrow:
            return 1.0 - self.history["connections"][-1] / self.topology.n_trainable
        return 1.0 - self.mask.sum(axis=(1, 2)) / self.topology.n_trainable

    @property
    def seed_metrics(self) -> dict[str, np.ndarray]:
        """Per-seed scalars for study tables beyond the scores: with resistive wires,
        ``leak_imbalance`` (:meth:`deephw.crossbar.Crossbar.leak_imbalance`)."""
        if self.controller is None:
            return {}
        imbalance = self.controller.crossbar.leak_imbalance(self.topology.n_clamped)
        return {} if imbalance is None else {"leak_imbalance": imbalance}

    @property
    def epochs_to_converge(self) -> np.ndarray:
        """Per seed: updates done before the MSE first fell below the threshold, or -1."""
        below = self.history["mse"] < self.config.training.converged_mse
        first = np.argmax(below, axis=0)
        return np.where(below.any(axis=0), first, -1)


def pulse_total(events: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """Programming pulses per seed: the sum of the devices' ``GROUP.set`` and
    ``GROUP.reset`` counts in ``events`` (final per-seed values; the ``cell`` group
    counts transfers and refreshes, not pulses), or ``None`` if there are none."""
    pulses = [
        values
        for name, values in events.items()
        if name.endswith((".set", ".reset")) and not name.startswith("cell.")
    ]
    return np.sum(pulses, axis=0) if pulses else None


def seed_list(config: RunConfig) -> np.ndarray:
    """The seeds a config trains: ``seed, seed + 1, ..., seed + seeds - 1``."""
    return config.training.seed + np.arange(config.training.seeds)


def initial_weights(
    config: RunConfig, mask: np.ndarray, rngs: list[np.random.Generator]
) -> np.ndarray:
    """``(S, N, N)`` initial weights, drawn per seed and masked."""
    init = config.init
    shape = mask.shape
    if init.weights == "uniform":
        draws = [rng.uniform(init.low, init.high, shape) for rng in rngs]
    else:
        draws = [rng.normal(0.0, init.std, shape) for rng in rngs]
    return np.stack(draws) * mask


def initial_state(
    config: RunConfig,
    topo: topology.Topology,
    x: np.ndarray,
    rngs: list[np.random.Generator],
) -> np.ndarray:
    """``(S, B, N)`` states: inputs ``x`` (``(S, B, n_inputs)``), bias 1, free neurons random."""
    return initial_states(config, topo, x, rngs, 1)[0]


def initial_states(
    config: RunConfig,
    topo: topology.Topology,
    x: np.ndarray,
    rngs: list[np.random.Generator],
    n_epochs: int,
) -> np.ndarray:
    """``(E, S, B, N)`` states of ``E`` epochs with the same inputs ``x``; each seed's
    generator draws its ``E`` epochs in one call, the values of ``E`` calls."""
    n_copies, batch, _ = x.shape
    state = np.empty((n_epochs, n_copies, batch, topo.n))
    state[..., : topo.n_inputs] = x
    state[..., topo.bias_index] = 1.0
    low, high = config.init.state_low, config.init.state_high
    shape = (n_epochs, batch, topo.n - topo.n_clamped)
    draws = [rng.uniform(low, high, shape) for rng in rngs]
    state[..., topo.n_clamped :] = np.stack(draws, axis=1)
    return state


def leak_of(config: RunConfig, weights: np.ndarray) -> np.ndarray:
    """The leak each neuron circuit uses under ``weights``, as the config's rule sets it."""
    return make_rule(config).leak(weights)


def free_phase(
    config: RunConfig,
    topo: topology.Topology,
    weights: np.ndarray | MultiplyModel,
    x: np.ndarray,
    rngs: list[np.random.Generator],
) -> Program[np.ndarray]:
    """Program: the free-phase equilibrium ``s0`` (``(S, B, N)``) of inputs ``x``
    (``weights``: the weights, or the multiply model of an array)."""
    state = initial_state(config, topo, x, rngs)
    dyn = config.dynamics
    leak = leak_of(config, weights.weights if isinstance(weights, MultiplyModel) else weights)
    return (yield Relax(weights, leak, state, topo.n_clamped, dyn.free_steps, dyn.dt))


def evaluation(
    config: RunConfig,
    topo: topology.Topology,
    task: tasks.Task,
    weights: np.ndarray | MultiplyModel,
    seeds: np.ndarray,
) -> Program[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Program: free-phase MSE, accuracy and outputs of each network on all of ``task``.

    Initial states come from ``default_rng([seed, EVAL_STREAM])``, so an evaluation is
    reproducible and independent of training's random stream.
    """
    rngs = [np.random.default_rng([int(s), EVAL_STREAM]) for s in seeds]
    x = np.broadcast_to(task.x, (len(seeds), *task.x.shape))
    s0 = yield from free_phase(config, topo, weights, x, rngs)
    outputs = s0[..., topo.output_slice]
    mse, accuracy = score(outputs, task.y, config.task.accuracy)
    return mse, accuracy, outputs


def evaluate(
    config: RunConfig,
    topo: topology.Topology,
    task: tasks.Task,
    weights: np.ndarray,
    seeds: np.ndarray,
    engine: Engine | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Free-phase MSE, accuracy and outputs of each network (see :func:`evaluation`)."""
    engine = engine or make_engine(config)
    return engine.run(evaluation(config, topo, task, weights, seeds))


def _check_finite(array: np.ndarray, epoch: int, seeds: np.ndarray, what: str) -> None:
    finite = np.isfinite(array)
    if finite.all():
        return
    bad = np.argwhere(~finite)[0]
    index = ", ".join(str(int(v)) for v in bad[1:])
    raise DivergenceError(epoch, int(seeds[bad[0]]), f"{what}[{index}] is not finite")


def _program(
    chip: Controller,
    epoch: int,
    seeds: np.ndarray,
    learn: LearningConfig,
    lr: float,
    update: Update,
) -> None:
    """Program one update at rate ``lr``, reporting a non-finite weight change as a
    divergence."""
    try:
        chip.program(lr, learn.l1, l1_sign=learn.l1_sign, **update.arguments())
    except FloatingPointError as exc:
        raise DivergenceError(epoch, int(seeds[getattr(exc, "chip", 0)]), str(exc)) from None


def _phase(chip: Controller, request: Relax, epoch: int, seeds: np.ndarray) -> Program[np.ndarray]:
    """Program: one nudged phase on the chip; its clock advances, divergence is reported."""
    answer = yield request
    chip.elapse(request.n_steps)
    if request.deep_sum:
        _check_finite(answer, epoch, seeds, "nudged-phase sum")
    elif request.in_situ is None:
        states = answer.swapaxes(0, 1) if request.record else answer
        _check_finite(states, epoch, seeds, "nudged-phase state")
    return answer


def _batches(
    n_patterns: int, batch_size: int | None, rngs: list[np.random.Generator]
) -> list[np.ndarray]:
    """Per-seed sample indices ``(S, b)`` of each mini-batch of one epoch."""
    if batch_size is None or batch_size >= n_patterns:
        return [np.broadcast_to(np.arange(n_patterns), (len(rngs), n_patterns))]
    orders = np.stack([rng.permutation(n_patterns) for rng in rngs])
    return [orders[:, k : k + batch_size] for k in range(0, n_patterns, batch_size)]


@np.errstate(over="ignore", invalid="ignore")  # divergence is detected and reported instead
def train(
    config: RunConfig | Run,
    engine: Engine | None = None,
    progress: Callable[[int], None] | None = None,
    source: str = "",
    task: tasks.Task | None = None,
    status: Callable[[str], None] | None = None,
    test: tasks.Task | None = None,
) -> TrainResult:
    """Train every seed of ``config``; see the module docstring for the random streams.

    Parameters
    ----------
    config
        The validated run config, or a run already assembled from one
        (:func:`deephw.assembly.assemble`; then ``engine``, ``source`` and ``task`` are
        its own).
    engine
        The engine to relax states with; by default the one the config names.
    progress
        Called with 1 after each epoch (e.g. ``tqdm.update``).
    source
        The config file's name, quoted in errors about files it names.
    task
        An in-memory task to use instead of the one the config names.
    status
        Called with a short text after each evaluation on the test data (e.g.
        ``tqdm.set_postfix_str``).
    test
        With ``task``: the in-memory test data to evaluate on (none by default).

    Raises
    ------
    DivergenceError
        When a weight or a state stops being finite; names the epoch and seed.
    """
    if isinstance(config, Run):
        run = config
    else:
        run = assemble(config, task, source, engine, test)
    return run.engine.run(training(run, progress, status))


def _test_now(epoch: int, epochs: int, every: int) -> bool:
    return (epoch + 1) % every == 0 or epoch == epochs - 1


def _on_test(
    run: Run, weights: np.ndarray, seeds: np.ndarray, status: Callable[[str], None] | None
) -> Program[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Program: :func:`evaluation` on the run's test data, reported to ``status``."""
    found = yield from evaluation(run.config, run.topology, run.test, weights, seeds)
    if status is not None:
        status(f"test accuracy {100 * np.mean(found[1]):.1f} %")
    return found


def training(
    run: Run,
    progress: Callable[[int], None] | None = None,
    status: Callable[[str], None] | None = None,
) -> Program[TrainResult]:
    """Program: the whole training of every seed on its chip, then the final evaluation.

    With test data, the networks are evaluated on it after every ``eval_every`` epochs
    and the last, with the weights the devices hold (no chip read: nothing is counted
    and no random number of training or of the chips is drawn).
    """
    try:
        return (yield from _training(run, progress, status))
    finally:
        run.rule.lr = run.config.learning.lr  # a schedule changed it


def _training(
    run: Run,
    progress: Callable[[int], None] | None,
    status: Callable[[str], None] | None,
) -> Program[TrainResult]:
    config, topo, task, rule = run.config, run.topology, run.task, run.rule
    seeds = seed_list(config)
    rngs = [np.random.default_rng(int(s)) for s in seeds]
    mask = np.broadcast_to(topo.mask, (len(seeds), topo.n, topo.n)).copy()
    start_weights = rule.initial_weights(initial_weights(config, topo.mask, rngs), topo)
    chip = Controller(run, mask, seeds, start_weights)
    epochs, every = config.training.epochs, config.training.eval_every
    history = {name: np.empty((epochs, len(seeds))) for name in HISTORY_FIELDS}
    if run.test is not None:
        history.update({name: np.full((epochs, len(seeds)), np.nan) for name in TEST_FIELDS})
    log = EpochLog(history, chip_time_s=np.empty(epochs))
    dyn, learn, prune = config.dynamics, config.learning, config.pruning
    p, outs = topo.n_clamped, topo.output_slice
    stop = prune.stop_epoch if prune.stop_epoch is not None else epochs
    register = rule.start(len(seeds), topo)
    engine_sums = (
        run.engine.capabilities.deep_sum and chip.exact_latch and not chip.scheme.trajectory_pulses
    )
    fuse, fused_until = fused.fusable(run, chip), 0

    def starts(n_epochs: int) -> np.ndarray:
        x = np.broadcast_to(task.x, (len(seeds), *task.x.shape))
        return chip.drive(initial_states(config, topo, x, rngs, n_epochs), topo.n_inputs)

    for epoch in range(epochs):
        if fuse and epoch >= fused_until:
            last = fused.run_end(
                run, epoch, len(seeds), _test_now if run.test is not None else None
            )
            done = yield from fused.run_epochs(run, chip, rngs, epoch, last, log, starts)
            fused_until, fuse = epoch + done, epoch + done == last
        if epoch >= fused_until:
            lr = rule.lr = learning_rate(learn, epoch, epochs)
            sq_error = np.zeros(len(seeds))
            right = np.zeros(len(seeds))
            rails = np.zeros(len(seeds))
            for index in _batches(task.n_patterns, config.training.batch_size, rngs):
                x, y = task.x[index], task.y[index]
                multiply = rule.present(chip.read_multiply(), register)
                leak = chip.read_leak(multiply.weights)
                state = chip.drive(initial_state(config, topo, x, rngs), topo.n_inputs)
                s0 = yield Relax(multiply, leak, state, p, dyn.free_steps, dyn.dt)
                chip.elapse(dyn.free_steps)
                _check_finite(s0, epoch, seeds, "free-phase state")
                latched = chip.latch(s0)
                mse, acc = score(latched[..., outs], y, config.task.accuracy)
                share = index.shape[1] / task.n_patterns
                sq_error += mse * share
                right += acc * share
                rails += rail_fraction(latched, p) * share
                step = Step(
                    Relax(multiply, leak, s0, p, dyn.nudged_steps, dyn.dt, dyn.beta, y),
                    latched,
                    lambda request: _phase(chip, request, epoch, seeds),  # noqa: B023  (used now)
                    chip.latch,
                    chip.scheme.trajectory_pulses,
                    chip.in_situ_request(dyn.nudged_steps, state.shape[1], lr)
                    if chip.in_engine
                    else None,
                    register,
                    engine_sums,
                )
                update = yield from rule.learn(step)
                _program(chip, epoch, seeds, learn, lr, update)
            if prune.enabled and prune.start_epoch <= epoch < stop:
                chip.prune(
                    mask, prune.threshold, prune.temperature, rngs, prune.regrow, prune.normaliser
                )
            weights = chip.crossbar.true_weights()  # monitoring, not a chip read
            _check_finite(weights, epoch, seeds, "weight")
            log.scores(epoch, sq_error, right, rails)
            log.weights(epoch, weights, mask, prune.regrow, p)
            log.totals(epoch, chip.totals(), chip.time_s)
        if run.test is not None and _test_now(epoch, epochs, every):
            held = rule.present(DenseMultiply(chip.crossbar.true_weights()), register).weights
            mse, acc, _ = yield from _on_test(run, held, seeds, status)
            history["test_mse"][epoch], history["test_accuracy"][epoch] = mse, acc
        if progress is not None:
            progress(1)

    # the final network, as the array (and a rule's periphery register) presents it
    presented = rule.present(chip.read_multiply(), register)
    weights = presented.weights
    result = TrainResult(config, topo, task, seeds, start_weights, weights, mask, history)
    result.controller, result.events, result.chip_time_s = chip, log.events, log.chip_time_s
    result.final_mse, result.final_accuracy, result.final_outputs = yield from evaluation(
        config, topo, task, presented, seeds
    )
    if run.test is not None:
        result.test = run.test
        result.test_mse, result.test_accuracy, result.test_outputs = yield from _on_test(
            run, weights, seeds, status
        )
    return result
