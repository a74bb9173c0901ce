"""The JSON Lines request/answer format of ``curvecast forecast``.

Request, one JSON object per line::

    {"id": "run-1", "x": [1, 2, 3], "y": [0.5, 0.6, 0.64], "x_new": [10, 50],
     "direction": "maximize", "bounds": [0, 1], "threshold": 0.7, "meta": {...}}

``x``, ``y`` and ``x_new`` are required; ``id`` (any JSON value, echoed), ``direction`` (default
"maximize"), ``bounds`` (``[lo, hi]``, null for an open side), ``threshold`` (adds
``prob_better``: the probability that the last ``x_new`` beats it) and ``meta`` (ignored, for your
own bookkeeping) are optional. ``y`` may hold NaN, Infinity or null: the run diverged there (see
:mod:`curvecast.curves`).

``schedule`` (optional) is the run's learning-rate schedule along ``x``, up to at least the last
``x_new``, as for :func:`curvecast.forecast`: ``{"name": "cosine", "peak_lr": 3e-4, "warmup": 200,
"total": 5000}`` or ``{"x": [...], "lr": [...]}``; with it the default method follows it.

Answer, one JSON object per request, in the same order::

    {"id": "run-1", "x_new": [...], "levels": [...], "quantiles": [[...], ...], "mean": [...],
     "method": "parametric", "diverged": false, "prob_better": 0.42}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from curvecast.curves import Curve, check_axis
from curvecast.exceptions import CurvecastError, InvalidCurveError, InvalidParameterError
from curvecast.schedules import Schedule, as_schedule

__all__ = ["KNOWN_FIELDS", "Request", "RequestError", "parse_line"]

KNOWN_FIELDS = ("id", "x", "y", "x_new", "direction", "bounds", "threshold", "meta", "schedule")
_REQUIRED = ("x", "y", "x_new")


class RequestError(CurvecastError, ValueError):
    """One line of input cannot be used; ``str()`` names the line and the field."""

    def __init__(self, line_no: int, message: str, request_id: Any = None) -> None:
        super().__init__(f"line {line_no}: {message}")
        self.line_no = line_no
        self.request_id = request_id


@dataclass(frozen=True)
class Request:
    """A validated forecasting request."""

    id: Any
    curve: Curve
    x_new: Any
    threshold: float | None
    line_no: int
    schedule: Schedule | None = None


def parse_line(text: str, line_no: int) -> Request | None:
    """Parse one line; None for a blank line.

    Raises:
        RequestError: malformed JSON, not an object, missing/unknown/invalid field.
    """
    if not text.strip():
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestError(line_no, f"not valid JSON ({exc.msg} at column {exc.colno}).") from None
    if not isinstance(obj, dict):
        raise RequestError(line_no, f"expected a JSON object, got {type(obj).__name__}.")
    rid = obj.get("id")
    unknown = sorted(set(obj) - set(KNOWN_FIELDS))
    if unknown:
        raise RequestError(
            line_no,
            f"unknown field {unknown[0]!r}; the fields are {', '.join(KNOWN_FIELDS)} "
            "(put your own data under 'meta').",
            rid,
        )
    missing = [f for f in _REQUIRED if f not in obj]
    if missing:
        raise RequestError(line_no, f"the {missing[0]!r} field is missing.", rid)
    for name in _REQUIRED:
        if not isinstance(obj[name], list):
            raise RequestError(
                line_no, f"The {name!r} field must be a list of numbers. Got {obj[name]!r}.", rid
            )
    try:
        curve = Curve(
            obj["x"],
            [math.nan if v is None else v for v in obj["y"]],
            direction=obj.get("direction", "maximize"),
            bounds=obj.get("bounds"),
        )
        x_new = check_axis(obj["x_new"], "x_new")
    except InvalidCurveError as exc:
        raise RequestError(line_no, str(exc), rid) from None
    threshold = obj.get("threshold")
    if threshold is not None and (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not math.isfinite(threshold)
    ):
        raise RequestError(
            line_no,
            f"The 'threshold' field must be a finite number or null. Got {threshold!r}.",
            rid,
        )
    schedule = None
    if obj.get("schedule") is not None:
        try:
            schedule = as_schedule(obj["schedule"])
            if schedule is not None:
                schedule.check_covers(float(x_new[-1]), field="x_new")
                schedule.check_covers(float(curve.x[-1]), field="x")
        except InvalidParameterError as exc:
            raise RequestError(line_no, str(exc), rid) from None
    t = None if threshold is None else float(threshold)
    return Request(rid, curve, x_new, t, line_no, schedule)
