"""domhan_mcmc: the Domhan et al. reference model sampled with emcee (short chains in tests)."""

from __future__ import annotations

import numpy as np
import pytest

import curvecast
from curvecast import Curve
from curvecast.forecast.mcmc import DomhanMCMCForecaster

RNG = np.random.default_rng


def test_one_and_two_points_use_the_flat_band_without_sampling() -> None:
    f = DomhanMCMCForecaster().forecast(Curve([1.0], [0.4]), np.array([50.0]), rng=RNG(0))
    assert str(f.info["fallback"]).startswith("fewer than 3 points")
    assert np.all(np.isfinite(f.samples))


def test_invalid_parameters_are_rejected() -> None:
    with pytest.raises(curvecast.InvalidParameterError, match="burn"):
        DomhanMCMCForecaster(nsteps=10, burn=10)


@pytest.mark.slow
def test_noise_free_pow3_is_recovered_and_reproducible() -> None:
    x = np.arange(1.0, 21.0)
    c = Curve(x, 0.9 - 0.5 * x**-0.7, bounds=(0, 1))
    m = DomhanMCMCForecaster(nsteps=300, burn=200)
    a = m.forecast(c, np.array([40.0]), rng=RNG(1))
    assert abs(a.median[0] - (0.9 - 0.5 * 40**-0.7)) < 0.01  # 2% of the observed range
    b = m.forecast(c, np.array([40.0]), rng=RNG(1))
    assert np.array_equal(a.samples, b.samples)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("x", "y", "direction"),
    [
        (np.linspace(1e9, 2e10, 15), 2.0 + 3.0 * np.linspace(1, 20, 15) ** -0.5, "minimize"),
        (np.arange(1.0, 11.0), [1e11, 2e11] * 5, "minimize"),
        (np.arange(1.0, 11.0), [0.1, 0.9] * 5, "maximize"),
    ],
    ids=["falling-tokens", "huge", "zigzag"],
)
def test_finite_on_hard_curves(x: np.ndarray, y: np.ndarray, direction: str) -> None:
    f = DomhanMCMCForecaster(nsteps=100, burn=50).forecast(
        Curve(x, y, direction=direction), np.array([x[-1] * 2]), rng=RNG(0)
    )
    assert f.samples is not None and np.all(np.isfinite(f.samples))
    if direction == "minimize" and y[0] < 10:
        assert f.median[0] < y[-1] + 0.05
