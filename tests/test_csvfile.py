"""The shared CSV reader: UTF-8, bounded fields, ragged rows, line numbers, numbers."""

from __future__ import annotations

import numpy as np
import pytest

from deephw.csvfile import FIELD_LIMIT, numeric_columns, read_csv_table
from deephw.errors import ConfigError


def write(tmp_path, text: str | bytes, name: str = "data.csv"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_reads_header_rows_and_line_numbers(tmp_path):
    path = write(tmp_path, '\ufeffa, b\n1,2\n\n3,"4\n5"\n6,7\n')
    header, rows = read_csv_table(path)
    assert header == ["a", "b"]
    assert rows == [["1", "2"], ["3", "4\n5"], ["6", "7"]]
    assert rows.lines == [2, 4, 6]


def test_numeric_columns_converts_and_names_line_and_column(tmp_path):
    path = write(tmp_path, "a,b\n1,2.5\n\n3,x\n")
    header, rows = read_csv_table(path)
    assert numeric_columns(path, header, rows, ["a"])["a"].tolist() == [1.0, 3.0]
    with pytest.raises(ConfigError) as info:
        numeric_columns(path, header, rows, ["a", "b"])
    assert str(info.value) == f"{path}: line 4, column b = 'x': must be a number"


def test_numeric_columns_refuses_nan_and_inf_unless_allowed(tmp_path):
    path = write(tmp_path, "a\n1\nnan\n-inf\n")
    header, rows = read_csv_table(path)
    with pytest.raises(ConfigError, match=r"line 3, column a = 'nan': must be finite"):
        numeric_columns(path, header, rows, ["a"])
    values = numeric_columns(path, header, rows, ["a"], finite=False)["a"]
    assert values[0] == 1 and np.isnan(values[1]) and values[2] == -np.inf


def test_numeric_columns_missing_column_lists_header(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n")
    header, rows = read_csv_table(path, source="run.yaml")
    with pytest.raises(ConfigError) as info:
        numeric_columns(path, header, rows, ["c"], source="run.yaml")
    expected = "column = 'c': no such column (the header has ['a', 'b'])"
    assert str(info.value) == f"run.yaml: {path}: {expected}"


def test_refuses_non_utf8_naming_the_line(tmp_path):
    path = write(tmp_path, b"a,b\n1,2\n3,\xe9\n")
    with pytest.raises(ConfigError) as info:
        read_csv_table(path)
    assert str(info.value).startswith(f"{path}: line 3: byte b'\\xe9' is not UTF-8 text")


def test_refuses_a_field_over_the_limit(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n3," + "9" * (FIELD_LIMIT + 1) + "\n")
    with pytest.raises(ConfigError) as info:
        read_csv_table(path)
    message = str(info.value)
    assert message == f"{path}: line 3: a field is longer than 131072 characters"
    assert len(message) < 300


def test_a_field_at_the_limit_is_read(tmp_path):
    path = write(tmp_path, "a\n" + "9" * FIELD_LIMIT + "\n")
    assert len(read_csv_table(path)[1][0][0]) == FIELD_LIMIT


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a,b\n1,2\n3,4,5\n", "line 3: 3 fields, but the header has 2"),
        ("a,b\n1\n", "line 2: 1 fields, but the header has 2"),
        ("", "empty CSV file (no header row)"),
        ("\n\n", "empty CSV file (no header row)"),
        ("a,b\n", "CSV has no data rows"),
        ("a,a\n1,2\n", "line 1 = 'a': column named twice in the header"),
        ("a,\n1,2\n", "line 1 = ['a', '']: blank column name in the header"),
        ("a\n1\0\n", "line 2: a NUL character (not a text file)"),
        ('a\n"1"x"\n', "line 2: not a valid CSV line"),
        ('a\n"1\n', "line 2: not a valid CSV line (unexpected end of data)"),
    ],
)
def test_refuses_malformed_tables(tmp_path, text, reason):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        read_csv_table(path)
    assert reason in str(info.value)
    assert str(info.value).startswith(str(path))


def test_refuses_missing_file_and_directory(tmp_path):
    with pytest.raises(ConfigError, match="file does not exist"):
        read_csv_table(tmp_path / "nope.csv")
    with pytest.raises(ConfigError, match="is a directory, not a CSV file"):
        read_csv_table(tmp_path)
