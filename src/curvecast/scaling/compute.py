"""Laws of compute alone: the frontier ``L(C)`` with ``N*(C)``, and the plain log-log line.

:class:`ComputeLaw` is Hoffmann et al.'s approach 2 (the procedure Porian et al. follow on
iso-FLOP sweeps): group the runs by compute budget, find each budget's minimum-loss model size
(a parabola in ``log N`` through the budget's runs, else its best run), fit a power law through
those minima, ``N*(C) = k C^a``, and fit ``L*(C) = E + A / C^gamma`` to the minimum losses with
Huber-on-log. Its bootstrap resamples runs and redoes all of it.

:class:`LogLinearLaw` is the baseline everyone draws first: a straight line in log-log axes,
``log L = c0 + c1 log C`` (or in ``log N``, ``log D``), least squares, with the textbook
prediction interval.

>>> import numpy as np
>>> from curvecast.scaling import LogLinearLaw, Sweep
>>> C = np.logspace(17, 20, 8)
>>> s = Sweep(N=np.sqrt(C / 120), D=np.sqrt(C * 20 / 6), loss=8 * C**-0.05)
>>> round(float(LogLinearLaw().fit(s).predict(C=1e21).point[0]), 3)
0.713
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from curvecast.exceptions import InvalidParameterError, parameter_error
from curvecast.forecast._result import DEFAULT_LEVELS, as_rng, check_levels
from curvecast.scaling._base import ScalingLaw, TermLaw, _positive_array, check_loss_range
from curvecast.scaling._fit import TermModel, bootstrap_indices, fit_terms, refit, single_thread
from curvecast.scaling._result import OptimalSplit, ScalingForecast
from curvecast.scaling.laws import resolve_nd
from curvecast.scaling.sweep import Sweep

__all__ = ["ComputeLaw", "LogLinearLaw", "frontier_points"]


def _budget_labels(C: NDArray[np.float64], bins_per_decade: float) -> NDArray[np.int64]:
    """Budget id per run: distinct budgets when the sweep is iso-FLOP, else log-C bins."""
    logc = np.log10(C)
    rounded = np.round(logc, 2)
    uniq, inv = np.unique(rounded, return_inverse=True)
    if uniq.size <= max(2, C.size // 3):
        return inv.astype(np.int64)
    _, inv = np.unique(np.floor(logc * bins_per_decade), return_inverse=True)
    return inv.astype(np.int64)


def frontier_points(
    sweep: Sweep,
    *,
    bins_per_decade: float = 4.0,
    weights: NDArray[np.float64] | None = None,
    window: float = 1.0,
) -> tuple[NDArray, NDArray, NDArray]:
    """Per compute budget: ``(C, N*, L*)``, each shape ``(B,)``, sorted by C.

    A budget's optimum is the vertex of a least-squares parabola of log loss in ``log N``
    through the runs within ``window`` (natural-log units: a factor e) of its best run, when
    3 or more sizes are there, the parabola is convex and its vertex lies among them; otherwise
    its best run. Far-off sizes are left out because iso-FLOP curves are not parabolas far from
    their minimum. ``weights`` (bootstrap counts, shape ``(n_runs,)``) drop runs with weight 0
    and weight the parabola.
    """
    w = np.ones(len(sweep)) if weights is None else np.asarray(weights, dtype=np.float64)
    labels = _budget_labels(sweep.C, bins_per_decade)
    out_c, out_n, out_l = [], [], []
    for b in np.unique(labels):
        idx = np.flatnonzero((labels == b) & (w > 0))
        if idx.size == 0:
            continue
        x, y, ww = np.log(sweep.N[idx]), np.log(sweep.loss[idx]), w[idx]
        best = int(np.argmin(y))
        c_b = float(np.exp(np.average(np.log(sweep.C[idx]), weights=ww)))
        n_star, l_star = float(x[best]), float(y[best])
        near = np.abs(x - x[best]) <= window
        if np.unique(np.round(x[near], 4)).size >= 3:
            xs, ys = x[near], y[near]
            c2, c1, c0 = np.polyfit(xs, ys, 2, w=np.sqrt(ww[near]))
            if c2 > 0:
                xv = -c1 / (2 * c2)
                if xs.min() <= xv <= xs.max():
                    n_star, l_star = xv, float(c0 + c1 * xv + c2 * xv * xv)
        out_c.append(c_b)
        out_n.append(np.exp(n_star))
        out_l.append(np.exp(l_star))
    order = np.argsort(out_c)
    return np.array(out_c)[order], np.array(out_n)[order], np.array(out_l)[order]


def _compute_model() -> TermModel:
    def terms(theta: NDArray, X: NDArray) -> tuple[NDArray, NDArray]:
        e, a, g = theta
        n = X.shape[0]
        t = np.column_stack([np.full(n, e), a - g * X[:, 0]])
        dt = np.zeros((n, 2, 3))
        dt[:, 0, 0] = 1.0
        dt[:, 1, 1] = 1.0
        dt[:, 1, 2] = -X[:, 0]
        return t, dt

    def batch(thetas: NDArray, X: NDArray) -> NDArray:
        e, a, g = (thetas[:, i : i + 1] for i in range(3))
        return np.stack(
            [np.broadcast_to(e, (e.shape[0], X.shape[0])), a - g * X[None, :, 0]], axis=-1
        )

    return TermModel(
        terms=terms,
        batch_terms=batch,
        bounds=((-8.0, 4.0), (-20.0, 80.0), (0.005, 3.0)),
        start_box=((-1.5, 1.5), (0.0, 20.0), (0.01, 0.6)),
    )


class ComputeLaw(TermLaw):
    """The compute frontier: ``L*(C) = E + A / C^gamma`` and ``N*(C) = k C^a`` (approach 2).

    ``predict(C=...)`` gives the loss of a compute-optimal run; :meth:`optimal` gives N*, D*.
    It is fitted to the sweep's per-budget minima (:func:`frontier_points`), so the runs off the
    frontier (over-trained models) are not what it predicts.

    Raises:
        InvalidParameterError: at fit, fewer than 4 compute budgets.
    """

    name = "compute"
    param_names: ClassVar[tuple[str, ...]] = ("E", "A", "gamma")

    def __init__(self, *, bins_per_decade: float = 4.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(bins_per_decade, int | float) or not bins_per_decade > 0:
            raise parameter_error("bins_per_decade", "ComputeLaw", "a float > 0", bins_per_decade)
        self.bins_per_decade = float(bins_per_decade)
        self.n_fit_: tuple[float, float] = (0.0, 0.0)
        self.n_fits_: NDArray[np.float64] = np.empty((0, 2))
        self.frontier_: tuple[NDArray, NDArray, NDArray] = (np.empty(0),) * 3

    def _model(self) -> TermModel:
        return _compute_model()

    def _features(self, sweep: Sweep) -> NDArray[np.float64]:
        return np.log(sweep.C)[:, None]

    def _query(
        self, inputs: Mapping[str, ArrayLike]
    ) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
        if "C" in inputs and len(inputs) == 1:
            C = _positive_array(inputs["C"], "C", "ComputeLaw.predict")
        else:
            N, D = resolve_nd(inputs, "ComputeLaw")
            C = 6 * N * D
        return np.log(C)[:, None], {"C": C}

    def _natural(self, theta: NDArray[np.float64]) -> dict[str, float]:
        e, a, g = (float(v) for v in theta)
        return {"E": float(np.exp(e)), "A": float(np.exp(a)), "gamma": g}

    def fit(self, sweep: Sweep, *, rng: np.random.Generator | int | None = None) -> Self:
        """Fit the frontier of ``sweep``; see the class docstring. Returns ``self``."""
        if not isinstance(sweep, Sweep):
            raise parameter_error("sweep", "ComputeLaw.fit", "a Sweep", sweep)
        check_loss_range(sweep, "ComputeLaw")
        with single_thread():
            return self._fit_frontier(sweep, as_rng(rng))

    def _fit_frontier(self, sweep: Sweep, gen: np.random.Generator) -> Self:
        C, Ns, Ls = frontier_points(sweep, bins_per_decade=self.bins_per_decade)
        if C.size < 4:
            raise InvalidParameterError(
                f"ComputeLaw needs at least 4 compute budgets to fit its frontier; the sweep "
                f"spans {C.size}. Add runs at more budgets (or set bins_per_decade higher)."
            )
        model = self._model()
        X, y = np.log(C)[:, None], np.log(Ls)
        theta, _ = fit_terms(
            model,
            X,
            y,
            delta=self.huber_delta,
            n_starts=self.n_starts,
            n_polish=self.n_polish,
            rng=gen,
        )
        self.theta_ = theta
        self.residuals_ = y - self._log_pred(theta[None, :], X)[0]
        n_in = max(4, int(np.ceil(0.75 * C.size)))
        self.extrap_residuals_ = np.empty(0)
        if self.calibrate and C.size - n_in >= 2:
            # the frontier fitted without its largest budgets, scored on them (see TermLaw)
            th_in, _ = fit_terms(
                model,
                X[:n_in],
                y[:n_in],
                delta=self.huber_delta,
                n_starts=min(self.n_starts, 1000),
                n_polish=min(self.n_polish, 4),
                rng=gen,
            )
            self.extrap_residuals_ = y[n_in:] - self._log_pred(th_in[None, :], X[n_in:])[0]
        icpt_slope = np.polyfit(np.log(C), np.log(Ns), 1)[::-1]
        self.n_fit_ = (float(icpt_slope[0]), float(icpt_slope[1]))
        self.frontier_ = (C, Ns, Ls)
        clusters = self._clusters(sweep)
        thetas, nfits = [], []
        for _ in range(self.n_bootstrap):
            w = bootstrap_indices(len(sweep), clusters, gen)
            cb, nb, lb = frontier_points(sweep, bins_per_decade=self.bins_per_decade, weights=w)
            if cb.size < 4:
                continue
            thetas.append(
                refit(
                    theta,
                    model,
                    np.log(cb)[:, None],
                    np.log(lb),
                    np.ones(cb.size),
                    delta=self.huber_delta,
                )
            )
            nfits.append(np.polyfit(np.log(cb), np.log(nb), 1)[::-1])
        self.thetas_ = np.array(thetas).reshape(-1, theta.size)
        self.n_fits_ = np.array(nfits).reshape(-1, 2)
        self.n_runs_ = len(sweep)
        self._fitted = True
        return self

    def optimal(self, C: ArrayLike, *, levels: ArrayLike = DEFAULT_LEVELS) -> OptimalSplit:
        """``N*``, ``D* = C / (6 N*)`` and ``L*`` for budgets ``C`` (shape ``(m,)``)."""
        self._require_fit()
        lv = check_levels(levels, owner="ComputeLaw.optimal")
        Cs = _positive_array(C, "C", "ComputeLaw.optimal")
        logc = np.log(Cs)
        k0, a0 = self.n_fit_
        fits = self.n_fits_ if self.n_fits_.shape[0] else np.array([[k0, a0]])
        ln = fits[:, :1] + fits[:, 1:] * logc[None, :]
        ld = np.log(Cs / 6.0)[None, :] - ln
        n0 = np.exp(k0 + a0 * logc)
        fc = self.predict(C=Cs, levels=lv)
        return OptimalSplit(
            C=Cs,
            N=n0,
            D=Cs / (6 * n0),
            loss=fc.point,
            levels=lv,
            N_quantiles=np.exp(np.quantile(ln, lv, axis=0)),
            D_quantiles=np.exp(np.quantile(ld, lv, axis=0)),
            loss_quantiles=fc.quantiles,
            law=self.name,
        )

    def to_dict(self) -> dict[str, Any]:
        """Params, their intervals, and the N*(C) = k C^a fit."""
        out = super().to_dict()
        out["n_star"] = {"log_k": float(self.n_fit_[0]), "a": float(self.n_fit_[1])}
        return out


class LogLinearLaw(ScalingLaw):
    """``log L = c0 + sum_j c_j log x_j``: a straight line in log-log axes (the baseline).

    Args:
        inputs: the columns it is a line in: ``("C",)`` (default) or ``("N", "D")``, ...

    Intervals are the ordinary-least-squares prediction intervals (Student t) on log loss.

    Raises:
        InvalidParameterError: at fit, fewer runs than coefficients + 1, or one value only.
    """

    name = "loglinear"

    def __init__(self, *, inputs: tuple[str, ...] = ("C",)) -> None:
        super().__init__()
        ok = {"N", "D", "C", "M"}
        if not inputs or not set(inputs) <= ok or len(set(inputs)) != len(inputs):
            raise parameter_error("inputs", "LogLinearLaw", f"distinct names from {ok}", inputs)
        self.inputs = tuple(inputs)
        self.coef_: NDArray[np.float64] = np.empty(0)
        self._xtx_inv: NDArray[np.float64] = np.empty((0, 0))
        self._s2 = 0.0
        self._dof = 0

    @staticmethod
    def _col(sweep: Sweep, k: str) -> NDArray[np.float64]:
        return {"N": sweep.N, "D": sweep.D, "C": sweep.C, "M": sweep.tokens_per_param}[k]

    def fit(self, sweep: Sweep, *, rng: np.random.Generator | int | None = None) -> Self:
        """Least squares on log loss (``rng`` unused: the fit is closed-form). Returns ``self``."""
        if not isinstance(sweep, Sweep):
            raise parameter_error("sweep", "LogLinearLaw.fit", "a Sweep", sweep)
        check_loss_range(sweep, "LogLinearLaw")
        p = len(self.inputs) + 1
        if len(sweep) < p + 1:
            raise InvalidParameterError(
                f"LogLinearLaw in {self.inputs} needs at least {p + 1} runs. Got {len(sweep)}."
            )
        X = np.column_stack(
            [np.ones(len(sweep))] + [np.log(self._col(sweep, k)) for k in self.inputs]
        )
        if np.linalg.matrix_rank(X) < p:
            raise InvalidParameterError(
                f"LogLinearLaw cannot fit a line in {self.inputs}: the sweep has one value only "
                "of one of them (or they are collinear). Add runs that vary it."
            )
        y = np.log(sweep.loss)
        coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        r = y - X @ coef
        self._dof = len(sweep) - p
        self._s2 = float(r @ r / self._dof)
        self._xtx_inv = np.asarray(np.linalg.inv(X.T @ X), dtype=np.float64)
        self.coef_ = np.asarray(coef, dtype=np.float64)
        self._fitted = True
        return self

    def predict(
        self, *, levels: ArrayLike = DEFAULT_LEVELS, **inputs: ArrayLike
    ) -> ScalingForecast:
        """Loss at the query (the inputs named at construction, or two of N, D, C, M)."""
        self._require_fit()
        lv = check_levels(levels, owner="LogLinearLaw.predict")
        if set(inputs) == set(self.inputs):
            vals = [_positive_array(inputs[k], k, "LogLinearLaw.predict") for k in self.inputs]
            cols = dict(zip(self.inputs, np.broadcast_arrays(*vals), strict=True))
        else:
            N, D = resolve_nd(inputs, "LogLinearLaw")
            cols = {"N": N, "D": D, "C": 6 * N * D, "M": D / N}
        X = np.column_stack(
            [np.ones(cols[self.inputs[0]].size)] + [np.log(cols[k]) for k in self.inputs]
        )
        mu = X @ self.coef_
        se = np.sqrt(self._s2 * (1.0 + np.einsum("ij,jk,ik->i", X, self._xtx_inv, X)))
        tq = stats.t.ppf(lv, self._dof)
        grid = stats.t.ppf((np.arange(999) + 0.5) / 999, self._dof)
        return ScalingForecast(
            inputs={k: cols[k] for k in self.inputs},
            point=np.exp(mu),
            levels=lv,
            quantiles=np.exp(mu[None, :] + tq[:, None] * se[None, :]),
            law=self.name,
            _samples=np.exp(mu[None, :] + grid[:, None] * se[None, :]),
        )

    @property
    def params(self) -> dict[str, float]:
        """``c0`` and one slope per input (``slope_C``...)."""
        self._require_fit()
        out = {"c0": float(self.coef_[0])}
        out.update(
            {f"slope_{k}": float(c) for k, c in zip(self.inputs, self.coef_[1:], strict=True)}
        )
        return out
