"""Weight programs: export, simulated write-verify, import, and refusing bad programs."""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

import deephw
from deephw import rundir, topology
from deephw.cli import main as deephw_main
from deephw.config import from_dict
from deephw.devices import card_hash, card_to_yaml, cards, load_card, replace_card
from deephw.errors import ConfigError, DeephwError
from deephw.program import export_program, import_program, open_program, verify_program
from deephw.program.cli import add_commands
from deephw.program.tables import read_npz

QUIET = {
    "device": {
        "g_max_dtod": 0.0,
        "set_step_dtod": 0.0,
        "set_c2c": 0.0,
        "prog_noise_poly_uS": [0.0],
        "read_noise_q_coeff": 0.0,
        "reset_dtod_uS": 0.0,
    },
    "fast_device": {
        "g_min_dtod": 0.0,
        "g_max_dtod": 0.0,
        "step_dtod": 0.0,
        "up_down_dtod": 0.0,
        "step_c2c": 0.0,
        "write_noise_uS": 0.0,
        "g_reset_dtod_uS": 0.0,
        "tau_dtod": 0.0,
    },
    "periphery": {"adc_bits": None, "dac_bits": None, "out_noise": 0.0},
}
"""Every noise and variation field of pcm_ambrogio2018 switched off (drift kept)."""


def write_run(
    path: Path, weights: np.ndarray, mask: np.ndarray, seeds, config: dict | None = None
) -> Path:
    """A minimal run directory (config.yaml and weights.npz) holding given networks."""
    path.mkdir(parents=True)
    config = config or {"task": {"name": "XOR"}}
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    np.savez(path / "weights.npz", seeds=np.asarray(seeds), weights=weights, mask=mask)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict]:
    """XOR trained on the ideal card (3 seeds), written as a run directory."""
    config = from_dict({"task": {"name": "XOR"}, "training": {"epochs": 1500, "seeds": 3}})
    out = tmp_path_factory.mktemp("runs") / "xor"
    rundir.write_run(deephw.train(config), out)
    return out, json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def ideal_program(trained, tmp_path_factory) -> Path:
    run, _ = trained
    return export_program(run, tmp_path_factory.mktemp("programs") / "ideal", tile_rows=4)


def best_seed(summary: dict) -> tuple[int, int]:
    k = int(np.argmin(summary["final_mse_per_seed"]))
    return k, summary["seed_values"][k]


# -- round trips ------------------------------------------------------------------------
def test_export_then_import_gives_back_the_trained_weights_exactly(trained, tmp_path) -> None:
    run, summary = trained
    k, seed = best_seed(summary)
    program = export_program(run, tmp_path / "program", tile_rows=4, tile_cols=5)
    assert open_program(program).seed == seed
    back = import_program(program, tmp_path / "back")
    with np.load(run / "weights.npz") as a, np.load(back / "weights.npz") as b:
        assert np.array_equal(b["weights"][0], a["weights"][k])
        assert np.array_equal(b["mask"][0], a["mask"][k])
        assert b["seeds"].tolist() == [seed]
    assert (back / "config.yaml").read_bytes() == (run / "config.yaml").read_bytes()


def test_measured_csv_of_the_targets_imports_exactly(trained, ideal_program, tmp_path, capsys):
    run, summary = trained
    k, _ = best_seed(summary)
    lines = ["tile,row,column,role,conductance_uS"]
    for table in sorted((ideal_program / "groups").glob("*.csv")):
        with table.open() as handle:
            for row in csv.DictReader(handle):
                lines.append(
                    ",".join(
                        [row[c] for c in ("tile", "row", "column", "role")] + [row["target_uS"]]
                    )
                )
    measured = tmp_path / "measured.csv"  # any order, with a comment line
    measured.write_text("\n".join(["# bench readout", lines[0], *reversed(lines[1:])]) + "\n")
    back = import_program(measured, tmp_path / "back", program=ideal_program)
    with np.load(run / "weights.npz") as a, np.load(back / "weights.npz") as b:
        assert np.array_equal(b["weights"][0], a["weights"][k])
    assert deephw_main(["eval", str(back)]) == 0
    out = capsys.readouterr().out
    assert f"{summary['final_mse_per_seed'][k]:.4g}" in out and "100.0%" in out


