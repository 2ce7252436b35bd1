"""The crossbar backend: exactness with ideal devices, reads, pulses, maintenance, schemes."""

from __future__ import annotations

import numpy as np
import pytest

import deephw
from deephw import model, training
from deephw.config import from_dict
from deephw.crossbar import Crossbar
from deephw.devices import load_card, replace_card
from deephw.engines.base import Relax
from deephw.errors import ConfigError, DeephwError
from deephw.schemes import get_scheme, scheme_names


def mask_of(chips: int, n: int) -> np.ndarray:
    mask = np.ones((chips, n, n), bool)
    mask[:, np.arange(n), np.arange(n)] = False
    return mask


# -- the ideal card reproduces the NumPy core bit for bit ------------------------------
def crossbar_training(config, topo, task, card, scheme):
    """Controller program: the core training loop with weights held on a crossbar."""
    seeds = training.seed_list(config)
    rngs = [np.random.default_rng(int(s)) for s in seeds]
    mask = np.broadcast_to(topo.mask, (len(seeds), topo.n, topo.n)).copy()
    xbar = Crossbar(card, mask, seeds)
    xbar.write_weights(training.initial_weights(config, topo.mask, rngs), rngs)
    dyn, learn, prune = config.dynamics, config.learning, config.pruning
    p = topo.n_clamped
    for epoch in range(config.training.epochs):
        weights = xbar.read_weights(rngs)
        leak = xbar.read_leak(rngs)
        state = training.initial_state(
            config, topo, np.broadcast_to(task.x, (len(seeds), *task.x.shape)), rngs
        )
        s0 = yield Relax(weights, leak, state, p, dyn.free_steps, dyn.dt)
        y = np.broadcast_to(task.y, (len(seeds), *task.y.shape))
        trajectory = yield Relax(weights, leak, s0, p, dyn.nudged_steps, dyn.dt, dyn.beta, y, True)
        scheme.update(xbar, rngs, delta=model.deep_update(trajectory, learn.lr), l1=learn.l1)
        if prune.enabled and prune.start_epoch <= epoch:
            current, alive = xbar.read_weights(rngs, digital=True), xbar.enabled.copy()
            xbar.disable(
                model.boltzmann_prune(current, alive, prune.threshold, prune.temperature, rngs)
            )
    return xbar


def test_ideal_crossbar_training_equals_core_training_bit_for_bit() -> None:
    config = from_dict(
        {
            "task": {"name": "XOR"},
            "training": {"epochs": 250, "seeds": 3},
            "learning": {"l1": 1e-4},
            "pruning": {"enabled": True, "start_epoch": 150, "threshold": 0.2},
        }
    )
    core = deephw.train(config)
    engine = training.make_engine(config)
    xbar = engine.run(
        crossbar_training(config, core.topology, core.task, "ideal", get_scheme("digital"))
    )
    final = xbar.read_weights(np.random.default_rng(0))
    assert np.array_equal(final, core.weights)
    assert np.array_equal(xbar.enabled, core.mask)
    assert core.mask.sum() < np.broadcast_to(core.topology.mask, core.mask.shape).sum()
    np.testing.assert_array_equal(xbar.counters()["cell"]["pruned"], 48 - core.mask.sum((1, 2)))


def test_ideal_program_is_float_update(rng) -> None:
    mask = mask_of(2, 7)
    xbar = Crossbar("ideal", mask, [0, 1])
    weights = rng.uniform(0, 0.25, mask.shape) * mask
    xbar.write_weights(weights, rng)
    state = rng.bit_generator.state
    for _ in range(20):
        request = rng.normal(0, 0.1, mask.shape)
        state = rng.bit_generator.state
        pulses = xbar.program(request, rng)
        weights += request
        weights *= mask
        assert np.array_equal(xbar.read_weights(rng), weights)
        assert np.array_equal(xbar.read_leak(rng), weights.sum(axis=2))
        assert np.array_equal(pulses, np.sign(request) * mask)
        assert rng.bit_generator.state == state, "the ideal card draws no random numbers"


