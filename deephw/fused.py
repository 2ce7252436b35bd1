"""Whole epochs in one engine call: the fast path of a plain DEEP training.

When each epoch of a training is the same few operations on exact numbers (DEEP with
full batches and digital updates, no L1 shrink, no pruning, on a transparent array:
:attr:`deephw.crossbar.Crossbar.transparent`), an engine that declares ``epochs`` may
run a run of them in one call (:class:`~deephw.engines.base.Epochs`) instead of
answering two requests per epoch, and the controller's work per epoch (reads, scores,
update, bookkeeping, in Python) is done once per run of epochs.

Everything the step-by-step path records is booked from the answer
(:mod:`deephw.epoch_log`): the history, the events, the chip clock and the devices'
state. The engine does every operation as its step-by-step path does, so the two give
the same numbers bit for bit (the tests compare them). An epoch the engine finds
diverging is left to the step-by-step path, which reports it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deephw.analysis import rail_fraction, score
from deephw.assembly import Run
from deephw.config import DynamicsConfig
from deephw.controller import Controller
from deephw.engines.base import Epochs, EpochsAnswer, Program
from deephw.epoch_log import EpochLog
from deephw.schedule import learning_rate
from deephw.schemes import DigitalAccumulate

READS_PER_EPOCH = 2
"""Reads of every enabled cell per epoch: the weights, and the leak's row sums."""

CALL_BYTES = 32 * 2**20
"""Memory a call's per-epoch arrays may take (initial and equilibrium states, weights
after each update); longer runs of epochs are split into several calls."""

CALL_PRODUCTS = 10**8
"""Multiply-adds of the currents a call may do (about 0.1 s on one core), so that a
progress bar moves during a long training."""


def epochs_per_call(run: Run, n_seeds: int) -> int:
    """The most epochs one call runs within :data:`CALL_BYTES` and
    :data:`CALL_PRODUCTS` (at least one)."""
    n, p, batch = run.topology.n, run.topology.n_clamped, run.task.n_patterns
    dyn = run.config.dynamics
    memory = 8 * n_seeds * (2 * batch * n + n * n)
    work = n_seeds * batch * (dyn.free_steps + dyn.nudged_steps) * n * (n - p)
    return max(1, min(CALL_BYTES // memory, CALL_PRODUCTS // work))


def run_end(
    run: Run, first: int, n_seeds: int, tested: Callable[[int, int, int], bool] | None
) -> int:
    """The epoch after a run of whole epochs from ``first``: at most
    :func:`epochs_per_call` of them, ending at the next test evaluation (``tested(epoch,
    epochs, eval_every)``; None: no test data)."""
    epochs, every = run.config.training.epochs, run.config.training.eval_every
    last = min(epochs, first + epochs_per_call(run, n_seeds))
    if tested is not None:
        last = min(last, next(e for e in range(first, epochs) if tested(e, epochs, every)) + 1)
    return last


def fusable(run: Run, chip: Controller) -> bool:
    """Whether ``run``'s epochs on ``chip`` can be run whole by its engine."""
    config, topo = run.config, run.topology
    batch = config.training.batch_size
    return (
        run.engine.capabilities.epochs
        and run.engine.fuses(topo.n, topo.n_clamped)
        and run.rule.fuses_epochs
        and not config.learning.l1
        and not config.pruning.enabled
        and (batch is None or batch >= run.task.n_patterns)
        and type(chip.scheme) is DigitalAccumulate
        and chip.crossbar.transparent
    )


def run_epochs(
    run: Run,
    chip: Controller,
    rngs: list[np.random.Generator],
    first: int,
    last: int,
    log: EpochLog,
    starts: Callable[[int], np.ndarray],
) -> Program[int]:
    """Program: epochs ``first`` to ``last - 1`` in one :class:`Epochs` request, booked
    in ``log`` and on ``chip``; returns how many were done.

    Parameters
    ----------
    run, chip
        The assembled run (:func:`fusable`) and its chip.
    rngs
        The seeds' training generators.
    first, last
        The epochs to run.
    log
        Where the epochs' history, events and clock are booked.
    starts
        ``starts(E)`` draws the ``(E, S, B, N)`` initial states of the free phases of
        ``E`` epochs from ``rngs``, as the step-by-step path draws them. When fewer
        epochs are done, the generators are put back to where that path would be after
        them.

    Notes
    -----
    The booking mirrors what the step-by-step path does per epoch on a transparent
    array (two reads of every enabled cell, one update, the clock advanced by the two
    phases and the update); ``tests/test_fused.py`` compares the two.
    """
    config, topo, task = run.config, run.topology, run.task
    dyn = config.dynamics
    saved = [rng.bit_generator.state for rng in rngs]
    targets = np.broadcast_to(task.y, (len(rngs), *task.y.shape))
    lrs = [learning_rate(config.learning, e, config.training.epochs) for e in range(first, last)]
    (device,) = chip.crossbar.cell.devices.values()
    request = Epochs(
        device.g, chip.crossbar.enabled, starts(last - first), targets, np.array(lrs),
        topo.n_clamped, dyn.free_steps, dyn.nudged_steps, dyn.dt, dyn.beta,
        run.rule.extra_leak,
    )  # fmt: skip
    before = chip.totals()
    answer = yield request
    done = answer.done
    if done < last - first:
        for rng, state in zip(rngs, saved, strict=True):
            rng.bit_generator.state = state
        starts(done)
    if not done:
        return 0
    rows = slice(first, first + done)
    s0, p = answer.s0, topo.n_clamped
    mse, right = score(s0[..., topo.output_slice], task.y, config.task.accuracy)
    log.scores(rows, mse, right, rail_fraction(s0, p))  # one batch, its share 1
    log.weights(rows, answer.weights, chip.crossbar.mask, config.pruning.regrow, p)
    chip.crossbar.absorb_epochs(answer, READS_PER_EPOCH)
    log.totals(rows, _cumulative(before, answer, chip), _clock(chip, dyn, done))
    return done


def _cumulative(
    before: dict[str, np.ndarray], answer: EpochsAnswer, chip: Controller
) -> dict[str, np.ndarray]:
    """``(done, S)`` totals at the end of each epoch: ``before`` plus the SETs, RESETs and
    reads of the epochs (a transparent array prices nothing and has no other events)."""
    (role,) = chip.crossbar.cell.devices
    reads = READS_PER_EPOCH * chip.crossbar.enabled.sum(axis=(1, 2))
    epochs = np.arange(1, answer.done + 1)[:, None]
    added = {
        f"{role}.set": np.cumsum(answer.sets, axis=0),
        f"{role}.reset": np.cumsum(answer.resets, axis=0),
        f"{role}.reads": epochs * reads,
    }
    return {name: values + added.get(name, 0) for name, values in before.items()}


def _clock(chip: Controller, dyn: DynamicsConfig, done: int) -> np.ndarray:
    """The chip clock after each of ``done`` epochs, advanced as the step-by-step path
    advances it (free phase, nudged phase, update)."""
    times = np.empty(done)
    for k in range(done):
        chip.elapse(dyn.free_steps)
        chip.elapse(dyn.nudged_steps)
        chip.crossbar.advance(chip.update_time_s)
        times[k] = chip.time_s
    return times
