"""``deephw reproduce --protocol authors``: the notebooks' settings, its table, its errors."""

from __future__ import annotations

import json

import pytest

from deephw import authors_protocol, readme_check, results_tables
from deephw.cli import main


def test_the_runs_have_the_notebooks_settings() -> None:
    runs = authors_protocol.experiment_configs("XOR", 200, 10, 0)
    assert list(runs) == ["deep", "deep_sparse", "asym_ep"]
    for config in runs.values():
        dyn, init = config.dynamics, config.init
        assert (dyn.dt, dyn.free_steps, dyn.nudged_steps, dyn.beta) == (0.05, 1000, 1000, 10.0)
        assert (init.weights, init.std, config.training.batch_size) == ("normal", 0.05, None)
        assert (config.training.epochs, config.network.hidden) == (200, 5)
    assert (runs["deep"].learning.lr, runs["deep"].pruning.enabled) == (100.0, False)
    sparse = runs["deep_sparse"]
    assert (sparse.learning.l1, sparse.learning.l1_sign) == (1.5e-4, "before")
    prune = sparse.pruning
    assert (prune.threshold, prune.temperature, prune.start_epoch, prune.stop_epoch) == (
        0.01,
        5.0,
        0,
        None,
    )
    assert (prune.regrow, prune.normaliser) == (True, "column")
    asym = runs["asym_ep"].learning
    assert (asym.rule, asym.lr, asym.l1) == ("asym_ep", 1.0, 0.0)
    assert asym.options == {"separate_bias": True}


def fake_entry(converged: int, correct: int, median, mses, lr, sparsity=None) -> dict:
    return {
        "seeds": 4,
        "lr": lr,
        "converged": converged,
        "correct": correct,
        "median_epochs_to_converge": median,
        "final_mse_per_seed": mses,
        "median_sparsity_of_correct": sparsity,
    }


def test_table_from_a_known_summary() -> None:
    runs = {
        "deep": fake_entry(4, 4, 40.5, [0.001, 0.002, 0.003, 0.004], 100.0),
        "deep_sparse": fake_entry(3, 3, 60.0, [0.001, 0.002, 0.25, 0.003], 100.0, 0.3125),
        "asym_ep": fake_entry(0, 1, None, [0.125, 0.25, 0.25, 0.5], 1.0),
    }
    rows = results_tables.authors_table({"tasks": {"XOR": runs}}).splitlines()
    assert rows[0].startswith("| task | run | converged | correct | median epochs |")
    assert rows[2:] == [
        "| XOR | DEEP, lr 100 | 4/4 | 4/4 | 40.5 | 0.0025 | – |",
        "| XOR | DEEP, lr 100, their L1 and pruning | 3/4 | 3/4 | 60 | 0.0025 | 31.25 % |",
        "| XOR | asym. EP, separate bias, lr 1 | 0/4 | 1/4 | – | 0.25 | – |",
    ]


def test_a_short_run_writes_its_marked_table(tmp_path, capsys) -> None:
    out = tmp_path / "authors"
    args = ["reproduce", "--protocol", "authors", "--out", str(out), "--epochs", "1"]
    assert main([*args, "--seeds", "1", "--workers", "1"]) == 0
    report = json.loads((out / "summary.json").read_text())
    assert {task: list(runs) for task, runs in report["tasks"].items()} == {
        task: ["deep", "deep_sparse", "asym_ep"] for task in ("AND", "OR", "XOR")
    }
    assert report["tasks"]["XOR"]["deep"]["epochs"] == 1
    results = (out / "results.md").read_text()
    tables = readme_check.marked_tables(results, "results.md")
    assert list(tables) == ["authors"] and len(tables["authors"].splitlines()) == 2 + 9
    assert "dt 0.05, 1000 free and 1000 nudged steps, beta 10" in results
    readme = f"# deephw\n\n{readme_check.marked('authors', tables['authors'])}\n"
    assert readme_check.compare(results, readme) == ("", [])
    assert sorted(p.name for p in (out / "runs").iterdir())[:3] == [
        "AND_asym_ep",
        "AND_deep",
        "AND_deep_sparse",
    ]
    assert "XOR   deep_sparse" in capsys.readouterr().out


def test_the_card_study_is_refused(tmp_path, capsys) -> None:
    out = tmp_path / "authors"
    args = ["reproduce", "--protocol", "authors", "--cards", "pcm_pair", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--cards = 'pcm_pair': the card study runs with --protocol paper only" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_an_unknown_protocol_is_refused(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "--protocol", "notebook", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert "invalid choice: 'notebook'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
