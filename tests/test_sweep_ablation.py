"""The ``ablation`` study kind: its conditions come from the card's non-ideality metadata,
its baselines train bit for bit as cards written by hand, bad sweep files are refused
before anything runs, and a small sweep runs on a real Dask cluster, resumes and reports.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import deephw
from deephw.assembly import hardware_card
from deephw.devices import nonideality
from deephw.devices.cards import list_cards, load_card, replace_card
from deephw.sweep import ablation_report, estimate, execute, plan, report, studies, table
from deephw.sweep.cli import main
from deephw.sweep.studies.ablation import Condition, card_changes, conditions
from deephw.validation import as_dict

BASE = {
    "task": {"name": "XOR"},
    "dynamics": {"free_steps": 40, "nudged_steps": 8},
    "training": {"epochs": 60, "seeds": 2},
    "hardware": {"card": "pcm_pair", "scheme": "digital"},
}

PCM_PAIR_IDEAL = {
    "device": {
        "read_noise_q_coeff": 0.0,
        "read_noise_q_max": 0.0,
        "prog_noise_poly_uS": [0.0],
        "g_max_dtod": 0.0,
        "set_step_dtod": 0.0,
        "set_c2c": 0.0,
        "set_c2c_add_uS": 0.0,
        "set_c2c_slope": 0.0,
        "reset_dtod_uS": 0.0,
        "set_gamma": 0.0,
        "drift_nu_mean": [0.0, 0.0],
        "drift_nu_mean_clip": [0.0, 0.0],
        "drift_nu_std": [0.0, 0.0],
        "drift_nu_std_clip": [0.0, 0.0],
    },
    "periphery": {"dac_bits": None, "adc_bits": None, "out_noise": 0.0},
}
"""pcm_pair with every non-ideality a value can switch off at that value, written by hand
from the card (an oracle independent of the field metadata)."""


def write_sweep(folder: Path, base: dict | None = BASE, **changes: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sweep.yaml"
    data = {"kind": "ablation", "base": base, **changes}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def by_condition(sweep: plan.Sweep) -> dict[str, plan.Point]:
    return {point.values["condition"]: point for point in sweep.points}


def without_names(card: object) -> dict:
    data = as_dict(card)
    data.pop("name")
    return data


def same_rows(first: list[dict], second: list[dict]) -> None:
    """Equal bit for bit in every column both have (the condition's own aside)."""
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        shared = (set(a) & set(b)) - {"mode", "group"}
        assert {k: a[k] for k in shared} == {k: b[k] for k in shared}
        assert "final_mse" in shared and "pulses" in shared


def train_rows(config_data: dict) -> list[dict]:
    """Rows of a plain train study of ``config_data``."""
    config = deephw.config.from_dict(config_data)
    return studies.run_job(studies.Job("train", config.to_dict(), config.base_dir))


# --- the conditions ---------------------------------------------------------------------


@pytest.mark.parametrize("card", ["pcm_ambrogio2018", "pcm_pair", "capacitor", "ideal"])
def test_the_table_lists_exactly_the_cards_switchable_groups(tmp_path, card):
    scheme = "hybrid" if load_card(card).fast_device is not None else "digital"
    base = {**BASE, "hardware": {"card": card, "scheme": scheme}}
    sweep = plan.load_sweep(write_sweep(tmp_path, base))
    have = nonideality.groups(card)
    expected = ["full", "ideal"] + [f"{m} {g}" for m in ("without", "only") for g in have]
    assert [p.values["condition"] for p in sweep.points] == expected
    assert [p.job.inputs["group"] for p in sweep.points] == [None, None, *have, *have]
    info = table.info(sweep)["ablation"]
    assert info["groups"] == have
    # every group the card sets is run, listed as not switchable, or absent: never two
    listed = [*have, *info["not_switchable"], *info["absent"]]
    assert sorted(listed) == sorted(nonideality.GROUPS)
    for group, fields in info["not_switchable"].items():
        rows = [r for r in nonideality.nonidealities(card) if r.group == group]
        assert fields == [r.field for r in rows] and not any(r.switchable for r in rows)


def test_pcm_pair_has_its_noise_switchable_and_its_bounds_and_step_not(tmp_path):
    info = table.info(plan.load_sweep(write_sweep(tmp_path)))["ablation"]
    assert info["card"] == "pcm_pair"
    for group in ("read noise", "programming noise", "d2d", "c2c", "drift", "DAC/ADC bits"):
        assert group in info["groups"]
    assert info["not_switchable"] == {
        "step size": ["device.set_step_uS"],
        "bounds": ["device.g_min_uS", "device.g_max_uS"],
    }
    assert "capacitor leak" in info["absent"] and "IR drop" in info["absent"]


@pytest.mark.parametrize("card", list_cards())
def test_each_condition_trains_on_the_card_it_names(card):
    """A condition's config (the base's overrides and its changes) gives its card, and
    'without X' changes only X's fields, to their ideal values."""
    full = load_card(card)
    fields = {row.field: row for row in nonideality.nonidealities(full)}
    for condition in conditions(full):
        target = condition.card(full)
        changes = card_changes(full, target)
        rebuilt = replace_card(full, changes)
        assert without_names(rebuilt) == without_names(target), condition.name
        if condition.mode == "without":
            changed = [f"{s}.{name}" for s, values in changes.items() for name in values]
            assert changed and all(fields[f].group == condition.group for f in changed)
            assert all(_plain(fields[f].ideal) == _plain(getattr_path(target, f)) for f in changed)


def getattr_path(card: object, dotted: str) -> object:
    for name in dotted.split("."):
        card = getattr(card, name)
    return card


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def test_a_condition_keeps_the_base_overrides(tmp_path):
    overrides = {"device": {"set_c2c": 0.3, "g_max_dtod": 0.1}}
    base = {**BASE, "hardware": {**BASE["hardware"], "card_overrides": overrides}}
    points = by_condition(plan.load_sweep(write_sweep(tmp_path, base)))
    full_card = hardware_card(points["full"].job.run_config())
    assert full_card.device.set_c2c == 0.3 and full_card.device.g_max_dtod == 0.1
    without_c2c = hardware_card(points["without c2c"].job.run_config())
    assert without_c2c.device.set_c2c == 0.0 and without_c2c.device.g_max_dtod == 0.1
    only_c2c = hardware_card(points["only c2c"].job.run_config())
    assert only_c2c.device.set_c2c == 0.3 and only_c2c.device.g_max_dtod == 0.0


def test_groups_and_modes_restrict_the_conditions(tmp_path):
    sweep = plan.load_sweep(write_sweep(tmp_path, groups=["drift", "c2c"], modes=["only"]))
    assert [p.values["condition"] for p in sweep.points] == [
        "full",
        "ideal",
        "only drift",
        "only c2c",
    ]


# --- bit-identical invariants -------------------------------------------------------------


def test_the_ideal_condition_trains_as_the_card_written_ideal_by_hand(tmp_path):
    points = by_condition(plan.load_sweep(write_sweep(tmp_path, groups=["c2c"])))
    hand = {**BASE, "hardware": {**BASE["hardware"], "card_overrides": PCM_PAIR_IDEAL}}
    same_rows(studies.run_job(points["ideal"].job), train_rows(hand))


def test_only_a_group_the_card_does_not_have_is_the_ideal_card_bit_for_bit(tmp_path):
    """'only' of nothing: the ideal card's run; 'without' a group already off: the full
    card's run."""
    points = by_condition(plan.load_sweep(write_sweep(tmp_path, groups=["c2c"])))
    full = hardware_card(points["full"].job.run_config())
    assert "stuck devices" not in nonideality.groups(full)
    ideal_card = Condition("ideal").card(full)
    nothing = Condition("only", "stuck devices").card(full)
    assert without_names(nothing) == without_names(ideal_card)
    assert card_changes(full, Condition("without", "stuck devices").card(full)) == {}
    ideal_rows = studies.run_job(points["ideal"].job)
    overrides = card_changes(full, nothing)
    config = {**BASE, "hardware": {**BASE["hardware"], "card_overrides": overrides}}
    same_rows(train_rows(config), ideal_rows)


def test_without_a_group_already_at_its_ideal_value_is_the_full_card_bit_for_bit(tmp_path):
    no_c2c = {"set_c2c": 0, "set_c2c_add_uS": 0, "set_c2c_slope": 0}
    base = {**BASE, "hardware": {**BASE["hardware"], "card_overrides": {"device": no_c2c}}}
    points = by_condition(plan.load_sweep(write_sweep(tmp_path, base, groups=["d2d"])))
    full = hardware_card(points["full"].job.run_config())
    assert "c2c" not in nonideality.groups(full)
    assert "without c2c" not in points  # a group the card does not have is not run
    changed = Condition("without", "c2c").card(full)
    config = {**base, "hardware": {**base["hardware"]}}
    config["hardware"]["card_overrides"] = {"device": {**no_c2c, **card_changes(full, changed)}}
    same_rows(train_rows(config), studies.run_job(points["full"].job))
    same_rows(train_rows(base), studies.run_job(points["full"].job))


def test_on_the_ideal_card_the_ablation_is_two_equal_baselines(tmp_path):
    base = {**BASE, "hardware": {"card": "ideal"}}
    points = by_condition(plan.load_sweep(write_sweep(tmp_path, base)))
    assert list(points) == ["full", "ideal"]
    same_rows(studies.run_job(points["full"].job), studies.run_job(points["ideal"].job))


def test_rows_carry_the_condition_and_the_test_scores_when_a_run_has_them(tmp_path):
    points = by_condition(plan.load_sweep(write_sweep(tmp_path, groups=["c2c"])))
    rows = studies.run_job(points["only c2c"].job)
    assert [(r["mode"], r["group"], r["seed"]) for r in rows] == [
        ("only", "c2c", 0),
        ("only", "c2c", 1),
    ]
    assert all(r["test_accuracy"] is None and r["test_mse"] is None for r in rows)
    result = deephw.train(points["only c2c"].job.run_config())
    result.test_accuracy = np.array([[0.5, 0.25], [0.75, 1.0]])  # (evaluations, seeds)
    result.test_mse = np.array([0.1, np.nan])
    scored = studies.get_study("ablation")._result_rows(result)
    assert [r["test_accuracy"] for r in scored] == [0.75, 1.0]
    assert [r["test_mse"] for r in scored] == [0.1, None]


# --- the report ---------------------------------------------------------------------------


def frame_of(**scores: list[float]) -> pd.DataFrame:
    rows = []
    for condition, values in scores.items():
        name = condition.replace("_", " ")
        mode, _, group = name.partition(" ")
        for seed, (accuracy, mse) in enumerate(values):
            rows.append(
                {"condition": name, "mode": mode, "group": group or None, "seed": seed,
                 "accuracy": accuracy, "final_mse": mse, "diverged": False}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_costs_are_paired_by_seed_against_each_modes_reference():
    frame = frame_of(
        full=[(1.0, 0.01), (0.75, 0.04)],
        ideal=[(1.0, 0.001), (1.0, 0.002)],
        without_c2c=[(1.0, 0.01), (1.0, 0.01)],
        only_c2c=[(0.5, 0.004), (1.0, 0.004)],
    )
    costs = ablation_report.costs(frame).set_index(["condition", "seed"])
    # c2c off on the full card: seed 1 gains 25 points, so c2c costs 25 there
    assert costs.loc[("without c2c", 0), "accuracy_lost"] == 0.0
    assert costs.loc[("without c2c", 1), "accuracy_lost"] == 25.0
    assert costs.loc[("only c2c", 0), "accuracy_lost"] == 50.0
    assert costs.loc[("only c2c", 1), "reference_final_mse"] == 0.002
    summary = ablation_report.summary(frame).set_index("condition")
    assert summary.loc["without c2c", "lost"] == 12.5
    assert summary.loc["only c2c", ["lost_q25", "lost", "lost_q75"]].tolist() == [12.5, 25.0, 37.5]
    assert np.isnan(summary.loc["full"].get("lost", np.nan))


def test_the_score_is_test_accuracy_when_the_table_has_it():
    frame = frame_of(full=[(1.0, 0.01)], ideal=[(1.0, 0.01)], only_c2c=[(1.0, 0.01)])
    assert ablation_report.score_column(frame) == "accuracy"
    frame["test_accuracy"] = [0.9, 0.95, 0.7]
    assert ablation_report.score_column(frame) == "test_accuracy"
    assert ablation_report.summary(frame).set_index("condition").loc["only c2c", "lost"] == 25.0
    text = ablation_report.summary_text(frame, {"ablation": {"card": "c"}, "kind": "ablation"})
    assert "scored on test accuracy" in text and "c2c costs +25.0 points" in text


def test_the_bar_chart_draws_the_median_cost_of_each_group():
    frame = frame_of(
        full=[(0.5, 0.2), (0.75, 0.1)],
        ideal=[(1.0, 0.01), (1.0, 0.01)],
        without_c2c=[(1.0, 0.01), (1.0, 0.02)],
        without_drift=[(0.5, 0.2), (0.5, 0.1)],
        only_c2c=[(0.5, 0.1), (1.0, 0.01)],
        only_drift=[(1.0, 0.01), (1.0, 0.01)],
    )
    description = {"ablation": {"card": "pcm_pair", "not_switchable": {"bounds": []}}}
    fig = ablation_report.figure(frame, description)
    top_without, top_only = fig.axes[0], fig.axes[1]
    widths = [patch.get_width() for patch in top_without.patches]
    assert widths == [37.5, -12.5]  # c2c costs 50 and 25 points; drift helps by 0 and 25
    assert [patch.get_width() for patch in top_only.patches] == [25.0, 0.0]
    labels = [tick.get_text() for tick in top_without.get_yticklabels()]
    assert labels == ["c2c (+37.5)", "drift (-12.5)"]
    assert "bounds" in " ".join(text.get_text() for text in fig.texts)


# --- bad sweep files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"runs": ["r"]}, "runs = ['r']: only an evaluate study takes runs"),
        ({"base": None}, "base = None: an ablation needs a base run config"),
        ({"base": "missing.yaml"}, "base = 'missing.yaml'"),
        ({"groups": ["noise"]}, "groups[0] = 'noise': must be one of ['read noise'"),
        ({"groups": "c2c"}, "groups = 'c2c': must be a list"),
        ({"groups": []}, "groups = []: must name at least one"),
        ({"groups": ["c2c", "c2c"]}, "groups[1] = 'c2c': is given twice"),
        ({"groups": ["d2d", "bounds"]}, "groups[1] = 'bounds': cannot be switched off"),
        ({"groups": ["stuck devices"]}, "groups[0] = 'stuck devices': pcm_pair does not have"),
        ({"modes": ["sideways"]}, "modes[0] = 'sideways': must be one of ['without', 'only']"),
        ({"modes": [1]}, "modes = [1]: must be a string"),
        ({"axes": {"learning.lr": [1.0, 2.0]}}, "axes = {'learning.lr': [1.0, 2.0]}: an ablation"),
        (
            {"fixed": {"hardware.card_overrides.device.set_c2c": 0.0}},
            "fixed.hardware.card_overrides.device.set_c2c = 0.0: an ablation takes its card",
        ),
        ({"fixed": {"hardware": {"card": "ideal"}}}, "fixed.hardware = {'card': 'ideal'}"),
        (
            {"kind": "train", "groups": ["c2c"]},
            "groups = ['c2c']: only ablation studies take it (kind: train)",
        ),
        (
            {"kind": "evaluate", "modes": ["only"]},
            "modes = ['only']: only ablation studies take it (kind: evaluate)",
        ),
        (
            {"base": {**BASE, "hardware": {"card": "nope"}}},
            "base.hardware.card = 'nope': no such card",
        ),
        ({"fixed": {"training.epochs": -1}}, "fixed.training.epochs = -1"),
    ],
)
def test_bad_ablation_sweeps_are_one_line_errors_that_write_nothing(
    tmp_path, capsys, changes, expected
):
    path = write_sweep(tmp_path, **changes)
    out = tmp_path / "out"
    assert main([str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and expected in err, err
    assert not out.exists()


def test_an_ablation_too_large_is_refused_before_anything_runs(tmp_path, capsys, monkeypatch):
    needs = []
    real = estimate.check
    monkeypatch.setattr(estimate, "check", lambda n, s, f=False: (needs.append(n), real(n, s, f)))
    sweep = plan.load_sweep(write_sweep(tmp_path, groups=["c2c", "d2d"]))
    one = estimate.run_estimate(
        "train", sweep.points[0].job.config, [], estimate.TaskShape(2, 1, 4)
    )
    assert needs[0].configurations == 6 == len(sweep.points)
    assert needs[0].estimate.operations >= 6 * one[0].operations
    blamed = {factor.field: factor.value for factor in needs[0].factors}
    assert blamed["groups"] == "6 conditions (2 groups x 2 modes + 2)"
    path = write_sweep(tmp_path / "big", fixed={"training.epochs": 10**12})
    out = tmp_path / "out"
    assert main([str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "base = 'its run size': needs about" in err
    assert err.count("\n") == 1
    assert not out.exists()


def test_an_unset_ablation_field_stays_out_of_other_sweeps_records(tmp_path):
    train = tmp_path / "train.yaml"
    train.write_text(yaml.safe_dump({"base": {"task": {"name": "XOR"}}}))
    assert "groups" not in execute.record(plan.load_sweep(train))
    assert "modes" not in execute.record(plan.load_sweep(train))
    record = execute.record(plan.load_sweep(write_sweep(tmp_path, groups=["c2c"])))
    assert record["groups"] == ["c2c"] and "modes" not in record


@pytest.mark.parametrize("name", ["ablation_xor_ambrogio.yaml", "ablation_xor_pcm_pair.yaml"])
def test_the_example_ablations_are_valid(name):
    path = Path(deephw.__file__).resolve().parents[1] / "examples" / name
    sweep = plan.load_sweep(path)
    card = hardware_card(sweep.points[0].job.run_config())
    assert len(sweep.points) == 2 + 2 * len(nonideality.groups(card))
    assert sweep.n_rows == 10 * len(sweep.points)


# --- on a real Dask cluster ---------------------------------------------------------------


def test_a_small_ablation_on_dask_resumes_and_reports(tmp_path, capsys, dask_client):
    sweep = plan.load_sweep(write_sweep(tmp_path, groups=["c2c", "d2d"]))
    out = tmp_path / "out"
    outcome = execute.run_sweep(sweep, out, client=dask_client, progress=False)
    assert outcome.complete and outcome.computed == 6
    frame, description = table.read(out)
    assert list(frame.columns[:5]) == ["config", "condition", "seed", "mode", "group"]
    assert frame["condition"].tolist() == [
        name
        for name in ["full", "ideal", "without c2c", "without d2d", "only c2c", "only d2d"]
        for _ in (0, 1)
    ]
    assert frame["seed"].tolist() == [0, 1] * 6
    assert frame["pulses"].notna().all() and frame["energy_pJ"].notna().all()
    # a row of the table is that configuration trained directly, bit for bit
    point = by_condition(sweep)["without d2d"]
    direct = deephw.train(point.job.run_config())
    rows = frame[frame["condition"] == "without d2d"]
    assert rows["final_mse"].tolist() == direct.final_mse.tolist()
    assert rows["accuracy"].tolist() == direct.final_accuracy.tolist()
    assert [path.name for path in outcome.figures] == [ablation_report.FIGURE]
    # run again: everything reused; one result lost: only it is computed
    again = execute.run_sweep(sweep, out, client=dask_client, progress=False)
    assert (again.reused, again.computed) == (6, 0)
    (out / execute.RESULTS / f"{point.key}.json").unlink()
    third = execute.run_sweep(sweep, out, client=dask_client, progress=False)
    assert (third.reused, third.computed) == (5, 1)
    pd.testing.assert_frame_equal(table.read(out)[0], frame)
    (out / "figures" / ablation_report.FIGURE).unlink()
    capsys.readouterr()
    assert main(["report", str(out), "--quiet"]) == 0
    assert (out / "figures" / ablation_report.FIGURE).is_file()
    text = report.summary_text(frame, description)
    assert text.splitlines()[0].startswith("ablation of pcm_pair: 6 conditions, 12 rows")
    assert "not switchable" in text and "step size (device.set_step_uS)" in text
    assert "without d2d" in text and "d2d costs" in text


def test_a_condition_with_test_data_is_scored_on_it(tmp_path):
    """The study sends the test data to its workers with the task: rows hold the test
    scores that training the condition's config directly records."""
    rng = np.random.default_rng(3)
    for name in ("train.npz", "test.npz"):
        x = rng.uniform(size=(12, 4))
        y = np.eye(2)[(x.sum(axis=1) > 2).astype(int)]
        np.savez(tmp_path / name, x=x, y=y)
    base = {
        **BASE,
        "task": {"npz": str(tmp_path / "train.npz"), "test": str(tmp_path / "test.npz")},
        "training": {"epochs": 4, "seeds": 2},
    }
    points = by_condition(plan.load_sweep(write_sweep(tmp_path, base, groups=["c2c"])))
    rows = studies.run_job(points["full"].job)
    direct = deephw.train(points["full"].job.run_config())
    assert [row["test_accuracy"] for row in rows] == list(direct.test_accuracy)
    assert [row["test_mse"] for row in rows] == list(direct.test_mse)
