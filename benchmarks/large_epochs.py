"""One epoch of a large complete graph against the bare matrix products it needs (shared
by the benchmark scripts).

An epoch is measured as the difference between a 3-epoch and a 1-epoch training over 2,
so that the chip's set-up and the final evaluation cancel out; its bare products are
those the engines compute, on one BLAS thread as the engines run them: ``M0 + Mb``
products of the ``(B, N)`` states with the ``(N, N - P)`` weights into the free neurons,
and DEEP's update, one ``(N, Mb B) x (Mb B, N)`` product.
"""

from __future__ import annotations

import numpy as np
from timing import median_time

import deephw
from deephw.blas import single_threaded
from deephw.config import from_dict
from deephw.engines import get_engine
from deephw.tasks import Task

M0, MB = 100, 10


def large_training(n: int, batch: int, epochs: int, engine: str):
    """A training of ``epochs`` epochs of a complete graph with ``n`` neurons on ``batch``
    random patterns, as a timed callable; and the number of clamped neurons."""
    n_in, n_out = n // 8, n // 32
    rng = np.random.default_rng(0)
    task = Task("random", rng.random((batch, n_in)), rng.random((batch, n_out)))
    config = from_dict(
        {
            "task": {"name": "XOR"},
            "network": {"hidden": n - n_in - 1 - n_out},
            "init": {"high": 0.5 / n},
            "dynamics": {"free_steps": M0, "nudged_steps": MB},
            "training": {"epochs": epochs, "seeds": 1},
        }
    )
    chosen = get_engine(engine)
    return (lambda: deephw.train(config, engine=chosen, task=task)), n_in + 1


def bare_products(n: int, batch: int, n_clamped: int):
    """The ``M0 + Mb`` state-by-weight products of one epoch and its update's product,
    with the engines' shapes, on one BLAS thread."""
    rng = np.random.default_rng(0)
    state, weights = rng.random((1, batch, n)), rng.random((1, n, n - n_clamped))
    out = np.empty((1, batch, n - n_clamped))
    pre, change = rng.random((MB * batch, n)), rng.random((MB * batch, n))
    update = np.empty((n, n))

    def run() -> None:
        with single_threaded():
            for _ in range(M0 + MB):
                np.matmul(state, weights, out=out)
            np.matmul(pre.T, change, out=update)

    return run


def epoch_time(engine: str, n: int, batch: int, repeats: int) -> tuple[float, float]:
    """Median seconds of one epoch on ``engine`` and of its bare products."""
    one, n_clamped = large_training(n, batch, 1, engine)
    three, _ = large_training(n, batch, 3, engine)
    t_products = median_time(bare_products(n, batch, n_clamped), repeats)
    return (median_time(three, repeats) - median_time(one, repeats)) / 2, t_products