# -- the mapping ----------------------------------------------------------------------
def test_program_maps_cells_roles_bias_row_and_pruned_cells(tmp_path) -> None:
    topo = topology.complete(2, 5, 1)
    rng = np.random.default_rng(7)
    weights = rng.uniform(-2.0, 2.0, (1, 9, 9)) * topo.mask
    mask = topo.mask.copy()
    pruned = [(0, 5), (2, 8), (6, 3)]
    for i, j in pruned:
        mask[i, j] = False
    run = write_run(tmp_path / "run", weights * mask, mask[None], [4])
    out = export_program(run, tmp_path / "program", card="pcm_ambrogio2018", tile_rows=4)
    manifest = yaml.safe_load((out / "program.yaml").read_text())
    card = load_card("pcm_ambrogio2018")
    assert manifest["card"]["name"] == "pcm_ambrogio2018" and manifest["card"]["shipped"]
    assert manifest["card"]["sha256"] == card_hash(card)
    assert manifest["mapping"]["g_ref_uS"] == 25.0 and manifest["mapping"]["F"] == 3.0
    assert manifest["geometry"]["grid"] == [3, 1]
    assert manifest["geometry"]["bias_rows"] == [{"tile": 0, "row": 2}]
    assert manifest["network"]["pruned_cells"] == 3 and manifest["network"]["devices"] == 3 * 45
    for ref in [*(g["table"] for g in manifest["groups"]), manifest["pruned"]]:
        assert hashlib.sha256((out / ref["path"]).read_bytes()).hexdigest() == ref["sha256"]
    listed = (out / "pruned.csv").read_text().splitlines()
    assert listed[0] == "pre,post,tile,row,column"
    assert sorted(tuple(map(int, line.split(",")[:2])) for line in listed[1:]) == pruned
    assert "2,8,0,2,8" in listed

    program = open_program(out)
    devices = program.devices()
    roles = devices.roles()
    cells = devices["pre"] * 9 + devices["post"]
    assert np.array_equal(np.unique(cells), np.flatnonzero(mask))
    assert np.array_equal(devices["tile"], devices["pre"] // 4)
    targets = {r: np.zeros(81) for r in ("G+", "G-", "g")}
    for role in targets:
        targets[role][cells[roles == role]] = devices["target_uS"][roles == role]
    diff = (targets["G+"] - targets["G-"]).reshape(9, 9)
    assert np.allclose(diff[mask], weights[0][mask] * 25.0 / 3.0, rtol=0, atol=1e-12)
    assert (np.minimum(targets["G+"], targets["G-"]) == 0).all()
    assert (targets["g"][cells[roles == "g"]] == 12.0).all()
    step = 25.0 / 73.11686  # mean SET step of the card's PCM: 73.1 pulses span 25 µS
    plus = roles == "G+"
    assert np.array_equal(devices["pulses"][plus], np.ceil(devices["target_uS"][plus] / step))
    methods = devices.methods()
    assert set(methods[roles == "g"]) == {"reset"} and set(methods[roles != "g"]) == {
        "write_verify"
    }
    assert np.isnan(devices["tolerance_uS"][roles == "g"]).all()
    assert (devices["tolerance_uS"][roles != "g"] == 0.5).all()

    back = import_program(out, tmp_path / "back")
    with np.load(back / "weights.npz") as data:
        assert np.array_equal(data["mask"][0], mask) and data["seeds"].tolist() == [4]
        assert np.array_equal(data["structural_mask"], topo.mask)
        assert np.allclose(data["weights"][0], weights[0] * mask, rtol=0, atol=1e-12)

    group = program.manifest.groups[0]
    table = read_npz(out / group.table.path)
    with (out / group.csv.path).open() as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["target_uS"]) for r in rows] == table["target_uS"].tolist()
    assert [r["role"] for r in rows] == table.roles().tolist()


def test_a_target_out_of_range_names_the_cell_and_writes_nothing(trained, tmp_path) -> None:
    run, summary = trained
    k, _ = best_seed(summary)
    card = replace_card("pcm_pair", {"cell": {"g_ref_uS": 20.0}})
    with np.load(run / "weights.npz") as data:
        weights, mask = data["weights"][k], data["mask"][k]
    over = np.argwhere((weights * 20.0 > 25.0) & mask)  # G+ targets above g_max
    assert over.size
    i, j = over[0]
    with pytest.raises(DeephwError) as err:
        export_program(run, tmp_path / "program", card=card)
    message = str(err.value)
    assert f"cell {i} -> {j} (tile 0, row {i}, column {j}, role G+)" in message
    assert "outside the device's range [0, 25] µS" in message
    assert list(tmp_path.iterdir()) == []


