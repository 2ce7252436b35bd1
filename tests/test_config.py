"""Run configs: YAML files validated into frozen dataclasses, with errors a user can act on."""

from __future__ import annotations

from pathlib import Path

import pytest

import deephw
from deephw import ConfigError, config


def write(tmp_path: Path, text: str, name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load_error(path: Path) -> str:
    """Load ``path`` expecting a ConfigError; return its message, checked to name the file."""
    with pytest.raises(ConfigError) as exc:
        config.load(path)
    message = str(exc.value)
    assert str(path) in message, message
    return message


def test_defaults(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, "task:\n  name: AND\n"))
    assert cfg.task.name == "AND" and cfg.task.csv is None
    assert cfg.task.accuracy == "threshold"
    assert cfg.network.hidden == 5 and cfg.network.topology == "complete"
    assert cfg.network.n_hidden == 5
    assert cfg.init.weights == "uniform"
    assert (cfg.init.low, cfg.init.high) == (0.0, 0.25)
    assert (cfg.init.state_low, cfg.init.state_high) == (0.0, 0.1)
    dyn = cfg.dynamics
    assert (dyn.dt, dyn.free_steps, dyn.nudged_steps, dyn.beta, dyn.extra_leak) == (
        0.5,
        100,
        20,
        1.5,
        0.0,
    )
    assert (cfg.learning.rule, cfg.learning.lr, cfg.learning.l1) == ("deep", 10.0, 0.0)
    assert cfg.pruning.enabled is False
    assert (cfg.pruning.temperature, cfg.pruning.stop_epoch) == (0.1, None)
    tr = cfg.training
    assert (tr.epochs, tr.batch_size, tr.seeds, tr.seed, tr.converged_mse) == (
        1500,
        None,
        10,
        0,
        0.01,
    )
    assert cfg.engine.name == "numpy" and cfg.engine.tau_ns == 100.0
    assert cfg.engine.noise_sigma == 0.0
    assert Path(cfg.base_dir) == tmp_path


def test_values_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "task: {name: XOR}\n"
        "network: {hidden: [3, 2], topology: layered}\n"
        "dynamics: {dt: 0.25, free_steps: 7, beta: 1}\n"
        "training: {epochs: 3, batch_size: 2, seeds: 4, seed: 9}\n"
        "pruning: {enabled: true, stop_epoch: 2}\n",
    )
    cfg = config.load(path)
    assert cfg.network.hidden == (3, 2) and cfg.network.n_hidden == 5
    assert cfg.dynamics.dt == 0.25 and cfg.dynamics.free_steps == 7
    assert isinstance(cfg.dynamics.beta, float) and cfg.dynamics.beta == 1.0
    assert (cfg.training.epochs, cfg.training.batch_size) == (3, 2)
    assert (cfg.training.seeds, cfg.training.seed) == (4, 9)
    assert cfg.pruning.enabled is True and cfg.pruning.stop_epoch == 2


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("task: {name: AND}\nepochs: 5\n", "epochs", "5"),
        ("task: {name: AND}\ndynamics: {dt: 0.5, speed: 3}\n", "dynamics.speed", "3"),
        ("task: {name: AND, colour: red}\n", "task.colour", "'red'"),
        ("task: {name: AND}\npruning: {enable: true}\n", "pruning.enable", "True"),
        ("task: {name: AND}\nbase_dir: /tmp\n", "base_dir", "'/tmp'"),
    ],
)
def test_unknown_key(tmp_path: Path, text: str, field: str, value: str) -> None:
    message = load_error(write(tmp_path, text))
    assert f"{field} = {value}" in message
    assert "unknown key" in message


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("dynamics: {dt: fast}", "dynamics.dt", "'fast'"),
        ("training: {epochs: 1.5}", "training.epochs", "1.5"),
        ("training: {epochs: true}", "training.epochs", "True"),
        ("pruning: {enabled: 'yes'}", "pruning.enabled", "'yes'"),
        ("pruning: {enabled: 1}", "pruning.enabled", "1"),
        ("learning: {lr: [1, 2]}", "learning.lr", "[1, 2]"),
        ("dynamics: {beta: .nan}", "dynamics.beta", "nan"),
        ("network: {hidden: 1.5}", "network.hidden", "1.5"),
        ("training: 5", "training", "5"),
    ],
)
def test_wrong_type(tmp_path: Path, text: str, field: str, value: str) -> None:
    message = load_error(write(tmp_path, "task: {name: AND}\n" + text + "\n"))
    assert f"{field} = {value}" in message


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("dynamics: {dt: -0.1}", "dynamics.dt", "-0.1"),
        ("dynamics: {dt: 0}", "dynamics.dt", "0.0"),
        ("network: {hidden: -1}", "network.hidden", "-1"),
        ("network: {hidden: [3, 0]}", "network.hidden", "0"),
        ("training: {seeds: 0}", "training.seeds", "0"),
        ("init: {state_high: 1.5}", "init.state_high", "1.5"),
        ("learning: {l1: -1.0e-4}", "learning.l1", "-0.0001"),
        ("pruning: {temperature: 0}", "pruning.temperature", "0.0"),
    ],
)
def test_out_of_range(tmp_path: Path, text: str, field: str, value: str) -> None:
    message = load_error(write(tmp_path, "task: {name: AND}\n" + text + "\n"))
    assert field in message and value in message


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("engine: gpu", "engine", "'gpu'"),
        ("engine: {name: gpu}", "engine.name", "'gpu'"),
        ("engine: {name: brian2, target: cuda}", "engine.target", "'cuda'"),
        ("learning: {rule: bp}", "learning.rule", "'bp'"),
        ("network: {topology: ring}", "network.topology", "'ring'"),
        ("init: {weights: cauchy}", "init.weights", "'cauchy'"),
    ],
)
def test_bad_choice(tmp_path: Path, text: str, field: str, value: str) -> None:
    message = load_error(write(tmp_path, "task: {name: AND}\n" + text + "\n"))
    assert f"{field} = {value}" in message
    assert "must be one of" in message


