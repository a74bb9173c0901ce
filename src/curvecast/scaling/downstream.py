"""From loss to downstream error: Gadre et al.'s exponential link, or a sigmoid.

``link="exp"``: ``Err(L) = eps - k exp(-gamma L)`` (Gadre et al. 2024, eq. 5): the error falls
from chance ``eps`` as the loss falls. ``link="sigmoid"``: ``Err(L) = lo + (hi - lo) /
(1 + exp(-(L - L0) / s))``, for an ability that emerges: flat at chance, then a drop.

Fitted by least squares on the error from several starts, with a bootstrap over runs. When the
runs sit on the flat part (all near chance), the replicates disagree about where the drop
comes. So the law checks whether the drop was seen at all: ``emerged_`` is False when the
fitted curve changes by less than 4 residual standard deviations over the fitted losses. Then
a query below the fitted range gets a band from the floor (``bounds[0]``) to the fitted level:
the law says it cannot extrapolate rather than drawing a confident flat line.
``ScalingForecast.inputs["extrapolation"]`` is how far below the lowest fitted loss each query
lies (0 inside the fitted range).

>>> import numpy as np
>>> from curvecast.scaling import DownstreamLaw, Sweep
>>> L = np.linspace(2.8, 4.5, 12); err = 0.75 - 30 * np.exp(-1.6 * L)
>>> s = Sweep(N=np.logspace(7, 9, 12), D=np.logspace(9, 11, 12), loss=L, extra={"err": err})
>>> law = DownstreamLaw(target="err", n_bootstrap=20).fit(s, rng=0)
>>> round(float(law.predict(loss=2.5).point[0]), 3)
0.201
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import least_squares

from curvecast.exceptions import InvalidParameterError, parameter_error
from curvecast.forecast._result import DEFAULT_LEVELS, as_rng, check_levels
from curvecast.scaling._base import ScalingLaw
from curvecast.scaling._fit import bootstrap_indices
from curvecast.scaling._result import ScalingForecast
from curvecast.scaling.sweep import Sweep

__all__ = ["DownstreamLaw"]

_LINKS = ("exp", "sigmoid")


def _exp_link(theta: NDArray[np.float64], L: NDArray[np.float64]) -> NDArray[np.float64]:
    eps, logk, gamma = theta[..., 0:1], theta[..., 1:2], theta[..., 2:3]
    return np.asarray(eps - np.exp(logk - gamma * L))


def _sigmoid_link(theta: NDArray[np.float64], L: NDArray[np.float64]) -> NDArray[np.float64]:
    lo, hi, l0, logs = (theta[..., i : i + 1] for i in range(4))
    z = np.clip((L - l0) / np.exp(np.clip(logs, -20, 5)), -60, 60)
    return np.asarray(lo + (hi - lo) / (1.0 + np.exp(-z)))


class DownstreamLaw(ScalingLaw):
    """Downstream error (or any score) as a function of loss; see the module docstring.

    Args:
        target: the sweep's extra column to predict (e.g. ``"err_avg"``).
        link: ``"exp"`` (Gadre et al.) or ``"sigmoid"``.
        n_bootstrap: bootstrap replicates (0: best fit only).
        bounds: the range the target lives in (default ``(0, 1)``, an error rate); predictive
            samples are clipped into it. ``None`` for an unbounded score.

    ``predict(loss=...)`` takes losses, shape ``(m,)``.

    Raises:
        InvalidParameterError: at fit, a missing target column, too few runs (fewer than
            parameters + 2), or one loss value only.
    """

    name = "downstream"
    target = "error"
    _n_params: ClassVar[dict[str, int]] = {"exp": 3, "sigmoid": 4}

    def __init__(
        self,
        *,
        target: str,
        link: str = "exp",
        n_bootstrap: int = 200,
        bounds: tuple[float, float] | None = (0.0, 1.0),
    ) -> None:
        super().__init__()
        if bounds is not None and not (
            len(bounds) == 2 and np.all(np.isfinite(bounds)) and bounds[0] < bounds[1]
        ):
            raise parameter_error(
                "bounds", "DownstreamLaw", "None or (lo, hi) with lo < hi", bounds
            )
        self.bounds = bounds
        if link not in _LINKS:
            raise parameter_error("link", "DownstreamLaw", f"one of {_LINKS}", link)
        if not isinstance(n_bootstrap, int) or isinstance(n_bootstrap, bool) or n_bootstrap < 0:
            raise parameter_error("n_bootstrap", "DownstreamLaw", "an int >= 0", n_bootstrap)
        self.target_col = str(target)
        self.link = link
        self.n_bootstrap = n_bootstrap
        self.theta_: NDArray[np.float64] = np.empty(0)
        self.thetas_: NDArray[np.float64] = np.empty((0, 0))
        self.residuals_: NDArray[np.float64] = np.empty(0)
        self.loss_range_: tuple[float, float] = (0.0, 0.0)
        self.emerged_ = True

    def _fn(self) -> Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]]:
        return _exp_link if self.link == "exp" else _sigmoid_link

    def _starts(self, L: NDArray[np.float64], err: NDArray[np.float64]) -> list[NDArray]:
        if self.link == "exp":
            top = float(err.max())
            return [
                np.array([top + d, np.log(max(top + d - err.min(), 1e-3)) + g * L.min(), g])
                for d in (0.0, 0.05, 0.2)
                for g in (0.5, 1.5, 3.0)
            ]
        return [
            np.array([float(err.min()) * f, float(err.max()), float(q), np.log(s)])
            for f in (0.5, 1.0)
            for q in np.quantile(L, [0.25, 0.5, 0.75])
            for s in (0.1, 0.5)
        ]

    def _solve(
        self, L: NDArray, err: NDArray, w: NDArray, starts: list[NDArray]
    ) -> NDArray[np.float64]:
        fn = self._fn()
        sw = np.sqrt(w)
        best, best_cost = starts[0], np.inf
        for x0 in starts:
            res = least_squares(lambda th: sw * (fn(th, L) - err), x0, method="lm", max_nfev=2000)
            if res.cost < best_cost and np.all(np.isfinite(res.x)):
                best, best_cost = res.x, res.cost
        return np.asarray(best, dtype=np.float64)

    def fit(self, sweep: Sweep, *, rng: np.random.Generator | int | None = None) -> Self:
        """Fit ``target`` against ``sweep.loss``. Returns ``self``."""
        if not isinstance(sweep, Sweep):
            raise parameter_error("sweep", "DownstreamLaw.fit", "a Sweep", sweep)
        if self.target_col not in sweep.extra:
            raise InvalidParameterError(
                f"The sweep has no column {self.target_col!r} for DownstreamLaw to predict. Its "
                f"extra columns are: {', '.join(sweep.extra) or 'none'} (read_sweep(..., "
                f"extra=[{self.target_col!r}]) keeps one)."
            )
        err = np.asarray(sweep.extra[self.target_col])
        L = np.asarray(sweep.loss)
        keep = np.isfinite(err)
        L, err = L[keep], err[keep]
        need = self._n_params[self.link] + 2
        if L.size < need:
            raise InvalidParameterError(
                f"DownstreamLaw ({self.link}) needs at least {need} runs with a finite "
                f"{self.target_col!r}. Got {L.size}."
            )
        if np.unique(np.round(L, 6)).size < 2:
            raise InvalidParameterError(
                "DownstreamLaw needs runs at 2 or more losses; every run has the same loss."
            )
        gen = as_rng(rng)
        starts = self._starts(L, err)
        theta = self._solve(L, err, np.ones(L.size), starts)
        fn = self._fn()
        self.theta_ = theta
        self.residuals_ = err - fn(theta, L)
        thetas = [
            self._solve(L, err, w, [theta])
            for w in (bootstrap_indices(L.size, None, gen) for _ in range(self.n_bootstrap))
        ]
        self.thetas_ = np.array(thetas).reshape(-1, theta.size)
        self.loss_range_ = (float(L.min()), float(L.max()))
        ends = fn(theta, np.array([L.min(), L.max()]))
        sd = float(np.std(self.residuals_, ddof=min(theta.size, L.size - 1)))
        self.emerged_ = bool(abs(ends[0] - ends[1]) > 4 * max(sd, 1e-12))
        self._fitted = True
        return self

    def predict(
        self, *, levels: ArrayLike = DEFAULT_LEVELS, **inputs: ArrayLike
    ) -> ScalingForecast:
        """Predicted error at ``loss=`` values (shape ``(m,)``)."""
        self._require_fit()
        if set(inputs) != {"loss"}:
            raise InvalidParameterError(
                f"DownstreamLaw.predict takes loss=... only. Got {sorted(inputs)} instead."
            )
        lv = check_levels(levels, owner="DownstreamLaw.predict")
        try:
            L = np.asarray(inputs["loss"], dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise parameter_error("loss", "DownstreamLaw.predict", "numbers", inputs) from None
        if L.size == 0 or not np.all(np.isfinite(L)):
            raise parameter_error("loss", "DownstreamLaw.predict", "finite numbers", inputs["loss"])
        fn = self._fn()
        thetas = self.thetas_ if self.thetas_.shape[0] else self.theta_[None, :]
        mu = fn(thetas, L[None, :])
        r = self.residuals_
        k = min(r.size, 64)
        noise = np.quantile(r, (np.arange(k) + 0.5) / k)
        samples = (mu[:, None, :] + noise[None, :, None]).reshape(-1, L.size)
        if self.bounds is not None:
            samples = np.clip(samples, *self.bounds)
            below = L < self.loss_range_[0]
            if not self.emerged_ and np.any(below):
                # the drop was never observed: anything from the floor to today's level
                top = np.quantile(samples[:, below], 0.95, axis=0)
                u = (np.arange(samples.shape[0]) + 0.5) / samples.shape[0]
                samples[:, below] = self.bounds[0] + u[:, None] * (top - self.bounds[0])[None, :]
        return ScalingForecast(
            inputs={"loss": L, "extrapolation": np.maximum(self.loss_range_[0] - L, 0.0)},
            point=fn(self.theta_, L),
            levels=lv,
            quantiles=np.quantile(samples, lv, axis=0),
            law=self.name,
            _samples=samples,
        )

    @property
    def params(self) -> dict[str, float]:
        """``eps, k, gamma`` (exp) or ``lo, hi, L0, s`` (sigmoid)."""
        self._require_fit()
        t = [float(v) for v in self.theta_]
        if self.link == "exp":
            return {"eps": t[0], "k": float(np.exp(t[1])), "gamma": t[2]}
        return {"lo": t[0], "hi": t[1], "L0": t[2], "s": float(np.exp(t[3]))}

    def to_dict(self) -> dict[str, Any]:
        """Params, link, target, fitted loss range."""
        out = super().to_dict()
        out.update(
            link=self.link,
            target=self.target_col,
            loss_range=list(self.loss_range_),
            emerged=self.emerged_,
            n_bootstrap=self.n_bootstrap,
        )
        return out
