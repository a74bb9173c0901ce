"""``schedule_law``: extrapolate a loss curve along its known learning-rate schedule.

Tissue et al. 2024 ("Scaling law with learning rate annealing") describe a loss curve under any
schedule by two areas of the schedule (see :mod:`curvecast.schedules`)::

    L(x) = L0 + A * S1(x) ** (-alpha) - C * S2(x; tau)

``S1`` is the summed learning rate (progress), ``S2`` the annealing area (the extra drop that a
decaying rate buys). Both are known in advance for every ``x`` up to the horizon, so a fit to the
observed part extrapolates the curve *along the schedule*: it bends down where a cosine, linear,
step or WSD decay begins, even when that is far beyond the observed part.

Fit. The law is fitted to the latest part of the observed curve (``x >= fit_from * x_last``, at
least ``min_points`` points): it describes a curve locally, and the early transient of a small
model (a plateau, then a plunge) is no power law in ``S1``; fitting it drags the level at the last
point away from the data. ``S1`` and ``S2`` are divided by ``S1(end)`` so that ``c = C / A`` is a
dimensionless "annealing gain". For each cell of a small grid over ``(alpha, tau, c)`` the law is
linear in ``(L0, A)``, solved in closed form; cells with ``A <= 0`` are dropped and the rest are
weighted by a tempered likelihood (``RSS ** (-n_t / 2)``, ``n_t = min(n, temper)``: the residuals
of a misspecified law are not independent, so the full ``n`` would be over-confident) times the
prior of ``c``. Predictive paths draw a cell, then ``(L0, A)`` from the cell's Gaussian posterior,
and add the observation noise.

The annealing gain ``c`` cannot be learnt from a curve whose rate has not yet decayed. Its prior is
a broad log-normal, updated by the search: each context curve that carries a schedule (``meta
["schedule"]``) contributes its own posterior over ``c`` (a curve that has been through its decay
says how much annealing helped in this search), and the prior is the mixture
``(k0 * default + sum of context posteriors) / (k0 + n_context)``.

The metric may be a loss (minimised) or a score (maximised: the law is fitted to ``-y``). Curves
with fewer than :attr:`ScheduleLawForecaster.min_points` points, or no schedule, are forecast by
``fallback`` ("parametric").
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Curve
from curvecast.exceptions import parameter_error
from curvecast.forecast._result import Forecast
from curvecast.forecast._util import noise_scale, value_scale
from curvecast.forecast.ensemble import mix_quantiles
from curvecast.schedules import Schedule, as_schedule

__all__ = [
    "ScheduleEnsembleForecaster",
    "ScheduleLawForecaster",
    "curve_schedule",
    "law_features",
]

_F = NDArray[np.float64]

_ALPHAS = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0, 1.25, 1.6, 2.0])
_TAUS = np.array([0.01, 0.03, 0.1])  # momentum memory as a fraction of the schedule's end
_GAINS = np.concatenate([[0.0], np.geomspace(0.01, 30.0, 16)])


def curve_schedule(curve: Curve) -> Schedule | None:
    """The schedule a curve carries in ``meta["schedule"]`` (a dict spec or Schedule), or None."""
    return as_schedule(curve.meta.get("schedule"), field="meta['schedule']")


@lru_cache(maxsize=4096)
def _areas(spec_json: str, tau_fracs: tuple[float, ...]) -> tuple[_F, _F, tuple[_F, ...]]:
    """(grid, S1 on the grid / S1(end), S2 on the grid / S1(end) for each tau)."""
    s = Schedule(json.loads(spec_json))
    gx, _ = s.grid(1025)
    s1 = s.forward_area(gx)
    norm = float(s1[-1]) if s1[-1] > 0 else 1.0
    s2 = tuple(s.annealing_area(gx, max(t * s.end, 1e-12)) / norm for t in tau_fracs)
    return gx, s1 / norm, s2


def law_features(schedule: Schedule, x: _F) -> tuple[_F, _F]:
    """The law's inputs at ``x`` (shape ``(n,)``): ``S1(x) / S1(end)`` of shape ``(n,)`` and
    ``S2(x; tau) / S1(end)`` for each tau of the grid, shape ``(len(taus), n)``."""
    gx, s1, s2 = _areas(schedule.to_json(), tuple(_TAUS.tolist()))
    xs = np.asarray(x, dtype=np.float64)
    return np.interp(xs, gx, s1), np.stack([np.interp(xs, gx, a) for a in s2])


class _Fit:
    """The grid posterior of one curve: cell parameters and weights (log, unnormalised)."""

    def __init__(self, s1: _F, s2: _F, z: _F, noise: float, temper: float, log_prior_c: _F) -> None:
        n = z.size
        # g[a, t, c, i] = S1^-alpha - c * S2_tau
        f1 = s1[None, :] ** (-_ALPHAS[:, None])  # (A, n)
        g = f1[:, None, None, :] - _GAINS[None, None, :, None] * s2[None, :, None, :]
        gm = g.mean(axis=-1, keepdims=True)
        zm = z.mean()
        gc = g - gm
        sgg = np.sum(gc * gc, axis=-1)
        sgz = np.sum(gc * (z - zm), axis=-1)
        ok = sgg > 1e-300
        a = np.where(ok, sgz / np.where(ok, sgg, 1.0), 0.0)
        l0 = zm - a * gm[..., 0]
        rss = np.sum((z - zm) ** 2) - a * sgz
        rss = np.maximum(rss, n * noise**2)
        n_t = min(float(n), temper)
        logw = -0.5 * n_t * np.log(rss / n) + log_prior_c[None, :, :]
        logw = np.where(ok & (a > 0), logw, -np.inf)
        self.a, self.l0, self.rss, self.logw = a, l0, rss, logw
        self.sgg, self.gm, self.n = sgg, gm[..., 0], n

    def posterior_c(self) -> _F | None:
        """The normalised posterior over (tau, gain), shape ``(len(taus), len(gains))``, or
        None when no cell is usable. Joint, since a longer memory asks for a larger gain."""
        lw = self.logw
        if not np.any(np.isfinite(lw)):
            return None
        w = np.exp(lw - np.max(lw))
        pc = w.sum(axis=0)
        return pc / pc.sum()


class ScheduleLawForecaster:
    """Tissue et al.'s annealing law fitted along the curve's known schedule.

    The curve's schedule is read from ``curve.meta["schedule"]`` (:func:`curvecast.forecast`
    puts it there from its ``schedule`` argument); context curves carry their own the same way.

    Args:
        n_samples: joint sample paths in the Forecast (>= 100).
        temper: the largest number of points the likelihood counts as independent (> 0).
        fit_from: fit the points with ``x >= fit_from * x_last`` (at least ``min_points`` of
            the latest), in [0, 1): the law describes the curve locally, and the early transient
            of a small model is no power law in ``S1``.
        gain_prior: ``(median, sd of log)`` of the default log-normal prior on the annealing
            gain ``c``.
        k0: weight of the default prior against each context curve's posterior (> 0).
        min_points: fewer observed points (after warm-up) fall back to ``fallback``.
        fallback: a registered method name for curves the law cannot fit.

    Example:
        >>> import numpy as np
        >>> from curvecast import Curve
        >>> spec = {"name": "wsd", "peak_lr": 1e-3, "total": 1000, "decay": 200}
        >>> x = np.arange(50.0, 1001.0, 50.0)
        >>> from curvecast.schedules import Schedule
        >>> s1, s2 = law_features(Schedule(spec), x)
        >>> y = 2.0 + 0.5 * s1 ** -0.5 - 0.3 * s2[1]
        >>> curve = Curve(x[:12], y[:12], direction="minimize", meta={"schedule": spec})
        >>> f = ScheduleLawForecaster().forecast(curve, x[-1:], rng=np.random.default_rng(0))
        >>> bool(f.median[0] < y[11])  # it sees the cool-down coming
        True
    """

    name = "schedule_law"

    def __init__(
        self,
        n_samples: int = 1000,
        temper: float = 2.0,
        gain_prior: tuple[float, float] = (0.3, 1.5),
        k0: float = 2.0,
        min_points: int = 5,
        fallback: str = "parametric",
        fit_from: float = 0.7,
    ) -> None:
        owner = "ScheduleLawForecaster"
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 100:
            raise parameter_error("n_samples", owner, "an int >= 100", n_samples)
        if not isinstance(temper, int | float) or isinstance(temper, bool) or not temper > 0:
            raise parameter_error("temper", owner, "a positive number", temper)
        if (
            not isinstance(gain_prior, tuple | list)
            or len(gain_prior) != 2
            or not all(isinstance(v, int | float) and v > 0 for v in gain_prior)
        ):
            raise parameter_error("gain_prior", owner, "a pair (median > 0, sd > 0)", gain_prior)
        if not isinstance(k0, int | float) or isinstance(k0, bool) or not k0 > 0:
            raise parameter_error("k0", owner, "a positive number", k0)
        if isinstance(min_points, bool) or not isinstance(min_points, int) or min_points < 3:
            raise parameter_error("min_points", owner, "an int >= 3", min_points)
        if (
            not isinstance(fit_from, int | float)
            or isinstance(fit_from, bool)
            or not (0 <= fit_from < 1)
        ):
            raise parameter_error("fit_from", owner, "a number in [0, 1)", fit_from)
        self.fit_from = float(fit_from)
        self.n_samples = n_samples
        self.temper = float(temper)
        self.gain_prior = (float(gain_prior[0]), float(gain_prior[1]))
        self.k0 = float(k0)
        self.min_points = min_points
        self.fallback = fallback

    # -- pieces ----------------------------------------------------------------------------
    def _default_log_prior(self) -> _F:
        med, sd = self.gain_prior
        g = _GAINS.copy()
        g[0] = _GAINS[1] / 2  # the "no gain" cell stands for everything below the grid
        lp = -0.5 * ((np.log(g) - math.log(med)) / sd) ** 2
        p = np.exp(lp - lp.max())
        joint = np.repeat(p[None, :], _TAUS.size, axis=0)  # memory: uniform over the grid
        return joint / joint.sum()

    def _prepare(self, curve: Curve, schedule: Schedule) -> tuple[_F, _F, _F, float] | None:
        """(S1, S2 per tau, z) on the usable points and the noise floor; None if too few."""
        x, y = curve.observed_x, curve.observed_y
        z = -y if curve.direction == "maximize" else y
        s1, s2 = law_features(schedule, x)
        lr = schedule.lr(x)
        past_warmup = (s1 > 0) & ~((lr < 0.5 * schedule.peak) & (x < _peak_x(schedule)))
        keep = past_warmup if past_warmup.sum() >= self.min_points else s1 > 0
        recent = keep & (x >= self.fit_from * x[-1])
        if recent.sum() < self.min_points:
            idx = np.flatnonzero(keep)[-self.min_points :]
            recent = np.zeros_like(keep)
            recent[idx] = True
        keep = recent
        if keep.sum() < self.min_points:
            return None
        noise = noise_scale(z[keep])
        scale = value_scale(curve)
        floor = max(noise if noise is not None else 0.0, 1e-4 * scale, 1e-12)
        return s1[keep], s2[:, keep], z[keep], floor

    def _gain_prior(self, context: Sequence[Curve]) -> tuple[_F, int]:
        """The prior over (tau, gain), shape ``(len(taus), len(gains))``, and how many context
        curves shaped it."""
        prior = self._default_log_prior()
        mix = self.k0 * prior
        flat = np.zeros(
            (_TAUS.size, _GAINS.size)
        )  # each context curve speaks for itself; the prior is mixed in
        used = 0
        for c in context:
            try:
                sched = curve_schedule(c)
            except Exception:
                continue
            if sched is None or c.observed_x[-1] > sched.end * (1 + 1e-9):
                continue
            prep = self._prepare(c, sched)
            if prep is None:
                continue
            s1, s2, z, floor = prep
            post = _Fit(s1, s2, z, floor, self.temper, flat).posterior_c()
            if post is not None:
                mix = mix + post
                used += 1
        return mix / mix.sum(), used

    # -- the method ----------------------------------------------------------------------------
    def forecast(
        self,
        curve: Curve,
        x_new: _F,
        *,
        rng: np.random.Generator,
        context: Sequence[Curve] = (),
    ) -> Forecast:
        schedule = curve_schedule(curve)
        prep = None
        if schedule is not None and x_new[-1] <= schedule.end * (1 + 1e-9):
            prep = self._prepare(curve, schedule)
        if schedule is None or prep is None:
            return self._fall_back(curve, x_new, rng, context, "no schedule or too few points")
        s1, s2, z, floor = prep
        prior_c, used = self._gain_prior(context)
        with np.errstate(divide="ignore"):
            log_prior_c = np.log(prior_c)  # (taus, gains)
        fit = _Fit(s1, s2, z, floor, self.temper, log_prior_c)
        if not np.any(np.isfinite(fit.logw)):
            return self._fall_back(curve, x_new, rng, context, "the law does not fit")
        w = np.exp(fit.logw - np.max(fit.logw)).ravel()
        w /= w.sum()
        cells = rng.choice(w.size, size=self.n_samples, p=w)
        ia, it, ic = np.unravel_index(cells, fit.logw.shape)
        q1, q2 = law_features(schedule, x_new)
        g_new = q1[None, :] ** (-_ALPHAS[ia][:, None]) - _GAINS[ic][:, None] * q2[it]
        # (L0, A) from the cell's posterior: A ~ N(a, s2 / sgg); L0 = mean(z) - A * mean(g)
        dof = max(fit.n - 2, 1)
        s2_cell = fit.rss[ia, it, ic] / dof
        a_hat = fit.a[ia, it, ic]
        a_sd = np.sqrt(s2_cell / fit.sgg[ia, it, ic])
        a = np.abs(a_hat + a_sd * rng.standard_normal(self.n_samples))
        zbar = z.mean()
        l0 = (
            zbar
            - a * fit.gm[ia, it, ic]
            + np.sqrt(s2_cell / fit.n) * rng.standard_normal(self.n_samples)
        )
        sigma = np.sqrt(s2_cell)
        paths = l0[:, None] + a[:, None] * g_new
        paths = paths + sigma[:, None] * rng.standard_normal(paths.shape)
        if curve.direction == "maximize":
            paths = -paths
        pc = np.bincount(ic, minlength=_GAINS.size) / self.n_samples
        info: dict[str, Any] = {
            "schedule": schedule.name,
            "context_used": used,
            "gain_median": float(np.interp(0.5, np.cumsum(pc), _GAINS)),
            "alpha_mean": float(np.mean(_ALPHAS[ia])),
        }
        return Forecast.from_samples(
            x_new, paths, direction=curve.direction, method=self.name, info=info
        )

    def _fall_back(
        self,
        curve: Curve,
        x_new: _F,
        rng: np.random.Generator,
        context: Sequence[Curve],
        why: str,
    ) -> Forecast:
        from curvecast.forecast._base import get_forecaster

        fb = get_forecaster(self.fallback)
        f = fb.forecast(curve, x_new, rng=rng, context=context)
        info = {**f.info, "fallback": fb.name, "fallback_reason": why}
        return Forecast(
            x_new, f.grid_values, direction=curve.direction, method=self.name,
            samples=f.samples, info=info,
        )  # fmt: skip


def _peak_x(schedule: Schedule) -> float:
    if "name" in schedule.spec:
        return float(schedule.spec["warmup"])
    xs, lr = np.asarray(schedule.spec["x"]), np.asarray(schedule.spec["lr"])
    return float(xs[int(np.argmax(lr))])


class ScheduleEnsembleForecaster:
    """``schedule_ensemble``: the schedule-blind default (what "auto" means without a schedule)
    mixed with ``schedule_law`` by how much of the schedule has been run.

    What ``method="auto"`` uses when the curve has a schedule. The law knows where the schedule
    bends the curve, but extrapolates badly from a short start; the default is calibrated on
    curves of every shape but blind to the schedule. The mixture (see
    :func:`~curvecast.forecast.ensemble.mix_quantiles`) gives the law the weight
    ``w = S1(x_last) / S1(end)``, the share of the schedule's summed learning rate already
    observed (the law's own measure of how far it must extrapolate), and the default ``1 - w``.
    Where the law cannot fit (no schedule, or fewer than its ``min_points`` points past
    warm-up) the answer is the default's alone. Measured on the ``schedules`` suite in
    docs/schedules.md.

    Args:
        law: the schedule-aware method's registered name.
        base: the schedule-blind method's registered name, or "auto" (default): what "auto"
            means without a schedule, ``calibrated`` with 3 or more context curves (the PFN
            recalibrated on the search) and ``ensemble`` with fewer. On the ``schedules``
            suite's replayed searches the calibrated base lets the pruner stop more at the
            same regret (README, the pruning table).

    Example:
        >>> import numpy as np
        >>> from curvecast import Curve
        >>> spec = {"name": "cosine", "peak_lr": 1e-3, "total": 100}
        >>> x = np.arange(5.0, 41.0, 5.0)
        >>> c = Curve(x, 3 - np.log1p(x) / 3, direction="minimize", meta={"schedule": spec})
        >>> f = ScheduleEnsembleForecaster().forecast(c, np.array([100.0]),
        ...                                            rng=np.random.default_rng(0))
        >>> f.method, 0.0 < f.info["law_weight"] < 1.0
        ('schedule_ensemble', True)
    """

    name = "schedule_ensemble"

    def __init__(self, law: str = "schedule_law", base: str = "auto") -> None:
        for field, value in (("law", law), ("base", base)):
            if not isinstance(value, str) or not value:
                raise parameter_error(field, "ScheduleEnsembleForecaster", "a method name", value)
        self.law = law
        self.base = base

    def forecast(
        self,
        curve: Curve,
        x_new: _F,
        *,
        rng: np.random.Generator,
        context: Sequence[Curve] = (),
    ) -> Forecast:
        from curvecast.forecast._base import get_forecaster, resolve_auto

        base_name = resolve_auto(len(context)) if self.base == "auto" else self.base
        base = get_forecaster(base_name).forecast(curve, x_new, rng=rng, context=context)
        law = get_forecaster(self.law)
        schedule = curve_schedule(curve)
        weight = 0.0
        if schedule is not None and x_new[-1] <= schedule.end * (1 + 1e-9):
            prepare = getattr(law, "_prepare", None)
            if prepare is None or prepare(curve, schedule) is not None:
                s1, _ = law_features(schedule, curve.observed_x[-1:])
                weight = float(np.clip(s1[0], 0.0, 1.0))
        info: dict[str, Any] = {"members": [base_name, self.law], "law_weight": weight}
        if weight <= 0.0:
            return Forecast(
                x_new, base.grid_values, direction=curve.direction, method=self.name, info=info
            )
        fl = law.forecast(curve, x_new, rng=rng, context=context)
        values = mix_quantiles([base.grid_values, fl.grid_values], np.array([1 - weight, weight]))
        return Forecast(x_new, values, direction=curve.direction, method=self.name, info=info)
