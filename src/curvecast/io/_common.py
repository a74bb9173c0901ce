"""What every reader shares: the error, the ``kind:location`` source syntax, and turning
``(run, step, value)`` series into validated Curves."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from curvecast.curves import Curve, check_bounds, check_direction
from curvecast.exceptions import DataSourceError, InvalidParameterError

__all__ = [
    "KINDS",
    "DataLossWarning",
    "SourceError",
    "build_curves",
    "check_metric",
    "parse_source",
    "unknown_metric",
]

#: The kinds of source ``kind:location`` names, with what ``location`` is.
KINDS: dict[str, str] = {
    "tensorboard": "a log directory holding event files (one run per folder)",
    "mlflow": "an mlruns folder, an MLflow database (.db) or a tracking URI (http://, sqlite://)",
    "wandb": "a CSV or JSON file exported from Weights & Biases, or a folder of them",
    "csv": "a CSV file with columns run, step, metric, value",
    "parquet": "a Parquet file with columns run, step, metric, value",
}


class SourceError(DataSourceError):
    """Runs cannot be read from a source; the message names the source and the fix."""


class DataLossWarning(UserWarning):
    """Part of a source was damaged and read around; the message names the file and what was
    lost (``curvecast forecast --from`` prints it as a warning line)."""


def parse_source(source: str) -> tuple[str, str]:
    """Split ``"kind:location"`` into its kind and location.

    >>> parse_source("tensorboard:runs/")
    ('tensorboard', 'runs/')

    Raises:
        SourceError: no known kind before the colon, or no location after it.
    """
    if not isinstance(source, str) or ":" not in source:
        raise SourceError(
            f"The source {source!r} must be KIND:LOCATION with KIND one of "
            f"{', '.join(KINDS)}, e.g. tensorboard:runs/ or mlflow:mlruns"
        )
    kind, location = source.split(":", 1)
    kind = kind.strip().lower()
    if kind == "tb":
        kind = "tensorboard"
    if kind not in KINDS:
        raise SourceError(
            f"The source {source!r} names an unknown kind {kind!r}; use one of "
            + "; ".join(f"{k}: ({v})" for k, v in KINDS.items())
        )
    if not location.strip():
        raise SourceError(f"The source {source!r} has no location after {kind!r}: {KINDS[kind]}")
    return kind, location.strip()


def check_metric(metric: object, owner: str) -> str:
    if not isinstance(metric, str) or not metric.strip():
        raise InvalidParameterError(
            f"The 'metric' parameter of {owner} must be a non-empty metric name such as "
            f"'val/loss'. Got {metric!r} instead."
        )
    return metric


def unknown_metric(source: str, metric: str, available: Iterable[str]) -> SourceError:
    """The error for a metric no run has, listing the ones that exist."""
    names = sorted(set(available))
    if not names:
        return SourceError(f"{source}: no run logged any scalar metric, so {metric!r} is not there")
    shown = ", ".join(repr(n) for n in names[:30]) + (" ..." if len(names) > 30 else "")
    return SourceError(f"{source}: no run has the metric {metric!r}; the runs have {shown}")


def build_curves(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    source: str,
    metric: str,
    direction: str,
    bounds: Sequence[float | None] | None,
    meta: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Curve]:
    """One Curve per run from its ``(step, value)`` points, in the order they were written.

    ``direction`` may be written "min"/"max" as in the training frameworks. A step written twice
    keeps its last value (a run resumed from a checkpoint rewrites the
    steps since it); points are sorted by step. A run whose values all share one step (logged
    without a step, as ``mlflow.log_metric(k, v)`` does) is put on the axis 1, 2, ... in
    writing order. Runs are returned sorted by name.

    Raises:
        SourceError: a negative or non-finite step (naming the run).
        InvalidCurveError: bad ``direction`` or ``bounds``.
    """
    direction = {"min": "minimize", "max": "maximize"}.get(direction, direction)
    check_direction(direction)
    check_bounds(bounds)
    out: dict[str, Curve] = {}
    for run in sorted(series):
        points = list(series[run])
        if not points:
            continue
        steps = {s for s, _ in points}
        if len(points) > 1 and len(steps) == 1:
            points = [(float(i), v) for i, (_, v) in enumerate(points, start=1)]
        last: dict[float, float] = {}
        for step, value in points:
            if not math.isfinite(step) or step < 0:
                raise SourceError(
                    f"{source}: run {run!r} logged {metric!r} at step {step}; steps must be "
                    "finite and >= 0"
                )
            last[float(step)] = float(value)
        xs = sorted(last)
        info = {"run": run, "metric": metric, "source": source, **dict((meta or {}).get(run, {}))}
        out[run] = Curve(xs, [last[x] for x in xs], direction, bounds, meta=info)
    return out
