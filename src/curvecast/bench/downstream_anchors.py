"""The anchors ``curvecast bench downstream`` compares :class:`DownstreamScaling` with.

Each takes the fitted models and the held-out ones (:class:`ModelTable`) and returns
``(median, lower, upper)`` of shape ``(m, B)``; ``lower``/``upper`` are None without an interval.

- :func:`loglinear`: per benchmark, a straight line in log10 compute through every fitted model
  (all families pooled), with its OLS 90% prediction interval, clipped to [0, 1].
- :func:`ruan`: Ruan et al. 2024's observational procedure: principal components of the
  benchmark scores (K = 3, missing scores imputed by the column mean), each component linear in
  log compute within a family (OLS per family with 2 or more fitted models; the mean family
  slope through its one point for a family with one; the pooled line for a family not fitted),
  and each benchmark a sigmoid of the components with its floor at chance, fitted by least
  squares.
- :func:`gadre`: where losses exist, Gadre et al.'s loss-to-error link: their over-training law
  predicts each held-out model's loss from the fitted ones of its data set, and
  ``Err(L) = eps - k exp(-gamma L)`` per benchmark and data set maps it to a score.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from scipy.optimize import least_squares

from curvecast.scaling.downstream_table import ModelTable

__all__ = ["gadre", "loglinear", "ruan"]

Pred = tuple[NDArray[np.float64], NDArray[np.float64] | None, NDArray[np.float64] | None]


def loglinear(fit: ModelTable, held: ModelTable, level: float = 0.9) -> Pred:
    """Per-benchmark OLS of score on log10 compute, with its prediction interval."""
    x = np.log10(np.asarray(fit.flops))
    xh = np.log10(np.asarray(held.flops))
    S = np.asarray(fit.scores)
    B = S.shape[1]
    med = np.full((xh.size, B), np.nan)
    lo = med.copy()
    hi = med.copy()
    for j in range(B):
        ok = np.isfinite(S[:, j])
        xs, ys = x[ok], S[ok, j]
        if xs.size < 3 or np.ptp(xs) == 0:
            med[:, j] = np.nanmean(ys) if ys.size else np.nan
            continue
        b, a = np.polyfit(xs, ys, 1)
        r = ys - (a + b * xs)
        s2 = float(r @ r) / (xs.size - 2)
        sxx = float(np.sum((xs - xs.mean()) ** 2))
        se = np.sqrt(s2 * (1 + 1 / xs.size + (xh - xs.mean()) ** 2 / sxx))
        t = stats.t.ppf(0.5 + level / 2, xs.size - 2)
        mu = a + b * xh
        med[:, j] = np.clip(mu, 0, 1)
        lo[:, j] = np.clip(mu - t * se, 0, 1)
        hi[:, j] = np.clip(mu + t * se, 0, 1)
    return med, lo, hi


def _family_lines(x: NDArray, fam: list[str], u: NDArray) -> tuple[dict[str, Any], float, float]:
    fams = list(dict.fromkeys(fam))
    f_arr = np.asarray(fam)
    lines: dict[str, tuple[float, float]] = {}
    slopes = []
    for f in fams:
        g = f_arr == f
        if g.sum() >= 2 and np.ptp(x[g]) > 0:
            b, a = np.polyfit(x[g], u[g], 1)
            lines[f] = (float(a), float(b))
            slopes.append(b)
    pb, pa = np.polyfit(x, u, 1)
    mean_b = float(np.mean(slopes)) if slopes else float(pb)
    for f in fams:
        if f not in lines:
            g = f_arr == f
            lines[f] = (float(np.mean(u[g] - mean_b * x[g])), mean_b)
    return lines, float(pa), float(pb)


def ruan(fit: ModelTable, held: ModelTable, chance: dict[str, float], K: int = 3) -> Pred:
    """Ruan et al.'s procedure (see the module docstring); point predictions only."""
    S = np.asarray(fit.scores)
    col = np.nanmean(S, axis=0)
    X = np.where(np.isfinite(S), S, col)
    mu = X.mean(axis=0)
    _, _, Vt = np.linalg.svd(X - mu, full_matrices=False)
    K = min(K, Vt.shape[0])
    V = Vt[:K].T
    U = (X - mu) @ V
    x = np.log10(np.asarray(fit.flops))
    xh = np.log10(np.asarray(held.flops))
    Uh = np.empty((xh.size, K))
    for k in range(K):
        lines, pa, pb = _family_lines(x, list(fit.family), U[:, k])
        for i, fam in enumerate(held.family):
            a, b = lines.get(fam, (pa, pb))
            Uh[i, k] = a + b * xh[i]
    med = np.empty((xh.size, S.shape[1]))
    for j, name in enumerate(fit.benchmarks):
        ok = np.isfinite(S[:, j])
        floor = chance.get(name, max(float(np.nanmin(S[:, j])) - 0.02, 0.0))

        def f(th: NDArray, UU: NDArray, floor: float = floor) -> NDArray:
            return np.asarray(
                floor + (1 - floor) / (1 + np.exp(-np.clip(UU @ th[:-1] + th[-1], -60, 60)))
            )

        def resid(th: NDArray, Uo: NDArray = U[ok], y: NDArray = S[ok, j]) -> NDArray:
            return f(th, Uo) - y

        res = least_squares(resid, np.zeros(K + 1), method="lm", max_nfev=4000)
        med[:, j] = f(res.x, Uh)
    return med, None, None


def gadre(fit: ModelTable, held: ModelTable) -> Pred | None:
    """Gadre et al.'s loss law and loss-to-error link, per data set (family); None without
    losses."""
    if fit.loss is None or held.loss is None:
        return None
    from curvecast.scaling import DownstreamLaw, OvertrainingLaw, Sweep

    S = np.asarray(fit.scores)
    med = np.full((len(held), S.shape[1]), np.nan)
    f_fit = np.asarray(fit.family)
    f_held = np.asarray(held.family)
    for fam in dict.fromkeys(held.family):
        g = f_fit == fam
        h = f_held == fam
        if g.sum() < 6:
            continue
        N = np.asarray(fit.params)[g]
        D = np.asarray(fit.tokens)[g]
        extra = {f"err_{j}": 1.0 - S[g, j] for j in range(S.shape[1])}
        sweep = Sweep(N=N, D=D, loss=np.asarray(fit.loss)[g], extra=extra)
        law = OvertrainingLaw(n_bootstrap=0).fit(sweep, rng=0)
        Nh = np.asarray(held.params)[h]
        Dh = np.asarray(held.tokens)[h]
        Lh = law.predict(N=Nh, D=Dh).point
        for j in range(S.shape[1]):
            if not np.isfinite(S[g, j]).all():
                continue
            link = DownstreamLaw(target=f"err_{j}", link="exp", n_bootstrap=0).fit(sweep, rng=0)
            med[h, j] = np.clip(1.0 - link.predict(loss=Lh).point, 0, 1)
    return med, None, None
