"""The empirical-Bayes model of per-problem success rates, and its pass@k forecast.

Each problem ``i`` has an unknown success rate ``p_i``; its ``c_i`` correct out of ``n_i`` samples
are binomial. The rates are drawn from a population distribution ``g``: a point mass ``pi0`` at
``p = 0`` (problems the model never solves) plus a density on a grid of ``log10 p`` from
``grid_floor`` to 1 whose shape is ``p^a (1 - p)^(b - 1)`` in ``log10 p`` (a power law in ``p``
for small ``p``, as Schaeffer et al. 2025 found; a beta-like bend near 1). The three
hyperparameters ``(pi0, a, b)`` are fitted by maximising the marginal likelihood of the counts
with priors (``logit pi0 ~ N(0, 3^2)``, ``a ~ N(0, slope_scale^2)`` with ``slope_scale = 0.06``,
``log b ~ N(0, 2^2)``). The tight prior on ``a`` says "about as many problems per decade of
``p`` below the data as within it"; it was chosen on three of the five Large Language Monkeys
models (slope_scale 0.01 to 1 and grid_floor 1e-5 to 1e-8 tried; docs/sampling.md) and checked
on the other two (``curvecast bench sampling``). The level of the density below the data is
uncertain by a factor ``exp(N(0, tail_scale^2))`` in the bootstrap (``tail_scale = 0.5``, chosen
on the same three models; scripts/sampling_tried.py).

pass@k is the mean over problems of ``1 - E[(1 - p_i)^k | n_i, c_i]``. Its interval carries the
sampling of problems and of attempts: each bootstrap replicate refits ``g`` to a new
benchmark simulated from the fitted one (new problems' rates drawn from ``g``, their counts
binomial; the parametric bootstrap Efron recommends for g-modelling), then draws each observed
problem's rate from its posterior under the refitted ``g``. ``resample="problems"`` refits to
the observed problems resampled with replacement instead (the default before; it cannot vary
when every problem has the same counts, e.g. none solved, and then the interval collapses).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize

from curvecast.exceptions import InvalidParameterError, parameter_error
from curvecast.sampling._data import SampleCounts

__all__ = ["PassAtKForecast", "PassAtKModel", "RateDistribution", "SamplesNeeded"]

_STEP = 0.05  # grid spacing in log10 p
_NEEDED_K = np.unique(np.round(np.logspace(0, 8, 801)).astype(np.int64)).astype(np.float64)


def _ks(k: ArrayLike, owner: str) -> NDArray[np.float64]:
    arr = np.atleast_1d(np.asarray(k, dtype=np.float64)).reshape(-1)
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 1):
        raise parameter_error("k", owner, "one or more sample counts >= 1", k)
    return arr


@dataclass(frozen=True)
class RateDistribution:
    """The inferred population distribution of per-problem success rates.

    Attributes:
        p: the grid of rates, shape (``G``,), from ``grid_floor`` to just under 1.
        weights: probability of each grid rate, shape (``G``,); with ``zero_mass`` they sum to 1.
        zero_mass: probability that a problem is never solved (``p = 0``).
        a, b: the fitted shape: density ``p^a (1 - p)^(b - 1)`` in ``log10 p``.
    """

    p: NDArray[np.float64]
    weights: NDArray[np.float64]
    zero_mass: float
    a: float
    b: float

    def cdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """P(rate <= x), shape of ``x``."""
        xs = np.asarray(x, dtype=np.float64)
        cum = np.concatenate([[0.0], np.cumsum(self.weights)])
        idx = np.searchsorted(self.p, xs, side="right")
        return np.asarray(self.zero_mass + cum[idx], dtype=np.float64)

    def quantile(self, q: ArrayLike) -> NDArray[np.float64]:
        """The ``q`` quantile of the rate (0 where it falls in the point mass)."""
        qs = np.asarray(q, dtype=np.float64)
        cum = self.zero_mass + np.cumsum(self.weights)
        idx = np.minimum(np.searchsorted(cum, qs, side="left"), self.p.size - 1)
        return np.where(qs <= self.zero_mass, 0.0, self.p[idx])

    def pass_at_k(self, k: ArrayLike) -> NDArray[np.float64]:
        """pass@k of a new problem drawn from this distribution, shape (``K``,)."""
        ks = _ks(k, "RateDistribution.pass_at_k")
        fail = self.zero_mass + self.weights @ np.exp(np.outer(np.log1p(-self.p), ks))
        return np.asarray(1.0 - fail, dtype=np.float64)


@dataclass(frozen=True)
class PassAtKForecast:
    """Forecast pass@k at ``k``, as draws from its predictive distribution.

    Attributes:
        k: sample counts, shape (``K``,).
        draws: pass@k draws, shape (``B`` x ``K``) (``B = 1`` without bootstrap).
        point: the plug-in forecast (posterior mean under the fitted distribution), shape (``K``,).
        model: the model's name.
    """

    k: NDArray[np.float64]
    draws: NDArray[np.float64]
    point: NDArray[np.float64]
    model: str = ""

    def quantile(self, q: float | Sequence[float]) -> NDArray[np.float64]:
        """Quantiles of pass@k: shape (``K``,) for a float ``q``, (``Q`` x ``K``) for a list;
        non-decreasing in ``q``."""
        return np.asarray(np.quantile(self.draws, q, axis=0), dtype=np.float64)

    @property
    def median(self) -> NDArray[np.float64]:
        """The forecast pass@k, shape (``K``,)."""
        return self.quantile(0.5)

    def interval(self, level: float = 0.9) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The central ``level`` interval: ``(lower, upper)``, each shape (``K``,)."""
        if not 0.0 < level < 1.0:
            raise parameter_error("level", "PassAtKForecast.interval", "a float in (0, 1)", level)
        lo, hi = self.quantile([(1 - level) / 2, (1 + level) / 2])
        return lo, hi

    def to_json(self, level: float = 0.9) -> dict[str, object]:
        """The CLI's JSON object: model, k, median, lower, upper, level."""
        lo, hi = self.interval(level)
        return {
            "model": self.model,
            "k": [int(x) if float(x).is_integer() else float(x) for x in self.k],
            "median": [round(float(x), 6) for x in self.median],
            "lower": [round(float(x), 6) for x in lo],
            "upper": [round(float(x), 6) for x in hi],
            "level": level,
        }


