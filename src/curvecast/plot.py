"""Plots of forecasts and of whole searches, with matplotlib.

matplotlib is imported when a function is called, never when this module is imported. The
functions draw on a :class:`matplotlib.figure.Figure` built without pyplot when no ``ax`` is given,
so they work headless (no display, Agg) and leave no global figure behind; pass ``ax`` from
``plt.subplots()`` to draw into a notebook or an existing figure.

>>> import curvecast
>>> from curvecast.plot import plot_forecast
>>> x, y = [1, 2, 3, 4], [0.50, 0.60, 0.65, 0.68]
>>> f = curvecast.forecast(x, y, [5, 10, 20, 40], bounds=(0, 1))
>>> ax = plot_forecast(x, y, f)
>>> ax.figure.savefig("forecast.png")  # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from curvecast.exceptions import MissingDependencyError, install_hint, parameter_error

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from curvecast.forecast import Forecast

__all__ = ["plot_forecast", "plot_study"]

_OBSERVED = "#1f2937"
_FORECAST = "#2563eb"
_COMPLETE = "#2563eb"
_PRUNED = "#9ca3af"
_STOP = "#dc2626"
_RUNNING = "#059669"
_INCUMBENT = "#d97706"


def _new_axes(figsize: tuple[float, float]) -> Axes:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingDependencyError(
            "curvecast.plot needs matplotlib: " + install_hint("plot")
        ) from exc
    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def _check_ax(ax: Any, owner: str) -> None:
    if ax is not None and not hasattr(ax, "fill_between"):
        raise parameter_error("ax", owner, "a matplotlib Axes or None", ax)


def plot_forecast(
    x: ArrayLike,
    y: ArrayLike,
    forecast: Forecast,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str = "step",
    ylabel: str = "metric",
) -> Axes:
    """Draw the observed points, the forecast median and its 50% and 90% bands.

    Args:
        x: observed steps, shape ``(n,)``.
        y: observed values, shape ``(n,)``; non-finite values are not drawn.
        forecast: a :class:`~curvecast.Forecast` at ``forecast.x_new``, shape ``(m,)``.
        ax: axes to draw on; None makes a new 7 x 4 inch figure (see ``ax.figure``).
        title: axes title; None writes the forecasting method.
        xlabel, ylabel: axis labels.

    Returns:
        The axes drawn on: one line for the observed points, one for the median, two filled
        bands (90% below 50%), a legend.

    Raises:
        InvalidParameterError: ``x`` and ``y`` differ in length, or ``ax`` is not an Axes.
        MissingDependencyError: matplotlib is not installed.
    """
    xs = np.asarray(x, dtype=np.float64).reshape(-1)
    ys = np.asarray(y, dtype=np.float64).reshape(-1)
    if xs.shape != ys.shape:
        raise parameter_error(
            "y", "plot_forecast", f"as long as x ({xs.size} points)", f"{ys.size} points"
        )
    _check_ax(ax, "plot_forecast")
    if ax is None:
        ax = _new_axes((7.0, 4.0))
    xq = np.asarray(forecast.x_new, dtype=np.float64)
    q = forecast.quantile([0.05, 0.25, 0.5, 0.75, 0.95])  # (m, 5)
    ax.fill_between(xq, q[:, 0], q[:, 4], color=_FORECAST, alpha=0.15, lw=0, label="90% band")
    ax.fill_between(xq, q[:, 1], q[:, 3], color=_FORECAST, alpha=0.30, lw=0, label="50% band")
    ax.plot(xq, q[:, 2], color=_FORECAST, lw=2, label="forecast median")
    ok = np.isfinite(ys)
    ax.plot(xs[ok], ys[ok], "o", color=_OBSERVED, ms=4, label=f"observed ({int(ok.sum())} points)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(
        title if title is not None else f"forecast ({forecast.method or 'unknown'})",
        parse_math=False,
    )
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", frameon=False)
    return ax


def _draw_stop_band(
    ax: Axes,
    trial: Any,
    step: float,
    value: float,
    labelled: set[str],
    final_forecast: Any,
    n_bands: int = 1,
) -> None:
    """The forecast a pruned trial was stopped on: a wedge from its last value to the 90% (light)
    and 50% (darker) intervals of its final value at the horizon, fainter when ``n_bands``
    overlap."""
    try:
        verdict = final_forecast(trial)
    except Exception:  # a malformed verdict record: draw the curve without its forecast
        return
    if verdict is None or verdict.horizon is None or not math.isfinite(value):
        return
    q = verdict.final_quantiles
    horizon = float(verdict.horizon)
    if horizon <= step or not all(math.isfinite(q.get(k, math.nan)) for k in (0.05, 0.95)):
        return
    label = "_nolegend_" if "band" in labelled else "forecast at the stop (50%, 90%)"
    labelled.add("band")
    xs = [step, horizon]
    ax.fill_between(
        xs, [value, q[0.05]], [value, q[0.95]], color=_STOP, alpha=0.10, lw=0, label=label
    )
    if all(math.isfinite(q.get(k, math.nan)) for k in (0.25, 0.75)):
        ax.fill_between(xs, [value, q[0.25]], [value, q[0.75]], color=_STOP, alpha=0.18, lw=0)


def plot_study(
    study: Any,
    *,
    ax: Axes | None = None,
    show_forecasts: bool = False,
    title: str | None = None,
    xlabel: str = "step",
    ylabel: str | None = None,
) -> Axes:
    """Draw every trial's reported curve, where each pruned trial was stopped, and the incumbent.

    Completed trials are drawn in blue, pruned ones in grey with a red cross at the step where
    they stopped, running ones in green; the incumbent (best final reported value among completed
    trials) is a dashed orange line. With ``show_forecasts``, a pruned trial that curvecast's
    :class:`~curvecast.integrations.optuna.ForecastPruner` stopped also shows the forecast it was
    stopped on: a band from its last value to the 50% and 90% intervals of its final value at
    the horizon.

    Args:
        study: an ``optuna.study.Study`` with one objective.
        ax: axes to draw on; None makes a new 8 x 4.5 inch figure (see ``ax.figure``).
        show_forecasts: draw the stored forecast bands of pruned trials (off by default: early
            stops have wide bands that stretch the axis).
        title: axes title; None writes the study name and the trial counts.
        xlabel: x axis label.
        ylabel: y axis label; None writes "reported value (maximize)" or "(minimize)".

    Returns:
        The axes drawn on: one line per trial with reports, one marker line for the stops, one
        horizontal line for the incumbent when there is one, and a legend.

    Raises:
        InvalidParameterError: ``study`` is not a single-objective Optuna study, or ``ax`` is
            not an Axes.
        MissingDependencyError: matplotlib or Optuna is not installed.
    """
    _check_ax(ax, "plot_study")
    if not hasattr(study, "get_trials") or not hasattr(study, "directions"):
        raise parameter_error("study", "plot_study", "an optuna Study", study)
    if len(study.directions) != 1:
        raise parameter_error(
            "study",
            "plot_study",
            "a study with one objective",
            f"{len(study.directions)} objectives",
        )
    try:
        from optuna.study import StudyDirection
        from optuna.trial import TrialState

        from curvecast.integrations.optuna import final_forecast
    except ImportError as exc:
        raise MissingDependencyError("plot_study needs Optuna: " + install_hint("optuna")) from exc
    maximize = study.directions[0] == StudyDirection.MAXIMIZE
    if ax is None:
        ax = _new_axes((8.0, 4.5))
    trials = study.get_trials(deepcopy=False)
    n_pruned = sum(t.state == TrialState.PRUNED for t in trials)
    counts = {"complete": 0, "pruned": 0, "running": 0}
    stops_x: list[float] = []
    stops_y: list[float] = []
    finals: list[float] = []
    seen: list[float] = []  # every finite reported value: the y range the data spans
    labelled: set[str] = set()
    for t in trials:
        if not t.intermediate_values:
            continue
        steps = sorted(t.intermediate_values)
        values = [float(t.intermediate_values[s]) for s in steps]
        if t.state == TrialState.COMPLETE:
            kind, color, style, alpha = "complete", _COMPLETE, "-", 0.8
            if math.isfinite(values[-1]):
                finals.append(values[-1])
        elif t.state == TrialState.PRUNED:
            kind, color, style, alpha = "pruned", _PRUNED, "-", 0.8
            stops_x.append(float(steps[-1]))
            stops_y.append(values[-1])
        elif t.state == TrialState.RUNNING:
            kind, color, style, alpha = "running", _RUNNING, "--", 0.9
        else:
            continue
        counts[kind] += 1
        seen.extend(v for v in values if math.isfinite(v))
        label = None if kind in labelled else kind
        labelled.add(kind)
        ax.plot(steps, values, style, color=color, lw=1.2, alpha=alpha, label=label)
        if show_forecasts and kind == "pruned":
            _draw_stop_band(ax, t, float(steps[-1]), values[-1], labelled, final_forecast, n_pruned)
    if stops_x:
        ax.plot(stops_x, stops_y, "x", color=_STOP, ms=7, mew=2, label=f"stopped ({len(stops_x)})")
    if finals:
        incumbent = max(finals) if maximize else min(finals)
        ax.axhline(incumbent, color=_INCUMBENT, ls="--", lw=1.5, label=f"incumbent {incumbent:.4g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(
        ylabel if ylabel is not None else f"reported value ({'max' if maximize else 'min'}imize)"
    )
    if title is None:
        title = f"{study.study_name}: {counts['complete']} completed, {counts['pruned']} pruned" + (
            f", {counts['running']} running" if counts["running"] else ""
        )
    ax.set_title(title, parse_math=False)  # a study name may hold '$'
    ax.grid(True, alpha=0.3)
    if show_forecasts and seen:
        # the cones of trials stopped early are wide: clip them to the range the curves span,
        # so that they do not squeeze the completed curves into a strip at the edge
        lo, hi = min(seen), max(seen)
        pad = 0.05 * (hi - lo) or 0.05 * abs(hi) or 0.5
        ax.set_ylim(lo - pad, hi + pad)
    if labelled or stops_x or finals:
        # outside the axes, on the right: a legend inside covers bands and curves
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize="small")
    return ax
