"""Forecast bands for the dashboard: fresh ones for running trials, stored ones for pruned trials.

A curve that cannot be forecast (too short, diverged, already at the horizon) simply has no band.
A *forecaster* that cannot work (corrupted or missing weights, a missing dependency) is another
matter: every band would vanish without a word, so :class:`ForecastCache` keeps the reason in
:attr:`ForecastCache.problem`, and the page shows it.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from curvecast.dashboard._records import num, short
from curvecast.exceptions import CurvecastError, InvalidCurveError, InvalidParameterError

__all__ = ["BAND_LEVELS", "ForecastCache", "stored_band"]

#: Quantile levels of a band, with the JSON key each is stored under.
BAND_LEVELS: tuple[tuple[str, float], ...] = (
    ("q05", 0.05),
    ("q25", 0.25),
    ("q50", 0.5),
    ("q75", 0.75),
    ("q95", 0.95),
)
_BAND_POINTS = 16


def _forecaster_broken(exc: BaseException) -> bool:
    """True when ``exc`` says the method itself cannot work (not this one curve)."""
    if isinstance(exc, InvalidCurveError | InvalidParameterError | ArithmeticError):
        return False
    if isinstance(exc, np.linalg.LinAlgError):
        return False
    if isinstance(exc, CurvecastError | ImportError | OSError | KeyError):
        return True  # checksum, missing extra, missing weights file, unknown method
    return "weights" in str(exc).lower()  # "... is not curvecast PFN weights ..."


class ForecastCache:
    """Forecast bands of running trials, computed once per (trial, number of points, horizon).

    Thread safety: :meth:`band` may be called from several request threads at once.

    Args:
        method: the curvecast forecasting method ("auto" picks the best available).
        min_points: no band for a curve with fewer points (as ForecastPruner's ``min_points``:
            a forecast from one or two reports says little).
        max_entries: how many bands to keep; the oldest go first.

    Attributes:
        problem: None, or one sentence saying why this method cannot forecast at all (for
            example corrupted PFN weights); the page shows it instead of silently drawing no
            band. Cleared by the next forecast that works.
    """

    def __init__(self, method: str = "auto", min_points: int = 3, max_entries: int = 4096) -> None:
        self.method = method
        self.min_points = min_points
        self.problem: str | None = None
        self._max = max_entries
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[Any, ...], dict[str, Any] | None] = OrderedDict()

    def band(
        self,
        trial_id: int,
        steps: list[float],
        values: list[float | None],
        direction: str,
        horizon: float,
        incumbent: float | None = None,
        bounds: tuple[float | None, float | None] | None = None,
    ) -> dict[str, Any] | None:
        """The forecast from the last step to ``horizon`` as ``{"x", "q05", ..., "q95"}``
        (each a list, shape ``(k,)``, starting at the last observed point) with
        ``prob_better``, the forecast probability that the value at ``horizon`` beats
        ``incumbent`` (None without one); None when the curve cannot be forecast (diverged,
        already at the horizon, fewer than ``min_points``) or the method is broken (then
        :attr:`problem` says why)."""
        key = (trial_id, len(steps), horizon, incumbent, bounds)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        try:
            result = self._compute(steps, values, direction, horizon, incumbent, bounds)
        except Exception as exc:
            if not _forecaster_broken(exc):
                result = None  # a curve this method cannot forecast: shown without a band
            else:
                self.problem = (
                    f"no forecast bands: the {self.method!r} forecaster failed "
                    f"({type(exc).__name__}: {short(str(exc), 300)})"
                )
                return None  # not cached: a repaired install forecasts again
        else:
            if result is not None:
                self.problem = None
        with self._lock:
            self._cache[key] = result
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return result

    def _compute(
        self,
        steps: list[float],
        values: list[float | None],
        direction: str,
        horizon: float,
        incumbent: float | None,
        bounds: tuple[float | None, float | None] | None = None,
    ) -> dict[str, Any] | None:
        from curvecast.curves import Curve
        from curvecast.forecast import forecast_curve

        if len(steps) < self.min_points or steps[-1] >= horizon or values[-1] is None:
            return None
        y = [math.nan if v is None else v for v in values]
        x_new = np.unique(np.linspace(steps[-1], horizon, _BAND_POINTS + 1)[1:])
        curve = Curve(steps, y, direction, bounds)
        if curve.diverged:
            return None
        fc = forecast_curve(
            curve, x_new, method=self.method, quantiles=[lv for _, lv in BAND_LEVELS], rng=0
        )
        q = fc.quantiles  # (len(x_new), 5)
        band: dict[str, Any] = {
            "x": [steps[-1], *x_new.tolist()],
            "source": "forecast",
            "method": fc.method,
            "prob_better": None if incumbent is None else num(fc.prob_better(incumbent)),
        }
        for i, (name, _) in enumerate(BAND_LEVELS):
            band[name] = [values[-1], *(num(v) for v in q[:, i])]
        return band


def stored_band(stop: dict[str, Any], last_value: float | None) -> dict[str, Any] | None:
    """The band of a pruned (or would-have-been-pruned) trial: from its value at the decision
    to the stored quantiles of the final value at the horizon, ``{"x": [step, horizon], ...}``."""
    q = stop.get("final_quantiles") or {}
    step, horizon = stop.get("step"), stop.get("horizon")
    if step is None or horizon is None or horizon <= step or last_value is None:
        return None
    band: dict[str, Any] = {"x": [step, horizon], "source": "verdict", "method": stop.get("method")}
    for name, level in BAND_LEVELS:
        value = num(q.get(f"{level:g}"))
        if value is None:
            return None
        band[name] = [last_value, value]
    return band
