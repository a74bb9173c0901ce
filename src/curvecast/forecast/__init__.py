"""Forecasting methods: the Forecast result, the Forecaster protocol and the registry."""

from curvecast.forecast._api import forecast, forecast_curve, forecast_many
from curvecast.forecast._base import (
    Forecaster,
    available_methods,
    get_forecaster,
    register,
    unregister,
)
from curvecast.forecast._result import DEFAULT_LEVELS, GRID, Forecast

__all__ = [
    "DEFAULT_LEVELS",
    "GRID",
    "Forecast",
    "Forecaster",
    "available_methods",
    "forecast",
    "forecast_curve",
    "forecast_many",
    "get_forecaster",
    "register",
    "unregister",
]
