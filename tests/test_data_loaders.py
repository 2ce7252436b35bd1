"""Data sets: the built-in digits and the CSV, NPZ and IDX loaders, on good and bad files.

Every bad file must give one line naming the file (and, where there is one, the field,
line or index), never a traceback or an allocation past the machine's memory.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pytest

from deephw.budget import BudgetError
from deephw.cli import main
from deephw.data import digits, source
from deephw.data.csvdata import Columns, read_csv_task
from deephw.data.files import Reading, idx_task, npz_task
from deephw.data.idx import idx_bytes, read_idx
from deephw.errors import ConfigError, DeephwError

# -- digits ------------------------------------------------------------------------


def test_digits_split_is_fixed_stratified_and_scaled() -> None:
    train, test = digits.load()
    assert (train.n_patterns, test.n_patterns) == (1347, 450)
    assert (train.n_inputs, train.n_outputs) == (64, 10)
    assert train.x.min() == 0.0 and train.x.max() == 1.0
    assert np.all(train.y.sum(axis=1) == 1) and set(np.unique(train.y)) == {0.0, 1.0}
    per_class = test.y.sum(axis=0)
    whole = per_class + train.y.sum(axis=0)
    # each class gives the test set its share of 450, within one image
    assert np.all(np.abs(per_class - whole * 450 / 1797) < 1)
    again_train, again_test = digits.load()
    np.testing.assert_array_equal(train.x, again_train.x)
    np.testing.assert_array_equal(test.y, again_test.y)
    # no image is in both parts
    rows = {row.tobytes() + label.tobytes() for row, label in zip(test.x, test.y, strict=True)}
    both = [r.tobytes() + y.tobytes() in rows for r, y in zip(train.x, train.y, strict=True)]
    assert sum(both) <= 5  # the data set itself repeats a few images


def test_stratified_split_takes_largest_remainders() -> None:
    labels = np.array([0] * 5 + [1] * 3 + [2] * 2)
    train, test = digits.stratified_split(labels, 4, seed=1)
    assert len(test) == 4 and len(train) == 6
    assert sorted(np.bincount(labels[test], minlength=3)) == [1, 1, 2]
    assert set(train).isdisjoint(test)


# -- IDX ---------------------------------------------------------------------------


def write_idx(path: Path, values: np.ndarray, zipped: bool = False) -> Path:
    data = idx_bytes(values)
    path.write_bytes(gzip.compress(data) if zipped else data)
    return path


def small_images(n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (n, 4, 4), dtype=np.uint8), np.arange(n, dtype=np.uint8) % 3


@pytest.mark.parametrize("zipped", [False, True])
def test_idx_images_and_labels(tmp_path: Path, zipped: bool) -> None:
    images, labels = small_images()
    suffix = ".gz" if zipped else ""
    x = write_idx(tmp_path / f"img-idx3-ubyte{suffix}", images, zipped)
    y = write_idx(tmp_path / f"lab-idx1-ubyte{suffix}", labels, zipped)
    task = idx_task(x, y, Reading(), "task.idx")
    np.testing.assert_allclose(task.x, images.reshape(6, 16) / 255.0)
    np.testing.assert_array_equal(task.y, np.eye(3)[labels])
    np.testing.assert_array_equal(read_idx(y, dims=(1,)), labels)


def test_idx_downsampling_averages_blocks_and_scale_divides(tmp_path: Path) -> None:
    images = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    x = write_idx(tmp_path / "img", images)
    y = write_idx(tmp_path / "lab", np.array([0, 1], dtype=np.uint8))
    task = idx_task(x, y, Reading(scale=100.0, downsample=2), "task.idx")
    expected = images.reshape(2, 2, 2, 2, 2).mean(axis=(2, 4)).reshape(2, 4) / 100.0
    np.testing.assert_allclose(task.x, expected)
    with pytest.raises(ConfigError, match="4x4 images do not split into 3x3 blocks") as exc:
        idx_task(x, y, Reading(downsample=3), "task.idx")
    assert str(x) in str(exc.value)


def test_idx_other_value_types_round_trip(tmp_path: Path) -> None:
    for dtype in (np.int8, np.int16, np.int32, np.float32, np.float64):
        values = np.arange(12, dtype=dtype).reshape(3, 4)
        path = write_idx(tmp_path / f"v-{np.dtype(dtype).name}", values)
        got = read_idx(path, dims=(2,))
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, values)


def _header(code: int, dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(dims)]) + np.asarray(dims, ">u4").tobytes()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"PK\x03\x04rest", "magic number = '504b0304': not an IDX file"),
        (b"\0\0", "not an IDX file"),
        (b"", "not an IDX file"),
        (_header(0x07, (2,)) + b"\0\0", "not an IDX file"),
        (_header(0x08, (2, 2, 2, 2)) + bytes(16), "dimensions = 4: expected 2 or 3"),
        (_header(0x08, (3, 2, 2)) + bytes(11), "truncated: shape (3, 2, 2) needs 12 bytes"),
        (_header(0x08, (3, 2, 2))[:8], "truncated: the header needs 12 bytes"),
        (_header(0x08, (3, 2, 2)) + bytes(13), "holds more bytes than its shape"),
        (b"\x1f\x8b\x08\x00garbage-not-deflate", "not a readable gzip file"),
    ],
)
def test_idx_bad_files_are_one_line(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as exc:
        read_idx(path, dims=(2, 3))
    message = str(exc.value)
    assert message.startswith(f"{path}: ") and reason in message, message
    assert "\n" not in message


@pytest.mark.parametrize("zipped", [False, True])
def test_idx_huge_declared_size_is_refused_before_allocating(tmp_path: Path, zipped: bool) -> None:
    data = _header(0x08, (60000, 65535, 65535)) + bytes(64)
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(gzip.compress(data) if zipped else data)
    with pytest.raises(BudgetError) as exc:
        read_idx(path, dims=(3,))
    message = str(exc.value)
    assert message.startswith(f"{path}: task.idx (declared shape) = (60000, 65535, 65535)")
    assert "memory" in message


def test_idx_images_and_labels_must_pair_up(tmp_path: Path) -> None:
    images, labels = small_images(6)
    x = write_idx(tmp_path / "img", images)
    y = write_idx(tmp_path / "lab", labels[:5])
    with pytest.raises(ConfigError) as exc:
        idx_task(x, y, Reading(), "task.idx")
    message = str(exc.value)
    assert str(x) in message and str(y) in message
    assert "6 samples of inputs but 5 of labels" in message


def test_idx_labels_outside_the_classes_name_the_labels_file(tmp_path: Path) -> None:
    images, _ = small_images(3)
    x = write_idx(tmp_path / "img", images)
    y = write_idx(tmp_path / "lab", np.array([0, 7, 1], dtype=np.uint8))
    with pytest.raises(ConfigError) as exc:
        idx_task(x, y, Reading(classes=3), "task.idx")
    assert str(exc.value) == f"{y}: labels[1] = 7: outside the classes 0..2"


def test_idx_float_images_outside_unit_range_ask_for_a_scale(tmp_path: Path) -> None:
    x = write_idx(tmp_path / "img", np.full((2, 2, 2), 3.0, dtype=np.float32))
    y = write_idx(tmp_path / "lab", np.array([0, 1], dtype=np.uint8))
    with pytest.raises(ConfigError) as exc:
        idx_task(x, y, Reading(), "task.idx")
    message = str(exc.value)
    assert message.startswith(f"{x}: images[0, 0] = 3.0: inputs must be in [0, 1]")
    assert "task.scale" in message
    assert idx_task(x, y, Reading(scale=3.0), "task.idx").x.max() == 1.0


# -- NPZ ---------------------------------------------------------------------------


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())
    return path


def test_npz_x_y_with_labels_and_with_targets(tmp_path: Path) -> None:
    x = np.array([[0.0, 0.5], [1.0, 0.25], [0.5, 0.5]])
    path = write_npz(tmp_path / "d.npz", x=x, y=np.array([2, 0, 1]))
    task = npz_task(path, Reading())
    np.testing.assert_array_equal(task.x, x)
    np.testing.assert_array_equal(task.y, np.eye(3)[[2, 0, 1]])
    path = write_npz(tmp_path / "t.npz", x=x, y=np.array([[0.0], [1.0], [0.5]]))
    np.testing.assert_array_equal(npz_task(path, Reading()).y, [[0.0], [1.0], [0.5]])


def test_npz_train_and_test_arrays_and_images(tmp_path: Path) -> None:
    images = np.arange(4 * 2 * 2, dtype=np.uint8).reshape(4, 2, 2) * 10
    path = write_npz(
        tmp_path / "mnist.npz",
        x_train=images,
        y_train=np.array([0, 1, 1, 0], dtype=np.uint8),
        x_test=images[:2],
        y_test=np.array([1, 0], dtype=np.uint8),
    )
    train = npz_task(path, Reading(downsample=2))
    assert train.x.shape == (4, 1)
    np.testing.assert_allclose(train.x[:, 0], images.mean(axis=(1, 2)) / 255.0)
    test = npz_task(path, Reading(classes=2), "test")
    np.testing.assert_array_equal(test.y, [[0, 1], [1, 0]])


@pytest.mark.parametrize(
    ("arrays", "reason"),
    [
        ({"a": np.zeros(2)}, "needs arrays x and y or x_train and y_train; it holds ['a']"),
        ({"x": np.zeros((2, 1)), "y": np.array([0.0, 1.5])}, "y[1] = 1.5: not a class number"),
        ({"x": np.zeros((2, 1)), "y": np.array([0, -1])}, "y[1] = -1: labels must be >= 0"),
        ({"x": np.zeros((3, 1)), "y": np.array([0, 1])}, "3 samples of inputs but 2 of labels"),
        ({"x": np.full((2, 1), np.nan), "y": np.array([0, 1])}, "x[0, 0] = nan: must be finite"),
        ({"x": np.full((2, 1), 2.0), "y": np.array([0, 1])}, "must be in [0, 1]"),
        ({"x": np.zeros(2), "y": np.array([0, 1])}, "inputs must be (samples, features)"),
        ({"x": np.zeros((2, 1)), "y": np.zeros((2, 1, 1))}, "must be class labels"),
        ({"x": np.zeros((2, 1)), "y": np.array([[0.0], [2.0]])}, "y[1, 0] = 2.0: must be in"),
        ({"x": np.zeros((0, 1)), "y": np.zeros(0, dtype=int)}, "holds no samples"),
    ],
)
def test_npz_bad_contents_are_one_line(tmp_path: Path, arrays: dict, reason: str) -> None:
    path = write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ConfigError) as exc:
        npz_task(path, Reading())
    message = str(exc.value)
    assert message.startswith(str(path)) and reason in message, message


def test_npz_refuses_pickles_and_damaged_archives(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "p.npz", x=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    with pytest.raises(ConfigError, match="holds object values, not numbers") as exc:
        npz_task(path, Reading())
    assert str(path) in str(exc.value)
    damaged = tmp_path / "d.npz"
    damaged.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ConfigError, match="not a readable NPZ file"):
        npz_task(damaged, Reading())
    empty = tmp_path / "e.npz"
    empty.write_bytes(b"")
    with pytest.raises(DeephwError, match="file is empty"):
        npz_task(empty, Reading())


# -- CSV ---------------------------------------------------------------------------


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_inputs_by_range_and_integer_labels(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "id,p0,p1,p2,digit\n9,0,0.5,1,2\n8,1,0.25,0,0\n")
    task = read_csv_task(path, Columns(inputs="p0:p2", label="digit"))
    np.testing.assert_array_equal(task.x, [[0, 0.5, 1], [1, 0.25, 0]])
    np.testing.assert_array_equal(task.y, [[0, 0, 1], [1, 0, 0]])
    wider = read_csv_task(path, Columns(inputs="p1:p2", label="digit", classes=5))
    assert wider.y.shape == (2, 5) and wider.n_inputs == 2


def test_csv_all_but_the_label_and_a_scale(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "a,label,b\n255,1,0\n51,0,102\n")
    task = read_csv_task(path, Columns(label="label", scale=255.0))
    np.testing.assert_allclose(task.x, [[1, 0], [0.2, 0.4]])
    np.testing.assert_array_equal(task.y, [[0, 1], [1, 0]])


@pytest.mark.parametrize(
    ("text", "columns", "reason"),
    [
        ("a,l\n0,1.5\n", Columns(label="l"), "line 2, column l = '1.5': must be a class number"),
        ("a,l\n0,-1\n", Columns(label="l"), "line 2, column l = '-1': must be a class number"),
        ("a,l\n0,4\n", Columns(label="l", classes=3), "line 2, column l = 4: outside the classes"),
        ("a,l\n0,x\n", Columns(label="l"), "line 2, column l = 'x': must be a number"),
        ("a,l\n2,1\n", Columns(label="l"), "line 2, column a = 2.0: must be in [0, 1]"),
        ("a,l\n300,1\n", Columns(label="l", scale=255), "must be in [0, 255] (task.scale)"),
        ("a,b,l\n0,0,1\n", Columns(inputs="b:a", label="l"), "'a' comes before 'b'"),
        ("a,b,l\n0,0,1\n", Columns(inputs="a", label="l"), "a range is FIRST:LAST"),
        ("a,b,l\n0,0,1\n", Columns(inputs="a:z", label="l"), "task.inputs = 'z': no such column"),
        ("a,b,l\n0,0,1\n", Columns(inputs=("a", "l"), label="l"), "both an input and a target"),
        ("a,b,l\n0,0,1\n", Columns(label="m"), "task.label = 'm': no such column"),
        ("a,b,l\n0,0,1\n", Columns(), "name the target columns (task.targets) or a label"),
    ],
)
def test_csv_bad_columns_and_values_are_one_line(
    tmp_path: Path, text: str, columns: Columns, reason: str
) -> None:
    path = write_csv(tmp_path / "d.csv", text)
    with pytest.raises(ConfigError) as exc:
        read_csv_task(path, columns)
    message = str(exc.value)
    assert message.startswith(f"{path}: ") and reason in message, message


def test_csv_too_large_for_memory_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(tmp_path / "d.csv", "a,l\n" + "0,1\n" * 1000)
    monkeypatch.setattr("deephw.budget.physical_memory_bytes", lambda: 100_000)
    with pytest.raises(BudgetError) as exc:
        read_csv_task(path, Columns(label="l"))
    assert str(exc.value).startswith(f"{path}: file size = (4004,): needs about")


# -- through a run config and the CLI -------------------------------------------------


def test_config_sections_load_train_and_test_files(tmp_path: Path) -> None:
    from deephw import config as config_module

    images, labels = small_images(6)
    write_idx(tmp_path / "train-images.gz", images, zipped=True)
    write_idx(tmp_path / "train-labels.gz", labels, zipped=True)
    write_idx(tmp_path / "test-images", images[:3])
    write_idx(tmp_path / "test-labels", labels[:3])
    (tmp_path / "run.yaml").write_text(
        "task: {idx: train-images.gz, labels: train-labels.gz, test: test-images,\n"
        "       test_labels: test-labels, downsample: 2}\n"
    )
    config = config_module.load(tmp_path / "run.yaml")
    assert config.task.accuracy == "argmax"
    data = source.load(config.task, config.resolve, str(tmp_path / "run.yaml"))
    assert (data.train.n_patterns, data.test.n_patterns) == (6, 3)
    assert data.train.n_inputs == data.test.n_inputs == 4
    assert data.train.n_outputs == data.test.n_outputs == 3


def test_test_data_with_more_classes_than_training_is_refused(tmp_path: Path) -> None:
    from deephw import config as config_module

    write_csv(tmp_path / "train.csv", "a,l\n0,0\n1,1\n")
    write_csv(tmp_path / "test.csv", "a,l\n0,0\n1,2\n")
    (tmp_path / "run.yaml").write_text("task: {csv: train.csv, label: l, test: test.csv}\n")
    config = config_module.load(tmp_path / "run.yaml")
    with pytest.raises(ConfigError) as exc:
        source.load(config.task, config.resolve)
    assert str(exc.value).startswith(f"{tmp_path / 'test.csv'}: line 3, column l = 2: outside")


def test_train_with_a_bad_idx_file_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images, labels = small_images(6)
    write_idx(tmp_path / "img", images)
    (tmp_path / "lab").write_bytes(_header(0x08, (6,)) + bytes(4))  # truncated
    (tmp_path / "run.yaml").write_text("task: {idx: img, labels: lab}\ntraining: {epochs: 1}\n")
    out = tmp_path / "out"
    assert main(["train", str(tmp_path / "run.yaml"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert f"{tmp_path / 'lab'}: truncated: shape (6,) needs 6 bytes, the file holds 4" in err
    assert not out.exists()
