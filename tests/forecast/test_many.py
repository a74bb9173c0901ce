"""forecast_many: one call for many curves, each answer as if asked alone."""

from __future__ import annotations

import numpy as np
import pytest

import curvecast
from curvecast import Curve
from curvecast.exceptions import InvalidCurveError, InvalidParameterError


def _curves(k: int, seed: int = 0) -> list[Curve]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        n = int(rng.integers(2, 40))
        x = np.arange(1.0, n + 1)
        a = rng.uniform(0.6, 0.95)
        out.append(Curve(x, a - 0.4 * x**-0.6 + rng.normal(0, 0.005, n), bounds=(0, 1)))
    return out


@pytest.mark.parametrize("method", ["pfn", "calibrated", "auto", "last_value"])
def test_each_answer_is_the_single_curve_answer(method) -> None:
    curves = _curves(7)
    many = curvecast.forecast_many(curves, [45.0, 60.0], method=method, rng=3)
    for c, f in zip(curves, many, strict=True):
        alone = curvecast.forecast_curve(c, [45.0, 60.0], method=method, rng=3)
        np.testing.assert_allclose(f.grid_values, alone.grid_values, rtol=0, atol=1e-5)


def test_answer_does_not_depend_on_position_or_neighbours() -> None:
    curves = _curves(5)
    a = curvecast.forecast_many(curves, [50.0], rng=1)
    b = curvecast.forecast_many(curves[::-1] + _curves(3, seed=9), [50.0], rng=1)
    np.testing.assert_allclose(a[0].grid_values, b[4].grid_values, atol=1e-5)


def test_per_curve_queries_and_diverged_curves() -> None:
    ok = _curves(1)[0]
    bad = Curve([1, 2, 3], [0.5, float("nan"), 0.6], bounds=(0, 1))
    out = curvecast.forecast_many([ok, bad], [[50.0], [10.0, 20.0]])
    assert out[0].x_new.tolist() == [50.0] and not out[0].diverged
    assert out[1].diverged and out[1].quantiles.shape == (2, 5)


def test_bad_input_names_the_field() -> None:
    with pytest.raises(InvalidParameterError, match="curves"):
        curvecast.forecast_many([[1, 2, 3]], [5.0])  # type: ignore[list-item]
    with pytest.raises(InvalidParameterError, match="x_new"):
        curvecast.forecast_many(_curves(2), [[5.0], [6.0], [7.0]])
    with pytest.raises(InvalidCurveError, match="x_new"):
        curvecast.forecast_many(_curves(2), [[5.0], [3.0, 2.0]])


def test_a_query_is_answered_the_same_whatever_else_is_asked() -> None:
    """Queries are independent (their cost linear in their number): adding queries changes
    nothing about the others."""
    c = _curves(1)[0]
    few = curvecast.forecast_curve(c, [60.0], method="pfn")
    lots = curvecast.forecast_curve(c, np.linspace(41.0, 60.0, 400), method="pfn")
    np.testing.assert_allclose(few.grid_values[0], lots.grid_values[-1], atol=1e-5)