def test_overlapping_groups_stop_the_export(trained, tmp_path) -> None:
    run, _ = trained
    groups = tmp_path / "groups.yaml"
    groups.write_text("groups:\n  - {name: all}\n  - {name: again, tiles: [0]}\n")
    with pytest.raises(ConfigError, match="groups.yaml: groups\\[1\\] = 'again'"):
        export_program(run, tmp_path / "program", groups=groups)
    assert not (tmp_path / "program").exists()


# -- verify ---------------------------------------------------------------------------
def test_verify_without_noise_has_zero_error_and_the_trained_accuracy(trained, tmp_path) -> None:
    run, summary = trained
    k, _ = best_seed(summary)
    quiet = replace_card("pcm_ambrogio2018", QUIET, name="pcm_quiet")
    program = export_program(run, tmp_path / "program", card=quiet, tile_rows=5)
    result = verify_program(program, seed=3, out=tmp_path / "report")
    report = result.report
    assert report["card_check"].startswith("embedded card 'pcm_quiet'")
    totals = report["totals"]
    assert totals["within_tolerance"] == totals["verified"] == 2 * 48 and totals["failed"] == 0
    for group in report["groups"]:
        assert group["residual_uS"]["abs_max"] == 0.0
    now = report["drift"][0]
    assert now["time"] == "now"
    assert now["accuracy"] == summary["accuracy_per_seed"][k] == report["trained"]["accuracy"]
    assert now["mse"] == pytest.approx(summary["final_mse_per_seed"][k], rel=1e-9, abs=1e-12)
    assert now["mse_gdc"] == pytest.approx(now["mse"], rel=1e-9, abs=1e-12)
    names = {p.name for p in result.out_dir.iterdir()}
    assert names == {"report.json", "groups.csv", "drift.csv", "drift.png", "measured.csv"}


def test_verify_for_a_study_writes_nothing_and_takes_another_config(trained, tmp_path) -> None:
    run, summary = trained
    k, seed = best_seed(summary)
    program = export_program(run, tmp_path / "program", tile_rows=4)
    config = rundir.load_run(run)[0].replace(task={"name": "OR"}, dynamics={"free_steps": 30})
    task = deephw.tasks.builtin("OR")
    result = verify_program(program, seed=5, chips=3, config=config, task=task, write=False)
    assert result.out_dir is None and sorted(p.name for p in tmp_path.iterdir()) == ["program"]
    report = result.report
    assert report["chip_seeds"] == [5, 6, 7]
    with np.load(run / "weights.npz") as arrays:
        topo = deephw.training.build_topology(config, task)
        mse, accuracy, _ = deephw.evaluate(config, topo, task, arrays["weights"][k : k + 1], [seed])
    assert report["trained"] == {"mse": mse[0], "accuracy": accuracy[0]}
    assert {row["mse"] for row in report["drift"]} == {mse[0]}  # ideal chips: exact, no drift
    totals = report["totals"]
    for key in ("verified", "within_tolerance", "failed", "stuck", "pulses"):
        assert len(totals[f"{key}_per_chip"]) == 3 and sum(totals[f"{key}_per_chip"]) == totals[key]


