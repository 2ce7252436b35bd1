"""Many pulses at once: the state after ``n`` pulses at a cost that does not grow with ``n``.

A device model's pulse is a map ``g -> g + step(g) (+ cycle-to-cycle noise)``. Applied
``n`` times, one pulse at a time, it costs ``n`` operations per device: a card with
``levels: 10**12`` asks for billions per update. The functions here give the state after
``n`` pulses directly, for the forms of step that the models use:

- :func:`affine`: a step affine in ``g`` (constant, soft bounds, capacitor, one segment
  of a lookup table), ``step = alpha + beta g``. Without noise the ``n``-fold map is
  exact: ``g_n = g* + (g - g*) (1 + beta)^n`` with the fixed point ``g* = -alpha /
  beta`` (``g + n alpha`` for ``beta = 0``). Additive noise keeps the recursion linear
  and Gaussian, so the sum is exactly normal with variance ``e^2 sum_k (1 + beta)^(2k)``.
  Multiplicative noise (``step (1 + c xi)``) makes the distance to ``g*`` a product of
  ``n`` independent factors ``1 + beta (1 + c xi)``: it is drawn log-normal with the
  exact mean and variance of that product (the limit law of a product of many
  factors; exactly normal for ``beta = 0``).
- :func:`exponential`: a step ``a exp(-gamma x)`` that decays with the normalised
  distance ``x`` travelled (exponential-step devices). In ``u = exp(gamma x)``
  one pulse adds ``gamma a (1 + c xi)`` plus a second-order term ``(gamma a)^2 (1 + c
  xi)^2 / (2 u)``: the sum of the first is normal, the second is summed along the mean
  path (its error is third order in the step).
- :func:`floored_exponential`: a step ``F(x) = a ((1 - f) exp(-gamma x) + f)`` with
  Gaussian noise whose standard deviation depends on the state (PCM SET, see
  :mod:`deephw.devices.pcm_set`). The mean path is the flow whose time-one map is the
  pulse (backward error analysis of ``x <- x + F(x)``: ``dn/dx = 1 / F + F' / (2 F) -
  (F'^2 / F + F'') / 12``, integrated in closed form); the spread is the linear-noise
  approximation along it, ``Var x_n = F(x_n)^2 int sigma^2 / F^3 dx`` (a perturbation at
  ``x`` reaches ``x_n`` scaled by ``F(x_n) / F(x)``), by Gauss-Legendre quadrature.

Neither clips to the bounds: callers apply the first and the last pulses of a long train
one at a time, which reproduces the behaviour at a bound (a device that reaches it hugs
it) exactly; see :meth:`deephw.devices.array.DeviceArray.pulse`.
"""

from __future__ import annotations

import numpy as np


