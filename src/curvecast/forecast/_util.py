"""Small numeric helpers shared by the forecasters."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Curve

__all__ = ["interp", "noise_scale", "value_scale"]


def interp(x_new: NDArray[np.float64], x: NDArray[np.float64], y: NDArray[np.float64]) -> Any:
    """``np.interp`` on an axis rescaled by its last value, so that an axis of 1e-300s (whose
    spacings underflow) or 1e300s interpolates as well as one of epochs; shape of ``x_new``."""
    ref = float(x[-1]) if x.size and x[-1] > 0 else 1.0
    return np.interp(np.asarray(x_new, dtype=np.float64) / ref, x / ref, y)


def value_scale(curve: Curve) -> float:
    """A positive scale for the metric: the bounded range when both bounds are finite, else the
    spread of the observed values, else 10% of their magnitude (1.0 when all are zero)."""
    if curve.bounds is not None and all(math.isfinite(b) for b in curve.bounds):
        return float(curve.bounds[1] - curve.bounds[0])
    y = curve.observed_y
    spread = float(np.ptp(y)) if y.size > 1 else 0.0
    mag = float(np.max(np.abs(y))) if y.size else 0.0
    return max(spread, 0.1 * mag, 1e-12) if (spread or mag) else 1.0


def noise_scale(y: NDArray[np.float64]) -> float | None:
    """Robust estimate of the observation noise's standard deviation from first differences
    (MAD / sqrt(2)); None with fewer than 3 points."""
    if y.size < 3:
        return None
    d = np.diff(y)
    # Differences mix trend and noise: remove the local trend with second differences where
    # we can, since a steep early curve would otherwise read as noise.
    if y.size >= 4:
        d2 = np.diff(d)
        return float(1.4826 * np.median(np.abs(d2 - np.median(d2))) / math.sqrt(6))
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2))
