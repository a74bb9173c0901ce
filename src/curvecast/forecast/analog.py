"""``analog``: forecast a run from how the other runs of the same search went on.

In a hyperparameter search the completed trials show, at the same point of the axis, how far a
curve that stood where this one stands still moved. For each query point ``q`` and each context
curve ``c`` that was observed both at this curve's last ``x`` and at ``q``::

    transition_c = c(q) - c(x_last)                 (in the metric's units)
    weight_c     = exp(-((c(x_last) - level) / bw)^2 / 2)

where ``level`` is this curve's current level and ``bw`` a kernel bandwidth (a robust spread of
the context levels, never below the curve's noise). When the context runs do not mostly end at
one ``x`` (a search that mixes budgets, such as a compute-optimal sweep), each is read at the same
fractions of its own run as ``x_last`` and ``q`` are of this one, which ends at the furthest query
(the convention of :mod:`curvecast.forecast.calibrated`); at the same step, a run of another
budget stands at another stage of its schedule, and runs of no other budget reach ``q``. The
predictive distribution is the weighted mixture of ``level + transition_c``, smoothed by a
Gaussian kernel. With few usable context curves the forecast is blended with ``parametric``: the
analog weight is ``n_eff / (n_eff + k0)`` where ``n_eff`` is the kernel's effective sample size.
Without context it is ``parametric``.

This is the non-learned counterpart of FT-PFN's use of a search's other curves (ifBO): cheap,
calibrated by construction within a search, and blind to nothing the parametric ensemble sees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Curve
from curvecast.exceptions import parameter_error
from curvecast.forecast._result import Forecast
from curvecast.forecast._util import noise_scale, value_scale

__all__ = ["AnalogForecaster"]

_F = NDArray[np.float64]


def _logx(x: _F | float) -> _F:
    return np.log1p(np.asarray(x, dtype=np.float64))


def _run_stretch(context: Sequence[Curve], horizon: float) -> list[float]:
    """Per context curve, the factor that maps its axis onto this run's. 1 for every curve
    while most of the usable runs (2 points or more) end at the same ``x``: one budget, so runs
    are compared at the same step, and a few runs that stopped early (diverged, cut short) do
    not change that. Otherwise (a search that mixes budgets, such as a compute-optimal sweep
    whose schedules end with each run's budget) ``horizon / end``, so that each run is read at
    the same fraction of its own run as this one, which ends at ``horizon`` (the furthest
    query)."""
    ends = np.array([float(c.observed_x[-1]) for c in context if c.n_observed >= 2])
    if ends.size == 0 or not horizon > 0:
        return [1.0] * len(context)
    tol = 1e-9 * max(float(np.max(np.abs(ends))), 1.0)
    shared = max(int(np.sum(np.abs(ends - e) <= tol)) for e in ends)
    if 2 * shared > ends.size:
        return [1.0] * len(context)
    return [
        horizon / float(c.observed_x[-1]) if c.n_observed >= 2 and c.observed_x[-1] > 0 else 1.0
        for c in context
    ]


def _level(x: _F, y: _F) -> float:
    """The curve's current level: a least-squares line through its last 3 points (in log x),
    evaluated at the last x; the last value when there are fewer than 3."""
    if y.size < 3:
        return float(y[-1])
    lx, ly = _logx(x[-3:]), y[-3:]
    slope, icept = np.polyfit(lx, ly, 1)
    return float(slope * lx[-1] + icept)


class AnalogForecaster:
    """Forecast from the transitions of the search's other curves (``context``).

    Args:
        n_samples: joint sample paths in the Forecast (>= 100).
        k0: context curves at which analog and parametric weigh the same (> 0).
        fallback: the method used without enough context, and blended in with little.

    Example:
        >>> import numpy as np
        >>> from curvecast import Curve
        >>> x = np.arange(1.0, 11.0)
        >>> ctx = [Curve(x, a * (1 - 0.5 / x), bounds=(0, 1)) for a in np.linspace(0.5, 0.9, 9)]
        >>> f = AnalogForecaster().forecast(Curve(x[:3], 0.7 * (1 - 0.5 / x[:3])), x[3:],
        ...                                 rng=np.random.default_rng(0), context=ctx)
        >>> bool(abs(f.median[-1] - 0.7 * 0.95) < 0.05)
        True
    """

    name = "analog"

    def __init__(
        self, n_samples: int = 1000, k0: float = 4.0, fallback: str = "parametric"
    ) -> None:
        owner = "AnalogForecaster"
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 100:
            raise parameter_error("n_samples", owner, "an int >= 100", n_samples)
        if not isinstance(k0, int | float) or isinstance(k0, bool) or not k0 > 0:
            raise parameter_error("k0", owner, "a positive number", k0)
        self.n_samples = n_samples
        self.k0 = float(k0)
        self.fallback = fallback

    def _fallback_samples(
        self, curve: Curve, x_new: _F, rng: np.random.Generator
    ) -> tuple[_F, str]:
        from curvecast.forecast._base import get_forecaster

        fb = get_forecaster(self.fallback)
        fc = fb.forecast(curve, x_new, rng=rng)
        return fc.sample(self.n_samples, rng), fb.name

    def forecast(
        self,
        curve: Curve,
        x_new: _F,
        *,
        rng: np.random.Generator,
        context: Sequence[Curve] = (),
    ) -> Forecast:
        x, y = curve.observed_x, curve.observed_y
        stretch = _run_stretch(context, float(np.max(x_new)))
        usable = [
            (c, k) for c, k in zip(context, stretch, strict=True)
            if c.n_observed >= 2 and c.observed_x[0] * k <= x[-1]
        ]  # fmt: skip
        base, base_name = self._fallback_samples(curve, x_new, rng)
        if not usable:
            return Forecast.from_samples(
                x_new, base, direction=curve.direction, method=self.name,
                info={"context_used": 0, "base": base_name},
            )  # fmt: skip
        level = _level(x, y)
        scale = value_scale(curve)
        noise = noise_scale(y)
        noise = max(noise if noise is not None else 0.02 * scale, 1e-3 * scale)
        lx_last = float(_logx(x[-1]))
        samples = base.copy()
        n_eff_used = 0.0
        u_take = rng.random(self.n_samples)  # one draw per path keeps each path's choice
        for j, q in enumerate(x_new):
            lq = float(_logx(q))
            anchors, moves = [], []
            for c, k in usable:
                cx, cy = _logx(c.observed_x * k), c.observed_y
                if cx[-1] < lq - 1e-12 or cx[-1] < lx_last - 1e-12:
                    continue  # this context curve never reached q
                a = float(np.interp(lx_last, cx, cy))
                anchors.append(a)
                moves.append(float(np.interp(lq, cx, cy)) - a)
            if len(anchors) < 2:
                continue
            anc, mov = np.asarray(anchors), np.asarray(moves)
            spread = 1.4826 * float(np.median(np.abs(anc - np.median(anc))))
            bw = max(0.5 * spread, 2.0 * noise)
            w = np.exp(-0.5 * ((anc - level) / bw) ** 2)
            if not np.any(w > 0):
                continue
            w = w / w.sum()
            n_eff = 1.0 / float(np.sum(w**2))
            # kernel smoothing of the transitions: Silverman-like width, at least the noise
            mv_sd = math.sqrt(float(np.sum(w * (mov - np.sum(w * mov)) ** 2)))
            h = max(1.06 * mv_sd * n_eff ** (-0.2), noise)
            pick = rng.choice(mov.size, size=self.n_samples, p=w)
            analog = level + mov[pick] + rng.normal(0.0, h, self.n_samples)
            share = n_eff / (n_eff + self.k0)
            take = u_take < share
            samples[take, j] = analog[take]
            n_eff_used = max(n_eff_used, n_eff)
        return Forecast.from_samples(
            x_new, samples, direction=curve.direction, method=self.name,
            info={"context_used": len(usable), "n_eff": n_eff_used, "base": base_name},
        )  # fmt: skip
