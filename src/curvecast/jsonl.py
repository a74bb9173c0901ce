"""The JSON Lines request/answer format of ``curvecast forecast``.

Request, one JSON object per line::

    {"id": "run-1", "x": [1, 2, 3], "y": [0.5, 0.6, 0.64], "x_new": [10, 50],
     "direction": "maximize", "bounds": [0, 1], "threshold": 0.7, "meta": {...}}

``x``, ``y`` and ``x_new`` are required; ``id`` (any JSON value, echoed), ``direction`` (default
"maximize"), ``bounds`` (``[lo, hi]``, null for an open side), ``threshold`` (adds
``prob_better``: the probability that the last ``x_new`` beats it) and ``meta`` (ignored, for your
own bookkeeping) are optional. ``y`` may hold NaN, Infinity or null: the run diverged there (see
:mod:`curvecast.curves`). Numbers must be JSON numbers: ``"0.2"`` (a string) and ``true`` are
refused, as are integers beyond the float range, values outside ``bounds`` and ``x_new`` beyond
:data:`~curvecast.curves.MAX_EXTRAPOLATION` times the last ``x``. One request may ask
for at most :data:`MAX_X_NEW` query points and give at most :data:`MAX_POINTS` observed points
(``curvecast forecast --max-x-new/--max-points`` change the caps).

Randomness: the answer to a request depends on the request and the seed only, never on its
position in the file or on the requests around it: :func:`request_rng` derives each request's
generator from the seed and a hash of what the forecast reads (``x``, ``y``, ``x_new``,
``direction``, ``bounds``, as float64; not ``id``, ``threshold`` or ``meta``). So the same curve
gets the same answer under any id, in any file, formatted as ``1`` or ``1.0``.

``schedule`` (optional) is the run's learning-rate schedule along ``x``, up to at least the last
``x_new``, as for :func:`curvecast.forecast`: ``{"name": "cosine", "peak_lr": 3e-4, "warmup": 200,
"total": 5000}`` or ``{"x": [...], "lr": [...]}``; with it the default method follows it.

Answer, one JSON object per request, in the same order::

    {"id": "run-1", "x_new": [...], "levels": [...], "quantiles": [[...], ...], "mean": [...],
     "method": "parametric", "diverged": false, "prob_better": 0.42}
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Curve, check_queries
from curvecast.exceptions import CurvecastError, InvalidCurveError, InvalidParameterError
from curvecast.schedules import Schedule, as_schedule

__all__ = [
    "KNOWN_FIELDS",
    "MAX_POINTS",
    "MAX_X_NEW",
    "Request",
    "RequestError",
    "parse_line",
    "request_rng",
]

KNOWN_FIELDS = ("id", "x", "y", "x_new", "direction", "bounds", "threshold", "meta", "schedule")
_REQUIRED = ("x", "y", "x_new")

#: Default cap on the query points of one request (the forecast's cost grows with them).
MAX_X_NEW = 2_000
#: Default cap on the observed points of one request.
MAX_POINTS = 20_000


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


def parse_line(
    text: str | bytes,
    line_no: int,
    *,
    max_x_new: int = MAX_X_NEW,
    max_points: int = MAX_POINTS,
) -> Request | None:
    """Parse one line (text, or bytes that must be UTF-8); None for a blank line.

    Raises:
        RequestError: not UTF-8, malformed JSON (nested too deep, an integer literal too long
            included), not an object, missing/unknown/invalid field, an ``id`` that cannot be
            written back as JSON, more than ``max_x_new`` query or ``max_points`` observed points.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig" if line_no == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise RequestError(
                line_no,
                f"not valid UTF-8 (byte 0x{text[exc.start]:02x} at offset {exc.start}); "
                "save the file as UTF-8.",
            ) from None
    if not text.strip():
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestError(line_no, f"not valid JSON ({exc.msg} at column {exc.colno}).") from None
    except RecursionError:
        raise RequestError(
            line_no, "JSON nested too deeply to read; a request is a flat object of lists."
        ) from None
    except ValueError as exc:  # e.g. an integer literal beyond Python's 4,300-digit limit
        raise RequestError(line_no, f"not usable JSON ({exc}).") from None
    if not isinstance(obj, dict):
        raise RequestError(line_no, f"expected a JSON object, got {type(obj).__name__}.")
    rid = obj.get("id")
    if not _writable(rid):
        raise RequestError(
            line_no,
            "The 'id' field must be writable as strict JSON (no NaN or Infinity, not nested "
            "deeply). Use a string or a number.",
        )
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
                line_no,
                f"The {name!r} field must be a list of numbers. Got {_short(obj[name])}.",
                rid,
            )
    for name, cap, flag in (("x_new", max_x_new, "--max-x-new"), ("x", max_points, "--max-points")):
        if len(obj[name]) > cap:
            raise RequestError(
                line_no,
                f"The {name!r} field holds {len(obj[name])} points; one request may hold at most "
                f"{cap}. Split the request, thin the points, or raise the cap with {flag}.",
                rid,
            )
    try:
        curve = Curve(
            obj["x"],
            [math.nan if v is None else v for v in obj["y"]],
            direction=obj.get("direction", "maximize"),
            bounds=obj.get("bounds"),
        )
        x_new = check_queries(curve, obj["x_new"], "x_new")
    except InvalidCurveError as exc:
        raise RequestError(line_no, str(exc), rid) from None
    threshold = obj.get("threshold")
    if threshold is not None and (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or (isinstance(threshold, int) and abs(threshold) > _FLOAT_MAX)
        or not math.isfinite(threshold)
    ):
        raise RequestError(
            line_no,
            f"The 'threshold' field must be a finite number or null. Got {_short(threshold)}.",
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


_FLOAT_MAX = float(np.finfo(np.float64).max)


def request_rng(curve: Curve, x_new: NDArray[np.float64], seed: int) -> np.random.Generator:
    """The generator for one request: from ``seed`` and a hash of what the forecast reads.

    The same (seed, curve, x_new) always gives the same generator, whatever the request's
    position, id or formatting; different curves get independent streams (numpy's SeedSequence
    mixes the 128-bit digest with the seed).

    >>> c = Curve([1, 2], [0.5, 0.6])
    >>> a = request_rng(c, np.array([10.0]), 0).random()
    >>> a == request_rng(Curve([1.0, 2.0], [0.5, 0.6]), np.array([10]), 0).random()
    True
    """
    h = hashlib.blake2b(digest_size=16)
    for arr in (curve.x, curve.y, np.asarray(x_new, dtype=np.float64)):
        canon = np.where(np.isnan(arr), np.nan, arr) + 0.0  # one NaN pattern, no -0.0
        h.update(np.ascontiguousarray(canon, dtype="<f8").tobytes())
        h.update(b"|")
    h.update(f"{curve.direction}|{curve.bounds!r}".encode())
    words = np.frombuffer(h.digest(), dtype="<u4").tolist()
    return np.random.default_rng(np.random.SeedSequence([int(seed), *words]))


def _writable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        return False
    return True


def _short(value: Any, limit: int = 60) -> str:
    """``repr`` of a user value, cut to ``limit`` characters (a 100 kB list stays readable)."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int beyond the 4,300-digit limit of repr
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
