"""Scores of one forecast against the truth: CRPS, absolute error, log-likelihood, coverage, rank.

Every score here is computed from a :class:`~curvecast.forecast.Forecast`'s quantile function on
its fine grid of levels (:data:`~curvecast.forecast.GRID`), so that every method, whatever it
keeps internally, is scored the same way. Scores are in the metric's own units (accuracy points,
nats of loss): compare them within one suite, never across suites.

CRPS from quantiles
-------------------
The continuous ranked probability score is twice the integral of the pinball (quantile) loss over
all levels, ``CRPS(F, y) = 2 * int_0^1 rho_tau(y - F^-1(tau)) d tau``. :func:`crps_quantiles`
integrates it exactly for the piecewise-linear quantile function that a Forecast stores, held
flat beyond the grid's ends (0.001 and 0.999): each grid segment is split where the quantile
function crosses ``y`` and every piece, a quadratic in ``tau``, is integrated by Simpson's rule.
A point mass therefore scores its absolute error exactly, and a normal forecast matches the closed
form up to the 0.1% tails that the grid does not resolve.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import rankdata

from curvecast.forecast import GRID, Forecast

__all__ = [
    "abs_error",
    "covered",
    "crps_quantiles",
    "crps_samples",
    "log_likelihood",
    "spearman",
]


def crps_quantiles(
    grid_values: ArrayLike, y: ArrayLike, levels: ArrayLike = GRID
) -> NDArray[np.float64]:
    """CRPS of quantile functions against observations, exact for piecewise-linear quantiles.

    Args:
        grid_values: quantiles at ``levels``, shape ``(n, L)`` (one row per forecast) or ``(L,)``;
            non-decreasing along the last axis.
        y: the observed values, shape ``(n,)`` (or a scalar with a 1-D ``grid_values``).
        levels: the levels, shape ``(L,)``, strictly increasing in (0, 1); default the
            Forecast grid.

    Returns:
        CRPS per row, shape ``(n,)`` (shape ``()`` for a single row); NaN where ``y`` is not
        finite.

    Raises:
        ValueError: the shapes do not match.

    Example:
        >>> float(crps_quantiles(np.full(GRID.size, 2.0), 3.5))  # a point mass: |error|
        1.5
    """
    q = np.asarray(grid_values, dtype=np.float64)
    yv = np.asarray(y, dtype=np.float64)
    tau = np.asarray(levels, dtype=np.float64)
    single = q.ndim == 1
    q = np.atleast_2d(q)
    yv = yv.reshape(-1)
    if q.shape[1] != tau.size or q.shape[0] != yv.size:
        raise ValueError(
            f"grid_values must have shape (len(y), len(levels)) = ({yv.size}, {tau.size}); "
            f"got {q.shape}"
        )
    ycol = yv[:, None]
    # inner segments [tau_k, tau_k+1], with q linear in tau; split at the crossing with y
    t0, t1 = tau[:-1][None, :], tau[1:][None, :]
    q0, q1 = q[:, :-1], q[:, 1:]
    dq = q1 - q0
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(dq > 0, (ycol - q0) / dq, 0.0)
    tc = t0 + np.clip(frac, 0.0, 1.0) * (t1 - t0)
    total = _simpson(t0, tc, q0, q1, t0, t1, ycol) + _simpson(tc, t1, q0, q1, t0, t1, ycol)
    inner = total.sum(axis=1)
    # flat tails: q = q[0] on (0, tau_0) and q = q[-1] on (tau_-1, 1); integrate exactly
    lo = _flat_tail(0.0, float(tau[0]), q[:, 0], yv)
    hi = _flat_tail(float(tau[-1]), 1.0, q[:, -1], yv)
    out = 2.0 * (inner + lo + hi)
    out = np.where(np.isfinite(yv), out, np.nan)
    return out[0] if single else out


def _simpson(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    q0: NDArray[np.float64],
    q1: NDArray[np.float64],
    t0: NDArray[np.float64],
    t1: NDArray[np.float64],
    y: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Simpson's rule for the pinball loss on [a, b] inside the segment [t0, t1] (exact: the
    integrand is quadratic on a piece where the quantile stays on one side of y)."""
    width = t1 - t0

    def qat(t: NDArray[np.float64]) -> NDArray[np.float64]:
        return q0 + (q1 - q0) * (t - t0) / width

    m = (a + b) / 2
    # evaluate the side (y < q) at the midpoint, so the crossing point itself cannot flip it
    side = np.where(y < qat(m), 1.0, 0.0)

    def f(t: NDArray[np.float64]) -> NDArray[np.float64]:
        return (side - t) * (qat(t) - y)

    result: NDArray[np.float64] = (b - a) / 6.0 * (f(a) + 4.0 * f(m) + f(b))
    return result


