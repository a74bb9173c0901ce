"""The front door's guard: inferred bounds, the spread cap, in-range and backward queries."""

from __future__ import annotations

import math

import numpy as np
import pytest

import curvecast
from curvecast import Curve
from curvecast.forecast import GRID, Forecast, register, unregister
from curvecast.forecast._guard import guard, infer_bounds, spread_cap


@pytest.mark.parametrize(
    ("y", "direction", "given", "expected"),
    [
        ([0.5, 0.7, 0.9], "maximize", None, (0.0, 1.0)),
        ([50.0, 70.0, 90.0], "maximize", None, (0.0, 100.0)),
        ([50.0, 170.0], "maximize", None, None),  # a score beyond 100: nothing to infer
        ([-0.1, 0.2], "maximize", None, None),
        ([2.0, 1.5, 1.2], "minimize", None, (0.0, math.inf)),
        ([-2.0, -3.0], "minimize", None, None),
        ([0.5, 0.7], "maximize", (None, 0.8), (0.0, 0.8)),  # the given side wins
        ([0.5, 0.7], "maximize", (0.4, None), (0.4, 1.0)),
    ],
)
def test_infer_bounds(y, direction, given, expected) -> None:
    curve = Curve(np.arange(1.0, len(y) + 1), y, direction, given)
    assert infer_bounds(curve) == expected


class _Exploding:
    """A forecaster whose tails explode, as a misfit parametric family's can."""

    name = "exploding"

    def forecast(self, curve, x_new, *, rng, context=()):
        wild = np.linspace(-3.0, 8.0, GRID.size)
        return Forecast(x_new, np.tile(wild, (x_new.size, 1)), direction=curve.direction)


@pytest.fixture
def exploding():
    register("exploding", _Exploding, overwrite=True)
    yield "exploding"
    unregister("exploding")


def test_exploding_tails_are_held_near_the_curve(exploding) -> None:
    x = np.arange(1.0, 31.0)
    y = np.minimum(0.95, 0.6 + 0.05 * x) + 0.01 * np.sin(x)
    f = curvecast.forecast(x, y, [50.0], method=exploding, quantiles=(0.05, 0.5, 0.95))
    lo, _, hi = f.quantiles[0]
    assert 0.0 <= lo <= hi <= 1.0  # inferred (0, 1)
    assert hi - lo < 1.0
    assert f.info["bounds_inferred"] == [0.0, 1.0]
    assert lo <= f.mean[0] <= hi


def test_cap_grows_with_the_horizon_and_leaves_sane_forecasts_alone() -> None:
    x = np.arange(1.0, 11.0)
    curve = Curve(x, 1.0 + 2.0 / x, "minimize")
    level, cap = spread_cap(curve, np.array([5.0, 20.0, 200.0]))
    assert level[0] == pytest.approx(1.4)
    assert cap[0] < cap[1] < cap[2]
    sane = Forecast([20.0], np.linspace(1.05, 1.2, GRID.size)[None, :], direction="minimize")
    np.testing.assert_allclose(guard(sane, curve).grid_values, sane.grid_values)


def test_observed_points_are_answered_from_the_data_by_every_method() -> None:
    x = np.arange(1.0, 9.0)
    y = np.linspace(0.5, 0.76, 8)
    for method in ("last_value", "pfn", "parametric", "lcpfn"):
        f = curvecast.forecast(x, y, [4.0, 6.0], method=method, quantiles=(0.05, 0.5, 0.95))
        assert f.quantiles[0, 0] <= y[3] <= f.quantiles[0, 2], method
        assert f.quantiles[1, 1] == pytest.approx(y[5], abs=1e-6), method


def test_backward_extrapolation_stays_near_the_start() -> None:
    x = np.arange(1.0, 9.0)
    y = np.linspace(0.5, 0.76, 8)
    for method in ("parametric", "auto"):
        f = curvecast.forecast(x, y, [0.0], method=method, quantiles=(0.05, 0.95))
        assert 0.0 <= f.quantiles[0, 0] and f.quantiles[0, 1] <= 1.0, method
        assert f.quantiles[0, 1] - f.quantiles[0, 0] < 1.0, method


def test_a_positive_loss_is_never_forecast_negative() -> None:
    x = np.arange(1.0, 6.0)
    y = np.array([0.30, 0.12, 0.05, 0.02, 0.01])
    for method in ("last_value", "pfn", "parametric", "auto"):
        f = curvecast.forecast(x, y, [100.0], direction="minimize", method=method)
        assert np.all(f.grid_values >= 0.0), method
