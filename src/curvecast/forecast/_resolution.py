"""A metric that moves in steps: intervals no narrower than one step.

An accuracy on ``n`` validation examples takes the values ``k / n``; a forecast whose 90%
interval is narrower than ``1 / n`` claims to know the final count of correct examples better
than to one example, and can exclude the value the run already has. The step is the user's
(``Curve.meta["resolution"]``, set by ``forecast(..., resolution=)``) or inferred from the
observed values: the smallest ``1 / n`` (``n`` up to :data:`MAX_DENOMINATOR`) of which every
observed value of a score in [0, 1] (or [0, 100], in percent) is a multiple. Losses are taken as
continuous unless a resolution is given.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Curve
from curvecast.forecast._result import GRID, Forecast

__all__ = ["MAX_DENOMINATOR", "infer_resolution", "resolution_of", "with_resolution"]

#: Steps finer than 1 / this are not looked for (a validation set of 100,000 examples).
MAX_DENOMINATOR = 100_000
#: Distinct observed values needed before a step is inferred: two values are multiples of
#: many small steps by chance.
MIN_DISTINCT = 3
#: How far a value may lie from ``k / n``: float32 rounding of a score in [0, 1] (2^-24 = 6e-8).
_TOL = 1.2e-7
_I05, _I50, _I95 = (int(np.argmin(np.abs(GRID - v))) for v in (0.05, 0.5, 0.95))


def infer_resolution(y: NDArray[np.float64], top: float = 1.0) -> float | None:
    """The step of a score in ``[0, top]`` whose observed values ``y`` are all multiples of
    ``top / n`` for a whole ``n <= MAX_DENOMINATOR`` (the smallest such ``n``), or None.

    Example:
        >>> infer_resolution(np.array([531, 533, 536, 537]) / 540)
        0.001851851851851852
    """
    v = np.unique(np.asarray(y, dtype=np.float64) / top)
    if v.size < MIN_DISTINCT or not np.all(np.isfinite(v)) or v.min() < 0 or v.max() > 1:
        return None
    # each value's smallest denominator (a convergent of its continued fraction); the step's
    # denominator is their least common multiple
    n = 1
    for value in v:
        q = _denominator(float(value))
        if q is None:
            return None
        n = math.lcm(n, q)
        if n > MAX_DENOMINATOR:
            return None
    return top / n


def _denominator(value: float) -> int | None:
    """The smallest ``q <= MAX_DENOMINATOR`` with ``value`` within float32 rounding of some
    ``p / q``, from the convergents of ``value``'s continued fraction; None if there is none."""
    h0, h1, k0, k1 = 0, 1, 1, 0  # convergents h/k
    rest = value
    for _ in range(40):
        a = math.floor(rest)
        h0, h1 = h1, a * h1 + h0
        k0, k1 = k1, a * k1 + k0
        if k1 > MAX_DENOMINATOR:
            return None
        if abs(value - h1 / k1) <= _TOL:
            return k1
        frac = rest - a
        if frac <= 0:
            return k1
        rest = 1.0 / frac
    return None


def resolution_of(curve: Curve, bounds: tuple[float, float] | None) -> float | None:
    """The curve's step: ``meta["resolution"]`` when given, else inferred for a score whose
    bounds are [0, 1] or [0, 100]; None for a continuous metric."""
    given = curve.meta.get("resolution")
    if isinstance(given, int | float) and not isinstance(given, bool):
        if math.isfinite(given) and given > 0:
            return float(given)
    if bounds is None or bounds[0] != 0.0 or bounds[1] not in (1.0, 100.0):
        return None
    return infer_resolution(curve.observed_y, bounds[1])


def with_resolution(fc: Forecast, step: float, bounds: tuple[float, float] | None) -> Forecast:
    """``fc`` with each query's central 90% interval at least ``step`` wide (stretched about
    its median; a point mass gets a uniform band of one step), then clipped to ``bounds``."""
    g = fc.grid_values
    med = g[:, _I50 : _I50 + 1]
    width = (g[:, _I95] - g[:, _I05])[:, None]
    if np.all(width >= step):
        return fc
    flat = width <= 1e-12 * max(step, 1e-300)
    stretch = np.where(flat, 1.0, np.maximum(1.0, step / np.where(flat, 1.0, width)))
    band = (GRID - 0.5)[None, :] * (step / (GRID[_I95] - GRID[_I05]))
    values = np.where(flat, med + band, med + stretch * (g - med))
    info = dict(fc.info)
    info["resolution"] = step
    out = Forecast(fc.x_new, values, direction=fc.direction, levels=fc.levels,
                   method=fc.method, info=info)  # fmt: skip
    return out.clipped(bounds) if bounds is not None else out
