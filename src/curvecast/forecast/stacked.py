"""``stacked``: the search's other runs as evidence that can only help.

A forecast made with the search's completed runs as context can be better than the curve's
forecast alone (the runs show how curves of this search go on) or much worse: with two completed
runs a learned forecaster reads them as the only way a run can end and collapses onto their
finals; in a search whose runs cross (learning rates 100x apart, cosine against constant
schedules, boosting runs that overfit) the runs say little about each other. Nothing in one
forecast tells which. The search itself can: each completed run, cut at the same fraction of its
run as this curve, is a backtest whose truth is known.

For each of up to :data:`MAX_BACKTESTS` completed runs (those whose level at that fraction is
nearest this curve's, as :mod:`curvecast.forecast.calibrated` picks them), both members forecast
the run's prefix at the same fractions of its run as the queries:

- ``alone``: the curve's own forecast, without context (default ``ensemble``, the default for a
  curve alone);
- ``with_context``: a forecast that reads the other runs (default ``pfn`` with the others as
  its context, leave-one-out).

Per query point, the weight ``w`` of the context member in the mixture
``F = w F_context + (1 - w) F_alone`` is the one of :data:`WEIGHTS` whose mixture had the lowest
mean CRPS on those backtests, shrunk towards the curve alone by ``n / (n + k0)``: with ``n``
backtests the context can take at most that share, so two completed runs (``n = 2``, default
``k0 = 4``) move a forecast a third of the way, never onto their finals. A third member, the
last observed value (``last_value``), is then mixed in the same way with a weight chosen and
shrunk alike: where the search's runs overfit or plateau (boosting, noisy RL returns), the
backtests show that the value already reached is the better bet. The mixture is then
recalibrated on the same backtests as :mod:`~curvecast.forecast.calibrated` recalibrates the PFN
(split-conformal shift and scale; with fewer than 9 backtests the band is only ever widened), and
the recalibration is kept only where it lowered the backtests' mean CRPS (so one or two
backtests can widen a band that missed them, never narrow it).

Last, where the search's runs end is evidence too. The mixture's density is multiplied by the
kernel density of the other runs' values at the same fraction of their runs, raised to a power
(:func:`population_tilt`, a product of experts). The power is chosen from :data:`TILTS` on the
same backtests (each leaving its own run out) and shrunk alike; it acts only where it lowered
their CRPS by more than :data:`TILT_MARGIN` standard errors, from 6 completed runs on. A
forecast is calibrated over all runs but not told where this one stands: on replayed searches
(``scripts/beat_calibration.py``) runs given a 20-50% chance of beating the best completed run
did so a few times in a hundred, and the search's finals show why (a run rarely ends beyond
every run before it). With no usable backtest the answer is the curve alone.

The backtests depend on the search and the cutoff only: the curve-alone ones are cached per run
and cutoff (a completed run does not change), the context ones per search and cutoff.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Curve
from curvecast.exceptions import parameter_error
from curvecast.forecast._result import GRID, Forecast
from curvecast.forecast.calibrated import (
    _digest,
    _run_base,
    backtest_cut,
    backtest_runs,
    conformal_shift_scale,
)

__all__ = [
    "MAX_BACKTESTS",
    "MIN_POPULATION",
    "TILTS",
    "TILT_MARGIN",
    "WEIGHTS",
    "StackedForecaster",
    "population_tilt",
    "stacked_pfn",
]

_F = NDArray[np.float64]
#: A mixture's parameters at one query: context weight, last-value weight, conformal shift and
#: scale, number of backtests, the population tilt's strength.
_Params = tuple[float, float, float, float, int, float]

#: At most this many completed runs are backtested per cutoff.
MAX_BACKTESTS = 16
#: The context member's candidate weights.
WEIGHTS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
#: The candidate strengths of the population tilt (see :func:`population_tilt`).
TILTS: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
#: A tilt is kept only where it lowers the backtests' mean CRPS by more than this many standard
#: errors of their paired differences. Measured on the held-out suites (docs/context.md): with
#: no margin the tilt narrowed CartPole returns' bands (90% coverage 0.62 -> 0.52 with 16 runs)
#: and the pruner lost the best LM run in one order of six; with 2 neither.
TILT_MARGIN = 2.0
#: No tilt with fewer than this many runs' values at a query (a kernel density of fewer says
#: little): from 6 completed runs on, as each backtest leaves its own run out.
MIN_POPULATION = 5
#: The share of the tilt's weight spread evenly over the forecast's range, so that a value no
#: completed run reached keeps some weight.
_TILT_FLOOR = 0.02
_I05, _I50, _I95 = (int(np.argmin(np.abs(GRID - v))) for v in (0.05, 0.5, 0.95))
_CACHE_SIZE = 8192
#: The third member: the last observed value (the strong baseline of the LCDB study), which
#: the backtests favour where runs overfit or plateau and extrapolations overshoot.
LAST = "last_value"


class StackedForecaster:
    """The curve's forecast alone and with the search as context, mixed by how each did on
    backtests of the search's completed runs (see the module docstring).

    Args:
        alone: the registered method for the curve alone (it is given no context).
        with_context: the registered method that reads the other runs.
        k0: prior weight, in backtests, of "the context does not help" (> 0).

    Raises:
        InvalidParameterError: a parameter out of range.

    Example:
        >>> import numpy as np
        >>> from curvecast import Curve
        >>> x = np.arange(1.0, 31.0)
        >>> runs = [Curve(x, a - 0.4 * x**-0.5, bounds=(0, 1)) for a in (0.8, 0.85, 0.9)]
        >>> f = StackedForecaster().forecast(runs[0].truncate(8), np.array([30.0]),
        ...                                  rng=np.random.default_rng(0), context=runs[1:])
        >>> f.info["stacking"]["backtests"]
        2
    """

    name = "stacked"

    def __init__(self, alone: str = "ensemble", with_context: str = "pfn", k0: float = 4.0) -> None:
        owner = "StackedForecaster"
        for field, m in (("alone", alone), ("with_context", with_context)):
            if not isinstance(m, str) or m in ("auto", self.name):
                raise parameter_error(field, owner, "a registered method name", m)
        if isinstance(k0, bool) or not isinstance(k0, int | float) or not k0 > 0:
            raise parameter_error("k0", owner, "a positive number", k0)
        self.alone = alone
        self.with_context = with_context
        self.k0 = float(k0)
        self._cache: OrderedDict[tuple[Any, ...], _F] = OrderedDict()
        self._params: OrderedDict[tuple[Any, ...], list[_Params]] = OrderedDict()

    def forecast(
        self,
        curve: Curve,
        x_new: _F,
        *,
        rng: np.random.Generator,
        context: Sequence[Curve] = (),
    ) -> Forecast:
        return self.forecast_batch([curve], [x_new], rngs=[rng], context=context)[0]

    def forecast_batch(
        self,
        curves: Sequence[Curve],
        x_news: Sequence[_F],
        *,
        rngs: Sequence[np.random.Generator] | None = None,
        context: Sequence[Curve] = (),
    ) -> list[Forecast]:
        gens = list(rngs) if rngs is not None else [np.random.default_rng(0)] * len(curves)
        if not context:
            return [self._tag(fc, None) for fc in _run_base(self.alone, curves, x_news, gens, ())]
        digest = _digest(context)
        # the mixture's parameters first: they rest on the backtests alone, and a member whose
        # weight is 0 at every query (the last value, in most searches) need not be run
        fitted: list[list[_Params] | None] = []
        populations: list[_F | None] = []
        for curve, xq in zip(curves, x_news, strict=True):
            picked = backtest_runs(curve, xq, context, 1, MAX_BACKTESTS)
            if picked is None:  # no completed run reaches past this cutoff: the curve alone
                fitted.append(None)
                populations.append(None)
                continue
            frac, rel, usable = picked
            key = (digest, round(frac, 12), rel.tobytes(), tuple(usable))
            params = self._params.get(key)
            if params is None:  # fit once per backtest set
                params = self._params[key] = self._fit(*self._backtests(context, digest, picked))
                while len(self._params) > _CACHE_SIZE:
                    self._params.popitem(last=False)
            fitted.append(params)
            # the runs' values at the queries, only where a tilt was chosen
            tilted = any(p[5] > 0 for p in params)
            populations.append(_population(context, rel) if tilted else None)
        k = len(curves)
        use_c = [i for i, f in enumerate(fitted) if f and any(p[0] > 0 and p[4] for p in f)]
        use_l = [i for i, f in enumerate(fitted) if f and any(p[1] > 0 and p[4] for p in f)]

        def pick(seq: Sequence[Any], idx: list[int]) -> list[Any]:
            return [seq[i] for i in idx]

        if self.alone == self.with_context:  # one batch: the PFN packs both into one pass
            both = _run_base(
                self.alone, [*curves, *pick(curves, use_c)], [*x_news, *pick(x_news, use_c)],
                gens + pick(gens, use_c), [()] * k + [context] * len(use_c),
            )  # fmt: skip
            alone, joint_of = both[:k], dict(zip(use_c, both[k:], strict=True))
        else:
            alone = _run_base(self.alone, curves, x_news, gens, ())
            joint = _run_base(
                self.with_context, pick(curves, use_c), pick(x_news, use_c), pick(gens, use_c),
                context,
            )  # fmt: skip
            joint_of = dict(zip(use_c, joint, strict=True))
        last = _run_base(LAST, pick(curves, use_l), pick(x_news, use_l), pick(gens, use_l), ())
        last_of = dict(zip(use_l, last, strict=True))
        out = []
        for i, (a, params) in enumerate(zip(alone, fitted, strict=True)):
            if params is None:
                out.append(self._tag(a, None))
                continue
            # a member not run has weight 0 at every query, where the mixture never reads it
            out.append(
                self._stack(a, joint_of.get(i, a), last_of.get(i, a), params, populations[i])
            )
        return out

    def _tag(self, fc: Forecast, stacking: dict[str, Any] | None) -> Forecast:
        info = dict(fc.info)
        info["stacking"] = stacking or {"backtests": 0, "weight": [0.0] * fc.x_new.size}
        return Forecast(fc.x_new, fc.grid_values, direction=fc.direction, method=self.name,
                        info=info)  # fmt: skip

    # -- backtests ------------------------------------------------------------------------
    def _backtests(
        self, context: Sequence[Curve], digest: str, picked: tuple[float, _F, list[int]]
    ) -> tuple[_F, _F, _F, _F, _F]:
        """Backtests on the completed runs ``picked`` by :func:`backtest_runs` (``digest``: the
        context's): the alone, the context and the last value member's quantiles, each shape
        ``(n, m, len(GRID))``, the truths, shape ``(n, m)``, and the other runs' values at the
        same fractions of their runs, shape ``(n, m, len(context))`` (NaN: the run itself, or
        a run that does not reach there)."""
        frac, rel, usable = picked
        key = (round(frac, 12), rel.tobytes())
        prefixes, queries, truths = [], [], []
        for i in usable:
            c = context[i]
            prefix, query = backtest_cut(c, frac, rel)
            prefixes.append(prefix)
            queries.append(query)
            truths.append(np.interp(query, c.observed_x, c.observed_y))
        own = [("alone", self.alone, _curve_digest(context[i]), *key) for i in usable]
        last = [("alone", LAST, _curve_digest(context[i]), *key) for i in usable]
        joint = [("joint", self.with_context, digest, i, *key) for i in usable]
        self._fill(own, prefixes, queries, [()] * len(usable))
        self._fill(last, prefixes, queries, [()] * len(usable))
        self._fill(
            joint, prefixes, queries,
            [[o for j, o in enumerate(context) if j != i] for i in usable],
        )  # fmt: skip
        a = np.stack([self._cache[k] for k in own])
        cj = np.stack([self._cache[k] for k in joint])
        lv = np.stack([self._cache[k] for k in last])
        pop = _population(context, rel)  # (len(context), m)
        pops = np.repeat(pop.T[None, :, :], len(usable), axis=0)
        for b, i in enumerate(usable):
            pops[b, :, i] = np.nan  # leave the backtested run out
        return a, cj, lv, np.stack(truths), pops

    def _fill(
        self,
        keys: Sequence[tuple[Any, ...]],
        prefixes: Sequence[Curve],
        queries: Sequence[_F],
        contexts: Sequence[Sequence[Curve]],
    ) -> None:
        todo = [j for j, k in enumerate(keys) if k not in self._cache]
        if todo:
            method = keys[todo[0]][1]
            any_context = any(contexts[j] for j in todo)
            fcs = _run_base(
                method,
                [prefixes[j] for j in todo],
                [queries[j] for j in todo],
                [np.random.default_rng(0)] * len(todo),
                [contexts[j] for j in todo] if any_context else (),
            )
            for j, fc in zip(todo, fcs, strict=True):
                self._cache[keys[j]] = fc.grid_values
        for k in keys:
            self._cache.move_to_end(k)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)

    # -- the mixture ----------------------------------------------------------------------
    def _fit(self, a: _F, c: _F, lv: _F, truth: _F, pops: _F) -> list[_Params]:
        """Per query point, the mixture's parameters chosen on the backtests ``a``, ``c``, ``lv``
        (the members' quantiles, each shape ``(n, m, len(GRID))``) against ``truth`` (shape
        ``(n, m)``), with ``pops`` the other runs' values there (shape ``(n, m, runs)``): the
        context's weight, the last value's weight, the conformal shift and scale, the number of
        backtests (0: the forecast alone) and the population tilt's strength."""
        from curvecast.bench.metrics import crps_quantiles

        def score(g: _F, t: _F) -> float:
            return float(np.mean(crps_quantiles(g, t)))

        out: list[_Params] = []
        for j in range(truth.shape[1]):
            ok = np.isfinite(truth[:, j])
            n = int(np.sum(ok))
            if n == 0:
                out.append((0.0, 0.0, 0.0, 1.0, 0, 0.0))
                continue
            aj, cj, lj, tj = a[ok, j], c[ok, j], lv[ok, j], truth[ok, j]
            shrink = n / (n + self.k0)
            # the context's weight, then the last value's against that mixture
            w = shrink * WEIGHTS[int(np.argmin([score(_mix(aj, cj, w), tj) for w in WEIGHTS]))]
            mixed_bt = _mix(aj, cj, w)
            v = (
                shrink
                * WEIGHTS[int(np.argmin([score(_mix(mixed_bt, lj, v), tj) for v in WEIGHTS]))]
            )
            mixed_bt = _mix(mixed_bt, lj, v)
            shift, scale = self._conformal(mixed_bt, tj)
            recal = _recalibrate(mixed_bt, shift, scale)
            if score(recal, tj) >= score(mixed_bt, tj):
                shift, scale = 0.0, 1.0
            else:
                mixed_bt = recal
            # then the search's own values there, where they sharpen the backtests
            tilt = shrink * _chosen_tilt(mixed_bt, pops[ok, j], tj)
            out.append((w, v, shift, scale, n, tilt))
        return out

    def _stack(
        self,
        alone: Forecast,
        joint: Forecast,
        last: Forecast,
        params: list[_Params],
        population: _F | None,
    ) -> Forecast:
        """The members' forecasts mixed with ``params`` (see :meth:`_fit`), tilted towards
        ``population`` (the completed runs' values at the queries, shape ``(runs, m)``)."""
        values = np.empty_like(alone.grid_values)
        for j, (w, v, shift, scale, n, tilt) in enumerate(params):
            ga, gc = alone.grid_values[j : j + 1], joint.grid_values[j : j + 1]
            gl = last.grid_values[j : j + 1]
            if n == 0:
                values[j] = ga[0]
                continue
            row = _recalibrate(_mix(_mix(ga, gc, w), gl, v), shift, scale)
            if tilt > 0 and population is not None:
                row = population_tilt(row, population[None, :, j], tilt)
            values[j] = row[0]
        info = dict(alone.info)
        info["stacking"] = {
            "backtests": int(max(p[4] for p in params)),
            "weight": [round(p[0], 3) for p in params],
            "last_value_weight": [round(p[1], 3) for p in params],
            "scale": [round(p[3], 3) for p in params],
            "population_tilt": [round(p[5], 3) for p in params],
            "members": [self.alone, self.with_context, LAST],
        }
        return Forecast(alone.x_new, values, direction=alone.direction, method=self.name,
                        info=info)  # fmt: skip

    def _conformal(self, g: _F, truth: _F) -> tuple[float, float]:
        """Split-conformal shift and scale of forecasts ``g`` (shape ``(n, len(GRID))``) from
        their truths, shape ``(n,)``."""
        med = g[:, _I50]
        return conformal_shift_scale(truth - med, med - g[:, _I05], g[:, _I95] - med, self.k0)


def stacked_pfn() -> StackedForecaster:
    """``stacked_pfn``: :class:`StackedForecaster` with the PFN alone (not ``ensemble``) as the
    curve-alone member; what the pruners use, at a fifth of the cost (no parametric fits)."""
    f = StackedForecaster(alone="pfn")
    f.name = "stacked_pfn"
    return f


def _mix(a: _F, c: _F, w: float) -> _F:
    """Row-wise quantiles at GRID of the mixture ``(1 - w) a + w c`` (each shape
    ``(n, len(GRID))``, non-decreasing along the grid): what :func:`mix_quantiles` gives for
    each row, for all rows at once."""
    if w <= 0.0:
        return a
    if w >= 1.0:
        return c
    ramp = np.arange(GRID.size)[None, :]
    span = np.maximum(np.ptp(a, axis=1), np.ptp(c, axis=1))
    tie = 1e-12 * np.maximum(np.maximum(span, np.abs(a[:, -1])), 1e-300)[:, None]
    ra, rc = a + tie * ramp, c + tie * ramp  # strictly increasing rows
    values = np.sort(np.concatenate([ra, rc], axis=1), axis=1)
    cdf = (1 - w) * _interp_rows(values, ra, GRID, 0.0, 1.0) + w * _interp_rows(
        values, rc, GRID, 0.0, 1.0
    )
    return _interp_rows(np.broadcast_to(GRID, a.shape), np.maximum.accumulate(cdf, axis=1), values)


def _interp_rows(
    x: _F, xp: _F, fp: _F, left: float | None = None, right: float | None = None
) -> _F:
    """``np.interp(x[i], xp[i], fp[i], left, right)`` for every row ``i`` (``fp`` may be one
    row for all; ``left``/``right`` None: ``fp``'s first and last values): rows are shifted
    apart so that one flat interpolation serves them all."""
    n = xp.shape[0]
    fp = np.broadcast_to(fp, xp.shape)
    lo, hi = xp[:, :1], xp[:, -1:]
    shift = (np.arange(n) * (2.0 * float(np.max(hi) - np.min(lo)) + 1.0))[:, None]
    inside = np.interp(
        (np.clip(x, lo, hi) + shift).ravel(), (xp + shift).ravel(), fp.ravel()
    ).reshape(x.shape)
    below = fp[:, :1] if left is None else left
    above = fp[:, -1:] if right is None else right
    return np.where(x < lo, below, np.where(x > hi, above, inside))


def _recalibrate(g: _F, shift: float, scale: float) -> _F:
    med = g[:, _I50 : _I50 + 1]
    return med + shift + scale * (g - med)


def _curve_digest(c: Curve) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(c.observed_x.tobytes())
    h.update(c.observed_y.tobytes())
    h.update(repr(c.bounds).encode())
    return h.hexdigest()


def _chosen_tilt(g: _F, pops: _F, truth: _F) -> float:
    """The strength of :data:`TILTS` with the lowest mean CRPS on the backtests ``g`` (shape
    ``(n, len(GRID))``, each with its population row of ``pops``) against ``truth``; 0 unless
    it beats no tilt by more than :data:`TILT_MARGIN` standard errors of the backtests' paired
    differences (a handful of backtests can favour a tilt by chance)."""
    from curvecast.bench.metrics import crps_quantiles

    plain = crps_quantiles(g, truth)
    best, best_mean = 0.0, 0.0
    for t in TILTS:
        if t <= 0:
            continue
        d = crps_quantiles(population_tilt(g, pops, t), truth) - plain
        m = float(np.mean(d))
        se = float(np.std(d, ddof=1) / np.sqrt(d.size)) if d.size > 1 else np.inf
        if m < best_mean and m + TILT_MARGIN * se < 0:
            best, best_mean = t, m
    return best


def _population(context: Sequence[Curve], rel: _F) -> _F:
    """Each context run's value at the fractions ``rel`` of its own run, shape
    ``(len(context), m)``: the convention of the backtests (NaN where a run does not reach)."""
    out = np.full((len(context), rel.size), np.nan)
    for k, c in enumerate(context):
        x = c.observed_x
        if c.n_observed < 2 or not x[-1] > 0:
            continue
        at = rel * x[-1]
        inside = (at >= x[0] * (1 - 1e-9)) & (at <= x[-1] * (1 + 1e-9))
        out[k, inside] = np.interp(at[inside], x, c.observed_y)
    out[~np.isfinite(out)] = np.nan
    return out


def population_tilt(g: _F, pops: _F, strength: float) -> _F:
    """Quantile rows ``g`` (shape ``(n, len(GRID))``) weighed by where the search's runs are:
    each row's density times ``(kde + floor)^strength``, the kernel density of the finite values
    of the matching row of ``pops`` (shape ``(n, runs)``; Silverman's bandwidth), a product of
    experts. A forecast is calibrated over all runs, not given where this one stands: on
    replayed searches its tail beyond the best value any run reached held too much mass, and a
    run that looked hopeless ended among the others more often than it said. Rows with fewer
    than :data:`MIN_POPULATION` values, values that do not spread, or a flat forecast are
    returned as they are."""
    if strength <= 0:
        return g
    out = g.copy()
    for r in range(g.shape[0]):
        f = pops[r][np.isfinite(pops[r])]
        v = g[r]
        if f.size < MIN_POPULATION or not v[-1] > v[0]:
            continue
        q75, q25 = np.percentile(f, [75, 25])
        sd, iqr = float(np.std(f)), float(q75 - q25) / 1.349
        h = 1.06 * (min(sd, iqr) if iqr > 0 else sd) * f.size**-0.2
        if not h > 0:
            continue
        z = (v[:, None] - f[None, :]) / h
        kde = np.exp(-0.5 * z * z).sum(axis=1) / (f.size * h * np.sqrt(2 * np.pi))
        span = max(float(v[-1] - v[0]), float(f.max() - f.min()), h)
        w = _GRID_MASS * ((1 - _TILT_FLOOR) * kde + _TILT_FLOOR / span) ** strength
        mid = np.cumsum(w / w.sum()) - w / (2 * w.sum())  # the level each value now stands at
        out[r] = np.interp(GRID, mid, v)
    return out


# the mass each GRID level stands for (trapezoid rule, the tails to its ends)
_GRID_MASS: _F = np.diff(np.concatenate([[0.0], (GRID[1:] + GRID[:-1]) / 2, [1.0]]))
