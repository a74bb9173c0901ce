"""The Forecast: a predictive distribution of a curve's values at query points.

A Forecast stores, for each query point, the quantile function on a fixed fine grid of levels
(:data:`GRID`, 0.001 to 0.999), and optionally joint sample paths. Everything else (quantiles at
any level, mean, samples, CDF, density, the probability of beating a threshold) derives from those.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from curvecast.curves import Direction, check_direction
from curvecast.exceptions import parameter_error

__all__ = ["DEFAULT_LEVELS", "GRID", "Forecast", "as_rng", "check_levels"]

#: The fine grid of quantile levels every Forecast is stored on; symmetric around 0.5.
GRID: NDArray[np.float64] = np.concatenate(
    [[0.001, 0.0025, 0.005, 0.0075], np.linspace(0.01, 0.99, 99), [0.9925, 0.995, 0.9975, 0.999]]
)
GRID.setflags(write=False)

#: Levels reported by default: the median and the 50% and 90% central intervals.
DEFAULT_LEVELS: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)

_TAIL_MASS = float(GRID[0])


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """An explicit Generator; ``None`` means seed 0, so a call without ``rng`` is repeatable.

    Raises:
        InvalidParameterError: ``rng`` is not a Generator, a non-negative int or None (a bool,
            a float, a string or a negative int is refused: numpy would fail later, unclearly).
    """
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise parameter_error(
        "rng", "forecast", "a numpy Generator, a non-negative int seed or None", rng
    )


#: Level tuples already validated, with their read-only arrays: a pruner asks for the same
#: levels at every check, and each Forecast it builds on the way would validate them again.
_CHECKED: dict[tuple[float, ...], NDArray[np.float64]] = {}
_MAX_CHECKED = 64


def check_levels(levels: object, owner: str = "forecast") -> NDArray[np.float64]:
    """Validate quantile levels: non-empty, strictly increasing, in (0, 1). Shape ``(L,)``.

    A tuple seen before, or the read-only array returned for one, is not validated again (the
    array returned is then read-only and shared)."""
    if isinstance(levels, np.ndarray):
        if not levels.flags.writeable and any(levels is a for a in _CHECKED.values()):
            return levels
    elif isinstance(levels, tuple):
        try:
            hit = _CHECKED.get(levels)
        except TypeError:  # unhashable items: validated (and refused) below
            hit = None
        if hit is not None:
            return hit
    arr = _validated_levels(levels, owner)
    if isinstance(levels, tuple) and len(_CHECKED) < _MAX_CHECKED:
        arr.setflags(write=False)
        _CHECKED[levels] = arr
    return arr


def _validated_levels(levels: object, owner: str) -> NDArray[np.float64]:
    try:
        arr = np.asarray(levels, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise parameter_error(
            "quantiles", owner, "a sequence of levels in (0, 1)", levels
        ) from None
    if (
        arr.size == 0
        or not np.all(np.isfinite(arr))
        or np.any(arr <= 0)
        or np.any(arr >= 1)
        or np.any(np.diff(arr) <= 0)
    ):
        raise parameter_error(
            "quantiles",
            owner,
            "strictly increasing levels in (0, 1), e.g. 0.05,0.5,0.95",
            levels if not isinstance(levels, np.ndarray) else levels.tolist(),
        )
    return arr


class Forecast:
    """A predictive distribution of a curve at ``len(x_new)`` query points.

    Args:
        x_new: query points, shape ``(m,)``.
        grid_values: the quantile function at :data:`GRID` for each point, shape ``(m, len(GRID))``;
            made non-decreasing along the grid on construction.
        direction: "maximize" or "minimize"; defines what "better" means in :meth:`prob_better`.
        levels: the levels that :attr:`quantiles` reports, shape ``(L,)``.
        method: name of the forecaster that produced it.
        samples: optional joint sample paths, shape ``(s, m)``, kept so that :meth:`sample` and
            :attr:`mean` keep the dependence between points.
        diverged: True when the observed run diverged (see :mod:`curvecast.curves`).
        info: free-form diagnostics (JSON-serialisable).

    Example:
        >>> import curvecast
        >>> f = curvecast.forecast([1, 2, 3, 4], [0.5, 0.6, 0.65, 0.68], [10, 20], bounds=(0, 1))
        >>> f.quantiles.shape  # (len(x_new), len(levels))
        (2, 5)
        >>> 0.0 <= f.prob_better(0.7) <= 1.0
        True
    """

    def __init__(
        self,
        x_new: ArrayLike,
        grid_values: ArrayLike,
        *,
        direction: Direction = "maximize",
        levels: ArrayLike = DEFAULT_LEVELS,
        method: str = "",
        samples: NDArray[np.float64] | None = None,
        diverged: bool = False,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.x_new = np.array(x_new, dtype=np.float64).reshape(-1)
        gv = np.array(grid_values, dtype=np.float64)
        if gv.shape != (self.x_new.size, GRID.size):
            raise ValueError(
                f"grid_values must have shape ({self.x_new.size}, {GRID.size}); got {gv.shape}"
            )
        if not diverged and not np.all(np.isfinite(gv)):
            raise ValueError("a forecast that did not diverge must have finite quantiles")
        self.grid_values = np.maximum.accumulate(gv, axis=1) if gv.size else gv
        self.direction: Direction = check_direction(direction)
        # a tuple of levels is checked once, not at each of the many Forecasts a pruner makes
        self.levels = check_levels(levels)
        self.method = method
        self.samples = None if samples is None else np.asarray(samples, dtype=np.float64)
        self.diverged = bool(diverged)
        self.info: dict[str, Any] = dict(info or {})
        for arr in (self.x_new, self.grid_values, self.levels):
            arr.setflags(write=False)
        if self.samples is not None:
            self.samples.setflags(write=False)

    # -- construction helpers -------------------------------------------------------------
    @classmethod
    def from_samples(
        cls,
        x_new: ArrayLike,
        samples: ArrayLike,
        *,
        keep_samples: bool = True,
        **kwargs: Any,
    ) -> Forecast:
        """Build from joint sample paths, shape ``(s, len(x_new))``."""
        s = np.asarray(samples, dtype=np.float64)
        grid_values = np.quantile(s, GRID, axis=0).T
        return cls(x_new, grid_values, samples=s if keep_samples else None, **kwargs)

    def with_levels(self, levels: ArrayLike) -> Forecast:
        """The same distribution reporting other levels."""
        return Forecast(
            self.x_new,
            self.grid_values,
            direction=self.direction,
            levels=levels,
            method=self.method,
            samples=self.samples,
            diverged=self.diverged,
            info=self.info,
        )

    def clipped(self, bounds: tuple[float, float] | None) -> Forecast:
        """The same distribution with every value clipped to ``bounds`` (lo, hi)."""
        if bounds is None or self.diverged:
            return self
        lo, hi = bounds
        samples = None if self.samples is None else np.clip(self.samples, lo, hi)
        return Forecast(
            self.x_new,
            np.clip(self.grid_values, lo, hi),
            direction=self.direction,
            levels=self.levels,
            method=self.method,
            samples=samples,
            info=self.info,
        )

    # -- summaries --------------------------------------------------------------------------
    @property
    def quantiles(self) -> NDArray[np.float64]:
        """Quantiles at :attr:`levels`, shape ``(len(x_new), len(levels))``, non-decreasing
        along the levels."""
        return self.quantile(self.levels)

    def quantile(self, levels: ArrayLike) -> NDArray[np.float64]:
        """Quantiles at any levels in (0, 1), shape ``(len(x_new), L)``; tails beyond
        :data:`GRID` are clamped to its ends (0.001 and 0.999)."""
        lv = check_levels(levels)
        if self.diverged:
            return self.grid_values[:, :1].repeat(lv.size, axis=1)
        out = np.empty((self.x_new.size, lv.size))
        for i, row in enumerate(self.grid_values):
            out[i] = np.interp(lv, GRID, row)
        return out

    @property
    def median(self) -> NDArray[np.float64]:
        """The median at each query point, shape ``(len(x_new),)``."""
        return self.quantile([0.5])[:, 0]

    @property
    def mean(self) -> NDArray[np.float64]:
        """The predictive mean at each query point, winsorised at the 5% and 95% quantiles,
        shape ``(len(x_new),)``.

        Values below the 5% quantile count as the 5% quantile and values above the 95% as the
        95% (a 5% winsorised mean): a few far sample paths cannot drag the mean outside the
        central 90% interval, where a plain mean of a heavy-tailed forecast can land.
        """
        if self.diverged:
            return self.grid_values[:, 0].copy()
        band = self.quantile([0.05, 0.95])
        lo, hi = band[:, :1], band[:, 1:]
        if self.samples is not None:
            return np.clip(self.samples, lo.T, hi.T).mean(axis=0)
        # integrate the piecewise-linear quantile function, flat beyond the grid's ends
        q = np.clip(self.grid_values, lo, hi)
        inner = np.sum(np.diff(GRID) * (q[:, 1:] + q[:, :-1]) / 2, axis=1)
        out = inner + GRID[0] * q[:, 0] + (1 - GRID[-1]) * q[:, -1]
        return np.clip(out, lo[:, 0], hi[:, 0])

    @property
    def fallback(self) -> str | None:
        """Why another method answered instead of :attr:`method` (e.g. "last_value: fewer than
        5 points"), or None when the method answered itself."""
        why = self.info.get("fallback")
        return why if isinstance(why, str) else None

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> NDArray[np.float64]:
        """Draw ``n`` sample paths, shape ``(n, len(x_new))``.

        Joint samples are resampled when the forecaster kept them; otherwise one uniform level is
        drawn per path and shared by all points (comonotone paths, as learning curves move
        together).
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise parameter_error("n", "Forecast.sample", "a positive int", n)
        gen = as_rng(rng)
        if self.samples is not None and not self.diverged:
            return self.samples[gen.integers(0, self.samples.shape[0], size=int(n))].copy()
        u = gen.uniform(GRID[0], GRID[-1], size=int(n))
        return np.stack([np.interp(u, GRID, row) for row in self.grid_values], axis=1)

    def _index(self, at: float | None) -> int:
        if at is None:
            return self.x_new.size - 1
        hits = np.flatnonzero(np.isclose(self.x_new, float(at), rtol=1e-9, atol=0.0))
        if hits.size == 0:
            raise parameter_error(
                "at", "Forecast", f"one of the query points x_new {_short(self.x_new)}", at
            )
        return int(hits[0])

    def cdf(self, value: ArrayLike, at: float | None = None) -> NDArray[np.float64]:
        """P(Y <= value) at the query point ``at`` (default: the last), same shape as ``value``."""
        v = np.asarray(value, dtype=np.float64)
        row = self.grid_values[self._index(at)]
        if self.diverged:
            return np.where(v >= row[0], 1.0, 0.0)
        # Below the 0.001 quantile the CDF reads 0 and above the 0.999 quantile 1: the outer
        # 0.1% tails are not resolved, which is far finer than any stopping rule needs.
        return np.clip(_interp_cdf(v, row), 0.0, 1.0)

    def prob_better(self, threshold: float, at: float | None = None) -> float:
        """Probability that the value at ``at`` (default: the last query point) is better than
        ``threshold``: larger when maximising, smaller when minimising. 0 for a diverged run."""
        if self.diverged:
            return 0.0
        t = float(threshold)
        if math.isnan(t):
            raise parameter_error("threshold", "Forecast.prob_better", "a number", threshold)
        if self.samples is not None:
            col = self.samples[:, self._index(at)]
            p = float(np.mean(col > t)) if self.direction == "maximize" else float(np.mean(col < t))
            return p
        c = float(self.cdf(t, at))
        return 1.0 - c if self.direction == "maximize" else c

    def logpdf(self, value: ArrayLike, at: float | None = None) -> NDArray[np.float64]:
        """Log density at ``value`` for the query point ``at`` (default: the last).

        The density is that of the piecewise-linear CDF through the grid, with exponential tails
        holding the mass beyond 0.001 and 0.999; -inf for a diverged forecast.
        """
        v = np.atleast_1d(np.asarray(value, dtype=np.float64))
        if self.diverged:
            return np.full(v.shape, -np.inf)
        row = self.grid_values[self._index(at)]
        return _logpdf_row(v, row)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; non-finite numbers become None."""
        return {
            "x_new": _jsonable(self.x_new),
            "levels": self.levels.tolist(),
            "quantiles": [_jsonable(r) for r in self.quantiles],
            "mean": _jsonable(self.mean),
            "method": self.method,
            "fallback": self.fallback,
            "diverged": self.diverged,
        }

    def __repr__(self) -> str:
        return (
            f"Forecast(method={self.method!r}, n_points={self.x_new.size}, "
            f"levels={self.levels.tolist()}, diverged={self.diverged})"
        )


def _short(a: NDArray[np.float64]) -> str:
    vals = ", ".join(f"{v:g}" for v in a[:5])
    return f"[{vals}{', ...' if a.size > 5 else ''}]"


def _jsonable(a: NDArray[np.float64]) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in a]


