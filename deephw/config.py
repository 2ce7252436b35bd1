"""Run configurations: YAML files validated into frozen dataclasses.

A run config has the sections ``task``, ``network``, ``init``, ``dynamics``,
``learning``, ``pruning``, ``training`` and ``engine``; every key is optional except
the task. Paths inside a config are relative to the config file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deephw.data.taskconfig import TaskConfig
from deephw.engines import engine_class, engine_names
from deephw.errors import ConfigError, UnknownNameError, quote
from deephw.model import L1_SIGNS, NORMALISERS
from deephw.rules import rule_class, rule_names
from deephw.rules.base import options_of
from deephw.schemes import configured_scheme, scheme_names, scheme_options
from deephw.validation import FieldError, as_dict, build, check, file_problem, read_yaml

SCHEDULES = ("constant", "step", "cosine")
"""Learning-rate schedules: see :func:`deephw.schedule.learning_rate`."""


@dataclass(frozen=True)
class NetworkConfig:
    """The graph: hidden neurons (a list of layer sizes for ``layered``) and topology."""

    hidden: int | tuple[int, ...] = field(
        default=5,
        metadata=check(ge=0, doc="hidden neurons; for layered, a list of layer sizes"),
    )
    topology: str = field(
        default="complete",
        metadata=check(
            choices=("complete", "layered", "adjacency"),
            doc="complete: every connection but self loops and those into clamped neurons; "
            "layered: consecutive layers both ways; adjacency: the graph of a file",
        ),
    )
    adjacency: str | None = field(
        default=None,
        metadata=check(doc="file of the graph: YAML edge list or N x N 0/1 matrix"),
    )

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

    weights: str = field(
        default="uniform",
        metadata=check(choices=("uniform", "normal"), doc="U(low, high) or N(0, std), then masked"),
    )
    low: float = field(default=0.0, metadata=check(doc="lower end of uniform weights"))
    high: float = field(default=0.25, metadata=check(doc="upper end of uniform weights"))
    std: float = field(default=0.05, metadata=check(ge=0, doc="std of normal weights"))
    state_low: float = field(
        default=0.0,
        metadata=check(ge=0, le=1, doc="free neurons start U(state_low, state_high)"),
    )
    state_high: float = field(
        default=0.1,
        metadata=check(ge=0, le=1, doc="upper end of the initial free states (redrawn each epoch)"),
    )

    def __post_init__(self) -> None:
        if self.high < self.low:
            raise FieldError("high", self.high, f"must be >= init.low ({self.low})")
        if self.state_high < self.state_low:
            raise FieldError("state_high", self.state_high, "must be >= init.state_low")


@dataclass(frozen=True)
class DynamicsConfig:
    """Euler step, phase lengths, nudging strength and the optional constant leak."""

    dt: float = field(default=0.5, metadata=check(gt=0, doc="Euler step (dimensionless time)"))
    free_steps: int = field(default=100, metadata=check(ge=1, doc="M0: free-phase steps"))
    nudged_steps: int = field(default=20, metadata=check(ge=1, doc="Mb: nudged steps"))
    beta: float = field(default=1.5, metadata=check(gt=0, doc="nudging strength"))
    extra_leak: float = field(
        default=0.0,
        metadata=check(ge=0, doc="a constant leak added to every neuron's outgoing sum"),
    )


@dataclass(frozen=True)
class LearningConfig:
    """Learning rule (a registered name: ``deep``, ``asym_ep``, ...), rate, L1 per
    update, and the rule's own ``options`` (a key the rule does not use is an error).

    ``l1_sign``: the L1 shrink takes the sign of the weight ``after`` the update (deephw)
    or ``before`` it (the authors' notebooks). ``schedule``: ``lr`` throughout
    (``constant``), times ``step_factor`` every ``step_every`` epochs (``step``), or a
    cosine from ``lr`` down to ``lr_min`` (``cosine``).
    """

    rule: str = field(default="deep", metadata=check(doc="a registered rule"))
    lr: float = field(default=10.0, metadata=check(gt=0, doc="learning rate"))
    l1: float = field(default=0.0, metadata=check(ge=0, doc="L1 shrink per update"))
    l1_sign: str = field(
        default="after",
        metadata=check(
            choices=L1_SIGNS, doc="L1 takes the sign of W after (deephw) or before the update"
        ),
    )
    options: dict[str, Any] = field(default_factory=dict, metadata=check(doc="the rule's options"))
    schedule: str = field(
        default="constant",
        metadata=check(choices=SCHEDULES, doc="how lr changes over the epochs"),
    )
    step_every: int | None = field(
        default=None, metadata=check(ge=1, doc="step schedule: epochs between decays")
    )
    step_factor: float = field(
        default=0.5, metadata=check(gt=0, le=1, doc="step schedule: lr is multiplied by it")
    )
    lr_min: float = field(
        default=0.0, metadata=check(ge=0, doc="cosine schedule: lr at the end of training")
    )

    def __post_init__(self) -> None:
        self._check_schedule()
        if self.rule not in rule_names():
            raise FieldError("rule", self.rule, f"must be one of {rule_names()}")
        try:
            options_of(rule_class(self.rule), self.options)
        except ConfigError as exc:
            raise FieldError(exc.field, exc.value, f"{exc.reason} (rule {self.rule})") from None
        if self.l1_sign != "after" and self.l1 == 0:
            raise FieldError("l1_sign", self.l1_sign, "has no effect without learning.l1 > 0")

    def _check_schedule(self) -> None:
        if self.schedule == "step" and self.step_every is None:
            raise FieldError("step_every", None, "the step schedule needs it (epochs per decay)")
        if self.schedule != "step":
            for name, default in (("step_every", None), ("step_factor", 0.5)):
                if getattr(self, name) != default:
                    reason = "has no effect without learning.schedule: step"
                    raise FieldError(name, getattr(self, name), reason)
        if self.schedule != "cosine" and self.lr_min != 0:
            raise FieldError("lr_min", self.lr_min, "has no effect without schedule: cosine")
        if self.lr_min > self.lr:
            raise FieldError("lr_min", self.lr_min, f"must be <= learning.lr ({self.lr})")


@dataclass(frozen=True)
class PruningConfig:
    """Boltzmann pruning (eq. 3) between ``start_epoch`` and ``stop_epoch``.

    ``regrow``: pruned connections are zeroed (their cells RESET to zero weight, still
    programmable) and may grow back, and the test is ``|W| <= threshold``; by default
    they are removed for good (cells disabled). ``normaliser``: eq. 3's sum runs over
    the present ``incoming`` connections, or the whole ``column`` (absent entries add
    ``exp(0)``). See :func:`deephw.model.boltzmann_prune`.
    """

    enabled: bool = field(default=False, metadata=check(doc="prune at all"))
    threshold: float = field(default=0.2, metadata=check(ge=0, doc="lambda of eq. 3"))
    temperature: float = field(default=0.1, metadata=check(gt=0, doc="T of eq. 3"))
    start_epoch: int = field(default=0, metadata=check(ge=0, doc="first epoch that prunes"))
    stop_epoch: int | None = field(default=None, metadata=check(ge=0, doc="null: the end"))
    regrow: bool = field(
        default=False,
        metadata=check(doc="pruned weights are zeroed and may grow back"),
    )
    normaliser: str = field(
        default="incoming",
        metadata=check(
            choices=NORMALISERS,
            doc="eq. 3 normalised over present incoming connections, or the column",
        ),
    )

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
    """Epochs, batch size (``null`` = full batch; mini-batches are drawn in a new order
    each epoch from the seed's generator), number of seeds, the first seed, and how
    often the networks are evaluated on the test data (``task.test``; also after the
    last epoch)."""

    epochs: int = field(default=1500, metadata=check(ge=1, doc="updates per seed"))
    batch_size: int | None = field(default=None, metadata=check(ge=1, doc="null: full batch"))
    seeds: int = field(default=10, metadata=check(ge=1, le=SEED_MAX, doc="networks trained"))
    seed: int = field(
        default=0,
        metadata=check(ge=0, le=SEED_MAX, doc="the first seed; the others follow it"),
    )
    converged_mse: float = field(
        default=0.01,
        metadata=check(gt=0, doc="a network whose final MSE is below it has converged"),
    )
    eval_every: int = field(
        default=1, metadata=check(ge=1, doc="epochs between evaluations on task.test")
    )

    def __post_init__(self) -> None:
        _check_seed_range("seed", self.seed, self.seeds)


def _part(value: str | dict[str, Any], section: str) -> tuple[str, dict[str, Any]]:
    """A part given by name, or as ``{name: NAME, OPTION: VALUE, ...}``."""
    if isinstance(value, str):
        return value, {}
    options = dict(value)
    name = options.pop("name", None)
    if not isinstance(name, str):
        raise FieldError(f"{section}.name", name, "required: the name of the part")
    return name, options


def _nested(error: ConfigError, name: str) -> FieldError:
    """A part's option error, with the part's name in the reason."""
    return FieldError(error.field, error.value, f"{error.reason} ({name})")


@dataclass(frozen=True)
class HardwareConfig:
    """The chip the network learns on: a device card and an update scheme.

    ``card`` is shipped name or file (relative to the config);
    ``card_overrides`` is merged into the card section by section (e.g.
    ``{device: {read_noise_uS: 0.2}}``). ``scheme`` is a scheme's name, or a section
    ``{name: NAME, OPTION: VALUE}`` with the options of that scheme (an option it does
    not use is an error): ``digital`` (accumulate, then pulses; ``rounding``),
    ``in_situ`` (pulse coincidences at every nudged step; ``bit_length``,
    ``update_management``, ``in_engine``: the engine accumulates the coincidences) or
    ``hybrid`` (updates on the fast device of an Ambrogio cell, periodic transfer;
    ``inner``, ``transfer_every``, ``rounding``, ``bit_length``, ``update_management``);
    see :mod:`deephw.schemes`. The chip of training seed ``s`` is sampled from
    ``chip_seed + s``, or from ``s`` when it is null. ``update_time_s`` is idle chip
    time added after each update (data loading, host latency), so that leaks and drift
    see realistic time.
    """

    card: str = field(default="ideal", metadata=check(doc="a shipped card's name or a card file"))
    card_overrides: dict[str, Any] = field(
        default_factory=dict,
        metadata=check(doc="card fields replaced, by section: {device: {FIELD: VALUE}}"),
    )
    scheme: str | dict[str, Any] = field(
        default="digital",
        metadata=check(doc="a scheme's name, or {name: NAME, OPTION: VALUE}"),
    )
    chip_seed: int | None = field(
        default=None,
        metadata=check(ge=0, le=SEED_MAX, doc="seed s runs on chip chip_seed + s; null: on chip s"),
    )
    update_time_s: float = field(default=0.0, metadata=check(ge=0, doc="idle chip time per update"))

    def __post_init__(self) -> None:
        name, given = _part(self.scheme, "scheme")
        if name not in scheme_names():
            raise FieldError("scheme", name, f"must be one of {scheme_names()}")
        try:
            scheme_options(name, given)
        except ConfigError as exc:
            raise _nested(exc, f"scheme {name}") from None
        object.__setattr__(self, "scheme", {"name": name, **given} if given else name)

    @property
    def scheme_name(self) -> str:
        """The update scheme's name."""
        return _part(self.scheme, "scheme")[0]

    @property
    def scheme_given(self) -> dict[str, Any]:
        """The scheme options the config gives (without the defaults)."""
        return _part(self.scheme, "scheme")[1]

    @property
    def scheme_options(self) -> Any:
        """The update scheme's options, defaults filled in (e.g. ``DigitalOptions``)."""
        return scheme_options(*_part(self.scheme, "scheme"))


@dataclass(frozen=True)
class EngineConfig:
    """The engine that runs the neuron circuits, and its options.

    ``tau_ns`` is the neuron circuit's time constant: one Euler step of size ``dt`` lasts
    ``dt * tau_ns`` of chip time. ``target`` (code generation; default the engine's
    first) applies to engines that generate code (``brian2``), ``noise_sigma`` (white
    circuit noise per unit of dimensionless time) to engines with circuit noise.
    """

    name: str = field(default="numpy", metadata=check(doc="a registered engine"))
    target: str | None = field(default=None, metadata=check(doc="code generation target"))
    tau_ns: float = field(default=100.0, metadata=check(gt=0, doc="step lasts dt*tau_ns"))
    noise_sigma: float = field(default=0.0, metadata=check(ge=0, doc="white circuit noise"))

    def __post_init__(self) -> None:
        if self.name not in engine_names():
            raise FieldError("name", self.name, f"must be one of {engine_names()}")
        cls = engine_class(self.name)
        if self.target is not None and self.target not in cls.targets:
            reason = f"must be one of {list(cls.targets)} (engine {self.name})"
            unused = f"the {self.name} engine has no option target"
            raise FieldError("target", self.target, reason if cls.targets else unused)
        if self.target is None and cls.targets:
            object.__setattr__(self, "target", cls.targets[0])
        lacks = cls.capabilities.lacks("circuit_noise")
        if self.noise_sigma > 0 and lacks is not None:
            able = [n for n in engine_names() if engine_class(n).capabilities.circuit_noise]
            reason = f"the {self.name} engine has no circuit noise ({lacks}); use one of {able}"
            raise FieldError("noise_sigma", self.noise_sigma, reason)


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
        if isinstance(self.engine, str):
            if self.engine not in engine_names():
                raise FieldError("engine", self.engine, f"must be one of {engine_names()}")
            object.__setattr__(self, "engine", EngineConfig(name=self.engine))
        hw = self.hardware
        scheme = configured_scheme(hw.scheme_name, hw.scheme_given)
        if getattr(scheme, "accumulate_in_engine", False) and scheme.update_management:
            lacks = engine_class(self.engine.name).capabilities.lacks("managed_in_situ")
            if lacks is not None:
                reason = f"the {self.engine.name} engine {lacks}: set update_management: false"
                raise FieldError("hardware.scheme.in_engine", True, reason)
        if scheme.trajectory_pulses and self.learning.l1_sign != "after":
            reason = "in-situ pulses change the weights before the L1 read: only 'after'"
            raise FieldError("learning.l1_sign", self.learning.l1_sign, reason)
        if scheme.trajectory_pulses and not rule_class(self.learning.rule).supports_in_situ:
            reason = f"learning.rule {self.learning.rule} has no in-situ pulse form"
            raise FieldError("hardware.scheme", hw.scheme, reason)

    def resolve(self, relative: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        path = Path(relative)
        return path if path.is_absolute() else Path(self.base_dir) / path

    def replace(self, **sections: dict) -> RunConfig:
        """A copy with some fields of some sections replaced, e.g. ``training={"epochs": 5}``."""
        data = self.to_dict()
        for section, values in sections.items():
            if section not in data:
                raise UnknownNameError(f"RunConfig has no section {quote(section)}")
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
        *((f"task.{key}", value) for key, value in config.task.files()),
        ("network.adjacency", config.network.adjacency),
    ):
        problem = None if value is None else file_problem(config.resolve(value))
        if problem is not None:
            raise ConfigError(str(path), name, value, problem)
    return config
