"""``deephw reproduce --study digits`` on tiny settings: runs, baselines, tables, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deephw import digits_study, readme_check
from deephw.cli import main
from deephw.data import digits
from deephw.validation import read_yaml

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits.yaml"
TINY = ["--epochs", "2", "--seeds", "2", "--subset", "60", "--workers", "1"]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A tiny study with two cards: its directory and what it printed."""
    out = tmp_path_factory.mktemp("digits") / "study"
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(
            [
                "reproduce",
                "--study",
                "digits",
                "--out",
                str(out),
                *TINY,
                "--cards",
                "ideal,pcm_ambrogio2018",
            ]
        )
    assert code == 0
    return out, printed.getvalue()


def test_the_example_is_the_study_config() -> None:
    example = read_yaml(EXAMPLE)
    assert example == digits_study.CONFIG


def test_the_study_trains_every_part_and_writes_its_files(study) -> None:
    out, printed = study
    found = json.loads((out / "summary.json").read_text())
    deep = found["deep"]
    assert deep["seed_values"] == [0, 1] and deep["epochs"] == 2
    assert deep["train_patterns"] == 60 and deep["test_patterns"] == 20
    assert len(deep["test_accuracy_per_seed"]) == 2
    assert all(0 <= v <= 1 for v in deep["hidden_at_one_per_seed"])
    assert set(found["variants"]) == set(digits_study.VARIANTS)
    # variants train one seed
    assert all(len(v["test_accuracy_per_seed"]) == 1 for v in found["variants"].values())
    assert set(found["cards"]) == {"ideal", "pcm_ambrogio2018"}
    amb = found["cards"]["pcm_ambrogio2018"]["hardware"]
    assert amb["scheme"] == "hybrid" and found["cards"]["ideal"]["hardware"]["scheme"] == "digital"
    assert amb["pulses_per_epoch"] == pytest.approx(np.mean(amb["pulses_per_seed"]) / 2)
    assert amb["energy_pJ_per_epoch"] > 0 and amb["chip_time_s"] > 0
    for name in ("digits_training.png", "digits_cards.png", "data/digits.npz"):
        assert (out / name).stat().st_size > 0
    for run in ("deep", "cards/ideal", "cards/pcm_ambrogio2018"):
        assert (out / "runs" / run / "summary.json").exists()
    assert not (out / "runs" / "variants").exists()
    assert "scikit-learn logistic regression" in printed and "pcm_ambrogio2018" in printed


def test_the_scaled_variant_reads_quarter_inputs(study) -> None:
    out, _ = study
    planned = dict(digits_study.plan(2, 2, 0, data=out / "data" / "digits.npz"))
    config = planned[("variants", "inputs_quarter")].config
    assert config.task.scale == 4.0 and config.task.npz == str(out / "data" / "digits.npz")
    found = json.loads((out / "summary.json").read_text())["variants"]["inputs_quarter"]
    assert found["train_patterns"] == 60  # the subset, scaled
    with np.load(out / "data" / "digits.npz") as data:
        assert data["x_train"].shape == (60, 64) and data["x_test"].shape == (20, 64)
        assert data["x_train"].max() <= 1.0


def test_baselines_are_fitted_on_the_runs_split(study) -> None:
    out, _ = study
    found = json.loads((out / "summary.json").read_text())
    train, test = digits_study.split(60)
    again = digits_study.baselines(train, test, [0, 1])
    assert found["baselines"] == again
    # the split is the built-in one: the first images of its training part
    full, held = digits.load()
    assert np.array_equal(train.x, full.x[:60]) and np.array_equal(test.y, held.y[:20])
    # fitted on other images, they differ: the equality above is not trivially true
    other = digits_study.baselines(*digits_study.split(90), [0, 1])
    assert other != again


def test_results_md_tables_are_checked_by_readme_check(study, tmp_path) -> None:
    out, _ = study
    results = (out / "results.md").read_text()
    tables = readme_check.marked_tables(results, "results.md")
    assert set(tables) == {"digits", "digits-variants", "digits-cards"}
    found = json.loads((out / "summary.json").read_text())
    mean = 100 * np.mean(found["deep"]["test_accuracy_per_seed"])
    assert f"| {mean:.2f} % |" in tables["digits"]
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n" + results.split("\n\n", 3)[3])
    assert readme_check.main([str(out / "results.md"), str(readme)]) == 0
    readme.write_text(readme.read_text().replace("| hybrid |", "| digital |", 1))
    assert readme_check.main([str(out / "results.md"), str(readme)]) == 1


def test_card_runs_are_capped_in_epochs_and_seeds() -> None:
    planned = dict(digits_study.plan(100, 5, 0, cards=["pcm_pair"]))
    card = planned[("cards", "pcm_pair")].config
    assert card.training.epochs == digits_study.CARD_EPOCHS
    assert card.training.seeds == digits_study.CARD_SEEDS
    assert card.hardware.card == "pcm_pair" and card.hardware.scheme_name == "digital"
    assert planned[("deep", "deep")].config.training.epochs == 100
    assert planned[("variants", "base")].config.training.epochs == digits_study.VARIANT_EPOCHS


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--protocol", "authors"], "--protocol = 'authors': the digits study has no protocol"),
        (["--subset", "2000"], "--subset = 2000: more than the 1347 training images"),
        (["--cards", "nope"], "--cards = 'nope': not a shipped card"),
    ],
)
def test_bad_options_are_refused_in_one_line(tmp_path, capsys, options, message) -> None:
    out = tmp_path / "out"
    assert main(["reproduce", "--study", "digits", "--out", str(out), *options]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_subset_needs_the_digits_study(tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["reproduce", "--out", str(out), "--subset", "10"]) == 2
    assert "--subset = 10: only with --study digits" in capsys.readouterr().err
    assert not out.exists()
