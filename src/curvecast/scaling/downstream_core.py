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

A family that is not in the table gets the mean family (``new_family="mean"``) or the line
through all fitted models (``"pooled"``). That is ``space="logit"``; ``space="raw"`` takes the
skills from the scores themselves (Ruan et al.) with a fitted sigmoid per benchmark,
``space="joint"`` fits one skill and every benchmark's sigmoid together in score space (Sloth's
form, :func:`_fit_joint`), ``space="ensemble"`` averages raw and joint on the logit scale.
Everything here is a pure function of arrays; shapes are in each docstring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Core", "fit_core", "from_unit", "predict_core", "to_unit"]

_EPS = 0.01  # logit clip: scores within 1% of the floor or ceiling count as there


def to_unit(
    S: NDArray[np.float64],
    floor: NDArray[np.float64],
    ceil: NDArray[np.float64],
    link: str = "logit",
) -> NDArray[np.float64]:
    """Scores ``(n, B)`` -> logits of the share of the floor-to-ceiling range; NaN stays NaN.
    ``link="identity"``: the scores themselves."""
    if link == "identity":
        return np.asarray(S, dtype=np.float64)
    p = np.clip((S - floor) / (ceil - floor), _EPS, 1.0 - _EPS)
    return np.asarray(np.log(p / (1.0 - p)))


def from_unit(
    Z: NDArray[np.float64],
    floor: NDArray[np.float64],
    ceil: NDArray[np.float64],
    link: str = "logit",
) -> NDArray[np.float64]:
    """The inverse of :func:`to_unit` (without the clip): logits ``(..., B)`` -> scores."""
    if link == "identity":
        return np.asarray(np.clip(Z, 0.0, ceil))
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
    pa: NDArray[np.float64]
    pb: NDArray[np.float64]
    new_family: str = "mean"


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
    x: NDArray[np.float64], u: NDArray[np.float64], groups: list[NDArray[np.intp]], shrink: bool
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
        slopes[multi] = _shrink(raw, var, b0) if shrink else raw
    a_raw = np.array([u[g].mean() - slopes[i] * x[g].mean() for i, g in enumerate(groups)])
    a_var = np.array([s2 / g.size for g in groups])
    a0 = float(np.mean(a_raw))
    return a0, b0, (_shrink(a_raw, a_var, a0) if shrink else a_raw), slopes, s2


