"""parametric: oracle recovery, both directions, any axis scale, adversarial curves."""

from __future__ import annotations

import math

import numpy as np
import pytest

import curvecast
from curvecast import Curve
from curvecast.forecast.parametric import ParametricForecaster

RNG = np.random.default_rng


def test_noise_free_pow3_is_recovered_within_one_percent_of_its_range() -> None:
    x = np.arange(1.0, 21.0)
    c = Curve(x, 0.9 - 0.5 * x**-0.7, bounds=(0, 1))
    xn = np.array([30.0, 50.0])
    f = ParametricForecaster().forecast(c, xn, rng=RNG(0))
    truth = 0.9 - 0.5 * xn**-0.7
    assert np.all(np.abs(f.median - truth) < 0.005)  # 1% of the observed range (0.5)
    lo, hi = f.quantile([0.05, 0.95]).T
    assert np.all((lo <= truth) & (truth <= hi))


@pytest.mark.parametrize("scale", [1.0, 1e9])
def test_falling_curve_on_epochs_and_tokens(scale: float) -> None:
    t = np.arange(1.0, 31.0)
    y = 2.0 + 3.0 * t**-0.5
    f = curvecast.forecast(t * scale, y, [60 * scale], direction="minimize", method="parametric")
    assert f.direction == "minimize"
    assert abs(f.median[0] - (2.0 + 3.0 * 60**-0.5)) < 0.05
    assert f.prob_better(y[-1]) > 0.5  # the loss keeps falling


def test_same_answer_on_any_x_scale() -> None:
    t = np.arange(1.0, 21.0)
    y = 0.9 - 0.5 * t**-0.7
    a = ParametricForecaster().forecast(Curve(t, y), np.array([40.0]), rng=RNG(3))
    b = ParametricForecaster().forecast(Curve(t * 1e9, y), np.array([40e9]), rng=RNG(3))
    assert np.allclose(a.grid_values, b.grid_values, rtol=1e-6, atol=1e-9)


def test_one_point_gives_a_wide_valid_forecast() -> None:
    f = curvecast.forecast([1.0], [0.5], [2.0, 100.0], method="parametric")
    q = f.quantiles
    assert np.all(np.isfinite(q)) and np.all(np.diff(q, axis=1) >= 0)
    assert q[1, 4] - q[1, 0] > 0.1  # 100x beyond the only point: nothing is known
    assert q[1, 4] - q[1, 0] > q[0, 4] - q[0, 0]


@pytest.mark.parametrize(
    "y",
    [[5.0] * 10, [1e11, 2e11] * 5, [0.1, 0.9] * 10, [0.5, 0.6], [-3.0, -3.0, -3.0]],
    ids=["constant", "huge", "zigzag", "two", "negative-constant"],
)
@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_adversarial_curves_give_finite_samples(y: list[float], direction: str) -> None:
    x = np.arange(1.0, len(y) + 1)
    f = ParametricForecaster().forecast(
        Curve(x, y, direction=direction), np.array([len(y) + 1.0, 1e9]), rng=RNG(0)
    )
    assert f.samples is not None and np.all(np.isfinite(f.samples))


def test_thousands_of_points_are_binned() -> None:
    x = np.arange(1.0, 3001.0)
    y = 3.0 + 5.0 * x**-0.3 + 0.01 * RNG(0).standard_normal(x.size)
    f = ParametricForecaster().forecast(
        Curve(x, y, direction="minimize"), np.array([6000.0]), rng=RNG(0)
    )
    assert f.info["n_fit_points"] <= 100
    assert abs(f.median[0] - (3.0 + 5.0 * 6000**-0.3)) < 0.05


def test_flat_component_covers_a_dropping_curve() -> None:
    x = np.arange(1.0, 11.0)
    y = np.array([0.5, 0.6, 0.65, 0.7, 0.72, 0.7, 0.66, 0.62, 0.6, 0.58])  # overfitting
    f = ParametricForecaster().forecast(Curve(x, y, bounds=(0, 1)), np.array([12.0]), rng=RNG(0))
    lo, hi = f.quantile([0.05, 0.95])[0]
    assert lo <= 0.58 <= hi


def test_same_rng_same_answer_and_inputs_untouched() -> None:
    x, y = np.arange(1.0, 8.0), np.linspace(0.3, 0.6, 7)
    c = Curve(x, y)
    xn = np.array([10.0, 20.0])
    a = ParametricForecaster().forecast(c, xn, rng=RNG(7))
    b = ParametricForecaster().forecast(c, xn, rng=RNG(7))
    assert a.samples is not None and b.samples is not None
    assert np.array_equal(a.samples, b.samples)
    assert np.array_equal(xn, [10.0, 20.0])


@pytest.mark.parametrize(
    ("kw", "name"),
    [({"n_samples": 5}, "n_samples"), ({"flat_weight": 1.0}, "flat_weight"),
     ({"temperature": 0}, "temperature"), ({"max_points": 3}, "max_points"),
     ({"spread": 0.0}, "spread"), ({"prior_dof": -1.0}, "prior_dof"),
     ({"anchor": 2.0}, "anchor"), ({"backtest": 1}, "backtest")],
)  # fmt: skip
def test_invalid_parameters_are_rejected(kw: dict[str, float], name: str) -> None:
    with pytest.raises(curvecast.InvalidParameterError, match=name):
        ParametricForecaster(**kw)  # type: ignore[arg-type]


def _ninety(f: curvecast.Forecast) -> float:
    lo, hi = f.quantile([0.05, 0.95])[-1]
    return float(hi - lo)


def test_backtest_widens_a_curve_whose_early_law_fails_later() -> None:
    x = np.arange(1.0, 21.0)
    smooth = 0.9 - 0.5 * x**-0.7
    kinked = np.where(x <= 10, smooth, smooth[9] + 0.02 * (x - 10))  # a second wind at x = 10
    xn = np.array([40.0])
    fs = ParametricForecaster().forecast(Curve(x, smooth), xn, rng=RNG(0))
    fk = ParametricForecaster().forecast(Curve(x, kinked), xn, rng=RNG(0))
    assert fk.info["backtest"]["error"] > fs.info["backtest"]["error"]
    assert fk.info["spread_scale"] > fs.info["spread_scale"]
    off = ParametricForecaster(backtest=False).forecast(Curve(x, kinked), xn, rng=RNG(0))
    assert "backtest" not in off.info and _ninety(fk) > _ninety(off)


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_one_point_with_a_bound_expects_progress_towards_it(direction: str) -> None:
    y0, bounds = (0.6, (0.0, 1.0)) if direction == "maximize" else (4.0, (0.0, math.inf))
    f = curvecast.forecast(
        [16.0], [y0], [1600.0], direction=direction, bounds=bounds, method="parametric"
    )
    lo, med, hi = f.quantile([0.05, 0.5, 0.95])[0]
    assert f.prob_better(y0) > 0.8  # curves improve: most of the mass is on the better side
    assert bounds[0] <= lo < med < hi <= bounds[1]


def test_predictive_has_no_gap_between_flat_and_fitted() -> None:
    x = np.arange(1.0, 16.0)
    y = 3.0 + 2.0 * x**-0.5
    f = ParametricForecaster().forecast(
        Curve(x, y, direction="minimize"), np.array([200.0]), rng=RNG(0)
    )
    assert f.samples is not None
    s = np.sort(f.samples[:, 0])
    inner = s[int(0.05 * s.size) : int(0.95 * s.size)]
    # a bimodal mix leaves a gap: no central gap wider than a tenth of the 90% interval
    assert np.max(np.diff(inner)) < 0.1 * (inner[-1] - inner[0])
