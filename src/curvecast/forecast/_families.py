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
  or of the bounded range; at 10% of them for curves of fewer than 3 points). Observed values
  then lie in ``[0.5, 1.5]``; the offset of 0.5 lets
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
    "Fit",
    "Normaliser",
    "family",
    "fit",
    "grid_fit",
    "starts",
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
        # with fewer than 3 points the range says nothing: use 10% of the magnitude instead
        frac = MIN_RANGE_FRACTION if y.size >= 3 else 0.1
        floor = frac * max(mag, 1e-9)
        if curve.bounds is not None and all(math.isfinite(b) for b in curve.bounds):
            floor = max(floor, frac * (curve.bounds[1] - curve.bounds[0]))
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
    """One parametric family, written so that it can be fitted by variable projection.

    ``f(u, theta)`` is affine in the parameters at ``lin`` (the others fixed): those are solved
    for exactly, the rest are searched on a grid (:func:`grid_fit`).

    Attributes:
        name: the paper's name.
        params: parameter names, length ``p``.
        f: ``f(u, theta)``: ``u`` shape ``(n,)``, ``theta`` shape ``(..., p)`` -> ``(..., n)``.
        bounds: ``bounds(cap)`` -> (lower, upper), each shape ``(p,)``; ``cap`` is the largest
            asymptote allowed, in z units.
        lin: indices of the linear parameters, length ``L``.
        grid: ``grid(u0)`` -> axes ``[(index, values), ...]`` of the non-linear parameters,
            searched as a product grid; ``u0`` is the first observed ``u``.
        post: maps a ``(G, p)`` grid to parameters (None: identity), for grids laid out in a
            more natural coordinate (the ``u`` at which a curve is half way).
        prior_share: the family's share of prior weight (families that describe the same
            function class share one unit: exp4/janoschek/weibull, hill3/log_power).
    """

    name: str
    params: tuple[str, ...]
    f: Callable[[_F, _F], _F]
    bounds: Callable[[float], tuple[_F, _F]]
    lin: tuple[int, ...]
    grid: Callable[[float], list[tuple[int, _F]]]
    post: Callable[[_F], _F] | None = None
    prior_share: float = 1.0

    @property
    def n_params(self) -> int:
        return len(self.params)

    def __call__(self, u: _F, theta: _F) -> _F:
        """Evaluate with non-finite results replaced: ``u`` (n,), ``theta`` (..., p) -> (..., n)."""
        with np.errstate(all="ignore"):
            out = self.f(np.asarray(u, dtype=np.float64), np.asarray(theta, dtype=np.float64))
        if np.isfinite(out).all():  # the common case; nan_to_num's own checks cost more
            return out
        return np.nan_to_num(out, nan=0.0, posinf=1e6, neginf=-1e6)

    def clip(self, theta: _F, cap: float) -> _F:
        """``theta`` (shape ``(..., p)``) clipped into the box bounds."""
        lo, hi = self.bounds(cap)
        return np.clip(theta, lo, hi)


def _p(theta: _F, i: int) -> _F:
    return theta[..., i, None]


_Axes = list[tuple[int, _F]]


def _halfway(u0: float, k: int) -> _F:
    """Candidate u where a saturating family is half way: from below the data to far beyond."""
    return np.geomspace(max(u0, 1e-9) * 0.1, 50.0, k)


# -- the families: f, grid of the non-linear parameters, design columns --------------------------
def _vap(u: _F, t: _F) -> _F:  # exp(a + b/u + c log u) written A exp(b/u) u^c, A = e^a
    return _p(t, 0) * np.exp(np.minimum(_p(t, 1) / u + _p(t, 2) * np.log(u), 50.0))


def _vap_grid(u0: float) -> _Axes:
    span = max(1.0 / max(u0, 1e-9) - 1.0, 1e-3)
    b = -np.concatenate([[0.0], np.geomspace(0.01, 6.0, 24)]) / span
    return [(1, b), (2, np.concatenate([[0.0], np.geomspace(0.002, 1.0, 15)]))]


def _pow3(u: _F, t: _F) -> _F:  # c - a u^-alpha
    return _p(t, 0) - _p(t, 1) * u ** (-_p(t, 2))


