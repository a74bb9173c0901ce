"""The 11 parametric learning-curve families of Domhan et al. (2015), on a normalised space.

Every family is a vectorised function ``f(u, theta)`` of a normalised axis ``u`` with a parameter
vector ``theta`` of shape ``(..., p)``; the result has shape ``(..., len(u))``. All of them are
non-decreasing in ``u`` inside their box bounds, so they describe an *improving* curve.

Normalisation (:class:`Normaliser`)
-----------------------------------
Real curves come on any axis (epochs 1..50, training-set sizes 16..2e6, tokens 1e6..1e12), rise
or fall, and have any units. The families are defined on one canonical space instead:

- axis: ``u = (x + shift) / (x_last + shift)``, where ``x_last`` is the last observed ``x`` and
  ``shift`` is 0 unless the first observed ``x`` is 0, in which case it is the first positive
  observed step (1 for a one-point curve at ``x = 0``). Observed points then lie in ``(0, 1]``
  and forecasts ahead of the data at ``u > 1``. Every family but ``ilog2`` is invariant to a
  rescaling of ``u`` (the rescaling is absorbed by a parameter), so the choice of ``x_last``
  costs no generality; ``ilog2`` reads ``u`` as ``ILOG_K * u`` pseudo-epochs.
- value: ``z = (s * y - m) / r + 0.5`` with ``s = +1`` when maximising and ``-1`` when
  minimising (so that better is always up), ``m`` the worst observed ``s * y`` and ``r`` the
  observed range of ``s * y`` (floored at :data:`MIN_RANGE_FRACTION` of the metric's magnitude
  or of the bounded range). Observed values then lie in ``[0.5, 1.5]``; the offset of 0.5 lets
  the families that start at 0 for ``u -> 0`` (vap, hill3, log_power) place the start of
  training half a range below the worst observation.
- bounds: a finite best-side bound of the metric (``hi`` when maximising, ``lo`` when
  minimising) caps the asymptote parameters (:meth:`Normaliser.z_best`).

Parameters that the paper writes in a form that box bounds cannot keep increasing (mmf,
janoschek, weibull: start and asymptote) are re-parametrised as (asymptote, gain >= 0); the
function class is the paper's. ``pow4`` is written ``c - a (u + d)^-alpha`` (a shifted power law,
the LCDB study's form) rather than ``c - (a u + b)^-alpha``; the two are the same class.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Curve

__all__ = [
    "FAMILIES",
    "ILOG_K",
    "MIN_RANGE_FRACTION",
    "Family",
    "Normaliser",
    "family",
]

#: ``ilog2`` reads the normalised axis as ``ILOG_K * u`` pseudo-epochs (u = 1: the last seen x).
ILOG_K = 20.0
#: The value range ``r`` is at least this fraction of the bounded range or of the magnitude.
MIN_RANGE_FRACTION = 1e-3
#: Upper cap of asymptote parameters in z units (observed values lie in [0.5, 1.5]).
Z_CAP = 25.0

_F = NDArray[np.float64]
_TINY = 1e-12


@dataclass(frozen=True)
class Normaliser:
    """Maps a curve's ``(x, y)`` to the canonical ``(u, z)`` space and back.

    Attributes:
        shift, x_last: ``u = (x + shift) / (x_last + shift)``.
        sign: +1 for "maximize", -1 for "minimize".
        m, r: ``z = (sign * y - m) / r + 0.5``.
        z_best: the metric's best-side bound in z units, or +inf when that side is open.
    """

    shift: float
    x_last: float
    sign: float
    m: float
    r: float
    z_best: float

    @classmethod
    def from_curve(cls, curve: Curve) -> Normaliser:
        """Build from the observed points of ``curve`` (at least one)."""
        x, y = curve.observed_x, curve.observed_y
        shift = 0.0
        if x[0] == 0.0:
            shift = float(x[1]) if x.size > 1 else 1.0
        sign = 1.0 if curve.direction == "maximize" else -1.0
        sy = sign * y
        m = float(np.min(sy))
        mag = float(np.max(np.abs(y)))
        floor = MIN_RANGE_FRACTION * max(mag, 1e-9)
        if curve.bounds is not None and all(math.isfinite(b) for b in curve.bounds):
            floor = max(floor, MIN_RANGE_FRACTION * (curve.bounds[1] - curve.bounds[0]))
        r = max(float(np.ptp(sy)), floor)
        best = math.inf
        if curve.bounds is not None:
            b = curve.bounds[1] if sign > 0 else curve.bounds[0]
            if math.isfinite(b):
                best = (sign * b - m) / r + 0.5
        return cls(shift, float(x[-1]), sign, m, r, best)

    def u(self, x: NDArray[np.float64]) -> _F:
        """Normalised axis, same shape as ``x``."""
        return (np.asarray(x, dtype=np.float64) + self.shift) / (self.x_last + self.shift)

    def z(self, y: NDArray[np.float64]) -> _F:
        """Canonical (increasing, scaled) values, same shape as ``y``."""
        return (self.sign * np.asarray(y, dtype=np.float64) - self.m) / self.r + 0.5

    def y(self, z: NDArray[np.float64]) -> _F:
        """Inverse of :meth:`z`, same shape as ``z``."""
        return self.sign * ((np.asarray(z, dtype=np.float64) - 0.5) * self.r + self.m)

    @property
    def asymptote_cap(self) -> float:
        """Upper bound for asymptote parameters in z units."""
        return float(min(Z_CAP, self.z_best)) if self.z_best > 1.5 else 1.5 + 1e-6


@dataclass(frozen=True)
class Family:
    """One parametric family.

    Attributes:
        name: the paper's name.
        params: parameter names, length ``p``.
        f: ``f(u, theta)``: ``u`` shape ``(n,)``, ``theta`` shape ``(..., p)`` -> ``(..., n)``.
        lower, upper: box bounds as functions of the asymptote cap (``cap`` -> shape ``(p,)``).
        init: starting points from the data: ``init(u, z)`` -> shape ``(k, p)``.
    """

    name: str
    params: tuple[str, ...]
    f: Callable[[_F, _F], _F]
    bounds: Callable[[float], tuple[_F, _F]]
    init: Callable[[_F, _F], _F]

    @property
    def n_params(self) -> int:
        return len(self.params)

    def __call__(self, u: _F, theta: _F) -> _F:
        with np.errstate(all="ignore"):
            out = self.f(np.asarray(u, dtype=np.float64), np.asarray(theta, dtype=np.float64))
        return np.nan_to_num(out, nan=0.0, posinf=1e6, neginf=-1e6)

    def clip(self, theta: _F, cap: float) -> _F:
        """``theta`` (shape ``(..., p)``) clipped into the box bounds."""
        lo, hi = self.bounds(cap)
        return np.clip(theta, lo, hi)


def _p(theta: _F, i: int) -> _F:
    return theta[..., i, None]


def _stats(u: _F, z: _F) -> tuple[float, float, float, float]:
    """(first u, first z, last z, a plausible asymptote) of the observed data."""
    z0, z1 = float(z[0]), float(z[-1])
    zmax = float(np.max(z))
    return float(u[0]), z0, z1, max(zmax, z1) + 0.1 + 0.2 * max(z1 - z0, 0.0)


def _arr(*rows: list[float]) -> _F:
    return np.array(rows, dtype=np.float64)


# -- the families ----------------------------------------------------------------------------
def _vap(u: _F, t: _F) -> _F:  # exp(a + b/u + c log u), b <= 0, c >= 0
    return np.exp(np.minimum(_p(t, 0) + _p(t, 1) / u + _p(t, 2) * np.log(u), 50.0))


def _vap_init(u: _F, z: _F) -> _F:
    u0, z0, z1, _ = _stats(u, z)
    b = -max(u0, 1e-6) * max(np.log(max(z1, 1e-3) / max(z0, 1e-3)), 0.05)
    return _arr([math.log(max(z1, 1e-3)) - b, b, 0.0], [math.log(max(z1, 1e-3)) - b, b, 0.05])


def _pow3(u: _F, t: _F) -> _F:  # c - a u^-alpha
    return _p(t, 0) - _p(t, 1) * u ** (-_p(t, 2))


def _pow3_init(u: _F, z: _F) -> _F:
    u0, z0, _, c = _stats(u, z)
    rows = []
    for alpha in (0.3, 1.0):
        rows.append([c, max(c - z0, 1e-3) * u0**alpha, alpha])
    return _arr(*rows)


def _loglog(u: _F, t: _F) -> _F:  # log(a log u + b), a >= 0
    return np.log(np.maximum(_p(t, 0) * np.log(u) + _p(t, 1), 1e-8))


def _loglog_init(u: _F, z: _F) -> _F:
    u0, z0, z1, _ = _stats(u, z)
    e0, e1 = math.exp(min(z0, 30)), math.exp(min(z1, 30))
    a = max((e1 - e0) / max(-math.log(u0), 1e-3), 1e-3)
    return _arr([a, e1])


def _hill3(u: _F, t: _F) -> _F:  # ymax u^eta / (kappa^eta + u^eta)
    ue = u ** _p(t, 1)
    return _p(t, 0) * ue / (_p(t, 2) ** _p(t, 1) + ue)


def _hill3_init(u: _F, z: _F) -> _F:
    u0, _, _, c = _stats(u, z)
    return _arr([c, 1.0, u0], [c, 0.5, math.sqrt(u0)])


def _log_power(u: _F, t: _F) -> _F:  # a / (1 + (u / e^b)^c), c <= 0
    return _p(t, 0) / (1.0 + np.exp(_p(t, 2) * (np.log(u) - _p(t, 1))))


def _log_power_init(u: _F, z: _F) -> _F:
    u0, _, _, c = _stats(u, z)
    return _arr([c, math.log(u0), -1.0], [c, 0.5 * math.log(u0), -0.5])


def _pow4(u: _F, t: _F) -> _F:  # c - a (u + d)^-alpha
    return _p(t, 0) - _p(t, 1) * (u + _p(t, 3)) ** (-_p(t, 2))


def _pow4_init(u: _F, z: _F) -> _F:
    u0, z0, _, c = _stats(u, z)
    return _arr([c, max(c - z0, 1e-3) * u0**0.5, 0.5, 0.0], [c, max(c - z0, 1e-3), 1.0, u0])


def _mmf(u: _F, t: _F) -> _F:  # gamma - gain * beta / (beta + u^delta)
    ud = u ** _p(t, 3)
    return _p(t, 0) - _p(t, 1) * _p(t, 2) / (_p(t, 2) + ud)


def _mmf_init(u: _F, z: _F) -> _F:
    u0, z0, _, c = _stats(u, z)
    return _arr([c, c - z0 + 0.5, u0, 1.0], [c, c - z0 + 0.5, math.sqrt(u0), 0.5])


def _exp4(u: _F, t: _F) -> _F:  # c - exp(-a u^alpha + b)
    return _p(t, 0) - np.exp(np.minimum(-_p(t, 1) * u ** _p(t, 2) + _p(t, 3), 50.0))


def _exp4_init(u: _F, z: _F) -> _F:
    u0, z0, z1, c = _stats(u, z)
    alpha = 0.5
    b = math.log(max(c - z0, 1e-3)) + u0**alpha
    return _arr([c, 3.0, alpha, b], [c, 1.0, 1.0, math.log(max(c - z0, 1e-3)) + u0])


def _janoschek(u: _F, t: _F) -> _F:  # alpha - gain * exp(-kappa u^delta)
    return _p(t, 0) - _p(t, 1) * np.exp(-_p(t, 2) * u ** _p(t, 3))


def _janoschek_init(u: _F, z: _F) -> _F:
    _, z0, _, c = _stats(u, z)
    return _arr([c, c - z0 + 0.2, 2.0, 0.5], [c, c - z0 + 0.2, 1.0, 1.0])


def _weibull(u: _F, t: _F) -> _F:  # alpha - gain * exp(-(kappa u)^delta)
    return _p(t, 0) - _p(t, 1) * np.exp(-((_p(t, 2) * u) ** _p(t, 3)))


def _weibull_init(u: _F, z: _F) -> _F:
    _, z0, _, c = _stats(u, z)
    return _arr([c, c - z0 + 0.2, 2.0, 0.5], [c, c - z0 + 0.2, 1.0, 1.0])


def _ilog2(u: _F, t: _F) -> _F:  # c - a / log(1 + K u)
    return _p(t, 0) - _p(t, 1) / np.log1p(ILOG_K * u)


def _ilog2_init(u: _F, z: _F) -> _F:
    u0, z0, _, c = _stats(u, z)
    return _arr([c, max(c - z0, 1e-3) * math.log1p(ILOG_K * u0)])


def _b(lo: list[float], hi: list[float]) -> tuple[_F, _F]:
    return np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64)


_BIG = 1e4
FAMILIES: tuple[Family, ...] = (
    Family("vap", ("a", "b", "c"), _vap,
           lambda cap: _b([-20.0, -_BIG, 0.0], [math.log(cap), 0.0, 2.0]), _vap_init),
    Family("pow3", ("c", "a", "alpha"), _pow3,
           lambda cap: _b([-5.0, 0.0, 0.01], [cap, _BIG, 3.0]), _pow3_init),
    Family("loglog_linear", ("a", "b"), _loglog,
           lambda cap: _b([0.0, 1e-6], [_BIG, math.exp(cap)]), _loglog_init),
    Family("hill3", ("ymax", "eta", "kappa"), _hill3,
           lambda cap: _b([0.0, 0.01, 1e-9], [cap, 5.0, _BIG]), _hill3_init),
    Family("log_power", ("a", "b", "c"), _log_power,
           lambda cap: _b([0.0, -30.0, -5.0], [cap, 10.0, -0.01]), _log_power_init),
    Family("pow4", ("c", "a", "alpha", "d"), _pow4,
           lambda cap: _b([-5.0, 0.0, 0.01, 0.0], [cap, _BIG, 3.0, 10.0]), _pow4_init),
    Family("mmf", ("gamma", "gain", "beta", "delta"), _mmf,
           lambda cap: _b([-5.0, 0.0, 1e-9, 0.01], [cap, 30.0, _BIG, 5.0]), _mmf_init),
    Family("exp4", ("c", "a", "alpha", "b"), _exp4,
           lambda cap: _b([-5.0, 0.0, 0.01, -30.0], [cap, _BIG, 3.0, 30.0]), _exp4_init),
    Family("janoschek", ("alpha", "gain", "kappa", "delta"), _janoschek,
           lambda cap: _b([-5.0, 0.0, 0.0, 0.01], [cap, 30.0, _BIG, 3.0]), _janoschek_init),
    Family("weibull", ("alpha", "gain", "kappa", "delta"), _weibull,
           lambda cap: _b([-5.0, 0.0, 0.0, 0.01], [cap, 30.0, _BIG, 3.0]), _weibull_init),
    Family("ilog2", ("c", "a"), _ilog2,
           lambda cap: _b([-5.0, 0.0], [cap, _BIG]), _ilog2_init),
)  # fmt: skip


def family(name: str) -> Family:
    """The family called ``name``; KeyError if there is none."""
    for fam in FAMILIES:
        if fam.name == name:
            return fam
    raise KeyError(name)


def starts(fam: Family, u: _F, z: _F, cap: float) -> _F:
    """Starting points for ``fam`` inside its bounds, shape ``(k, p)``; always finite."""
    with np.errstate(all="ignore"):
        raw = fam.init(u, z)
    lo, hi = fam.bounds(cap)
    mid = np.where(np.isfinite(lo) & np.isfinite(hi), (lo + hi) / 2, 0.0)
    raw = np.where(np.isfinite(raw), raw, mid)
    span = hi - lo
    return np.clip(raw, lo + 1e-6 * span, hi - 1e-6 * span)
