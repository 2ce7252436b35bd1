"""Run configurations: YAML files validated into frozen dataclasses.

A run config has the sections ``task``, ``network``, ``init``, ``dynamics``,
``learning``, ``pruning``, ``training`` and ``engine``; every key is optional except
the task. Paths inside a config are relative to the config file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deephw.engines import engine_names
from deephw.errors import ConfigError, quote
from deephw.model import L1_SIGNS, NORMALISERS
from deephw.tasks import BUILTIN
from deephw.validation import FieldError, as_dict, build, check, file_problem, read_yaml


@dataclass(frozen=True)
class TaskConfig:
    """What to learn: a built-in task by name, or a CSV file with named columns."""

    name: str | None = None
    csv: str | None = None
    inputs: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    accuracy: str = field(default="threshold", metadata=check(choices=("threshold", "argmax")))

    def __post_init__(self) -> None:
        if (self.name is None) == (self.csv is None):
            raise FieldError("name", self.name, "give exactly one of task.name and task.csv")
        if self.name is not None and self.name.upper() not in BUILTIN:
            raise FieldError("name", self.name, f"must be one of {list(BUILTIN)} (any case)")


@dataclass(frozen=True)
class NetworkConfig:
    """The graph: hidden neurons (a list of layer sizes for ``layered``) and topology."""

    hidden: int | tuple[int, ...] = field(default=5, metadata=check(ge=0))
    topology: str = field(
        default="complete", metadata=check(choices=("complete", "layered", "adjacency"))
    )
    adjacency: str | None = None

    def __post_init__(self) -> None:
        if self.topology == "adjacency" and self.adjacency is None:
            raise FieldError("adjacency", None, "topology 'adjacency' needs an adjacency file")
        if isinstance(self.hidden, tuple) and any(h < 1 for h in self.hidden):
            raise FieldError("hidden", list(self.hidden), "every hidden layer needs >= 1 neuron")

    @property
    def n_hidden(self) -> int:
        """Total number of hidden neurons."""
        return sum(self.hidden) if isinstance(self.hidden, tuple) else self.hidden


@dataclass(frozen=True)
class InitConfig:
    """Initial weights (uniform or normal, then masked) and initial free-neuron states."""

    weights: str = field(default="uniform", metadata=check(choices=("uniform", "normal")))
    low: float = 0.0
    high: float = 0.25
    std: float = field(default=0.05, metadata=check(ge=0))
    state_low: float = field(default=0.0, metadata=check(ge=0, le=1))
    state_high: float = field(default=0.1, metadata=check(ge=0, le=1))

    def __post_init__(self) -> None:
        if self.high < self.low:
            raise FieldError("high", self.high, f"must be >= init.low ({self.low})")
        if self.state_high < self.state_low:
            raise FieldError("state_high", self.state_high, "must be >= init.state_low")


@dataclass(frozen=True)
class DynamicsConfig:
    """Euler step, phase lengths, nudging strength and the optional constant leak."""

    dt: float = field(default=0.5, metadata=check(gt=0))
    free_steps: int = field(default=100, metadata=check(ge=1))
    nudged_steps: int = field(default=20, metadata=check(ge=1))
    beta: float = field(default=1.5, metadata=check(gt=0))
    extra_leak: float = field(default=0.0, metadata=check(ge=0))


@dataclass(frozen=True)
class LearningConfig:
    """Learning rule (``deep`` or the ``asym_ep`` baseline), rate and L1 per update.

    ``l1_sign``: the L1 shrink takes the sign of the weight ``after`` the update (deephw)
    or ``before`` it (the authors' notebooks). ``separate_bias`` (``asym_ep`` only): a
    bias vector beside the bias neuron's weights, as the authors' asymmetric EP has it;
    it starts at 0, lives in the periphery (not in the crossbar) and is never
    regularised or pruned.
    """

    rule: str = field(default="deep", metadata=check(choices=("deep", "asym_ep")))
    lr: float = field(default=10.0, metadata=check(gt=0))
    l1: float = field(default=0.0, metadata=check(ge=0))
    l1_sign: str = field(default="after", metadata=check(choices=L1_SIGNS))
    separate_bias: bool = False

    def __post_init__(self) -> None:
        # options the chosen rule or L1 setting would silently ignore are errors
        if self.separate_bias and self.rule != "asym_ep":
            reason = f"a separate bias vector needs rule asym_ep (rule is {self.rule!r})"
            raise FieldError("separate_bias", True, reason)
        if self.l1_sign != "after" and self.l1 == 0:
            raise FieldError("l1_sign", self.l1_sign, "has no effect without learning.l1 > 0")


@dataclass(frozen=True)
class PruningConfig:
    """Boltzmann pruning (eq. 3) between ``start_epoch`` and ``stop_epoch``.

    ``regrow``: pruned connections are zeroed (their cells RESET to zero weight, still
    programmable) and may grow back, and the test is ``|W| <= threshold``; by default
    they are removed for good (cells disabled). ``normaliser``: eq. 3's sum runs over
    the present ``incoming`` connections, or the whole ``column`` (absent entries add
    ``exp(0)``). See :func:`deephw.model.boltzmann_prune`.
    """

    enabled: bool = False
    threshold: float = field(default=0.2, metadata=check(ge=0))
    temperature: float = field(default=0.1, metadata=check(gt=0))
    start_epoch: int = field(default=0, metadata=check(ge=0))
    stop_epoch: int | None = field(default=None, metadata=check(ge=0))
    regrow: bool = False
    normaliser: str = field(default="incoming", metadata=check(choices=NORMALISERS))

    def __post_init__(self) -> None:
        if self.stop_epoch is not None and self.stop_epoch <= self.start_epoch:
            raise FieldError(
                "stop_epoch", self.stop_epoch, f"must be > start_epoch ({self.start_epoch})"
            )
        if not self.enabled and self.regrow:
            raise FieldError("regrow", True, "has no effect without pruning.enabled: true")
        if not self.enabled and self.normaliser != "incoming":
            reason = "has no effect without pruning.enabled: true"
            raise FieldError("normaliser", self.normaliser, reason)


SEED_MAX = 2**63 - 1
"""The largest seed: seeds are stored as 64-bit integers."""


def _check_seed_range(name: str, first: int | None, count: int) -> None:
    """Raise FieldError unless seeds ``first .. first + count - 1`` fit in 64 bits."""
    if first is not None and first + count - 1 > SEED_MAX:
        reason = f"must be <= {SEED_MAX - count + 1} with {count} seeds (64-bit seeds)"
        raise FieldError(name, first, reason)


@dataclass(frozen=True)
class TrainingConfig:
    """Epochs, batch size (``null`` = full batch), number of seeds and the first seed."""

    epochs: int = field(default=1500, metadata=check(ge=1))
    batch_size: int | None = field(default=None, metadata=check(ge=1))
    seeds: int = field(default=10, metadata=check(ge=1, le=SEED_MAX))
    seed: int = field(default=0, metadata=check(ge=0, le=SEED_MAX))
    converged_mse: float = field(default=0.01, metadata=check(gt=0))

    def __post_init__(self) -> None:
        _check_seed_range("seed", self.seed, self.seeds)


@dataclass(frozen=True)
class HardwareConfig:
    """The chip the network learns on: a device card and an update scheme.

    ``card`` is a shipped card's name or a card file (relative to the config);
    ``card_overrides`` is merged into the card section by section (e.g.
    ``{device: {read_noise_uS: 0.2}}``). ``scheme`` is ``digital`` (accumulate, then
    pulses), ``in_situ`` (pulse coincidences at every nudged step) or ``hybrid`` (updates
    on the fast device of an Ambrogio cell, periodic transfer). The chip of training
    seed ``s`` is sampled from ``chip_seed + s``, or from ``s`` when it is null.
    ``update_time_s`` is idle chip time added after each update (data loading, host
    latency), so that leaks and drift see realistic time. ``update_management`` scales
    the in-situ row and column probabilities per chip and step to keep both away from
    saturation. ``in_engine`` (scheme ``in_situ`` only) has the engine accumulate the
    coincidences during the nudged phase instead of returning the trajectory; inside
    Brian2 this needs ``update_management: false``.
    """

    card: str = "ideal"
    card_overrides: dict[str, Any] = field(default_factory=dict)
    scheme: str = field(default="digital", metadata=check(choices=("digital", "in_situ", "hybrid")))
    rounding: str = field(
        default="stochastic", metadata=check(choices=("deterministic", "stochastic"))
    )
    inner: str = field(default="digital", metadata=check(choices=("digital", "in_situ")))
    bit_length: int = field(default=10, metadata=check(ge=1))
    transfer_every: int | None = field(default=None, metadata=check(ge=1))
    chip_seed: int | None = field(default=None, metadata=check(ge=0, le=SEED_MAX))
    update_time_s: float = field(default=0.0, metadata=check(ge=0))
    update_management: bool = True
    in_engine: bool = False


@dataclass(frozen=True)
class EngineConfig:
    """The engine that runs the neuron circuits, and its options.

    ``tau_ns`` is the neuron circuit's time constant: one Euler step of size ``dt`` lasts
    ``dt * tau_ns`` of chip time. ``target`` (Brian2's code generation) and ``noise_sigma``
    (white circuit noise per unit of dimensionless time) apply to the ``brian2`` engine.
    """

    name: str = "numpy"
    target: str = field(default="cython", metadata=check(choices=("numpy", "cython")))
    tau_ns: float = field(default=100.0, metadata=check(gt=0))
    noise_sigma: float = field(default=0.0, metadata=check(ge=0))

    def __post_init__(self) -> None:
        if self.name not in engine_names():
            raise FieldError("name", self.name, f"must be one of {engine_names()}")
        if self.name == "numpy" and self.noise_sigma > 0:
            raise FieldError(
                "noise_sigma", self.noise_sigma, "circuit noise needs the brian2 engine"
            )


@dataclass(frozen=True)
class RunConfig:
    """A whole run: what to learn, on which graph, with which dynamics and rule."""

    task: TaskConfig
    network: NetworkConfig = NetworkConfig()
    init: InitConfig = InitConfig()
    dynamics: DynamicsConfig = DynamicsConfig()
    learning: LearningConfig = LearningConfig()
    pruning: PruningConfig = PruningConfig()
    training: TrainingConfig = TrainingConfig()
    hardware: HardwareConfig = HardwareConfig()
    engine: EngineConfig | str = EngineConfig()
    base_dir: str = field(
        default=".", metadata=check(internal=True, doc="folder relative paths start from")
    )

    def __post_init__(self) -> None:
        _check_seed_range("hardware.chip_seed", self.hardware.chip_seed, self.training.seeds)
        hw = self.hardware
        in_situ = hw.scheme == "in_situ" or (hw.scheme == "hybrid" and hw.inner == "in_situ")
        if in_situ and self.learning.l1_sign != "after":
            reason = "in-situ pulses change the weights before the L1 read: only 'after'"
            raise FieldError("learning.l1_sign", self.learning.l1_sign, reason)
        if isinstance(self.engine, str):
            if self.engine not in engine_names():
                raise FieldError("engine", self.engine, f"must be one of {engine_names()}")
            object.__setattr__(self, "engine", EngineConfig(name=self.engine))

    def resolve(self, relative: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        path = Path(relative)
        return path if path.is_absolute() else Path(self.base_dir) / path

    def replace(self, **sections: dict) -> RunConfig:
        """A copy with some fields of some sections replaced, e.g. ``training={"epochs": 5}``."""
        data = self.to_dict()
        for section, values in sections.items():
            if section not in data:
                raise KeyError(f"RunConfig has no section {quote(section)}")
            if isinstance(values, dict) and isinstance(data[section], dict):
                data[section] = {**data[section], **values}
            else:
                data[section] = values
        return from_dict(data, base_dir=self.base_dir)

    def to_dict(self) -> dict:
        """Plain data for YAML, without ``base_dir``."""
        data = as_dict(self)
        data.pop("base_dir")
        return data


def from_dict(data: dict, source: str = "", base_dir: str | Path = ".") -> RunConfig:
    """Validate a config mapping; errors name ``source``, the field and the value."""
    data = dict(data)
    if "task" not in data:
        raise ConfigError(source, "task", None, "required section is missing")
    return build(RunConfig, data, source, internal={"base_dir": str(base_dir)})


def load(path: str | Path) -> RunConfig:
    """Load and validate a run config file, checking that the files it names exist."""
    path = Path(path)
    config = from_dict(read_yaml(path), str(path), path.parent)
    for name, value in (
        ("task.csv", config.task.csv),
        ("network.adjacency", config.network.adjacency),
    ):
        problem = None if value is None else file_problem(config.resolve(value))
        if problem is not None:
            raise ConfigError(str(path), name, value, problem)
    from deephw.controller import hardware_card  # the controller imports this module

    hardware_card(config, str(path))
    return config