def _flat_tail(
    a: float, b: float, q: NDArray[np.float64], y: NDArray[np.float64]
) -> NDArray[np.float64]:
    """int_a^b rho_tau(y - q) d tau for a constant quantile ``q``, shape ``(n,)``."""
    int_tau = (b * b - a * a) / 2
    above = (y - q) * int_tau  # y >= q: tau * (y - q)
    below = (q - y) * ((b - a) - int_tau)  # y < q: (1 - tau) * (q - y)
    return np.where(y >= q, above, below)


def crps_samples(samples: ArrayLike, y: float) -> float:
    """CRPS of an empirical distribution, ``E|X - y| - E|X - X'| / 2``, in O(s log s).

    Args:
        samples: draws from the forecast, shape ``(s,)``.
        y: the observed value.

    Returns:
        The CRPS; NaN when ``y`` is not finite.
    """
    x = np.sort(np.asarray(samples, dtype=np.float64).reshape(-1))
    if not math.isfinite(float(y)) or x.size == 0:
        return math.nan
    s = x.size
    term1 = float(np.mean(np.abs(x - y)))
    # E|X - X'| over all ordered pairs = 2 / s^2 * sum_i (2i - s + 1) x_(i), 0-based
    weights = 2.0 * np.arange(s) - s + 1
    term2 = float(2.0 * np.sum(weights * x) / (s * s))
    return term1 - term2 / 2


def _row(forecast: Forecast, at: float | None) -> int:
    """Index of the query point ``at`` in ``forecast.x_new`` (the last when None)."""
    if at is None:
        return forecast.x_new.size - 1
    hits = np.flatnonzero(np.isclose(forecast.x_new, float(at), rtol=1e-9, atol=0.0))
    if hits.size == 0:
        raise ValueError(f"{at!r} is not one of the forecast's query points")
    return int(hits[0])


def abs_error(forecast: Forecast, y: float, at: float | None = None) -> float:
    """|median - y| at the query point ``at`` (default: the last); NaN when ``y`` is not finite."""
    if not math.isfinite(float(y)):
        return math.nan
    idx = _row(forecast, at)
    return abs(float(forecast.median[idx]) - float(y))


def log_likelihood(forecast: Forecast, y: float, at: float | None = None) -> float:
    """The forecast's log density at the truth ``y`` (:meth:`Forecast.logpdf`); NaN when ``y``
    is not finite."""
    if not math.isfinite(float(y)):
        return math.nan
    return float(forecast.logpdf(float(y), at=at)[0])


def covered(forecast: Forecast, y: float, width: float, at: float | None = None) -> float:
    """1.0 when ``y`` lies in the central ``width`` interval (e.g. 0.9: the 5% to 95% quantiles,
    ends included), else 0.0; NaN when ``y`` is not finite."""
    if not math.isfinite(float(y)):
        return math.nan
    idx = _row(forecast, at)
    lo, hi = forecast.quantile([(1 - width) / 2, (1 + width) / 2])[idx]
    return 1.0 if lo <= y <= hi else 0.0


def spearman(pred: ArrayLike, true: ArrayLike) -> NDArray[np.float64]:
    """Spearman rank correlation between ``pred`` and ``true`` along the last axis.

    Args:
        pred, true: shape ``(..., n)``; ties get average ranks.

    Returns:
        Shape ``(...)``; NaN where ``n < 3`` or either side is constant (no ranking to match).
    """
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(true, dtype=np.float64)
    if p.shape != t.shape:
        raise ValueError(f"pred and true must have the same shape; got {p.shape} and {t.shape}")
    if p.shape[-1] < 3:
        return np.full(p.shape[:-1], np.nan)
    rp = rankdata(p, axis=-1)
    rt = rankdata(t, axis=-1)
    rp = rp - rp.mean(axis=-1, keepdims=True)
    rt = rt - rt.mean(axis=-1, keepdims=True)
    den = np.sqrt(np.sum(rp * rp, axis=-1) * np.sum(rt * rt, axis=-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.sum(rp * rt, axis=-1) / den
    result: NDArray[np.float64] = np.where(den > 0, rho, np.nan)
    return result
