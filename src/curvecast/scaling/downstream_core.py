"""The numerical core of :class:`~curvecast.scaling.DownstreamScaling`: skills from scores.

Scores are first put on a logit scale above their floor (chance) and below their ceiling,
``z = logit((s - floor) / (ceiling - floor))``, standardised per benchmark, and reduced to ``K``
capability dimensions (skills) by a principal-component analysis across every model (missing
scores imputed by iterating the rank-``K`` reconstruction). Each skill is then a straight line
in ``x = log10(compute)`` per family, ``u_k = a_{f,k} + b_{f,k} x``, with

- a shared slope ``b_k`` estimated from the variation *within* families (so that families that
  are simply better do not bend it), and each family's slope shrunk towards it;
- a family offset ``a_{f,k}`` (the family's efficiency, as in Sloth) shrunk towards the mean of
  the families by an empirical-Bayes weight ``tau^2 / (tau^2 + sigma^2 / n_f)``;
- a family-and-benchmark offset for what the ``K`` skills miss, shrunk towards 0 the same way.

A family that is not in the table gets the mean family. Everything here is a pure function of
arrays; shapes are in each docstring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Core", "fit_core", "from_unit", "predict_core", "to_unit"]

_EPS = 0.01  # logit clip: scores within 1% of the floor or ceiling count as there


def to_unit(
    S: NDArray[np.float64], floor: NDArray[np.float64], ceil: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Scores ``(n, B)`` -> logits of the share of the floor-to-ceiling range; NaN stays NaN."""
    p = np.clip((S - floor) / (ceil - floor), _EPS, 1.0 - _EPS)
    return np.asarray(np.log(p / (1.0 - p)))


