"""Robust fitting of sum-of-power-law losses on log scale, with many restarts and a bootstrap.

Every law here predicts ``log L = logsumexp_k t_k(theta, X)`` where each term ``t_k`` is linear in
the parameters (``E = exp(e)``, ``A / N^alpha = exp(a - alpha log N)``, ...). The objective is
Hoffmann et al.'s approach 3: the Huber loss (``delta = 1e-3``) of the log-residual, summed over
runs, minimised by L-BFGS-B from the best of many starting points (a random design scored in one
vectorised pass, the best few polished). The bootstrap refits on runs drawn with replacement,
starting from the full-data optimum (one polish per replicate; the N, D laws add a second from
a jittered start, see ``TermLaw._refit``), which keeps a 200-run fit with 200 replicates to a
few seconds on one core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

__all__ = ["TermModel", "bootstrap_indices", "fit_terms", "huber", "single_thread"]


@contextmanager
def single_thread() -> Iterator[None]:
    """BLAS/LAPACK on one thread for the block, when ``threadpoolctl`` is installed.

    L-BFGS-B factorises a tiny matrix with LAPACK at every step; with a multi-threaded BLAS
    each call wakes its threads, which on a busy machine made a 48-run fit 15x slower in CPU
    time (and 15x in wall time). the ``scaling`` extra brings threadpoolctl.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        ctx = nullcontext()
    else:
        ctx = threadpool_limits(1)
    with ctx:
        yield


#: terms(theta (P,), X (n, F)) -> (t (n, K), dt/dtheta (n, K, P))
TermFn = Callable[[NDArray[np.float64], NDArray[np.float64]], tuple[NDArray, NDArray]]
#: batch_terms(thetas (S, P), X (n, F)) -> t (S, n, K)
BatchTermFn = Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]]


@dataclass(frozen=True)
class TermModel:
    """A law as a set of log-linear terms, with bounds and a box to draw starting points from."""

    terms: TermFn
    batch_terms: BatchTermFn
    bounds: tuple[tuple[float, float], ...]
    start_box: tuple[tuple[float, float], ...]


def huber(r: NDArray[np.float64], delta: float) -> tuple[NDArray[np.float64], NDArray]:
    """Huber loss of ``r`` and its derivative, elementwise (same shape as ``r``)."""
    a = np.abs(r)
    quad = a <= delta
    val = np.where(quad, 0.5 * r * r, delta * (a - 0.5 * delta))
    grad = np.where(quad, r, delta * np.sign(r))
    return val, grad


def _logsumexp_rows(t: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray]:
    m = t.max(axis=-1, keepdims=True)
    e = np.exp(t - m)
    s = e.sum(axis=-1, keepdims=True)
    return (m + np.log(s))[..., 0], e / s


def _objective(
    theta: NDArray[np.float64],
    model: TermModel,
    X: NDArray[np.float64],
    y: NDArray[np.float64],
    w: NDArray[np.float64],
    delta: float,
) -> tuple[float, NDArray[np.float64]]:
    t, dt = model.terms(theta, X)
    pred, soft = _logsumexp_rows(t)
    val, g = huber(pred - y, delta)
    # d pred / d theta = sum_k soft_k dt_k / dtheta; elementwise on purpose: a BLAS call on
    # arrays this small costs more in thread wake-ups than it saves
    wg = w * g
    grad = (wg[:, None, None] * soft[:, :, None] * dt).sum(axis=(0, 1))
    scale = 1.0 / max(float(w.sum()), 1.0)
    return float((w * val).sum() * scale), grad * scale


def _polish(
    theta0: NDArray[np.float64],
    model: TermModel,
    X: NDArray[np.float64],
    y: NDArray[np.float64],
    w: NDArray[np.float64],
    delta: float,
    maxiter: int,
) -> tuple[NDArray[np.float64], float]:
    res = minimize(
        _objective,
        theta0,
        args=(model, X, y, w, delta),
        jac=True,
        method="L-BFGS-B",
        bounds=model.bounds,
        options={"maxiter": maxiter, "ftol": 1e-12, "gtol": 1e-9},
    )
    return np.asarray(res.x, dtype=np.float64), float(res.fun)


def fit_terms(
    model: TermModel,
    X: NDArray[np.float64],
    y: NDArray[np.float64],
    *,
    delta: float,
    n_starts: int,
    n_polish: int,
    rng: np.random.Generator,
    weights: NDArray[np.float64] | None = None,
    maxiter: int = 500,
) -> tuple[NDArray[np.float64], float]:
    """Best parameters (P,) and objective over ``n_starts`` random starts, ``n_polish`` polished.

    ``X`` has shape ``(n, F)`` (log inputs), ``y`` shape ``(n,)`` (log loss).
    """
    w = np.ones_like(y) if weights is None else weights
    lo = np.array([b[0] for b in model.start_box])
    hi = np.array([b[1] for b in model.start_box])
    starts = lo + (hi - lo) * rng.random((n_starts, lo.size))
    scores = np.empty(n_starts)
    chunk = max(1, 2_000_000 // max(1, y.size * 4))
    for i in range(0, n_starts, chunk):
        t = model.batch_terms(starts[i : i + chunk], X)
        pred, _ = _logsumexp_rows(t)
        hub, _ = huber(pred - y[None, :], delta)
        scores[i : i + chunk] = (hub * w[None, :]).sum(axis=1)
    best_theta, best_val = starts[0], np.inf
    for j in np.argsort(scores)[:n_polish]:
        theta, val = _polish(starts[j], model, X, y, w, delta, maxiter)
        if val < best_val:
            best_theta, best_val = theta, val
    return best_theta, best_val


def refit(
    theta0: NDArray[np.float64],
    model: TermModel,
    X: NDArray[np.float64],
    y: NDArray[np.float64],
    weights: NDArray[np.float64],
    *,
    delta: float,
    maxiter: int = 300,
) -> NDArray[np.float64]:
    """One polish from ``theta0`` with run weights (bootstrap counts), shape ``(P,)``."""
    return _polish(theta0, model, X, y, weights, delta, maxiter)[0]


def bootstrap_indices(
    n: int, clusters: NDArray[np.int64] | None, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Bootstrap weights (counts) per run, shape ``(n,)``: runs, or whole clusters, resampled."""
    if clusters is None:
        return np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
    k = int(clusters.max()) + 1
    picks = np.bincount(rng.integers(0, k, k), minlength=k).astype(np.float64)
    return picks[clusters]
