"""``curvecast.forecast``: the front door that validates input and dispatches to a method."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from curvecast.curves import Curve, check_axis
from curvecast.exceptions import parameter_error
from curvecast.forecast._base import _AUTO_WITH_SCHEDULE, get_forecaster
from curvecast.forecast._result import DEFAULT_LEVELS, GRID, Forecast, as_rng, check_levels
from curvecast.schedules import Schedule, attach_schedules

__all__ = ["forecast", "forecast_curve"]


def forecast(
    x: ArrayLike,
    y: ArrayLike,
    x_new: ArrayLike,
    *,
    direction: str = "maximize",
    bounds: Sequence[float | None] | None = None,
    method: str = "auto",
    quantiles: ArrayLike = DEFAULT_LEVELS,
    rng: np.random.Generator | int | None = None,
    context: Sequence[Curve] = (),
    schedule: Schedule | Mapping[str, Any] | None = None,
) -> Forecast:
    """Forecast a learning curve at new points.

    Args:
        x: observed axis, shape ``(n,)``: finite, >= 0, strictly increasing, any scale.
        y: observed metric, shape ``(n,)``. NaN, inf or a value beyond 1e12 marks divergence
            (see :mod:`curvecast.curves`).
        x_new: query points, shape ``(m,)``, strictly increasing, >= 0.
        direction: "maximize" (accuracy) or "minimize" (loss).
        bounds: ``(lo, hi)`` the metric cannot leave, None for an open side; e.g. ``(0, 1)``.
        method: a name from :func:`curvecast.available_methods`; "auto" picks the best.
        quantiles: levels reported by ``Forecast.quantiles``, strictly increasing in (0, 1).
        rng: a numpy Generator or int seed; None means seed 0 (repeatable).
        context: other curves of the same search, used by methods that can. A context curve
            may carry its own schedule in ``meta["schedule"]`` (a dict as for ``schedule``).
        schedule: the run's learning rate along ``x`` from its start to at least the last
            ``x_new``: a :class:`~curvecast.Schedule` or its dict, e.g. ``{"name": "cosine",
            "peak_lr": 3e-4, "warmup": 200, "total": 5000}`` or ``{"x": [...], "lr": [...]}``
            (see docs/schedules.md). With it, "auto" uses a schedule-aware method; the
            schedule is stored in the curve's ``meta["schedule"]`` for the method to read.

    Returns:
        A :class:`Forecast`; ``.quantiles`` has shape ``(m, len(quantiles))``.

    Raises:
        InvalidCurveError: bad ``x``, ``y``, ``x_new``, ``direction`` or ``bounds``.
        InvalidParameterError: bad ``quantiles`` or ``rng``, or a ``context`` curve that is not
            a Curve or does not share the curve's direction.
        UnknownMethodError: unknown ``method``.
        InvalidParameterError: a bad ``schedule``, or one that stops before the last ``x_new``.

    Example:
        >>> import curvecast
        >>> f = curvecast.forecast([1, 2, 3], [0.31, 0.25, 0.22], [10], direction="minimize")
        >>> f.quantiles.shape
        (1, 5)
    """
    curve = Curve(x, y, direction=direction, bounds=bounds)
    return forecast_curve(
        curve, x_new, method=method, quantiles=quantiles, rng=rng, context=context,
        schedule=schedule,
    )  # fmt: skip


def forecast_curve(
    curve: Curve,
    x_new: ArrayLike,
    *,
    method: str = "auto",
    quantiles: ArrayLike = DEFAULT_LEVELS,
    rng: np.random.Generator | int | None = None,
    context: Sequence[Curve] = (),
    schedule: Schedule | Mapping[str, Any] | None = None,
) -> Forecast:
    """:func:`forecast` for a :class:`Curve` already built (its ``meta["schedule"]`` is used
    when ``schedule`` is None)."""
    xq = check_axis(x_new, "x_new")
    levels = check_levels(quantiles)
    gen = as_rng(rng)
    curve, context, has_schedule = attach_schedules(curve, xq, schedule, context)
    if has_schedule and method == "auto":
        method = _AUTO_WITH_SCHEDULE
    forecaster = get_forecaster(method)
    name = getattr(forecaster, "name", method)
    if curve.diverged:
        worst = np.full((xq.size, GRID.size), curve.worst)
        return Forecast(
            xq,
            worst,
            direction=curve.direction,
            levels=levels,
            method=name,
            diverged=True,
            info={"diverged_at": float(curve.x[curve.n_observed])},
        )
    for c in context:
        if not isinstance(c, Curve) or c.direction != curve.direction:
            raise parameter_error(
                "context",
                "forecast",
                f"a sequence of Curve objects of the same search (direction {curve.direction!r})",
                c if not isinstance(c, Curve) else f"a curve with direction {c.direction!r}",
            )
    ctx = [c.truncate(c.n_observed) if c.diverged and c.n_observed else c for c in context]
    ctx = [c for c in ctx if not c.diverged]
    result = forecaster.forecast(curve, xq, rng=gen, context=ctx)
    return result.with_levels(levels).clipped(curve.bounds)
