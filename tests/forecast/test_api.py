from __future__ import annotations

import json
import math

import numpy as np
import pytest

import curvecast
from curvecast import InvalidCurveError, InvalidParameterError, UnknownMethodError


def test_diverged_curve_is_forecast_as_lost() -> None:
    f = curvecast.forecast(
        [1, 2, 3], [2.0, 1.5, float("nan")], [10, 20], direction="minimize", method="last_value"
    )
    assert f.diverged
    assert np.all(f.quantiles == math.inf)
    assert f.prob_better(1e9) == 0.0
    assert f.info["diverged_at"] == 3.0
    d = f.to_dict()
    assert d["diverged"] is True and d["quantiles"][0][0] is None
    json.dumps(d)


def test_diverged_bounded_curve_reports_the_bound() -> None:
    f = curvecast.forecast([1, 2], [float("inf"), 0.5], [5], bounds=(0, 1), method="last_value")
    assert f.diverged and np.all(f.quantiles == 0.0)


def test_bounds_clip_the_forecast() -> None:
    f = curvecast.forecast([1, 2, 3], [0.95, 0.98, 0.99], [100], bounds=(0, 1), method="last_value")
    assert np.all(f.quantiles <= 1.0)
    assert f.quantiles[0, -1] == 1.0


def test_default_rng_is_repeatable_and_seeds_differ_for_sampled_methods() -> None:
    a = curvecast.forecast([1, 2, 3], [0.5, 0.6, 0.62], [9], method="last_value")
    b = curvecast.forecast([1, 2, 3], [0.5, 0.6, 0.62], [9], method="last_value")
    np.testing.assert_array_equal(a.quantiles, b.quantiles)


def test_errors_name_the_field() -> None:
    with pytest.raises(InvalidCurveError, match="'x_new'"):
        curvecast.forecast([1, 2], [1, 2], [5, 4])
    with pytest.raises(InvalidParameterError, match="'quantiles'"):
        curvecast.forecast([1, 2], [1, 2], [5], quantiles=(0.5, 1.5))
    with pytest.raises(UnknownMethodError, match="last_value"):
        curvecast.forecast([1, 2], [1, 2], [5], method="nope")
    with pytest.raises(InvalidParameterError, match="'rng'"):
        curvecast.forecast([1, 2], [1, 2], [5], rng="seed")  # type: ignore[arg-type]


def test_register_a_custom_forecaster() -> None:
    from curvecast.forecast.last_value import LastValueForecaster

    curvecast.register("mine", LastValueForecaster)
    try:
        assert "mine" in curvecast.available_methods()
        with pytest.raises(ValueError, match="already registered"):
            curvecast.register("mine", LastValueForecaster)
        f = curvecast.forecast([1, 2], [0.1, 0.2], [3], method="mine")
        assert f.method == "last_value"
    finally:
        curvecast.unregister("mine")
    assert "mine" not in curvecast.available_methods()
    with pytest.raises(ValueError, match="reserved"):
        curvecast.register("auto", LastValueForecaster)


def test_instances_are_built_once_and_reused() -> None:
    assert curvecast.get_forecaster("last_value") is curvecast.get_forecaster("last_value")