@dataclass(frozen=True)
class SamplesNeeded:
    """Samples per problem needed for pass@k to reach ``target``.

    Attributes:
        target: the coverage asked for.
        median, lower, upper: the forecast k and its interval (``inf``: not reached by 1e8).
        level: the interval's level.
        draws: k per bootstrap replicate, shape (``B``,).
    """

    target: float
    median: float
    lower: float
    upper: float
    level: float
    draws: NDArray[np.float64]


def _crossing(curves: NDArray[np.float64], target: float) -> NDArray[np.float64]:
    """First k on ``_NEEDED_K`` where each row of ``curves`` (``B`` x ``len(_NEEDED_K)``)
    reaches ``target``, interpolated in log k; ``inf`` where it never does."""
    out = np.full(curves.shape[0], np.inf)
    hit = curves >= target
    for b in range(curves.shape[0]):
        j = int(np.argmax(hit[b]))
        if not hit[b, j]:
            continue
        if j == 0:
            out[b] = _NEEDED_K[0]
            continue
        y0, y1 = curves[b, j - 1], curves[b, j]
        t = 0.0 if y1 == y0 else (target - y0) / (y1 - y0)
        lk = math.log(_NEEDED_K[j - 1]) + t * (math.log(_NEEDED_K[j]) - math.log(_NEEDED_K[j - 1]))
        out[b] = math.exp(lk)
    return out


