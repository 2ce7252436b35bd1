"""Weight programs from someone else: nothing read outside the program, nothing forged
accepted, budgets and output locations checked before any work, a printout that says
what it shows."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from deephw import atomic, budget, topology
from deephw.cli import main as deephw_main
from deephw.errors import DeephwError
from deephw.program import export_program, import_program, open_program, verify_program
from deephw.program.tables import read_npz

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def write_run(path: Path, topo: topology.Topology, config: dict, seed: int = 1) -> Path:
    """A run directory holding one random network of ``topo`` (no training needed)."""
    path.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    weights = (rng.uniform(-0.6, 0.6, (1, topo.n, topo.n)) * topo.mask).round(6)
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    np.savez(path / "weights.npz", seeds=[seed], weights=weights, mask=topo.mask[None])
    return path


@pytest.fixture(scope="module")
def programs(tmp_path_factory) -> dict[str, Path]:
    """An XOR program on the PCM Ambrogio card, and a CSV-task program carrying data/."""
    root = tmp_path_factory.mktemp("programs")
    xor = write_run(root / "xor_run", topology.complete(2, 5, 1), {"task": {"name": "XOR"}})
    csv_run = root / "csv_run"
    config = {
        "task": {
            "csv": "data/blobs.csv",
            "inputs": ["x1", "x2", "x3"],
            "targets": ["class_a", "class_b"],
            "accuracy": "argmax",
        },
        "network": {"hidden": 4},
    }
    write_run(csv_run, topology.complete(3, 4, 2), config)
    (csv_run / "data").mkdir()
    shutil.copyfile(EXAMPLES / "blobs.csv", csv_run / "data" / "blobs.csv")
    return {
        "pcm": export_program(xor, root / "pcm", card="pcm_ambrogio2018", tile_rows=5),
        "csv": export_program(csv_run, root / "csv"),
        "run": csv_run,
    }


@pytest.fixture
def pcm(programs, tmp_path) -> Path:
    return Path(shutil.copytree(programs["pcm"], tmp_path / "pcm"))


@pytest.fixture
def with_data(programs, tmp_path) -> Path:
    return Path(shutil.copytree(programs["csv"], tmp_path / "csv"))


def refused(capsys, *argv: str) -> str:
    """Run ``deephw ARGV``, expect exit 2 and one line on stderr; return that line."""
    assert deephw_main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.startswith("deephw: invalid input: ") and err.count("\n") == 1, err
    return err


def actions(program: Path, tmp_path: Path) -> dict[str, Callable[[], object]]:
    """Every command reading a program, each with an output that must not appear."""
    return {
        "verify": lambda: verify_program(program, out=tmp_path / "report"),
        "import": lambda: import_program(program, tmp_path / "run"),
    }


def assert_refused_everywhere(program: Path, tmp_path: Path, pattern: str) -> None:
    for name, action in actions(program, tmp_path).items():
        with pytest.raises(DeephwError, match=pattern):
            action()
        assert not (tmp_path / ("report" if name == "verify" else "run")).exists()


# -- symbolic links --------------------------------------------------------------------------
def test_a_data_folder_linked_out_of_the_program_is_refused(pcm, tmp_path, capsys) -> None:
    (pcm / "data").symlink_to("/etc")
    assert_refused_everywhere(pcm, tmp_path, re.escape(f"{pcm / 'data'}: is a symbolic link"))
    err = refused(capsys, "program", "import", str(pcm), "--out", str(tmp_path / "run"))
    assert f"{pcm / 'data'}: is a symbolic link (to '/etc')" in err
    assert not (tmp_path / "run").exists()


def test_a_link_inside_data_is_refused_even_to_an_identical_file(with_data, tmp_path) -> None:
    listed = with_data / "data" / "blobs.csv"
    outside = tmp_path / "elsewhere.csv"
    shutil.copyfile(listed, outside)
    (with_data / "data" / "passwd").symlink_to("/etc/passwd")
    assert_refused_everywhere(with_data, tmp_path, re.escape(f"{with_data / 'data' / 'passwd'}"))
    (with_data / "data" / "passwd").unlink()
    listed.unlink()
    listed.symlink_to(outside)  # same bytes, same hash: still refused
    assert_refused_everywhere(with_data, tmp_path, re.escape(f"{listed}: is a symbolic link"))


def test_a_group_table_linked_outside_with_its_hash_is_refused(pcm, tmp_path) -> None:
    table = sorted((pcm / "groups").glob("*.npz"))[0]
    outside = tmp_path / "outside.npz"
    shutil.move(table, outside)
    table.symlink_to(outside)
    assert hashlib.sha256(table.read_bytes()).hexdigest() in (pcm / "program.yaml").read_text()
    assert_refused_everywhere(pcm, tmp_path, re.escape(f"{table}: is a symbolic link"))


def test_a_listed_file_that_is_a_fifo_is_refused_without_blocking(pcm, tmp_path) -> None:
    config = pcm / "run_config.yaml"
    config.unlink()
    os.mkfifo(config)
    assert_refused_everywhere(pcm, tmp_path, re.escape(f"{config}: is not a regular file"))


def test_import_copies_the_listed_data_files_only(with_data, tmp_path) -> None:
    (with_data / "data" / "notes.txt").write_text("not listed\n")
    (with_data / "extra.bin").write_bytes(b"\0" * 10)
    run = import_program(with_data, tmp_path / "run")
    assert sorted(p.name for p in (run / "data").iterdir()) == ["blobs.csv"]
    assert (run / "data" / "blobs.csv").read_bytes() == (EXAMPLES / "blobs.csv").read_bytes()
    assert deephw_main(["eval", str(run)]) == 0


def test_export_refuses_a_run_whose_data_is_a_link(programs, tmp_path, capsys) -> None:
    run = Path(shutil.copytree(programs["run"], tmp_path / "run"))
    shutil.move(run / "data", tmp_path / "data")
    (run / "data").symlink_to(tmp_path / "data")
    err = refused(capsys, "program", "export", str(run), "--out", str(tmp_path / "p"))
    assert f"{run / 'data'}: is a symbolic link" in err
    assert not (tmp_path / "p").exists()


# -- program.yaml sealed by program.sha256 ---------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new"),
    [("tolerance_uS: 0.5", "tolerance_uS: 5.0"), ("devices: 144", "devices: 145")],
)
def test_an_edited_manifest_is_refused(pcm, tmp_path, old, new) -> None:
    manifest = pcm / "program.yaml"
    text = manifest.read_text()
    assert old in text
    manifest.write_text(text.replace(old, new, 1))
    pattern = f"{re.escape(str(manifest))}: SHA-256 .* differs from program.sha256's"
    assert_refused_everywhere(pcm, tmp_path, pattern)


def test_a_program_without_its_manifest_digest_must_be_re_exported(pcm, tmp_path) -> None:
    (pcm / "program.sha256").unlink()
    assert_refused_everywhere(pcm, tmp_path, "program.sha256: missing.*re-export it")


# -- forged content with every hash recomputed ------------------------------------------------
def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def forge(program: Path, name: str, data: bytes, manifest_edit=None) -> None:
    """Replace a file as an attacker would: new bytes, its hash in program.yaml updated,
    then program.sha256 recomputed."""
    manifest = program / "program.yaml"
    text = manifest.read_text().replace(sha((program / name).read_bytes()), sha(data))
    (program / name).write_bytes(data)
    if manifest_edit is not None:
        text = manifest_edit(text)
    manifest.write_text(text)
    (program / "program.sha256").write_text(f"{sha(text.encode())}  program.yaml\n")


def table_bytes(columns: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **columns)
    return buffer.getvalue()


def forged_table(program: Path, change, k: int = 0) -> tuple[Path, str]:
    """Group table ``k`` with ``change(columns)`` applied, forged into ``program``."""
    path = sorted((program / "groups").glob("*.npz"))[k]
    with np.load(path) as data:
        columns = {key: data[key].copy() for key in data.files}
    change(columns)
    forge(program, path.relative_to(program).as_posix(), table_bytes(columns))
    return path, path.relative_to(program).as_posix()


def _set(column: str, value, row: int = 0):
    def change(columns):
        columns[column][row] = value

    return change


def _retype(column: str, kind):
    def change(columns):
        columns[column] = columns[column].astype(kind)

    return change


FORGED_TABLES = {
    "nan target": (_set("target_uS", np.nan), "target_uS = nan is not inside the device's range"),
    "infinite target": (_set("target_uS", np.inf), "target_uS = inf is not inside"),
    "target above the card": (_set("target_uS", 1e3), "target_uS = 1000.0 is not inside the"),
    "negative target": (_set("target_uS", -5.0), "range [0, 25] µS of card 'pcm_ambrogio2018'"),
    "unknown role code": (_set("role", 7), "row 0: role code 7 names no role"),
    "wrong tile": (_set("tile", 1), "row 0: tile 1 row 0 column"),
    "cell outside": (_set("pre", 400), "cell 400 -> "),
    "float addresses": (_retype("tile", np.float64), "column tile is float64"),
    "float32 targets": (_retype("target_uS", np.float32), "column target_uS is float32"),
    "other tolerance": (_set("tolerance_uS", 3.0), "tolerance_uS = 3.0 differs from its group"),
    "held written": (_set("method", 1), "method reset but card 'pcm_ambrogio2018' has its G+"),
}


@pytest.mark.parametrize("case", FORGED_TABLES)
def test_forged_tables_with_matching_hashes_are_refused_in_one_line(
    pcm, tmp_path, capsys, case
) -> None:
    change, expected = FORGED_TABLES[case]
    path, _ = forged_table(pcm, change)
    assert_refused_everywhere(pcm, tmp_path, re.escape(f"{path}: ") + ".*" + re.escape(expected))
    err = refused(capsys, "program", "verify", str(pcm), "--out", str(tmp_path / "r"))
    assert expected in err
    assert not (tmp_path / "r").exists()


def test_a_table_with_a_two_dimensional_column_is_refused(pcm, tmp_path) -> None:
    def change(columns):
        columns["target_uS"] = np.stack([columns["target_uS"], columns["target_uS"]])

    path, _ = forged_table(pcm, change)
    assert_refused_everywhere(pcm, tmp_path, re.escape(f"{path}: column target_uS is float64"))


def edited(change) -> Callable[[str], str]:
    """A manifest edit: ``change`` applied to the parsed ``program.yaml``."""

    def edit(text: str) -> str:
        data = yaml.safe_load(text)
        change(data)
        return yaml.safe_dump(data, sort_keys=False)

    return edit


def test_a_device_listed_twice_is_refused(pcm, tmp_path) -> None:
    path = sorted((pcm / "groups").glob("*.npz"))[0]
    with np.load(path) as data:
        columns = {key: data[key].copy() for key in data.files}
    for key, value in columns.items():
        if not key.endswith("_names"):
            columns[key] = np.concatenate([value, value[:1]])

    def recount(data: dict) -> None:
        data["groups"][0]["devices"] += 1
        data["network"]["devices"] += 1

    forge(pcm, path.relative_to(pcm).as_posix(), table_bytes(columns), edited(recount))
    assert_refused_everywhere(
        pcm, tmp_path, re.escape(f"{path}: device tile 0 row 0 column") + ".* is listed twice"
    )


def no_groups(data: dict) -> None:
    data["groups"] = []


def same_table(data: dict) -> None:
    data["groups"][1]["table"] = data["groups"][0]["table"]
    data["groups"][1]["devices"] = data["groups"][0]["devices"]
    data["network"]["devices"] = sum(group["devices"] for group in data["groups"])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (no_groups, "program.yaml: groups = []: a program has at least one device group"),
        (same_table, "program.yaml: table groups/000_tile0_G+.npz is listed for two groups"),
    ],
)
def test_forged_group_lists_are_refused(pcm, tmp_path, change, expected) -> None:
    forge(pcm, "pruned.csv", (pcm / "pruned.csv").read_bytes(), edited(change))
    assert_refused_everywhere(pcm, tmp_path, re.escape(expected))


def test_a_table_longer_than_announced_is_refused_before_it_is_read(pcm, tmp_path) -> None:
    def change(columns):
        for key, value in columns.items():
            if not key.endswith("_names"):
                columns[key] = np.resize(value, 10**6)

    path, _ = forged_table(pcm, change)
    expected = "column tile is int32 of shape (1000000,), expected a one-dimensional int32 column"
    assert_refused_everywhere(pcm, tmp_path, re.escape(f"{path}: {expected} of 28 rows"))


PRUNED = {
    "text": ("pre,post,tile,row,column\nx,1,0,0,1\n", "line 2: expected 5 integers"),
    "header": ("a,b\n", "line 1: header must be pre,post,tile,row,column"),
    "outside": ("pre,post,tile,row,column\n99,1,19,4,1\n", "line 2: cell 99 -> 1 lies outside"),
    "programmed": ("pre,post,tile,row,column\n0,3,0,0,3\n", "line 2: cell 0 -> 3 is programmed"),
    "no connection": ("pre,post,tile,row,column\n0,2,0,0,2\n", "cell 0 -> 2 is no connection"),
    "huge": ("pre,post,tile,row,column\n" + "9" * 40 + ",1,0,0,1\n", "line 2: expected 5 integers"),
}


@pytest.mark.parametrize("case", PRUNED)
def test_a_forged_pruned_csv_is_refused_naming_the_line(pcm, tmp_path, capsys, case) -> None:
    text, expected = PRUNED[case]
    lines = text.count("\n") - 1

    def count(manifest: str) -> str:
        return manifest.replace("pruned_cells: 0", f"pruned_cells: {lines}")

    forge(pcm, "pruned.csv", text.encode(), count)
    pattern = re.escape(f"{pcm / 'pruned.csv'}: {expected}")
    assert_refused_everywhere(pcm, tmp_path, pattern)
    assert expected in refused(capsys, "program", "import", str(pcm), "--out", str(tmp_path / "x"))


def test_a_forged_config_naming_a_file_outside_is_refused(with_data, tmp_path) -> None:
    text = (with_data / "run_config.yaml").read_text()
    forged = text.replace("csv: data/blobs.csv", f"csv: {EXAMPLES / 'blobs.csv'}")
    assert forged != text
    forge(with_data, "run_config.yaml", forged.encode())
    pattern = "run_config.yaml: task.csv = .*blobs.csv': names a file that is not one of the"
    assert_refused_everywhere(with_data, tmp_path, pattern)


# -- measured conductances ------------------------------------------------------------------
@pytest.mark.parametrize("value", ["1e300", "-50", "nan", "inf"])
def test_measured_conductances_out_of_physical_range_name_the_device(
    pcm, tmp_path, capsys, value
) -> None:
    table = read_npz(sorted((pcm / "groups").glob("*.npz"))[0])  # tile 0, role G+
    lines = ["tile,row,column,role,conductance"]
    for k in range(len(table)):
        lines.append(f"0,{table['row'][k]},{table['column'][k]},G+,{table['target_uS'][k]}")
    lines[3] = lines[3].rsplit(",", 1)[0] + f",{value}"
    measured = tmp_path / "measured.csv"
    measured.write_text("\n".join(lines) + "\n")
    err = refused(
        capsys,
        "program",
        "import",
        str(measured),
        "--program",
        str(pcm),
        "--out",
        str(tmp_path / "run"),
    )
    device = f"tile 0 row {table['row'][2]} column {table['column'][2]} role G+"
    assert f"{measured}: line 4: device {device}: conductance {float(value)!r} " in err
    if value == "nan":
        assert err.rstrip().endswith("conductance nan is not a number")
    else:
        assert "µS is far outside the device's physical range [0, 25] µS" in err
        assert "(accepted: [-25, 50] µS)" in err
    assert not (tmp_path / "run").exists()


# -- budgets and output locations -----------------------------------------------------------
def test_verify_with_1e8_chips_is_refused_before_any_work(pcm, tmp_path, capsys) -> None:
    out = tmp_path / "report"
    err = refused(capsys, "program", "verify", str(pcm), "--chips", str(10**8), "--out", str(out))
    assert f"{pcm / 'program.yaml'} (9 neurons, 144 devices): --chips = 100000000" in err
    assert re.search(r"needs about [\d.]+ TB of memory, more than this machine", err)
    assert not out.exists()
    err = refused(capsys, "program", "verify", str(pcm), "--chips", "3", "--chip", "3")
    assert "--chip = 3: must name one of the 3 chips, 0 to 2" in err


def test_verify_past_the_work_limit_needs_force(pcm, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(budget, "WORK_LIMIT_OPS", 1e3)
    with pytest.raises(budget.BudgetError, match=r"--chips = 1: needs about .* pass --force"):
        verify_program(pcm, out=tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    verify_program(pcm, force=True, out=tmp_path / "forced")
    monkeypatch.setattr(budget, "physical_memory_bytes", lambda: 10**6)  # never forced
    with pytest.raises(budget.BudgetError, match="of memory"):
        verify_program(pcm, force=True, out=tmp_path / "memory")
    assert not (tmp_path / "memory").exists()


def test_a_forged_huge_network_is_refused_by_its_estimate(pcm, tmp_path) -> None:
    def grow(text: str) -> str:
        return text.replace("neurons: 9", f"neurons: {10**6}", 1)

    forge(pcm, "pruned.csv", (pcm / "pruned.csv").read_bytes(), grow)
    with pytest.raises(budget.BudgetError, match=r"network.neurons = 1000000: needs about"):
        import_program(pcm, tmp_path / "run")
    with pytest.raises(budget.BudgetError, match=r"\(1000000 neurons, 144 devices\): --chips"):
        verify_program(pcm, out=tmp_path / "report")
    assert not (tmp_path / "run").exists() and not (tmp_path / "report").exists()


def commands(programs: dict[str, Path], out: Path) -> dict[str, list[str]]:
    pcm = str(programs["pcm"])
    return {
        "export": ["program", "export", str(programs["run"]), "--out", str(out)],
        "verify": ["program", "verify", pcm, "--out", str(out)],
        "import": ["program", "import", pcm, "--out", str(out)],
    }


@pytest.mark.parametrize("command", ["export", "verify", "import"])
def test_outputs_under_a_file_or_on_a_full_disk_are_refused_first(
    programs, tmp_path, capsys, monkeypatch, command
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    err = refused(capsys, *commands(programs, blocker / "out")[command])
    assert f"{blocker / 'out'}: {blocker} is not a directory" in err

    class Usage:
        free = 10**6

    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda _: Usage())
    out = tmp_path / "out"
    err = refused(capsys, *commands(programs, out)[command])
    assert f"{out}: not enough free space in {tmp_path}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.parametrize("command", ["export", "verify", "import"])
def test_outputs_on_a_real_read_only_or_tiny_file_system_are_refused(
    programs, tmp_path, capsys, command, tmpfs
) -> None:
    with tmpfs(tmp_path / "ro", "ro,size=1m") as ro:
        err = refused(capsys, *commands(programs, ro / "out")[command])
        assert f"{ro / 'out'}: cannot write into {ro} (Read-only file system)" in err
    with tmpfs(tmp_path / "tiny", "size=1m") as tiny:
        err = refused(capsys, *commands(programs, tiny / "out")[command])
        assert f"{tiny / 'out'}: not enough free space in {tiny}" in err
        assert list(tiny.iterdir()) == []


@pytest.mark.parametrize("command", ["export", "verify", "import"])
def test_an_output_being_written_by_another_process_is_refused(
    programs, tmp_path, capsys, command
) -> None:
    out = tmp_path / "out"
    with atomic.claim(out):
        err = refused(capsys, *commands(programs, out)[command])
    assert f"{out}: another deephw process is writing this output" in err
    assert not out.exists()


# -- what verify prints -----------------------------------------------------------------------
def test_verify_prints_headed_columns_counts_over_chips_and_the_measured_chip(
    programs, tmp_path, capsys
) -> None:
    out = tmp_path / "report"
    pcm = programs["pcm"]
    argv = ["program", "verify", str(pcm), "--chips", "4", "--seed", "2", "--chip", "2"]
    assert deephw_main([*argv, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert "programming, per device group, over 4 chips (seeds 2 to 5):" in text
    assert re.search(r"group +method +devices +within tol\. +failed +stuck +\|res\| p90", text)
    assert re.search(r"tile0_g +held at reset +112 +- +- ", text)
    assert "held at reset: RESET and kept" in text
    assert re.search(r"tile0_G\+ +write-verify +112 +\d+/112 ", text)
    assert "without compensation" in text and "global drift compensation" in text
    assert text.count("all right  acc. mean acc. med.  MSE med.") == 2
    for label in ("now", "1 year"):
        rows = [r for r in report["drift"] if r["time"] == label]
        accuracy = np.array([r["accuracy"] for r in rows])
        gdc = np.array([r["accuracy_gdc"] for r in rows])
        line = next(line for line in text.splitlines() if line.startswith(f"{label} "))
        fields = line[len(label) :].split()
        assert fields[0] == f"{(accuracy >= 1).sum()}/4"
        assert fields[1] == f"{100 * accuracy.mean():.1f}"
        assert fields[3] == f"{100 * np.median(accuracy):.1f}"
        assert fields[6] == f"{(gdc >= 1).sum()}/4"
    assert "all right: chips (of 4) whose network classifies every pattern right" in text
    assert "median over chips" in text
    measured = out / "measured.csv"
    assert (
        f"measured conductances of chip 2 (seed 4), read right after programming: {measured}"
        in (text)
    )
    assert "another chip: --chip K" in text
    chip2 = measured.read_text()
    assert chip2.startswith("# simulated chip seed 4:")
    assert deephw_main([*argv[:-2], "--chip", "0", "--out", str(tmp_path / "chip0")]) == 0
    chip0 = (tmp_path / "chip0" / "measured.csv").read_text()
    assert chip0.startswith("# simulated chip seed 2:")
    reads = [
        np.loadtxt(io.StringIO(t), delimiter=",", skiprows=2, usecols=4) for t in (chip0, chip2)
    ]
    assert reads[0].shape == reads[1].shape == (144,) and not np.array_equal(*reads)


def test_a_card_name_in_the_manifest_is_never_read_as_a_path(pcm, tmp_path) -> None:
    outside = tmp_path / "outside_card.yaml"  # the very card, so its hash would match
    shutil.copyfile(pcm / "card.yaml", outside)

    def rename(text: str) -> str:
        return text.replace("name: pcm_ambrogio2018", f"name: {outside}", 1)

    forge(pcm, "pruned.csv", (pcm / "pruned.csv").read_bytes(), rename)
    assert open_program(pcm).manifest.card.name == str(outside)
    with pytest.raises(DeephwError, match="no shipped card of that name.*--force"):
        verify_program(pcm, out=tmp_path / "report")
    assert not (tmp_path / "report").exists()
    report = verify_program(pcm, force=True, out=tmp_path / "forced").report
    assert (
        report["card_check"].startswith("forced: card")
        and "embedded copy used" in (report["card_check"])
    )
