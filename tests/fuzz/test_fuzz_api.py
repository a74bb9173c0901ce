"""Fuzz the API: ``curvecast.forecast`` and ``forecast_curve`` with every quick method.

Any exception other than a :class:`curvecast.CurvecastError` fails. The sane domain (see
``_strategies.sane_request``) must never raise; hostile values must be refused at the door.
Failures found inside the forecasters are in ``test_fuzz_known.py`` as non-strict xfails.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import curvecast
from curvecast import Curve, CurvecastError
from curvecast.forecast import available_methods, forecast_curve

from ._strategies import CI, LONG, QUICK_METHODS, hostile_case, sane_request

_METHODS = st.sampled_from(QUICK_METHODS)
_SEEDS = st.one_of(st.none(), st.integers(0, 2**64), st.sampled_from([-1, True, 1.5, "3"]))
_LEVELS = st.one_of(
    st.just((0.05, 0.25, 0.5, 0.75, 0.95)),
    st.lists(st.floats(0.0, 1.0), min_size=0, max_size=4),
    st.sampled_from([[0.5], [0.9, 0.1], [0.0], [True], "0.5", None]),
)


def _check(req: dict[str, Any], method: str, rng: Any, levels: Any, must_refuse: bool) -> None:
    try:
        f = curvecast.forecast(
            req["x"],
            req["y"],
            req["x_new"],
            direction=req.get("direction", "maximize"),
            bounds=req.get("bounds"),
            method=method,
            quantiles=levels,
            rng=rng,
        )
    except CurvecastError:
        return
    assert not must_refuse, f"accepted though not a number: {req}"
    assert f.quantiles.shape == (len(f.x_new), len(f.levels))
    json.dumps(f.to_dict(), allow_nan=False)  # always strict JSON
    threshold = req.get("threshold")
    if isinstance(threshold, float) and np.isfinite(threshold):
        assert 0.0 <= f.prob_better(threshold) <= 1.0


@CI
@given(req=sane_request(), method=_METHODS, seed=st.integers(0, 2**32))
def test_sane_requests_never_raise(req: dict[str, Any], method: str, seed: int) -> None:
    f = curvecast.forecast(
        req["x"],
        req["y"],
        req["x_new"],
        direction=req["direction"],
        bounds=req["bounds"],
        method=method,
        rng=seed,
    )
    json.dumps(f.to_dict(), allow_nan=False)


@CI
@given(case=hostile_case(), method=_METHODS, rng=_SEEDS, levels=_LEVELS)
def test_hostile_requests_are_refused_with_curvecast_errors(
    case: tuple[dict[str, Any], bool], method: str, rng: Any, levels: Any
) -> None:
    _check(*case[:1], method, rng, levels, case[1])


@CI
@given(req=sane_request(), method=st.sampled_from(available_methods()), data=st.data())
def test_forecast_curve_with_every_method_name(
    req: dict[str, Any], method: str, data: st.DataObject
) -> None:
    if method == "domhan_mcmc":  # seconds per call: two points keep it quick enough
        req = {**req, "x": req["x"][:2], "y": req["y"][:2]}
    try:
        curve = Curve(req["x"], req["y"], req["direction"], req["bounds"])
    except CurvecastError:
        return
    others = data.draw(st.lists(sane_request(), max_size=2))
    context = []
    for o in others:
        try:
            context.append(Curve(o["x"], o["y"], req["direction"], o["bounds"]))
        except CurvecastError:
            pass
    f = forecast_curve(curve, req["x_new"], method=method, rng=0, context=context)
    json.dumps(f.to_dict(), allow_nan=False)


@pytest.mark.fuzz_long
@LONG
@given(case=hostile_case(), method=_METHODS, rng=_SEEDS, levels=_LEVELS)
def test_api_long(case: tuple[dict[str, Any], bool], method: str, rng: Any, levels: Any) -> None:
    _check(*case[:1], method, rng, levels, case[1])
