"""``last_value``: the last observed value, with an honest band around it.

The median is exactly the last observed value, the strong baseline of the LCDB study (at query
points inside the observed range, the observed curve interpolated). The band
adds two Gaussian terms: observation noise (estimated from the curve's own second differences)
and drift, which grows with the logarithm of how far beyond the last observed x a query lies, at
the rate the curve moved over the second half of what was seen. Both have floors (0.5% and 1% of
the metric's scale) so that a flat prefix does not read as certainty.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

from curvecast.curves import Curve
from curvecast.forecast._result import GRID, Forecast
from curvecast.forecast._util import interp, noise_scale, value_scale

__all__ = ["LastValueForecaster"]

_Z = norm.ppf(GRID)


class LastValueForecaster:
    """Forecast every query point as the last observed value plus noise and drift.

    Example:
        >>> import numpy as np
        >>> from curvecast import Curve
        >>> f = LastValueForecaster().forecast(
        ...     Curve([1, 2, 3], [0.5, 0.6, 0.62]), np.array([10.0]), rng=np.random.default_rng(0))
        >>> round(float(f.median[0]), 2)
        0.62
    """

    name = "last_value"

    def forecast(
        self,
        curve: Curve,
        x_new: NDArray[np.float64],
        *,
        rng: np.random.Generator,
        context: Sequence[Curve] = (),
    ) -> Forecast:
        x, y = curve.observed_x, curve.observed_y
        scale = value_scale(curve)
        noise = noise_scale(y)
        if noise is None:
            noise = 0.05 * scale
        # Floors: a flat prefix (all zeros early in training, say) says little about the future.
        noise = max(noise, 0.005 * scale)
        if y.size >= 2:
            half = y.size // 2
            lx0, lx1 = _log1(x[half - 1] if half else x[0]), _log1(x[-1])
            rate = abs(y[-1] - y[max(half - 1, 0)]) / max(lx1 - lx0, 1e-12)
        else:
            rate = 0.1 * scale
        rate = max(rate, 0.01 * scale)
        ahead = np.maximum(_log1(x_new) - _log1(x[-1]), 0.0)
        sd = np.sqrt(noise**2 + (rate * ahead) ** 2)
        # at observed x the observed curve itself (interpolated), before it the first value
        center = interp(x_new, x, y)
        grid_values = center[:, None] + sd[:, None] * _Z[None, :]
        return Forecast(x_new, grid_values, direction=curve.direction, method=self.name)


def _log1(v: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """log(1 + v): a log axis that is defined at v = 0."""
    return np.log1p(np.asarray(v, dtype=np.float64))