# -- reads, rounding, pruning ----------------------------------------------------------
def test_deterministic_and_stochastic_rounding(rng) -> None:
    mask = np.ones((1, 100, 100), bool)
    xbar = Crossbar("quantized_64", mask, [0])
    xbar.write_weights(np.zeros(mask.shape), rng)
    dw = xbar.dw_min
    assert dw == pytest.approx(0.0625, rel=1e-12)
    before = xbar.read_weights(rng)
    assert np.all(xbar.program(np.full(mask.shape, 0.3 * dw), rng) == 0)
    assert np.array_equal(xbar.read_weights(rng), before)
    fractions = rng.uniform(-2, 2, mask.shape)
    pulses = xbar.program(fractions * dw, rng, "stochastic")
    np.testing.assert_allclose(xbar.read_weights(rng) - before, pulses * dw, atol=1e-12)
    residual = pulses - fractions
    assert np.all((residual > -1) & (residual < 1))
    assert abs(residual.mean()) < 4 * np.sqrt(1 / 6 / residual.size)
    with pytest.raises(ValueError, match="rounding"):
        xbar.program(fractions, rng, "sideways")


def test_digital_reads_go_through_the_adc_and_leak_sums_them(rng) -> None:
    mask = mask_of(2, 9)
    quiet_output = replace_card("pcm_pair", {"periphery": {"out_noise": 0.0}})
    xbar = Crossbar(quiet_output, mask, [0, 1])
    xbar.write_weights(rng.uniform(-1, 1, mask.shape) * mask, rng)
    lsb = xbar.periphery.lsb_uS
    assert lsb == pytest.approx(25.0 / 255)
    gen = np.random.default_rng(5)
    digital = xbar.read_weights(gen, digital=True)
    codes = digital * xbar.g_ref_uS / lsb
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-9)
    analog = xbar.read_weights(np.random.default_rng(5))
    assert np.all(np.abs(digital - analog) <= lsb / 2 / xbar.g_ref_uS + 1e-12)
    leak = xbar.read_leak(np.random.default_rng(5))
    np.testing.assert_allclose(leak, digital.sum(axis=2), atol=1e-12)
    dac = xbar.periphery.dac(rng.uniform(0, 1, 1000))
    np.testing.assert_allclose(dac * 127, np.round(dac * 127), atol=1e-9)


def test_reads_count_once_per_present_device(rng) -> None:
    mask = mask_of(1, 6)
    xbar = Crossbar("pcm_ambrogio2018", mask, [3])
    xbar.read_weights(rng)
    xbar.read_weights(rng)
    for role in ("G+", "G-", "g"):
        counts = xbar.cell.devices[role].counts["reads"]
        assert np.array_equal(counts, 2 * mask)
        assert xbar.counters()[role]["reads"][0] == 2 * mask.sum()


def test_disabled_cells_read_zero_and_are_never_programmed(rng) -> None:
    mask = mask_of(2, 8)
    xbar = Crossbar("capacitor", mask, [0, 1])
    xbar.write_weights(np.full(mask.shape, 0.3), rng)
    removed = mask & (rng.random(mask.shape) < 0.3)
    g_before = xbar.cell.devices["G"].g.copy()
    assert np.array_equal(xbar.disable(removed), removed.sum(axis=(1, 2)))
    assert np.array_equal(xbar.disable(removed), [0, 0]), "already gone"
    xbar.program(np.full(mask.shape, 0.2), rng)
    assert np.all(xbar.read_weights(rng)[removed] == 0)
    device = xbar.cell.devices["G"]
    assert np.array_equal(device.g[removed], g_before[removed])
    reads = device.counts["reads"].copy()
    xbar.read_weights(rng)
    assert np.array_equal(device.counts["reads"] - reads, (mask & ~removed).astype(int))
    assert np.array_equal(xbar.counters()["cell"]["pruned"], removed.sum(axis=(1, 2)))


def test_reading_at_a_later_time_equals_advancing_the_clock(rng) -> None:
    quiet = replace_card("pcm_pair", {"device": {"read_noise_q_coeff": 0.0}})
    mask = mask_of(1, 10)
    xbar = Crossbar(quiet, mask, [2])
    xbar.write_weights(rng.uniform(-1, 1, mask.shape), rng)
    now = xbar.read_weights(rng)
    later = xbar.read_weights(rng, t=5000.0)
    assert not np.array_equal(now, later), "PCM drifts"
    xbar.advance(5000.0)
    assert np.array_equal(xbar.read_weights(rng), later)
    with pytest.raises(ValueError):
        xbar.advance(-1.0)


