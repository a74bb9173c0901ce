"""``parametric``: a fast Bayesian ensemble of the 11 curve families of Domhan et al. (2015).

How a forecast is made (all in the canonical space of :mod:`curvecast.forecast._families`):

1. Fit. Each family is fitted by variable projection (exact least squares in its linear
   parameters over a grid of the others, :func:`~curvecast.forecast._families.grid_fit`); the
   best few families are polished by bounded least squares. Curves longer than ``max_points``
   are binned into ``max_points`` contiguous means first.
2. Parameter uncertainty. A Laplace approximation around each fit: ``theta ~ N(theta_hat,
   sigma_k^2 (J^T J + ridge)^-1)``, clipped to the family's bounds, where ``sigma_k`` is the
   family's residual scale (at least the curve's own noise estimate).
3. Weights. ``w_k ~ prior_k * exp(-BIC_k / (2 * temperature))``; families that describe the
   same function class share one unit of prior.
4. Paths. Each family contributes its *gain* beyond the last observed x, added to the last
   observed level (so a misfit early part, such as the loss at step 0, cannot pull the level
   off), plus observation noise. Each path is then blended towards the last level by a weight
   ``b ~ Beta(4 (1 - flat_weight), 4 flat_weight)``: a continuous, unimodal mix of "converged"
   and "keeps improving" (a discrete flat component made the predictive bimodal with the truth
   often in the gap), and gets a model-discrepancy term whose scale grows with
   ``log(x_new / x_last)`` at the rate the curve moved over its second half.
5. Calibration by backtest. The same ensemble (its leading families only) forecasts the last
   observed point from the prefix that ends as far before it, in log x, as the query lies
   beyond it. The standardised error ``e`` of that forecast updates a prior spread scale
   ``spread`` (worth ``prior_dof`` observations): ``s^2 = (prior_dof spread^2 + e^2) /
   (prior_dof + 1)``. Paths are scaled about their median by ``s`` times a per-path
   ``sqrt(dof / chi2_dof)`` draw, so the predictive has Student-t tails: the scale is only
   known to a few degrees of freedom.

Curves with fewer than 3 points cannot be fitted: with a best-side bound the log-distance to it
shrinks at a rate per e-fold of x drawn from a prior (:data:`FEW_RATE`, :data:`FEW_RATE_SD`),
pooled with the observed rate for two points; without one, the drift band of ``last_value``.

Tuning split: LCDB curves of even OpenML ids and modded-nanogpt validation loss only. Held-out
numbers: ``OMP_NUM_THREADS=1 curvecast bench forecast --suite lcdb,lcbench-surrogate,scanbench-vlm,
scanbench-llm --data-dir ../shared/data --limit 100 --methods last_value,parametric --no-plots``
(lcdb there mixes both parities) and ``scripts/eval_calibration.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Curve
from curvecast.exceptions import parameter_error
from curvecast.forecast._families import FAMILIES, Family, Normaliser, grid_fit
from curvecast.forecast._result import Forecast
from curvecast.forecast._util import noise_scale

__all__ = ["ParametricForecaster"]

_F = NDArray[np.float64]

#: Sample paths of the backtest forecast (it needs three quantiles only).
_BT_SAMPLES = 200
#: The backtest refits only the families with at least this fraction of the top weight.
_BT_MIN_WEIGHT = 0.2
#: Concentration of the Beta weight that blends each path towards the last level.
_BLEND_CONCENTRATION = 4.0
_ONE = np.ones(1)
#: Upper quartile of the standard normal.
_Q75 = 0.6744897501960817
#: Fewer than 3 points: the log-gap to the best bound falls by this much per e-fold of x ...
FEW_RATE = 0.15
#: ... give or take this (one draw per path) ...
FEW_RATE_SD = 0.15
#: ... plus this much of independent jitter in the log-gap.
FEW_JITTER = 0.1


class ParametricForecaster:
    """Bayesian model average of the 11 Domhan et al. families, calibrated by a backtest.

    Args:
        n_samples: joint sample paths in the Forecast (>= 100).
        max_points: longer curves are binned to this many points before fitting (>= 10).
        temperature: divides the BIC in the weights; > 1 spreads weight over more families.
        flat_weight: mean shrinkage of each path towards the last level, in [0, 1).
        discrepancy: scale of the extrapolation-discrepancy term (>= 0).
        polish: how many of the best families get a bounded least-squares polish (>= 0).
        spread: prior scale of the predictive spread (> 0); 1 keeps the ensemble's own.
        prior_dof: how many backtest errors the prior scale is worth (> 0).
        backtest: calibrate each forecast on a backtest of the curve itself.
        anchor: 1 starts every path at the last observation, 0 at each family's fit there.

    Example:
        >>> import numpy as np
        >>> from curvecast import Curve
        >>> x = np.arange(1.0, 21.0)
        >>> c = Curve(x, 0.9 - 0.5 * x**-0.7, bounds=(0, 1))
        >>> f = ParametricForecaster().forecast(c, np.array([50.0]), rng=np.random.default_rng(0))
        >>> bool(abs(f.median[0] - (0.9 - 0.5 * 50**-0.7)) < 0.01)
        True
    """

    name = "parametric"

    def __init__(
        self,
        n_samples: int = 1000,
        max_points: int = 100,
        temperature: float = 4.0,
        flat_weight: float = 0.1,
        discrepancy: float = 0.5,
        polish: int = 2,
        spread: float = 0.5,
        prior_dof: float = 1.0,
        backtest: bool = True,
        anchor: float = 1.0,
    ) -> None:
        owner = "ParametricForecaster"
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 100:
            raise parameter_error("n_samples", owner, "an int >= 100", n_samples)
        if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 10:
            raise parameter_error("max_points", owner, "an int >= 10", max_points)
        if not (isinstance(temperature, int | float) and temperature > 0):
            raise parameter_error("temperature", owner, "a float > 0", temperature)
        if not (isinstance(flat_weight, int | float) and 0 <= flat_weight < 1):
            raise parameter_error("flat_weight", owner, "a float in [0, 1)", flat_weight)
        if not (isinstance(discrepancy, int | float) and discrepancy >= 0):
            raise parameter_error("discrepancy", owner, "a float >= 0", discrepancy)
        if isinstance(polish, bool) or not isinstance(polish, int) or polish < 0:
            raise parameter_error("polish", owner, "an int >= 0", polish)
        if not (isinstance(spread, int | float) and spread > 0):
            raise parameter_error("spread", owner, "a float > 0", spread)
        if not (isinstance(prior_dof, int | float) and prior_dof > 0):
            raise parameter_error("prior_dof", owner, "a float > 0", prior_dof)
        if not isinstance(backtest, bool):
            raise parameter_error("backtest", owner, "a bool", backtest)
        if not (isinstance(anchor, int | float) and 0 <= anchor <= 1):
            raise parameter_error("anchor", owner, "a float in [0, 1]", anchor)
        self.n_samples = n_samples
        self.max_points = max_points
        self.temperature = float(temperature)
        self.flat_weight = float(flat_weight)
        self.discrepancy = float(discrepancy)
        self.polish = polish
        self.spread = float(spread)
        self.prior_dof = float(prior_dof)
        self.backtest = backtest
        self.anchor = float(anchor)

    def forecast(
        self,
        curve: Curve,
        x_new: NDArray[np.float64],
        *,
        rng: np.random.Generator,
        context: Sequence[Curve] = (),
    ) -> Forecast:
        """Joint sample paths at ``x_new`` (shape ``(m,)``); see the module docstring."""
        nm = Normaliser.from_curve(curve)
        u, z = nm.u(curve.observed_x), nm.z(curve.observed_y)
        un = nm.u(np.asarray(x_new, dtype=np.float64))
        zs, info = self.sample_z(u, z, un, nm.asymptote_cap, rng, z_best=nm.z_best)
        samples = nm.y(zs)
        if not np.all(np.isfinite(samples)):  # unreachable in practice; keep the contract
            samples = np.where(np.isfinite(samples), samples, curve.observed_y[-1])
            info["nonfinite_replaced"] = True
        return Forecast.from_samples(
            x_new, samples, direction=curve.direction, method=self.name, info=info
        )

    # -- the ensemble in canonical space ----------------------------------------------------
    def sample_z(
        self,
        u: _F,
        z: _F,
        un: _F,
        cap: float,
        rng: np.random.Generator,
        *,
        z_best: float = math.inf,
    ) -> tuple[_F, dict[str, Any]]:
        """Sample paths in z units, shape ``(n_samples, len(un))``, and diagnostics.

        ``u``, ``z``: observed data, shape ``(n,)``; ``un``: query points, shape ``(m,)``;
        ``cap``: the largest asymptote; ``z_best``: the metric's best-side bound (inf: none).
        """
        if z.size < 3:
            return _few_points(u, z, un, z_best, self.n_samples, rng)
        paths, info = self._ensemble(u, z, un, cap, rng, self.n_samples, self.polish)
        scale2, dof = self.spread**2, self.prior_dof
        c = _backtest_cut(u, float(np.max(un)))
        if self.backtest and c:
            # conformal-style check: forecast the last observed point from the first c points,
            # as far ahead (in log x) as the query is, and score how far off that forecast was
            uc = u[c - 1]
            w = info["components"]
            top = tuple(f for f in FAMILIES if w[f.name] >= _BT_MIN_WEIGHT * max(w.values()))
            bt, _ = self._ensemble(
                u[:c] / uc, z[:c], np.array([1.0 / uc]), cap, rng, _BT_SAMPLES, 0, top
            )
            err = _standardised_error(bt[:, 0], float(z[-1]))
            scale2 = (dof * self.spread**2 + err**2) / (dof + 1)
            dof += 1
            info["backtest"] = {"n_fit": int(c), "error": round(err, 3)}
        scale = math.sqrt(scale2)
        # the scale is known to ``dof`` degrees of freedom: one draw of it per path (a scaled
        # inverse chi-square) turns the predictive's tails into Student-t ones
        per_path = scale * np.sqrt(dof / rng.chisquare(dof, size=(paths.shape[0], 1)))
        med = np.median(paths, axis=0)
        paths = med[None, :] + per_path * (paths - med[None, :])
        if math.isfinite(cap):
            paths = np.minimum(paths, cap)
        info["spread_scale"] = round(scale, 3)
        return paths, info

    def _ensemble(
        self,
        u: _F,
        z: _F,
        un: _F,
        cap: float,
        rng: np.random.Generator,
        n_samples: int,
        polish: int,
        families: tuple[Family, ...] = FAMILIES,
    ) -> tuple[_F, dict[str, Any]]:
        """Uncalibrated paths of the family ensemble blended with the flat line, ``(s, m)``."""
        noise_raw = noise_scale(z)
        ahead = np.maximum(np.log(np.maximum(un, 1e-300)), 0.0)
        _, rate = _flat_band(u, z, noise_raw, ahead)
        ub, zb = _bin(u, z, self.max_points)
        sigma_floor = max(noise_raw or 0.0, 1e-3)
        fits = [_fit_family(fam, ub, zb, cap) for fam in families]
        fits = _polish(fits, ub, zb, cap, polish)
        n = zb.size
        scores = []
        for fam, _theta, rss in fits:
            k = fam.n_params
            bic = n * math.log(max(rss / n, (0.3 * sigma_floor) ** 2)) + k * math.log(n)
            scores.append(math.log(fam.prior_share) - bic / (2 * self.temperature))
        s = np.array(scores)
        w = np.exp(s - s.max())
        w = w / w.sum()
        counts = rng.multinomial(n_samples, w)
        paths = []
        for (fam, theta, rss), cnt in zip(fits, counts, strict=True):
            if cnt == 0:
                continue
            sigma = max(math.sqrt(rss / max(n - fam.n_params, 1)), sigma_floor)
            thetas = _laplace(fam, ub, theta, sigma, cap, int(cnt), rng)
            # anchored at the last observation: a family contributes its gain beyond u = 1 (the
            # last observed x), not its level, which a misfit early part can pull off
            gain = fam(un, thetas) - fam(_ONE, thetas)
            level = z[-1] + (1 - self.anchor) * (fam(_ONE, theta) - z[-1])
            paths.append(level + gain + sigma * rng.standard_normal(gain.shape))
        out = np.concatenate(paths, axis=0)
        # a continuous blend towards the last level (one weight per path), not a discrete flat
        # component: the predictive stays unimodal between "converged" and "keeps improving"
        kappa = _BLEND_CONCENTRATION
        if self.flat_weight > 0:
            a, b = kappa * (1 - self.flat_weight), kappa * self.flat_weight
            out = z[-1] + rng.beta(a, b, size=(out.shape[0], 1)) * (out - z[-1])
        # model discrepancy: one shared draw per path, growing with log-distance ahead
        out += (self.discrepancy * rate * ahead)[None, :] * rng.standard_normal((out.shape[0], 1))
        info = {
            "components": {
                f.name: round(float(v), 4) for (f, _, _), v in zip(fits, w, strict=True)
            },
            "flat_weight": self.flat_weight,
            "n_fit_points": int(n),
        }
        return out[rng.permutation(out.shape[0])], info


def _polish(
    fits: list[tuple[Family, _F, float]], u: _F, z: _F, cap: float, polish: int
) -> list[tuple[Family, _F, float]]:
    """Bounded least squares from the grid fit of the ``polish`` best families."""
    if polish == 0 or u.size < 4:
        return fits
    from scipy.optimize import least_squares

    order = np.argsort([rss for _, _, rss in fits])[:polish]
    out = list(fits)
    for i in order:
        fam, theta, rss = fits[i]
        lo, hi = fam.bounds(cap)
        span = hi - lo
        t0 = np.clip(theta, lo + 1e-9 * span, hi - 1e-9 * span)
        t0 = np.where(np.isfinite(span), t0, theta)
        try:
            with np.errstate(all="ignore"):
                res = least_squares(
                    lambda t, fam=fam: fam(u, t) - z, t0, bounds=(lo, hi), max_nfev=40
                )
        except (ValueError, np.linalg.LinAlgError):
            continue
        new_rss = float(np.sum((fam(u, res.x) - z) ** 2))
        if np.all(np.isfinite(res.x)) and new_rss < rss:
            out[i] = (fam, res.x, new_rss)
    return out


def _fit_family(fam: Family, u: _F, z: _F, cap: float) -> tuple[Family, _F, float]:
    thetas, rss = grid_fit(fam, u, z, cap)
    return fam, thetas[0], float(rss[0])


def _bin(u: _F, z: _F, max_points: int) -> tuple[_F, _F]:
    """Contiguous means of at most ``max_points`` groups, shapes ``(k,)``; the last point kept."""
    if u.size <= max_points:
        return u, z
    edges = np.linspace(0, u.size - 1, max_points).round().astype(int)
    groups = np.split(np.arange(u.size - 1), edges[1:-1])
    ub = np.array([u[g].mean() for g in groups if g.size] + [u[-1]])
    zb = np.array([z[g].mean() for g in groups if g.size] + [z[-1]])
    return ub, zb


def _flat_band(u: _F, z: _F, noise: float | None, ahead: _F) -> tuple[_F, float]:
    """The last-value band in z units: (sd per query point, shape ``(m,)``; drift rate)."""
    if z.size >= 2:
        half = z.size // 2
        lu0, lu1 = math.log(u[max(half - 1, 0)]), math.log(u[-1])
        rate = abs(z[-1] - z[max(half - 1, 0)]) / max(lu1 - lu0, 1e-12)
        rate = min(rate, 10.0)
    else:
        rate = 1.0  # one point: a tenth of its magnitude per e-fold of x (wide on purpose)
    base = noise if noise is not None else 0.1
    base = max(base, 1e-3)
    return np.sqrt(base**2 + (rate * ahead) ** 2), rate


def _laplace(
    fam: Family, u: _F, theta: _F, sigma: float, cap: float, count: int, rng: np.random.Generator
) -> _F:
    """``count`` parameter draws from the Laplace approximation, shape ``(count, p)``."""
    lo, hi = fam.bounds(cap)
    p = theta.size
    step = 1e-6 * np.maximum(np.abs(theta), 1e-3)
    tp = theta[None, :] + np.diag(step)
    jac = ((fam(u, tp) - fam(u, theta[None, :])) / step[:, None]).T  # (n, p)
    # weak prior: one z unit of curve change per parameter scale keeps J^T J invertible
    prec = jac.T @ jac / sigma**2 + np.diag(1.0 / np.maximum(np.abs(theta), 1.0) ** 2)
    try:
        cov = np.linalg.inv(prec)
        cov = (cov + cov.T) / 2
        chol = np.linalg.cholesky(cov + 1e-12 * np.eye(p))
    except np.linalg.LinAlgError:
        return np.repeat(theta[None, :], count, axis=0)
    draws = theta[None, :] + rng.standard_normal((count, p)) @ chol.T
    return np.clip(np.nan_to_num(draws, nan=0.0), lo, hi)


def _backtest_cut(u: _F, u_target: float) -> int:
    """Points to fit in the backtest (0: none): the prefix that ends as far (in log u) before
    the last observed point as ``u_target`` lies after it, of at least 3 points and leaving at
    least one out."""
    if u.size < 4 or u_target <= 1.0:
        return 0
    c = int(np.searchsorted(u, u[-1] / u_target, side="right"))
    return int(min(max(c, 3), u.size - 1))


def _standardised_error(draws: _F, truth: float) -> float:
    """``truth`` in units of the spread of ``draws`` (shape ``(s,)``) on its own side: the
    distance from the median over the half-width of the central 50% interval, times 0.674, so
    that a calibrated normal forecast gives a standard normal error; capped at 10."""
    q25, q50, q75 = np.quantile(draws, [0.25, 0.5, 0.75])
    half = (q75 - q50) if truth >= q50 else (q50 - q25)
    half = max(float(half), 1e-9)
    return float(min(abs(truth - q50) / half * _Q75, 10.0))


def _few_points(
    u: _F, z: _F, un: _F, z_best: float, n_samples: int, rng: np.random.Generator
) -> tuple[_F, dict[str, Any]]:
    """One or two points: too few to fit a family, so a prior on how fast curves close the gap.

    With a best-side bound, the log of the distance to it falls at a rate per e-fold of x drawn
    from ``N(FEW_RATE, FEW_RATE_SD^2)`` (pooled with the observed rate when there are two points);
    without one, the last value with the drift band of ``last_value``.
    """
    ahead = np.maximum(np.log(np.maximum(un, 1e-300)), 0.0)
    gap = z_best - z[-1]
    if not (math.isfinite(gap) and gap > 0):
        flat_sd, _ = _flat_band(u, z, noise_scale(z), ahead)
        paths = z[-1] + flat_sd[None, :] * rng.standard_normal((n_samples, un.size))
        return paths, {"fallback": "fewer than 3 points, no best-side bound"}
    mu = FEW_RATE
    if z.size == 2 and z_best - z[0] > 0:
        seen = math.log((z_best - z[0]) / gap) / max(math.log(u[1] / u[0]), 1e-12)
        mu = (mu + float(np.clip(seen, -1.0, 2.0))) / 2
    rates = mu + FEW_RATE_SD * rng.standard_normal((n_samples, 1))
    jitter = FEW_JITTER * rng.standard_normal((n_samples, 1))
    log_gap = math.log(gap) - rates * ahead[None, :] + jitter
    paths = z_best - np.exp(log_gap)
    return paths, {"fallback": "fewer than 3 points: gap-closing prior", "rate": mu}
