"""``domhan_mcmc``: the weighted combination of 11 curve families of Domhan et al. (2015),
sampled jointly with ``emcee``.

Model (in the canonical space of :mod:`curvecast.forecast._families`: better is up, observed
values in [0.5, 1.5], ``u = 1`` at the last observed ``x``)::

    f_comb(u) = sum_k w_k f_k(u | theta_k) / sum_k w_k,     z_i ~ N(f_comb(u_i), sigma^2)

Priors, as in the paper: each ``theta_k`` uniform in its family's box (inside which every family
is non-decreasing), ``w_k`` uniform in (0, 1], ``log sigma`` uniform in
[log 1e-4, log 2]; the combined model must be non-decreasing over the observed and queried
points, and its value at the last query point must lie within the metric's bounds (``<= cap``,
the best-side bound in z units, and above the worst observation minus 10 ranges). The weights
are normalised (the paper leaves them free), which makes them identifiable.

The walkers start in a small ball around the best grid fit of every family
(:func:`~curvecast.forecast._families.grid_fit`). Defaults: ``nwalkers = 100`` (about twice the
48 dimensions), ``nsteps = 600`` of which the first ``burn = 400`` are dropped, 1000 sample
paths; about 1-3 s per curve of 20-100 points on one core. Curves longer than ``max_points``
are binned first; curves with fewer than 3 points get the flat band of ``parametric``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Curve
from curvecast.exceptions import parameter_error
from curvecast.forecast._families import FAMILIES, Normaliser, grid_fit
from curvecast.forecast._result import Forecast
from curvecast.forecast.parametric import ParametricForecaster, _bin

__all__ = ["DomhanMCMCForecaster"]

_F = NDArray[np.float64]
_K = len(FAMILIES)
_SIZES = [fam.n_params for fam in FAMILIES]
_OFFSETS = np.concatenate([[0], np.cumsum(_SIZES)]).astype(int)
_NTHETA = int(_OFFSETS[-1])
_NDIM = _NTHETA + _K + 1
_LOG_SIGMA = (math.log(1e-4), math.log(2.0))


class DomhanMCMCForecaster:
    """Domhan et al.'s combined-family model sampled with emcee (see the module docstring).

    Args:
        nwalkers: emcee walkers (even, >= 2 * 48 + 2 = 98 is required by emcee's stretch move
            for 48 dimensions; smaller values are raised to that).
        nsteps: steps per walker, including burn-in.
        burn: steps dropped at the start.
        n_samples: sample paths kept in the Forecast.
        max_points: longer curves are binned to this many points.

    Example:
        >>> import numpy as np
        >>> from curvecast import Curve
        >>> x = np.arange(1.0, 11.0)
        >>> f = DomhanMCMCForecaster(nsteps=200, burn=100).forecast(
        ...     Curve(x, 0.9 - 0.5 * x**-0.7), np.array([20.0]), rng=np.random.default_rng(0))
        >>> bool(0.7 < f.median[0] < 0.95)
        True
    """

    name = "domhan_mcmc"

    def __init__(
        self,
        nwalkers: int = 100,
        nsteps: int = 600,
        burn: int = 400,
        n_samples: int = 1000,
        max_points: int = 100,
    ) -> None:
        owner = "DomhanMCMCForecaster"
        for name, value, low in (
            ("nwalkers", nwalkers, 2),
            ("nsteps", nsteps, 2),
            ("burn", burn, 0),
            ("n_samples", n_samples, 100),
            ("max_points", max_points, 10),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise parameter_error(name, owner, f"an int >= {low}", value)
        if burn >= nsteps:
            raise parameter_error("burn", owner, f"an int < nsteps ({nsteps})", burn)
        self.nwalkers = max(nwalkers + nwalkers % 2, 2 * _NDIM + 2)
        self.nsteps = nsteps
        self.burn = burn
        self.n_samples = n_samples
        self.max_points = max_points

    def forecast(
        self,
        curve: Curve,
        x_new: NDArray[np.float64],
        *,
        rng: np.random.Generator,
        context: Sequence[Curve] = (),
    ) -> Forecast:
        """Posterior predictive sample paths at ``x_new`` (shape ``(m,)``)."""
        nm = Normaliser.from_curve(curve)
        u, z = nm.u(curve.observed_x), nm.z(curve.observed_y)
        un = nm.u(np.asarray(x_new, dtype=np.float64))
        if z.size < 3:
            zs, info = ParametricForecaster(n_samples=self.n_samples).sample_z(
                u, z, un, nm.asymptote_cap, rng
            )
        else:
            try:
                zs, info = self._sample(u, z, un, nm.asymptote_cap, rng)
            except ValueError as exc:  # emcee refuses a start with no finite log probability
                zs, info = ParametricForecaster(n_samples=self.n_samples).sample_z(
                    u, z, un, nm.asymptote_cap, rng
                )
                info["fallback"] = f"parametric: {exc}"
        samples = nm.y(zs)
        if not np.all(np.isfinite(samples)):
            samples = np.where(np.isfinite(samples), samples, curve.observed_y[-1])
            info["nonfinite_replaced"] = True
        return Forecast.from_samples(
            x_new, samples, direction=curve.direction, method=self.name, info=info
        )

    def _sample(
        self, u: _F, z: _F, un: _F, cap: float, rng: np.random.Generator
    ) -> tuple[_F, dict[str, object]]:
        import emcee

        ub, zb = _bin(u, z, self.max_points)
        lo = np.concatenate([fam.bounds(cap)[0] for fam in FAMILIES] + [np.zeros(_K), [0.0]])
        hi = np.concatenate([fam.bounds(cap)[1] for fam in FAMILIES] + [np.ones(_K), [0.0]])
        lo[-1], hi[-1] = _LOG_SIGMA
        check = np.unique(np.concatenate([ub, un]))
        z_low = float(np.min(zb)) - 10.0

        def combined(params: _F, at: _F) -> _F:  # (W, D) -> (W, len(at))
            w = params[:, _NTHETA : _NTHETA + _K]
            total = np.zeros((params.shape[0], at.size))
            for k, fam in enumerate(FAMILIES):
                theta = params[:, _OFFSETS[k] : _OFFSETS[k + 1]]
                total += w[:, k, None] * fam(at, theta)
            return total / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)

        def log_prob(params: _F) -> _F:
            out = np.full(params.shape[0], -np.inf)
            inside = np.all((params >= lo) & (params <= hi), axis=1)
            inside &= params[:, _NTHETA : _NTHETA + _K].sum(axis=1) > 1e-9
            if not np.any(inside):
                return out
            p = params[inside]
            curve = combined(p, check)
            ok = np.all(np.diff(curve, axis=1) >= -1e-9, axis=1)
            last = curve[:, -1]
            ok &= (last <= cap) & (last >= z_low)
            fit = combined(p, ub)
            sigma = np.exp(p[:, -1])
            ll = -0.5 * np.sum((fit - zb) ** 2, axis=1) / sigma**2 - zb.size * np.log(sigma)
            out[inside] = np.where(ok & np.isfinite(ll), ll, -np.inf)
            return out

        start = self._start(ub, zb, cap, lo, hi, log_prob, rng)
        sampler = emcee.EnsembleSampler(self.nwalkers, _NDIM, log_prob, vectorize=True)
        sampler.random_state = np.random.RandomState(int(rng.integers(2**32))).get_state()
        with np.errstate(invalid="ignore"):  # emcee subtracts -inf from -inf for rejected moves
            sampler.run_mcmc(start, self.nsteps, progress=False)
        chain = sampler.get_chain(discard=self.burn, flat=True)
        keep = chain[rng.integers(0, chain.shape[0], size=self.n_samples)]
        mean = combined(keep, un)
        paths = mean + np.exp(keep[:, -1])[:, None] * rng.standard_normal(mean.shape)
        info: dict[str, object] = {
            "acceptance": round(float(np.mean(sampler.acceptance_fraction)), 3),
            "nwalkers": self.nwalkers,
            "nsteps": self.nsteps,
            "burn": self.burn,
        }
        return paths, info

    def _start(
        self, u: _F, z: _F, cap: float, lo: _F, hi: _F, log_prob: object,
        rng: np.random.Generator,
    ) -> _F:  # fmt: skip
        """Initial walkers, shape ``(nwalkers, D)``, all with finite log probability."""
        centre = np.empty(_NDIM)
        rss = np.empty(_K)
        for k, fam in enumerate(FAMILIES):
            thetas, r = grid_fit(fam, u, z, cap)
            centre[_OFFSETS[k] : _OFFSETS[k + 1]] = thetas[0]
            rss[k] = r[0]
        centre[_NTHETA : _NTHETA + _K] = 0.5
        sigma = math.sqrt(max(float(np.min(rss)) / z.size, 1e-6))
        centre[-1] = float(np.clip(math.log(sigma), *_LOG_SIGMA))
        scale = 1e-3 * np.maximum(np.abs(centre), 1e-2)
        scale[_NTHETA : _NTHETA + _K] = 0.1
        scale[-1] = 0.1
        span = hi - lo
        walkers = centre + scale * rng.standard_normal((self.nwalkers, _NDIM))
        walkers = np.clip(walkers, lo + 1e-9 * span, hi - 1e-9 * span)
        good = np.isfinite(log_prob(walkers))  # type: ignore[operator]
        if not np.all(good):  # a walker outside the support starts at the centre's best copy
            fallback = walkers[good][0] if np.any(good) else np.clip(centre, lo, hi)
            jitter = 1e-6 * rng.standard_normal(((~good).sum(), _NDIM))
            walkers[~good] = np.clip(fallback + jitter * span.clip(max=1.0), lo, hi)
        return walkers
