"""Supervised tasks: the built-in truth tables and CSV data sets with named columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deephw import ConfigError, tasks

TWO_BITS = [(0, 0), (0, 1), (1, 0), (1, 1)]
TABLES = {
    "AND": (TWO_BITS, [a & b for a, b in TWO_BITS]),
    "OR": (TWO_BITS, [a | b for a, b in TWO_BITS]),
    "XOR": (TWO_BITS, [a ^ b for a, b in TWO_BITS]),
    "NOT": ([(0,), (1,)], [1, 0]),
    "IDENTITY": ([(0,), (1,)], [0, 1]),
}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_builtin_truth_tables(name: str) -> None:
    task = tasks.builtin(name)
    x, y = TABLES[name]
    assert task.name == name
    np.testing.assert_array_equal(task.x, np.array(x, dtype=float))
    np.testing.assert_array_equal(task.y, np.array(y, dtype=float)[:, None])
    assert task.n_inputs == len(x[0]) and task.n_outputs == 1 and task.n_patterns == len(x)


@pytest.mark.parametrize("name", ["xor", "Xor", "xOR", "identity"])
def test_builtin_case_insensitive(name: str) -> None:
    task = tasks.builtin(name)
    assert task.name == name.upper()
    np.testing.assert_array_equal(task.y, tasks.builtin(name.upper()).y)


def test_builtin_returns_copies() -> None:
    first = tasks.builtin("AND")
    first.y[:] = 7.0
    np.testing.assert_array_equal(tasks.builtin("AND").y[:, 0], [0, 0, 0, 1])


def test_builtin_unknown() -> None:
    with pytest.raises(KeyError, match="NAND"):
        tasks.builtin("NAND")


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


def test_from_csv_named_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "id,b,a,t1,t2\n7,0.25,1,0,1\n8,0.5,0,1,0\n9,1,0.75,0.5,0.5\n")
    task = tasks.from_csv(path, ("a", "b"), ("t2", "t1"))
    assert task.name == "data"
    np.testing.assert_array_equal(task.x, [[1, 0.25], [0, 0.5], [0.75, 1]])
    np.testing.assert_array_equal(task.y, [[1, 0], [0, 1], [0.5, 0.5]])
    assert (task.n_inputs, task.n_outputs, task.n_patterns) == (2, 2, 3)


@pytest.mark.parametrize(
    ("text", "where", "value"),
    [
        ("a,y\n0,1\n1.5,0\n", "line 3, column a", "1.5"),
        ("a,y\n0,1\n1,-0.5\n", "line 3, column y", "-0.5"),
        ("a,y\n0,1\n1,0\n0,2\n", "line 4, column y", "2.0"),
        ("a,y\n0,yes\n", "line 2, column y", "'yes'"),
        ("a,y\n0,1\n,0\n", "line 3, column a", "''"),
        ("a,y\n0,inf\n", "line 2, column y", "inf"),
    ],
)
def test_from_csv_bad_cells(tmp_path: Path, text: str, where: str, value: str) -> None:
    path = write_csv(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        tasks.from_csv(path, ("a",), ("y",))
    message = str(exc.value)
    assert str(path) in message and f"{where} = " in message, message
    assert value in message.split(f"{where} = ")[1], message


def test_from_csv_out_of_range_value_reads_plainly(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "a,y\n1.5,0\n")
    with pytest.raises(ConfigError) as exc:
        tasks.from_csv(path, ("a",), ("y",))
    assert "line 2, column a = 1.5: must be in [0, 1]" in str(exc.value)


def test_from_csv_nan_cell(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "a,y\n0,1\nnan,0\n")
    with pytest.raises(ConfigError) as exc:
        tasks.from_csv(path, ("a",), ("y",))
    assert "line 3, column a" in str(exc.value)


@pytest.mark.parametrize(
    ("inputs", "targets", "key"),
    [(("c",), ("y",), "task.inputs"), (("a",), ("z",), "task.targets")],
)
def test_from_csv_unknown_column(
    tmp_path: Path, inputs: tuple[str, ...], targets: tuple[str, ...], key: str
) -> None:
    path = write_csv(tmp_path, "a,y\n0,1\n")
    with pytest.raises(ConfigError) as exc:
        tasks.from_csv(path, inputs, targets, source="run.yaml")
    message = str(exc.value)
    missing = (inputs + targets)[0] if key == "task.inputs" else targets[0]
    assert "run.yaml" in message and key in message and repr(missing) in message
    assert str(path) in message


def test_from_csv_empty_and_missing(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "a,y\n")
    with pytest.raises(ConfigError, match="no data rows") as exc:
        tasks.from_csv(path, ("a",), ("y",))
    assert str(path) in str(exc.value)
    with pytest.raises(ConfigError, match="task.inputs") as exc:
        tasks.from_csv(write_csv(tmp_path, "a,y\n0,1\n"), (), ("y",))
    missing = tmp_path / "gone.csv"
    with pytest.raises(ConfigError, match="does not exist") as exc:
        tasks.from_csv(missing, ("a",), ("y",))
    assert str(missing) in str(exc.value)


# -- hostile CSV files: one line naming the file and the line -----------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"a,y\n0,1\n0,1,1\n", "line 3: 3 fields, but the header has 2"),
        (b"a,y\n0,1\n1\n", "line 3: 1 fields, but the header has 2"),
        (b"a,y\n0,1\n1,\xff\xfe0\n", "line 3: byte b'\\xff' is not UTF-8 text"),
        (b'a,y\n0,1\n\n1,0\n"' + b"9" * 131073 + b'",0\n', "line 5: a field is longer than 131072"),
        (b"a,y\n0,\x001\n", "line 2: a NUL character"),
        (b"a,y\n0,z1\n", "line 2, column y = 'z1': must be a number"),
        (b"", "empty CSV file (no header row)"),
    ],
)
def test_from_csv_malformed_file_is_one_line(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as exc:
        tasks.from_csv(path, ("a",), ("y",), source="run.yaml")
    message = str(exc.value)
    assert message.startswith(f"{path}: ") and reason in message, message
    assert "\n" not in message and len(message) < len(str(path)) + 300


def test_from_csv_line_numbers_count_blank_lines_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes("\ufeffa,y\n0,1\n\n\n0,x\n".encode())
    with pytest.raises(ConfigError) as exc:
        tasks.from_csv(path, ("a",), ("y",))
    assert "line 5, column y = 'x': must be a number" in str(exc.value)
    path.write_bytes("\ufeffa,y\n0,1\n\n1,0\n".encode())
    task = tasks.from_csv(path, ("a",), ("y",))
    np.testing.assert_array_equal(task.x[:, 0], [0, 1])


def test_from_csv_refuses_an_ambiguous_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "a,y,a\n0,1,1\n")
    with pytest.raises(ConfigError) as exc:
        tasks.from_csv(path, ("a",), ("y",), source="run.yaml")
    assert str(exc.value) == f"{path}: line 1 = 'a': column named twice in the header"


def test_from_csv_quotes_a_long_header_briefly(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path, ",".join(f"column_{k}" for k in range(5000)) + "\n" + "0," * 4999 + "0\n"
    )
    with pytest.raises(ConfigError) as exc:
        tasks.from_csv(path, ("a",), ("column_1",), source="run.yaml")
    message = str(exc.value)
    assert "<list of 5000 items>" in message and len(message) < 400, message
