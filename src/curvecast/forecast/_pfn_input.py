"""How the curvecast PFN sees a curve: per-task normalisation and token features (NumPy only).

The trainer (:mod:`curvecast.train.pfn`) and the forecaster (:mod:`curvecast.forecast.pfn`) both
build their inputs here, so the network meets at inference exactly what it met in training.

Normalisation, per request
--------------------------
- Direction: ``u = y`` when maximising, ``u = -y`` when minimising, so larger is always better.
- Level and scale: ``a`` is the last observed ``u``; ``s`` is the range of the later half of the
  observed points (the scale the curve moves on now), at least a floor: 1% of the bounded range
  when both bounds are finite, else 1% of ``|a|`` (a tenth of that once three points give a
  range of their own). Bounds are meant to be the metric's real range ((0, 1) or (0, 100) for
  an accuracy): a far wider range widens the floor, and with it flat curves' forecasts. Every
  value is fed as ``(u - a) / s`` and the network predicts the queries' values on that scale,
  so any unit and any magnitude work.
- Axis: ``xr``, the last observed ``x``, is the unit; a point is fed as ``log(x / xr)`` and
  ``sqrt(x / xr)``, so epochs, training-set sizes and tokens, and horizons from 1.01x to 100x and
  beyond, are one input space (``x / xr`` is clipped at 150, ``log`` at -14).
- Bounds become the distances ``(bound - a) / s`` in ``u`` space, so the network knows how much
  room a curve has left (an accuracy at 0.98 of 1.0).

Tokens
------
An *observed* token is a point of the target curve (at most :data:`MAX_TARGET` of them: the last
:data:`KEEP_LAST` and an even spread of the earlier ones) or of a context curve (at most
:data:`MAX_CONTEXT_CURVES` curves, those reaching furthest first, each thinned to
:data:`MAX_CONTEXT_POINTS`). A context curve carries a random identity vector shared by its
points, so that attention can tell curves apart, and its value at ``xr`` relative to the target
(where it reaches ``xr``), so that it can be read as "this trial was ahead by so much and ended
there". A *query* token is an ``x`` to forecast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ID_DIM",
    "MAX_CONTEXT_CURVES",
    "MAX_CONTEXT_POINTS",
    "MAX_TARGET",
    "N_TASK",
    "N_VALUE",
    "N_X",
    "Encoded",
    "context_ids",
    "encode",
]

_F = NDArray[np.float64]

MAX_TARGET = 64
KEEP_LAST = 8
MAX_CONTEXT_CURVES = 6
MAX_CONTEXT_POINTS = 12
ID_DIM = 8
#: widths of the three feature groups
N_X = 2
N_VALUE = 5 + ID_DIM
N_TASK = 9

_LOG_MIN = -14.0
_RATIO_MAX = 150.0


@dataclass(frozen=True)
class Encoded:
    """One request as the network reads it.

    Attributes:
        x_obs: axis features of the observed tokens, shape ``(n_obs, N_X)``.
        v_obs: value features of the observed tokens, shape ``(n_obs, N_VALUE)``.
        x_query: axis features of the queries, shape ``(m, N_X)``.
        task: task features, shape ``(N_TASK,)``.
        sign: +1 when maximising, -1 when minimising.
        level: ``a``, the last observed value in larger-is-better units.
        scale: ``s``, positive.
        n_context: how many context curves were read.
    """

    x_obs: _F
    v_obs: _F
    x_query: _F
    task: _F
    sign: float
    level: float
    scale: float
    n_context: int = 0

    def normalize(self, y: _F) -> _F:
        """Metric values to the network's target units, ``(sign * y - a) / s``."""
        return np.asarray((self.sign * np.asarray(y, dtype=np.float64) - self.level) / self.scale)

    def denormalize(self, z: _F) -> _F:
        """The network's units back to metric values (the inverse of :meth:`normalize`)."""
        return np.asarray(self.sign * (self.level + self.scale * np.asarray(z, dtype=np.float64)))


def context_ids(n: int, rng: np.random.Generator | None = None) -> _F:
    """Identity vectors for ``n`` context curves, shape ``(n, ID_DIM)``.

    Training draws them fresh per task (``rng``); inference uses a fixed draw (``rng=None``), so
    forecasts are reproducible. The network only learns that equal vectors mean one curve.
    """
    if rng is None:
        rng = np.random.default_rng(20231)
    return rng.standard_normal((n, ID_DIM))


def _x_features(x: _F, xr: float) -> _F:
    ratio = np.clip(x / xr, 0.0, _RATIO_MAX)
    lt = np.log(np.maximum(ratio, math.exp(_LOG_MIN)))
    return np.stack([lt / 4.0, np.sqrt(ratio) / 5.0], axis=-1)


def _value_features(z: _F) -> _F:
    """Two views of normalised values: linear near the last value, asinh far from it."""
    return np.stack([np.clip(z, -20.0, 20.0) / 5.0, np.arcsinh(z) / 3.0], axis=-1)


def _room(distance: float, scale: float) -> float:
    """The distance to a bound in scales, squashed; capped at 1e12 scales (far is far)."""
    with np.errstate(over="ignore"):
        ratio = min(float(np.float64(distance) / scale), 1e12)
    return float(np.arcsinh(ratio) / 3.0)


