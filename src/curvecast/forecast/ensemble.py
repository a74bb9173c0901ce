"""``ensemble``: the equal-weight mixture of the learned and the parametric forecast.

The PFN (:mod:`curvecast.forecast.pfn`) and the parametric ensemble with the search's analogs
(:mod:`curvecast.forecast.analog`) err in different places: on the benchmark suites the PFN is
the sharper early forecaster and the parametric families the better-calibrated late one. Their
mixture ``F(v) = (F_pfn(v) + F_analog(v)) / 2`` is a proper predictive distribution that is wide
where the two disagree and sharp where they agree. The weights are equal by design, not fitted to
any benchmark; pass ``members`` and ``weights`` for another mixture.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Curve
from curvecast.exceptions import parameter_error
from curvecast.forecast._result import GRID, Forecast

__all__ = ["EnsembleForecaster", "mix_quantiles"]

_F = NDArray[np.float64]


def mix_quantiles(members: Sequence[_F], weights: _F) -> _F:
    """Quantiles at :data:`GRID` of a mixture of distributions given by their quantiles.

    Args:
        members: each shape ``(m, len(GRID))``, non-decreasing along the grid.
        weights: shape ``(len(members),)``, non-negative, summing to 1.

    Returns:
        shape ``(m, len(GRID))``: the mixture's quantile function. Each member's CDF is linear
        between its grid quantiles, 0 below its lowest and 1 above its highest.
    """
    out = np.empty_like(members[0])
    ramp = np.arange(GRID.size)
    for i in range(out.shape[0]):
        rows = []
        for q in members:
            row = q[i]
            tie = 1e-12 * max(float(np.ptp(row)), abs(float(row[-1])), 1e-300)
            rows.append(row + tie * ramp)  # strictly increasing, for the interpolation
        values = np.sort(np.concatenate(rows))
        cdf = sum(
            w * np.interp(values, r, GRID, left=0.0, right=1.0)
            for w, r in zip(weights, rows, strict=True)
        )
        out[i] = np.interp(GRID, np.maximum.accumulate(cdf), values)
    return out


class EnsembleForecaster:
    """The mixture of several methods' forecasts (default: ``pfn`` and ``analog``, equally).

    Args:
        members: registered method names, at least two.
        weights: one non-negative weight per member (normalised); default equal.

    Every member sees the same curve, ``x_new`` and ``context``. The result has marginal
    quantiles only (no joint sample paths).

    Raises:
        InvalidParameterError: fewer than two members, or weights of the wrong length or sign.

    Example:
        >>> import numpy as np
        >>> from curvecast import Curve
        >>> curve = Curve(np.arange(1, 11), 0.8 - 0.5 / np.arange(1, 11) ** 0.7, bounds=(0, 1))
        >>> f = EnsembleForecaster().forecast(curve, np.array([50.0]), rng=np.random.default_rng(0))
        >>> bool(0.7 < f.median[0] <= 1.0)
        True
    """

    name = "ensemble"

    def __init__(
        self, members: Sequence[str] = ("pfn", "analog"), weights: Sequence[float] | None = None
    ) -> None:
        if isinstance(members, str) or len(members) < 2:
            raise parameter_error(
                "members", "EnsembleForecaster", "at least two method names", members
            )
        w = np.ones(len(members)) if weights is None else np.asarray(weights, dtype=np.float64)
        if (
            w.shape != (len(members),)
            or not np.all(np.isfinite(w))
            or np.any(w < 0)
            or w.sum() <= 0
        ):
            raise parameter_error(
                "weights",
                "EnsembleForecaster",
                f"{len(members)} non-negative numbers, not all zero",
                weights,
            )
        self.members = tuple(members)
        self.weights = w / w.sum()

    def forecast(
        self,
        curve: Curve,
        x_new: _F,
        *,
        rng: np.random.Generator,
        context: Sequence[Curve] = (),
    ) -> Forecast:
        from curvecast.forecast._base import get_forecaster

        parts = [
            get_forecaster(m).forecast(curve, x_new, rng=rng, context=context) for m in self.members
        ]
        values = mix_quantiles([p.grid_values for p in parts], self.weights)
        info: dict[str, Any] = {"members": list(self.members), "weights": self.weights.tolist()}
        return Forecast(x_new, values, direction=curve.direction, method=self.name, info=info)