def _sigmoid_maps(
    U: NDArray[np.float64],
    S: NDArray[np.float64],
    floor: NDArray[np.float64],
    ceil: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per benchmark, ``S[:, b] ~ floor + (ceil - floor) sigmoid(alpha_b + U @ w_b)`` by least
    squares on the observed scores; returns ``alpha`` (B,) and ``w`` (B, K)."""
    from scipy.optimize import least_squares

    n, K = U.shape
    B = S.shape[1]
    alpha = np.zeros(B)
    W = np.zeros((B, K))
    D = np.column_stack([np.ones(n), U])
    for b in range(B):
        ok = np.isfinite(S[:, b])
        y = S[ok, b]
        lo, rng = floor[b], ceil[b] - floor[b]
        z0 = np.log(
            np.clip((y - lo) / rng, _EPS, 1 - _EPS) / (1 - np.clip((y - lo) / rng, _EPS, 1 - _EPS))
        )
        th0 = np.linalg.lstsq(D[ok], z0, rcond=None)[0]

        def res(
            th: NDArray, Dk: NDArray = D[ok], y: NDArray = y, lo: float = lo, r: float = rng
        ) -> NDArray:
            return np.asarray(lo + r / (1 + np.exp(-np.clip(Dk @ th, -60, 60))) - y)

        th = least_squares(res, th0, method="lm", max_nfev=2000).x
        alpha[b], W[b] = th[0], th[1:]
    return alpha, W


def _fit_joint(
    x: NDArray[np.float64],
    fam_idx: NDArray[np.intp],
    n_fam: int,
    S: NDArray[np.float64],
    floor: NDArray[np.float64],
    ceil: NDArray[np.float64],
    u0: NDArray[np.float64],
    tau_slope: float = 0.3,
    tau_eff: float = 3.0,
    noise: float = 0.03,
) -> tuple[NDArray, NDArray, NDArray, NDArray, NDArray]:
    """One skill, fitted jointly in score space (Sloth's form): ``u = a_f + (1 + d_f)(x - xbar)``
    and ``S[:, b] ~ floor + (ceil - floor) sigmoid(alpha_b + w_b u)``, by least squares with
    Gaussian penalties on the family efficiency ``a_f`` (sd ``tau_eff``) and the family's slope
    deviation ``d_f`` (sd ``tau_slope``), in units of a score ``noise``. ``u0`` (n,) is the start.

    Returns ``a`` (F,), ``d`` (F,), ``alpha`` (B,), ``w`` (B,), ``xbar`` (1,).
    """
    from scipy.optimize import least_squares

    B = S.shape[1]
    xbar = float(x.mean())
    dx = x - xbar
    ok = np.isfinite(S)
    y = S[ok]
    rng_b = ceil - floor
    a_init = np.array(
        [
            np.mean(u0[fam_idx == f] - dx[fam_idx == f]) if np.any(fam_idx == f) else 0.0
            for f in range(n_fam)
        ]
    )
    u_init = a_init[fam_idx] + dx
    alpha0, w0 = _sigmoid_maps(u_init[:, None], S, floor, ceil)
    th0 = np.concatenate([a_init, np.zeros(n_fam), alpha0, w0[:, 0]])
    F = n_fam

    rows, cols = np.nonzero(ok)
    fi = fam_idx[rows]
    P = th0.size

    def parts(th: NDArray) -> tuple[NDArray, ...]:
        a, d, al, w = th[:F], th[F : 2 * F], th[2 * F : 2 * F + B], th[2 * F + B :]
        u = a[fam_idx] + (1.0 + d[fam_idx]) * dx
        z = np.clip(al[cols] + u[rows] * w[cols], -60, 60)
        sig = 1.0 / (1.0 + np.exp(-z))
        return a, d, w, u, sig

    def res(th: NDArray) -> NDArray:
        a, d, _, _, sig = parts(th)
        pred = floor[cols] + rng_b[cols] * sig
        return np.concatenate([(pred - y) / noise, d / tau_slope, (a - a.mean()) / tau_eff])

    def jac(th: NDArray) -> NDArray:
        _, _, w, u, sig = parts(th)
        g = rng_b[cols] * sig * (1.0 - sig) / noise
        m = rows.size
        J = np.zeros((m + 2 * F, P))
        r = np.arange(m)
        np.add.at(J, (r, fi), g * w[cols])
        np.add.at(J, (r, F + fi), g * w[cols] * dx[rows])
        J[r, 2 * F + cols] = g
        J[r, 2 * F + B + cols] = g * u[rows]
        J[m + np.arange(F), F + np.arange(F)] = 1.0 / tau_slope
        J[m + F : m + 2 * F, :F] = (np.eye(F) - 1.0 / F) / tau_eff
        return J

    th = least_squares(res, th0, jac=jac, method="trf", max_nfev=100, x_scale="jac").x
    return th[:F], th[F : 2 * F], th[2 * F : 2 * F + B], th[2 * F + B :], np.array([xbar])


def fit_core(
    x: NDArray[np.float64],
    family: list[str],
    Z: NDArray[np.float64],
    K: int,
    *,
    shrink: bool = True,
    offsets: bool = True,
    new_family: str = "mean",
    standardise: bool = True,
    space: str = "logit",
    S: NDArray[np.float64] | None = None,
    floor: NDArray[np.float64] | None = None,
    ceil: NDArray[np.float64] | None = None,
) -> Core:
    """Fit the core to logits ``Z`` (n, B; NaN = missing) at ``x = log10 C`` (n,).

    ``space="raw"``: the skills are the principal components of the scores ``S`` (n, B)
    themselves (as Ruan et al. take them), and each benchmark's logit is a line in the skills
    fitted through the sigmoid from ``floor`` to ``ceil`` (B,) by least squares.
    ``K`` is capped at ``B``. Needs ``n >= 2``.
    """
    n, B = Z.shape
    K = int(min(K, B))
    if space == "ensemble":
        kw = {"shrink": shrink, "offsets": offsets, "new_family": new_family, "S": S}
        parts = [
            fit_core(x, family, Z, K, space=sp, floor=floor, ceil=ceil, **kw)  # type: ignore[arg-type]
            for sp in ("raw", "joint")
        ]
        return _average(parts)
    if space in ("raw", "joint") and S is not None and floor is not None and ceil is not None:
        X = _impute(S, K)
        m_raw = X.mean(axis=0)
        _, _, Vt = np.linalg.svd(X - m_raw, full_matrices=False)
        U = (X - m_raw) @ Vt[:K].T
        U = U / np.maximum(U.std(axis=0), 1e-9)
        mu, V = _sigmoid_maps(U, S, floor, ceil)
        sd = np.ones(B)
        Xs = Z - mu
    else:
        X = _impute(Z, K)
        mu = X.mean(axis=0)
        sd = X.std(axis=0) if standardise else np.ones(B)
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
    pa = np.empty(K)
    pb = np.empty(K)
    for k in range(K):
        a0[k], b0[k], A[:, k], Bs[:, k], _ = _skill_lines(x, U[:, k], groups, shrink)
        pb[k], pa[k] = np.polyfit(x, U[:, k], 1)
    fit_idx = np.empty(n, dtype=np.intp)
    for i, g in enumerate(groups):
        fit_idx[g] = i
    if space == "joint" and S is not None and floor is not None and ceil is not None:
        u0 = A[fit_idx, 0] + Bs[fit_idx, 0] * x
        b = float(np.median(Bs[:, 0])) if np.median(Bs[:, 0]) != 0 else 1.0
        a_j, d_j, al, w, xb = _fit_joint(x, fit_idx, len(fams), S, floor, ceil, u0 / b)
        K = 1
        V = w[:, None]
        mu = al
        sd = np.ones(B)
        A = (a_j - (1.0 + d_j) * xb[0])[:, None]
        Bs = (1.0 + d_j)[:, None]
        Uf = A[fit_idx] + Bs[fit_idx] * x[:, None]
        a0 = np.array([float(np.mean(A[:, 0]))])
        b0 = np.array([1.0])
        pb_, pa_ = np.polyfit(x, Uf[:, 0], 1)
        pa, pb = np.array([pa_]), np.array([pb_])
        Xs = Z - mu
        offsets = False
    Uhat = A[fit_idx] + Bs[fit_idx] * x[:, None]
    R = np.where(np.isfinite(Z), Xs - Uhat @ V.T, np.nan)
    Rf = np.zeros((len(fams), B))
    for b in range(B if offsets else 0):
        ok = [i for i, g in enumerate(groups) if np.isfinite(R[g, b]).any()]
        if len(ok) < 2:
            continue
        means = np.array([np.nanmean(R[groups[i], b]) for i in ok])
        cnt = np.array([np.isfinite(R[groups[i], b]).sum() for i in ok])
        within = [R[groups[i], b] - means[j] for j, i in enumerate(ok)]
        res = np.concatenate([w[np.isfinite(w)] for w in within])
        s2 = max(float(np.sum(res**2)) / max(res.size - len(ok), 1), 1e-6)
        Rf[ok, b] = _shrink(means, s2 / cnt, 0.0) if shrink else means
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
        pa=pa,
        pb=pb,
        new_family=new_family,
    )


def _average(parts: list[Core]) -> Core:
    """The core whose logits are the mean of ``parts``' logits (their skills side by side)."""
    w = 1.0 / len(parts)
    cat = np.concatenate
    return Core(
        mu=w * sum(c.mu for c in parts),  # type: ignore[arg-type]
        sd=np.ones_like(parts[0].mu),
        V=cat([w * c.sd[:, None] * c.V for c in parts], axis=1),
        a0=cat([c.a0 for c in parts]),
        b0=cat([c.b0 for c in parts]),
        fam_a={f: cat([c.fam_a[f] for c in parts]) for f in parts[0].fam_a},
        fam_b={f: cat([c.fam_b[f] for c in parts]) for f in parts[0].fam_b},
        fam_r={f: np.asarray(w * sum(c.sd * c.fam_r[f] for c in parts)) for f in parts[0].fam_r},
        x_max=parts[0].x_max,
        pa=cat([c.pa for c in parts]),
        pb=cat([c.pb for c in parts]),
        new_family=parts[0].new_family,
    )


def predict_core(core: Core, x: NDArray[np.float64], family: Sequence[str | None]) -> NDArray:
    """Logits ``(m, B)`` at ``x`` (m,) for ``family`` (m; None or an unseen name: the mean
    family)."""
    out = np.empty((x.size, core.mu.size))
    for i, (xi, f) in enumerate(zip(x, family, strict=True)):
        if f is not None and f in core.fam_a:
            u = core.fam_a[f] + core.fam_b[f] * xi
            r = core.fam_r[f]
        elif core.new_family == "pooled":
            u = core.pa + core.pb * xi
            r = np.zeros(core.mu.size)
        else:
            u = core.a0 + core.b0 * xi
            r = np.zeros(core.mu.size)
        out[i] = core.mu + core.sd * (core.V @ u + r)
    return out