def _loglog(u: _F, t: _F) -> _F:  # log(a log u + b) written L + log(log u + k), a = e^L
    return _p(t, 0) + np.log(np.maximum(np.log(u) + _p(t, 1), 1e-8))


def _loglog_grid(u0: float) -> _Axes:
    return [(1, -math.log(max(u0, 1e-9)) + np.geomspace(1e-3, 100.0, 80))]


def _hill3(u: _F, t: _F) -> _F:  # ymax u^eta / (kappa^eta + u^eta)
    return _p(t, 0) / (1.0 + (_p(t, 2) / u) ** _p(t, 1))


def _hill3_grid(u0: float) -> _Axes:
    return [(1, np.geomspace(0.05, 5.0, 30)), (2, _halfway(u0, 30))]


def _log_power(u: _F, t: _F) -> _F:  # a / (1 + (u / e^b)^c), c < 0
    return _p(t, 0) / (1.0 + np.exp(_p(t, 2) * (np.log(u) - _p(t, 1))))


def _log_power_grid(u0: float) -> _Axes:
    return [(1, np.log(_halfway(u0, 30))), (2, -np.geomspace(0.05, 5.0, 30))]


def _pow4(u: _F, t: _F) -> _F:  # c - a (u + d)^-alpha
    return _p(t, 0) - _p(t, 1) * (u + _p(t, 3)) ** (-_p(t, 2))


def _pow4_grid(u0: float) -> _Axes:
    d = np.concatenate([[0.0], np.geomspace(max(u0, 1e-9) * 0.1, 10.0, 24)])
    return [(2, np.geomspace(0.01, 3.0, 40)), (3, d)]


def _mmf(u: _F, t: _F) -> _F:  # (ab + g u^d)/(b + u^d) written gamma - gain b/(b + u^d)
    return _p(t, 0) - _p(t, 1) * _p(t, 2) / (_p(t, 2) + u ** _p(t, 3))


def _mmf_grid(u0: float) -> _Axes:
    return [(2, _halfway(u0, 30)), (3, np.geomspace(0.05, 5.0, 30))]


def _mmf_post(t: _F) -> _F:
    t[:, 2] = t[:, 2] ** t[:, 3]  # the grid holds u at half way; beta = that ** delta
    return t


def _exp4(u: _F, t: _F) -> _F:  # c - exp(-a u^alpha + b) written c - A exp(-a u^alpha)
    return _p(t, 0) - _p(t, 1) * np.exp(-_p(t, 2) * u ** _p(t, 3))


def _exp_grid(u0: float) -> _Axes:
    return [(2, _halfway(u0, 30)), (3, np.geomspace(0.05, 3.0, 30))]


def _exp_post(t: _F) -> _F:
    t[:, 2] = t[:, 2] ** -t[:, 3]  # the grid holds u at half way; kappa u^delta = 1 there
    return t


def _weibull(u: _F, t: _F) -> _F:  # alpha - gain exp(-(kappa u)^delta)
    return _p(t, 0) - _p(t, 1) * np.exp(-((_p(t, 2) * u) ** _p(t, 3)))


def _weibull_grid(u0: float) -> _Axes:
    return [(2, 1.0 / _halfway(u0, 30)), (3, np.geomspace(0.05, 3.0, 30))]


def _ilog2(u: _F, t: _F) -> _F:  # c - a / log(1 + K u)
    return _p(t, 0) - _p(t, 1) / np.log1p(ILOG_K * u)


def _b(lo: list[float], hi: list[float]) -> tuple[_F, _F]:
    return np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64)


