"""Scores against closed forms: CRPS of a point mass and of a normal, coverage, Spearman."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from curvecast.bench.metrics import (
    abs_error,
    covered,
    crps_quantiles,
    crps_samples,
    log_likelihood,
    spearman,
)
from curvecast.forecast import GRID, Forecast


def _normal_crps(mu: float, sigma: float, y: float) -> float:
    z = (y - mu) / sigma
    return sigma * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / math.sqrt(math.pi))


@pytest.mark.parametrize("c, y", [(2.0, 3.5), (2.0, 1.0), (0.7, 0.7), (-1.0, 4.0)])
def test_crps_of_a_point_mass_is_the_absolute_error(c: float, y: float) -> None:
    assert crps_quantiles(np.full(GRID.size, c), y) == pytest.approx(abs(y - c), abs=1e-12)


@pytest.mark.parametrize("y", [0.7, 0.3, 0.31, -0.2, 1.5, 0.0])
def test_crps_of_a_normal_matches_the_closed_form(y: float) -> None:
    mu, sigma = 0.3, 0.2
    got = crps_quantiles(mu + sigma * norm.ppf(GRID), y)
    # the grid holds the 0.1% tails flat: the only gap to the closed form
    assert got == pytest.approx(_normal_crps(mu, sigma, y), rel=2e-3)


def test_crps_is_vectorised_over_rows_and_nan_for_a_non_finite_truth() -> None:
    rows = np.stack([np.full(GRID.size, 1.0), norm.ppf(GRID)])
    got = crps_quantiles(rows, np.array([3.0, np.nan]))
    assert got.shape == (2,)
    assert got[0] == pytest.approx(2.0)
    assert math.isnan(got[1])


def test_crps_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="shape"):
        crps_quantiles(np.zeros((2, GRID.size)), np.zeros(3))


def test_crps_from_samples_matches_the_closed_form() -> None:
    draws = np.random.default_rng(0).normal(0.3, 0.2, size=100_000)
    assert crps_samples(draws, 0.7) == pytest.approx(_normal_crps(0.3, 0.2, 0.7), rel=1e-2)
    assert crps_samples(np.full(10, 2.0), 3.5) == pytest.approx(1.5)


def _normal_forecast(mu: float, sigma: float) -> Forecast:
    return Forecast([10.0, 20.0], np.stack([mu + sigma * norm.ppf(GRID)] * 2))


def test_coverage_counts_the_central_interval() -> None:
    f = _normal_forecast(0.0, 1.0)
    z50, z90 = norm.ppf(0.75), norm.ppf(0.95)
    assert covered(f, 0.9 * z50, 0.5) == 1.0
    assert covered(f, 1.1 * z50, 0.5) == 0.0
    assert covered(f, -0.9 * z90, 0.9) == 1.0
    assert covered(f, -1.1 * z90, 0.9) == 0.0
    assert math.isnan(covered(f, math.nan, 0.9))
    truths = np.random.default_rng(1).normal(size=4000)
    share = np.mean([covered(f, t, 0.9) for t in truths])
    assert share == pytest.approx(0.9, abs=0.02)


def test_abs_error_and_log_likelihood_read_the_last_point() -> None:
    f = _normal_forecast(0.5, 0.1)
    assert abs_error(f, 0.8) == pytest.approx(0.3)
    assert abs_error(f, 0.8, at=10.0) == pytest.approx(0.3)
    assert log_likelihood(f, 0.5) == pytest.approx(norm.logpdf(0.5, 0.5, 0.1), abs=0.02)
    assert math.isnan(log_likelihood(f, math.inf))


def test_spearman_matches_scipy_and_handles_degenerate_input() -> None:
    from scipy.stats import spearmanr

    rng = np.random.default_rng(2)
    a, b = rng.normal(size=20), rng.normal(size=20)
    assert float(spearman(a, b)) == pytest.approx(spearmanr(a, b).statistic)
    assert float(spearman([1, 2, 3, 4], [10, 20, 30, 40])) == pytest.approx(1.0)
    assert math.isnan(float(spearman([1, 2], [2, 1])))  # fewer than 3
    assert math.isnan(float(spearman([1, 2, 3], [5, 5, 5])))  # no ranking to match
    batch = spearman(np.stack([a, -a]), np.stack([a, a]))
    assert batch == pytest.approx([1.0, -1.0])
