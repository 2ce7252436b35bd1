"""Every shipped card on a crossbar: chip identity from seeds, faults, bounds, saving."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from deephw.crossbar import Crossbar
from deephw.devices import get_cell, list_cards, load_card, replace_card
from deephw.devices.cards import Card

N = 12


@pytest.fixture(params=list_cards())
def card(request: pytest.FixtureRequest) -> Card:
    """Each shipped card."""
    return load_card(request.param)


def full_mask(chips: int, n: int = N) -> np.ndarray:
    mask = np.ones((chips, n, n), bool)
    mask[:, np.arange(n), np.arange(n)] = False
    return mask


def has_spread(card: Card) -> bool:
    sections = filter(None, (card.device, card.fast_device))
    return any(
        getattr(s, f.name) for s in sections for f in dataclasses.fields(s) if "dtod" in f.name
    )


def chip_state(xbar: Crossbar, chip: int) -> dict[str, np.ndarray]:
    state = xbar.state_dict()
    return {k: v[chip] for k, v in state.items() if v.ndim >= 1 and v.shape[0] == xbar.shape[0]}


def test_same_seed_same_chip_other_seed_other_chip(card: Card) -> None:
    xbar = Crossbar(card, full_mask(3), [7, 7, 8])
    first, twin, other = (chip_state(xbar, s) for s in range(3))
    assert first.keys() == twin.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], twin[key], err_msg=key)
    differs = any(not np.array_equal(first[k], other[k]) for k in first if ".d2d_" in k)
    assert differs == has_spread(card)
    alone = chip_state(Crossbar(card, full_mask(1), [7]), 0)
    for key in alone:
        np.testing.assert_array_equal(alone[key], first[key], err_msg=key)


def test_a_chip_evolves_alike_alone_or_batched(card: Card) -> None:
    weights = np.random.default_rng(3).uniform(-0.3, 0.3, (1, N, N))
    request = np.random.default_rng(4).normal(0, 0.2, (1, N, N))
    results = []
    for seeds in ([5], [9, 5]):
        xbar = Crossbar(card, full_mask(len(seeds)), seeds)
        rngs = [np.random.default_rng(s) for s in seeds]
        stack = np.repeat(weights, len(seeds), axis=0)
        xbar.write_weights(stack, rngs)
        xbar.program(np.repeat(request, len(seeds), axis=0), rngs, "stochastic")
        xbar.advance(30.0)
        results.append(xbar.read_weights(rngs)[-1])
    np.testing.assert_array_equal(results[0], results[1])


def test_pulses_move_weights_the_requested_way_within_bounds(card: Card) -> None:
    rng = np.random.default_rng(0)
    xbar = Crossbar(card, full_mask(2), [1, 2])
    mask = xbar.mask
    xbar.write_weights(np.zeros(xbar.shape), rng)
    start = xbar.read_weights(rng)
    cell = get_cell(card.cell.kind)
    top = cell.full_scale_uS(card) / card.cell.g_ref_uS
    # three nominal pulses, or one where three would cross half the range (HfO2 ReRAM)
    step = 3 * xbar.dw_min if 6 * xbar.dw_min <= top else xbar.dw_min
    xbar.program(np.full(xbar.shape, step), rng)
    up = xbar.read_weights(rng)
    assert (up - start)[mask].mean() > 0.5 * step
    xbar.program(np.full(xbar.shape, -2 * step), rng)
    down = xbar.read_weights(rng)
    assert (down - up)[mask].mean() < -step
    if not np.isfinite(top):
        np.testing.assert_allclose(down - start, -step * mask, atol=1e-12)
        return
    for sign in (1, -1):
        for _ in range(3):
            xbar.program(np.full(xbar.shape, sign * top), rng)
        for role, device in xbar.cell.devices.items():
            g = device.g[mask]
            assert np.all(g >= device.d2d["g_min"][mask]), role
            assert np.all(g <= device.d2d["g_max"][mask]), role
        w = xbar.read_weights(rng)[mask]
        reach = top
        if card.fast_device is not None:  # without transfers only g moves
            reach = card.fast_device.range_uS / 2 / card.cell.g_ref_uS
        assert sign * w.mean() > 0.4 * reach


BOUNDED_CARDS = [name for name in list_cards() if load_card(name).device.bounded]
"""Stuck-at faults sit at g_min or g_max, so only bounded devices can have them."""


def test_ideal_card_is_the_only_unbounded_one() -> None:
    assert sorted(set(list_cards()) - set(BOUNDED_CARDS)) == ["ideal"]


@pytest.mark.parametrize("name", BOUNDED_CARDS)
def test_stuck_devices_never_change(name: str) -> None:
    card = load_card(name)
    faults = {"stuck_min_fraction": 0.1, "stuck_max_fraction": 0.1}
    changes = {"device": dict(faults)}
    if hasattr(card.device, "stuck_corrupt_fraction"):  # stuck elsewhere: tested apart
        changes["device"]["stuck_corrupt_fraction"] = 0.0
    if card.fast_device is not None:
        changes["fast_device"] = faults
    faulty = replace_card(card, changes)
    rng = np.random.default_rng(0)
    xbar = Crossbar(faulty, full_mask(1, 101), [11])
    devices = xbar.cell.devices
    frozen = {role: (d.stuck.copy(), d.g.copy()) for role, d in devices.items()}
    n_devices = xbar.mask.sum()
    for role, (stuck, g) in frozen.items():
        params = faulty.fast_device if role == "g" else faulty.device
        at_min = stuck & (g == devices[role].d2d["g_min"])
        at_max = stuck & (g == devices[role].d2d["g_max"])
        assert np.array_equal(at_min | at_max, stuck)
        for hits, fraction in ((at_min, params.stuck_min_fraction), (at_max, 0.1)):
            sigma = np.sqrt(fraction * (1 - fraction) / n_devices)
            assert abs(hits.sum() / n_devices - fraction) < 4 * sigma
    xbar.write_weights(rng.uniform(-0.5, 0.5, xbar.shape), rng)
    for _ in range(4):
        xbar.program(rng.normal(0, 0.3, xbar.shape), rng, "stochastic")
        xbar.advance(50.0)
    for role, (stuck, g) in frozen.items():
        moved = ~stuck & xbar.mask & (devices[role].g != g)
        assert moved.any(), f"healthy {role} devices were programmed"
    if card.fast_device is not None:
        xbar.transfer(rng)
    if card.cell.kind in ("pair", "ambrogio"):
        xbar.refresh(rng, force=True)
    everything = np.flatnonzero(xbar.mask)
    for role, (stuck, g) in frozen.items():
        device = devices[role]
        assert np.array_equal(device.g[stuck], g[stuck]), role
        value = device.value(xbar.time_s, everything).reshape(-1)
        assert np.array_equal(value[stuck[xbar.mask]], g[stuck]), role


def test_state_round_trip_through_npz(card: Card, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    xbar = Crossbar(card, full_mask(2), [3, 4])
    xbar.write_weights(rng.uniform(-0.2, 0.2, xbar.shape), rng)
    xbar.program(rng.normal(0, 0.2, xbar.shape), rng, "stochastic")
    removed = np.zeros(xbar.shape, bool)
    removed[:, 0, 1:4] = True
    xbar.disable(removed)
    xbar.advance(12.5)
    xbar.count_update()
    path = xbar.save(tmp_path / "state.npz")
    again = Crossbar.load(path)
    saved, loaded = xbar.state_dict(), again.state_dict()
    assert saved.keys() == loaded.keys()
    for key in saved:
        np.testing.assert_array_equal(saved[key], loaded[key], err_msg=key)
    assert again.card == xbar.card and again.time_s == 12.5 and again.updates == 1
    request = rng.normal(0, 0.2, xbar.shape)
    outs = []
    for bar in (xbar, again):
        gen = np.random.default_rng(42)
        bar.program(request, gen, "stochastic")
        outs.append(bar.read_weights(gen))
    np.testing.assert_array_equal(outs[0], outs[1])
    assert list(tmp_path.iterdir()) == [path]
