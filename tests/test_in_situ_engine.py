"""The in-situ learning term accumulated inside the engines during the nudged phase."""

from __future__ import annotations

import numpy as np
import pytest

from deephw import model
from deephw.crossbar import Crossbar
from deephw.engines import InSituRequest, get_engine
from deephw.engines.base import Relax
from deephw.pulses import coincidences
from deephw.schemes import get_scheme

pytestmark = [  # Brian2's deprecated pyparsing calls
    pytest.mark.filterwarnings("ignore::DeprecationWarning:brian2"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyparsing"),
]

N, P, OUT, STEPS, DT, BETA, SLOTS = 6, 2, 2, 10, 0.5, 1.5, 10


def _phase(chips: int, batch: int, seed: int = 0):
    """One random network copied on ``chips`` chips: weights, leak, s0, targets."""
    rng = np.random.default_rng(seed)
    weights = np.repeat(rng.uniform(0.0, 0.3, (1, N, N)), chips, axis=0)
    leak = weights.sum(axis=2)
    state = np.repeat(rng.uniform(0.0, 1.0, (1, batch, N)), chips, axis=0)
    targets = np.repeat(rng.uniform(0.0, 1.0, (1, batch, OUT)), chips, axis=0)
    return weights, leak, state, targets


def _counts(engine, phase, request):
    weights, leak, state, targets = phase
    return engine.relax(weights, leak, state, P, STEPS, DT, BETA, targets, in_situ=request)


def _rngs(chips: int, seed: int = 1) -> list[np.random.Generator]:
    return [np.random.default_rng([seed, c]) for c in range(chips)]


@pytest.fixture(scope="module")
def brian2_engine():
    return get_engine("brian2", target="numpy")


@pytest.mark.parametrize("management", [True, False])
def test_numpy_engine_counts_are_the_schemes_draws(management) -> None:
    chips, batch, gain = 3, 4, 0.3
    phase = _phase(chips, batch)
    counts = _counts(get_engine("numpy"), phase, InSituRequest(SLOTS, gain, management, _rngs(3)))
    weights, leak, state, targets = phase
    trajectory = get_engine("numpy").relax(
        weights, leak, state, P, STEPS, DT, BETA, targets, record=True
    )
    rngs, expected = _rngs(3), np.zeros_like(counts)
    for m in range(1, STEPS + 1):
        x, d = trajectory[m], trajectory[m] - trajectory[m - 1]
        up, down = coincidences(x, d, gain, SLOTS, management, rngs)
        expected[0] += up
        expected[1] += down
    np.testing.assert_array_equal(counts, expected)
    assert counts.dtype == np.int64 and counts.shape == (2, chips, N, N)
    assert counts.sum() > 0 and not counts[:, :, :, :P].any()  # clamped columns never move


def test_engines_agree_with_each_other_and_with_deep_in_expectation(brian2_engine) -> None:
    chips, batch, lr = 400, 3, 6.0
    phase = _phase(chips, batch, seed=2)
    gain = lr / (STEPS * batch * SLOTS)  # dw_min = 1
    weights, leak, state, targets = phase
    trajectory = get_engine("numpy").relax(
        weights[:1], leak[:1], state[:1], P, STEPS, DT, BETA, targets[:1], record=True
    )
    expected = model.deep_update(trajectory, lr)[0]
    numpy_counts = _counts(
        get_engine("numpy"), phase, InSituRequest(SLOTS, gain, False, _rngs(chips))
    )
    brian2_counts = _counts(brian2_engine, phase, InSituRequest(SLOTS, gain, False, seed=7))
    means = {}
    for name, counts in (("numpy", numpy_counts), ("brian2", brian2_counts)):
        net = (counts[0] - counts[1]).astype(float)
        mean, error = net.mean(axis=0), net.std(axis=0) / np.sqrt(chips)
        z = (mean - expected) / np.maximum(error, 1e-12)
        assert np.abs(z).max() < 5, name
        slope = (mean * expected).sum() / (expected**2).sum()
        assert slope == pytest.approx(1.0, rel=0.1), name
        means[name] = counts.astype(float).mean(axis=1), counts.astype(float).std(axis=1)
    (m_np, s_np), (m_b2, s_b2) = means["numpy"], means["brian2"]
    z = (m_np - m_b2) / np.maximum(np.sqrt((s_np**2 + s_b2**2) / chips), 1e-12)
    assert np.abs(z).max() < 5  # up and down counts separately, cell by cell


def test_same_seed_same_counts(brian2_engine) -> None:
    phase = _phase(4, 2, seed=3)
    counts = [
        _counts(brian2_engine, phase, InSituRequest(SLOTS, 0.5, False, seed=s))
        for s in (11, 11, 12)
    ]
    np.testing.assert_array_equal(counts[0], counts[1])
    assert not np.array_equal(counts[0], counts[2])
    numpy = [
        _counts(get_engine("numpy"), phase, InSituRequest(SLOTS, 0.5, True, _rngs(4))) for _ in "ab"
    ]
    np.testing.assert_array_equal(numpy[0], numpy[1])
    # the free phase of the same shape still runs (its own circuit) and in-situ runs again
    weights, leak, state, targets = phase
    free = brian2_engine.relax(weights, leak, state, P, STEPS, DT)
    np.testing.assert_allclose(
        free, get_engine("numpy").relax(weights, leak, state, P, STEPS, DT), atol=1e-12
    )
    again = _counts(brian2_engine, phase, InSituRequest(SLOTS, 0.5, False, seed=11))
    np.testing.assert_array_equal(again, counts[0])


def test_brian2_refuses_update_management_and_record(brian2_engine) -> None:
    phase = _phase(2, 2)
    with pytest.raises(ValueError, match="update management"):
        _counts(brian2_engine, phase, InSituRequest(SLOTS, 0.5, True, seed=1))
    weights, leak, state, targets = phase
    for engine in (brian2_engine, get_engine("numpy")):
        with pytest.raises(ValueError, match="no record"):
            engine.relax(
                weights,
                leak,
                state,
                P,
                3,
                DT,
                BETA,
                targets,
                True,
                InSituRequest(SLOTS, 0.5, False, seed=1),
            )


def test_engine_run_passes_in_situ_only_when_asked() -> None:
    phase = _phase(2, 2)
    weights, leak, state, targets = phase
    request = InSituRequest(SLOTS, 0.5, True, _rngs(2))

    def program():
        s = yield Relax(weights, leak, state, P, STEPS, DT)
        counts = yield Relax(weights, leak, s, P, STEPS, DT, BETA, targets, in_situ=request)
        return s, counts

    s, counts = get_engine("numpy").run(program())
    assert s.shape == state.shape and counts.shape == (2, 2, N, N)


def test_scheme_applies_engine_counts() -> None:
    chips, batch, lr = 2, 3, 2.0
    xbar = Crossbar("ideal", np.ones((chips, N, N), bool), np.arange(chips))
    scheme = get_scheme("in_situ", bit_length=SLOTS, accumulate_in_engine=True)
    request = scheme.request(xbar, STEPS, batch, lr, _rngs(chips))
    assert np.allclose(request.gains(chips), lr / (STEPS * batch * SLOTS * xbar.dw_min))
    counts = _counts(get_engine("numpy"), _phase(chips, batch), request)
    before = xbar.read_weights(_rngs(chips))
    pulses = scheme.update(xbar, _rngs(chips), counts=counts, lr=lr)
    np.testing.assert_array_equal(pulses, counts[0] - counts[1])
    np.testing.assert_allclose(
        xbar.read_weights(_rngs(chips)) - before, pulses * xbar.dw_min, atol=1e-12
    )
    assert xbar.updates == 1


def _run_config(scheme: str = "in_situ", **options):
    from deephw.config import from_dict

    return from_dict(
        {
            "task": {"name": "XOR"},
            "training": {"epochs": 5, "seeds": 2},
            "hardware": {"card": "ideal", "scheme": {"name": scheme, **options}},
        }
    )


def test_training_in_engine_matches_the_scheme_on_the_ideal_card() -> None:
    import deephw

    outside = deephw.train(_run_config())
    inside = deephw.train(_run_config(in_engine=True))
    again = deephw.train(_run_config(in_engine=True))
    np.testing.assert_array_equal(inside.weights, again.weights)
    # same draws (the chips' generators), summed instead of applied step by step
    np.testing.assert_allclose(inside.weights, outside.weights, atol=1e-9)
    assert not np.array_equal(inside.weights, inside.initial_weights)


def test_training_in_engine_errors() -> None:
    import deephw
    from deephw.errors import ConfigError

    with pytest.raises(ConfigError, match="in_engine"):
        deephw.train(_run_config(scheme="digital", in_engine=True))
    config = _run_config(in_engine=True)
    with pytest.raises(ValueError, match="update management"):
        deephw.train(config, engine=get_engine("brian2", target="numpy"))
