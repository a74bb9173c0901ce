from __future__ import annotations

import math

import numpy as np
import pytest

from curvecast import Curve, InvalidCurveError
from curvecast.curves import DIVERGENCE_MAGNITUDE


def test_valid_curve_is_immutable_copy() -> None:
    x, y = np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.2, 0.3])
    c = Curve(x, y, "maximize", (0, 1))
    x[0] = 99.0
    assert c.x[0] == 1.0
    with pytest.raises(ValueError):
        c.y[0] = 5.0
    with pytest.raises(AttributeError):
        c.direction = "minimize"  # type: ignore[misc]
    assert c.bounds == (0.0, 1.0)


@pytest.mark.parametrize(
    ("x", "y", "field"),
    [
        ([1, 2, 2], [1, 2, 3], "strictly increasing"),
        ([3, 2, 1], [1, 2, 3], "strictly increasing"),
        ([1, float("nan")], [1, 2], "finite"),
        ([-1, 2], [1, 2], ">= 0"),
        ([1, 2], [1, 2, 3], "same length"),
        ([], [], "at least one"),
        ([1, 2], [1, "a"], "numbers only (entry 1 is 'a', a string"),
        ("123", [1, 2, 3], "not a string"),
        ([[1, 2]], [[1, 2]], "one-dimensional"),
    ],
)
def test_bad_axis_or_values_name_the_problem(x: object, y: object, field: str) -> None:
    with pytest.raises(InvalidCurveError, match=None) as info:
        Curve(x, y)  # type: ignore[arg-type]
    assert field in str(info.value)


@pytest.mark.parametrize(
    ("bounds", "msg"),
    [((1, 0), "lo < hi"), ((0,), "exactly 2"), ("01", "pair"), ((0, "a"), "number or null")],
)
def test_bad_bounds(bounds: object, msg: str) -> None:
    with pytest.raises(InvalidCurveError) as info:
        Curve([1, 2], [0.1, 0.2], bounds=bounds)  # type: ignore[arg-type]
    assert msg in str(info.value)


def test_open_bounds_become_infinities() -> None:
    c = Curve([1], [3.0], "minimize", (0, None))
    assert c.bounds == (0.0, math.inf)
    assert c.worst == math.inf
    assert Curve([1], [0.5], "maximize", (0, 1)).worst == 0.0


def test_bad_direction() -> None:
    with pytest.raises(InvalidCurveError, match="maximize"):
        Curve([1], [1], direction="up")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 1e18])
def test_divergence_policy_keeps_prefix(bad: float) -> None:
    c = Curve([1, 2, 3, 4], [2.0, 1.5, bad, 1.0], "minimize")
    assert c.diverged
    assert c.n_observed == 2
    np.testing.assert_array_equal(c.observed_y, [2.0, 1.5])
    np.testing.assert_array_equal(c.observed_x, [1.0, 2.0])


def test_values_just_below_divergence_magnitude_are_data() -> None:
    c = Curve([1, 2], [DIVERGENCE_MAGNITUDE, 1.0], "minimize")
    assert not c.diverged and c.n_observed == 2


def test_truncate_and_to_dict() -> None:
    c = Curve([1, 2, 3], [0.1, float("nan"), 0.3], "maximize", (0, None), meta={"k": 1})
    t = c.truncate(1)
    assert t.x.tolist() == [1.0] and t.meta == {"k": 1}
    d = c.to_dict()
    assert d["y"] == [0.1, None, 0.3] and d["bounds"] == [0.0, None]
    with pytest.raises(InvalidCurveError):
        c.truncate(0)
