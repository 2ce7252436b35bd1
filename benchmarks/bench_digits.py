"""Training speed on the digits task against a bare NumPy loop of the same model.

Prints, from one process, the time per training epoch of ``examples/digits.yaml`` (the
NumPy engine; 1347 images, batch 32, M0 30, Mb 20, hidden 32) for one seed, three seeds
trained together, and the same three seeds trained one after another; the same epoch as a
bare NumPy loop written here (the relaxations and eq. 2, nothing else: no devices,
counters, checks or scores); and an estimate of an epoch of a 196-input, 10-output
network (14 x 14 MNIST images) on 60 000 training images.

How it is measured: a run's epoch times are the intervals between its progress calls,
without the first epoch (warm-up) and the last (it also evaluates the test data); the
test data are not evaluated on the other epochs. Every figure is the median over
``--repeats`` rounds, each round running every variant once, interleaved, so that the
load of a shared machine falls on all of them alike. BLAS runs on one thread in all of
them (:mod:`deephw.blas`). The MNIST-size estimate is the measured time per training image
of the same model at that size (196 + 1 + 32 + 10 neurons, random images and one-hot
targets, batch 32) times 60 000: the work of an epoch is the same for every batch of 32,
so it grows linearly with the number of images.

Run: ``python benchmarks/bench_digits.py [--repeats 5] [--epochs 6]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

import deephw
from deephw.assembly import load_data
from deephw.blas import blas_threads, single_threaded
from deephw.config import from_dict
from deephw.tasks import Task
from deephw.topology import complete
from deephw.validation import read_yaml

CONFIG = Path(__file__).resolve().parent.parent / "examples" / "digits.yaml"
MNIST_IMAGES, MNIST_INPUTS, MNIST_PROBE = 60_000, 196, 1920


def digits_config(seeds: int, epochs: int, first_seed: int = 0, hidden: int | None = None):
    """``examples/digits.yaml`` with ``seeds`` seeds from ``first_seed`` and ``epochs``
    epochs, the test data evaluated only after the last."""
    data = read_yaml(CONFIG)
    data["training"].update(seeds=seeds, seed=first_seed, epochs=epochs, eval_every=epochs)
    if hidden is not None:
        data["network"]["hidden"] = hidden
    return from_dict(data)


def epoch_times(config, task: Task | None = None) -> list[float]:
    """Seconds of each epoch of one training but the first and the last."""
    stamps: list[float] = []
    deephw.train(config, progress=lambda _: stamps.append(time.process_time()), task=task)
    return list(np.diff(stamps)[:-1])


def bare_epoch(x: np.ndarray, y: np.ndarray, n_hidden: int, epochs: int, seed: int) -> list[float]:
    """Seconds of each epoch but the first of the same model as plain NumPy, one seed.

    Complete graph (no self loops, nothing into the inputs and the bias), W ~ U(0, 0.02),
    free neurons from U(0, 0.1), leak = outgoing sums, hard-sigmoid Euler steps, eq. 2.
    """
    rng = np.random.default_rng(seed)
    n_in, n_out = x.shape[1], y.shape[1]
    p = n_in + 1
    n = p + n_hidden + n_out
    mask = ~np.eye(n, dtype=bool)
    mask[:, :p] = False
    w = rng.uniform(0.0, 0.02, (n, n)) * mask
    dt, m0, mb, beta, lr, batch = 0.5, 30, 20, 1.0, 0.3, 32
    traj = np.empty((mb + 1, batch, n))
    times = []
    for _ in range(epochs):
        start = time.process_time()
        order = rng.permutation(len(x))
        for k in range(0, len(x), batch):
            index = order[k : k + batch]
            b = len(index)
            s = np.empty((b, n))
            s[:, :n_in], s[:, n_in] = x[index], 1.0
            s[:, p:] = rng.uniform(0.0, 0.1, (b, n - p))
            w_free, leak = w[:, p:], w[p:].sum(axis=1)
            for m in range(m0 + mb):
                nudge = m >= m0
                free = s[:, p:]
                v = s @ w_free - free * leak
                if nudge:
                    v[:, -n_out:] += beta * (y[index] - free[:, -n_out:])
                np.clip(free + dt * v, 0.0, 1.0, out=free)
                if m == m0 - 1:
                    traj[0, :b] = s
                elif nudge:
                    traj[m - m0 + 1, :b] = s
            pre = traj[1:, :b].reshape(-1, n)
            change = np.diff(traj[:, :b], axis=0).reshape(-1, n)
            w += lr / (mb * b) * (pre.T @ change)
            w *= mask
        times.append(time.process_time() - start)
    return times[1:]


def random_task(n_images: int) -> Task:
    """Random images of ``MNIST_INPUTS`` pixels in [0, 1] with one-hot targets of 10 classes."""
    rng = np.random.default_rng(0)
    y = np.eye(10)[rng.integers(0, 10, n_images)]
    return Task("mnist-size", rng.random((n_images, MNIST_INPUTS)), y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=6, help="epochs per training (>= 3)")
    args = parser.parse_args()
    epochs = max(3, args.epochs)
    task, _ = load_data(digits_config(1, epochs), str(CONFIG))
    hidden = digits_config(1, epochs).network.hidden
    mnist = random_task(MNIST_PROBE)
    found: dict[str, list[float]] = {}

    def note(name: str, times: list[float]) -> None:
        found.setdefault(name, []).append(statistics.median(times))

    for _ in range(args.repeats):
        singles = [epoch_times(digits_config(1, epochs, first_seed=s)) for s in range(3)]
        note("deephw, 1 seed", singles[0])
        found.setdefault("deephw, 3 seeds one after another", []).append(
            sum(statistics.median(t) for t in singles)
        )
        note("deephw, 3 seeds batched", epoch_times(digits_config(3, epochs)))
        with single_threaded():
            note("bare NumPy loop, 1 seed", bare_epoch(task.x, task.y, hidden, epochs, 0))
            note("bare NumPy, MNIST size, 1 seed", bare_epoch(mnist.x, mnist.y, hidden, 3, 0))
        note("deephw, MNIST size, 1 seed", epoch_times(digits_config(1, epochs), mnist))
        note("deephw, MNIST size, 3 seeds batched", epoch_times(digits_config(3, epochs), mnist))
    t = {name: statistics.median(values) for name, values in found.items()}

    with single_threaded():
        threads = blas_threads()
    print(
        f"digits ({task.n_patterns} training images), NumPy engine, seconds per epoch, median of "
        f"{args.repeats} rounds (BLAS threads {sorted(set(threads.values()))}; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: a shared machine, expect noise)"
    )
    for name in (
        "bare NumPy loop, 1 seed",
        "deephw, 1 seed",
        "deephw, 3 seeds one after another",
        "deephw, 3 seeds batched",
    ):
        print(f"  {name:36s} {t[name]:.4f} s")
    bare = t["bare NumPy loop, 1 seed"]
    print(f"  1 seed / bare loop:                         {t['deephw, 1 seed'] / bare:.2f}")
    per_seed = t["deephw, 3 seeds batched"] / 3
    print(f"  3 seeds batched, per seed / bare loop:      {per_seed / bare:.2f}")
    sequential = t["deephw, 3 seeds one after another"]
    print(
        f"  3 seeds batched / one after another:        "
        f"{t['deephw, 3 seeds batched'] / sequential:.2f}"
    )
    net = f"{MNIST_INPUTS} inputs + bias, {hidden} hidden, 10 outputs"
    print(
        f"MNIST size ({net}; N = {complete(MNIST_INPUTS, hidden, 10).n}): per training image "
        f"measured on {MNIST_PROBE} random images, times {MNIST_IMAGES}:"
    )
    for name, seeds in (
        ("bare NumPy, MNIST size, 1 seed", 1),
        ("deephw, MNIST size, 1 seed", 1),
        ("deephw, MNIST size, 3 seeds batched", 3),
    ):
        per_image = t[name] / MNIST_PROBE
        print(
            f"  {name:36s} {1e6 * per_image:7.1f} us per image -> "
            f"{per_image * MNIST_IMAGES:6.1f} s per epoch ({seeds} seed{'s' * (seeds > 1)})"
        )


if __name__ == "__main__":
    main()