def _thin_target(n: int) -> NDArray[np.intp]:
    if n <= MAX_TARGET:
        return np.arange(n)
    head = np.round(np.linspace(0, n - KEEP_LAST - 1, MAX_TARGET - KEEP_LAST)).astype(np.intp)
    return np.concatenate([np.unique(head), np.arange(n - KEEP_LAST, n)])


def _thin(n: int, k: int) -> NDArray[np.intp]:
    if n <= k:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, k)).astype(np.intp))


def _scale(u: _F, level: float, bounds: tuple[float, float] | None) -> tuple[float, bool]:
    n = u.size
    recent = u[min(n // 2, max(n - 2, 0)) :]
    spread = float(np.ptp(recent)) if recent.size > 1 else 0.0
    width = bounds[1] - bounds[0] if bounds is not None else math.inf
    if math.isfinite(width):  # (0, 1) accuracy: 0.01; (0, 100) percent: 1
        floor = 0.01 * width
    else:
        floor = 0.01 * abs(level) if level != 0.0 else 1e-12
    if n >= 3:
        floor *= 0.1
    return max(spread, floor), spread < floor


def encode(
    x: _F,
    y: _F,
    x_new: _F,
    *,
    direction: str,
    bounds: tuple[float, float] | None,
    context: Sequence[tuple[_F, _F]] = (),
    ids: _F | None = None,
) -> Encoded:
    """Build the network's input for one curve (finite observed values only).

    Args:
        x, y: the observed points of the curve, shape ``(n,)``, ``n >= 1``, ``x`` increasing.
        x_new: where to forecast, shape ``(m,)``.
        direction: "maximize" or "minimize".
        bounds: ``(lo, hi)`` of the metric (infinite for open sides) or None.
        context: other curves of the same search as ``(x, y)`` pairs; non-finite or exploded
            (``|y| >= 1e12``) points are left out, and curves with none left.
        ids: identity vectors, shape ``(>= len(context), ID_DIM)``; default :func:`context_ids`.
    """
    sign = 1.0 if direction == "maximize" else -1.0
    x = np.asarray(x, dtype=np.float64)
    u = sign * np.asarray(y, dtype=np.float64)
    level = float(u[-1])
    scale, floored = _scale(u, level, bounds)
    xr = float(x[-1])
    if not xr > 0.0:  # one point at x = 0: the axis unit is 1, whatever is asked
        xr = 1.0

    keep = _thin_target(u.size)
    zt = (u[keep] - level) / scale
    v_target = np.zeros((keep.size, N_VALUE))
    v_target[:, :2] = _value_features(zt)
    x_parts, v_parts = [_x_features(x[keep], xr)], [v_target]

    curves = []
    for cx_raw, cy_raw in context:  # finite points only, in larger-is-better units
        cx, cu = np.asarray(cx_raw, dtype=np.float64), sign * np.asarray(cy_raw, dtype=np.float64)
        ok = np.isfinite(cu) & (np.abs(cu) < 1e12)
        if ok.any():
            curves.append((cx[ok], cu[ok]))
    chosen = sorted(range(len(curves)), key=lambda i: -float(curves[i][0][-1]))
    chosen = chosen[:MAX_CONTEXT_CURVES]
    if ids is None:
        ids = context_ids(len(chosen))
    for slot, i in enumerate(chosen):
        cx, cu = curves[i]
        sel = _thin(cx.size, MAX_CONTEXT_POINTS)
        v = np.zeros((sel.size, N_VALUE))
        v[:, :2] = _value_features((cu[sel] - level) / scale)
        v[:, 2] = 1.0
        if cx[0] <= xr <= cx[-1]:
            offset = (float(np.interp(xr, cx, cu)) - level) / scale
            v[:, 3] = np.arcsinh(offset) / 3.0
            v[:, 4] = 1.0
        v[:, 5:] = ids[slot]
        x_parts.append(_x_features(cx[sel], xr))
        v_parts.append(v)

    n_context = len(chosen)
    task = np.zeros(N_TASK)
    lo, hi = bounds if bounds is not None else (-math.inf, math.inf)
    up, down = (hi, lo) if sign > 0 else (-lo, -hi)  # the bounds in larger-is-better units
    if math.isfinite(up):
        task[0], task[1] = 1.0, _room(up - level, scale)
    if math.isfinite(down):
        task[2], task[3] = 1.0, _room(level - down, scale)
    task[4] = math.log(u.size) / 5.0
    task[5] = math.log(max(float(np.ptp(u)), scale) / scale) / 3.0
    task[6] = 1.0 if chosen else 0.0
    task[7] = math.log1p(len(chosen)) / 2.0
    task[8] = 1.0 if floored else 0.0
    return Encoded(
        x_obs=np.concatenate(x_parts),
        v_obs=np.concatenate(v_parts),
        x_query=_x_features(np.asarray(x_new, dtype=np.float64), xr),
        task=task,
        sign=sign,
        level=level,
        scale=scale,
        n_context=n_context,
    )
