"""``curvecast.forecast``: the front door that validates input and dispatches to a method."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from curvecast.curves import Curve, check_axis, check_queries
from curvecast.exceptions import CurvecastError, parameter_error
from curvecast.forecast._base import Forecaster, get_forecaster, resolve_auto
from curvecast.forecast._guard import guard, infer_bounds
from curvecast.forecast._resolution import resolution_of, with_resolution
from curvecast.forecast._result import DEFAULT_LEVELS, GRID, Forecast, as_rng, check_levels
from curvecast.schedules import Schedule, attach_schedules

__all__ = ["forecast", "forecast_curve", "forecast_many"]


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
    resolution: float | None = None,
) -> Forecast:
    """Forecast a learning curve at new points.

    Args:
        x: observed axis, shape ``(n,)``: finite, >= 0, strictly increasing, any scale.
        y: observed metric, shape ``(n,)``. NaN, inf or a value beyond 1e12 marks divergence
            (see :mod:`curvecast.curves`).
        x_new: query points, shape ``(m,)``, strictly increasing, >= 0.
        direction: "maximize" (accuracy) or "minimize" (loss).
        bounds: ``(lo, hi)`` the metric cannot leave, None for an open side; e.g. ``(0, 1)``.
        method: a name from :func:`curvecast.available_methods`. "auto" (the default) is
            "calibrated" when ``context`` holds at least 3 curves (the PFN recalibrated on the
            search: calibrated inside it, a few milliseconds) and "ensemble" for a curve alone
            (the PFN mixed with the parametric families).
        quantiles: levels reported by ``Forecast.quantiles``, strictly increasing in (0, 1).
        rng: a numpy Generator or int seed; None means seed 0 (repeatable).
        context: other curves of the same search, used by methods that can: completed runs,
            each observed to its own end (a diverged one is cut to its finite part).
            ``calibrated`` reads each at the same fraction of its own run as this curve is of
            the last ``x_new``; ``analog`` does so where the runs do not mostly share one end.
            A context curve may carry its own schedule in ``meta["schedule"]`` (a dict
            as for ``schedule``).
        schedule: the run's learning rate along ``x`` from its start to at least the last
            ``x_new``: a :class:`~curvecast.Schedule` or its dict, e.g. ``{"name": "cosine",
            "peak_lr": 3e-4, "warmup": 200, "total": 5000}`` or ``{"x": [...], "lr": [...]}``
            (see docs/schedules.md). With it, "auto" uses a schedule-aware method; the
            schedule is stored in the curve's ``meta["schedule"]`` for the method to read.
        resolution: the metric's step, e.g. ``1 / 540`` for an accuracy on 540 examples: no
            90% interval is made narrower than it. None (the default) infers it for a score
            in [0, 1] or [0, 100] whose observed values are all multiples of one ``1 / n``;
            losses are taken as continuous. Stored in ``meta["resolution"]``.

    Returns:
        A :class:`Forecast`; ``.quantiles`` has shape ``(m, len(quantiles))``.

    Raises:
        InvalidCurveError: bad ``x``, ``y``, ``x_new``, ``direction`` or ``bounds``.
        InvalidParameterError: bad ``quantiles`` or ``rng``, or a ``context`` curve that is not
            a Curve or does not share the curve's direction.
        UnknownMethodError: unknown ``method``.
        InvalidParameterError: a bad ``schedule``, or one that stops before the last ``x_new``,
            or a ``resolution`` that is not a positive finite number.

    Example:
        >>> import curvecast
        >>> f = curvecast.forecast([1, 2, 3], [0.31, 0.25, 0.22], [10], direction="minimize")
        >>> f.quantiles.shape
        (1, 5)
    """
    if resolution is not None:
        if (
            isinstance(resolution, bool)
            or not isinstance(resolution, int | float)
            or not math.isfinite(resolution)
            or not resolution > 0
        ):
            raise parameter_error(
                "resolution", "forecast", "None or a positive finite number", resolution
            )
    meta = {} if resolution is None else {"resolution": float(resolution)}
    curve = Curve(x, y, direction=direction, bounds=bounds, meta=meta)
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
    if not isinstance(rng, np.random.Generator):
        as_rng(rng)  # one curve: a seed or a Generator, not a list of them
    curve, context, _ = attach_schedules(curve, xq, schedule, context)
    return forecast_many(
        [curve], [xq], method=method, quantiles=quantiles, rng=rng, context=context
    )[0]


def forecast_many(
    curves: Sequence[Curve],
    x_new: ArrayLike | Sequence[ArrayLike],
    *,
    method: str = "auto",
    quantiles: ArrayLike = DEFAULT_LEVELS,
    rng: np.random.Generator | int | Sequence[np.random.Generator | int] | None = None,
    context: Sequence[Curve] = (),
) -> list[Forecast]:
    """Forecast many curves in one call: one forward pass of the network for all of them.

    Each answer is the one :func:`forecast_curve` gives for that curve alone with the same
    ``rng`` seed: it depends on the curve, its queries, ``context`` and the seed, never on its
    position in the batch or on the other curves (up to float32 rounding in the network, about
    1e-6 of the metric's scale).

    Args:
        curves: the curves, each a :class:`Curve`; ``k = len(curves)``.
        x_new: the query points, shape ``(m,)`` for all curves alike, or a sequence of ``k``
            arrays (one per curve, each strictly increasing, >= 0).
        method, quantiles, context: as for :func:`forecast`; ``context`` is shared by all curves
            (the completed trials of one search).
        rng: an int seed or None (seed 0): every curve is forecast with that seed. A Generator:
            each curve gets its own child generator (``rng.spawn``), in order. A list of ``k``
            seeds or Generators: one per curve.

    Returns:
        ``k`` Forecasts, in the order of ``curves``.

    Raises:
        InvalidCurveError: a curve that is not a :class:`Curve`, or bad ``x_new``.
        InvalidParameterError: bad ``quantiles``, ``rng`` or ``context``.
        UnknownMethodError: unknown ``method``.

    Example:
        >>> import numpy as np, curvecast
        >>> x = np.arange(1.0, 11.0)
        >>> curves = [curvecast.Curve(x, a - 0.3 / x) for a in (0.7, 0.8, 0.9)]
        >>> [round(float(f.median[0]), 2) <= 1.0 for f in curvecast.forecast_many(curves, [50])]
        [True, True, True]
    """
    if isinstance(curves, Curve) or not isinstance(curves, Sequence):
        raise parameter_error("curves", "forecast_many", "a sequence of Curve objects", curves)
    for c in curves:
        if not isinstance(c, Curve):
            raise parameter_error("curves", "forecast_many", "a sequence of Curve objects", c)
    queries = [
        check_queries(c, q) for c, q in zip(curves, _queries(x_new, len(curves)), strict=True)
    ]
    curves = [
        attach_schedules(c, q, None)[0] if c.meta.get("schedule") is not None else c
        for c, q in zip(curves, queries, strict=True)
    ]
    if curves and any(isinstance(c, Curve) and c.meta.get("schedule") is not None for c in context):
        context = attach_schedules(curves[0], queries[0], None, context)[1]
    levels = check_levels(quantiles)
    gens = _generators(rng, len(curves))
    get_forecaster(method)  # an unknown name fails before anything else is done
    ctx = _check_context(context, curves)
    if method == "auto":
        has_schedule = any(c.meta.get("schedule") is not None for c in curves)
        method = resolve_auto(len(ctx), has_schedule)
    forecaster = get_forecaster(method)
    name = getattr(forecaster, "name", method)
    out: list[Forecast | None] = [None] * len(curves)
    todo = []
    for i, (curve, xq) in enumerate(zip(curves, queries, strict=True)):
        if curve.diverged:
            worst = np.full((xq.size, GRID.size), curve.worst)
            out[i] = Forecast(
                xq,
                worst,
                direction=curve.direction,
                levels=levels,
                method=name,
                diverged=True,
                info={"diverged_at": float(curve.x[curve.n_observed])},
            )
        else:
            todo.append(i)
    if todo:
        seen = [as_seen(curves[i]) for i in todo]
        batch = getattr(forecaster, "forecast_batch", None)
        results: list[Forecast] | None = None
        # numeric trouble inside a method (an overflow on an extreme scale) is the method's to
        # handle: it never reaches the user as a warning, and a method that fails on a curve
        # answers with last_value, saying so in the Forecast's ``fallback``
        with np.errstate(all="ignore"):
            if batch is not None and len(todo) > 1:
                try:
                    results = batch(
                        seen, [queries[i] for i in todo], rngs=[gens[i] for i in todo], context=ctx
                    )
                except CurvecastError:
                    raise
                except _NUMERIC_FAILURES:
                    results = None
            if results is None:
                results = [
                    _one(forecaster, name, c, queries[i], gens[i], ctx)
                    for c, i in zip(seen, todo, strict=True)
                ]
        for i, c, result in zip(todo, seen, results, strict=True):
            fc = guard(result, c).with_levels(levels)  # the guard clips to the given bounds too
            inferred = infer_bounds(curves[i])
            step = resolution_of(curves[i], inferred)
            if step is not None:
                fc = with_resolution(fc, step, inferred)
            if inferred is not None and inferred != curves[i].bounds:
                fc.info["bounds_inferred"] = [b if np.isfinite(b) else None for b in inferred]
            out[i] = fc
    return [f for f in out if f is not None]


#: What a method may raise on numerically extreme input; the front door answers with last_value.
_NUMERIC_FAILURES = (ValueError, ArithmeticError, np.linalg.LinAlgError)


def _one(
    forecaster: Forecaster,
    name: str,
    curve: Curve,
    xq: NDArray[np.float64],
    rng: np.random.Generator,
    context: Sequence[Curve],
) -> Forecast:
    try:
        return forecaster.forecast(curve, xq, rng=rng, context=context)
    except CurvecastError:  # ours, with a message for the user (broken weights, bad input)
        raise
    except _NUMERIC_FAILURES as exc:
        if name == "last_value":
            raise
        fb = get_forecaster("last_value").forecast(curve, xq, rng=rng)
        info = {"fallback": f"last_value: {name} failed on this curve ({type(exc).__name__})"}
        return Forecast(xq, fb.grid_values, direction=curve.direction, method=name, info=info)


def as_seen(curve: Curve) -> Curve:
    """The curve as methods see it: with the bounds an accuracy-like score implies when none
    were given (a maximised metric in [0, 1] or [0, 100]); losses keep open bounds, since a
    loss's floor is seldom 0 (the guard still keeps them non-negative)."""
    if curve.direction != "maximize":
        return curve
    bounds = infer_bounds(curve)
    if bounds is None or bounds == curve.bounds or not all(np.isfinite(bounds)):
        return curve
    return Curve(curve.x, curve.y, curve.direction, bounds, curve.meta)


def _queries(x_new: ArrayLike | Sequence[ArrayLike], k: int) -> list[np.ndarray]:
    if isinstance(x_new, Sequence) and x_new and not isinstance(x_new, str | bytes):
        first = x_new[0]
        if isinstance(first, Sequence | np.ndarray) and not isinstance(first, str | bytes):
            if len(x_new) != k:
                raise parameter_error(
                    "x_new", "forecast_many", f"one array for all curves or {k} arrays", x_new
                )
            return [check_axis(q, "x_new") for q in x_new]
    xq = check_axis(x_new, "x_new")  # type: ignore[arg-type]
    return [xq] * k


def _generators(rng: object, k: int) -> list[np.random.Generator]:
    if isinstance(rng, list | tuple):
        if len(rng) != k:
            raise parameter_error(
                "rng", "forecast_many", f"one seed or Generator, or a list of {k}", rng
            )
        return [as_rng(r) for r in rng]
    if isinstance(rng, np.random.Generator):
        return list(rng.spawn(k)) if k > 1 else [rng]
    as_rng(rng)  # type: ignore[arg-type]  # validates
    return [as_rng(rng) for _ in range(k)]  # type: ignore[arg-type]


def _check_context(context: Sequence[Curve], curves: Sequence[Curve]) -> list[Curve]:
    direction = curves[0].direction if curves else "maximize"
    for c in [*context, *(curves if context else ())]:
        if not isinstance(c, Curve) or c.direction != direction:
            raise parameter_error(
                "context",
                "forecast",
                f"a sequence of Curve objects of the same search (direction {direction!r})",
                c if not isinstance(c, Curve) else f"a curve with direction {c.direction!r}",
            )
    ctx = [c.truncate(c.n_observed) if c.diverged and c.n_observed else c for c in context]
    return [as_seen(c) for c in ctx if not c.diverged]
