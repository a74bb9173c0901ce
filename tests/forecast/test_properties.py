"""Hypothesis: invariants of every fast method over arbitrary valid curves."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import curvecast

METHODS = ["last_value", "parametric", "pow4", "mmf4"]


@st.composite
def curves(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, tuple | None]:
    n = draw(st.integers(1, 40))
    start = draw(st.floats(0.0, 1e9, allow_nan=False))
    log_steps = draw(st.lists(st.floats(-3, 3), min_size=n, max_size=n))
    x = start + np.cumsum(np.exp(log_steps)) * draw(st.sampled_from([1.0, 1e3, 1e9]))
    x = np.unique(x)
    if x.size < n:  # floating point merged two steps; keep what is strictly increasing
        n = x.size
    bounded = draw(st.booleans())
    if bounded:
        y = np.array(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
        bounds: tuple | None = (0.0, 1.0)
    else:
        mag = draw(st.sampled_from([1e-3, 1.0, 1e6]))
        y = mag * np.array(draw(st.lists(st.floats(-10, 10), min_size=n, max_size=n)))
        bounds = None
    horizon = x[-1] * draw(st.floats(1.01, 100.0)) + 1.0
    x_new = np.linspace(x[-1] + (horizon - x[-1]) / 10, horizon, 5)
    direction = draw(st.sampled_from(["maximize", "minimize"]))
    return x, y, x_new, direction, bounds


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=curves(), method=st.sampled_from(METHODS), seed=st.integers(0, 2**31))
def test_any_valid_curve_gets_a_valid_forecast(data: tuple, method: str, seed: int) -> None:
    x, y, x_new, direction, bounds = data
    x_before, y_before = x.copy(), y.copy()
    f = curvecast.forecast(x, y, x_new, direction=direction, bounds=bounds, method=method, rng=seed)
    q = f.quantiles
    assert q.shape == (x_new.size, 5)
    assert np.all(np.isfinite(q))
    assert np.all(np.diff(q, axis=1) >= 0)
    if bounds is not None:
        assert np.all(q >= 0.0) and np.all(q <= 1.0)
    p = f.prob_better(float(np.median(y)))
    assert 0.0 <= p <= 1.0
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(y, y_before)
    again = curvecast.forecast(
        x, y, x_new, direction=direction, bounds=bounds, method=method, rng=seed
    )
    np.testing.assert_array_equal(again.quantiles, q)


@settings(max_examples=25, deadline=None)
@given(
    data=curves(),
    bad=st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e18]),
    where=st.integers(0, 39),
)
def test_a_divergence_anywhere_gives_a_diverged_forecast(
    data: tuple, bad: float, where: int
) -> None:
    x, y, x_new, direction, bounds = data
    y = y.copy()
    y[where % y.size] = bad
    f = curvecast.forecast(x, y, x_new, direction=direction, bounds=bounds, method="last_value")
    assert f.diverged and f.prob_better(0.0) == 0.0