@pytest.mark.parametrize("text", ["task: {name: AND}\n1: 2\n", "task: {name: AND, null: 2}\n"])
def test_non_string_key(tmp_path: Path, text: str) -> None:
    message = load_error(write(tmp_path, text))
    assert "unknown key" in message


def test_missing_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "task: {csv: data/missing.csv, inputs: [a], targets: [y]}\n")
    message = load_error(path)
    assert "task.csv = 'data/missing.csv'" in message and "does not exist" in message


def test_csv_relative_to_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d.csv").write_text("a,y\n0,1\n1,0\n")
    path = write(tmp_path, "task: {csv: data/d.csv, inputs: [a], targets: [y]}\n")
    monkeypatch.chdir(tmp_path.parent)
    cfg = config.load(path)
    assert cfg.resolve(cfg.task.csv) == tmp_path / "data" / "d.csv"
    assert cfg.task.inputs == ("a",) and cfg.task.targets == ("y",)


def test_missing_adjacency_file(tmp_path: Path) -> None:
    path = write(tmp_path, "task: {name: AND}\nnetwork: {topology: adjacency, adjacency: g.yaml}\n")
    message = load_error(path)
    assert "network.adjacency = 'g.yaml'" in message


def test_name_and_csv_both_or_neither(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a,y\n0,1\n")
    both = "task: {name: AND, csv: d.csv, inputs: [a], targets: [y]}\n"
    message = load_error(write(tmp_path, both))
    assert "task.name" in message and "task.csv" in message and "'AND'" in message
    message = load_error(write(tmp_path, "task: {accuracy: argmax}\n"))
    assert "task.name" in message and "task.csv" in message


def test_missing_task(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "training: {epochs: 3}\n"))
    assert "task" in message
    message = load_error(write(tmp_path, ""))
    assert "task" in message


@pytest.mark.parametrize(("text", "kind"), [("- 1\n- 2\n", "list"), ("42\n", "int")])
def test_non_mapping_yaml(tmp_path: Path, text: str, kind: str) -> None:
    message = load_error(write(tmp_path, text))
    assert "mapping" in message and kind in message


def test_invalid_yaml(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "task: {name: AND\ndynamics: [\n"))
    assert "YAML" in message


def test_missing_config_file(tmp_path: Path) -> None:
    message = load_error(tmp_path / "absent.yaml")
    assert "does not exist" in message


def test_errors_are_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        config.load(write(tmp_path, "task: {name: AND}\ndynamics: {dt: -1}\n"))
    assert issubclass(ConfigError, deephw.DeephwError)