def _geometric(log_ratio: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``sum_{k<n} exp(k log_ratio)`` without cancellation (``n`` where the ratio is 1)."""
    small = np.abs(log_ratio) < 1e-300
    safe = np.where(small, 1.0, log_ratio)
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.expm1(n * safe) / np.expm1(safe)
    return np.where(small, n, total)


def affine(
    g: np.ndarray,
    n: np.ndarray,
    alpha: np.ndarray,
    beta: np.ndarray,
    z: np.ndarray | None = None,
    c2c: float = 0.0,
    additive: np.ndarray | float | None = None,
) -> np.ndarray:
    """``g`` after ``n`` pulses of the affine step ``alpha + beta g`` (unclipped).

    Parameters
    ----------
    g, n
        Conductances before the pulses and the number of pulses (floats >= 0).
    alpha, beta
        Step at ``g = 0`` (µS) and slope of the step (``beta > -1``: a pulse does not
        jump past the fixed point; smaller values are treated as -1).
    z
        One standard normal draw per device, or None without noise.
    c2c
        Relative cycle-to-cycle noise: each step times ``1 + c2c xi``.
    additive
        Instead of ``c2c``: the absolute standard deviation (µS) added to each step.
    """
    beta = np.maximum(beta, -1.0)
    flat = beta == 0
    beta_safe = np.where(flat, 1.0, beta)
    log_r = np.log1p(np.maximum(beta_safe, -1.0 + 1e-15))
    distance = g + alpha / beta_safe  # g - g*, the fixed point g* = -alpha / beta
    if z is None or (additive is None and c2c == 0):
        with np.errstate(over="ignore", invalid="ignore"):
            moved = np.where(flat, n * alpha, distance * np.expm1(n * log_r))
        return g + moved
    if additive is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            mean = np.where(flat, n * alpha, distance * np.expm1(n * log_r))
        var = np.asarray(additive) ** 2 * _geometric(2 * np.where(flat, 0.0, log_r), n)
        return g + mean + np.sqrt(var) * z
    # multiplicative: distance_n = distance * prod_k (r + c beta xi_k), r = 1 + beta
    s2 = n * np.log1p((c2c * beta_safe / np.exp(log_r)) ** 2)
    with np.errstate(over="ignore", invalid="ignore"):
        product = distance * np.expm1(n * log_r - s2 / 2 + np.sqrt(s2) * z)
    sum_normal = n * alpha + c2c * np.abs(alpha) * np.sqrt(n) * z
    return g + np.where(flat, sum_normal, product)


def exponential(
    x: np.ndarray,
    n: np.ndarray,
    a: np.ndarray,
    gamma: float | np.ndarray,
    z: np.ndarray | None = None,
    moments: tuple[float, float] = (1.0, 1.0),
    additive: np.ndarray | float | None = None,
) -> np.ndarray:
    """Normalised ``x`` after ``n`` pulses of step ``a exp(-gamma x)`` (unclipped).

    Parameters
    ----------
    x, n
        Position (distance travelled, in units of the range) and number of pulses.
    a, gamma
        Step at ``x = 0`` (range units) and its decay rate (``>= 0``).
    z
        One standard normal draw per device, or None without noise.
    moments
        ``E[f]`` and ``E[f^2]`` of the random factor ``f`` multiplying each step
        (``(1, 1 + c^2)`` for ``1 + c xi``).
    additive
        Instead: the absolute standard deviation (range units) added to each step; its
        variance is propagated along the mean path (linear-noise approximation).
    """
    m1, m2 = moments
    gamma = np.broadcast_to(np.asarray(gamma, dtype=float), np.shape(x))
    flat = gamma == 0
    gam = np.where(flat, 1.0, gamma)
    drift = gam * a * m1  # mean increase of u = exp(gamma x) per pulse
    v0 = np.expm1(gam * x)  # u - 1, kept apart from 1 for small gamma x
    travel = n * drift
    second = np.where(drift > 0, gam * a * m2 / (2 * m1) * np.log1p(travel / (1 + v0)), 0.0)
    v = v0 + travel + second
    noise = 0.0
    if z is not None and additive is None:
        noise = gam * a * np.sqrt(n * max(m2 - m1 * m1, 0.0)) * z
    with np.errstate(invalid="ignore", divide="ignore"):
        x_n = np.log1p(np.maximum(v + noise, -1.0)) / gam
    x_flat = x + n * a * m1
    if z is not None and additive is None:
        x_flat = x_flat + a * np.sqrt(n * max(m2 - m1 * m1, 0.0)) * z
    x_n = np.where(flat, x_flat, x_n)
    if z is not None and additive is not None:
        ratio = (1 + v0) / (1 + v)  # u0 / u along the mean path
        var = np.asarray(additive) ** 2 * n * (1 + ratio + ratio**2) / 3
        x_n = x_n + np.sqrt(var) * z
    return x_n


GAUSS_NODES = 24
"""Gauss-Legendre nodes of the spread integral of :func:`floored_exponential`."""

SPREAD_REACH = 1.0
"""The spread of :func:`floored_exponential` is integrated at most this far (in range
units) past the upper bound: beyond it a device sits at its bound whatever the spread."""

REFINEMENTS = 4
"""Fixed-point iterations that put the higher-order terms into the mean path (each
gains a factor ``|F'| / 2``, far below 1 for any step smaller than the range)."""


def _ratio(function: np.ufunc, k: np.ndarray | float, y: np.ndarray) -> np.ndarray:
    """``function(k y) / k``, with its limit ``y`` at ``k = 0`` (``log1p``, ``expm1``)."""
    k = np.asarray(k, dtype=float)
    small = k == 0
    safe = np.where(small, 1.0, k)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(small, y, function(safe * y) / safe)


def _psi(e: np.ndarray) -> np.ndarray:
    """``(1 - exp(-e)) / e``, 1 at ``e = 0``."""
    small = e == 0
    safe = np.where(small, 1.0, e)
    return np.where(small, 1.0, -np.expm1(-safe) / safe)


def floored_exponential_pulses(
    x: np.ndarray | float,
    a: np.ndarray | float,
    gamma: float,
    floor: float,
    x0: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Pulses of step ``F = a ((1 - floor) exp(-gamma x) + floor)`` that take ``x0`` to
    ``x`` in the continuous limit (``int dx / F``)."""
    a = np.asarray(a, dtype=float)
    b, c0 = a * (1.0 - floor), a * floor
    f0 = b * np.exp(-gamma * np.asarray(x0)) + c0
    with np.errstate(divide="ignore", invalid="ignore"):
        travel = _ratio(np.expm1, gamma, np.asarray(x) - x0) / f0
    return _ratio(np.log1p, gamma * c0, travel)


def _flow(x0: np.ndarray, n: np.ndarray, b: np.ndarray, c0: np.ndarray, gamma: float):
    """``x`` after ``n`` pulses of the flow ``dx/dn = b exp(-gamma x) + c0`` from ``x0``
    (the inverse of :func:`floored_exponential_pulses`)."""
    reach = b * n * _psi(gamma * c0 * n) * np.exp(-gamma * x0)
    return x0 + c0 * n + _ratio(np.log1p, gamma, reach)


def floored_exponential(
    x: np.ndarray,
    n: np.ndarray,
    a: np.ndarray,
    gamma: float,
    floor: float,
    z: np.ndarray | None = None,
    noise: tuple[float, np.ndarray | float, float] = (0.0, 0.0, 0.0),
) -> np.ndarray:
    """Normalised ``x`` after ``n`` pulses of step ``F(x) = a ((1 - floor) exp(-gamma x)
    + floor)`` plus noise (unclipped).

    Parameters
    ----------
    x, n
        Position (in units of the range) and number of pulses (floats >= 0).
    a, gamma, floor
        First step (range units, per device), decay rate (``>= 0``) and the part of the
        step that does not decay (``0..1``).
    z
        One standard normal draw per device, or None without noise.
    noise
        ``(p, q, r)``: each pulse adds Gaussian noise of standard deviation
        ``p F(x) + q + r x`` (range units; ``q`` may differ per device).
    """
    a = np.asarray(a, dtype=float)
    b, c0 = a * (1.0 - floor), a * floor
    moving = a > 0
    b_safe, c_safe = np.where(moving, b, 1.0), np.where(moving, c0, 0.0)

    def step(at: np.ndarray) -> np.ndarray:
        return b_safe * np.exp(-gamma * at) + c_safe

    f0, t0 = step(x), np.exp(-gamma * x)
    x_n = _flow(x, n, b_safe, c_safe, gamma)
    for _ in range(REFINEMENTS):
        # dn/dx beyond 1/F, integrated from x to x_n: the pulses the flow gains on the map
        t = np.exp(-gamma * x_n)
        log_ratio = np.log(step(x_n) / f0)
        extra = (0.5 - gamma * c_safe / 12) * log_ratio + gamma * b_safe * (t - t0) / 6
        x_n = _flow(x, np.maximum(n - extra, 0.0), b_safe, c_safe, gamma)
    x_n = np.where(moving, x_n, x)
    p, q, r = noise
    if z is None or (p == 0 and r == 0 and np.all(np.asarray(q) == 0)):
        return x_n
    top = np.minimum(x_n, np.maximum(x, 1.0) + SPREAD_REACH)
    nodes, weights = np.polynomial.legendre.leggauss(GAUSS_NODES)
    half = (top - x) / 2
    at = x[..., None] + half[..., None] * (nodes + 1.0)
    speed = b_safe[..., None] * np.exp(-gamma * at) + c_safe[..., None]
    sigma = p * speed + np.asarray(q)[..., None] + r * at
    integral = half * np.sum(weights * sigma**2 / speed**3, axis=-1)
    var = np.where(moving, step(x_n) ** 2 * integral, n * (np.asarray(q) + r * x) ** 2)
    return x_n + np.sqrt(var) * z
