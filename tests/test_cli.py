"""The ``deephw`` command line, run in-process: outputs, run directories and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from deephw.cli import main

SMALL = {"task": {"name": "AND"}, "training": {"epochs": 60, "seeds": 3}}


def write_config(tmp_path: Path, data: dict, name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_train_writes_a_complete_run_directory(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(write_config(tmp_path, SMALL)), "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    expected = {"config.yaml", "metrics.csv", "weights.npz", "summary.json"}
    assert expected | {"training.png", "network.png"} <= names
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"] == 3 and summary["trainable_parameters"] == 48
    rows = (out / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 60 * 3
    with np.load(out / "weights.npz") as npz:
        assert npz["weights"].shape == (3, 9, 9)
        assert not (npz["weights"][~npz["structural_mask"][None].repeat(3, 0)]).any()
    assert "every pattern right" in capsys.readouterr().out


def test_png_files_are_images(tmp_path):
    out = tmp_path / "run"
    main(["train", str(write_config(tmp_path, SMALL)), "--out", str(out)])
    for name in ("training.png", "network.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_overrides_change_epochs_and_seeds(tmp_path):
    out = tmp_path / "run"
    args = ["train", str(write_config(tmp_path, SMALL)), "--out", str(out)]
    assert main([*args, "--epochs", "7", "--seeds", "2", "--seed", "5"]) == 0
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["training"]["epochs"] == 7 and config["training"]["seeds"] == 2
    assert json.loads((out / "summary.json").read_text())["seed_values"] == [5, 6]


def test_eval_reproduces_the_training_summary(tmp_path, capsys):
    out = tmp_path / "run"
    main(["train", str(write_config(tmp_path, SMALL)), "--out", str(out)])
    capsys.readouterr()
    assert main(["eval", str(out)]) == 0
    text = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    for seed, mse in zip(summary["seed_values"], summary["final_mse_per_seed"], strict=True):
        assert f"{mse:.4g}" in text
        assert str(seed) in text
    assert main(["eval", str(out), "--task", "OR"]) == 0
    assert "OR on the numpy engine" in capsys.readouterr().out


def test_eval_rejects_a_task_of_another_shape(tmp_path, capsys):
    out = tmp_path / "run"
    main(["train", str(write_config(tmp_path, SMALL)), "--out", str(out)])
    assert main(["eval", str(out), "--task", "NOT"]) != 0
    err = capsys.readouterr().err
    assert "--task = 'NOT'" in err and "1 input(s)" in err and str(out) in err


@pytest.mark.parametrize(
    ("change", "field", "value"),
    [
        ({"typo": 1}, "typo", "1"),
        ({"dynamics": {"dt": -0.5}}, "dynamics.dt", "-0.5"),
        ({"dynamics": {"dt": "fast"}}, "dynamics.dt", "'fast'"),
        ({"network": {"hidden": -1}}, "network.hidden", "-1"),
        ({"training": {"epochs": 2.5}}, "training.epochs", "2.5"),
        (
            {"task": {"csv": "missing.csv", "inputs": ["a"], "targets": ["b"]}},
            "task.csv",
            "missing",
        ),
    ],
)
def test_bad_config_is_one_clear_line_and_leaves_nothing(tmp_path, capsys, change, field, value):
    data = {**SMALL, **change}
    config = write_config(tmp_path, data, "bad.yaml")
    out = tmp_path / "run"
    assert main(["train", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "bad.yaml" in err and field in err and value in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.yaml"]


def test_divergence_stops_the_run_naming_epoch_and_seed(tmp_path, capsys):
    data = {
        "task": {"name": "XOR"},
        "init": {"low": 1e308, "high": 1.5e308},
        "training": {"epochs": 20, "seeds": 2, "seed": 4},
    }
    out = tmp_path / "run"
    assert main(["train", str(write_config(tmp_path, data)), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "diverged at epoch 0, seed 4" in err and "not finite" in err
    assert not out.exists()


def test_existing_output_directory_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["train", str(write_config(tmp_path, SMALL)), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_missing_config_file(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_reproduce_writes_summary_and_figures(tmp_path):
    out = tmp_path / "paper"
    assert main(["reproduce", "--out", str(out), "--epochs", "30", "--seeds", "2"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["tasks"]) == {"AND", "OR", "XOR"}
    for runs in summary["tasks"].values():
        assert {"deep", "asym_ep", "asym_ep_own_lr", "deep_sparse"} <= set(runs)
        for entry in runs.values():
            assert entry["seeds"] == 2 and len(entry["correct_per_seed"]) == 2
            assert entry["converged"] == sum(entry["converged_per_seed"])
        assert len(runs["deep_sparse"]["sparsity_per_seed"]) == 2
        assert runs["deep"]["epochs"] == 30 and runs["deep_sparse"]["epochs"] == 70
    for name in ("fig1_convergence.png", "fig2_sparse_networks.png", "deep_vs_asym_ep.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert (out / "runs" / "XOR_deep_sparse" / "metrics.csv").is_file()


def test_console_script_runs_as_a_module():
    done = subprocess.run(
        [sys.executable, "-m", "deephw.cli", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "reproduce" in done.stdout


def test_config_errors_about_the_whole_file_are_one_line(tmp_path, capsys):
    missing = tmp_path / "nope.yaml"
    assert main(["train", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("nope.yaml") == 1 and err.endswith(f"{missing}: file does not exist")
    assert main(["train", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().endswith(f"{tmp_path}: is a directory, not a YAML file")
    broken = tmp_path / "broken.yaml"
    broken.write_text("task: {name: AND\ntraining: {epochs: 5}\n")
    assert main(["train", str(broken)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{broken}: not valid YAML at line 2, column" in err
    twice = tmp_path / "twice.yaml"
    twice.write_text("task: {name: AND}\ntask: {name: XOR}\n")
    assert main(["train", str(twice)]) == 2
    assert "duplicate key 'task' at line 2" in capsys.readouterr().err


def test_train_accepts_a_learning_rate_in_exponent_notation(tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text("task: {name: AND}\nlearning: {lr: 1e1}\ntraining: {epochs: 3, seeds: 1}\n")
    out = tmp_path / "run"
    assert main(["train", str(path), "--out", str(out)]) == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["learning"]["lr"] == 10.0


def test_a_run_directory_can_be_moved_with_its_data(tmp_path, capsys):
    examples = Path(__file__).resolve().parents[1] / "examples"
    config = tmp_path / "csv.yaml"
    config.write_text((examples / "csv_task.yaml").read_text())
    (tmp_path / "blobs.csv").write_text((examples / "blobs.csv").read_text())
    out = tmp_path / "run"
    assert main(["train", str(config), "--out", str(out), "--epochs", "20", "--seeds", "2"]) == 0
    (tmp_path / "blobs.csv").unlink()
    moved = tmp_path / "elsewhere" / "run"
    moved.parent.mkdir()
    out.rename(moved)
    capsys.readouterr()
    assert main(["eval", str(moved)]) == 0
    assert "blobs on the numpy engine" in capsys.readouterr().out
    assert yaml.safe_load((moved / "config.yaml").read_text())["task"]["csv"] == "data/blobs.csv"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "CONFIG", "--bogus"], "deephw train: error: unrecognized arguments: --bogus"),
        (["train", "CONFIG", "--seeds", "abc"], "'abc' is not an integer"),
        (["eval", "NOWHERE"], "does not exist"),
    ],
)
def test_argument_errors_come_from_the_right_command(tmp_path, capsys, args, message):
    config = str(write_config(tmp_path, SMALL))
    nowhere = str(tmp_path / "nowhere")
    args = [{"CONFIG": config, "NOWHERE": nowhere}.get(a, a) for a in args]
    try:
        code = main(args)
    except SystemExit as stop:  # argparse reports usage errors by exiting
        code = stop.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_hardware_run_writes_the_chip(tmp_path, capsys):
    data = {
        "task": {"name": "OR"},
        "training": {"epochs": 12, "seeds": 2},
        "hardware": {"card": "pcm_ambrogio2018", "scheme": {"name": "hybrid", "transfer_every": 4}},
    }
    out = tmp_path / "run"
    assert main(["train", str(write_config(tmp_path, data)), "--out", str(out)]) == 0
    assert "pcm_ambrogio2018 card, hybrid scheme" in capsys.readouterr().out
    for name in ("devices.npz", "events.csv", "hardware.png"):
        assert (out / name).is_file()
    rows = (out / "events.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert len(rows) == 1 + 12 * 2 and "cell.transfers" in header and "energy_pJ" in header
    transfers = [float(r.split(",")[header.index("cell.transfers")]) for r in rows[1:]]
    cells = json.loads((out / "summary.json").read_text())["trainable_parameters"]
    assert sorted(set(transfers)) == [0.0, float(cells)]  # epochs 4, 8, 12 transfer every cell
    from deephw.crossbar import Crossbar

    chip = Crossbar.load(out / "devices.npz")
    assert chip.card.name == "pcm_ambrogio2018" and chip.updates == 12


def test_reproduce_on_cards_reports_pulses_per_card(tmp_path, capsys):
    out = tmp_path / "paper"
    args = ["reproduce", "--out", str(out), "--epochs", "20", "--seeds", "2"]
    assert main([*args, "--cards", "ideal,pcm_pair"]) == 0
    report = json.loads((out / "cards_summary.json").read_text())
    assert set(report) == {"ideal", "pcm_pair"}
    for card, entry in report.items():
        for runs in entry["tasks"].values():
            hardware = runs["deep"]["hardware"]
            assert hardware["card"] == card and len(hardware["pulses_per_seed"]) == 2
            assert all(p > 0 for p in hardware["pulses_per_seed"])
    table = capsys.readouterr().out
    assert "pcm_pair" in table and "median pulses" in table
    assert (out / "runs" / "cards" / "pcm_pair" / "XOR_deep_sparse" / "devices.npz").is_file()


def test_reproduce_rejects_an_unknown_card(tmp_path, capsys):
    assert main(["reproduce", "--out", str(tmp_path / "x"), "--cards", "ideal,flash"]) == 2
    assert "--cards = 'flash'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_program_round_trip_through_the_command_line(tmp_path, capsys):
    data = {"task": {"name": "OR"}, "training": {"epochs": 40, "seeds": 2}}
    run, program, back = tmp_path / "run", tmp_path / "program", tmp_path / "back"
    groups = tmp_path / "groups.yaml"
    groups.write_text("groups:\n  - {name: everything, rest: true}\n")
    assert main(["train", str(write_config(tmp_path, data)), "--out", str(run)]) == 0
    assert (
        main(["program", "export", str(run), "--groups", str(groups), "--out", str(program)]) == 0
    )
    assert main(["program", "import", str(program), "--out", str(back)]) == 0
    with np.load(run / "weights.npz") as trained, np.load(back / "weights.npz") as imported:
        seed = int(imported["seeds"][0])
        k = list(trained["seeds"]).index(seed)
        np.testing.assert_array_equal(imported["weights"][0], trained["weights"][k])


def test_devices_commands(tmp_path, capsys):
    from tests.test_devices_fit import sweep_csv

    assert main(["devices", "list"]) == 0
    listed = capsys.readouterr().out
    for name in ("ideal", "pcm_pair", "pcm_ambrogio2018", "reram_softbounds"):
        assert name in listed
    assert main(["devices", "show", "pcm_pair"]) == 0
    from deephw.devices import card_hash, load_card

    assert card_hash(load_card("pcm_pair")) in capsys.readouterr().out
    data = sweep_csv(tmp_path / "sweeps.csv", np.random.default_rng(0), cycles=5, pulses=60)
    card = tmp_path / "mine.yaml"
    assert main(["devices", "fit", str(data), "--out", str(card)]) == 0
    assert main(["devices", "check", str(card)]) == 0
    assert "valid card" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(card.read_text().replace("model: lookup", "model: lookup\n  g_max_uz: 3"))
    assert main(["devices", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "device.g_max_uz = 3" in err


def test_a_program_of_a_csv_task_run_carries_its_data(tmp_path, capsys):
    examples = Path(__file__).resolve().parents[1] / "examples"
    config = tmp_path / "csv.yaml"
    config.write_text((examples / "csv_task.yaml").read_text())
    (tmp_path / "blobs.csv").write_text((examples / "blobs.csv").read_text())
    run, program, back = tmp_path / "run", tmp_path / "program", tmp_path / "back"
    assert main(["train", str(config), "--out", str(run), "--epochs", "30", "--seeds", "2"]) == 0
    assert main(["program", "export", str(run), "--out", str(program)]) == 0
    assert (program / "data" / "blobs.csv").is_file()
    assert main(["program", "verify", str(program), "--out", str(tmp_path / "v")]) == 0
    assert main(["program", "import", str(program), "--out", str(back)]) == 0
    capsys.readouterr()
    assert main(["eval", str(back)]) == 0
    assert "blobs on the numpy engine" in capsys.readouterr().out
    (program / "data" / "blobs.csv").write_text("x1,x2,x3,class_a,class_b\n")
    assert main(["program", "verify", str(program), "--out", str(tmp_path / "v2")]) == 2
    assert "blobs.csv" in capsys.readouterr().err


def test_fitting_a_card_needs_both_directions(tmp_path, capsys):
    data = tmp_path / "up_only.csv"
    rows = ["cycle,direction,g_uS"] + [f"0,up,{1 + 0.1 * k:.2f}" for k in range(50)]
    data.write_text("\n".join(rows) + "\n")
    assert main(["devices", "fit", str(data), "--out", str(tmp_path / "card.yaml")]) == 2
    err = capsys.readouterr().err
    assert "up_only.csv" in err and "direction = 'down'" in err
    assert not (tmp_path / "card.yaml").exists()


def test_devices_list_has_an_aligned_header(capsys):
    assert main(["devices", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split()
    assert header == ["name", "cell", "models", "source"]
    columns = [lines[0].index(word) for word in header]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert "pcm_ambrogio2018" in rows and "ambrogio" in rows["pcm_ambrogio2018"]
    assert "pcm + capacitor" in rows["pcm_ambrogio2018"]
    for line in lines[1:]:
        for start in columns[1:]:
            assert line[start - 2 : start] == "  " and line[start] != " "
