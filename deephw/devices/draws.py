"""Random draws for stacks of chips, from one generator or from one generator per chip.

Every stochastic function of the device layer takes ``rng``: either one
``numpy.random.Generator`` (draws for all chips at once), or a sequence of ``S``
generators, one per chip. With one generator per chip, each chip draws only the numbers
its own devices need, so a chip evolves identically whether it is simulated alone or
stacked with others.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RNG = np.random.Generator | Sequence[np.random.Generator]
"""One generator, or one generator per chip."""


def _per_chip(rng: RNG, n_chips: int) -> Sequence[np.random.Generator] | None:
    if isinstance(rng, np.random.Generator):
        return None
    if len(rng) != n_chips:
        raise ValueError(f"got {len(rng)} generators for {n_chips} chips")
    return rng


def normal(rng: RNG, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal draws of ``shape = (S, ...)``; chip ``s`` draws ``shape[1:]``."""
    gens = _per_chip(rng, shape[0])
    if gens is None:
        return rng.standard_normal(shape)
    return np.stack([g.standard_normal(shape[1:]) for g in gens]).reshape(shape)


def uniform(rng: RNG, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform [0, 1) draws of ``shape = (S, ...)``; chip ``s`` draws ``shape[1:]``."""
    gens = _per_chip(rng, shape[0])
    if gens is None:
        return rng.random(shape)
    return np.stack([g.random(shape[1:]) for g in gens]).reshape(shape)


def normal_at(rng: RNG, chips: np.ndarray, n_chips: int) -> np.ndarray:
    """One standard normal draw per entry of ``chips`` (sorted chip index of each entry)."""
    gens = _per_chip(rng, n_chips)
    if gens is None:
        return rng.standard_normal(chips.size)
    counts = np.bincount(chips, minlength=n_chips)
    if not chips.size:
        return np.empty(0)
    return np.concatenate([g.standard_normal(c) for g, c in zip(gens, counts, strict=True)])
