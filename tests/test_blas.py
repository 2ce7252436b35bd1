"""One BLAS thread while engines run: the limit, its release, and its effect on results."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

import deephw
from deephw.blas import blas_threads, single_threaded
from deephw.config import from_dict
from deephw.engines.base import Relax
from deephw.tasks import Task


def test_single_threaded_limits_then_restores() -> None:
    with threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        with single_threaded():
            assert blas_threads() == dict.fromkeys(before, 1)
            with single_threaded():  # nested: the inner end keeps the limit
                pass
            assert blas_threads() == dict.fromkeys(before, 1)
        assert blas_threads() == before


def test_engine_relaxes_on_one_thread(engine: deephw.Engine) -> None:
    """Every request an engine answers in a program runs with one thread of the BLAS
    libraries loaded before (NumPy's; an engine may load others it does not use)."""
    seen: list[dict[str, int]] = []

    def program():
        weights = np.full((1, 4, 4), 0.1)
        state = np.zeros((1, 2, 4))
        yield Relax(weights, weights.sum(axis=2), state, 1, 3, 0.5)
        seen.append(blas_threads())
        return None

    with threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        engine.run(program())
        after = blas_threads()
    assert before and [{k: v[k] for k in before} for v in seen] == [dict.fromkeys(before, 1)]
    assert {k: after[k] for k in before} == before


def digits_sized_run(outer_threads: int) -> np.ndarray:
    """Final weights of one epoch of a digits-sized network (64 inputs, 32 hidden, 10
    outputs, 64 random images) trained with ``outer_threads`` BLAS threads outside."""
    rng = np.random.default_rng(3)
    task = Task("random", rng.random((64, 64)), np.eye(10)[rng.integers(0, 10, 64)])
    config = from_dict(
        {
            "task": {"name": "XOR"},
            "network": {"hidden": 32},
            "init": {"high": 0.02},
            "dynamics": {"free_steps": 30, "nudged_steps": 20, "beta": 1.0},
            "learning": {"lr": 0.3},
            "training": {"epochs": 1, "seeds": 2, "batch_size": 32},
        }
    )
    with threadpool_limits(outer_threads, user_api="blas"):
        return deephw.train(config, task=task).weights


def test_results_do_not_depend_on_the_callers_blas_threads() -> None:
    """The update's products are large enough for OpenBLAS to split over threads, which
    changes their round-off; inside an engine run they are the same at any setting."""
    np.testing.assert_array_equal(digits_sized_run(1), digits_sized_run(2))
