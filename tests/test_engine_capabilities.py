"""Engines declare what they can do; requests and tests they cannot serve are refused or
skipped with the declared reason."""

from __future__ import annotations

import numpy as np
import pytest

from deephw.engines import Capabilities, Engine, Relax, engine_class, get_engine
from deephw.multiply import DenseMultiply, MultiplyModel
from deephw.pulses import InSituRequest
from tests.conftest import skip_unless_capable


class Bare(Engine):
    """An engine without in-situ accumulation: answers every state with zeros."""

    name = "bare"
    capabilities = Capabilities(reasons=(("in_situ", "no coincidence counters"),))

    def answer(self, request: Relax) -> np.ndarray:
        return np.zeros_like(request.state)


class Wired(MultiplyModel):
    """A multiply model no engine supports."""

    shape = (1, 3, 3)

    def free_columns(self, n_clamped: int):
        raise AssertionError("never called")


def _request(**options) -> Relax:
    weights = np.full((1, 3, 3), 0.1)
    return Relax(weights, np.ones((1, 3)), np.full((1, 2, 3), 0.5), 1, 4, 0.5, **options)


def test_engine_lacking_a_capability_is_skipped_with_its_reason() -> None:
    with pytest.raises(pytest.skip.Exception, match="bare engine lacks in_situ: no coincidence"):
        skip_unless_capable(Bare, ("in_situ",))
    reason = "the reference engine integrates the noiseless circuit"
    with pytest.raises(pytest.skip.Exception, match=reason):
        skip_unless_capable(engine_class("numpy"), ("circuit_noise",))
    skip_unless_capable(engine_class("brian2"), ("circuit_noise", "in_situ"))  # no skip


@pytest.mark.needs("circuit_noise")
def test_the_engine_fixture_skips_what_an_engine_lacks(engine: Engine) -> None:
    # Runs on brian2 only; on numpy the fixture skips it with the declared reason.
    assert engine.capabilities.circuit_noise and engine.capabilities.lacks("circuit_noise") is None


def test_request_an_engine_cannot_serve_is_refused_with_the_reason() -> None:
    request = _request(beta=1.0, targets=np.ones((1, 2, 1)), in_situ=InSituRequest(2, 0.1))
    with pytest.raises(ValueError, match="bare engine cannot do in_situ: no coincidence counters"):
        Bare().relax(request)
    with pytest.raises(ValueError, match="DenseMultiply, IRDropMultiply only, not Wired"):
        get_engine("numpy").relax(Relax(Wired(), *_fields()))
    np.testing.assert_array_equal(Bare().relax(_request()), 0.0)


def _fields() -> tuple:
    request = _request()
    return request.leak, request.state, request.n_clamped, request.n_steps, request.dt


def test_dense_multiply_is_the_weight_product() -> None:
    rng = np.random.default_rng(3)
    weights, state = rng.normal(size=(2, 5, 5)), rng.uniform(size=(2, 4, 5))
    out = np.empty((2, 4, 3))
    DenseMultiply(weights).free_columns(2)(state, out)
    np.testing.assert_allclose(out, np.einsum("sbi,sij->sbj", state, weights[:, :, 2:]))
    via_weights = get_engine("numpy").relax(weights, np.ones((2, 5)), state, 2, 7, 0.3)
    via_model = get_engine("numpy").relax(
        Relax(DenseMultiply(weights), np.ones((2, 5)), state, 2, 7, 0.3)
    )
    np.testing.assert_array_equal(via_weights, via_model)
