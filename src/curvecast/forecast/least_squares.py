"""``pow4`` and ``mmf4``: bounded least-squares fits, the baselines of the LCDB study.

Each fits one family in the canonical space of :mod:`curvecast.forecast._families` (grid
starts, then :func:`scipy.optimize.least_squares` with box bounds) and reports a Gaussian band:
the residual variance plus the delta-method variance of the fitted curve,
``sd^2 = s^2 + g^T s^2 (J^T J)^+ g``, where ``s^2`` is the residual variance with ``n - p``
degrees of freedom and ``g`` the gradient of the curve at the query point.

They never raise on a valid curve and never return non-finite values: with fewer than
``p + 1`` points, when the fit fails, or when it explodes (the forecast leaves the observed
range by more than ``max_excursion`` ranges), they return the ``last_value`` forecast and say so
in ``Forecast.info["fallback"]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

from curvecast.curves import Curve
from curvecast.exceptions import parameter_error
from curvecast.forecast._families import Family, Normaliser, family, fit
from curvecast.forecast._result import GRID, Forecast
from curvecast.forecast.last_value import LastValueForecaster

__all__ = ["MMF4Forecaster", "Pow4Forecaster"]

_Z = norm.ppf(GRID)
_F = NDArray[np.float64]


class _LeastSquaresForecaster:
    name = ""
    family_name = ""

    def __init__(self, max_excursion: float = 10.0, max_nfev: int = 200) -> None:
        owner = type(self).__name__
        if not (isinstance(max_excursion, int | float) and max_excursion > 0):
            raise parameter_error("max_excursion", owner, "a float > 0", max_excursion)
        if isinstance(max_nfev, bool) or not isinstance(max_nfev, int) or max_nfev < 1:
            raise parameter_error("max_nfev", owner, "a positive int", max_nfev)
        self.max_excursion = float(max_excursion)
        self.max_nfev = max_nfev

    @property
    def family(self) -> Family:
        return family(self.family_name)

    def forecast(
        self,
        curve: Curve,
        x_new: NDArray[np.float64],
        *,
        rng: np.random.Generator,
        context: Sequence[Curve] = (),
    ) -> Forecast:
        """A Gaussian band around the least-squares curve at ``x_new`` (shape ``(m,)``)."""
        fam = self.family
        nm = Normaliser.from_curve(curve)
        u, z = nm.u(curve.observed_x), nm.z(curve.observed_y)
        un = nm.u(np.asarray(x_new, dtype=np.float64))
        if z.size < fam.n_params + 1:
            return self._fallback(curve, x_new, rng, f"fewer than {fam.n_params + 1} points")
        result = fit(fam, u, z, nm.asymptote_cap, max_nfev=self.max_nfev)
        if not result.ok:
            return self._fallback(curve, x_new, rng, "the fit failed")
        mean, sd = _band(fam, u, un, result.theta, result.rss)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(sd))):
            return self._fallback(curve, x_new, rng, "the fit returned non-finite values")
        if np.any(np.abs(mean - 1.0) > 0.5 + self.max_excursion):
            return self._fallback(curve, x_new, rng, "the fit exploded")
        grid_z = mean[:, None] + sd[:, None] * _Z[None, :]
        values = nm.y(grid_z)
        if nm.sign < 0:  # the quantile function of -Z reverses the grid
            values = values[:, ::-1]
        info = {"theta": [float(t) for t in result.theta], "params": list(fam.params)}
        return Forecast(x_new, values, direction=curve.direction, method=self.name, info=info)

    def _fallback(self, curve: Curve, x_new: _F, rng: np.random.Generator, why: str) -> Forecast:
        base = LastValueForecaster().forecast(curve, x_new, rng=rng)
        return Forecast(
            x_new,
            base.grid_values,
            direction=curve.direction,
            method=self.name,
            info={"fallback": f"last_value: {why}"},
        )


def _band(fam: Family, u: _F, un: _F, theta: _F, rss: float) -> tuple[_F, _F]:
    """Mean and standard deviation at ``un`` (shapes ``(m,)``) in z units."""
    p = theta.size
    dof = max(u.size - p, 1)
    s2 = max(rss / dof, 1e-8)
    step = 1e-6 * np.maximum(np.abs(theta), 1e-3)
    tp = theta[None, :] + np.diag(step)
    jac = ((fam(u, tp) - fam(u, theta[None, :])) / step[:, None]).T  # (n, p)
    grad = ((fam(un, tp) - fam(un, theta[None, :])) / step[:, None]).T  # (m, p)
    cov = s2 * np.linalg.pinv(jac.T @ jac, rcond=1e-10)
    var = s2 + np.einsum("mp,pq,mq->m", grad, cov, grad)
    mean = fam(un, theta[None, :])[0]
    return mean, np.sqrt(np.maximum(var, s2))


class Pow4Forecaster(_LeastSquaresForecaster):
    """``c - a (x' + d)^-alpha`` fitted by bounded least squares (LCDB's pow4).

    Example:
        >>> import numpy as np
        >>> from curvecast import Curve
        >>> x = np.arange(1.0, 21.0)
        >>> c = Curve(x, 0.9 - 0.5 * x**-0.7)
        >>> f = Pow4Forecaster().forecast(c, np.array([40.0]), rng=np.random.default_rng(0))
        >>> bool(abs(f.median[0] - (0.9 - 0.5 * 40**-0.7)) < 0.01)
        True
    """

    name = "pow4"
    family_name = "pow4"


class MMF4Forecaster(_LeastSquaresForecaster):
    """The Morgan-Mercer-Flodin curve ``(a b + g x'^d) / (b + x'^d)`` by bounded least squares.

    Example:
        >>> import numpy as np
        >>> from curvecast import Curve
        >>> c = Curve([1, 2, 4, 8, 16, 32], [0.5, 0.62, 0.71, 0.77, 0.8, 0.82])
        >>> f = MMF4Forecaster().forecast(c, np.array([64.0]), rng=np.random.default_rng(0))
        >>> bool(0.8 < f.median[0] < 0.9)
        True
    """

    name = "mmf4"
    family_name = "mmf"