def test_verify_on_noisy_chips_reports_groups_failures_and_drift(tmp_path) -> None:
    topo = topology.complete(2, 97, 1)  # 101 neurons, 9 900 cells
    rng = np.random.default_rng(11)
    weights = (rng.uniform(-1.0, 1.0, (1, topo.n, topo.n)) * topo.mask).round(6)
    config = {"task": {"name": "XOR"}, "network": {"hidden": 97}}
    run = write_run(tmp_path / "run", weights, topo.mask[None], [0], config)
    card = replace_card(
        "pcm_ambrogio2018", {"device": {"stuck_min_fraction": 0.01, "stuck_max_fraction": 0.01}}
    )
    program = export_program(run, tmp_path / "program", card=card, tile_rows=32, tile_cols=32)
    report = verify_program(program, seed=1, chips=2).report
    groups = report["groups"]
    assert len(groups) == 3 * 16
    assert sum(g["devices"] for g in groups) == 3 * topo.n_trainable
    totals = report["totals"]
    assert totals["devices"] == 3 * topo.n_trainable and totals["chips"] == 2
    assert totals["verified"] == 2 * 2 * topo.n_trainable  # G+ and G- on both chips
    assert all(g["chips"] == 2 for g in groups)
    written = [g for g in groups if g["verified"]]
    assert len(written) == 2 * 16 and all(g["roles"] != ["g"] for g in written)
    verified = sum(g["verified"] for g in written)
    stuck = sum(g["stuck"] for g in written)
    assert 0.01 < stuck / verified < 0.03  # 2 % of the devices are drawn stuck
    failed_stuck = sum(g["failed_stuck"] for g in written)
    assert 0 < failed_stuck <= stuck
    healthy_failed = sum(g["failed"] - g["failed_stuck"] for g in written)
    assert healthy_failed < 0.01 * verified
    assert all(g["residual_uS"]["abs_p50"] < 0.5 for g in written)
    assert all(g["pulses"]["reset"] >= g["verified"] for g in written)  # each starts at RESET
    assert all(1 <= g["iterations"]["mean"] <= g["max_iterations"] for g in written)
    drift = report["drift"]
    assert [d["time"] for d in drift] == [
        t for t in ("now", "1 s", "1 h", "1 day", "1 month", "1 year") for _ in range(2)
    ]
    assert all(abs(d["gdc_gain_median"] - 1) < 0.05 for d in drift[:2])
    # PCM drift, G(t) = G0 (t / 20 s)^-nu with nu in [0.049, 0.1]: gains (t / 20 s)^nu
    year = 365 * 86400 / 20.0
    assert all(year**0.049 * 0.8 < d["gdc_gain_median"] < year**0.1 * 1.2 for d in drift[-2:])
    out = Path(f"{program}-verify-seeds1-2")
    assert (out / "drift.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((out / "measured.csv").read_text().splitlines()) == 2 + 3 * topo.n_trainable


# -- refusing bad programs --------------------------------------------------------------
@pytest.fixture
def program_copy(ideal_program, tmp_path) -> Path:
    return Path(shutil.copytree(ideal_program, tmp_path / "program"))


def test_a_changed_byte_in_a_group_table_is_refused(program_copy, tmp_path) -> None:
    table = sorted((program_copy / "groups").glob("*.npz"))[1]
    data = bytearray(table.read_bytes())
    data[len(data) // 2] ^= 0x01
    table.write_bytes(bytes(data))
    for action in (
        lambda: verify_program(program_copy, out=tmp_path / "report"),
        lambda: import_program(program_copy, tmp_path / "run"),
    ):
        with pytest.raises(DeephwError, match=f"{table}: SHA-256 .* was changed after export"):
            action()
    assert not (tmp_path / "report").exists() and not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["groups/000_tile0_G.csv", "run_config.yaml", "card.yaml"])
def test_a_missing_file_is_refused(program_copy, tmp_path, name) -> None:
    (program_copy / name).unlink()
    message = f"{program_copy / name}: file listed in program.yaml is missing"
    with pytest.raises(DeephwError, match=message):
        verify_program(program_copy, out=tmp_path / "report")
    with pytest.raises(DeephwError, match=message):
        import_program(program_copy, tmp_path / "run")


def test_a_program_without_manifest_is_refused(program_copy, tmp_path) -> None:
    (program_copy / "program.yaml").unlink()
    with pytest.raises(DeephwError, match="program.yaml: missing"):
        import_program(program_copy, tmp_path / "run")


def test_a_changed_card_is_refused_unless_forced(trained, tmp_path, monkeypatch) -> None:
    run, _ = trained
    shelf = tmp_path / "cards"
    shelf.mkdir()
    card_file = shelf / "bench_card.yaml"
    card_file.write_text(card_to_yaml(replace_card("ideal", {}, name="bench_card")))
    shipped = cards.card_dirs()
    monkeypatch.setattr(cards, "card_dirs", lambda: [shelf, *shipped])
    program = export_program(run, tmp_path / "program", card="bench_card")
    assert open_program(program).manifest.card.shipped
    card_file.write_text(card_file.read_text().replace("g_ref_uS: 1.0", "g_ref_uS: 2.0"))
    with pytest.raises(DeephwError, match="card 'bench_card' has SHA-256 .*--force"):
        verify_program(program, out=tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    report = verify_program(program, force=True, out=tmp_path / "forced").report
    assert report["card_check"].startswith("forced: card 'bench_card' differs")


def test_measured_csv_problems_name_the_line(ideal_program, tmp_path) -> None:
    table = read_npz(sorted((ideal_program / "groups").glob("*.npz"))[0])
    head = "tile,row,column,role,conductance"
    first = f"{table['tile'][0]},{table['row'][0]},{table['column'][0]},G,0.1"
    cases = {
        "twice": ([head, first, first], "lines 2 and 3: device tile"),
        "missing": ([head, first], "is not measured"),
        "role": ([head, first.replace(",G,", ",G+,")], "line 2: role 'G+' is not a role"),
        "stray": ([head, "0,0,0,G,1.0"], "line 2: cell 0 -> 0 holds no device"),
        "text": ([head, "0,0,x,G,1.0"], "line 2, column column = 'x': must be a number"),
        "ragged": ([head, "0,0,4,G,1.0,9"], "line 2: 6 fields, but the header has 5"),
        "address": ([head, "0,0.5,4,G,1.0"], "line 2, column row = 0.5: must be a device"),
        "columns": (["tile,row,role,conductance", "0,0,G,1"], "missing columns ['column']"),
    }
    for name, (lines, expected) in cases.items():
        path = tmp_path / f"{name}.csv"
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(DeephwError, match=re.escape(expected)):
            import_program(path, tmp_path / f"run_{name}", program=ideal_program)
    with pytest.raises(DeephwError, match="needs the program it was measured from"):
        import_program(tmp_path / "twice.csv", tmp_path / "run")


# -- the command line ---------------------------------------------------------------------
def run_cli(*args: str) -> int:
    parser = argparse.ArgumentParser(prog="deephw")
    add_commands(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(["program", *args])
    return parsed.func(parsed)


def test_command_line_export_verify_import_eval(trained, tmp_path, capsys) -> None:
    run, summary = trained
    k, seed = best_seed(summary)
    program = tmp_path / "program"
    groups = tmp_path / "groups.yaml"
    groups.write_text("groups:\n  - {name: out, columns: [8, 8]}\n  - {name: rest, rest: true}\n")
    assert run_cli("export", str(run), "--groups", str(groups), "--out", str(program)) == 0
    out = capsys.readouterr().out
    assert f"network of seed {seed}" in out and "2 groups: out (8), rest (40)" in out
    assert run_cli("verify", str(program), "--seed", "4", "--out", str(tmp_path / "v")) == 0
    out = capsys.readouterr().out
    assert "out" in out and "8/8" in out and "1 year" in out
    assert (
        run_cli(
            "import",
            str(tmp_path / "v" / "measured.csv"),
            "--program",
            str(program),
            "--out",
            str(tmp_path / "measured"),
            "--run",
            str(run),
        )
        == 0
    )
    assert "deephw eval" in capsys.readouterr().out
    assert deephw_main(["eval", str(tmp_path / "measured"), "--task", "XOR"]) == 0
    assert f"{seed:>6}" in capsys.readouterr().out


def test_hostile_measured_csv_files_are_one_line(ideal_program, tmp_path) -> None:
    head = "tile,row,column,role,conductance\n"
    cases = {
        "long": (head + "0,0,4,G," + "1" * 131073 + "\n", "a field is longer than 131072"),
        "latin1": ((head + "0,0,4,G,1.0\n").encode() + b"\xe9\n", "is not UTF-8 text"),
        "quoted": (head + '0,0,4,G,"1.0\n2"\n', "must be a number"),
    }
    for name, (data, expected) in cases.items():
        path = tmp_path / f"{name}.csv"
        (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)
        with pytest.raises(DeephwError, match=re.escape(expected)) as exc:
            import_program(path, tmp_path / f"run_{name}", program=ideal_program)
        assert str(path) in str(exc.value) and "\n" not in str(exc.value)[:300]
        assert not (tmp_path / f"run_{name}").exists()


def test_a_fine_grained_card_exports_pulse_counts_past_int32(tmp_path) -> None:
    """A card with 10**12 levels needs ~10**11 nominal pulses per device: the program
    keeps them exactly and verifies, instead of wrapping to negative counts."""
    config = from_dict(
        {
            "task": {"name": "XOR"},
            "training": {"epochs": 3, "seeds": 1},
            "hardware": {
                "card": "quantized_64",
                "card_overrides": {"device": {"levels": 10**12}},
            },
        }
    )
    run = tmp_path / "run"
    rundir.write_run(deephw.train(config), run)
    program = tmp_path / "program"
    export_program(run, program)
    pulses = np.concatenate(
        [read_npz(p)["pulses"] for p in sorted((program / "groups").glob("*.npz"))]
    )
    assert pulses.dtype == np.int64 and pulses.max() > 2**31
    report = verify_program(program, out=tmp_path / "verify").report
    assert report["totals"]["devices"] == pulses.size