_BIG = 1e4
_C0 = -5.0  # lowest asymptote (z units; observed values lie in [0.5, 1.5])
FAMILIES: tuple[Family, ...] = (
    Family("vap", ("A", "b", "c"), _vap,
           lambda cap: _b([0.0, -_BIG, 0.0], [cap, 0.0, 2.0]),
           (0,), _vap_grid),
    Family("pow3", ("c", "a", "alpha"), _pow3,
           lambda cap: _b([_C0, 0.0, 0.01], [cap, _BIG, 3.0]),
           (0, 1), lambda u0: [(2, np.geomspace(0.01, 3.0, 120))]),
    Family("loglog_linear", ("L", "k"), _loglog,
           lambda cap: _b([-30.0, 0.0], [cap, _BIG]),
           (0,), _loglog_grid),
    Family("hill3", ("ymax", "eta", "kappa"), _hill3,
           lambda cap: _b([0.0, 0.01, 1e-12], [cap, 5.0, _BIG]),
           (0,), _hill3_grid, None, 0.5),
    Family("log_power", ("a", "b", "c"), _log_power,
           lambda cap: _b([0.0, -30.0, -5.0], [cap, 10.0, -0.01]),
           (0,), _log_power_grid, None, 0.5),
    Family("pow4", ("c", "a", "alpha", "d"), _pow4,
           lambda cap: _b([_C0, 0.0, 0.01, 0.0], [cap, _BIG, 3.0, 10.0]),
           (0, 1), _pow4_grid),
    Family("mmf", ("gamma", "gain", "beta", "delta"), _mmf,
           lambda cap: _b([_C0, 0.0, 1e-12, 0.01], [cap, 30.0, _BIG, 5.0]),
           (0, 1), _mmf_grid, _mmf_post),
    Family("exp4", ("c", "A", "a", "alpha"), _exp4,
           lambda cap: _b([_C0, 0.0, 0.0, 0.01], [cap, _BIG, _BIG, 3.0]),
           (0, 1), _exp_grid, _exp_post, 1 / 3),
    Family("janoschek", ("alpha", "gain", "kappa", "delta"), _exp4,
           lambda cap: _b([_C0, 0.0, 0.0, 0.01], [cap, 30.0, _BIG, 3.0]),
           (0, 1), _exp_grid, _exp_post, 1 / 3),
    Family("weibull", ("alpha", "gain", "kappa", "delta"), _weibull,
           lambda cap: _b([_C0, 0.0, 0.0, 0.01], [cap, 30.0, _BIG, 3.0]),
           (0, 1), _weibull_grid, None, 1 / 3),
    Family("ilog2", ("c", "a"), _ilog2,
           lambda cap: _b([_C0, 0.0], [cap, _BIG]),
           (0, 1), lambda u0: []),
)  # fmt: skip


def family(name: str) -> Family:
    """The family called ``name``; KeyError if there is none."""
    for fam in FAMILIES:
        if fam.name == name:
            return fam
    raise KeyError(name)


def _mesh(fam: Family, axes: list[tuple[int, _F]]) -> _F:
    mesh = np.meshgrid(*[v for _, v in axes], indexing="ij") if axes else []
    size = mesh[0].size if axes else 1
    out = np.zeros((size, fam.n_params))
    for (i, _), m in zip(axes, mesh, strict=True):
        out[:, i] = m.ravel()
    return fam.post(out) if fam.post is not None else out


def _project(fam: Family, u: _F, z: _F, w: _F, t: _F, lo: _F, hi: _F) -> tuple[_F, _F]:
    """Solve the linear parameters of every row of ``t`` (G, p); returns (t, rss (G,))."""
    with np.errstate(all="ignore"):
        t0 = t.copy()
        t0[:, list(fam.lin)] = 0.0
        offset = fam(u, t0)  # (G, n)
        cols = []
        for j in fam.lin:
            tj = t0.copy()
            tj[:, j] = 1.0
            cols.append(fam(u, tj) - offset)
        target = z[None, :] - offset
        nl = len(cols)
        gram = np.empty((t.shape[0], nl, nl))
        rhs = np.empty((t.shape[0], nl))
        for a in range(nl):
            cw = cols[a] * w
            rhs[:, a] = np.sum(cw * target, axis=1)
            for b in range(a, nl):
                gram[:, a, b] = gram[:, b, a] = np.sum(cw * cols[b], axis=1)
        gram += 1e-10 * np.eye(nl)
        try:
            coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
        except np.linalg.LinAlgError:
            coef = np.zeros((t.shape[0], nl))
    idx = list(fam.lin)
    t = t.copy()
    t[:, idx] = np.clip(np.nan_to_num(coef), lo[idx], hi[idx])
    rss = np.sum(w * (fam(u, t) - z) ** 2, axis=1)
    return t, np.where(np.isfinite(rss), rss, np.inf)


