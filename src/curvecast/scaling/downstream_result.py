"""What :class:`~curvecast.scaling.DownstreamScaling` returns: score forecasts and emergence.

A :class:`DownstreamForecast` holds, for ``m`` models and ``B`` benchmarks, a centre and a scale
on the logit scale and the pool of calibration errors its spread comes from, and a drift term; any
quantile is ``from_unit(centre + sign(q - 1/2) sqrt((scale * quantile(pool, q))^2 + (drift *
z_q)^2))``, ``z_q`` the standard normal quantile (the floor or the ceiling itself beyond the
logit clip), so quantiles are non-decreasing in ``q``, the median is the centre, and they stay
between each benchmark's floor and ceiling. The drift is the spread of a shift shared by the
models of a table that its own backtests cannot see (see
:class:`~curvecast.scaling.DownstreamScaling`), added to the pool's spread in quadrature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.exceptions import parameter_error
from curvecast.scaling.downstream_core import _EPS, from_unit

__all__ = ["DownstreamForecast", "Emergence"]


@dataclass(frozen=True)
class DownstreamForecast:
    """Predicted scores of ``m`` models on ``B`` benchmarks.

    Attributes:
        model, family: names, ``(m,)``; ``known_family`` ``(m,)`` says whether the family was in
            the fitted table (else the model is predicted as a mean new family, with the
            between-family scatter in its band).
        flops: compute ``(m,)``. ``benchmarks``: ``(B,)``.
        centre, scale: logits ``(m, B)``; ``pools``: calibration errors, one array per pool;
            ``pool``: which pool each model draws from ``(m,)``.
        floor, ceiling: ``(B,)``.
        drift: logits ``(m, B)``, the standard deviation of the extrapolation drift (zero for a
            model inside the fitted compute range); ``None`` for none.

    ``median`` and ``quantile(q)`` are ``(m, B)``; ``interval(level)`` a pair of ``(m, B)``.
    """

    model: tuple[str, ...]
    family: tuple[str, ...]
    known_family: NDArray[np.bool_]
    flops: NDArray[np.float64]
    benchmarks: tuple[str, ...]
    centre: NDArray[np.float64]
    scale: NDArray[np.float64]
    pools: tuple[NDArray[np.float64], ...]
    pool: NDArray[np.intp]
    floor: NDArray[np.float64]
    ceiling: NDArray[np.float64]
    link: str = "logit"
    drift: NDArray[np.float64] | None = None

    def quantile(self, q: float) -> NDArray[np.float64]:
        """Score quantile ``q`` in (0, 1) for every model and benchmark, shape ``(m, B)``."""
        if not (isinstance(q, int | float) and 0.0 < float(q) < 1.0):
            raise parameter_error("q", "DownstreamForecast.quantile", "a float in (0, 1)", q)
        off = np.array([float(np.quantile(p, q)) for p in self.pools])[self.pool]
        step = self.scale * off[:, None]
        if self.drift is not None and q != 0.5:
            # the pools are symmetric about 0, so ``step`` has the sign of q - 1/2 (or is 0)
            zq = abs(NormalDist().inv_cdf(float(q)))
            step = math.copysign(1.0, q - 0.5) * np.hypot(step, self.drift * zq)
        z = self.centre + step
        s = from_unit(z, self.floor, self.ceiling, self.link)
        if self.link == "logit":
            # scores within 1% of the floor or ceiling count as there (the calibration errors
            # are measured on logits clipped there), so a bound past the clip reaches the end
            lim = float(np.log((1 - _EPS) / _EPS))
            s = np.where(z > lim, self.ceiling, np.where(z < -lim, self.floor, s))
        return np.asarray(s)

    @property
    def median(self) -> NDArray[np.float64]:
        """The median score, ``(m, B)``."""
        return self.quantile(0.5)

    def interval(self, level: float = 0.9) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Central interval of probability ``level``: ``(lower, upper)``, each ``(m, B)``."""
        if not (isinstance(level, int | float) and 0.0 < float(level) < 1.0):
            raise parameter_error(
                "level", "DownstreamForecast.interval", "a float in (0, 1)", level
            )
        return self.quantile(0.5 - level / 2), self.quantile(0.5 + level / 2)

    def records(self, level: float = 0.9) -> list[dict[str, Any]]:
        """One dict per (model, benchmark): ``model, benchmark, median, lower, upper, level``
        (the ``--json`` contract of ``curvecast scaling downstream``)."""
        med = self.median
        lo, hi = self.interval(level)
        out = []
        for i, m in enumerate(self.model):
            for j, b in enumerate(self.benchmarks):
                out.append(
                    {
                        "model": m,
                        "benchmark": b,
                        "median": float(med[i, j]),
                        "lower": float(lo[i, j]),
                        "upper": float(hi[i, j]),
                        "level": float(level),
                    }
                )
        return out


@dataclass(frozen=True)
class Emergence:
    """Whether a benchmark has left chance yet, and when it is forecast to.

    ``status``: ``"above chance"`` (some fitted model already scores above the threshold),
    ``"forecast"`` (the small models carry a signal; ``flops`` is the compute at which the
    median forecast of a mean family crosses ``threshold``, with ``lower, upper`` from the
    interval's bounds; ``upper`` is ``inf`` when the pessimistic bound never crosses below
    ``max_flops``) or ``"cannot tell yet"`` (no signal above chance beyond noise, or no
    crossing below ``max_flops``, or a crossing whose interval is wider than the factor asked
    for; then ``flops`` is NaN and ``reason`` says which). ``t`` is the t-statistic of the
    score's slope in log compute within families (the signal test: ``t > 3``).
    """

    benchmark: str
    status: str
    threshold: float
    flops: float
    lower: float
    upper: float
    t: float
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with ``null`` for NaN and infinite values."""
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            out[k] = None if isinstance(v, float) and not math.isfinite(v) else v
        return out
