"""Reading YAML (floats, duplicate keys, one-line errors), error messages, internal fields."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from deephw import topology
from deephw.devices.cards import card_to_yaml, check_card, load_card
from deephw.errors import ConfigError
from deephw.validation import build, check, read_yaml


def write(tmp_path: Path, text: str, name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def read_error(path: Path) -> str:
    with pytest.raises(ConfigError) as exc:
        read_yaml(path)
    return str(exc.value)


# -- floats as in YAML 1.2 ---------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e-3", 1e-3),
        ("1e6", 1e6),
        ("-1E-3", -1e-3),
        ("+2e+2", 200.0),
        ("1.0e5", 1e5),
        ("1.5e-4", 1.5e-4),
        (".5", 0.5),
        ("+.5e1", 5.0),
        ("5.", 5.0),
        ("0.25", 0.25),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
        ("+.INF", math.inf),
    ],
)
def test_yaml_12_floats_are_numbers(tmp_path: Path, text: str, value: float) -> None:
    got = read_yaml(write(tmp_path, f"x: {text}\n"))["x"]
    assert isinstance(got, float) and got == value


def test_nan_is_a_float(tmp_path: Path) -> None:
    got = read_yaml(write(tmp_path, "x: .nan\n"))["x"]
    assert isinstance(got, float) and math.isnan(got)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1), ("-3", -3), ("+7", 7), ("0", 0), ("1_000", 1000), ("0x1f", 31), ("1500", 1500)],
)
def test_integers_stay_integers(tmp_path: Path, text: str, value: int) -> None:
    got = read_yaml(write(tmp_path, f"x: {text}\n"))["x"]
    assert type(got) is int and got == value


@pytest.mark.parametrize("text", ["e5", "1e", ".e5", "1e-", "ee", ".", "1.2.3", "08", "v1e3"])
def test_strings_that_are_not_numbers_stay_strings(tmp_path: Path, text: str) -> None:
    assert read_yaml(write(tmp_path, f"x: {text}\n"))["x"] == text


def test_quoted_numbers_stay_strings(tmp_path: Path) -> None:
    assert read_yaml(write(tmp_path, "x: '1e-3'\n"))["x"] == "1e-3"


def test_pyyaml_safe_loader_is_not_changed(tmp_path: Path) -> None:
    read_yaml(write(tmp_path, "x: 1e-3\n"))
    assert yaml.safe_load("1e-3") == "1e-3"


def test_learning_rate_in_exponent_notation_loads(tmp_path: Path) -> None:
    from deephw import config

    path = write(tmp_path, "task: {name: XOR}\nlearning: {lr: 1e-3, l1: 2e-4}\n")
    loaded = config.load(path)
    assert loaded.learning.lr == 1e-3 and loaded.learning.l1 == 2e-4


# -- duplicate keys ----------------------------------------------------------------
def test_duplicate_top_level_key_names_file_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "task: {name: XOR}\nlearning: {lr: 1}\ntask: {name: AND}\n")
    message = read_error(path)
    assert message == f"{path}: duplicate key 'task' at line 3 (first given at line 1)"


def test_duplicate_nested_key_gives_its_dotted_path(tmp_path: Path) -> None:
    path = write(tmp_path, "task: {name: XOR}\nlearning:\n  lr: 1\n  l1: 0\n  lr: 2\n")
    message = read_error(path)
    assert message == f"{path}: duplicate key 'learning.lr' at line 5 (first given at line 3)"


def test_duplicate_key_on_one_line_and_inside_a_list(tmp_path: Path) -> None:
    assert "duplicate key 'a'" in read_error(write(tmp_path, "{a: 1, a: 2}\n"))
    message = read_error(write(tmp_path, "runs:\n  - {x: 1}\n  - x: 1\n    x: 2\n"))
    assert "duplicate key 'runs[1].x' at line 4" in message


def test_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    text = "base: &b {lr: 1, l1: 0}\nlearning:\n  <<: *b\n  lr: 2\n"
    data = read_yaml(write(tmp_path, text))
    assert data["learning"] == {"lr": 2, "l1": 0}


def test_same_key_in_different_mappings_is_fine(tmp_path: Path) -> None:
    data = read_yaml(write(tmp_path, "a: {name: 1}\nb: {name: 2}\n"))
    assert data == {"a": {"name": 1}, "b": {"name": 2}}


# -- one-line errors ---------------------------------------------------------------
def test_invalid_yaml_is_one_line_with_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "task: {name: XOR\nlearning: 1\n")
    message = read_error(path)
    assert "\n" not in message
    assert re.fullmatch(
        re.escape(f"{path}: not valid YAML at line 2, column ") + r"\d+: .+", message
    ), message
    assert "expected ',' or '}'" in message


def test_bad_indentation_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "task:\n  name: XOR\n bad: 1\n")
    message = read_error(path)
    assert "\n" not in message
    assert message.startswith(f"{path}: not valid YAML at line 3, column ")


def test_tabs_are_one_line(tmp_path: Path) -> None:
    message = read_error(write(tmp_path, "task:\n\tname: XOR\n"))
    assert "\n" not in message and "not valid YAML at line 2" in message


def test_directory_is_named_as_such(tmp_path: Path) -> None:
    assert read_error(tmp_path) == f"{tmp_path}: is a directory, not a YAML file"


def test_missing_file_is_named_once(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    assert read_error(path) == f"{path}: file does not exist"


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- 1\n- 2\n")
    message = read_error(path)
    assert message == f"{path}: the top level must be a mapping of keys to values, not a list"


def test_empty_file_is_an_empty_mapping(tmp_path: Path) -> None:
    assert read_yaml(write(tmp_path, "# nothing\n")) == {}


def test_config_load_uses_the_same_errors(tmp_path: Path) -> None:
    from deephw import config

    with pytest.raises(ConfigError) as exc:
        config.load(tmp_path)
    assert str(exc.value) == f"{tmp_path}: is a directory, not a YAML file"
    path = write(tmp_path, "task: {name: XOR}\ntask: {name: OR}\n")
    with pytest.raises(ConfigError, match="duplicate key 'task' at line 2"):
        config.load(path)


# -- device cards and adjacency files go through read_yaml --------------------------
def test_card_errors_match_run_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        check_card(tmp_path)
    assert str(exc.value) == f"{tmp_path}: is a directory, not a YAML file"
    bad = write(tmp_path, "name: x\nsource: y\nsource: z\n", "dup.yaml")
    with pytest.raises(ConfigError) as exc:
        check_card(bad)
    assert str(exc.value) == f"{bad}: duplicate key 'source' at line 3 (first given at line 2)"
    broken = write(tmp_path, "cell: {kind: pair\n", "broken.yaml")
    with pytest.raises(ConfigError) as exc:
        check_card(broken)
    assert "\n" not in str(exc.value) and "not valid YAML at line" in str(exc.value)


def test_card_reads_exponent_floats(tmp_path: Path) -> None:
    text = card_to_yaml(load_card("ideal"))
    text, count = re.subn(r"(?m)^(\s*g_ref_uS:).*$", r"\1 1e1", text)
    assert count == 1
    card = check_card(write(tmp_path, text, "ideal_copy.yaml"))
    assert card.cell.g_ref_uS == 10.0


def test_adjacency_yaml_errors_are_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "edges: [[0, 3],\n", "graph.yaml")
    with pytest.raises(ConfigError) as exc:
        topology.from_adjacency(2, 1, 1, path)
    assert "\n" not in str(exc.value) and str(exc.value).startswith(f"{path}: not valid YAML")
    dup = write(tmp_path, "edges: [[0, 3]]\nedges: [[1, 3]]\n", "dup.yaml")
    with pytest.raises(ConfigError, match="duplicate key 'edges' at line 2"):
        topology.from_adjacency(2, 1, 1, dup)


# -- ConfigError wording -----------------------------------------------------------
def test_config_error_without_field_does_not_repeat_the_value() -> None:
    assert str(ConfigError("missing.yaml", "", "missing.yaml", "file does not exist")) == (
        "missing.yaml: file does not exist"
    )
    assert str(ConfigError("", "", 3, "something is wrong")) == "something is wrong"


def test_config_error_with_field_names_field_and_value() -> None:
    error = ConfigError("run.yaml", "dynamics.dt", -0.5, "must be > 0")
    assert str(error) == "run.yaml: dynamics.dt = -0.5: must be > 0"
    assert (error.source, error.field, error.value, error.reason) == (
        "run.yaml",
        "dynamics.dt",
        -0.5,
        "must be > 0",
    )
    assert str(ConfigError("", "scheme", "x", "bad")) == "scheme = 'x': bad"


def test_file_level_errors_in_tasks_and_topology_read_well(tmp_path: Path) -> None:
    from deephw import tasks

    empty = write(tmp_path, "a,b\n", "empty.csv")
    with pytest.raises(ConfigError) as exc:
        tasks.from_csv(empty, ("a",), ("b",))
    assert str(exc.value) == f"{empty}: CSV has no data rows"
    matrix = write(tmp_path, "0 1\nx y\n", "graph.txt")
    with pytest.raises(ConfigError) as exc:
        topology.from_adjacency(0, 0, 1, matrix)
    assert str(exc.value).startswith(f"{matrix}: cannot read the matrix (")


# -- internal fields ---------------------------------------------------------------
@dataclass(frozen=True)
class Inner:
    depth: int = field(default=1, metadata=check(ge=0))
    origin: str = field(default="", metadata=check(internal=True, doc="set by the program"))


@dataclass(frozen=True)
class Outer:
    name: str = "x"
    rate: float = field(default=1.0, metadata=check(gt=0))
    inner: Inner = Inner()
    home: str = field(default=".", metadata=check(internal=True, doc="set by the program"))


def test_check_records_internal() -> None:
    assert check(internal=True)["internal"] is True
    assert check()["internal"] is False


def test_internal_fields_are_not_listed_as_known_keys() -> None:
    with pytest.raises(ConfigError) as exc:
        build(Outer, {"nmae": "y"}, "run.yaml")
    message = str(exc.value)
    assert message == "run.yaml: nmae = 'y': unknown key (known: inner, name, rate)"
    with pytest.raises(ConfigError) as exc:
        build(Outer, {"inner": {"deep": 2}}, "run.yaml")
    assert str(exc.value).endswith("unknown key (known: depth)")


def test_internal_fields_from_a_file_are_rejected() -> None:
    with pytest.raises(ConfigError) as exc:
        build(Outer, {"home": "/etc"}, "run.yaml", internal={})
    assert str(exc.value) == "run.yaml: home = '/etc': unknown key (known: inner, name, rate)"
    with pytest.raises(ConfigError) as exc:
        build(Outer, {"inner": {"origin": "me"}}, "run.yaml", internal={"home": "/data"})
    assert "inner.origin = 'me': unknown key (known: depth)" in str(exc.value)


def test_internal_values_come_from_the_program() -> None:
    built = build(
        Outer, {"rate": 2.0, "inner": {"depth": 3}}, internal={"home": "/d", "inner.origin": "o"}
    )
    assert built == Outer(rate=2.0, inner=Inner(depth=3, origin="o"), home="/d")
    # a dotted value reaches a section the file left out
    assert build(Outer, {}, internal={"inner.origin": "o"}).inner == Inner(origin="o")
    assert build(Outer, {}, internal={}).home == "."


def test_trusted_python_data_may_carry_internal_fields() -> None:
    built = build(Outer, {"home": "/d", "inner": {"origin": "o"}})
    assert built.home == "/d" and built.inner.origin == "o"


def test_internal_values_are_only_for_internal_fields() -> None:
    with pytest.raises(TypeError, match="Outer.name is not a field marked internal"):
        build(Outer, {}, internal={"name": "z"})
