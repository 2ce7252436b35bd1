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
        ("g_uS,when\n1,up\n", "direction"),
        ("g_uS,direction\n1,up\nabc,up\n", "row 3.g_uS"),
        ("g_uS,direction\n1,up\n2,sideways\n", "row 3.direction"),
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
