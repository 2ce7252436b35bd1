"""Weight programs as objects: export to memory, write, read back, verify and import
without a directory, with the same numbers as the directory commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import deephw
from deephw import rundir
from deephw.cli import main as deephw_main
from deephw.config import SEED_MAX, from_dict
from deephw.program import (
    VerifyReport,
    WeightProgram,
    export_network,
    export_program,
    import_network,
    open_program,
    verify_chips,
    verify_program,
    write_program,
)
from deephw.program.files import DIGEST
from deephw.program.manifest import MANIFEST


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """XOR trained on a PCM pair (2 seeds), written as a run directory."""
    config = from_dict(
        {
            "task": {"name": "XOR"},
            "training": {"epochs": 100, "seeds": 2},
            "hardware": {"card": "pcm_pair"},
        }
    )
    return rundir.write_run(deephw.train(config), tmp_path_factory.mktemp("runs") / "xor")


def tables_equal(first: WeightProgram, second) -> bool:
    return all(
        a.role_names == b.role_names
        and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a.columns)
        and all(a[k].dtype == b[k].dtype for k in a.columns)
        for a, b in zip(first.tables(), second.tables(), strict=True)
    )


def test_a_written_program_holds_exactly_the_objects_files(run, tmp_path) -> None:
    program = export_network(run, tile_rows=4, csv="always")
    assert isinstance(program, WeightProgram) and program.location == "(in memory)"
    out = write_program(program, tmp_path / "program")
    on_disk = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert on_disk == program.directory_files()
    assert {MANIFEST, DIGEST, "run_config.yaml", "card.yaml", "pruned.csv"} <= set(on_disk)
    assert on_disk["run_config.yaml"] == (run / "config.yaml").read_bytes()
    loaded = open_program(out).load()  # every file read back and checked
    assert loaded.manifest == program.manifest and loaded.location == str(out.resolve())
    assert tables_equal(program, loaded)
    assert all(np.array_equal(a, b) for a, b in zip(program.pruned(), loaded.pruned(), strict=True))
    assert loaded.card() == program.card() and loaded.files == program.files
    assert loaded.config().to_dict() == program.config().to_dict()
    with pytest.raises(deephw.errors.DeephwError, match="must not exist|not empty|exists"):
        write_program(program, out)


def test_export_to_memory_and_to_a_directory_give_the_same_program(run, tmp_path) -> None:
    program = export_network(run, card="pcm_ambrogio2018", seed=1, tile_rows=3, tile_cols=5)
    written = open_program(
        export_program(
            run, tmp_path / "p", card="pcm_ambrogio2018", seed=1, tile_rows=3, tile_cols=5
        )
    )
    assert written.manifest.network == program.manifest.network
    assert written.manifest.geometry == program.manifest.geometry
    assert [g.name for g in written.manifest.groups] == [g.name for g in program.manifest.groups]
    assert tables_equal(program, written)


def test_verify_in_memory_reports_what_the_directory_command_writes(run, tmp_path) -> None:
    program = export_network(run, tile_rows=4)
    report = verify_chips(program, seed=7, chips=2)
    assert isinstance(report, VerifyReport)
    assert report.chip_seeds == [7, 8] and report.network_seed == program.seed
    assert len(report.drift) == 2 * 6 and {s.chip_seed for s in report.drift} == {7, 8}
    assert report.totals.pulses == sum(report.totals.pulses_per_chip) > 0
    assert sum(g.devices for g in report.groups) == program.manifest.network.devices
    written = write_program(program, tmp_path / "program")
    result = verify_program(written, seed=7, chips=2, out=tmp_path / "report")
    on_disk = json.loads((tmp_path / "report" / "report.json").read_text())
    assert on_disk == result.report == result.typed.to_dict()
    mine = report.to_dict()
    assert mine.pop("program") == "(in memory)" and on_disk.pop("program") == str(written.resolve())
    assert mine == on_disk


def test_import_from_a_program_object_gives_back_the_trained_network(run) -> None:
    summary = json.loads((run / "summary.json").read_text())
    program = export_network(run, seed=summary["seed_values"][1])
    network = import_network(program)
    with np.load(run / "weights.npz") as arrays:
        assert np.array_equal(network.weights[0], arrays["weights"][1])
        assert np.array_equal(network.mask[0], arrays["mask"][1])
    assert network.seeds.tolist() == [summary["seed_values"][1]]
    structural, enabled = program.masks()
    assert np.array_equal(network.structural_mask, structural) and enabled.sum() > 0


@pytest.mark.parametrize("action", ["export", "verify"])
def test_program_seed_past_int64_is_a_usage_error(run, tmp_path, capsys, action) -> None:
    out = tmp_path / "out"
    target = str(run) if action == "export" else str(tmp_path / "absent")
    with pytest.raises(SystemExit) as exc:
        deephw_main(["program", action, target, "--out", str(out), "--seed", str(SEED_MAX + 1)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --seed: must be <= {SEED_MAX}, got {SEED_MAX + 1}" in err
    assert "Traceback" not in err and not out.exists()
