"""The protocol every scaling law follows, and the shared machinery of the log-sum-exp laws.

A law is a small object: construct it with its settings, ``fit(sweep, rng=...)`` it (returns
``self``), then ``predict(**inputs)`` a :class:`~curvecast.scaling.ScalingForecast` with
quantiles, whose ``interval(0.9)`` gives the 90% predictive interval. ``params`` holds the best
fit's parameters; ``to_dict()`` a JSON-ready summary. Laws never mutate the sweep, and a fit is
deterministic for a given ``rng``.

Uncertainty comes from a bootstrap over runs (or over model sizes, ``resample="sizes"``, which
is wider and more honest when few sizes are in the sweep): each replicate refits the law, and the
predictive distribution at a query mixes the replicates' predictions with the fit's own log
residuals, so a 90% interval is meant to hold 90% of new runs, not just the mean curve. With
``calibrate=True`` (the default) the residual part is widened by how much larger the errors were
when the law, fitted without the sweep's largest fifth of runs (by compute), predicted them: a
forecast is an extrapolation, and in-sample residuals understate its errors.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from curvecast.exceptions import InvalidParameterError, parameter_error
from curvecast.forecast._result import DEFAULT_LEVELS, as_rng, check_levels
from curvecast.scaling._fit import (
    TermModel,
    _logsumexp_rows,
    _objective,
    bootstrap_indices,
    fit_terms,
    refit,
    single_thread,
)
from curvecast.scaling._result import ScalingForecast
from curvecast.scaling.sweep import Sweep

__all__ = ["ScalingLaw", "TermLaw"]

_RESAMPLE = ("runs", "sizes")
#: at most this many residual quantiles are mixed with the bootstrap replicates
_MAX_NOISE = 64


def _positive_array(value: ArrayLike, name: str, owner: str) -> NDArray[np.float64]:
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond a float
        raise parameter_error(name, owner, "a positive number or array of them", value) from None
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise parameter_error(name, owner, "finite and > 0", value)
    return arr


#: the largest loss a law accepts: a training loss in nats or bits is a few units; a loss this
#: large is a diverged run or a unit error, and fitted on log scale it swamps every other run
MAX_LOSS = 1e6


def check_loss_range(sweep: Sweep, owner: str) -> None:
    """Refuse a sweep whose loss exceeds :data:`MAX_LOSS` (the message names the run).

    Raises:
        InvalidParameterError: some run's loss is above :data:`MAX_LOSS`.
    """
    big = np.flatnonzero(sweep.loss > MAX_LOSS)
    if big.size:
        i = int(big[0])
        raise InvalidParameterError(
            f"The 'loss' column of the sweep must be at most {MAX_LOSS:g} to fit {owner}. Got "
            f"{sweep.loss[i]:g} at run {i} ({sweep.name[i]!r}; {big.size} such runs). A loss "
            "that large is a diverged run or another unit: drop those runs (sweep.select) or "
            "rescale the column."
        )


def log_quantiles(log_samples: NDArray[np.float64], levels: NDArray[np.float64]) -> NDArray:
    """``exp`` of the quantiles of log samples (shape ``(S, m)`` -> ``(L, m)``).

    Taken on log scale, where the samples are finite, then exponentiated: quantiles of the
    exponentiated samples would interpolate between two infinities (NaN) once a query is far
    enough out for ``exp`` to overflow. Non-decreasing in the level.
    """
    with np.errstate(over="ignore"):
        return np.exp(np.quantile(log_samples, levels, axis=0))


class ScalingLaw(abc.ABC):
    """Base of every law: ``fit``, ``predict``, ``params``, ``to_dict``."""

    #: short name used by the command line and reports
    name: ClassVar[str]
    #: the quantity predicted ("loss" or "error")
    target: ClassVar[str] = "loss"

    def __init__(self) -> None:
        self._fitted = False

    @abc.abstractmethod
    def fit(self, sweep: Sweep, *, rng: np.random.Generator | int | None = None) -> Self:
        """Fit on ``sweep`` (not mutated); deterministic for a given ``rng``. Returns ``self``."""

    @abc.abstractmethod
    def predict(
        self, *, levels: ArrayLike = DEFAULT_LEVELS, **inputs: ArrayLike
    ) -> ScalingForecast:
        """Predictive distribution at the query points (``inputs`` broadcast to shape ``(m,)``)."""

    @property
    @abc.abstractmethod
    def params(self) -> dict[str, float]:
        """The best fit's parameters, by name."""

    def _require_fit(self) -> None:
        if not self._fitted:
            raise InvalidParameterError(
                f"This {type(self).__name__} is not fitted yet: call .fit(sweep) first."
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: law name, params, bootstrap size."""
        self._require_fit()
        return {"law": self.name, "params": self.params}


class TermLaw(ScalingLaw):
    """A law ``log L = logsumexp(terms)`` fitted with Huber-on-log and a bootstrap.

    Subclasses define ``param_names``, ``_model()`` (a :class:`TermModel`), ``_features(sweep)``
    (shape ``(n, F)``), ``_query(inputs)`` (features ``(m, F)`` and the echoed inputs) and
    ``_check_sweep``.
    """

    param_names: ClassVar[tuple[str, ...]]

    def __init__(
        self,
        *,
        n_bootstrap: int = 200,
        resample: str = "runs",
        huber_delta: float = 1e-3,
        n_starts: int = 4000,
        n_polish: int = 8,
        calibrate: bool = True,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if not isinstance(n_bootstrap, int) or isinstance(n_bootstrap, bool) or n_bootstrap < 0:
            raise parameter_error(
                "n_bootstrap", owner, "an int >= 0 (0: no intervals)", n_bootstrap
            )
        if resample not in _RESAMPLE:
            raise parameter_error("resample", owner, f"one of {_RESAMPLE}", resample)
        if not isinstance(huber_delta, int | float) or not huber_delta > 0:
            raise parameter_error("huber_delta", owner, "a float > 0", huber_delta)
        for nm, v in (("n_starts", n_starts), ("n_polish", n_polish)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise parameter_error(nm, owner, "an int >= 1", v)
        self.n_bootstrap = n_bootstrap
        self.resample = resample
        self.huber_delta = float(huber_delta)
        self.n_starts = n_starts
        self.n_polish = min(n_polish, n_starts)
        self.calibrate = bool(calibrate)
        self.extrap_residuals_: NDArray[np.float64] = np.empty(0)
        #: the variance of the smaller fit's log predictions over bootstrap replicates where
        #: ``extrap_residuals_`` were measured: the part of those errors a bootstrap spreads
        self.extrap_param_var_ = 0.0
        self.theta_: NDArray[np.float64] = np.empty(0)
        self.thetas_: NDArray[np.float64] = np.empty((0, 0))
        self.residuals_: NDArray[np.float64] = np.empty(0)
        self.n_runs_ = 0

    # -- to be defined by each law ------------------------------------------------------------
    @abc.abstractmethod
    def _model(self) -> TermModel: ...

    @abc.abstractmethod
    def _features(self, sweep: Sweep) -> NDArray[np.float64]: ...

    @abc.abstractmethod
    def _query(
        self, inputs: Mapping[str, ArrayLike]
    ) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]: ...

    def _check_sweep(self, sweep: Sweep) -> None:
        need = len(self.param_names) + 1
        if len(sweep) < need:
            raise InvalidParameterError(
                f"{type(self).__name__} needs at least {need} runs to fit its "
                f"{len(self.param_names)} parameters. Got {len(sweep)} runs: add runs, or use a "
                "law with fewer parameters (LogLinearLaw has 2)."
            )

    def _clusters(self, sweep: Sweep) -> NDArray[np.int64] | None:
        if self.resample == "runs":
            return None
        _, inv = np.unique(np.round(np.log(sweep.N), 6), return_inverse=True)
        return inv.astype(np.int64)

    # -- protocol ----------------------------------------------------------------------------
    def fit(self, sweep: Sweep, *, rng: np.random.Generator | int | None = None) -> Self:
        """Fit the law to ``sweep``; see the class docstring. Returns ``self``.

        Raises:
            InvalidParameterError: the sweep cannot identify the law (too few runs, one model
                size only...); the message says what to add.
        """
        if not isinstance(sweep, Sweep):
            raise parameter_error("sweep", f"{type(self).__name__}.fit", "a Sweep", sweep)
        self._check_sweep(sweep)
        check_loss_range(sweep, type(self).__name__)
        with single_thread():
            return self._fit(sweep, as_rng(rng))

    def _fit(self, sweep: Sweep, gen: np.random.Generator) -> Self:
        model = self._model()
        X = self._features(sweep)
        y = np.log(sweep.loss)
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
        self.extrap_residuals_ = (
            self._extrapolation_residuals(sweep, model, X, y, gen)
            if self.calibrate
            else np.empty(0)
        )
        clusters = self._clusters(sweep)
        thetas = np.empty((self.n_bootstrap, theta.size))
        for b in range(self.n_bootstrap):
            w = bootstrap_indices(y.size, clusters, gen)
            thetas[b] = self._refit(theta, model, X, y, w, gen)
        self.thetas_ = thetas
        self.n_runs_ = len(sweep)
        self._fitted = True
        return self

    def _refit(
        self,
        theta: NDArray[np.float64],
        model: TermModel,
        X: NDArray[np.float64],
        y: NDArray[np.float64],
        w: NDArray[np.float64],
        gen: np.random.Generator,
    ) -> NDArray[np.float64]:
        """One bootstrap replicate's parameters: the better of a polish from the full-data
        optimum and one from a start jittered around it (by 3% of each parameter's start box).

        The nearly-L1 objective (Huber with a small ``delta``) stops L-BFGS-B close to where it
        starts, so replicates polished from the optimum alone stay near it and the bootstrap is
        too narrow: on 30 synthetic Chinchilla sweeps of 120 runs the 90% interval of N* held
        the truth in 0.66 of cases, 0.84 with the second start (``docs/hardening.md`` quotes the
        command). It doubles the bootstrap's cost.
        """
        a = refit(theta, model, X, y, w, delta=self.huber_delta)
        box = np.array([hi - lo for lo, hi in model.start_box])
        lo = np.array([b[0] for b in model.bounds])
        hi = np.array([b[1] for b in model.bounds])
        start = np.clip(theta + gen.normal(0.0, 0.03, theta.size) * box, lo, hi)
        b = refit(start, model, X, y, w, delta=self.huber_delta)
        return (
            a
            if _objective(a, model, X, y, w, self.huber_delta)[0]
            <= _objective(b, model, X, y, w, self.huber_delta)[0]
            else b
        )

    def _log_pred(self, thetas: NDArray[np.float64], X: NDArray[np.float64]) -> NDArray:
        """Log predictions, shape ``(S, m)`` for ``thetas`` ``(S, P)`` and ``X`` ``(m, F)``."""
        t = self._model().batch_terms(thetas, X)
        return _logsumexp_rows(t)[0]

    def _extrapolation_residuals(
        self,
        sweep: Sweep,
        model: TermModel,
        X: NDArray[np.float64],
        y: NDArray[np.float64],
        gen: np.random.Generator,
    ) -> NDArray[np.float64]:
        """Log errors on the top fifth of the runs by compute, of a fit on the rest.

        The residuals of the full fit say how runs scatter around the law where it was fitted;
        a forecast is an extrapolation, and its errors are larger. Refitting without the
        largest runs and predicting them measures that, on the sweep itself. Empty when the
        smaller runs cannot identify the law. Shape ``(k,)``.
        """
        logc = np.log(sweep.C)
        inner = logc <= np.quantile(logc, 0.8)
        if (~inner).sum() < 3:
            return np.empty(0)
        try:
            self._check_sweep(sweep.select(inner))
        except InvalidParameterError:
            return np.empty(0)
        theta_in, _ = fit_terms(
            model,
            X[inner],
            y[inner],
            delta=self.huber_delta,
            n_starts=min(self.n_starts, 1000),
            n_polish=min(self.n_polish, 4),
            rng=gen,
        )
        # what of those errors is the smaller fit's own error, which a bootstrap spreads
        reps = min(self.n_bootstrap, 20)
        self.extrap_param_var_ = 0.0
        if reps >= 2:
            w_in = [bootstrap_indices(int(inner.sum()), None, gen) for _ in range(reps)]
            th = np.array(
                [
                    refit(theta_in, model, X[inner], y[inner], w, delta=self.huber_delta)
                    for w in w_in
                ]
            )
            self.extrap_param_var_ = float(np.median(self._log_pred(th, X[~inner]).var(axis=0)))
        return np.asarray(y[~inner] - self._log_pred(theta_in[None, :], X[~inner])[0])

    def _noise(self) -> NDArray[np.float64]:
        """Log-residual quantiles mixed into the predictive distribution, shape ``(K,)``.

        The fit's residuals, widened when ``calibrate`` found larger errors in extrapolation:
        scaled by the ratio of the extrapolation errors' robust scale, less the variance a
        bootstrap of the smaller fit gives there (the fit's own error, which this fit's
        replicates spread), to the residuals' robust scale, when that ratio exceeds 1 (the
        band stays centred on the fit).
        """
        r = self.residuals_
        e = self.extrap_residuals_
        n, p = r.size, len(self.param_names)
        inflate = np.sqrt(n / max(n - p, 1))
        if e.size >= 2:
            # the extrapolation errors hold the runs' scatter and the smaller fit's own error;
            # the bootstrap replicates spread the fit's error, so only what is left of the
            # errors' variance widens the scatter (else the band counts the fit's error twice)
            mad = 1.4826
            scatter2 = (mad * np.median(np.abs(e - np.median(e)))) ** 2 - self.extrap_param_var_
            own = max(mad * np.median(np.abs(r)), 1e-12)
            inflate = max(inflate, float(np.sqrt(max(scatter2, 0.0))) / own)
        k = min(n, _MAX_NOISE)
        levels = (np.arange(k) + 0.5) / k
        return np.asarray(np.quantile(r, levels) * inflate)

    def log_samples(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """Predictive samples of log loss at features ``X`` ``(m, F)``: shape ``(S, m)``."""
        thetas = self.thetas_ if self.thetas_.shape[0] else self.theta_[None, :]
        mu = self._log_pred(thetas, X)
        noise = self._noise()
        return (mu[:, None, :] + noise[None, :, None]).reshape(-1, X.shape[0])

    def predict(
        self, *, levels: ArrayLike = DEFAULT_LEVELS, **inputs: ArrayLike
    ) -> ScalingForecast:
        """Predictive distribution of the loss at the query; see the class for the inputs.

        Returns a :class:`ScalingForecast` whose ``quantiles`` have shape ``(L, m)``.
        """
        self._require_fit()
        lv = check_levels(levels, owner=f"{type(self).__name__}.predict")
        X, echoed = self._query(inputs)
        log_s = self.log_samples(X)
        with np.errstate(over="ignore"):
            samples = np.exp(log_s)
            point = np.exp(self._log_pred(self.theta_[None, :], X)[0])
        return ScalingForecast(
            inputs=echoed,
            point=point,
            levels=lv,
            quantiles=log_quantiles(log_s, lv),
            law=self.name,
            _samples=samples,
        )

    @property
    def params(self) -> dict[str, float]:
        """Best-fit parameters by name (``E``, ``A``... on natural scale)."""
        self._require_fit()
        return self._natural(self.theta_)

    def _natural(self, theta: NDArray[np.float64]) -> dict[str, float]:
        return {k: float(v) for k, v in zip(self.param_names, theta, strict=True)}

    def param_intervals(self, level: float = 0.9) -> dict[str, tuple[float, float]]:
        """Bootstrap percentile interval of each parameter (natural scale)."""
        self._require_fit()
        if not self.thetas_.shape[0]:
            return {k: (v, v) for k, v in self.params.items()}
        nat = [self._natural(t) for t in self.thetas_]
        out = {}
        for k in self.param_names:
            vals = np.array([d[k] for d in nat])
            out[k] = (
                float(np.quantile(vals, 0.5 - level / 2)),
                float(np.quantile(vals, 0.5 + level / 2)),
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: params, their 90% bootstrap intervals, residual scale."""
        self._require_fit()
        return {
            "law": self.name,
            "params": self.params,
            "params_90": {k: list(v) for k, v in self.param_intervals(0.9).items()},
            "n_runs": self.n_runs_,
            "n_bootstrap": self.n_bootstrap,
            "resample": self.resample,
            "residual_mad": float(np.median(np.abs(self.residuals_))),
        }
