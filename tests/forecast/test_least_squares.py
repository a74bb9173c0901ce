"""pow4 and mmf4: LCDB's least-squares baselines never crash and fall back to last value."""

from __future__ import annotations

import numpy as np
import pytest

import curvecast
from curvecast import Curve
from curvecast.forecast.least_squares import MMF4Forecaster, Pow4Forecaster

RNG = np.random.default_rng


@pytest.mark.parametrize("cls", [Pow4Forecaster, MMF4Forecaster])
def test_recovers_a_noise_free_power_law(cls) -> None:  # type: ignore[no-untyped-def]
    x = np.arange(1.0, 21.0)
    c = Curve(x, 0.9 - 0.5 * x**-0.7)
    f = cls().forecast(c, np.array([40.0]), rng=RNG(0))
    tol = 1e-3 if cls is Pow4Forecaster else 1e-2
    assert abs(f.median[0] - (0.9 - 0.5 * 40**-0.7)) < tol
    assert "fallback" not in f.info


@pytest.mark.parametrize("method", ["pow4", "mmf4"])
def test_falling_curve_on_a_token_axis(method: str) -> None:
    x = np.linspace(1e9, 2e10, 20)
    y = 2.0 + 3.0 * (x / 1e9) ** -0.5
    f = curvecast.forecast(x, y, [1e11], direction="minimize", method=method)
    q = f.quantiles[0]
    assert 2.0 < q[2] < y[-1]
    assert np.all(np.diff(q) >= 0)


@pytest.mark.parametrize("method", ["pow4", "mmf4"])
@pytest.mark.parametrize(
    "y",
    [[5.0] * 10, [1e11, 2e11] * 5, [0.1, 0.9] * 10, [0.5, 0.6], [0.3]],
    ids=["constant", "huge", "zigzag", "two", "one"],
)
def test_adversarial_curves_give_finite_forecasts(method: str, y: list[float]) -> None:
    x = np.arange(1.0, len(y) + 1)
    f = curvecast.forecast(x, y, [len(y) + 1.0, 1e6], method=method)
    assert np.all(np.isfinite(f.grid_values))


def test_short_curves_fall_back_and_say_so() -> None:
    f = Pow4Forecaster().forecast(Curve([1, 2], [0.5, 0.6]), np.array([5.0]), rng=RNG(0))
    assert f.info["fallback"].startswith("last_value")
    assert f.median[0] == pytest.approx(0.6)


def test_exploding_fit_falls_back() -> None:
    f = Pow4Forecaster(max_excursion=0.01).forecast(
        Curve(np.arange(1.0, 11.0), np.log(np.arange(1.0, 11.0))), np.array([1e6]), rng=RNG(0)
    )
    assert "exploded" in f.info["fallback"]


def test_invalid_parameters_are_rejected() -> None:
    with pytest.raises(curvecast.InvalidParameterError, match="max_excursion"):
        Pow4Forecaster(max_excursion=-1)