class PassAtKModel:
    """Forecast pass@k from the first samples of each problem, with calibrated intervals.

    Args:
        n_bootstrap: bootstrap replicates for the intervals (0: the plug-in forecast only, no
            interval).
        grid_floor: the smallest nonzero rate on the grid; rates below it act as 0 for any
            ``k`` well under ``1 / grid_floor``.
        slope_scale: prior standard deviation of the power-law slope ``a`` (smaller: closer to
            ``slope_center``).
        slope_center: prior mean of ``a`` (0: as many problems per decade of p below the
            data as within it; negative: more).
        population: the interval's scope. False (default): pass@k of *these* problems; each
            bootstrap replicate refits the rate distribution (see ``resample``) and each
            problem's rate is drawn from its posterior (the sampling of attempts).
            True: pass@k of the benchmark the problems were drawn from, so the problems
            themselves are resampled too (wider).
        tail_scale: how unsure the interval is of the density's level below the smallest
            rate the samples resolve (``1 / max n``), which no count informs: each bootstrap
            replicate scales the density there by ``exp(N(0, tail_scale^2))`` and refits
            (0: the fitted shape is trusted; the plug-in ``point`` never uses it).
        resample: what each bootstrap replicate refits ``g`` to. ``"model"`` (default): a
            simulated benchmark of as many problems, rates drawn from the fitted ``g``, the
            samples per problem of observed problems drawn at random, outcomes binomial.
            ``"problems"``: the observed problems resampled with replacement (degenerate when
            all problems have the same counts, e.g. none solved).

    Example:
        >>> import numpy as np
        >>> from curvecast.sampling import PassAtKModel, SampleCounts
        >>> rng = np.random.default_rng(0)
        >>> p = np.where(rng.random(200) < 0.5, 0.0, 10 ** rng.uniform(-4, 0, 200))
        >>> counts = SampleCounts(n=np.full(200, 100), c=rng.binomial(100, p))
        >>> fc = PassAtKModel(n_bootstrap=50).fit(counts, rng=0).forecast([100, 10_000])
        >>> lo, hi = fc.interval(0.9)
        >>> bool(np.all(lo <= fc.median) and np.all(fc.median <= hi))
        True
    """

    def __init__(
        self,
        *,
        n_bootstrap: int = 200,
        grid_floor: float = 1e-7,
        slope_scale: float = 0.06,
        slope_center: float = 0.0,
        population: bool = False,
        tail_scale: float = 0.5,
        resample: str = "model",
    ) -> None:
        if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int | np.integer):
            raise parameter_error("n_bootstrap", "PassAtKModel", "an integer >= 0", n_bootstrap)
        if n_bootstrap < 0:
            raise parameter_error("n_bootstrap", "PassAtKModel", "an integer >= 0", n_bootstrap)
        if not (isinstance(grid_floor, int | float) and 0 < grid_floor < 0.1):
            raise parameter_error("grid_floor", "PassAtKModel", "a float in (0, 0.1)", grid_floor)
        if not (isinstance(slope_scale, int | float) and slope_scale > 0):
            raise parameter_error("slope_scale", "PassAtKModel", "a float > 0", slope_scale)
        self.n_bootstrap = int(n_bootstrap)
        self.grid_floor = float(grid_floor)
        self.slope_scale = float(slope_scale)
        if not (isinstance(slope_center, int | float) and math.isfinite(slope_center)):
            raise parameter_error("slope_center", "PassAtKModel", "a finite float", slope_center)
        self.slope_center = float(slope_center)
        self.population = bool(population)
        if not (isinstance(tail_scale, int | float) and 0 <= tail_scale <= 5):
            raise parameter_error("tail_scale", "PassAtKModel", "a float in [0, 5]", tail_scale)
        self.tail_scale = float(tail_scale)
        if resample not in ("model", "problems"):
            raise parameter_error("resample", "PassAtKModel", "'model' or 'problems'", resample)
        self.resample = resample
        u = np.arange(math.log10(self.grid_floor), _STEP / 2, _STEP)
        u[-1] = 0.0
        p = 10.0**u
        p[-1] = 1.0 - 1e-9
        self._p = p
        self._lp = np.log(p)
        self._l1p = np.log1p(-p)
        self._counts: SampleCounts | None = None

    # -- fitting ---------------------------------------------------------------------------
    def _weights(
        self, t: NDArray[np.float64], step: NDArray[np.float64] | None = None
    ) -> tuple[float, NDArray[np.float64]]:
        lw = t[1] * self._lp + (math.exp(float(np.clip(t[2], -20, 20))) - 1.0) * self._l1p
        if step is not None:
            lw = lw + step
        lw = lw - lw.max()
        w = np.exp(lw)
        w /= w.sum()
        pi0 = 1.0 / (1.0 + math.exp(-float(np.clip(t[0], -50, 50))))
        return pi0, w

    def _design(
        self, n: NDArray[np.int64], c: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Scaled likelihoods: ``E`` (rows x G) on the grid and ``z`` (rows,) at p = 0."""
        L = c[:, None] * self._lp[None, :] + (n - c)[:, None] * self._l1p[None, :]
        # L <= 0, and a problem with c = 0 has likelihood 1 at p = 0: scale its row by 1
        lmax = np.where(c == 0, 0.0, L.max(axis=1))
        E = np.exp(L - lmax[:, None])
        z = (c == 0).astype(np.float64)
        return E, z

    def _nll(
        self,
        t: NDArray[np.float64],
        E: NDArray[np.float64],
        z: NDArray[np.float64],
        wts: NDArray[np.float64],
        step: NDArray[np.float64] | None = None,
    ) -> tuple[float, NDArray[np.float64]]:
        """Negative log posterior of the hyperparameters ``t`` (3,) and its gradient (3,)."""
        sa, a0 = self.slope_scale, self.slope_center
        lp, l1p = self._lp, self._l1p
        pi0, w = self._weights(t, step)
        b = math.exp(float(np.clip(t[2], -20, 20)))
        s = E @ w
        lik = (1.0 - pi0) * s + pi0 * z + 1e-300
        r = wts / lik
        # d s / d a and d s / d log b through the normalised weights
        ds_a = E @ (w * lp) - s * float(w @ lp)
        ds_b = b * (E @ (w * l1p) - s * float(w @ l1p))
        grad = -np.array(
            [
                float(r @ (z - s)) * pi0 * (1.0 - pi0),
                (1.0 - pi0) * float(r @ ds_a),
                (1.0 - pi0) * float(r @ ds_b),
            ]
        )
        val = -float(wts @ np.log(lik))
        val += 0.5 * ((t[0] / 3.0) ** 2 + ((t[1] - a0) / sa) ** 2 + (t[2] / 2.0) ** 2)
        grad += np.array([t[0] / 9.0, (t[1] - a0) / sa**2, t[2] / 4.0])
        return val, grad

    def _fit_t(
        self,
        E: NDArray[np.float64],
        z: NDArray[np.float64],
        wts: NDArray[np.float64],
        start: NDArray[np.float64],
        maxiter: int,
        step: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        def nll(t: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            return self._nll(t, E, z, wts, step)

        res = minimize(
            nll,
            start,
            jac=True,
            method="BFGS",  # L-BFGS-B's Fortran step costs ~10 ms a call here; BFGS is pure numpy
            options={"maxiter": maxiter, "gtol": 1e-4},
        )
        return np.asarray(res.x, dtype=np.float64)

    def _posterior(
        self,
        E: NDArray[np.float64],
        z: NDArray[np.float64],
        t: NDArray[np.float64],
        step: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        """Posterior over [p = 0, grid...] per row, shape (rows x (1 + G)); ``step``, shape
        (G,), is added to the log density (None: nothing)."""
        pi0, w = self._weights(t, step)
        R = np.hstack([(pi0 * z)[:, None], (1.0 - pi0) * E * w[None, :]])
        R /= R.sum(axis=1, keepdims=True)
        return R

    def fit(
        self, counts: SampleCounts | ArrayLike, rng: int | np.random.Generator | None = None
    ) -> PassAtKModel:
        """Fit the rate distribution and draw the bootstrap replicates.

        Args:
            counts: a :class:`SampleCounts`, or per-sample outcomes (``n_problems`` x
                ``n_samples`` of 0/1, NaN for not drawn).
            rng: seed or generator for the bootstrap (same rng, same answer).

        Returns:
            ``self``.

        Raises:
            InvalidParameterError: unusable counts or outcomes (see :class:`SampleCounts`).
        """
        sc = counts if isinstance(counts, SampleCounts) else SampleCounts.from_outcomes(counts)
        gen = np.random.default_rng(rng)
        nu, cu, wu = sc.unique()
        E, z = self._design(nu, cu)
        t = self._fit_t(E, z, wu.astype(np.float64), np.zeros(3), 2000)
        self._counts = sc
        self._n = sc.n
        self._n_max = float(sc.n.max())
        self._t = t
        self._E, self._z = E, z
        pi0, w = self._weights(t)
        self.rates = RateDistribution(
            p=self._p.copy(), weights=(1.0 - pi0) * w, zero_mass=pi0, a=float(t[1]),
            b=float(math.exp(t[2])),
        )  # fmt: skip
        # row of sc -> row of the unique table
        pairs = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(nu, cu, strict=True))}
        self._row = np.array([pairs[(int(a), int(b))] for a, b in zip(sc.n, sc.c, strict=True)])
        self._post = self._posterior(E, z, t)  # unique rows x (1 + G)
        self._draws = self._bootstrap(gen)
        return self

    def _bootstrap(self, gen: np.random.Generator) -> NDArray[np.float64]:
        """Rates drawn per replicate and problem, shape (``B`` x ``n_problems``)."""
        n_prob = self._row.size
        if self.n_bootstrap == 0:
            return np.empty((0, n_prob))
        pgrid = np.concatenate([[0.0], self._p])
        out = np.empty((self.n_bootstrap, n_prob))
        n_unique = self._E.shape[0]
        # below the smallest rate the samples resolve (1 / the most samples of a problem) the
        # level of the density is a guess: each replicate scales it by exp(N(0, tail_scale^2))
        # and refits, so that the interval carries the guess
        below = (self._p < 1.0 / self._n_max).astype(np.float64)
        levels = gen.normal(0.0, self.tail_scale, self.n_bootstrap) if self.tail_scale else None
        g = np.concatenate([[self.rates.zero_mass], self.rates.weights])
        g /= g.sum()
        for b in range(self.n_bootstrap):
            pick = gen.integers(0, n_prob, n_prob)
            wts = np.bincount(self._row[pick], minlength=n_unique).astype(np.float64)
            step = None if levels is None else levels[b] * below
            if self.resample == "model":
                # parametric: new problems drawn from the fitted g, each with the samples of a
                # problem drawn at random, and new attempts (binomial); refit on them
                rate = pgrid[gen.choice(pgrid.size, n_prob, p=g)]
                ns = self._n[pick]
                nu, cu, wu = SampleCounts(ns, gen.binomial(ns, rate)).unique()
                E_sim, z_sim = self._design(nu, cu)
                tb = self._fit_t(E_sim, z_sim, wu.astype(np.float64), self._t, 400, step)
            else:
                tb = self._fit_t(self._E, self._z, wts, self._t, 400, step)
            rows = self._row[pick] if self.population else self._row
            R = self._posterior(self._E, self._z, tb, step)[rows]
            cum = np.cumsum(R, axis=1)
            j = (cum < gen.random(n_prob)[:, None] * cum[:, -1:]).sum(axis=1)
            j = np.minimum(j, pgrid.size - 1)
            # spread within the grid cell so that draws are not stuck on grid points
            jitter = 10.0 ** (gen.uniform(-_STEP / 2, _STEP / 2, n_prob))
            out[b] = np.where(j == 0, 0.0, np.minimum(pgrid[j] * jitter, 1.0 - 1e-9))
        return out

    def _check_fitted(self, what: str) -> SampleCounts:
        if self._counts is None:
            raise InvalidParameterError(
                f"PassAtKModel.{what} needs a fitted model. Call .fit(counts) first."
            )
        return self._counts

    # -- answers ---------------------------------------------------------------------------
    def _point(self, ks: NDArray[np.float64]) -> NDArray[np.float64]:
        pgrid = np.concatenate([[0.0], self._p])
        F = 1.0 - np.exp(np.outer(np.log1p(-np.minimum(pgrid, 1 - 1e-12)), ks))
        return np.asarray((self._post @ F)[self._row].mean(axis=0), dtype=np.float64)

    def _curves(self, ks: NDArray[np.float64]) -> NDArray[np.float64]:
        if self._draws.shape[0] == 0:
            return self._point(ks)[None, :]
        out = np.empty((self._draws.shape[0], ks.size))
        l1p = np.log1p(-self._draws)
        for j, k in enumerate(ks):  # one k at a time keeps memory at B x n_problems
            out[:, j] = 1.0 - np.exp(l1p * k).mean(axis=1)
        return out

    def forecast(self, k: ArrayLike) -> PassAtKForecast:
        """Forecast pass@k at each ``k`` (samples per problem), shape (``K``,).

        Raises:
            InvalidParameterError: the model is not fitted, or a ``k`` below 1.
        """
        sc = self._check_fitted("forecast")
        ks = _ks(k, "PassAtKModel.forecast")
        return PassAtKForecast(k=ks, draws=self._curves(ks), point=self._point(ks), model=sc.model)

    def samples_needed(self, target: float, level: float = 0.9) -> SamplesNeeded:
        """Samples per problem at which pass@k reaches ``target``, with a ``level`` interval.

        ``inf`` where the forecast never reaches the target by k = 1e8 (the problems left are
        forecast unsolvable).

        Raises:
            InvalidParameterError: a target outside (0, 1), a level outside (0, 1), or the
                model is not fitted.
        """
        self._check_fitted("samples_needed")
        if not (isinstance(target, int | float) and 0.0 < target < 1.0):
            raise parameter_error("target", "PassAtKModel.samples_needed", "in (0, 1)", target)
        if not 0.0 < level < 1.0:
            raise parameter_error("level", "PassAtKModel.samples_needed", "in (0, 1)", level)
        draws = _crossing(self._curves(_NEEDED_K), float(target))
        point = float(_crossing(self._point(_NEEDED_K)[None, :], float(target))[0])
        # order statistics (no interpolation) so that "never" (inf) stays inf, not NaN
        qs = [(1 - level) / 2, 0.5, (1 + level) / 2]
        lo, med, hi = np.quantile(draws, qs, method="inverted_cdf")
        if draws.size == 1:
            med = point
        return SamplesNeeded(float(target), float(med), float(lo), float(hi), level, draws)

    def problem_variance(self, k: float) -> NDArray[np.float64]:
        """Posterior variance of each problem's ``1 - (1 - p_i)^k``, shape (``n_problems``,):
        how much one more sample of problem ``i`` could still move the forecast at ``k``."""
        self._check_fitted("problem_variance")
        pgrid = np.concatenate([[0.0], self._p])
        f = 1.0 - np.exp(np.log1p(-np.minimum(pgrid, 1 - 1e-12)) * float(k))
        m1 = self._post @ f
        m2 = self._post @ (f * f)
        return np.asarray(np.maximum(m2 - m1 * m1, 0.0)[self._row], dtype=np.float64)
