"""The Forecaster protocol and the registry of forecasting methods by name."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Curve
from curvecast.exceptions import UnknownMethodError
from curvecast.forecast._result import Forecast

__all__ = [
    "Forecaster",
    "available_methods",
    "get_forecaster",
    "register",
    "resolve_auto",
    "unregister",
]


@runtime_checkable
class Forecaster(Protocol):
    """A method that extrapolates a partly observed curve.

    Contract of :meth:`forecast`, checked for every registered method by
    :func:`curvecast.testing.check_forecaster`:

    - ``curve`` has at least one observed point and did not diverge (the caller,
      :func:`curvecast.forecast`, answers diverged curves itself); it may have a single point.
    - ``x_new`` is a strictly increasing float array of shape ``(m,)``, ``m >= 1``, with values
      >= 0; points may lie inside the observed range as well as beyond it, and on any scale
      (epochs 1..50 or tokens 1e6..1e12).
    - Neither ``curve``, ``x_new`` nor ``context`` is mutated.
    - All randomness comes from ``rng``: the same ``rng`` state gives the same Forecast.
    - The result is a :class:`Forecast` for exactly ``x_new`` with finite, non-decreasing
      quantiles, in the curve's own units and direction. Clipping to ``curve.bounds`` is done by
      the caller, so a method need not (but may) respect them.
    - ``context`` holds other curves of the same search (same metric and axis); a method that
      cannot use them ignores them.
    - Optionally, ``forecast_batch(curves, x_news, *, rngs, context=())`` answers many curves at
      once (``x_news`` and ``rngs`` one per curve; ``context`` shared, or one sequence per
      curve) with a list of Forecasts, each what :meth:`forecast` gives for that curve alone.
      :func:`curvecast.forecast_many` uses it when present.
    - Thread safety: one instance serves every call (the registry caches it), so ``forecast``
      keeps no per-call state on ``self``; loading weights once in ``__init__`` is the point.
    """

    name: str

    def forecast(
        self,
        curve: Curve,
        x_new: NDArray[np.float64],
        *,
        rng: np.random.Generator,
        context: Sequence[Curve] = (),
    ) -> Forecast: ...


# Built-in methods, imported on first use so that importing curvecast stays cheap.
_BUILTIN: dict[str, str] = {
    "last_value": "curvecast.forecast.last_value:LastValueForecaster",
    "parametric": "curvecast.forecast.parametric:ParametricForecaster",
    "domhan_mcmc": "curvecast.forecast.mcmc:DomhanMCMCForecaster",
    "pow4": "curvecast.forecast.least_squares:Pow4Forecaster",
    "mmf4": "curvecast.forecast.least_squares:MMF4Forecaster",
    "lcpfn": "curvecast.forecast.lcpfn:LCPFNForecaster",
    "analog": "curvecast.forecast.analog:AnalogForecaster",
    "pfn": "curvecast.forecast.pfn:PFNForecaster",
    "ensemble": "curvecast.forecast.ensemble:EnsembleForecaster",
    "calibrated": "curvecast.forecast.calibrated:CalibratedForecaster",
    "stacked": "curvecast.forecast.stacked:StackedForecaster",
    "stacked_pfn": "curvecast.forecast.stacked:stacked_pfn",
    "schedule_law": "curvecast.forecast.schedule_law:ScheduleLawForecaster",
    "schedule_ensemble": "curvecast.forecast.schedule_law:ScheduleEnsembleForecaster",
}
# "auto" is "ensemble" (the PFN mixed with the parametric families: the lower CRPS on a curve
# alone, some 30 ms) for a curve alone, and "stacked" (that forecast mixed with the PFN that reads
# the search, by how each did on backtests of the search's completed runs, and recalibrated on
# them) when other curves of the search are given: context then helps where the search shows it
# does and stays out where it does not; the measurements are in docs/benchmarks.md.
_AUTO_PREFERENCE: tuple[str, ...] = ("ensemble", "analog", "parametric", "last_value")
_AUTO_WITH_CONTEXT = "stacked"


# What "auto" means when the curve has a learning-rate schedule (docs/schedules.md, "Measured").
_AUTO_WITH_SCHEDULE = "schedule_ensemble"


def resolve_auto(n_context: int, has_schedule: bool = False) -> str:
    """The method "auto" stands for: the schedule-aware one when the curve's learning-rate
    schedule is known, else "stacked" when other curves of the search are given
    (``n_context >= 1``), else "ensemble"."""
    if has_schedule:
        return _AUTO_WITH_SCHEDULE
    return _AUTO_WITH_CONTEXT if n_context >= 1 else _AUTO_PREFERENCE[0]


_REGISTRY: dict[str, Callable[[], Forecaster]] = {}
_INSTANCES: dict[str, Forecaster] = {}


def register(name: str, factory: Callable[[], Forecaster], *, overwrite: bool = False) -> None:
    """Register ``factory`` (a no-argument callable returning a Forecaster) under ``name``.

    Raises:
        ValueError: ``name`` is taken (pass ``overwrite=True`` to replace it) or is "auto".
    """
    if name == "auto":
        raise ValueError("'auto' is reserved: it picks the best registered method")
    if not overwrite and (name in _REGISTRY or name in _BUILTIN):
        raise ValueError(f"a forecaster named {name!r} is already registered; pass overwrite=True")
    _REGISTRY[name] = factory
    _INSTANCES.pop(name, None)


def unregister(name: str) -> None:
    """Remove a method added with :func:`register` (built-in methods stay)."""
    _REGISTRY.pop(name, None)
    _INSTANCES.pop(name, None)


def available_methods() -> list[str]:
    """Names accepted by ``method=``, sorted, "auto" included."""
    return sorted({"auto", *_BUILTIN, *_REGISTRY})


def get_forecaster(name: str) -> Forecaster:
    """The forecaster registered as ``name`` ("auto": the best available), built on first use
    and reused after (a model's weights load once per process).

    Raises:
        UnknownMethodError: no such method; the message lists the known ones.
    """
    if not isinstance(name, str):
        raise UnknownMethodError(
            f"The 'method' parameter must be a method name (a string), one of "
            f"{', '.join(available_methods())}. Got {name!r} instead."
        )
    if name == "auto":
        name = _AUTO_PREFERENCE[0]
    cached = _INSTANCES.get(name)
    if cached is not None:
        return cached
    if name in _REGISTRY:
        instance = _REGISTRY[name]()
    elif name in _BUILTIN:
        module_name, _, attr = _BUILTIN[name].partition(":")
        instance = getattr(importlib.import_module(module_name), attr)()
    else:
        raise UnknownMethodError(
            f"The 'method' parameter must be one of {', '.join(available_methods())}. "
            f"Got {name!r} instead."
        )
    _INSTANCES[name] = instance
    return instance
