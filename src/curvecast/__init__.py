"""curvecast: calibrated forecasts of learning curves, and early stopping that acts on them.

>>> import curvecast
>>> f = curvecast.forecast([1, 2, 4, 8], [0.52, 0.61, 0.68, 0.72], [16, 32], bounds=(0, 1))
>>> f.quantiles.shape
(2, 5)
"""

from curvecast._version import __version__
from curvecast.curves import Curve
from curvecast.exceptions import (
    CurvecastError,
    InvalidCurveError,
    InvalidParameterError,
    UnknownMethodError,
)
from curvecast.forecast import (
    Forecast,
    Forecaster,
    available_methods,
    forecast,
    forecast_curve,
    forecast_many,
    get_forecaster,
    register,
    unregister,
)
from curvecast.schedules import Schedule

__all__ = [
    "Curve",
    "CurvecastError",
    "Forecast",
    "Forecaster",
    "InvalidCurveError",
    "InvalidParameterError",
    "Schedule",
    "UnknownMethodError",
    "__version__",
    "available_methods",
    "forecast",
    "forecast_curve",
    "forecast_many",
    "get_forecaster",
    "register",
    "unregister",
]