def grid_fit(
    fam: Family, u: _F, z: _F, cap: float, weights: _F | None = None, top: int = 1
) -> tuple[_F, _F]:
    """Fit ``fam`` by variable projection: exact weighted least squares in the linear
    parameters for every grid point of the others (clipped to the bounds), on a coarse grid
    first and then on the full-resolution grid around the best coarse point.

    Args:
        u, z: the data in canonical space, shape ``(n,)``.
        cap: the largest asymptote allowed (z units).
        weights: per-point weights, shape ``(n,)`` (None: all 1).
        top: how many of the best grid points to return.

    Returns:
        ``(thetas, rss)``: the ``top`` best parameter vectors, shape ``(top, p)``, and their
        weighted residual sums of squares, shape ``(top,)``, best first.
    """
    lo, hi = fam.bounds(cap)
    w = np.ones_like(z) if weights is None else weights
    axes = fam.grid(float(u[0]))
    steps = [max(1, len(v) // 8) for _, v in axes]
    coarse = [(i, v[s // 2 :: s]) for (i, v), s in zip(axes, steps, strict=True)]
    t, rss = _project(fam, u, z, w, np.clip(_mesh(fam, coarse), lo, hi), lo, hi)
    if axes:
        best = np.unravel_index(int(np.argmin(rss)), [len(v) for _, v in coarse])
        fine = []
        for (i, v), s, k in zip(axes, steps, best, strict=True):
            centre = s // 2 + int(k) * s
            fine.append((i, v[max(centre - s, 0) : centre + s + 1]))
        tf, rf = _project(fam, u, z, w, np.clip(_mesh(fam, fine), lo, hi), lo, hi)
        t, rss = np.concatenate([t, tf]), np.concatenate([rss, rf])
    order = np.argsort(rss, kind="stable")[:top]
    return t[order], rss[order]


def starts(fam: Family, u: _F, z: _F, cap: float, k: int = 2) -> _F:
    """The ``k`` best grid points of ``fam`` for data ``(u, z)``, shape ``(k, p)``."""
    return grid_fit(fam, u, z, cap, top=k)[0]


@dataclass(frozen=True)
class Fit:
    """A least-squares fit of one family in (u, z) space.

    Attributes:
        family: the fitted family.
        theta: best parameters, shape ``(p,)``.
        rss: residual sum of squares of the (weighted) data residuals.
        jac: Jacobian of the residuals at ``theta``, shape ``(n, p)``.
        ok: True when the optimiser returned finite parameters.
    """

    family: Family
    theta: _F
    rss: float
    jac: _F
    ok: bool


def fit(
    fam: Family,
    u: _F,
    z: _F,
    cap: float,
    *,
    loss: str = "linear",
    f_scale: float = 1.0,
    max_nfev: int = 60,
    n_starts: int = 2,
) -> Fit:
    """Bounded least squares of ``fam`` to ``z`` (shape ``(n,)``) at ``u`` (shape ``(n,)``).

    Tries up to ``n_starts`` starting points and keeps the lowest cost; never raises on bad data
    (a failed fit has ``ok=False`` and the best start as ``theta``).
    """
    from scipy.optimize import least_squares

    lo, hi = fam.bounds(cap)
    best: Fit | None = None
    for theta0 in starts(fam, u, z, cap, k=n_starts):

        def resid(t: _F) -> _F:
            return fam(u, t) - z

        try:
            with np.errstate(all="ignore"):
                res = least_squares(
                    resid, theta0, bounds=(lo, hi), loss=loss, f_scale=f_scale,
                    max_nfev=max_nfev, x_scale="jac", method="trf",
                )  # fmt: skip
            theta, jac = res.x, res.jac
            ok = bool(np.all(np.isfinite(theta)) and np.all(np.isfinite(jac)))
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            theta, jac, ok = theta0, np.zeros((u.size, theta0.size)), False
        r = resid(theta)
        rss = float(np.sum(r**2)) if np.all(np.isfinite(r)) else math.inf
        cand = Fit(fam, np.asarray(theta, dtype=np.float64), rss, np.asarray(jac), ok)
        if best is None or (cand.ok, -cand.rss) > (best.ok, -best.rss):
            best = cand
    if best is None:  # no start at all: unreachable with the built-in families
        raise ValueError(f"family {fam.name!r} has no starting point")
    return best