def _scale(row: NDArray[np.float64]) -> float:
    spread = float(row[-1] - row[0])
    return max(spread, 1e-9 * max(1.0, abs(float(row[len(row) // 2]))), 1e-12)


def _interp_cdf(v: NDArray[np.float64], row: NDArray[np.float64]) -> NDArray[np.float64]:
    # np.interp needs strictly increasing abscissae for a well-defined answer; nudge ties.
    eps = _scale(row) * 1e-9
    xs = row + eps * np.arange(row.size)
    return np.interp(v, xs, GRID, left=0.0, right=1.0)


def _logpdf_row(v: NDArray[np.float64], row: NDArray[np.float64]) -> NDArray[np.float64]:
    min_width = _scale(row) * 1e-6
    xs = row.copy()
    for k in range(1, xs.size):  # keep every segment at least min_width wide
        xs[k] = max(xs[k], xs[k - 1] + min_width)
    dens = np.diff(GRID) / np.diff(xs)
    out = np.empty(v.shape)
    seg = np.searchsorted(xs, v, side="right") - 1
    inside = (seg >= 0) & (seg < xs.size - 1)
    out[inside] = np.log(dens[seg[inside]])
    k = max(1, xs.size // 10)  # tail scale: the spread of the outermost tenth of the grid
    lo_scale = max(float(xs[k] - xs[0]), min_width)
    hi_scale = max(float(xs[-1] - xs[-1 - k]), min_width)
    low = v < xs[0]
    out[low] = math.log(_TAIL_MASS / lo_scale) - (xs[0] - v[low]) / lo_scale
    high = v >= xs[-1]
    out[high] = math.log(_TAIL_MASS / hi_scale) - (v[high] - xs[-1]) / hi_scale
    return out
