"""Plausible tails for every method: inferred bounds and a cap on how far a forecast may stray.

A forecaster fitted to a short, noisy prefix can put mass far from anything the curve and its
metric allow: a parametric family that bends the wrong way gives an accuracy at 0.95 a 90%
interval of [-3, 8]. The front door (:func:`curvecast.forecast.forecast_curve`) passes every
method's answer through :func:`guard`, which does two things:

1. **Bounds the user did not give.** :func:`infer_bounds` reads them off the values: a
   maximised metric whose values all lie in [0, 1] is an accuracy-like score in [0, 1]; one in
   [0, 100] (some value above 1) a percentage; a minimised metric with no negative value is a
   loss, which cannot fall below 0. Given bounds always win; a side the user left open stays
   open except for these cases. The forecast is clipped to them.
2. **A cap on the spread.** Around the curve's own level at each query point (the observed value
   interpolated inside the observed range, the last value after it, the first before it), a
   distance ``D`` that the curve justifies: its observed range (at least four times its noise,
   and a small floor), grown with how far beyond the observed part the query lies in log ``x``,
   relative to the observed log-span. Values within ``D`` are left exactly as they are; beyond it
   they are squashed smoothly (``1 + tanh(t - 1)`` in units of ``D``), so no value lies further
   than ``2 D`` from the level. The map is monotone, so quantiles stay ordered, and it is applied
   to the grid and to the joint samples alike, so the mean stays consistent with the quantiles.

Query points inside the observed range are answered from the data for every method: the observed
curve, interpolated, with a band of its noise (:func:`observed_band`).

The cap is deliberately loose: on the benchmark suites it changes no well-behaved forecast (a
curve that moved by ``r`` over its observed log-span is allowed to move ``r (1 + 2 k)`` more
within ``k`` such spans), and bites only on explosions.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from curvecast.curves import Curve
from curvecast.forecast._result import GRID, Forecast
from curvecast.forecast._util import interp, noise_scale, value_scale

__all__ = ["guard", "infer_bounds", "observed_band", "spread_cap"]

_F = NDArray[np.float64]

_Z = ndtri(GRID)
#: Growth of the cap per observed log-span of x ahead.
_GROWTH = 2.0
#: The smallest observed log-span the growth is measured against.
_MIN_LOG_SPAN = 0.25


def infer_bounds(curve: Curve) -> tuple[float, float] | None:
    """The metric's range as the values suggest it, merged with the curve's own bounds.

    Returns ``(lo, hi)`` (open sides infinite), or None when nothing is given or inferred.
    A side given by the user is never changed.
    """
    if curve.bounds is not None and all(math.isfinite(b) for b in curve.bounds):
        return curve.bounds  # both sides given: nothing to infer (the common case in a search)
    y = curve.observed_y
    given = curve.bounds if curve.bounds is not None else (-math.inf, math.inf)
    lo, hi = given
    if y.size:
        ymin, ymax = float(np.min(y)), float(np.max(y))
        if curve.direction == "maximize" and ymin >= 0.0:
            top = 1.0 if ymax <= 1.0 else 100.0 if ymax <= 100.0 else math.inf
            if math.isfinite(top):
                lo = 0.0 if not math.isfinite(lo) else lo
                hi = top if not math.isfinite(hi) else hi
        elif curve.direction == "minimize" and ymin >= 0.0 and not math.isfinite(lo):
            lo = 0.0
    if not (lo < hi):  # a given side that contradicts the inferred one: keep what was given
        lo, hi = given
    if not math.isfinite(lo) and not math.isfinite(hi):
        return None
    return (lo, hi)


def _log_axis(x: _F, ref: float) -> _F:
    return np.log(np.asarray(x, dtype=np.float64) + ref)


def spread_cap(curve: Curve, x_new: _F) -> tuple[_F, _F]:
    """The level and the cap ``D`` at each query point, both shape ``(len(x_new),)``."""
    x, y = curve.observed_x, curve.observed_y
    level = interp(x_new, x, y)
    bounds = infer_bounds(curve)
    width = bounds[1] - bounds[0] if bounds is not None else math.inf
    mag = float(np.max(np.abs(y)))
    if y.size == 1:  # nothing to measure a range on: a wide prior band
        base = max(0.5 * mag, 0.25 * width if math.isfinite(width) else 0.0, 1e-12)
    else:
        noise = noise_scale(y) or 0.0
        floor = max(0.01 * mag, 0.01 * width if math.isfinite(width) else 0.0, 1e-12)
        base = max(float(np.ptp(y)), 4.0 * noise, floor)
    ref = max(float(x[-1]) * 1e-3, 1e-300) if x[-1] > 0 else 1.0
    lx = _log_axis(x, ref)
    span = max(float(lx[-1] - lx[0]), _MIN_LOG_SPAN)
    lq = _log_axis(x_new, ref)
    beyond = np.maximum(lq - lx[-1], 0.0) + np.maximum(lx[0] - lq, 0.0)
    cap = base * (1.0 + _GROWTH * beyond / span)
    return level, cap


def observed_band(curve: Curve, x_new: _F) -> _F:
    """Quantiles at :data:`GRID` of the curve at points inside its observed range: the
    observed values interpolated, with a normal band of the observation noise (5% of the value
    scale when fewer than 3 points give no estimate); shape ``(len(x_new), len(GRID))``."""
    x, y = curve.observed_x, curve.observed_y
    sd = noise_scale(y)
    if sd is None or not sd > 0:
        sd = 0.05 * value_scale(curve)
    return np.asarray(interp(x_new, x, y)[:, None] + sd * _Z[None, :])


def _squash(t: _F) -> _F:
    """Identity on [-1, 1], then smoothly to +-2: monotone and continuous with its slope."""
    a = np.abs(t)
    return np.where(a <= 1.0, t, np.sign(t) * (1.0 + np.tanh(a - 1.0)))


def guard(result: Forecast, curve: Curve) -> Forecast:
    """``result`` with its tails held within what ``curve`` justifies, clipped to its bounds
    (given or inferred). A diverged forecast is returned as it is."""
    if result.diverged or curve.n_observed == 0:
        return result
    level, cap = spread_cap(curve, result.x_new)
    with np.errstate(over="ignore", invalid="ignore"):
        values = level[:, None] + cap[:, None] * _squash(
            (result.grid_values - level[:, None]) / cap[:, None]
        )
        samples = None
        if result.samples is not None:
            samples = level[None, :] + cap[None, :] * _squash(
                (result.samples - level[None, :]) / cap[None, :]
            )
    x = curve.observed_x
    inside = (result.x_new >= x[0]) & (result.x_new <= x[-1])
    if inside.any():  # what was observed is known: the curve itself, with its noise
        band = observed_band(curve, result.x_new[inside])
        values[inside] = band
        if samples is not None:
            u = np.random.default_rng(0).uniform(GRID[0], GRID[-1], samples.shape[0])
            samples[:, inside] = np.stack([np.interp(u, GRID, row) for row in band], axis=1)
    bounds = infer_bounds(curve)
    info = dict(result.info)
    out = Forecast(
        result.x_new,
        values,
        direction=result.direction,
        levels=result.levels,
        method=result.method,
        samples=samples,
        info=info,
    )
    return out.clipped(bounds)
