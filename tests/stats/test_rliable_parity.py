"""Parity with rliable: the same arrays, the same number of bootstrap draws, agreement within
Monte-Carlo error.

rliable 1.2 pins ``arch<8``, and arch 7 fails to import under pandas 3 (it calls pandas'
private ``deprecate_kwarg`` with the pandas 2 signature). :func:`_import_rliable` adapts that one
private call while arch is imported, so the test runs rliable's own code; it skips only when
rliable is not installed (``pip install 'curvecast[dev]'`` installs it).
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import numpy as np
import pytest

from curvecast.stats import (
    aggregate_intervals,
    performance_profile,
    probability_of_improvement,
)


def _import_rliable() -> tuple[Any, Any]:
    pytest.importorskip("rliable", reason="rliable not installed: pip install 'curvecast[dev]'")
    try:
        library = importlib.import_module("rliable.library")
    except TypeError:
        import pandas.util._decorators as decorators

        original = decorators.deprecate_kwarg

        def compat(*args: Any, **kwargs: Any) -> Any:  # pandas 2 signature -> pandas 3
            if args and isinstance(args[0], str):
                return original(FutureWarning, *args, **kwargs)
            return original(*args, **kwargs)

        decorators.deprecate_kwarg = compat
        try:
            library = importlib.import_module("rliable.library")
        finally:
            decorators.deprecate_kwarg = original
    return library, importlib.import_module("rliable.metrics")


REPS = 4000


@pytest.fixture(scope="module")
def rly() -> tuple[Any, Any]:
    return _import_rliable()


def _scores(seed: int, runs: int = 6, tasks: int = 5, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    task_level = rng.uniform(0.3, 0.9, size=tasks)
    return task_level + shift + rng.normal(0, 0.1, size=(runs, tasks))  # (num_runs x num_tasks)


def _mc_tolerance(low: float, high: float, reps: int = REPS) -> float:
    """Monte-Carlo error of a 2.5% / 97.5% bootstrap quantile from ``reps`` draws, doubled because
    both sides are estimates: about 4 standard errors of either end."""
    sd = (high - low) / (2 * 1.96)  # bootstrap SD of the statistic
    # SE of the 2.5% quantile of B draws ~ sqrt(p(1-p)/B) / density; density at the 2.5% point
    se = math.sqrt(0.025 * 0.975 / reps) / (
        math.exp(-(1.96**2) / 2) / (math.sqrt(2 * math.pi) * sd)
    )
    return 4 * math.sqrt(2) * se


def test_aggregates_match_rliable(rly: tuple[Any, Any]) -> None:
    library, metrics = rly
    x = _scores(0)
    funcs = {
        "iqm": metrics.aggregate_iqm,
        "mean": metrics.aggregate_mean,
        "median": metrics.aggregate_median,
        "optimality_gap": lambda s: metrics.aggregate_optimality_gap(s, gamma=0.8),
    }
    ours = aggregate_intervals(x, rng=np.random.default_rng(1), gamma=0.8, n_boot=REPS)
    for key, func in funcs.items():
        np.random.seed(2)  # noqa: NPY002 (rliable draws from the global generator)
        point, ci = library.get_interval_estimates(
            {"m": x}, lambda s, f=func: np.array([f(s)]), reps=REPS
        )
        assert ours[key].estimate == pytest.approx(float(point["m"][0]), abs=1e-12), key
        low, high = float(ci["m"][0, 0]), float(ci["m"][1, 0])
        tol = _mc_tolerance(low, high)
        assert ours[key].low == pytest.approx(low, abs=tol), key
        assert ours[key].high == pytest.approx(high, abs=tol), key


def test_probability_of_improvement_matches_rliable(rly: tuple[Any, Any]) -> None:
    library, metrics = rly
    x, y = _scores(3, runs=7, shift=0.05), _scores(3, runs=5)
    y = y + np.random.default_rng(4).normal(0, 0.05, size=y.shape)
    np.random.seed(5)  # noqa: NPY002 (rliable draws from the global generator)
    point, ci = library.get_interval_estimates(
        {"xy": [x, y]},
        lambda a, b: np.array([metrics.probability_of_improvement(a, b)]),
        reps=500,  # rliable runs scipy's Mann-Whitney test per task and draw: slow
    )
    ours = probability_of_improvement(x, y, rng=np.random.default_rng(6), n_boot=500)
    assert ours.estimate == pytest.approx(float(point["xy"][0]), abs=1e-12)
    low, high = float(ci["xy"][0, 0]), float(ci["xy"][1, 0])
    tol = _mc_tolerance(low, high, reps=500)
    assert ours.low == pytest.approx(low, abs=tol)
    assert ours.high == pytest.approx(high, abs=tol)


def test_performance_profile_matches_rliable(rly: tuple[Any, Any]) -> None:
    library, _ = rly
    x = _scores(7, runs=8)
    taus = np.linspace(0.2, 1.0, 9)
    np.random.seed(8)  # noqa: NPY002 (rliable draws from the global generator)
    profiles, cis = library.create_performance_profile({"m": x}, taus, reps=REPS)
    ours = performance_profile(x, taus, rng=np.random.default_rng(9), n_boot=REPS)
    np.testing.assert_allclose(ours.fraction, profiles["m"], atol=1e-12)
    # a fraction of 40 runs moves in steps of 1/40: allow one step for the quantiles
    np.testing.assert_allclose(ours.low, cis["m"][0], atol=1 / 40 + 1e-9)
    np.testing.assert_allclose(ours.high, cis["m"][1], atol=1 / 40 + 1e-9)