# -- refresh and transfer --------------------------------------------------------------
def test_pair_refresh_keeps_the_weight_and_frees_the_devices(rng) -> None:
    mask = np.ones((1, 40, 40), bool)
    # quiet reads, and without SET noise, which can lower a side below the refresh level
    # (tested apart)
    quiet = {"g_max_dtod": 0.0, "set_c2c": 0.0, "read_noise_q_coeff": 0.0}
    quiet["prog_noise_poly_uS"] = [0.0]  # the tuning loop alone (no measured spread)
    card = replace_card("pcm_pair", {"device": quiet, "periphery": {"out_noise": 0.0}})
    xbar = Crossbar(card, mask, [4])
    plus, minus = xbar.cell.devices["G+"], xbar.cell.devices["G-"]
    plus.g[...] = 22.3
    minus.g[...] = 17.0
    before = xbar.read_weights(rng)
    xbar.program(np.full(mask.shape, 2 * xbar.dw_min), rng)
    refreshed = xbar.counters()["cell"]["refreshes"][0]
    assert refreshed == mask.sum()
    level = xbar.cell.refresh_level_uS
    assert np.all(plus.g < level) and np.all(minus.g < level)
    change = xbar.read_weights(rng) - before
    tolerance = (xbar.card.cell.tune_tolerance_uS + xbar.periphery.lsb_uS) / xbar.g_ref_uS
    intended = 2 * xbar.dw_min
    within = np.abs(change - intended) <= tolerance + 2 * xbar.dw_min
    assert within.mean() > 0.95
    assert abs(np.median(change) - intended) < tolerance


@pytest.mark.parametrize("offset_uS", [0.0, 2.0])
def test_ambrogio_transfer_moves_g_into_the_pair_and_flips_polarity(rng, offset_uS) -> None:
    """The pair takes ``W - offset`` (Ambrogio's transfer offset) and g is reset, except
    for cells with ``0 < W_transfer < offset``, whose pair is reset and g keeps W."""
    mask = mask_of(2, 30)
    # quiet reads and no programming spread: the tuning loop alone sets where the pair
    # ends (the measured spread that tuning leaves is checked in test_pair_tuning.py)
    device = {"read_noise_q_coeff": 0.0, "prog_noise_poly_uS": [0.0]}
    quiet = {"device": device, "periphery": {"out_noise": 0.0}}
    card = replace_card("pcm_ambrogio2018", {**quiet, "cell": {"transfer_offset_uS": offset_uS}})
    xbar = Crossbar(card, mask, [0, 1])
    xbar.write_weights(rng.uniform(-1.5, 1.5, mask.shape) * mask, rng)
    xbar.program(rng.uniform(-0.25, 0.25, mask.shape), rng, "stochastic")
    fast = xbar.cell.devices["g"]
    assert np.any(fast.g[mask] != fast.d2d["g_reset"][mask])
    before = xbar.read_weights(rng)
    moved = xbar.transfer(rng)
    assert np.array_equal(moved, mask.sum(axis=(1, 2)))
    np.testing.assert_array_equal(xbar.cell.polarity, [-1.0, -1.0])
    into_pair = mask & (fast.g == fast.d2d["g_reset"])
    kept_in_g = mask & ~into_pair
    assert kept_in_g.sum() < 0.1 * mask.sum()  # the weights within (0, offset] of 0
    assert kept_in_g.any() == (offset_uS > 0)
    error = xbar.read_weights(rng) - before
    cell = xbar.card.cell
    tolerance = cell.gain * (cell.tune_tolerance_uS + 2 * xbar.periphery.lsb_uS) / cell.g_ref_uS
    shift = -offset_uS / cell.g_ref_uS
    assert np.mean(np.abs(error[into_pair] - shift) <= tolerance) > 0.95
    assert abs(error[into_pair].mean() - shift) < 0.1 * tolerance
    if kept_in_g.any():
        assert np.abs(error[kept_in_g]).max() <= tolerance
    start = xbar.read_weights(rng)
    xbar.program(np.full(mask.shape, 5 * xbar.dw_min), rng)
    assert (xbar.read_weights(rng) - start)[mask].mean() > 2.5 * xbar.dw_min
    with pytest.raises(DeephwError, match="no fast device"):
        Crossbar("pcm_pair", mask, [0, 1]).transfer(rng)


