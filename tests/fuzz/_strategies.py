"""Strategies and settings shared by the fuzz suite (issue 17).

Two budgets: ``CI`` (derandomised, a few hundred examples in all, a per-example deadline; runs in
``.ci/run``) and ``LONG`` (``pytest -m fuzz_long tests/fuzz``; ``CURVECAST_FUZZ_EXAMPLES``
examples per test, 5,000 by default, random each run).
"""

from __future__ import annotations

import json
import math
import os
from datetime import timedelta
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]

#: CI budget: repeatable (derandomize) and bounded (max_examples x deadline per test).
CI = settings(
    max_examples=100,
    deadline=timedelta(seconds=10),  # a loaded 2-core runner: generous, but a hang still fails
    derandomize=True,
    database=None,
    suppress_health_check=_SLOW_OK,
)
#: The long run behind the ``fuzz_long`` marker.
LONG = settings(
    max_examples=int(os.environ.get("CURVECAST_FUZZ_EXAMPLES", "5000")),
    deadline=None,
    database=None,
    suppress_health_check=_SLOW_OK,
)
#: Known failures (xfail): stop at the first counterexample, do not spend minutes shrinking it.
KNOWN = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=_SLOW_OK,
)

#: The forecasting methods quick enough to fuzz (domhan_mcmc takes seconds per call).
QUICK_METHODS = ["last_value", "parametric", "pfn", "auto", "pow4", "mmf4", "lcpfn"]

#: Values a user might hand over where a number belongs.
HOSTILE: list[Any] = [
    True,
    False,
    "0.2",
    "",
    None,
    [],
    {},
    [0.5],
    10**400,
    -(10**400),
    2**63,
    1e308,
    -1e308,
    5e-324,
    -0.0,
    math.nan,
    math.inf,
    -math.inf,
]

hostile_scalar = st.one_of(
    st.sampled_from(HOSTILE),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
    st.text(max_size=3),
)


@st.composite
def sane_request(draw: st.DrawFn, backward: bool = False) -> dict[str, Any]:
    """A valid request in the domain every method must handle: up to 12 points, x in
    [0, 1e7], |y| <= 1e8, query points from the first x to 1,000 times the last x (from 0 with
    ``backward``: extrapolation before the first point is a known failure, see
    test_fuzz_known.py)."""
    n = draw(st.integers(1, 12))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    start = draw(st.sampled_from([0.0, 1.0, 10.0])) * scale
    steps = np.exp(draw(st.lists(st.floats(-2, 2), min_size=n, max_size=n)))
    x = np.unique(start + np.cumsum(steps) * scale)
    n = x.size
    direction = draw(st.sampled_from(["maximize", "minimize"]))
    if draw(st.booleans()):
        y = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
        bounds: list[float | None] | None = [0.0, 1.0]
    else:
        mag = draw(st.sampled_from([1e-3, 1.0, 1e3, 1e6]))
        y = [mag * v for v in draw(st.lists(st.floats(-10, 10), min_size=n, max_size=n))]
        bounds = draw(st.sampled_from([None, [min(y) - 1.0, None], [None, max(y) + 1.0]]))
    if draw(st.integers(0, 9)) == 0:  # a diverged run now and then
        y[draw(st.integers(0, n - 1))] = draw(st.sampled_from([math.nan, math.inf, 1e15]))
    far = float(x[-1]) * draw(st.sampled_from([1.0, 2.0, 10.0, 1000.0])) + scale
    m = draw(st.integers(1, 6))
    low = 0.0 if backward else float(x[0])
    x_new = sorted({draw(st.floats(low, far)) for _ in range(m)})
    return {"x": x.tolist(), "y": y, "x_new": x_new, "direction": direction, "bounds": bounds}


def not_a_number(value: Any) -> bool:
    """Whether curvecast must refuse ``value`` where a number belongs (None, NaN and inf are
    numbers there: a missing or diverged value, or an open bound)."""
    if isinstance(value, bool | str | list | dict):
        return True
    return isinstance(value, int) and abs(value) > 1.7976931348623157e308


@st.composite
def hostile_case(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """A sane request with one field, or one entry of a list, replaced by something hostile;
    and whether the door must refuse it (see :func:`not_a_number`)."""
    req = draw(sane_request())
    field = draw(st.sampled_from(["x", "y", "x_new", "bounds", "direction", "threshold"]))
    value = draw(hostile_scalar)
    if field in ("x", "y", "x_new") and draw(st.booleans()):
        values = list(req[field])
        values[draw(st.integers(0, len(values) - 1))] = value
        req[field] = values
        must_refuse = not_a_number(value)
    elif field == "bounds" and draw(st.booleans()):
        req[field] = [value, None] if draw(st.booleans()) else [None, value]
        must_refuse = not_a_number(value)
    else:  # the whole field
        req[field] = value
        if field == "direction":
            must_refuse = True
        elif field == "bounds":
            must_refuse = value is not None
        elif field == "threshold":
            must_refuse = False  # the API takes no threshold
        else:  # a scalar number or a one-point list may pass as a one-point axis
            must_refuse = value == [] or (not_a_number(value) and not isinstance(value, list))
    return req, must_refuse


def hostile_request() -> st.SearchStrategy[dict[str, Any]]:
    """The request of :func:`hostile_case`."""
    return hostile_case().map(lambda case: case[0])


json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(), st.integers(), st.text(max_size=5)),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=3)
    ),
    max_leaves=8,
)


def dumps(obj: Any) -> bytes:
    """JSON the way a careless writer makes it: NaN and Infinity allowed, huge ints kept."""
    return json.dumps(obj, allow_nan=True).encode()


@st.composite
def jsonl_line(draw: st.DrawFn) -> bytes:
    """One line of a JSON Lines file as a user or a broken tool might write it."""
    kind = draw(st.integers(0, 7))
    if kind <= 2:
        req = draw(sane_request())
        if draw(st.booleans()):
            req["id"] = draw(st.one_of(st.integers(), st.text(max_size=5), st.just(math.nan)))
        if draw(st.booleans()):
            req["threshold"] = draw(st.floats(-1, 2))
        return dumps(req)
    if kind == 3:
        return dumps(draw(hostile_request()))
    if kind == 4:
        return dumps(draw(json_value))
    if kind == 5:
        return draw(st.binary(max_size=40)).replace(b"\n", b" ")
    if kind == 6:  # an unknown or extra field, or a field of the wrong type
        req = draw(sane_request())
        key = draw(st.sampled_from(["meta", "id", "xnew", "x", "y", "x_new", "bounds"]))
        req[key] = draw(json_value)
        return dumps(req)
    return draw(
        st.sampled_from(
            [
                b"",
                b"   ",
                b"\r",
                b"[" * 5000 + b"]" * 5000,
                b'{"x": [1], "y": [' + b"9" * 5000 + b'], "x_new": [2]}',
                b'{"id": NaN, "x": [1], "y": [0.5], "x_new": [2]}',
                b'{"id": ' + b"[" * 3000 + b"]" * 3000 + b', "x": [1], "y": [1], "x_new": [2]}',
                b'\xef\xbb\xbf{"x": [1], "y": [0.5], "x_new": [2]}',
                b'{"x": [1], "y": [0.5], "x_new": [2], "bounds": [0, 1e999]}',
            ]
        )
    )