def test_round_trip(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a,b,y\n0,1,1\n")
    text = (
        "task: {csv: d.csv, inputs: [a, b], targets: [y], accuracy: argmax}\n"
        "network: {hidden: [4, 2], topology: layered}\n"
        "init: {weights: normal, std: 0.1, state_low: 0.0, state_high: 0.2}\n"
        "dynamics: {dt: 0.2, free_steps: 30, nudged_steps: 10, beta: 0.5, extra_leak: 0.1}\n"
        "learning: {rule: asym_ep, lr: 1, l1: 1.0e-4, l1_sign: before,\n"
        "           options: {separate_bias: true}}\n"
        "pruning: {enabled: true, threshold: 0.05, temperature: 0.2, start_epoch: 3, "
        "stop_epoch: 9, regrow: true, normaliser: column}\n"
        "training: {epochs: 12, batch_size: 1, seeds: 2, seed: 5, converged_mse: 0.02}\n"
    )
    cfg = config.load(write(tmp_path, text))
    data = cfg.to_dict()
    assert "base_dir" not in data
    assert data["network"]["hidden"] == [4, 2]
    assert data["learning"] == {
        "rule": "asym_ep",
        "lr": 1.0,
        "l1": 1e-4,
        "l1_sign": "before",
        "options": {"separate_bias": True},
        "schedule": "constant",
        "step_every": None,
        "step_factor": 0.5,
        "lr_min": 0.0,
    }
    assert (data["pruning"]["regrow"], data["pruning"]["normaliser"]) == (True, "column")
    again = config.from_dict(data, base_dir=cfg.base_dir)
    assert again == cfg
    assert again.to_dict() == data


def test_replace() -> None:
    cfg = config.from_dict({"task": {"name": "AND"}, "training": {"seeds": 3}})
    new = cfg.replace(training={"epochs": 5}, task={"name": "XOR"})
    assert new.training.epochs == 5 and new.training.seeds == 3
    assert new.task.name == "XOR"
    assert new.dynamics == cfg.dynamics
    assert cfg.training.epochs == 1500 and cfg.task.name == "AND"  # frozen original
    with pytest.raises(ConfigError, match="dynamics.dt"):
        cfg.replace(dynamics={"dt": -1.0})
    with pytest.raises(AttributeError):
        cfg.training.epochs = 3  # type: ignore[misc]


def test_from_dict_errors_name_source() -> None:
    with pytest.raises(ConfigError) as exc:
        config.from_dict({"task": {"name": "AND"}, "training": {"epochs": 0}}, source="x.yaml")
    assert str(exc.value).startswith("x.yaml: training.epochs = 0")


def test_engine_as_a_name_or_a_section(tmp_path: Path) -> None:
    short = deephw.load(write(tmp_path, "task: {name: AND}\nengine: brian2\n"))
    long = deephw.load(
        write(tmp_path, "task: {name: AND}\nengine: {name: brian2, target: numpy, tau_ns: 50}\n")
    )
    assert short.engine.name == long.engine.name == "brian2"
    assert (short.engine.target, long.engine.target, long.engine.tau_ns) == ("cython", "numpy", 50)


def test_circuit_noise_needs_the_brian2_engine(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "task: {name: AND}\nengine: {noise_sigma: 0.1}\n"))
    assert "engine.noise_sigma = 0.1" in message and "brian2" in message


def test_numbers_in_exponent_notation(tmp_path: Path) -> None:
    text = "task: {name: XOR}\nlearning: {lr: 1e-3, l1: 1.5e-4}\ndynamics: {dt: 5E-1}\n"
    cfg = config.load(write(tmp_path, text))
    assert (cfg.learning.lr, cfg.learning.l1, cfg.dynamics.dt) == (1e-3, 1.5e-4, 0.5)
    cfg = config.load(write(tmp_path, "task: {name: XOR}\ntraining: {epochs: 20}\n"))
    assert cfg.training.epochs == 20 and isinstance(cfg.training.epochs, int)


def test_duplicate_section_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "task: {name: XOR}\ntraining: {epochs: 5}\ntask: {name: AND}\n")
    assert load_error(path) == f"{path}: duplicate key 'task' at line 3 (first given at line 1)"


def test_missing_or_directory_config_names_the_file_once(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    assert load_error(missing) == f"{missing}: file does not exist"
    assert load_error(tmp_path) == f"{tmp_path}: is a directory, not a YAML file"


def test_invalid_yaml_config_is_one_line(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "task: {name: XOR\ntraining: {epochs: 5}\n"))
    assert "\n" not in message and "not valid YAML at line 2, column" in message


def test_base_dir_in_a_file_is_rejected_and_not_offered(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "task: {name: XOR}\nbase_dir: /etc\n"))
    assert "base_dir = '/etc': unknown key" in message
    assert "base_dir" not in message.partition("known:")[2]
