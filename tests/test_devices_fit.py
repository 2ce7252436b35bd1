"""Measured devices: fitting a lookup-table card to pulse sweeps, and using it."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from deephw.crossbar import Crossbar
from deephw.devices import DeviceArray, check_card, fit_card, get_device_model
from deephw.errors import ConfigError

G_MIN, G_MAX, STEP, C2C = 2.0, 30.0, 0.6, 0.15  # the synthetic device's truth (uS)


def true_step(g: np.ndarray, up: bool) -> np.ndarray:
    """Soft-bounds mean step of the synthetic device."""
    x = (g - G_MIN) / (G_MAX - G_MIN)
    return STEP * (1 - x) if up else -STEP * 0.7 * x


def sweep_csv(path: Path, rng: np.random.Generator, cycles: int = 60, pulses: int = 160) -> Path:
    """Up-then-down sweeps with additive cycle-to-cycle noise of C2C uS."""
    rows = []
    for cycle in range(cycles):
        g = G_MIN
        rows.append((cycle, "up", g))
        for direction in ("up", "down"):
            for _ in range(pulses):
                g = float(
                    np.clip(g + true_step(g, direction == "up") + C2C * rng.normal(), G_MIN, G_MAX)
                )
                rows.append((cycle, direction, g))
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["cycle", "direction", "g_uS"])
        writer.writerows(rows)
    return path


def test_fit_recovers_the_step_table_and_the_c2c_spread(tmp_path: Path, rng) -> None:
    data = sweep_csv(tmp_path / "sweeps.csv", rng)
    out = tmp_path / "cards" / "measured.yaml"
    card = fit_card(data, out, n_bins=12)
    assert sorted(p.name for p in out.parent.iterdir()) == ["measured.yaml"]
    loaded = check_card(out)
    assert loaded.name == "measured" and "sweeps.csv" in loaded.source
    device = loaded.device
    grid = np.array(device.grid_uS)
    inner = (grid > G_MIN + 3) & (grid < G_MAX - 3)  # away from the clipped edges
    np.testing.assert_allclose(
        np.array(device.up_mean_uS)[inner], true_step(grid, True)[inner], atol=0.03
    )
    np.testing.assert_allclose(
        np.array(device.down_mean_uS)[inner], true_step(grid, False)[inner], atol=0.03
    )
    for spread in (device.up_c2c_uS, device.down_c2c_uS):
        assert np.median(np.array(spread)[inner]) == pytest.approx(C2C, rel=0.1)
    assert card["device"]["model"] == "lookup"
    assert device.g_min_uS == pytest.approx(G_MIN, abs=1e-6)


def test_fitted_device_reproduces_the_sweeps(tmp_path: Path, rng) -> None:
    fit_card(sweep_csv(tmp_path / "s.csv", rng), tmp_path / "m.yaml")
    device = check_card(tmp_path / "m.yaml").device
    model = get_device_model("lookup")(device)
    arr = DeviceArray(model, np.ones((1, 100, 100), bool), [0], (2, 0))
    idx = arr.indices()
    g = G_MIN
    truth = []
    for _ in range(40):
        g = g + true_step(np.array(g), True)
        truth.append(float(g))
    means = []
    for _ in range(40):
        arr.pulse(idx, np.ones(idx.size, np.int64), np.ones(idx.size, bool), 0.0, rng)
        means.append(arr.g.mean())
    np.testing.assert_allclose(means, truth, rtol=0.05, atol=0.1)
    first = np.diff(np.array([G_MIN, *means]))[:3]
    assert np.all(first > 0)


def test_step_table_layout_and_crossbar_use(tmp_path: Path, rng) -> None:
    path = tmp_path / "steps.csv"
    g = rng.uniform(0, 10, 4000)
    up = rng.random(4000) < 0.5
    dg = np.where(up, 0.2, -0.3) + 0.05 * rng.normal(size=4000)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["g_uS", "dg_uS", "direction"])
        writer.writerows(zip(g, dg, np.where(up, "+1", "-1"), strict=True))
    fit_card(path, tmp_path / "steps.yaml", n_bins=5)
    card = check_card(tmp_path / "steps.yaml")
    np.testing.assert_allclose(card.device.up_mean_uS, 0.2, atol=0.01)
    np.testing.assert_allclose(card.device.down_c2c_uS, 0.05, rtol=0.15)
    xbar = Crossbar(card, np.ones((1, 5, 5), bool), [0])
    before = xbar.read_weights(rng)
    xbar.program(np.full((1, 5, 5), 3 * xbar.dw_min), rng)
    assert (xbar.read_weights(rng) - before).mean() > 0


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("g_uS,when\n1,up\n2,up\n", "column"),
        ("g_uS,direction\n1,up\nabc,up\n", "line 3, column g_uS"),
        ("g_uS,direction\n1,up\n2,sideways\n", "line 3, column direction"),
    ],
)
def test_bad_measurements_name_row_and_column(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    out = tmp_path / "never.yaml"
    with pytest.raises(ConfigError) as info:
        fit_card(path, out)
    assert info.value.field == field and str(path) in str(info.value)
    assert not out.exists()


# -- bad data and bad outputs through the CLI: one line, exit 2, nothing written -------
def fit_cli(capsys, data: Path, out: Path, *extra: str) -> tuple[int, str]:
    from deephw.cli import main

    code = main(["devices", "fit", str(data), "--out", str(out), *extra])
    captured = capsys.readouterr()
    return code, captured.err


SWEEP_HEADER = "cycle,direction,g_uS\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"cycle,direction,g_uS\n0,up,1.0\n0,up,1.5\n0,up,2\xff\n", "line 4: byte b'\\xff' is not"),
        (SWEEP_HEADER + "0,up," + "1" * 131073 + "\n", "line 2: a field is longer than 131072"),
        (SWEEP_HEADER + "0,up,1.0\n", "one data row: fitting needs two or more pulses"),
        (
            SWEEP_HEADER + "".join(f"{c},up,{1 + c}\n" for c in range(20)),
            "column = 'cycle': one row per cycle: no pulse steps to fit",
        ),
        (SWEEP_HEADER + "0,up,1.0\n0,up,1.5,7\n", "line 3: 4 fields, but the header has 3"),
        (SWEEP_HEADER + "0,up,1.0\n0,up,lots\n", "line 3, column g_uS = 'lots': must be a number"),
        (SWEEP_HEADER + "0,up,1.0\n0,up,inf\n", "line 3, column g_uS = 'inf': must be finite"),
        (SWEEP_HEADER + "0,up,1.0\n0,sideways,2\n", "line 3, column direction = 'sideways'"),
        ("cycle,g_uS\n0,1.0\n0,2.0\n", "column = 'direction': missing column"),
        (SWEEP_HEADER + "0,up,1.0\n0,up,1.0\n0,down,1.0\n", "the conductance never changes"),
    ],
)
def test_bad_pulse_data_is_one_line_naming_file_and_line(
    tmp_path: Path, capsys, content: str | bytes, expected: str
) -> None:
    data = tmp_path / "pulses.csv"
    if isinstance(content, bytes):
        data.write_bytes(content)
    else:
        data.write_text(content, encoding="utf-8")
    out = tmp_path / "card.yaml"
    code, err = fit_cli(capsys, data, out)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(data) in err and expected in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pulses.csv"]


def test_out_directory_and_existing_file_are_refused_before_fitting(
    tmp_path: Path, capsys, rng
) -> None:
    data = sweep_csv(tmp_path / "s.csv", rng, cycles=5, pulses=60)
    folder = tmp_path / "cards"
    folder.mkdir()
    code, err = fit_cli(capsys, data, folder)
    assert code == 2 and f"{folder}: is a directory" in err and err.count("\n") == 1
    assert list(folder.iterdir()) == []
    existing = tmp_path / "card.yaml"
    existing.write_text("keep me\n")
    code, err = fit_cli(capsys, data, existing)
    assert code == 2 and "exists; choose another file or pass --force" in err
    assert existing.read_text() == "keep me\n"
    # the output is checked before the data is read: a bad CSV is not even opened
    code, err = fit_cli(capsys, tmp_path / "absent.csv", existing)
    assert code == 2 and "exists" in err and "absent.csv" not in err
    code, err = fit_cli(capsys, data, existing, "--force")
    assert code == 0
    assert check_card(existing).device.model == "lookup"


def test_out_under_a_file_is_refused(tmp_path: Path, capsys, rng) -> None:
    data = sweep_csv(tmp_path / "s.csv", rng, cycles=5, pulses=60)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = fit_cli(capsys, data, blocker / "card.yaml")
    assert code == 2 and "is not a directory" in err
