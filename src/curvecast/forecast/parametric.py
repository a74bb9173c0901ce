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
   same function class share one unit of prior. A flat component (the last observed level with
   the drift band of ``last_value``) takes ``flat_weight`` of the mass, so that non-monotone or
   already-converged curves (about 1 in 7 on LCDB) are not forced onto a rising law.
4. Predictive. Every sample path adds observation noise and a model-discrepancy term whose scale
   grows with ``log(x_new / x_last)`` at the rate the curve moved over its second half
   (``discrepancy`` times it); paths are mapped back to the curve's units.

Curves with fewer than 3 points get the flat component alone (a wide, valid forecast).
The defaults were tuned on LCDB accuracy curves of some datasets only; see
``scripts/eval_calibration.py`` for the coverage on held-out curves.
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


class ParametricForecaster:
    """Bayesian model average of the 11 Domhan et al. families plus a flat component.

    Args:
        n_samples: joint sample paths in the Forecast (>= 100).
        max_points: longer curves are binned to this many points before fitting (>= 10).
        temperature: divides the BIC in the weights; > 1 spreads weight over more families.
        flat_weight: prior mass of the flat (last-value) component, in [0, 1).
        discrepancy: scale of the extrapolation-discrepancy term (>= 0).
        polish: how many of the best families get a bounded least-squares polish (>= 0).

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
        flat_weight: float = 0.3,
        discrepancy: float = 0.5,
        polish: int = 2,
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
        self.n_samples = n_samples
        self.max_points = max_points
        self.temperature = float(temperature)
        self.flat_weight = float(flat_weight)
        self.discrepancy = float(discrepancy)
        self.polish = polish

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
        zs, info = self.sample_z(u, z, un, nm.asymptote_cap, rng)
        samples = nm.y(zs)
        if not np.all(np.isfinite(samples)):  # unreachable in practice; keep the contract
            samples = np.where(np.isfinite(samples), samples, curve.observed_y[-1])
            info["nonfinite_replaced"] = True
        return Forecast.from_samples(
            x_new, samples, direction=curve.direction, method=self.name, info=info
        )

    # -- the ensemble in canonical space ----------------------------------------------------
    def sample_z(
        self, u: _F, z: _F, un: _F, cap: float, rng: np.random.Generator
    ) -> tuple[_F, dict[str, Any]]:
        """Sample paths in z units, shape ``(n_samples, len(un))``, and diagnostics.

        ``u``, ``z``: observed data, shape ``(n,)``; ``un``: query points, shape ``(m,)``.
        """
        noise_raw = noise_scale(z)
        ahead = np.maximum(np.log(np.maximum(un, 1e-300)), 0.0)
        flat_sd, rate = _flat_band(u, z, noise_raw, ahead)
        if z.size < 3:
            paths = z[-1] + flat_sd[None, :] * rng.standard_normal((self.n_samples, un.size))
            return paths, {"components": {"flat": 1.0}, "fallback": "fewer than 3 points"}
        ub, zb = _bin(u, z, self.max_points)
        sigma_floor = max(noise_raw or 0.0, 1e-3)
        fits = [_fit_family(fam, ub, zb, cap) for fam in FAMILIES]
        fits = self._polish(fits, ub, zb, cap)
        n = zb.size
        scores = []
        for fam, _theta, rss in fits:
            k = fam.n_params
            bic = n * math.log(max(rss / n, (0.3 * sigma_floor) ** 2)) + k * math.log(n)
            scores.append(math.log(fam.prior_share) - bic / (2 * self.temperature))
        s = np.array(scores)
        w = np.exp(s - s.max())
        w = (1 - self.flat_weight) * w / w.sum()
        weights = np.append(w, self.flat_weight)
        counts = rng.multinomial(self.n_samples, weights / weights.sum())
        paths = []
        for (fam, theta, rss), c in zip(fits, counts[:-1], strict=True):
            if c == 0:
                continue
            sigma = max(math.sqrt(rss / max(n - fam.n_params, 1)), sigma_floor)
            thetas = _laplace(fam, ub, theta, sigma, cap, int(c), rng)
            mean = fam(un, thetas)
            paths.append(mean + sigma * rng.standard_normal(mean.shape))
        if counts[-1]:
            paths.append(z[-1] + flat_sd[None, :] * rng.standard_normal((counts[-1], un.size)))
        out = np.concatenate(paths, axis=0)
        # model discrepancy: one shared draw per path, growing with log-distance ahead
        out += (self.discrepancy * rate * ahead)[None, :] * rng.standard_normal((out.shape[0], 1))
        out = np.minimum(out, cap + 0.0 * out) if math.isfinite(cap) else out
        info = {
            "components": {f.name: round(float(v), 4) for (f, _, _), v in zip(fits, w, strict=True)}
            | {"flat": self.flat_weight},
            "n_fit_points": int(n),
        }
        return out[rng.permutation(out.shape[0])], info

    def _polish(
        self, fits: list[tuple[Family, _F, float]], u: _F, z: _F, cap: float
    ) -> list[tuple[Family, _F, float]]:
        if self.polish == 0 or u.size < 4:
            return fits
        from scipy.optimize import least_squares

        order = np.argsort([rss for _, _, rss in fits])[: self.polish]
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
