"""The two sides of a stopping decision: compute still needed, and the expected gain."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from curvecast import InvalidParameterError
from curvecast.forecast import Forecast
from curvecast.forecast._result import GRID
from curvecast.pruning import compute_split, expected_improvement


@pytest.mark.parametrize(
    ("steps", "horizon", "cost", "expected"),
    [
        ([1, 2, 3], 10, None, (3.0, 7.0)),  # one per report, epochs to come continue 4..10
        ([1, 2, 3], 10, 2.5, (7.5, 17.5)),
        ([5, 10, 15], 50, None, (3.0, 7.0)),  # every 5 steps: 20, 25, ..., 50
        ([5, 10, 15], 50, "step", (15.0, 35.0)),  # the steps are the compute
        ([16, 32, 64], 512, lambda s: s, (112.0, 128.0 + 256 + 512)),  # geometric anchors
        ([16, 32, 64], 512, None, (3.0, 3.0)),  # 128, 256, 512
        ([3], 3, None, (1.0, 0.0)),  # at the horizon: nothing left
    ],
)
def test_compute_split_continues_the_observed_spacing(
    steps: list[int], horizon: float, cost: object, expected: tuple[float, float]
) -> None:
    assert compute_split(steps, horizon, cost) == pytest.approx(expected)  # type: ignore[arg-type]


def test_a_horizon_between_report_steps_is_the_last_report() -> None:
    done, left = compute_split([10, 20, 30], 45, "step")
    assert (done, left) == (30.0, 15.0)


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf, True, "epochs", [1]])
def test_bad_step_cost_names_the_field(bad: object) -> None:
    from curvecast.pruning import ForecastRule

    with pytest.raises(InvalidParameterError, match="step_cost"):
        ForecastRule(step_cost=bad)  # type: ignore[arg-type]


def test_a_cost_function_returning_garbage_names_the_field() -> None:
    with pytest.raises(InvalidParameterError, match="step_cost"):
        compute_split([1, 2, 3], 10, lambda s: -1.0)


def _normal(mu: float, sigma: float, direction: str = "maximize") -> Forecast:
    return Forecast(
        [10.0],
        stats.norm.ppf(GRID, mu, sigma)[None, :],
        direction=direction,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("t", [-1.0, 0.0, 0.5, 1.5, 3.0])
def test_expected_improvement_matches_the_normal_formula(t: float) -> None:
    mu, sigma = 0.2, 1.0
    z = (mu - t) / sigma
    exact = sigma * stats.norm.pdf(z) + (mu - t) * stats.norm.cdf(z)
    assert expected_improvement(_normal(mu, sigma), t) == pytest.approx(exact, abs=2e-3)


def test_expected_improvement_when_minimising_looks_below_the_incumbent() -> None:
    f = _normal(1.0, 0.1, "minimize")
    assert expected_improvement(f, 0.5) < 1e-6  # far above the incumbent: nothing to gain
    assert expected_improvement(f, 1.5) == pytest.approx(0.5, abs=1e-3)


def test_expected_improvement_from_samples() -> None:
    rng = np.random.default_rng(0)
    s = rng.normal(0.0, 1.0, size=(20000, 1))
    f = Forecast.from_samples([5.0], s)
    assert expected_improvement(f, 0.0) == pytest.approx(stats.norm.pdf(0), abs=0.02)


def test_expected_improvement_rejects_a_nan_incumbent() -> None:
    with pytest.raises(InvalidParameterError, match="incumbent"):
        expected_improvement(_normal(0, 1), math.nan)


def test_a_long_run_of_reports_to_come_is_counted_whole() -> None:
    """A million per-step reports still to come: counted exactly, a cost function sampled."""
    assert compute_split([1, 2, 3], 1e6) == (3.0, 999_997.0)
    assert compute_split([1, 2, 3], 1e6, "step") == (3.0, 999_997.0)
    done, left = compute_split([1, 2, 3], 1e6, lambda s: 2.0)
    assert done == 6.0 and left == pytest.approx(2 * 999_997)
