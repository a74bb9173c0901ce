"""Fuzz the Optuna pruner and the rule behind it.

``ForecastPruner(...)`` raises only curvecast's errors for any arguments; ``should_prune`` never
raises (an exception there marks the user's trial FAIL), whatever the trial reports, whatever
the other trials' records hold; ``ForecastRule.decide`` returns a Verdict for any valid Curve.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from curvecast import Curve, CurvecastError
from curvecast.pruning import ForecastRule, Verdict

from ._strategies import CI, HOSTILE, LONG, json_value, sane_request

optuna = pytest.importorskip("optuna")
from curvecast.integrations.optuna import ATTR_PREFIX, ForecastPruner, verdicts  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.ERROR)

_ARG = st.one_of(st.sampled_from(HOSTILE), st.floats(), st.integers(-5, 50))
_KWARGS = st.fixed_dictionaries(
    {},
    optional={
        "threshold": _ARG,
        "max_resource": st.one_of(_ARG, st.just("auto")),
        "n_startup_trials": _ARG,
        "min_points": _ARG,
        "warmup_fraction": _ARG,
        "check_growth": _ARG,
        "bounds": st.one_of(st.none(), st.tuples(_ARG, _ARG), _ARG),
        "diverge_above": _ARG,
        "max_context": _ARG,
        "seed": _ARG,
        "incumbent": st.sampled_from(["forecast", "completed", "best", None]),
        "shadow": st.one_of(st.booleans(), _ARG),
        "method": st.sampled_from(["last_value", "pfn", "nope", None]),
    },
)
_VALUE = st.one_of(
    st.floats(-2, 2),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e15, 89.0, -0.5]),
)
_STEP_GAP = st.one_of(st.integers(1, 3), st.sampled_from([2**62, 2**62 + 1, 1, 10**6]))


def _pruner(kwargs: dict[str, Any]) -> ForecastPruner | None:
    try:
        return ForecastPruner(**kwargs)
    except CurvecastError:
        return None


def _play(
    kwargs: dict[str, Any],
    completed: list[float],
    reports: list[tuple[int, float]],
    record: Any,
    direction: str,
) -> None:
    pruner = _pruner(kwargs)
    if pruner is None:
        return
    study = optuna.create_study(direction=direction, pruner=pruner)
    if completed:
        done = study.ask()
        for step, value in enumerate(completed, start=1):
            done.report(value, step)
        study.tell(done, completed[-1])
    other = study.ask()  # a running trial whose record may be anything
    if record is not None:
        study._storage.set_trial_system_attr(other._trial_id, f"{ATTR_PREFIX}0000000001", record)
    trial = study.ask()
    step = 0
    for gap, value in reports:
        step += gap
        trial.report(value, step)
        assert trial.should_prune() in (True, False)
        other.report(0.5, step)
        other.should_prune()
    for t in study.get_trials(deepcopy=False):
        for v in verdicts(t):
            v.explain()


@CI
@given(
    kwargs=_KWARGS,
    completed=st.lists(st.floats(0, 1), max_size=6),
    reports=st.lists(st.tuples(_STEP_GAP, _VALUE), min_size=1, max_size=8),
    record=st.one_of(st.none(), json_value),
    direction=st.sampled_from(["maximize", "minimize"]),
)
def test_should_prune_never_raises(
    kwargs: dict[str, Any],
    completed: list[float],
    reports: list[tuple[int, float]],
    record: Any,
    direction: str,
) -> None:
    _play(kwargs, completed, reports, record, direction)


@CI
@given(
    req=sane_request(),
    horizon=st.one_of(st.none(), st.floats(0, 1e9), st.just(math.inf)),
    incumbent=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    method=st.sampled_from(["last_value", "pfn", "parametric"]),
    forecast_without_incumbent=st.booleans(),
)
def test_rule_decides_any_valid_curve(
    req: dict[str, Any],
    horizon: float | None,
    incumbent: float | None,
    method: str,
    forecast_without_incumbent: bool,
) -> None:
    curve = Curve(req["x"], req["y"], req["direction"], req["bounds"])
    v = ForecastRule(method=method).decide(
        curve,
        horizon=horizon,
        incumbent=incumbent,
        forecast_without_incumbent=forecast_without_incumbent,
    )
    assert isinstance(v, Verdict) and v.decision in ("continue", "stop")
    assert Verdict.from_dict(v.to_dict()).reason == v.reason
    v.explain()


@pytest.mark.fuzz_long
@LONG
@given(
    kwargs=_KWARGS,
    completed=st.lists(st.floats(0, 1), max_size=10),
    reports=st.lists(st.tuples(_STEP_GAP, _VALUE), min_size=1, max_size=15),
    record=st.one_of(st.none(), json_value),
    direction=st.sampled_from(["maximize", "minimize"]),
)
def test_pruner_long(
    kwargs: dict[str, Any],
    completed: list[float],
    reports: list[tuple[int, float]],
    record: Any,
    direction: str,
) -> None:
    _play(kwargs, completed, reports, record, direction)
