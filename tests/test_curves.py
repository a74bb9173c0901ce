from __future__ import annotations

import math

import numpy as np
import pytest

from curvecast import Curve, InvalidCurveError
from curvecast.curves import DIVERGENCE_MAGNITUDE, check_queries


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


# -- strict numbers at the door (issues 16 and 17) -------------------------------------------


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        (
            [1, 2, 3],
            [0.1, "0.2", 0.3],
            "'y' field must hold numbers only (entry 1 is '0.2', a string",
        ),
        (
            [True, 2, 3],
            [0.1, 0.2, 0.3],
            "'x' field must hold numbers only (entry 0 is True, a bool",
        ),
        ([1, 2, 3], [0.1, np.bool_(False), 0.3], "a boolean"),
        (np.array([True, False]), [0.1, 0.2], "not booleans"),
        (
            [1, 2, 10**400],
            [0.1, 0.2, 0.3],
            "'x' field must hold numbers only (entry 2 is an integer",
        ),
        ([1, 2, 3], [0.1, 0.2, -(10**400)], "beyond the float range"),
        ([1, 2, 3], [0.1, 0.2, 10**5000], "beyond the float range"),  # past int -> str limits
        ([1, 2, 3], [0.1, 0.2, object()], "not a number"),
    ],
)
def test_only_numbers_are_numbers(x: object, y: object, expected: str) -> None:
    with pytest.raises(InvalidCurveError) as info:
        Curve(x, y)  # type: ignore[arg-type]
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        ((0, 10**400), "'bounds' field's hi must be a number or null; it is an integer"),
        ((True, 1), "'bounds' field's lo must be a number or null; it is True, a boolean"),
        (("0", 1), "a string"),
    ],
)
def test_bounds_are_numbers(bounds: object, expected: str) -> None:
    with pytest.raises(InvalidCurveError) as info:
        Curve([1, 2], [0.1, 0.2], bounds=bounds)  # type: ignore[arg-type]
    assert expected in str(info.value)


def test_numeric_arrays_and_none_are_still_accepted() -> None:
    c = Curve(np.arange(1, 4, dtype=np.int32), np.array([0.1, 0.2, 0.3], dtype=np.float32))
    assert c.x.dtype == np.float64 and c.y.tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert math.isnan(Curve([1, 2], [0.5, None]).y[1])  # None is a missing (diverged) value
    assert Curve([1, 2], [0.5, 10**20]).diverged  # a big int that float holds is data


def test_observations_outside_the_bounds_are_refused() -> None:
    with pytest.raises(InvalidCurveError, match=r"within the bounds \[0, 1\]; entry 1 is 89"):
        Curve([1, 2, 3], [0.5, 89, 90], bounds=(0, 1))
    with pytest.raises(InvalidCurveError, match=r"entry 0 is -0\.1"):
        Curve([1, 2], [-0.1, 0.5], direction="minimize", bounds=(0, None))
    # round-off on a bound is data; what comes after a divergence is not judged
    Curve([1, 2], [0.5, 1.0 + 1e-15], bounds=(0, 1))
    assert Curve([1, 2, 3], [0.5, math.nan, 89], bounds=(0, 1)).diverged


def test_check_queries_refuses_absurd_extrapolation() -> None:
    c = Curve([1, 2, 3], [0.5, 0.6, 0.65])
    assert check_queries(c, [10, 3e6]).tolist() == [10.0, 3e6]
    with pytest.raises(InvalidCurveError, match=r"'x_new' field reaches 1e\+308"):
        check_queries(c, [10, 1e308])
    with pytest.raises(InvalidCurveError, match="'x_new' field must be strictly increasing"):
        check_queries(c, [10, 5])
    assert check_queries(Curve([0], [0.5]), [1e300]).tolist() == [1e300]  # no scale to judge by
