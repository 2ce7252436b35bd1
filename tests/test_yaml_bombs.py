"""Hostile YAML as a value in every kind of file a command reads: one line, fast, nothing written.

An alias bomb (nested anchors, each repeating the previous one ten times) describes a
document of 10**9 values in a few hundred bytes; a command that walked or printed it
would hang. Every reader refuses it before expanding it. Values that are legal but long
are quoted in errors cut to about 200 characters.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from deephw.cli import main
from deephw.errors import QUOTE_LIMIT
from deephw.validation import MAX_YAML_NODES, parse_yaml

SECONDS = 5.0
"""The issue's bound on a refusal."""


def bomb(depth: int = 9, width: int = 10) -> str:
    """A flow sequence whose aliases expand to ``width ** depth`` strings."""
    items = ["&a0 [" + ", ".join(['"lolololol"'] * width) + "]"]
    items += [f"&a{k} [" + ", ".join([f"*a{k - 1}"] * width) + "]" for k in range(1, depth)]
    return "[" + ", ".join(items) + "]"


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, float]:
    started = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - started
    return code, capsys.readouterr().err, elapsed


def assert_refused_bomb(code: int, err: str, elapsed: float, source: Path) -> None:
    assert code == 2, err
    assert err.count("\n") == 1, err
    assert err.startswith(f"deephw: invalid input: {source}: its aliases expand to more than ")
    assert "alias bomb" in err and len(err) < 300, err
    assert elapsed < SECONDS, elapsed


def test_bomb_is_measured_not_expanded() -> None:
    started = time.perf_counter()
    with pytest.raises(Exception, match="alias bomb"):
        parse_yaml(f"value: {bomb(depth=30)}\n", "deep.yaml")  # 10**30 values
    assert time.perf_counter() - started < 1.0
    legal = f"value: {bomb(depth=4)}\n"  # 11 111 values: under the limit, read normally
    assert len(parse_yaml(legal, "ok.yaml")["value"][3]) == 10
    assert MAX_YAML_NODES == 100_000


def test_bomb_in_a_run_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(f"task:\n  name: AND\nnetwork:\n  hidden: {bomb()}\n")
    out = tmp_path / "run"
    code, err, elapsed = run_cli(["train", str(config), "--out", str(out)], capsys)
    assert_refused_bomb(code, err, elapsed, config)
    assert not out.exists()


def test_bomb_in_a_card_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    card = tmp_path / "card.yaml"
    card.write_text(f"name: hostile\ndevice:\n  model: ideal\n  read_noise_uS: {bomb()}\n")
    assert_refused_bomb(*run_cli(["devices", "check", str(card)], capsys), card)
    config = tmp_path / "run.yaml"  # the same card named by a run config
    config.write_text(f"task: {{name: AND}}\nhardware: {{card: {card.name}}}\n")
    code, err, elapsed = run_cli(["train", str(config), "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and err.count("\n") == 1 and "alias bomb" in err and elapsed < SECONDS
    assert f"{config}: hardware.card = 'card.yaml'" in err
    assert not (tmp_path / "r").exists()


def test_bomb_in_a_sweep_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"name: hostile\nkind: train\nbase: {{task: {{name: AND}}}}\naxes: {bomb()}\n")
    out = tmp_path / "sweep"
    code, err, elapsed = run_cli(["sweep", str(sweep), "--out", str(out), "--quiet"], capsys)
    assert_refused_bomb(code, err, elapsed, sweep)
    assert not out.exists()


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    config = folder / "run.yaml"
    config.write_text(yaml.safe_dump({"task": {"name": "AND"}, "training": {"epochs": 3}}))
    assert main(["train", str(config), "--out", str(folder / "run"), "--seeds", "1"]) == 0
    return folder / "run"


def test_bomb_in_a_groups_file(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    groups = tmp_path / "groups.yaml"
    groups.write_text(f"groups: {bomb()}\n")
    out = tmp_path / "program"
    argv = ["program", "export", str(trained_run), "--groups", str(groups), "--out", str(out)]
    capsys.readouterr()
    assert_refused_bomb(*run_cli(argv, capsys), groups)
    assert not out.exists()


@pytest.mark.parametrize("action", ["verify", "import"])
def test_bomb_in_a_program_manifest(
    action: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = tmp_path / "program"
    program.mkdir()
    (program / "program.yaml").write_text(f"format: 1\ndescription: {bomb()}\n")
    out = tmp_path / "out"
    argv = ["program", action, str(program), "--out", str(out)]
    code, err, elapsed = run_cli(argv, capsys)
    assert code == 2 and err.count("\n") == 1 and elapsed < SECONDS, err
    assert "program.yaml" in err and len(err) < 400, err
    assert not out.exists()


# -- legal but long values are quoted cut -------------------------------------------

LONG = "x" * 50_000


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        (f"task: {{name: {LONG}}}\n", "task.name = 'xxxx"),
        (f"task: {{name: AND}}\nnetwork: {{hidden: {LONG}}}\n", "network.hidden = 'xxxx"),
        (f"task: {{name: AND}}\nengine: {LONG}\n", "engine = 'xxxx"),
        (f"task: {{name: AND}}\nhardware: {{card: {LONG}}}\n", "hardware.card = 'xxxx"),
        (f"task: {{name: AND}}\ntraining: {{epochs: [{LONG}]}}\n", "training.epochs = ['xxxx"),
        (f"task: {{name: [{', '.join(['1'] * 5000)}]}}\n", "task.name = <list of 5000 items>"),
        (f'task: {{name: AND}}\n? "{LONG}"\n: 1\n', "unknown key"),
        (f'task: {{name: AND}}\n? "{LONG}"\n: 1\n? "{LONG}"\n: 2\n', "duplicate key 'xxxx"),
    ],
)
def test_long_values_are_cut_in_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, quoted: str
) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(text)
    code, err, elapsed = run_cli(["train", str(config), "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and err.count("\n") == 1, err[:500]
    assert quoted in err, err[:500]
    # the file name, the field, about QUOTE_LIMIT characters of value, and the reason
    assert len(err) < len(str(config)) + QUOTE_LIMIT + 250, len(err)
    assert elapsed < SECONDS
