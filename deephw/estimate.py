"""What a run will need, estimated from its config before anything is allocated.

A config may ask for ``hidden: 10**6`` or ``epochs: 10**12``; numpy would then try to
allocate petabytes, or the loop would run for centuries. :func:`estimate_run` computes,
from the sizes alone, the peak memory, the floating-point work and the size of the run
directory, and names the field that drives each; :meth:`RunEstimate.enforce` refuses the
run with one line through :func:`deephw.budget.enforce`.

The constants are rough upper bounds measured on this code (peak memory per weight of
the devices cards, the cost of a pulse update), not exact accounting: they are meant to
tell 10 MB from 10 TB and a minute from a year.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from deephw.budget import Estimate, enforce
from deephw.config import RunConfig
from deephw.data.taskconfig import DATA_FILES
from deephw.rules import rule_class
from deephw.tasks import Task

BYTES_PER_CONNECTION = 512
"""Peak memory per seed and ``N x N`` entry: weights, masks and every device array.

Measured at 190-460 bytes (ideal card to the two-pair Ambrogio cell) for ``N`` of 300-400.
"""

STATE_COPIES = 8
"""Float64 ``(S, B, N)`` arrays alive at once while relaxing (states, drives, temporaries)."""

BYTES_PER_EPOCH_AND_SEED = 1024
"""History, event counters and their CSV text, per epoch and seed."""

OUTPUT_BYTES_PER_CONNECTION = 120
"""Run-directory bytes per seed and ``N x N`` entry (``weights.npz``, ``devices.npz``)."""

OUTPUT_BYTES_PER_EPOCH_AND_SEED = 300
"""Run-directory bytes per epoch and seed (``metrics.csv``, ``events.csv``)."""

FIGURE_BYTES = 2_000_000
"""The figures and small files of a run directory, together."""

PULSE_OPS_PER_CONNECTION = 50
"""Work per connection and update of applying the update to the devices."""

STEP_OVERHEAD_OPS = 40_000
"""Work-equivalent of one Euler step's fixed cost (about 40 us of NumPy calls, measured),
which dominates for small networks with many steps."""

REFERENCE = {
    "training.epochs": 1500,
    "training.seeds": 10,
    "network.hidden": 9,  # compared through N, the neuron count of the paper's graph
    "dynamics.free_steps": 100,
    "dynamics.nudged_steps": 20,
    "task.csv": 4,  # compared through the number of patterns
    "hardware.scheme.bit_length": 10,
}
"""Typical sizes: the field furthest above its typical size (weighted by how often it
multiplies the estimate) is the one an error names."""


@dataclasses.dataclass(frozen=True)
class RunEstimate:
    """A run's estimated peak memory, work and output size, and the fields driving them.

    ``memory_field`` and ``work_field`` are dotted config paths (``network.hidden``).
    """

    memory_bytes: float
    operations: float
    output_bytes: float
    memory_field: str
    work_field: str

    @property
    def budget(self) -> Estimate:
        """Memory and work as a :class:`deephw.budget.Estimate`."""
        return Estimate(self.memory_bytes, self.operations)

    def enforce(
        self,
        config: RunConfig,
        source: str,
        *,
        force: bool = False,
        options: Mapping[str, str] | None = None,
    ) -> None:
        """Refuse the run in one line naming the driving field, via :func:`budget.enforce`.

        Parameters
        ----------
        config
            The config estimated (the fields' values are quoted from it).
        source
            The config file, quoted before the field.
        force
            Allow work past the limit (never memory).
        options
            Command-line options that set fields, e.g. ``{"training.epochs": "--epochs"}``:
            such a field is named by its option, without the file.
        """
        options = options or {}
        for field, estimate in (
            (self.memory_field, Estimate(memory_bytes=self.memory_bytes)),
            (self.work_field, Estimate(operations=self.operations)),
        ):
            value = field_value(config, field)
            if field in options:
                enforce(estimate, source="", field=options[field], value=value, force=force)
            else:
                enforce(estimate, source=source, field=field, value=value, force=force)


def field_value(config: RunConfig, dotted: str) -> object:
    """The value of a dotted field of ``config`` (``"training.epochs"``)."""
    value: object = config
    for name in dotted.split("."):
        value = getattr(value, name)
    return value


def _big(value: float) -> float:
    """``value`` as a float; integers past the float range become infinity."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def network_size(config: RunConfig, task: Task) -> float:
    """Neurons ``N`` of ``config``'s graph on ``task`` (inputs, bias, hidden, outputs),
    counted without building it; past the float range, infinity."""
    return _big(task.n_inputs + 1 + config.network.n_hidden + task.n_outputs)


def _driver(factors: dict[str, tuple[float, int]]) -> str:
    """The field whose size, raised to its power in the term, is furthest above typical."""

    def excess(item: tuple[str, tuple[float, int]]) -> float:
        name, (size, power) = item
        return power * math.log(max(size, 1.0) / REFERENCE[name])

    return max(factors.items(), key=excess)[0]


def data_field(config: RunConfig) -> str | None:
    """The ``task`` field naming the config's data file (``task.npz``), or ``None``."""
    for key in DATA_FILES:
        if getattr(config.task, key) is not None:
            return f"task.{key}"
    return None


def _named(config: RunConfig, field: str) -> str:
    """``field``, with the stand-in ``task.csv`` replaced by the data file's field."""
    return (data_field(config) or field) if field == "task.csv" else field


def estimate_run(config: RunConfig, task: Task, test: Task | None = None) -> RunEstimate:
    """Peak memory, work and output size of training ``config`` on ``task``.

    Parameters
    ----------
    config
        A validated run config; its graph is sized from ``task`` and ``network.hidden``
        (the graph itself is not built: that is what could not fit).
    task
        The loaded task: its pattern count and its input and output counts.
    test
        The test data, evaluated every ``training.eval_every`` epochs and at the end.

    Returns
    -------
    RunEstimate
        Memory: weights and devices (``S N^2``), states (``S B N``), the nudged
        trajectory (``S b Mb N``) and the history (``epochs S``). Work: the relaxations
        ``2 epochs S B N^2 (M0 + Mb)``, the weight updates and the final evaluation.
    """
    train, dyn, hw = config.training, config.dynamics, config.hardware
    scheme = hw.scheme_options
    bit_length = getattr(scheme, "bit_length", 10)
    in_situ = hw.scheme_name == "in_situ"
    n = network_size(config, task)
    seeds, epochs = _big(train.seeds), _big(train.epochs)
    patterns = _big(task.n_patterns)
    batch = min(patterns, _big(train.batch_size)) if train.batch_size else patterns
    n_batches = math.ceil(patterns / batch)
    free_steps, nudged_steps = _big(dyn.free_steps), _big(dyn.nudged_steps)
    size = {
        "training.seeds": (seeds, 1),
        "training.epochs": (epochs, 1),
        "network.hidden": (n, 2),
        "dynamics.free_steps": (free_steps, 1),
        "dynamics.nudged_steps": (nudged_steps, 1),
        "hardware.scheme.bit_length": (_big(bit_length), 1),
    }
    if data_field(config) is not None:  # a built-in task is never the one to blame
        size["task.csv"] = (patterns, 1)  # stands for the data file's field

    def pick(*names: str, states: bool = False) -> dict[str, tuple[float, int]]:
        # in (S, B, N) arrays the neuron count enters once, not squared
        return {
            k: (size[k][0], 1 if states and k == "network.hidden" else size[k][1])
            for k in names
            if k in size
        }

    trajectory = rule_class(config.learning.rule).records_trajectory and not (
        in_situ and scheme.in_engine
    )
    memory_terms = [
        (seeds * n * n * BYTES_PER_CONNECTION, pick("network.hidden", "training.seeds")),
        (
            seeds * patterns * n * 8 * STATE_COPIES,
            pick("training.seeds", "network.hidden", "task.csv", states=True),
        ),
        (epochs * seeds * BYTES_PER_EPOCH_AND_SEED, pick("training.epochs", "training.seeds")),
    ]
    if trajectory:
        memory_terms.append(
            (
                2 * seeds * batch * (nudged_steps + 1) * n * 8,
                pick(
                    "dynamics.nudged_steps",
                    "training.seeds",
                    "network.hidden",
                    "task.csv",
                    states=True,
                ),
            )
        )
    update_ops = PULSE_OPS_PER_CONNECTION + (2 * batch * nudged_steps if trajectory else 0)
    if in_situ:
        update_ops += 8 * batch * nudged_steps * _big(bit_length)
    dynamics_fields = ("training.epochs", "training.seeds", "network.hidden", "task.csv")
    work_terms = [
        (
            2 * epochs * seeds * patterns * n * n * (free_steps + nudged_steps),
            pick(*dynamics_fields, "dynamics.free_steps", "dynamics.nudged_steps"),
        ),
        (
            epochs * n_batches * seeds * n * n * update_ops,
            pick(
                "training.epochs", "training.seeds", "network.hidden", "hardware.scheme.bit_length"
            ),
        ),
        (
            2 * seeds * patterns * n * n * free_steps,
            pick(*dynamics_fields[1:], "dynamics.free_steps"),
        ),
        (
            epochs * n_batches * (free_steps + nudged_steps) * STEP_OVERHEAD_OPS,
            pick("training.epochs", "dynamics.free_steps", "dynamics.nudged_steps"),
        ),
    ]
    if test is not None:
        tested = _big(test.n_patterns)
        evaluations = math.ceil(epochs / train.eval_every) + 1
        memory_terms.append(
            (seeds * tested * n * 8 * STATE_COPIES, pick("training.seeds", "network.hidden"))
        )
        work_terms.append(
            (
                evaluations * 2 * seeds * tested * n * n * free_steps,
                pick("training.epochs", "training.seeds", "network.hidden"),
            )
        )
    memory = sum(term for term, _ in memory_terms)
    operations = sum(term for term, _ in work_terms)
    output = (
        seeds * n * n * OUTPUT_BYTES_PER_CONNECTION
        + epochs * seeds * OUTPUT_BYTES_PER_EPOCH_AND_SEED
        + FIGURE_BYTES
    )
    return RunEstimate(
        memory_bytes=memory,
        operations=operations,
        output_bytes=output,
        memory_field=_named(config, _driver(max(memory_terms, key=lambda t: t[0])[1])),
        work_field=_named(config, _driver(max(work_terms, key=lambda t: t[0])[1])),
    )


def combine(estimates: list[RunEstimate]) -> RunEstimate:
    """Runs done one after the other: the largest memory, the summed work and outputs.

    The fields named are those of the run that needs the most memory, and of the one
    that needs the most work.
    """
    most_memory = max(estimates, key=lambda e: e.memory_bytes)
    most_work = max(estimates, key=lambda e: e.operations)
    return RunEstimate(
        memory_bytes=most_memory.memory_bytes,
        operations=sum(e.operations for e in estimates),
        output_bytes=sum(e.output_bytes for e in estimates),
        memory_field=most_memory.memory_field,
        work_field=most_work.work_field,
    )


def estimate_evaluation(config: RunConfig, task: Task, n_seeds: int) -> RunEstimate:
    """Peak memory and work of evaluating ``n_seeds`` networks of ``config`` on ``task``.

    The weights themselves are not counted: they are loaded before this is asked.
    """
    n = network_size(config, task)
    patterns, steps = _big(task.n_patterns), _big(config.dynamics.free_steps)
    factors = {"dynamics.free_steps": (steps, 1), "network.hidden": (n, 1)}
    if data_field(config) is not None:
        factors["task.csv"] = (patterns, 1)
    return RunEstimate(
        memory_bytes=n_seeds * patterns * n * 8 * STATE_COPIES,
        operations=(2 * n_seeds * patterns * n * n + STEP_OVERHEAD_OPS) * steps,
        output_bytes=0.0,
        memory_field=_named(
            config, _driver({k: v for k, v in factors.items() if k != "dynamics.free_steps"})
        ),
        work_field=_named(config, _driver(factors)),
    )
