"""``calibrated``: the PFN's forecast, recalibrated on evidence from the curve and its search.

A learned forecaster trusts its prior; on curves unlike the prior's its intervals are too narrow
(or too wide), and nothing in one forward pass can tell. Evidence can:

**Inside a search** (``context`` holds other trials of the search), the completed trials show
how wrong a forecast made at this cutoff would have been. The cutoff is a fraction of the run:
the curve is seen up to ``x_last`` of a run that ends at the furthest query. Each of up to
:data:`MAX_CALIBRATION` trials (those whose level at that fraction of their own run is nearest
this curve's) is cut at the same fraction of its own run and forecast by the base method, with
the other trials as its context (leave one out), at the same fractions of its run as the
queries. In a search with one budget that is the same step; in one that mixes budgets (and so
learning-rate schedules that end with each run) it is the same stage of each run. From those
errors, per query point (split-conformal on a location and a scale):

- a bias ``b``: the median of ``truth - median``, shrunk by ``n / (n + k0)``;
- a scale ``s``: the ``0.9 (1 + 1/n)`` empirical quantile of how much each forecast's 90%
  interval (shifted by ``b``) had to be stretched to contain its truth, within [0.5, 30]; with
  ``n < 9`` no quantile of ``n`` scores is a 90% bound, so the largest stretch is taken and the
  band is only ever widened (:data:`MIN_SHRINK`);

and the forecast becomes ``Q'(p) = median + b + s (Q(p) - median)``. With ``n`` exchangeable
trials, the shift and scale give 90% intervals that cover at the nominal rate on the search
itself, whatever the search's family (Vovk et al.; Romano et al.'s conformalized quantile
regression does the same for a fixed quantile model). The leave-one-out forecasts depend on the
search and the cutoff only, so a pruner asking about many trials at one step pays for them once
(a small cache).

**A curve alone** is recalibrated on itself: the base method forecasts each of its last
:data:`MAX_BACKTESTS` observed points from the prefix that ends as far before it (in log ``x``)
as the furthest query lies after the last point. The signed standardised errors ``e_k`` of those
``k`` backtests give a bias ``b = sum(e_k) / (k + d0)`` (in units of the forecast's own spread,
shrunk towards 0 by ``d0`` prior backtests) and a scale ``s = sqrt(max(1, (d0 + sum((e_k -
b)^2)) / (d0 + k)))``; the forecast becomes ``median + b sd + s (Q(p) - median)``. It is never
made narrower than the base forecast, whose intervals are too narrow late in a curve far more
often than too wide. A curve that kept improving faster than the base expected at every
backtest is expected to keep doing so. And its central 90% interval is at least as wide as the
curve moved over the same stretch of log ``x`` just before its last point: a forecast alone
cannot know that a learning-rate decay will flatten the curve (or steepen it), and should not
be surer of the next stretch than of the last.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Curve
from curvecast.exceptions import parameter_error
from curvecast.forecast._result import GRID, Forecast

__all__ = ["MAX_CALIBRATION", "CalibratedForecaster"]

_F = NDArray[np.float64]

#: At most this many trials of the search are forecast to calibrate one cutoff.
MAX_CALIBRATION = 16
#: Fewer calibration trials than this can widen the base method's band but never narrow it: the
#: 90% conformal quantile of n scores exists only from n = 9 (the ceil(0.9 (n + 1))-th smallest
#: of them), and the largest of 3 covers a fourth trial with probability 3/4, not 0.9. Narrowing
#: on 3 completed trials (survivors of a pruned search, whose curves had settled early) halved
#: the band of a run that went on to win a replayed LCBench search and stopped it.
MIN_SHRINK = 9
#: A curve alone is backtested at (at most) its last this many points.
MAX_BACKTESTS = 4
_I05, _I50, _I95 = (int(np.argmin(np.abs(GRID - v))) for v in (0.05, 0.5, 0.95))
_I25, _I75 = (int(np.argmin(np.abs(GRID - v))) for v in (0.25, 0.75))
#: Upper quartile of the standard normal.
_Q75 = 0.6744897501960817
_CACHE_SIZE = 4096


class CalibratedForecaster:
    """A base method's forecast recalibrated on the search (``context``) or the curve itself.

    Args:
        base: the registered method to recalibrate (default ``pfn``).
        min_calibration: trials that must reach past the cutoff before the search calibrates
            (fewer: the curve calibrates itself), >= 2.
        k0: prior weight (in trials) of "the base is calibrated" against the evidence (> 0).
        self_dof: prior weight (in backtests) of the base's own spread for a curve alone (> 0).

    Raises:
        InvalidParameterError: a parameter out of range.

    Example:
        >>> import numpy as np
        >>> from curvecast import Curve
        >>> x = np.arange(1.0, 21.0)
        >>> c = Curve(x, 0.9 - 0.5 * x**-0.7, bounds=(0, 1))
        >>> f = CalibratedForecaster().forecast(c, np.array([60.0]), rng=np.random.default_rng(0))
        >>> bool(f.quantile([0.05])[0, 0] < 0.9 - 0.5 * 60**-0.7 < f.quantile([0.95])[0, 0])
        True
    """

    name = "calibrated"

    def __init__(
        self,
        base: str = "pfn",
        min_calibration: int = 3,
        k0: float = 4.0,
        self_dof: float = 2.0,
    ) -> None:
        owner = "CalibratedForecaster"
        if not isinstance(base, str) or base in ("auto", self.name):
            raise parameter_error("base", owner, "a registered method name", base)
        if isinstance(min_calibration, bool) or not isinstance(min_calibration, int):
            raise parameter_error("min_calibration", owner, "an int >= 2", min_calibration)
        if min_calibration < 2:
            raise parameter_error("min_calibration", owner, "an int >= 2", min_calibration)
        for field, v in (("k0", k0), ("self_dof", self_dof)):
            if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
                raise parameter_error(field, owner, "a positive number", v)
        self.base = base
        self.min_calibration = min_calibration
        self.k0 = float(k0)
        self.self_dof = float(self_dof)
        self._cache: OrderedDict[tuple[Any, ...], _F] = OrderedDict()

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
        """:meth:`forecast` for many curves: the base method's batch for all their forecasts,
        backtests and calibration forecasts together."""
        gens = list(rngs) if rngs is not None else [np.random.default_rng(0)] * len(curves)
        base_fc = _run_base(self.base, curves, x_news, gens, context)
        out = []
        self_cal: list[int] = []
        digest = _digest(context) if len(context) >= self.min_calibration else ""
        for i, (curve, xq) in enumerate(zip(curves, x_news, strict=True)):
            cal = self._search_errors(curve, xq, context, digest)
            if cal is None:
                self_cal.append(i)
                out.append(base_fc[i])
                continue
            errs, truths_n = cal
            out.append(self._recalibrate(base_fc[i], errs, truths_n))
        for i, fc in zip(self_cal, self._self_calibrated(curves, base_fc, self_cal), strict=True):
            out[i] = fc
        return out

    # -- inside a search ------------------------------------------------------------------
    def _search_errors(
        self, curve: Curve, xq: _F, context: Sequence[Curve], digest: str
    ) -> tuple[_F, _F] | None:
        """Errors of leave-one-out forecasts at this cutoff: an array ``(k, m, 3)`` of (raw
        error, lower 90% half-width, upper 90% half-width), NaN where a trial did not reach
        the query, and how many trials reached each query, shape ``(m,)``; None when too few
        trials ran past the cutoff. ``digest`` identifies ``context`` (:func:`_digest`, computed
        once per batch) in the cache key.

        The cutoff is a fraction of the run: this curve is observed up to ``x_last`` of a run
        that ends at ``max(xq)``, so each trial is cut at the same fraction of its own end and
        asked at the same fractions as ``xq``. Trials of one length see the same points as this
        one; in a search that mixes budgets (and so schedules) each is judged at the same stage
        of its own run, not at the same step.
        """
        picked = backtest_runs(curve, xq, context, self.min_calibration, MAX_CALIBRATION)
        if picked is None:
            return None
        frac, rel, usable = picked
        key_base = (self.base, digest, round(frac, 12), rel.tobytes())
        missing = [i for i in usable if (*key_base, i) not in self._cache]
        if missing:
            prefixes, queries, contexts = [], [], []
            for i in missing:
                prefix, query = backtest_cut(context[i], frac, rel)
                prefixes.append(prefix)
                queries.append(query)
                contexts.append([o for j, o in enumerate(context) if j != i])
            fcs = _run_base(
                self.base, prefixes, queries, [np.random.default_rng(0)] * len(missing), contexts
            )
            for i, q, fc in zip(missing, queries, fcs, strict=True):
                c = context[i]
                truth = np.interp(q, c.observed_x, c.observed_y)
                g = fc.grid_values
                err = np.stack(
                    [truth - g[:, _I50], g[:, _I50] - g[:, _I05], g[:, _I95] - g[:, _I50]],
                    axis=-1,
                )
                self._remember((*key_base, i), err)
        errs = np.stack([self._cache[(*key_base, i)] for i in usable])
        return errs, np.sum(np.isfinite(errs[:, :, 0]), axis=0).astype(np.float64)

    def _remember(self, key: tuple[Any, ...], value: _F) -> None:
        self._cache[key] = value
        self._cache.move_to_end(key)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)

    def _recalibrate(self, fc: Forecast, errs: _F, counts: _F) -> Forecast:
        """Shift and scale each query's distribution by the conformal estimates; queries no
        trial reached take those of the nearest query that some did."""
        m = fc.x_new.size
        shift, scale = np.zeros(m), np.ones(m)
        have = np.flatnonzero(counts >= 2)
        if have.size == 0:
            return fc
        for j in have:
            e = errs[:, j, :]
            e = e[np.isfinite(e[:, 0])]
            shift[j], scale[j] = conformal_shift_scale(e[:, 0], e[:, 1], e[:, 2], self.k0)
        if have.size < m:
            nearest = have[np.abs(np.arange(m)[:, None] - have[None, :]).argmin(axis=1)]
            shift, scale = shift[nearest], scale[nearest]
        g = fc.grid_values
        med = g[:, _I50 : _I50 + 1]
        values = med + shift[:, None] + scale[:, None] * (g - med)
        info = dict(fc.info)
        info["calibration"] = {
            "source": "search",
            "trials": int(errs.shape[0]),
            "scale": [round(float(v), 3) for v in scale],
        }
        return Forecast(fc.x_new, values, direction=fc.direction, method=self.name, info=info)

    # -- a curve alone --------------------------------------------------------------------
    def _self_calibrated(
        self, curves: Sequence[Curve], base_fc: Sequence[Forecast], idx: Sequence[int]
    ) -> list[Forecast]:
        jobs: list[tuple[int, int, int]] = []  # (curve, prefix length, target index)
        for i in idx:
            x = curves[i].observed_x
            ratio = float(np.max(base_fc[i].x_new)) / x[-1] if x[-1] > 0 else math.inf
            jobs.extend((i, c, t) for c, t in _backtests(x, ratio))
        bt = _run_base(
            self.base,
            [curves[i].truncate(c) for i, c, _ in jobs],
            [curves[i].observed_x[t : t + 1] for i, _, t in jobs],
            [np.random.default_rng(0)] * len(jobs),
            (),
        )
        errors: dict[int, list[float]] = {}
        for (i, _, t), fc in zip(jobs, bt, strict=True):
            truth = float(curves[i].observed_y[t])
            errors.setdefault(i, []).append(_signed_error(fc.grid_values[0], truth))
        out = []
        for i in idx:
            fc = base_fc[i]
            info = dict(fc.info)
            e = np.asarray(errors.get(i, []))
            k, d0 = e.size, self.self_dof
            # bias in standard units (shrunk), then the spread of what is left
            b = float(np.sum(e)) / (k + d0) if k else 0.0
            s = math.sqrt(max(1.0, (d0 + float(np.sum((e - b) ** 2))) / (d0 + k)))
            info["calibration"] = {
                "source": "backtest" if k else "none",
                "backtests": int(k),
                "bias": round(b, 3),
                "scale": round(s, 3),
            }
            g = fc.grid_values
            med = g[:, _I50 : _I50 + 1]
            sd = (g[:, _I75 : _I75 + 1] - g[:, _I25 : _I25 + 1]) / (2 * _Q75)
            # never surer of the next stretch than the change over as long a stretch before
            half = np.maximum((g[:, _I95] - g[:, _I05]) / 2, 1e-300)
            moved = _recent_change(curves[i], fc.x_new)
            scale = np.maximum(s, moved / half)[:, None]
            info["calibration"]["floor"] = round(float(np.max(scale)), 3)
            values = med + b * sd + scale * (g - med)
            out.append(
                Forecast(fc.x_new, values, direction=fc.direction, method=self.name, info=info)
            )
        return out


def conformal_shift_scale(err: _F, below: _F, above: _F, k0: float) -> tuple[float, float]:
    """Split-conformal shift and scale from ``n`` backtests, each shape ``(n,)``: ``err`` is
    truth minus the forecast median, ``below``/``above`` the 90% interval's half-widths under
    and over it. The shift is the median error shrunk by ``n / (n + k0)``; the scale the
    ``0.9 (1 + 1/n)`` empirical quantile of how far each interval (shifted) had to stretch to
    hold its truth, or with ``n < MIN_SHRINK`` the largest stretch and at least 1 (widen only);
    within [0.5, 30]. ``(0, 1)`` with no backtest."""
    n = err.size
    if n == 0:
        return 0.0, 1.0
    b = n / (n + k0) * float(np.median(err))
    resid = err - b
    half = np.where(resid >= 0, above, below)
    tiny = 1e-9 * max(float(np.max(np.abs(np.concatenate([below, above])))), 1e-12)
    need = np.abs(resid) / np.maximum(half, tiny)
    if n >= MIN_SHRINK:
        s = float(np.quantile(need, 0.9 * (1 + 1 / n), method="higher"))
    else:  # too few backtests to vouch for a narrower band: widen only
        s = max(float(np.max(need)), 1.0)
    return b, min(max(s, 0.5), 30.0)


def backtest_runs(
    curve: Curve, xq: _F, context: Sequence[Curve], min_runs: int, max_runs: int
) -> tuple[float, _F, list[int]] | None:
    """The completed runs to backtest ``curve``'s cutoff on: ``(frac, rel, indices)``, where
    ``frac`` is the observed fraction of this run (it ends at ``max(xq)``), ``rel`` the queries
    as fractions of it, shape ``(m,)``, and ``indices`` the context runs observed from before
    that fraction of their own run (at most ``max_runs``: those whose level there is nearest
    this curve's last value). None when nothing lies ahead or fewer than ``min_runs`` runs
    qualify."""
    x_last = float(curve.observed_x[-1])
    horizon = float(np.max(xq))
    if not horizon > x_last or not x_last > 0:
        return None
    frac = x_last / horizon
    usable = [
        i
        for i, c in enumerate(context)
        if c.n_observed >= 2 and c.observed_x[-1] > 0
        and c.observed_x[0] <= frac * c.observed_x[-1] * (1 + 1e-9)
    ]  # fmt: skip
    if len(usable) < max(min_runs, 1):
        return None
    if len(usable) > max_runs:
        level = float(curve.observed_y[-1])

        def distance(i: int) -> float:
            c = context[i]
            at = float(np.interp(frac * c.observed_x[-1], c.observed_x, c.observed_y))
            return abs(at - level)

        usable = sorted(sorted(usable, key=distance)[:max_runs])
    return frac, xq / horizon, usable


def backtest_cut(run: Curve, frac: float, rel: _F) -> tuple[Curve, _F]:
    """``run`` cut at ``frac`` of its own end (at least one point, never all of it) and the
    queries at the fractions ``rel`` of its end, shape ``(m,)``."""
    end = float(run.observed_x[-1])
    k = int(np.searchsorted(run.observed_x, frac * end * (1 + 1e-9), side="right"))
    return run.truncate(max(1, min(k, run.n_observed - 1))), rel * end


def _run_base(
    base: str,
    curves: Sequence[Curve],
    x_news: Sequence[_F],
    gens: Sequence[np.random.Generator],
    context: Sequence[Curve] | Sequence[Sequence[Curve]],
) -> list[Forecast]:
    """The base method's forecasts, batched when it can batch."""
    from curvecast.forecast._base import get_forecaster

    if not curves:
        return []
    fc = get_forecaster(base)
    per_curve = bool(context) and not isinstance(context[0], Curve)
    batch = getattr(fc, "forecast_batch", None)
    if batch is not None:
        return list(batch(curves, x_news, rngs=gens, context=context))
    out = []
    for k, (c, xq, g) in enumerate(zip(curves, x_news, gens, strict=True)):
        ctx = context[k] if per_curve else context
        out.append(fc.forecast(c, xq, rng=g, context=ctx))  # type: ignore[arg-type]
    return out


def _digest(context: Sequence[Curve]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for c in context:
        h.update(c.observed_x.tobytes())
        h.update(c.observed_y.tobytes())
        h.update(b"|")
    return h.hexdigest()


def _backtests(x: _F, ratio: float, k: int = MAX_BACKTESTS) -> list[tuple[int, int]]:
    """Backtests of a curve alone, as ``(prefix length, target index)`` pairs: each of the last
    ``k`` observed points is forecast from the prefix that ends as far before it (in log x) as
    the furthest query lies after the last point; a prefix needs 2 points and must end before
    its target. None when nothing lies ahead."""
    out: list[tuple[int, int]] = []
    if x.size < 3 or not ratio > 1.0:
        return out
    for t in range(x.size - 1, max(x.size - 1 - k, 1), -1):
        c = int(np.searchsorted(x, x[t] / ratio, side="right"))
        c = min(c, t)
        if c >= 2:
            out.append((c, t))
    return out


def _recent_change(curve: Curve, x_new: _F) -> _F:
    """How far the curve moved over the stretch of log x that ends at its last point and is as
    long as each query lies ahead of it, shape ``(len(x_new),)`` (0 at or before the last
    point)."""
    x, y = curve.observed_x, curve.observed_y
    if x.size < 2 or not x[-1] > 0:
        return np.zeros(x_new.shape)
    ratio = np.maximum(x_new / x[-1], 1.0)
    back = np.interp(x[-1] / ratio, x, y)
    return np.where(ratio > 1.0, np.abs(y[-1] - back), 0.0)


def _signed_error(row: _F, truth: float) -> float:
    """``truth`` in standard-normal units of the forecast ``row`` (quantiles at GRID), signed
    (positive above the median): the distance from the median over the half-width of the
    central 50% interval on that side, times 0.674; capped at +-10."""
    q25, q50, q75 = row[_I25], row[_I50], row[_I75]
    half = (q75 - q50) if truth >= q50 else (q50 - q25)
    tiny = 1e-9 * max(abs(float(q50)), 1e-12)
    e = (truth - q50) / max(float(half), tiny) * _Q75
    return float(np.clip(e, -10.0, 10.0))
