"""What a scaling law answers: a predictive distribution at query points, and a compute split."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.exceptions import parameter_error

__all__ = ["OptimalSplit", "ScalingForecast", "check_level"]


def check_level(level: float, owner: str) -> float:
    """A central-interval level in (0, 1)."""
    if not isinstance(level, int | float) or isinstance(level, bool) or not 0 < level < 1:
        raise parameter_error("level", owner, "a float in (0, 1), e.g. 0.9", level)
    return float(level)


def _q(samples: NDArray[np.float64], levels: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.quantile(samples, levels, axis=0)


@dataclass(frozen=True)
class ScalingForecast:
    """A predicted quantity (loss, error) at ``m`` query points.

    Attributes:
        inputs: the query, each array of shape ``(m,)`` (``N``, ``D``, ``C``... as given or
            derived).
        point: the prediction of the best fit, shape ``(m,)``.
        levels: the quantile levels, shape ``(L,)``.
        quantiles: predictive quantiles, shape ``(L, m)``, non-decreasing along ``L``.
        law: the name of the law that made it.
    """

    inputs: dict[str, NDArray[np.float64]]
    point: NDArray[np.float64]
    levels: NDArray[np.float64]
    quantiles: NDArray[np.float64]
    law: str
    _samples: NDArray[np.float64] = field(repr=False, default_factory=lambda: np.empty((0, 0)))

    @property
    def median(self) -> NDArray[np.float64]:
        """The predictive median, shape ``(m,)``."""
        return self.quantile(0.5)

    def quantile(self, level: float) -> NDArray[np.float64]:
        """Predictive quantile at ``level`` in (0, 1), shape ``(m,)``."""
        lv = check_level(level, "ScalingForecast.quantile")
        if self._samples.size:
            return np.asarray(_q(self._samples, np.array([lv]))[0])
        return np.array([np.interp(lv, self.levels, col) for col in self.quantiles.T])

    def interval(self, level: float = 0.9) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Central predictive interval ``(lo, hi)`` of probability ``level``; each ``(m,)``."""
        lv = check_level(level, "ScalingForecast.interval")
        return self.quantile(0.5 - lv / 2), self.quantile(0.5 + lv / 2)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: inputs, point, levels, quantiles (lists), law."""
        return {
            "law": self.law,
            "inputs": {k: v.tolist() for k, v in self.inputs.items()},
            "point": self.point.tolist(),
            "levels": self.levels.tolist(),
            "quantiles": self.quantiles.tolist(),
        }


@dataclass(frozen=True)
class OptimalSplit:
    """The compute-optimal split of budgets ``C`` (shape ``(m,)``) into parameters and tokens.

    ``N``, ``D``, ``loss`` are the best fit's answers, shape ``(m,)``; ``*_quantiles`` have shape
    ``(L, m)`` at ``levels`` (parameter uncertainty for ``N`` and ``D``; predictive, noise included,
    for ``loss``).
    """

    C: NDArray[np.float64]
    N: NDArray[np.float64]
    D: NDArray[np.float64]
    loss: NDArray[np.float64]
    levels: NDArray[np.float64]
    N_quantiles: NDArray[np.float64]
    D_quantiles: NDArray[np.float64]
    loss_quantiles: NDArray[np.float64]
    law: str

    @property
    def tokens_per_param(self) -> NDArray[np.float64]:
        """``D* / N*``, shape ``(m,)``."""
        return self.D / self.N

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return {
            "law": self.law,
            "C": self.C.tolist(),
            "N": self.N.tolist(),
            "D": self.D.tolist(),
            "tokens_per_param": self.tokens_per_param.tolist(),
            "loss": self.loss.tolist(),
            "levels": self.levels.tolist(),
            "N_quantiles": self.N_quantiles.tolist(),
            "D_quantiles": self.D_quantiles.tolist(),
            "loss_quantiles": self.loss_quantiles.tolist(),
        }
