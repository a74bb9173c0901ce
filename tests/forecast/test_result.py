from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from curvecast import Forecast, InvalidParameterError
from curvecast.forecast import GRID
from curvecast.forecast._result import check_levels


def _normal(mu: float = 0.7, sd: float = 0.05, direction: str = "maximize") -> Forecast:
    grid = mu + sd * norm.ppf(GRID)
    return Forecast([10.0, 20.0], np.vstack([grid, grid + 0.01]), direction=direction)  # type: ignore[arg-type]


def test_quantiles_interpolate_the_grid() -> None:
    f = _normal().with_levels([0.05, 0.5, 0.95])
    np.testing.assert_allclose(f.quantiles[0], 0.7 + 0.05 * norm.ppf([0.05, 0.5, 0.95]), atol=2e-4)
    assert f.quantiles.shape == (2, 3)
    assert np.all(np.diff(f.quantiles, axis=1) >= 0)


def test_mean_cdf_and_prob_better_match_the_normal() -> None:
    f = _normal()
    assert f.mean[0] == pytest.approx(0.7, abs=1e-3)
    assert float(f.cdf(0.75, at=10.0)) == pytest.approx(norm.cdf(1.0), abs=2e-3)
    assert f.prob_better(0.75, at=10.0) == pytest.approx(1 - norm.cdf(1.0), abs=2e-3)
    loss = _normal(direction="minimize")
    assert loss.prob_better(0.75, at=10.0) == pytest.approx(norm.cdf(1.0), abs=2e-3)


def test_logpdf_close_to_the_normal_density_and_finite_in_tails() -> None:
    f = _normal()
    assert float(f.logpdf(0.7, at=10.0)[0]) == pytest.approx(norm.logpdf(0.7, 0.7, 0.05), abs=0.02)
    tails = f.logpdf([0.0, 5.0], at=10.0)
    assert np.all(np.isfinite(tails)) and np.all(tails < norm.logpdf(0.9, 0.7, 0.05))


def test_density_integrates_to_one() -> None:
    f = _normal()
    v = np.linspace(0.0, 1.4, 200_001)
    mass = np.trapezoid(np.exp(f.logpdf(v, at=10.0)), v)
    assert mass == pytest.approx(1.0, abs=0.01)


def test_unsorted_grid_rows_are_made_monotone() -> None:
    row = np.linspace(0, 1, GRID.size)
    row[5], row[6] = row[6], row[5]
    f = Forecast([1.0], row[None, :])
    assert np.all(np.diff(f.grid_values[0]) >= 0)


def test_samples_shape_and_repeatability() -> None:
    f = _normal()
    a, b = f.sample(100, 7), f.sample(100, np.random.default_rng(7))
    assert a.shape == (100, 2)
    np.testing.assert_array_equal(a, b)
    assert np.all(a[:, 1] > a[:, 0])  # comonotone paths keep the order of the quantile rows


def test_from_samples_keeps_joint_paths() -> None:
    rng = np.random.default_rng(0)
    s = rng.normal(0, 1, (4000, 1)) + np.array([[0.0, 1.0]])
    f = Forecast.from_samples([1.0, 2.0], s)
    assert f.mean[1] - f.mean[0] == pytest.approx(1.0)
    assert f.prob_better(1.0) == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("levels", [[], [0.5, 0.5], [0.0, 0.5], [0.9, 0.1], [1.2], ["a"]])
def test_bad_levels(levels: list[object]) -> None:
    with pytest.raises(InvalidParameterError, match="quantiles"):
        _normal().with_levels(levels)  # type: ignore[arg-type]


@pytest.mark.parametrize("levels", [(), (0.5, 0.5), (0.9, 0.1), (1.2,), ("a",), ([0.5], [0.1])])
def test_bad_level_tuples_are_refused_every_time(levels: tuple[object, ...]) -> None:
    for _ in range(2):  # a refused tuple is never remembered as checked
        with pytest.raises(InvalidParameterError, match="quantiles"):
            check_levels(levels)


def test_checked_level_tuples_are_shared_read_only() -> None:
    """A pruner asks for the same levels at every check: they are validated once, and the
    array handed out (shared by every Forecast that reports them) cannot be changed."""
    first = check_levels((0.1, 0.5, 0.9))
    assert check_levels((0.1, 0.5, 0.9)) is first
    assert check_levels(first) is first
    assert not first.flags.writeable
    np.testing.assert_array_equal(_normal().with_levels((0.1, 0.5, 0.9)).levels, [0.1, 0.5, 0.9])
    fresh = check_levels([0.1, 0.5, 0.9])  # a list is validated each time, into its own array
    assert fresh is not first and fresh.flags.writeable


def test_at_must_be_a_query_point() -> None:
    with pytest.raises(InvalidParameterError, match="'at'"):
        _normal().prob_better(0.5, at=15.0)


def test_sample_count_validated() -> None:
    with pytest.raises(InvalidParameterError, match="'n'"):
        _normal().sample(0)


def test_to_dict_is_json_ready() -> None:
    import json

    d = _normal().to_dict()
    assert json.loads(json.dumps(d)) == d
    assert len(d["quantiles"]) == 2 and len(d["quantiles"][0]) == len(d["levels"])
