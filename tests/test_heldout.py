"""Held-out evaluation, learning-rate schedules and confusion matrices.

Test data never changes training (evaluations draw from their own stream and read the
devices without a chip operation); a schedule left at ``constant`` leaves a run
bit-identical; ``deephw eval --data`` reproduces the summary's test accuracy.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from deephw import config as config_module
from deephw import training
from deephw.cli import main
from deephw.confusion import confusion_counts, confusion_csv
from deephw.errors import ConfigError
from deephw.schedule import learning_rate

BLOBS = "a,b,label\n0.1,0.2,0\n0.9,0.8,1\n0.2,0.1,0\n0.8,0.9,1\n0.15,0.3,0\n0.7,0.85,1\n"
HELD = "a,b,label\n0.05,0.25,0\n0.95,0.75,1\n0.3,0.2,0\n"


def write_run(tmp_path: Path, extra: str = "", task: str = "") -> Path:
    (tmp_path / "train.csv").write_text(BLOBS)
    (tmp_path / "test.csv").write_text(HELD)
    task = task or "{csv: train.csv, label: label, test: test.csv}"
    text = (
        f"task: {task}\n"
        "network: {hidden: 3}\n"
        "dynamics: {free_steps: 20, nudged_steps: 5}\n"
        "learning: {lr: 2.0}\n"
        "training: {epochs: 5, seeds: 2, batch_size: 2, eval_every: 2}\n" + extra
    )
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        config_module.load(path)
    message = str(exc.value)
    assert message.startswith(f"{path}: "), message
    return message


# -- config ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("task: {name: XOR}\nlearning: {schedule: step}\n", "learning.step_every = None"),
        ("task: {name: XOR}\nlearning: {step_every: 3}\n", "without learning.schedule: step"),
        ("task: {name: XOR}\nlearning: {step_factor: 0.1}\n", "without learning.schedule"),
        ("task: {name: XOR}\nlearning: {schedule: step, step_every: 2, step_factor: 0}\n", "> 0"),
        ("task: {name: XOR}\nlearning: {lr_min: 0.1}\n", "without schedule: cosine"),
        ("task: {name: XOR}\nlearning: {schedule: cosine, lr: 1, lr_min: 2}\n", "<= learning.lr"),
        ("task: {name: XOR}\nlearning: {schedule: linear}\n", "learning.schedule = 'linear'"),
        ("task: {name: XOR}\ntraining: {eval_every: 0}\n", "training.eval_every = 0"),
        ("task: {name: XOR, test: split}\n", "the XOR task has no test data"),
        ("task: {name: digits, test: other.csv}\n", "the digits' test data is 'split'"),
        ("task: {name: digits, scale: 2}\n", "task.scale = 2.0: has no effect with a built-in"),
        ("task: {name: Digit}\n", "task.name = 'Digit': must be one of"),
        ("task: {csv: d.csv, label: l, test: split}\n", "the built-in split is for digits and NPZ"),
        ("task: {csv: d.csv, label: l, targets: [y]}\n", "give task.targets or task.label"),
        ("task: {csv: d.csv}\n", "name the target columns, or a label column"),
        ("task: {idx: a}\n", "task.idx and task.labels go together"),
        ("task: {idx: a, labels: b, test: c}\n", "an IDX test file needs task.test_labels"),
        ("task: {npz: a.npz, test_labels: b}\n", "has no effect without task.test"),
        ("task: {npz: a.npz, test: t.npz, test_labels: b}\n", "without IDX data (task.idx)"),
        ("task: {csv: d.csv, label: l, downsample: 2}\n", "without images"),
        ("task: {npz: a.npz, inputs: [a]}\n", "task.inputs = ['a']: has no effect without"),
        ("task: {npz: a.npz, csv: d.csv}\n", "give exactly one of task.name, task.csv"),
        ("task: {npz: a.npz, classes: 1}\n", "task.classes = 1: must be >= 2"),
    ],
)
def test_bad_task_and_schedule_fields(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in load_error(tmp_path, text)


def test_missing_data_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "a.npz").write_bytes(b"")
    message = load_error(tmp_path, "task: {npz: a.npz, test: gone.npz}\n")
    assert "task.test = 'gone.npz': file does not exist" in message


def test_accuracy_defaults_follow_the_kind_of_targets(tmp_path: Path) -> None:
    assert config_module.from_dict({"task": {"name": "XOR"}}).task.accuracy == "threshold"
    assert config_module.from_dict({"task": {"name": "digits"}}).task.accuracy == "argmax"
    label = {"csv": "d.csv", "label": "l"}
    assert config_module.from_dict({"task": label}).task.accuracy == "argmax"
    columns = {"csv": "d.csv", "targets": ["y"]}
    assert config_module.from_dict({"task": columns}).task.accuracy == "threshold"


# -- schedules -----------------------------------------------------------------------


def test_learning_rate_schedules() -> None:
    constant = config_module.LearningConfig(lr=0.3)
    assert all(learning_rate(constant, e, 10) is constant.lr for e in range(10))
    step = config_module.LearningConfig(lr=0.8, schedule="step", step_every=3, step_factor=0.5)
    assert [learning_rate(step, e, 10) for e in range(7)] == [0.8] * 3 + [0.4] * 3 + [0.2]
    cosine = config_module.LearningConfig(lr=1.0, schedule="cosine", lr_min=0.2)
    rates = [learning_rate(cosine, e, 4) for e in range(4)]
    expected = [0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    assert rates == pytest.approx(expected) and rates[0] == 1.0
    assert np.all(np.diff(rates) < 0)


def test_a_step_schedule_of_factor_one_is_bit_identical_and_cosine_changes_training(
    tmp_path: Path,
) -> None:
    base = config_module.load(write_run(tmp_path))
    plain = training.train(base)
    same = training.train(
        base.replace(learning={"schedule": "step", "step_every": 1, "step_factor": 1.0})
    )
    np.testing.assert_array_equal(plain.weights, same.weights)
    cosine = training.train(base.replace(learning={"schedule": "cosine"}))
    assert not np.array_equal(plain.weights, cosine.weights)
    assert np.all(np.isfinite(cosine.weights))


# -- held-out evaluation ------------------------------------------------------------------


def test_test_data_does_not_change_training(tmp_path: Path) -> None:
    with_test = config_module.load(write_run(tmp_path))
    without = with_test.replace(task={"test": None})
    a, b = training.train(with_test), training.train(without)
    np.testing.assert_array_equal(a.weights, b.weights)
    for name in training.HISTORY_FIELDS:
        np.testing.assert_array_equal(a.history[name], b.history[name])
    for name, values in a.events.items():
        np.testing.assert_array_equal(values, b.events[name])
    assert "test_accuracy" not in b.history and b.test_accuracy is None
    # evaluated after epochs 2 and 4 (eval_every 2) and after the last one, 5
    evaluated = ~np.isnan(a.history["test_accuracy"]).any(axis=1)
    assert evaluated.tolist() == [False, True, False, True, True]
    np.testing.assert_array_equal(a.history["test_accuracy"][-1], a.test_accuracy)
    assert a.test_accuracy.shape == (2,) and a.test_outputs.shape == (2, 3, 2)


def test_run_directory_holds_test_results_and_eval_data_reproduces_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["train", str(write_run(tmp_path)), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_patterns"] == 3 and summary["train_patterns"] == 6
    tested = summary["test_accuracy_per_seed"]
    assert len(tested) == 2 and summary["mean_test_accuracy"] == pytest.approx(np.mean(tested))
    assert summary["train_accuracy_per_seed"] == summary["accuracy_per_seed"]
    with (out / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["test_accuracy"] != "" for row in rows[::2]] == [False, True, False, True, True]
    assert float(rows[-1]["test_accuracy"]) == tested[0]
    assert (out / "data" / "test.csv").read_text() == HELD  # the run carries its test data
    counts = list(csv.DictReader((out / "confusion.csv").open()))
    assert len(counts) == 2 * 2 * 2
    assert sum(int(row["count"]) for row in counts) == 2 * 3
    assert (out / "confusion.png").stat().st_size > 1000
    capsys.readouterr()
    figure = tmp_path / "cm.png"
    code = main(
        ["eval", str(out), "--data", str(tmp_path / "test.csv"), "--confusion", str(figure)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    for value in tested:
        assert f"{100 * value:.1f}%" in printed
    assert figure.stat().st_size > 1000
    assert (tmp_path / "cm.csv").read_text() == (out / "confusion.csv").read_text()


def test_runs_without_test_data_keep_their_outputs(tmp_path: Path) -> None:
    out = tmp_path / "run"
    path = write_run(tmp_path, task="{csv: train.csv, label: label}")
    assert main(["train", str(path), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "test_accuracy_per_seed" not in summary and "train_accuracy_per_seed" not in summary
    header = (out / "metrics.csv").read_text().splitlines()[0]
    assert header.endswith(",sparsity") and "test" not in header
    assert (out / "confusion.png").exists()  # on the training data


@pytest.mark.parametrize(
    ("data", "extra", "reason"),
    [
        ("a,label\n0.1,0\n", [], "--data = "),
        ("a,b,c,label\n0.1,0.2,0.3,1\n", [], "has 3 input(s) and 2 output(s); the networks"),
    ],
)
def test_eval_data_of_another_shape_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    data: str,
    extra: list[str],
    reason: str,
) -> None:
    out = tmp_path / "run"
    assert main(["train", str(write_run(tmp_path)), "--out", str(out)]) == 0
    other = tmp_path / "other.csv"
    other.write_text(data)
    capsys.readouterr()
    figure = tmp_path / "cm.png"
    code = main(["eval", str(out), "--data", str(other), "--confusion", str(figure), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and reason in err, err
    assert not figure.exists()


def test_eval_option_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["train", str(write_run(tmp_path)), "--out", str(out)]) == 0
    capsys.readouterr()
    images = tmp_path / "images-idx3-ubyte"
    images.write_bytes(b"\0\0\x08\x01\0\0\0\x01\0")
    cases = [
        (["--data", str(images)], "give its labels (--labels)"),
        (["--labels", str(images)], "--labels = "),
        (["--scale", "0", "--data", str(images)], "--scale = 0.0: must be a positive number"),
        (["--data", str(images), "--task", "XOR"], "give --data or --task, not both"),
    ]
    for extra, reason in cases:
        assert main(["eval", str(out), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and reason in err, err


# -- confusion matrices ----------------------------------------------------------------


def test_confusion_counts_by_true_and_predicted_class() -> None:
    targets = np.eye(3)[[0, 1, 2, 2]]
    outputs = np.array(
        [
            [[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]],
            [[0.1, 0.9, 0.0], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.0, 0.3, 0.5]],
        ]
    )
    counts = confusion_counts(outputs, targets)
    assert counts.shape == (2, 3, 3) and counts.sum() == 8
    assert counts[0].tolist() == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    assert counts[1].tolist() == [[0, 1, 0], [0, 1, 0], [0, 0, 2]]
    lines = confusion_csv(counts, np.array([7, 8])).splitlines()
    assert lines[0] == "seed,true,predicted,count" and len(lines) == 1 + 18
    assert "8,2,2,2" in lines


def test_idx_run_is_evaluated_on_idx_files_like_its_test_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from deephw.data.idx import idx_bytes

    rng = np.random.default_rng(5)
    labels = np.arange(12, dtype=np.uint8) % 2
    images = (rng.integers(0, 60, (12, 4, 4)) + 190 * labels[:, None, None]).astype(np.uint8)
    for name, values in (
        ("img", images),
        ("lab", labels),
        ("timg", images[:4]),
        ("tlab", labels[:4]),
    ):
        (tmp_path / name).write_bytes(idx_bytes(values))
    (tmp_path / "run.yaml").write_text(
        "task: {idx: img, labels: lab, test: timg, test_labels: tlab, downsample: 2}\n"
        "network: {hidden: 2}\ndynamics: {free_steps: 10, nudged_steps: 4}\n"
        "training: {epochs: 2, seeds: 1}\n"
    )
    out = tmp_path / "run"
    assert main(["train", str(tmp_path / "run.yaml"), "--out", str(out)]) == 0
    tested = json.loads((out / "summary.json").read_text())["test_accuracy_per_seed"]
    capsys.readouterr()
    args = ["eval", str(out), "--data", str(tmp_path / "timg"), "--labels", str(tmp_path / "tlab")]
    assert main(args) == 0
    assert f"{100 * tested[0]:.1f}%" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "data").iterdir()) == ["img", "lab", "timg", "tlab"]


def test_the_digits_example_trains_and_reports_test_accuracy(tmp_path: Path) -> None:
    example = Path(__file__).parents[1] / "examples" / "digits.yaml"
    out = tmp_path / "run"
    assert main(["train", str(example), "--out", str(out), "--epochs", "1", "--seeds", "1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_patterns"] == 450 and summary["train_patterns"] == 1347
    # one epoch lifts it well above chance (10 %)
    assert summary["test_accuracy_per_seed"][0] > 0.3


def test_a_sweep_fingerprints_the_data_files_a_task_names(tmp_path: Path) -> None:
    """A sweep's results are recomputed when an NPZ training or test file changes."""
    from deephw.sweep.studies.base import get_study

    rng = np.random.default_rng(0)
    for name in ("train.npz", "test.npz"):
        np.savez(tmp_path / name, x=rng.uniform(size=(8, 3)), y=rng.uniform(size=(8, 2)))
    config = config_module.from_dict(
        {"task": {"npz": "train.npz", "test": "test.npz"}, "network": {"hidden": 2}},
        base_dir=tmp_path,
    )
    before = get_study("train").fingerprint(config)
    assert set(before) == {"task.npz", "task.test", "hardware.card"}
    np.savez(tmp_path / "test.npz", x=rng.uniform(size=(8, 3)), y=rng.uniform(size=(8, 2)))
    after = get_study("train").fingerprint(config)
    assert after["task.test"] != before["task.test"] and after["task.npz"] == before["task.npz"]