# -- update schemes --------------------------------------------------------------------
def test_in_situ_coincidences_match_deep_rule_in_expectation(rng) -> None:
    chips, batch, n, steps = 400, 4, 6, 10
    path = np.cumsum(rng.normal(0, 0.03, (steps + 1, 1, batch, n)), axis=0)
    path = np.clip(0.5 + path, 0, 1)
    path[:, :, :, 0] = 1.0  # a bias-like row
    trajectory = np.repeat(path, chips, axis=1)
    mask = np.ones((chips, n, n), bool)
    xbar = Crossbar("ideal", mask, np.arange(chips))
    lr = 4.0
    pulses = get_scheme("in_situ", bit_length=10).update(xbar, rng, trajectory=trajectory, lr=lr)
    expected = model.deep_update(path, lr)[0]
    change = xbar.read_weights(rng)
    np.testing.assert_allclose(change, pulses * xbar.dw_min, atol=1e-12)
    mean = change.mean(axis=0)
    spread = change.std(axis=0) / np.sqrt(chips)
    z = (mean - expected) / np.maximum(spread, 1e-12)
    assert np.abs(z).max() < 5
    slope = (mean * expected).sum() / (expected**2).sum()
    assert slope == pytest.approx(1.0, rel=0.05)
    assert xbar.updates == 1


def test_hybrid_transfers_every_k_updates(rng) -> None:
    mask = mask_of(1, 5)
    xbar = Crossbar("pcm_ambrogio2018", mask, [8])
    scheme = get_scheme("hybrid", transfer_every=3)
    for _ in range(7):
        scheme.update(xbar, rng, delta=rng.normal(0, 0.05, mask.shape))
    assert xbar.counters()["cell"]["transfers"][0] == 2 * mask.sum()
    assert xbar.updates == 7
    trajectory = rng.uniform(0, 1, (4, 1, 2, 5))
    get_scheme("hybrid", inner="in_situ", transfer_every=1).update(
        xbar, rng, trajectory=trajectory, lr=1.0, l1=1e-3
    )
    assert xbar.counters()["cell"]["transfers"][0] == 3 * mask.sum()


def test_scheme_choices_are_checked(rng) -> None:
    assert {"digital", "in_situ", "hybrid"} <= set(scheme_names())
    mask = mask_of(1, 4)
    delta = np.zeros(mask.shape)
    with pytest.raises(ConfigError, match="fast device"):
        get_scheme("hybrid").update(Crossbar("pcm_pair", mask, [0]), rng, delta=delta)
    with pytest.raises(ConfigError, match="hybrid"):
        get_scheme("digital").update(Crossbar("pcm_ambrogio2018", mask, [0]), rng, delta=delta)
    with pytest.raises(ConfigError, match="trajectory"):
        get_scheme("in_situ").update(Crossbar("ideal", mask, [0]), rng, delta=delta)
    for name, options, field in (
        ("sideways", {}, "scheme"),
        ("digital", {"rounding": "up"}, "scheme.rounding"),
        ("in_situ", {"bit_length": 0}, "scheme.bit_length"),
        ("hybrid", {"inner": "magic"}, "scheme.inner"),
    ):
        with pytest.raises(ConfigError) as info:
            get_scheme(name, **options)
        assert info.value.field == field


def test_costs_follow_the_counters(rng) -> None:
    mask = mask_of(1, 6)
    xbar = Crossbar("capacitor", mask, [0])
    xbar.program(np.full(mask.shape, 0.2), rng)
    xbar.read_weights(rng)
    counts = xbar.counters()["G"]
    costs = load_card("capacitor").device.costs
    expected = counts["set"] * costs.set_ns + counts["reset"] * costs.reset_ns
    expected = expected + counts["reads"] * costs.read_ns
    np.testing.assert_allclose(xbar.cost()["time_ns"], expected)
    assert counts["set"][0] > 0 and counts["reads"][0] == mask.sum()


def test_shapes_and_generators_are_checked(rng) -> None:
    mask = mask_of(2, 4)
    xbar = Crossbar("capacitor", mask, [0, 1])
    with pytest.raises(ValueError, match="shape"):
        xbar.program(np.zeros((2, 5, 5)), rng)
    with pytest.raises(ValueError, match="generators"):
        xbar.program(np.zeros(mask.shape), [rng], "stochastic")
    with pytest.raises(ValueError, match="seeds"):
        Crossbar("ideal", mask, [0])
    request = np.zeros(mask.shape)
    request[1, 2, 3] = np.nan
    with pytest.raises(FloatingPointError, match=r"request\[1, 2, 3\]"):
        xbar.program(request, rng)
