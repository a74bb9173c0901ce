"""The partly observed curve: one run's metric over an axis.

Non-finite policy (one rule, used everywhere in curvecast)
----------------------------------------------------------
A real run can diverge: its loss becomes NaN or inf, or overflows to values such as 1e18. curvecast
treats the first ``y`` that is NaN, +-inf or larger in magnitude than :data:`DIVERGENCE_MAGNITUDE`
as the point where the run **diverged**. The points before it are kept as the observed curve; that
point and everything after it are dropped, since a diverged optimiser does not come back. A
forecast of a diverged curve says so (``Forecast.diverged`` is True): every quantile is the worst
value the metric can take (the lower bound when maximising, the upper bound when minimising, or
-inf/+inf when that side is open) and ``prob_better`` is 0 for any threshold. A curve whose very
first point diverged has no finite observations and is forecast the same way.

Non-finite ``x`` is never accepted: the axis is under the user's control, so a bad ``x`` is an
input error, not a diverged run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from curvecast.exceptions import InvalidCurveError, _shown

__all__ = [
    "DIVERGENCE_MAGNITUDE",
    "MAX_EXTRAPOLATION",
    "Curve",
    "Direction",
    "check_bounds",
    "check_direction",
    "check_queries",
]

Direction = Literal["maximize", "minimize"]

#: A ``y`` larger than this in magnitude is taken as a diverged run (overflowed losses read 1e18+).
DIVERGENCE_MAGNITUDE = 1e12


#: A query point beyond this multiple of the last observed x is refused by :func:`check_queries`:
#: no learning curve says anything a million times beyond what was seen, and such points
#: (``x_new`` of 1e308) only drive the forecasters into overflow.
MAX_EXTRAPOLATION = 1e6


def check_queries(curve: Curve, x_new: ArrayLike, field_name: str = "x_new") -> NDArray[np.float64]:
    """Validate query points for ``curve``: a valid axis (see :func:`check_axis`) that does not
    reach beyond :data:`MAX_EXTRAPOLATION` times the curve's last x (not checked when that is 0).

    Returns the read-only float64 array, shape ``(m,)``.

    Raises:
        InvalidCurveError: naming ``field_name``, the bad entry and the limit.

    Example:
        >>> check_queries(Curve([1, 2, 3], [0.5, 0.6, 0.65]), [10, 100]).tolist()
        [10.0, 100.0]
    """
    xq = check_axis(x_new, field_name)
    last = float(curve.x[-1])
    if last > 0 and xq[-1] > MAX_EXTRAPOLATION * last:
        raise InvalidCurveError(
            f"The {field_name!r} field reaches {xq[-1]:g}, more than {MAX_EXTRAPOLATION:g} times "
            f"the last observed x ({last:g}); a forecast that far says nothing. Check the units "
            "of x and x_new (steps against epochs?)."
        )
    return xq


def check_direction(direction: object, *, field_name: str = "direction") -> Direction:
    """Return ``direction`` if it is "maximize" or "minimize", else raise InvalidCurveError."""
    if direction == "maximize" or direction == "minimize":
        return direction
    raise InvalidCurveError(
        f'The {field_name!r} field must be "maximize" or "minimize". Got {direction!r} instead.'
    )


def check_bounds(bounds: object, *, field_name: str = "bounds") -> tuple[float, float] | None:
    """Validate ``bounds``: None, or a pair (lo, hi) with None/inf for an open side and lo < hi.

    Returns ``None`` or ``(lo, hi)`` as floats with open sides as -inf/+inf.
    """
    if bounds is None:
        return None
    if isinstance(bounds, str | bytes) or not isinstance(bounds, Sequence | np.ndarray):
        raise InvalidCurveError(
            f"The {field_name!r} field must be a pair [lo, hi] (null for an open side) or null. "
            f"Got {bounds!r} instead."
        )
    if len(bounds) != 2:
        raise InvalidCurveError(
            f"The {field_name!r} field must have exactly 2 entries [lo, hi]. Got {len(bounds)}."
        )
    out = []
    for side, value, default in (("lo", bounds[0], -math.inf), ("hi", bounds[1], math.inf)):
        if value is None:
            out.append(default)
            continue
        problem = _entry_problem(value)
        if problem is not None:
            raise InvalidCurveError(
                f"The {field_name!r} field's {side} must be a number or null; it is {problem}."
            )
        v = float(value)
        if math.isnan(v):
            raise InvalidCurveError(f"The {field_name!r} field's {side} must not be NaN.")
        out.append(v)
    lo, hi = out
    if not lo < hi:
        raise InvalidCurveError(
            f"The {field_name!r} field must have lo < hi. Got [{lo}, {hi}]: swap or widen them."
        )
    return (lo, hi)


#: The largest magnitude a float64 holds; an int beyond it cannot be a curve's value or axis.
_FLOAT_MAX = float(np.finfo(np.float64).max)


def _entry_problem(v: object) -> str | None:
    """Why ``v`` is not a number curvecast accepts, or None when it is one (None/NaN included:
    the caller decides what a missing value means)."""
    if v is None:
        return None
    if isinstance(v, bool | np.bool_):
        return f"{v!r}, a boolean: write 1 or 0 if you mean a number"
    if isinstance(v, str | bytes):
        return f"{v!r}, a string: write the number without quotes"
    if isinstance(v, int | np.integer):
        if abs(int(v)) > _FLOAT_MAX:
            digits = int(int(v).bit_length() * math.log10(2)) + 1  # str() fails past 4,300 digits
            return f"an integer of about {digits} digits, beyond the float range (about 1.8e308)"
        return None
    if isinstance(v, float | np.floating):
        return None
    return f"{v!r}, not a number"


def _as_float_array(values: ArrayLike, field_name: str) -> NDArray[np.float64]:
    """Numbers only: ints and floats (None and NaN kept as NaN for the caller to judge).

    Booleans, numeric strings and ints beyond float range are refused, not coerced.
    """
    if isinstance(values, str | bytes):
        raise InvalidCurveError(
            f"The {field_name!r} field must be a list of numbers, not a string."
        )
    if isinstance(values, np.ndarray) or hasattr(values, "__array__"):
        arr0 = np.asarray(values)
        if arr0.dtype.kind in "fiu":
            return _one_dim(arr0.astype(np.float64), field_name)
        if arr0.dtype.kind == "b":
            raise InvalidCurveError(
                f"The {field_name!r} field must hold numbers, not booleans (dtype bool)."
            )
        if arr0.ndim > 1:
            raise InvalidCurveError(
                f"The {field_name!r} field must be one-dimensional. Got shape {arr0.shape}."
            )
        items: list[object] = arr0.reshape(-1).tolist()
    elif isinstance(values, Iterable):
        items = list(values)
    else:
        items = [values]
    for i, v in enumerate(items):
        if isinstance(v, list | tuple | np.ndarray):
            raise InvalidCurveError(
                f"The {field_name!r} field must be one-dimensional (entry {i} is a sequence)."
            )
        problem = _entry_problem(v)
        if problem is not None:
            raise InvalidCurveError(
                f"The {field_name!r} field must hold numbers only (entry {i} is {problem})."
            )
    try:
        arr = np.asarray([math.nan if v is None else v for v in items], dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:  # pragma: no cover - entries checked
        raise InvalidCurveError(f"The {field_name!r} field must hold numbers only.") from exc
    return _one_dim(arr, field_name)


def _one_dim(arr: NDArray[np.float64], field_name: str) -> NDArray[np.float64]:
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InvalidCurveError(
            f"The {field_name!r} field must be one-dimensional. Got shape {arr.shape}."
        )
    return arr


def check_axis(x: ArrayLike, field_name: str = "x") -> NDArray[np.float64]:
    """Validate an axis: finite, >= 0, strictly increasing. Returns a read-only float64 copy.

    Shape: ``(n,)``. Raises InvalidCurveError naming ``field_name`` and the first bad index.
    """
    arr = _as_float_array(x, field_name).copy()
    if arr.size == 0:
        raise InvalidCurveError(f"The {field_name!r} field must hold at least one value.")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise InvalidCurveError(
            f"The {field_name!r} field must be finite; entry {bad[0]} is {arr[bad[0]]}."
        )
    if arr[0] < 0 or np.any(arr < 0):
        i = int(np.flatnonzero(arr < 0)[0])
        raise InvalidCurveError(f"The {field_name!r} field must be >= 0; entry {i} is {arr[i]}.")
    steps = np.diff(arr)
    if np.any(steps <= 0):
        i = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise InvalidCurveError(
            f"The {field_name!r} field must be strictly increasing; entry {i} ({arr[i]}) does not "
            f"exceed entry {i - 1} ({arr[i - 1]}). Sort the points and drop repeated x."
        )
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Curve:
    """A validated, immutable learning curve.

    Attributes:
        x: the axis, shape ``(n,)``: finite, >= 0, strictly increasing (epochs, steps, samples,
            tokens; any scale).
        y: the metric, shape ``(n,)``, as given (non-finite entries included).
        direction: "maximize" (accuracy) or "minimize" (loss).
        bounds: ``(lo, hi)`` the metric cannot leave (open sides are -inf/+inf), or None.
        meta: free-form, JSON-serialisable annotations (dataset, learner, ...).

    Derived:
        observed_x, observed_y: the points before divergence, shape ``(k,)``, ``k <= n``.
        diverged: whether some ``y`` was non-finite or beyond :data:`DIVERGENCE_MAGNITUDE`.

    Raises:
        InvalidCurveError: x and y differ in length, x is not finite/increasing/non-negative, y
            holds something that is not a number, direction or bounds are invalid.

    Example:
        >>> c = Curve([1, 2, 3], [0.5, 0.6, float("nan")], direction="maximize", bounds=(0, 1))
        >>> c.diverged, c.observed_y.tolist()
        (True, [0.5, 0.6])
    """

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    direction: Direction = "maximize"
    bounds: tuple[float, float] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __init__(
        self,
        x: ArrayLike,
        y: ArrayLike,
        direction: str = "maximize",
        bounds: Sequence[float | None] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        xa = check_axis(x, "x")
        ya = _as_float_array(y, "y").copy()
        if ya.shape != xa.shape:
            raise InvalidCurveError(
                f"The 'x' and 'y' fields must have the same length. Got {xa.size} and {ya.size}."
            )
        ya.setflags(write=False)
        object.__setattr__(self, "x", xa)
        object.__setattr__(self, "y", ya)
        object.__setattr__(self, "direction", check_direction(direction))
        object.__setattr__(self, "bounds", check_bounds(bounds))
        object.__setattr__(self, "meta", _check_meta(meta))
        self._check_within_bounds()

    def _check_within_bounds(self) -> None:
        """Observed values outside ``bounds`` are refused: a forecast clipped to the bounds would
        otherwise judge a run on values it never had (an accuracy of 89 with bounds (0, 1))."""
        if self.bounds is None:
            return
        lo, hi = self.bounds
        y = self.observed_y
        span = hi - lo if math.isfinite(hi - lo) else 1.0
        tol = 1e-9 * max(1.0, span)  # float round-off on a bound (1.0000000000000002) is fine
        outside = np.flatnonzero((y < lo - tol) | (y > hi + tol))
        if outside.size:
            i = int(outside[0])
            raise InvalidCurveError(
                f"The 'y' field must lie within the bounds [{lo:g}, {hi:g}]; entry {i} is "
                f"{y[i]:g}. Fix the bounds (e.g. (0, 100) for a percentage) or drop the bounds."
            )

    @cached_property
    def n_observed(self) -> int:
        """Number of points before divergence."""
        bad = np.flatnonzero(~_finite_ok(self.y))
        return int(bad[0]) if bad.size else int(self.y.size)

    @property
    def diverged(self) -> bool:
        """True when some ``y`` is NaN, infinite or beyond :data:`DIVERGENCE_MAGNITUDE`."""
        return self.n_observed < self.y.size

    @property
    def observed_x(self) -> NDArray[np.float64]:
        """The axis of the points before divergence, shape ``(k,)``."""
        return self.x[: self.n_observed]

    @property
    def observed_y(self) -> NDArray[np.float64]:
        """The metric before divergence, shape ``(k,)``."""
        return self.y[: self.n_observed]

    @property
    def worst(self) -> float:
        """The worst value the metric can take: a bound, or -inf/+inf when that side is open."""
        lo, hi = self.bounds if self.bounds is not None else (-math.inf, math.inf)
        return lo if self.direction == "maximize" else hi

    def truncate(self, n: int) -> Curve:
        """The first ``n`` points as a new Curve (the same direction, bounds and meta).

        Raises:
            InvalidCurveError: ``n`` is not an int in ``[1, len(x)]``.
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer):
            raise InvalidCurveError(
                f"The 'n' parameter of Curve.truncate must be an int in [1, {self.x.size}]. "
                f"Got {_shown(n)} instead."
            )
        if n < 1 or n > self.x.size:
            raise InvalidCurveError(
                f"The 'n' parameter of Curve.truncate must be an int in [1, {self.x.size}]. "
                f"Got {n} instead."
            )
        n = int(n)
        return Curve(self.x[:n], self.y[:n], self.direction, self.bounds, self.meta)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; non-finite ``y`` become None."""
        return {
            "x": self.x.tolist(),
            "y": [float(v) if math.isfinite(v) else None for v in self.y],
            "direction": self.direction,
            "bounds": None
            if self.bounds is None
            else [v if math.isfinite(v) else None for v in self.bounds],
            "meta": dict(self.meta),
        }

    def __repr__(self) -> str:
        return (
            f"Curve(n={self.x.size}, x=[{self.x[0]:g}..{self.x[-1]:g}], "
            f"direction={self.direction!r}, bounds={self.bounds}, diverged={self.diverged})"
        )


def _check_meta(meta: object) -> dict[str, Any]:
    """``meta`` as a new dict; None is an empty one."""
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        raise InvalidCurveError(
            "The 'meta' field must be a mapping of annotations such as {'run': 'trial-3'}. "
            f"Got {_shown(meta)} instead."
        )
    return dict(meta)


def _finite_ok(y: NDArray[np.float64]) -> NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        return np.isfinite(y) & (np.abs(y) <= DIVERGENCE_MAGNITUDE)
