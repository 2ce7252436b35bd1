"""One assembly per run: every part resolved once, unused options refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import deephw
from deephw import assembly
from deephw.cli import main
from deephw.config import from_dict
from deephw.devices import cards
from deephw.errors import ConfigError
from deephw.rules.sym_ep import SymEP
from deephw.schemes import Hybrid


def test_a_cli_run_reads_its_card_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reads: list[str] = []
    real = cards.check_card

    def counting(path):
        reads.append(str(path))
        return real(path)

    monkeypatch.setattr(cards, "check_card", counting)
    config = tmp_path / "run.yaml"
    config.write_text(
        "task: {name: XOR}\ntraining: {epochs: 3, seeds: 2}\n"
        "hardware: {card: pcm_ambrogio2018, scheme: {name: hybrid, transfer_every: 2}}\n"
    )
    assert main(["train", str(config), "--out", str(tmp_path / "run")]) == 0
    assert len(reads) == 1 and reads[0].endswith("pcm_ambrogio2018.yaml")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["hardware"]["scheme"] == "hybrid"


def test_assemble_resolves_every_part() -> None:
    config = from_dict(
        {
            "task": {"name": "XOR"},
            "learning": {"rule": "sym_ep", "lr": 1.0},
            "hardware": {
                "card": "pcm_ambrogio2018",
                "scheme": {"name": "hybrid", "inner": "digital"},
            },
            "engine": "numpy",
        }
    )
    run = assembly.assemble(config)
    assert isinstance(run.rule, SymEP) and isinstance(run.scheme, Hybrid)
    assert run.scheme.inner == "digital" and run.scheme.digital.rounding == "stochastic"
    assert run.card.name == "pcm_ambrogio2018" and run.topology.n == 9
    assert run.engine.name == "numpy" and run.task.name == "XOR"
    with pytest.raises(AttributeError):
        run.card = None  # frozen


@pytest.mark.parametrize(
    ("sections", "field"),
    [
        (
            {"hardware": {"scheme": {"name": "in_situ", "transfer_every": 4}}},
            "hardware.scheme.transfer_every",
        ),
        (
            {"hardware": {"scheme": {"name": "digital", "bit_length": 4}}},
            "hardware.scheme.bit_length",
        ),
        ({"hardware": {"transfer_every": 4}}, "hardware.transfer_every"),
        ({"engine": {"name": "numpy", "target": "cython"}}, "engine.target"),
        (
            {"learning": {"rule": "asym_ep", "options": {"nudging": "centred"}}},
            "learning.options.nudging",
        ),
        ({"hardware": {"scheme": {"transfer_every": 4}}}, "hardware.scheme.name"),
    ],
)
def test_an_option_the_chosen_part_does_not_use_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sections: dict, field: str
) -> None:
    path = tmp_path / "run.yaml"
    text = "task: {name: AND}\n" + "".join(
        f"{name}: {json.dumps(value)}\n" for name, value in sections.items()
    )
    path.write_text(text)
    assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}: {field} = " in err, err
    assert not (tmp_path / "run").exists()


def test_short_forms_still_work() -> None:
    config = from_dict(
        {"task": {"name": "AND"}, "hardware": {"scheme": "digital"}, "engine": "brian2"}
    )
    assert (
        config.hardware.scheme == "digital"
        and config.hardware.scheme_options.rounding == "stochastic"
    )
    assert config.engine.name == "brian2" and config.engine.target == "cython"
    again = from_dict(config.to_dict())
    assert again == config


def test_card_errors_come_from_the_assembly_naming_the_config(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("task: {name: AND}\nhardware: {card: pcm_ambrogio2018}\n")
    deephw.load(path)  # the config alone is valid
    with pytest.raises(ConfigError, match=rf"{path}: hardware.scheme = 'digital': .*hybrid"):
        assembly.load_run(path)