def from_unit(
    Z: NDArray[np.float64], floor: NDArray[np.float64], ceil: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The inverse of :func:`to_unit` (without the clip): logits ``(..., B)`` -> scores."""
    return np.asarray(floor + (ceil - floor) / (1.0 + np.exp(-np.clip(Z, -60, 60))))


@dataclass(frozen=True)
class Core:
    """A fitted core: standardisation ``mu, sd`` (B,), loadings ``V`` (B, K), shared skill
    line ``a0, b0`` (K,), per-family skill lines ``fam_a, fam_b`` (family -> (K,)) and
    family-and-benchmark offsets ``fam_r`` (family -> (B,)), in standardised units."""

    mu: NDArray[np.float64]
    sd: NDArray[np.float64]
    V: NDArray[np.float64]
    a0: NDArray[np.float64]
    b0: NDArray[np.float64]
    fam_a: dict[str, NDArray[np.float64]]
    fam_b: dict[str, NDArray[np.float64]]
    fam_r: dict[str, NDArray[np.float64]]
    x_max: dict[str, float]


def _impute(Z: NDArray[np.float64], K: int, iters: int = 30) -> NDArray[np.float64]:
    miss = ~np.isfinite(Z)
    if not miss.any():
        return Z
    col = np.nanmean(Z, axis=0)
    col = np.where(np.isfinite(col), col, 0.0)
    X = np.where(miss, col[None, :], Z)
    for _ in range(iters):
        m = X.mean(axis=0)
        U, s, Vt = np.linalg.svd(X - m, full_matrices=False)
        R = m + (U[:, :K] * s[:K]) @ Vt[:K]
        X = np.where(miss, R, Z)
    return X


def _shrink(raw: NDArray[np.float64], var: NDArray[np.float64], centre: float) -> NDArray:
    """Empirical-Bayes shrinkage of ``raw`` (F,) with sampling variances ``var`` (F,)."""
    if raw.size < 2:  # one family: nothing to estimate the spread between families from
        return raw
    tau2 = max(float(np.var(raw) - np.mean(var)), 0.0)
    w = tau2 / (tau2 + var) if tau2 > 0 else np.zeros_like(raw)
    return np.asarray(centre + w * (raw - centre))


def _skill_lines(
    x: NDArray[np.float64], u: NDArray[np.float64], groups: list[NDArray[np.intp]]
) -> tuple[float, float, NDArray, NDArray, float]:
    """One skill ``u`` (n,) against ``x`` (n,) in families ``groups``: shared (a0, b0), shrunk
    family intercepts and slopes (F,), residual variance."""
    sxy = sxx = 0.0
    for g in groups:
        dx = x[g] - x[g].mean()
        sxy += float(dx @ (u[g] - u[g].mean()))
        sxx += float(dx @ dx)
    if sxx > 1e-9:
        b0 = sxy / sxx
    else:  # no family spans two computes: the slope across families is all there is
        b0 = float(np.polyfit(x, u, 1)[0]) if np.ptp(x) > 0 else 0.0
    sse = sum(float(np.sum((u[g] - u[g].mean() - b0 * (x[g] - x[g].mean())) ** 2)) for g in groups)
    dof = max(x.size - len(groups) - 1, 1)
    s2 = max(sse / dof, 1e-6)
    slopes = np.full(len(groups), b0)
    multi = [i for i, g in enumerate(groups) if g.size >= 2 and np.ptp(x[g]) > 1e-6]
    if len(multi) >= 2:
        raw = np.empty(len(multi))
        var = np.empty(len(multi))
        for j, i in enumerate(multi):
            g = groups[i]
            dx = x[g] - x[g].mean()
            raw[j] = float(dx @ (u[g] - u[g].mean())) / float(dx @ dx)
            var[j] = s2 / float(dx @ dx)
        slopes[multi] = _shrink(raw, var, b0)
    a_raw = np.array([u[g].mean() - slopes[i] * x[g].mean() for i, g in enumerate(groups)])
    a_var = np.array([s2 / g.size for g in groups])
    a0 = float(np.mean(a_raw))
    return a0, b0, _shrink(a_raw, a_var, a0), slopes, s2


def fit_core(
    x: NDArray[np.float64], family: list[str], Z: NDArray[np.float64], K: int
) -> Core:
    """Fit the core to logits ``Z`` (n, B; NaN = missing) at ``x = log10 C`` (n,).

    ``K`` is capped at ``B``. Needs ``n >= 2``.
    """
    n, B = Z.shape
    K = int(min(K, B))
    X = _impute(Z, K)
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    sd = np.where(sd > 1e-6, sd, 1.0)
    Xs = (X - mu) / sd
    _, _, Vt = np.linalg.svd(Xs, full_matrices=False)
    V = Vt[:K].T
    U = Xs @ V
    fams = list(dict.fromkeys(family))
    fam_arr = np.asarray(family)
    groups = [np.flatnonzero(fam_arr == f) for f in fams]
    a0 = np.empty(K)
    b0 = np.empty(K)
    A = np.empty((len(fams), K))
    Bs = np.empty((len(fams), K))
    for k in range(K):
        a0[k], b0[k], A[:, k], Bs[:, k], _ = _skill_lines(x, U[:, k], groups)
    fit_idx = np.empty(n, dtype=np.intp)
    for i, g in enumerate(groups):
        fit_idx[g] = i
    Uhat = A[fit_idx] + Bs[fit_idx] * x[:, None]
    R = np.where(np.isfinite(Z), Xs - Uhat @ V.T, np.nan)
    Rf = np.zeros((len(fams), B))
    for b in range(B):
        ok = [i for i, g in enumerate(groups) if np.isfinite(R[g, b]).any()]
        if len(ok) < 2:
            continue
        means = np.array([np.nanmean(R[groups[i], b]) for i in ok])
        cnt = np.array([np.isfinite(R[groups[i], b]).sum() for i in ok])
        within = [R[groups[i], b] - means[j] for j, i in enumerate(ok)]
        res = np.concatenate([w[np.isfinite(w)] for w in within])
        s2 = max(float(np.sum(res**2)) / max(res.size - len(ok), 1), 1e-6)
        Rf[ok, b] = _shrink(means, s2 / cnt, 0.0)
    return Core(
        mu=mu,
        sd=sd,
        V=V,
        a0=a0,
        b0=b0,
        fam_a={f: A[i] for i, f in enumerate(fams)},
        fam_b={f: Bs[i] for i, f in enumerate(fams)},
        fam_r={f: Rf[i] for i, f in enumerate(fams)},
        x_max={f: float(x[g].max()) for f, g in zip(fams, groups, strict=True)},
    )


def predict_core(core: Core, x: NDArray[np.float64], family: list[str | None]) -> NDArray:
    """Logits ``(m, B)`` at ``x`` (m,) for ``family`` (m; None or an unseen name: the mean
    family)."""
    out = np.empty((x.size, core.mu.size))
    for i, (xi, f) in enumerate(zip(x, family, strict=True)):
        if f is not None and f in core.fam_a:
            u = core.fam_a[f] + core.fam_b[f] * xi
            r = core.fam_r[f]
        else:
            u = core.a0 + core.b0 * xi
            r = np.zeros(core.mu.size)
        out[i] = core.mu + core.sd * (core.V @ u + r)
    return out
