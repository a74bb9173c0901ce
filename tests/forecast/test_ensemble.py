"""The mixture of forecasts: its quantile arithmetic and its arguments."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from curvecast import Curve, InvalidParameterError
from curvecast.forecast._result import GRID
from curvecast.forecast.ensemble import EnsembleForecaster, mix_quantiles


def test_mixture_of_two_normals_has_the_mixture_cdf() -> None:
    a, b = norm.ppf(GRID)[None], (norm.ppf(GRID) + 4.0)[None]
    q = mix_quantiles([a, b], np.array([0.5, 0.5]))[0]
    assert q[GRID.size // 2] == pytest.approx(2.0, abs=1e-6)  # the median sits between
    for v in (-1.0, 1.0, 2.5, 5.0):
        want = 0.5 * norm.cdf(v) + 0.5 * norm.cdf(v - 4.0)
        assert np.interp(v, q, GRID) == pytest.approx(want, abs=2e-3)


def test_one_member_with_all_the_weight_is_returned_unchanged() -> None:
    a, b = norm.ppf(GRID)[None], (3.0 * norm.ppf(GRID) + 1.0)[None]
    np.testing.assert_allclose(mix_quantiles([a, b], np.array([0.0, 1.0])), b, atol=1e-6)


def test_a_point_mass_member_is_accepted() -> None:
    point = np.full((1, GRID.size), 0.7)
    q = mix_quantiles([point, norm.ppf(GRID)[None]], np.array([0.5, 0.5]))
    assert np.all(np.isfinite(q)) and np.all(np.diff(q[0]) >= 0)


def test_the_mixture_is_wider_than_its_members_when_they_disagree() -> None:
    x = np.arange(1.0, 11.0)
    curve = Curve(x, 0.9 - 0.5 * x**-0.7, bounds=(0, 1))
    rng = np.random.default_rng(0)
    mix = EnsembleForecaster(("last_value", "parametric")).forecast(
        curve, np.array([50.0]), rng=rng
    )
    parts = [
        EnsembleForecaster(("last_value", "last_value")).forecast(curve, np.array([50.0]), rng=rng),
        EnsembleForecaster(("parametric", "parametric")).forecast(curve, np.array([50.0]), rng=rng),
    ]
    lo, hi = mix.quantile(0.05)[0], mix.quantile(0.95)[0]
    assert lo <= max(p.quantile(0.05)[0] for p in parts) + 1e-9
    assert hi >= min(p.quantile(0.95)[0] for p in parts) - 1e-9
    assert mix.info["members"] == ["last_value", "parametric"]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"members": ("pfn",)}, "members"),
        ({"members": "pfn"}, "members"),
        ({"weights": (1.0,)}, "weights"),
        ({"weights": (1.0, -1.0)}, "weights"),
        ({"weights": (0.0, 0.0)}, "weights"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of EnsembleForecaster"):
        EnsembleForecaster(**kwargs)  # type: ignore[arg-type]
