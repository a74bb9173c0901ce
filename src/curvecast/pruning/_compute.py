"""What a run costs and what it may still gain: the two sides of a stopping decision.

A report's cost is given by ``step_cost`` (see :func:`check_step_cost`); the compute a run still
needs to reach its horizon is extrapolated from the steps it reported so far. The gain is the
expected improvement over the incumbent under a forecast.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from curvecast.exceptions import parameter_error
from curvecast.forecast import Forecast
from curvecast.forecast._result import GRID

__all__ = [
    "StepCost",
    "as_compute_fraction",
    "check_step_cost",
    "compute_split",
    "expected_improvement",
]

#: What ``step_cost`` takes: None (every report costs 1), a positive number (every report costs
#: that), "step" (the step axis is the compute: a report costs its step minus the previous one),
#: or a function of a report's step returning that report's cost.
StepCost: TypeAlias = float | int | Literal["step"] | Callable[[float], float] | None

#: A function ``step_cost`` is called on at most this many future reports (spread evenly over
#: them, each standing for its share); counts and "step" costs are exact however many there are.
_MAX_CALLS = 10_000


def check_step_cost(value: object, *, owner: str) -> StepCost:
    """Check a ``step_cost`` argument (see :data:`StepCost`) and return it.

    Raises:
        InvalidParameterError: anything else, naming ``step_cost`` of ``owner``.
    """
    if value is None or value == "step" or callable(value):
        return value
    if (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and value > 0
    ):
        return float(value)
    raise parameter_error(
        "step_cost",
        owner,
        'None (1 per report), a positive number, "step" or a function of the step',
        value,
    )


def _future_steps(steps: NDArray[np.float64], horizon: float) -> tuple[NDArray[np.float64], int]:
    """The report steps still to come up to ``horizon`` (included), continuing the observed
    spacing: geometric when the last steps grow by a constant ratio (LCDB's anchors), else
    arithmetic with the last gap. Returns at most :data:`_MAX_CALLS` of them, evenly chosen, and
    how many there are in all."""
    last = float(steps[-1])
    if horizon <= last:
        return np.empty(0), 0
    geometric = False
    if steps.size >= 3 and steps[-3] > 0:
        r1, r2 = steps[-2] / steps[-3], steps[-1] / steps[-2]
        d1, d2 = steps[-2] - steps[-3], steps[-1] - steps[-2]
        geometric = r2 > 1.05 and abs(r1 - r2) < 0.05 * r2 and abs(d1 - d2) > 0.05 * d2
    if geometric:
        n = math.ceil(math.log(horizon / last) / math.log(r2) - 1e-9)
    else:
        gap = float(steps[-1] - steps[-2]) if steps.size >= 2 else last
        gap = gap if gap > 0 else max(last, 1.0)
        n = math.ceil((horizon - last) / gap - 1e-9)
    k = np.unique(np.linspace(1, n, min(n, _MAX_CALLS)).round()) if n > _MAX_CALLS else None
    k = np.arange(1, n + 1, dtype=np.float64) if k is None else k
    out = last * r2**k if geometric else last + gap * k
    out[-1] = horizon  # the last report is at the horizon
    return np.minimum(out, horizon), n


def _costs(steps: NDArray[np.float64], n: int, previous: float, step_cost: StepCost) -> float:
    """The compute of ``n`` reports after step ``previous``, of which ``steps`` are a sample
    (all of them when ``n == steps.size``) ending at the last."""
    if n == 0:
        return 0.0
    if step_cost is None:
        return float(n)
    if step_cost == "step":
        return float(steps[-1] - previous)
    if callable(step_cost):
        total = 0.0
        for s in steps:
            c = step_cost(float(s))
            if isinstance(c, bool) or not isinstance(c, int | float) or not c >= 0:
                raise parameter_error(
                    "step_cost", "the pruner", f"a function returning a cost >= 0 (step {s:g})", c
                )
            total += float(c)
        return total * n / steps.size
    return float(step_cost) * n


def compute_split(
    observed_steps: ArrayLike, horizon: float, step_cost: StepCost = None
) -> tuple[float, float]:
    """``(done, left)``: the compute spent on the observed reports and the compute still needed
    to reach ``horizon``, in the units of ``step_cost`` (see :data:`StepCost`).

    The reports still to come continue the observed spacing (geometric when the last three steps
    grow by one ratio, else arithmetic with the last gap) and end at ``horizon``.

    Example:
        >>> compute_split([1, 2, 3], 10)  # one per report: 3 done, 7 to come
        (3.0, 7.0)
        >>> compute_split([16, 32, 64], 512, step_cost=lambda s: s)  # anchors from scratch
        (112.0, 896.0)
    """
    steps = np.asarray(observed_steps, dtype=np.float64).reshape(-1)
    if steps.size == 0:
        raise parameter_error("observed_steps", "compute_split", "at least one step", steps)
    done = _costs(steps, steps.size, 0.0, step_cost)
    future, n = _future_steps(steps, float(horizon))
    left = _costs(future, n, float(steps[-1]), step_cost)
    return done, left


def expected_improvement(
    forecast: Forecast, incumbent: float, direction: str | None = None, at: float | None = None
) -> float:
    """E[(Y - incumbent)+] when maximising, E[(incumbent - Y)+] when minimising, for the value Y
    at the query point ``at`` (default: the last) under ``forecast``. 0 for a diverged run.

    ``direction`` defaults to the forecast's own.

    Example:
        >>> import curvecast
        >>> f = curvecast.forecast([1, 2, 3], [0.5, 0.6, 0.65], [30], bounds=(0, 1))
        >>> expected_improvement(f, 0.99) < expected_improvement(f, 0.5)
        True
    """
    if forecast.diverged:
        return 0.0
    t = float(incumbent)
    if not math.isfinite(t):
        raise parameter_error("incumbent", "expected_improvement", "a finite number", incumbent)
    sign = 1.0 if (direction or forecast.direction) == "maximize" else -1.0
    if forecast.samples is not None:
        col = forecast.samples[:, forecast._index(at)]
        return float(np.mean(np.maximum(sign * (col - t), 0.0)))
    q = np.maximum(sign * (forecast.grid_values[forecast._index(at)] - t), 0.0)
    # the quantile function is piecewise linear on GRID and flat beyond its ends
    inner = float(np.sum(np.diff(GRID) * (q[1:] + q[:-1]) / 2))
    return inner + float(GRID[0] * q[0] + (1 - GRID[-1]) * q[-1])


def as_compute_fraction(done: float, left: float) -> float:
    """The share of a run's compute still to come, in [0, 1] (1 when nothing is known)."""
    total = done + left
    return left / total if total > 0 and math.isfinite(total) else 1.0
