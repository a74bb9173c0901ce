"""Shape generators of the synthetic prior: clean progress on a normalised axis.

Every shape maps a normalised axis ``t`` (shape ``(n,)``, values in ``(0, 1]``; ``t = 1`` is the
end of the run, the forecast horizon) and per-curve parameters (a dict of arrays of shape
``(k, 1)``, one row per curve of a task) to a clean *quality* of shape ``(k, n)`` in ``[0, 1]``:
increasing is better, 0 is where the curve starts (its value at the reference ``t0``, a little
before the first point) and 1 is its best value (at ``t = 1`` for the monotone shapes). The
sampler (:mod:`curvecast.prior._sample`) stretches the quality between a start and a final level
and maps it to a metric (accuracy, error rate, loss, perplexity).

The shapes are Domhan et al.'s 11 parametric families (reused from
:mod:`curvecast.forecast._families`) and six more that the families cannot draw:
``broken_power_law``, ``sigmoid`` (an inflection point), ``slow_start`` (flat, then rising),
``plateau_drop`` (a plateau, then a step improvement: learning-rate decay), ``overfitting`` (rises,
then turns down) and ``saturation`` (reaches its best, the metric's bound when it has one, before
the end and stays there). Divergence is not a shape: any curve may diverge (see the sampler).

Parameters are drawn once per task and spread per curve (``jitter``, a fraction of each
parameter's range, in log space for scale parameters), so the curves of one search share a shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from curvecast.forecast._families import family

__all__ = ["SHAPES", "SHAPE_NAMES", "Shape", "draw_params", "quality"]

_F = NDArray[np.float64]
Params = dict[str, _F]


@dataclass(frozen=True)
class Shape:
    """One shape of the prior.

    Attributes:
        name: the name stored in ``Curve.meta["shape"]``.
        draw: ``draw(rng, k, jitter)`` -> parameters, each of shape ``(k, 1)``.
        h: ``h(t, params)`` -> raw values, ``t`` of shape ``(n,)`` or ``(k, 1)``, result
            ``(k, n)`` or ``(k, 1)``; better is up. :func:`quality` rescales it to ``[0, 1]``.
        peak: the name of the parameter holding the ``t`` of the best value (None: ``t = 1``).
    """

    name: str
    draw: Callable[[np.random.Generator, int, float], Params]
    h: Callable[[_F, Params], _F]
    peak: str | None = None


def _around(
    rng: np.random.Generator, k: int, lo: float, hi: float, jitter: float, log: bool = True
) -> _F:
    """A task value in ``[lo, hi]`` (log-uniform when ``log``) spread per curve: ``(k, 1)``."""
    a, b = (np.log(lo), np.log(hi)) if log else (lo, hi)
    base = rng.uniform(a, b)
    v = np.clip(base + jitter * (b - a) * rng.standard_normal(k), a, b)
    return (np.exp(v) if log else v)[:, None]


# -- Domhan's families: theta template with the drawn entries (index, lo, hi, sign) --------------
_FAMILY_DRAWS: dict[str, tuple[tuple[float, ...], tuple[tuple[int, float, float, float], ...]]] = {
    "vap": ((1.0, 0.0, 0.0), ((1, 0.005, 0.5, -1.0), (2, 0.01, 0.5, 1.0))),
    "pow3": ((1.0, 1.0, 0.0), ((2, 0.1, 1.5, 1.0),)),
    "loglog_linear": ((0.0, 0.0), ((1, 6.0, 15.0, 1.0),)),
    "hill3": ((1.0, 0.0, 0.0), ((1, 0.5, 4.0, 1.0), (2, 0.02, 0.5, 1.0))),
    "log_power": ((1.0, 0.0, 0.0), ((1, 0.02, 0.5, 0.0), (2, 0.5, 4.0, -1.0))),
    "pow4": ((1.0, 1.0, 0.0, 0.0), ((2, 0.2, 2.0, 1.0), (3, 0.005, 0.3, 1.0))),
    "mmf": ((1.0, 1.0, 0.0, 0.0), ((2, 0.02, 0.5, 0.0), (3, 0.5, 4.0, 1.0))),
    "exp4": ((1.0, 1.0, 0.0, 0.0), ((2, 1.0, 30.0, 1.0), (3, 0.3, 2.0, 1.0))),
    "janoschek": ((1.0, 1.0, 0.0, 0.0), ((2, 1.0, 30.0, 1.0), (3, 0.3, 2.0, 1.0))),
    "weibull": ((1.0, 1.0, 0.0, 0.0), ((2, 1.0, 30.0, 1.0), (3, 0.3, 2.0, 1.0))),
    "ilog2": ((1.0, 1.0), ()),
}
# sign 0.0 marks a half-way point stored as its log (log_power's b) or raised to delta (mmf's beta)


def _family_shape(name: str) -> Shape:
    fam = family(name)
    template, drawn = _FAMILY_DRAWS[name]

    def draw(rng: np.random.Generator, k: int, jitter: float) -> Params:
        theta = np.tile(np.asarray(template, dtype=np.float64), (k, 1))
        for i, lo, hi, sign in drawn:
            v = _around(rng, k, lo, hi, jitter)[:, 0]
            theta[:, i] = v if sign == 0.0 else sign * v
        if name == "log_power":  # b = log(u at half way)
            theta[:, 1] = np.log(theta[:, 1])
        if name == "mmf":  # beta = (u at half way) ** delta
            theta[:, 2] = theta[:, 2] ** theta[:, 3]
        return {f"theta{j}": theta[:, j, None] for j in range(theta.shape[1])}

    def h(t: _F, p: Params) -> _F:
        theta = np.stack([p[f"theta{j}"][:, 0] for j in range(len(template))], axis=-1)
        if t.ndim == 2:  # one t per curve, shape (k, 1): evaluate row by row via the diagonal
            return np.diagonal(fam(t[:, 0], theta))[:, None].copy()
        return fam(t, theta)

    return Shape(name, draw, h)


# -- the shapes the families cannot draw ---------------------------------------------------------
def _broken_draw(rng: np.random.Generator, k: int, j: float) -> Params:
    return {
        "a1": _around(rng, k, 0.02, 0.4, j),
        "a2": _around(rng, k, 0.5, 2.5, j),
        "tb": _around(rng, k, 0.02, 0.5, j),
        "s": _around(rng, k, 0.05, 0.5, j),
    }


def _broken_h(t: _F, p: Params) -> _F:  # minus a smoothly broken power-law error
    a1, a2, tb, s = p["a1"], p["a2"], p["tb"], p["s"]
    log_err = -a1 * np.log(t) - (a2 - a1) * s * np.log1p((t / tb) ** (1.0 / s))
    return -np.exp(log_err)


def _sigmoid_draw(rng: np.random.Generator, k: int, j: float) -> Params:
    return {"tm": _around(rng, k, 0.1, 0.7, j, log=False), "w": _around(rng, k, 0.02, 0.2, j)}


def _sigmoid_h(t: _F, p: Params) -> _F:
    return 1.0 / (1.0 + np.exp(-(t - p["tm"]) / p["w"]))


def _rise(t: _F, tau: _F) -> _F:
    return 1.0 - np.exp(-np.maximum(t, 0.0) / tau)


def _slow_draw(rng: np.random.Generator, k: int, j: float) -> Params:
    return {"t0": _around(rng, k, 0.05, 0.4, j, log=False), "tau": _around(rng, k, 0.05, 0.5, j)}


def _slow_h(t: _F, p: Params) -> _F:
    return _rise(t - p["t0"], p["tau"])


def _plateau_draw(rng: np.random.Generator, k: int, j: float) -> Params:
    return {
        "tau": _around(rng, k, 0.01, 0.1, j),
        "level": _around(rng, k, 0.5, 0.85, j, log=False),
        "td": _around(rng, k, 0.4, 0.85, j, log=False),
        "tau2": _around(rng, k, 0.003, 0.03, j),
    }


def _plateau_h(t: _F, p: Params) -> _F:
    return p["level"] * _rise(t, p["tau"]) + (1.0 - p["level"]) * _rise(t - p["td"], p["tau2"])


def _overfit_draw(rng: np.random.Generator, k: int, j: float) -> Params:
    return {
        "tau": _around(rng, k, 0.01, 0.08, j),
        "to": _around(rng, k, 0.3, 0.7, j, log=False),
        "drop": _around(rng, k, 0.1, 0.5, j, log=False),
        "pw": _around(rng, k, 1.0, 2.0, j, log=False),
    }


def _overfit_h(t: _F, p: Params) -> _F:
    ramp = np.maximum(t - p["to"], 0.0) / (1.0 - p["to"])
    return _rise(t, p["tau"]) * (1.0 - p["drop"] * ramp ** p["pw"])


def _saturation_draw(rng: np.random.Generator, k: int, j: float) -> Params:
    return {"ts": _around(rng, k, 0.1, 0.6, j, log=False), "pw": _around(rng, k, 1.5, 4.0, j)}


def _saturation_h(t: _F, p: Params) -> _F:
    return 1.0 - (1.0 - np.minimum(t / p["ts"], 1.0)) ** p["pw"]


SHAPES: dict[str, Shape] = {
    **{name: _family_shape(name) for name in _FAMILY_DRAWS},
    "broken_power_law": Shape("broken_power_law", _broken_draw, _broken_h),
    "sigmoid": Shape("sigmoid", _sigmoid_draw, _sigmoid_h),
    "slow_start": Shape("slow_start", _slow_draw, _slow_h),
    "plateau_drop": Shape("plateau_drop", _plateau_draw, _plateau_h),
    "overfitting": Shape("overfitting", _overfit_draw, _overfit_h, peak="to"),
    "saturation": Shape("saturation", _saturation_draw, _saturation_h),
}
#: Every shape name, in a fixed order (Domhan's families first).
SHAPE_NAMES: tuple[str, ...] = tuple(SHAPES)


def draw_params(name: str, rng: np.random.Generator, k: int, jitter: float) -> Params:
    """Parameters of ``k`` curves of shape ``name`` sharing one task draw: each ``(k, 1)``."""
    return SHAPES[name].draw(rng, k, jitter)


def quality(name: str, t: _F, params: Params, t0: _F) -> _F:
    """Clean quality of shape ``name``: ``t`` (n,), ``t0`` (k, 1) the start -> ``(k, n)`` in [0, 1].

    0 is the shape's value at ``t0``, 1 its value at the peak (``t = 1`` unless the shape has
    one, such as ``overfitting``); values outside are clipped.
    """
    shape = SHAPES[name]
    k = t0.shape[0]
    top = params[shape.peak] if shape.peak is not None else np.ones((k, 1))
    with np.errstate(all="ignore"):
        raw = shape.h(np.asarray(t, dtype=np.float64), params)
        start, end = shape.h(t0, params), shape.h(top, params)
        span = end - start
        g = np.where(np.abs(span) > 1e-12, (raw - start) / np.where(span == 0, 1.0, span), 1.0)
    return np.clip(np.nan_to_num(g, nan=0.0), 0.0, 1.0)
