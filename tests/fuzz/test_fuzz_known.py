"""What fuzzing found INSIDE the forecasters (src/curvecast/forecast/, the lead's rewrite).

Each case is a minimal reproducer of what the audit found; the front door's guard and the
forecaster fixes made them pass, and they stay to keep them passing. The property fuzzers at
the end cover the same ground over many inputs; they stop at the first counterexample.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import curvecast
from curvecast import CurvecastError

from ._strategies import KNOWN, QUICK_METHODS, sane_request

RISE = {"x": [1, 2, 3, 4, 5, 6, 7, 8], "y": [0.5, 0.56, 0.61, 0.65, 0.69, 0.72, 0.74, 0.76]}


def _strict_forecast(*args: Any, **kwargs: Any) -> curvecast.Forecast:
    """Forecast with every RuntimeWarning an error: none may leak to the user."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return curvecast.forecast(*args, **kwargs)


def _mean_inside(f: curvecast.Forecast) -> bool:
    """The mean lies within the forecast's own 5%-95% band (issue 16)."""
    band = f.quantile([0.05, 0.95])
    lo, hi = band[:, 0], band[:, 1]
    tol = 1e-9 * (1 + np.abs(lo) + np.abs(hi))
    return bool(np.all((f.mean >= lo - tol) & (f.mean <= hi + tol)))


def test_lcpfn_huge_axis() -> None:
    try:
        _strict_forecast([1e301, 2e301, 3e301], [0.1, 0.2, 0.3], [1e307], method="lcpfn")
    except CurvecastError:
        pass


def test_pfn_tiny_bounds() -> None:
    try:
        _strict_forecast([1, 2, 3], [0, 0, 0], [10], bounds=(0, 5e-324), method="pfn")
    except CurvecastError:
        pass


@pytest.mark.parametrize("method", ["auto", "parametric"])
def test_backward_extrapolation_stays_near_the_data(method: str) -> None:
    f = _strict_forecast(RISE["x"], RISE["y"], [0], method=method)
    assert -1.0 < f.quantiles[0, 0] and f.quantiles[0, -1] < 2.0
    assert _mean_inside(f) and -1.0 < f.mean[0] < 2.0


def test_backward_extrapolation_of_large_values() -> None:
    f = _strict_forecast([1, 2, 3], [1e9, 2e9, 3e9], [0.0], method="parametric")
    assert _mean_inside(f)


def test_last_value_at_an_observed_x_contains_the_observation() -> None:
    f = _strict_forecast(RISE["x"], RISE["y"], [2], method="last_value")
    assert f.quantiles[0, 0] <= 0.56 <= f.quantiles[0, -1]


@pytest.mark.parametrize(
    ("x", "y", "x_new", "direction", "bounds"),
    [
        ([11.0, 12.0], [0.0596, 1069823.6], [41.08], "maximize", (None, 1069824.6)),
        ([0.002, 0.003, 0.004, 0.005], [0.0, 0.0, 0.0, 0.0], [0.0114], "minimize", (0.0, 1.0)),
    ],
)
def test_mean_inside_the_band(
    x: list[float], y: list[float], x_new: list[float], direction: str, bounds: Any
) -> None:
    f = _strict_forecast(x, y, x_new, direction=direction, bounds=bounds, method="auto", rng=0)
    assert _mean_inside(f), (f.quantiles.tolist(), f.mean.tolist())


def test_no_runtime_warning_for_large_values_and_tiny_queries() -> None:
    _strict_forecast([15665.7, 15999.1, 25173.4], [6.3e10, 8.5e10, 0.0], [7.3e-300])


@pytest.mark.parametrize("method", ["pow4", "mmf4"])
def test_a_fallback_says_which_method_answered(method: str) -> None:
    d = _strict_forecast([1, 2, 3], [0.3, 0.4, 0.45], [10], method=method).to_dict()
    assert d["method"] != method or d.get("fallback"), d


# -- property fuzzers over the same ground ------------------------------------------------------


_BACKWARD_CRASH = {
    "x": [0.001 * k for k in range(1, 12)],
    "y": [0.0] * 9 + [1.0, 0.0],
    "x_new": [1.1125369292536007e-308],
    "direction": "maximize",
    "bounds": None,
}


@KNOWN
@example(req=_BACKWARD_CRASH, method="auto")
@given(req=sane_request(backward=True), method=st.sampled_from(QUICK_METHODS))
def test_backward_queries_never_raise(req: dict[str, Any], method: str) -> None:
    f = curvecast.forecast(
        req["x"], req["y"], req["x_new"], bounds=req["bounds"], method=method, rng=0
    )
    json.dumps(f.to_dict(), allow_nan=False)


@st.composite
def _wide(draw: st.DrawFn) -> dict[str, Any]:
    """Any scale float64 allows: x from 1e-300 to 1e300, |y| up to 1e11, far queries."""
    n = draw(st.integers(1, 8))
    scale = draw(st.sampled_from([1e-300, 1e-9, 1.0, 1e12, 1e100, 1e300]))
    x = np.unique(scale * np.cumsum(draw(st.lists(st.floats(0.01, 10), min_size=n, max_size=n))))
    mag = draw(st.sampled_from([1e-300, 1e-9, 1.0, 1e9, 1e11]))
    y = [mag * v for v in draw(st.lists(st.floats(-1, 1), min_size=x.size, max_size=x.size))]
    q = draw(st.sampled_from([1e-300, 1.0, float(x[-1]), float(x[-1]) * 1e6]))
    x_new = sorted({q * v for v in draw(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=3))})
    return {"x": x.tolist(), "y": y, "x_new": x_new}


@KNOWN
@example(req={"x": [1e301, 2e301, 3e301], "y": [0.1, 0.2, 0.3], "x_new": [1e307]}, method="lcpfn")
@given(req=_wide(), method=st.sampled_from(QUICK_METHODS))
def test_any_scale_never_raises_or_warns(req: dict[str, Any], method: str) -> None:
    try:
        _strict_forecast(req["x"], req["y"], req["x_new"], method=method, rng=0)
    except CurvecastError:
        pass


@KNOWN
@example(
    req={"x": [11.0, 12.0], "y": [0.0596, 1069823.6], "x_new": [41.08], "bounds": None},
    method="auto",
    seed=0,
)
@given(
    req=sane_request(backward=True), method=st.sampled_from(QUICK_METHODS), seed=st.integers(0, 9)
)
def test_mean_inside_the_forecast_range(req: dict[str, Any], method: str, seed: int) -> None:
    f = curvecast.forecast(
        req["x"], req["y"], req["x_new"], bounds=req["bounds"], method=method, rng=seed
    )
    assert f.diverged or _mean_inside(f)
