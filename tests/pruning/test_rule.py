from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curvecast import Curve, InvalidParameterError, UnknownMethodError
from curvecast.pruning import ForecastRule, Verdict
from curvecast.pruning._rule import CONFIDENT_STOP_PROBABILITY, DEFAULT_REGRET_RATE

RISING = Curve([1, 2, 3, 4, 5, 6], [0.30, 0.31, 0.31, 0.32, 0.32, 0.33], bounds=(0, 1))
_EPOCHS = np.arange(1.0, 31.0)
#: Five completed runs of the search, each well ahead of RISING at every step.
AHEAD = [Curve(_EPOCHS, a - 0.2 / _EPOCHS, bounds=(0, 1)) for a in (0.6, 0.7, 0.75, 0.8, 0.9)]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"threshold": 0.0}, "threshold"),
        ({"threshold": 1.0}, "threshold"),
        ({"threshold": True}, "threshold"),
        ({"min_points": 0}, "min_points"),
        ({"warmup_fraction": -0.1}, "warmup_fraction"),
        ({"warmup_fraction": 1.0}, "warmup_fraction"),
        ({"diverge_above": math.inf}, "diverge_above"),
        ({"regret_rate": 0.0}, "regret_rate"),
        ({"regret_rate": math.nan}, "regret_rate"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        ForecastRule(**kwargs)  # type: ignore[arg-type]
    assert f"The {name!r} parameter of ForecastRule must be" in str(info.value)


def test_unknown_method_fails_at_construction() -> None:
    with pytest.raises(UnknownMethodError):
        ForecastRule(method="crystal_ball")


def test_hopeless_run_is_stopped_with_evidence() -> None:
    v = ForecastRule(method="last_value").decide(RISING, horizon=30, incumbent=0.9, context=AHEAD)
    assert v.decision == "stop" and v.reason == "hopeless"
    assert v.prob_better is not None and v.prob_better < 0.05
    assert set(v.final_quantiles) == {0.05, 0.25, 0.5, 0.75, 0.95}
    assert v.horizon == 30 and v.incumbent == 0.9 and v.method == "last_value"
    assert "P(final beats 0.9)" in v.explain()


def test_promising_run_continues() -> None:
    v = ForecastRule(method="last_value").decide(RISING, horizon=30, incumbent=0.2)
    assert v.decision == "continue" and v.reason == "promising" and v.prob_better > 0.5  # type: ignore[operator]


@pytest.mark.parametrize("bad", [math.nan, math.inf, 1e18])
def test_divergence_stops_at_once_even_in_warmup(bad: float) -> None:
    c = Curve([1, 2], [0.5, bad], "minimize")
    v = ForecastRule().decide(c, horizon=None, incumbent=None)
    assert (v.decision, v.reason) == ("stop", "diverged")


def test_diverge_above_marks_an_exploding_loss() -> None:
    c = Curve([1, 2, 3], [2.3, 2.1, 40.0], "minimize")
    assert (
        ForecastRule(diverge_above=20.0).decide(c, horizon=10, incumbent=1.0).reason == "diverged"
    )
    assert ForecastRule().decide(c, horizon=10, incumbent=1.0).reason != "diverged"


@pytest.mark.parametrize(
    ("horizon", "incumbent", "reason"),
    [
        (None, 0.9, "no_horizon"),
        (200, 0.9, "warmup"),
        (30, None, "no_incumbent"),
        (6, 0.9, "finished"),
    ],
)
def test_no_forecast_stop_without_the_facts(
    horizon: float | None, incumbent: float | None, reason: str
) -> None:
    rule = ForecastRule(method="last_value", warmup_fraction=0.1)
    v = rule.decide(RISING, horizon=horizon, incumbent=incumbent)
    assert v.decision == "continue" and v.reason == reason


def test_verdict_round_trips_through_json() -> None:
    import json

    v = ForecastRule(method="last_value").decide(RISING, horizon=30, incumbent=0.9)
    again = Verdict.from_dict(json.loads(json.dumps(v.to_dict())))
    assert again == v


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 20),
    min_points=st.integers(1, 10),
    warmup=st.floats(0, 0.9),
    incumbent=st.floats(0, 1),
)
def test_never_a_forecast_stop_before_the_warmup(
    n: int, min_points: int, warmup: float, incumbent: float
) -> None:
    x = np.arange(1, n + 1, dtype=float)
    c = Curve(x, np.linspace(0.1, 0.2, n), bounds=(0, 1))
    rule = ForecastRule(method="last_value", min_points=min_points, warmup_fraction=warmup)
    v = rule.decide(c, horizon=40.0, incumbent=incumbent)
    if n < min_points or x[-1] < warmup * 40:
        assert v.decision == "continue" and v.reason == "warmup"


def test_check_points_grow_geometrically() -> None:
    rule = ForecastRule(min_points=3, check_growth=1.2, method="last_value")
    points = [n for n in range(1, 60) if rule.is_check_point(n)]
    assert points[:6] == [3, 4, 5, 6, 8, 10]
    assert len(points) < 20
    every = ForecastRule(min_points=2, check_growth=1.0, method="last_value")
    assert [n for n in range(1, 8) if every.is_check_point(n)] == [2, 3, 4, 5, 6, 7]


def test_no_forecast_between_check_points() -> None:
    rule = ForecastRule(min_points=3, check_growth=2.0, method="last_value")
    c = Curve(np.arange(1.0, 6.0), [0.3] * 5, bounds=(0, 1))  # 5 points: checks at 3, 6, 12, ...
    v = rule.decide(c, horizon=40, incumbent=0.9)
    assert (v.decision, v.reason) == ("continue", "between_checks")
    assert rule.decide(c.truncate(3), horizon=20, incumbent=0.9, context=AHEAD).reason == "hopeless"
    bad = Curve(np.arange(1.0, 6.0), [0.3, 0.3, 0.3, 0.3, float("nan")])
    assert rule.decide(bad, horizon=40, incumbent=0.9).reason == "diverged"


def test_default_schedule_judges_a_50_epoch_run_16_times() -> None:
    """The figure the docstring quotes: from the first report on, at 1, 2, ..., 6, 8, 10, ..."""
    rule = ForecastRule(method="last_value")
    assert sum(rule.is_check_point(n) for n in range(1, 51)) == 16


def test_a_single_point_is_judged_only_with_enough_context() -> None:
    from curvecast.pruning._rule import MIN_CONTEXT_SINGLE_POINT

    rule = ForecastRule(method="last_value")
    one = Curve([1.0], [0.30], bounds=(0, 1))
    others = [Curve([1.0, 2.0, 3.0], [0.5, 0.7, 0.9], bounds=(0, 1))] * (
        MIN_CONTEXT_SINGLE_POINT - 1
    )
    assert rule.decide(one, horizon=30, incumbent=0.9, context=others).reason == "warmup"
    v = rule.decide(one, horizon=30, incumbent=0.9, context=[*others, others[0]])
    assert v.reason in ("hopeless", "promising")


def test_without_a_spread_the_default_rule_judges_by_chance_alone() -> None:
    v = ForecastRule(method="last_value").decide(RISING, horizon=30, incumbent=0.9, context=AHEAD)
    assert v.decision == "stop" and v.allowance is None and v.prob_better < 0.1  # type: ignore[operator]
    close = ForecastRule(method="last_value").decide(
        RISING, horizon=30, incumbent=0.34, context=AHEAD
    )
    assert close.decision == "continue"


def test_the_default_rule_weighs_the_expected_gain_against_the_compute_left() -> None:
    rule = ForecastRule(method="last_value")
    early = rule.decide(RISING, horizon=30, incumbent=0.9, spread=0.2, context=AHEAD)
    assert early.decision == "stop" and early.expected_gain is not None
    assert early.allowance == pytest.approx(DEFAULT_REGRET_RATE * 0.2 * 24 / 30)
    assert early.expected_gain <= early.allowance
    # the same run near its end has little compute left to save: its allowance shrinks
    late = rule.decide(RISING, horizon=6.5, incumbent=0.34, spread=0.2, context=AHEAD)
    assert late.allowance is not None and late.allowance < early.allowance
    # a run with a 20% chance or more of beating the incumbent is never stopped, whatever the
    # rate: early forecasts are too sure to trust a small expected gain alone
    bold = ForecastRule(method="last_value", regret_rate=1e6)
    median = early.final_quantiles[0.5]
    for incumbent in np.linspace(median - 0.05, median + 0.05, 11):
        v = bold.decide(RISING, horizon=30, incumbent=float(incumbent), spread=0.2, context=AHEAD)
        assert v.prob_better is not None
        assert v.should_stop == (v.prob_better < 0.2), (incumbent, v.prob_better)


def test_a_stop_needs_the_run_behind_the_median_of_completed_runs_at_its_step() -> None:
    """The same-step comparison: where the forecast alone says stop, the run still goes on
    while fewer than 5 completed runs reach its step, or while it is not behind their median
    there; a run behind it is stopped, and the verdict says against what."""
    rule = ForecastRule(method="last_value")
    judge = {"horizon": 30, "incumbent": 0.9, "spread": 0.2}
    alone = ForecastRule(method="last_value", same_step=False).decide(RISING, **judge)
    assert alone.decision == "stop"  # the forecast alone would stop it ...
    few = rule.decide(RISING, context=AHEAD[:4], **judge)
    assert few.decision == "continue" and few.same_step is None  # ... not on 4 runs
    behind = [Curve(_EPOCHS, np.full(30, v), bounds=(0, 1)) for v in (0.1, 0.2, 0.25, 0.3, 0.5)]
    # ahead of the median (0.25), a run is stopped only when its chance is below 1%: here it
    # has none of reaching 0.9 ...
    hopeless = rule.decide(RISING, context=behind, **judge)
    assert hopeless.decision == "stop" and hopeless.prob_better < CONFIDENT_STOP_PROBABILITY  # type: ignore[operator]
    assert hopeless.same_step == pytest.approx(0.25) and hopeless.behind is False
    assert "although ahead of the median of completed runs" in hopeless.explain()
    # ... and against incumbents it may reach, a run the rule alone would stop goes on
    bold = ForecastRule(method="last_value", regret_rate=1e6)
    center = hopeless.final_quantiles[0.5]
    went_on = 0
    for incumbent in np.linspace(center - 0.05, center + 0.05, 11):
        v = bold.decide(RISING, **{**judge, "incumbent": float(incumbent)}, context=behind)
        assert v.prob_better is not None and v.behind is False
        assert v.should_stop == (v.prob_better < CONFIDENT_STOP_PROBABILITY), incumbent
        if v.decision == "continue" and v.prob_better < 0.2:
            went_on += 1
            assert "not behind the median of completed runs" in v.explain()
    assert went_on > 0
    stopped = rule.decide(RISING, context=AHEAD, **judge)
    assert stopped.decision == "stop" and stopped.same_step == pytest.approx(0.75 - 0.2 / 6)
    assert "behind the median of completed runs at this step" in stopped.explain()
    assert stopped.behind is True
    assert Verdict.from_dict(stopped.to_dict()) == stopped
    assert Verdict.from_dict(hopeless.to_dict()) == hopeless


def test_one_report_ahead_of_the_median_never_stops_a_run() -> None:
    """A run seen once is forecast from how a few completed runs went on from the same step,
    too few to vouch for a 1% chance: ahead of the median only its own curve can stop it."""
    rule = ForecastRule(method="last_value")
    behind = [Curve(_EPOCHS, np.full(30, v), bounds=(0, 1)) for v in (0.1, 0.2, 0.25, 0.3, 0.5)]
    judge = {"horizon": 30, "incumbent": 0.99, "spread": 0.2, "context": behind}
    one = rule.decide(RISING.truncate(1), **judge)
    assert one.behind is False and one.prob_better is not None
    assert one.prob_better < CONFIDENT_STOP_PROBABILITY and one.expected_gain is not None
    assert one.allowance is not None and one.expected_gain <= one.allowance
    assert one.decision == "continue"  # the forecast alone would stop it
    two = rule.decide(RISING.truncate(2), **judge)
    assert two.behind is False and two.decision == "stop"


def test_runs_of_other_budgets_are_compared_at_the_same_stage() -> None:
    """In a search that mixes budgets, a completed run of twice the budget is read at the same
    fraction of its run (at epoch 12 of 60 for a run at epoch 6 of 30), not at the same step."""
    long = [Curve(2 * _EPOCHS, c.y, bounds=(0, 1)) for c in AHEAD]  # 60 epochs each
    v = ForecastRule(method="last_value").decide(
        RISING, horizon=30, incumbent=0.9, spread=0.2, context=[*AHEAD, *long]
    )
    assert v.same_step == pytest.approx(0.75 - 0.2 / 6)


def test_step_cost_makes_costly_late_reports_weigh_more() -> None:
    """Anchors that retrain from scratch: most of the compute is still ahead at the 4th of 8."""
    c = Curve([16.0, 32.0, 64.0, 128.0], [0.30, 0.31, 0.31, 0.32], bounds=(0, 1))
    per_report = ForecastRule(method="last_value").decide(
        c, horizon=2048, incumbent=0.9, spread=0.2
    )
    by_size = ForecastRule(method="last_value", step_cost=lambda s: s).decide(
        c, horizon=2048, incumbent=0.9, spread=0.2
    )
    assert per_report.allowance is not None and by_size.allowance is not None
    assert by_size.allowance > per_report.allowance  # 15/16 of the compute left, not 4/8


def test_an_explicit_threshold_is_domhans_rule() -> None:
    v = ForecastRule(0.05, method="last_value").decide(RISING, horizon=30, incumbent=0.9)
    assert v.decision == "stop" and v.allowance is None and v.prob_better < 0.05  # type: ignore[operator]
    assert Verdict.from_dict(v.to_dict()) == v


def test_without_an_incumbent_the_forecast_is_recorded_only_when_asked() -> None:
    rule = ForecastRule(method="last_value")
    v = rule.decide(RISING, horizon=30, incumbent=None, forecast_without_incumbent=True)
    assert v.decision == "continue" and v.reason == "no_incumbent"
    assert v.prob_better is None and v.final_quantiles[0.5] == pytest.approx(0.33, abs=0.05)
    bare = rule.decide(RISING, horizon=30, incumbent=None)
    assert bare.reason == "no_incumbent" and not bare.final_quantiles


def _running(q25: float, q75: float, decision: str = "continue") -> Verdict:
    quantiles = {0.05: q25 - 0.1, 0.25: q25, 0.5: (q25 + q75) / 2, 0.75: q75, 0.95: q75 + 0.1}
    return Verdict(decision, "promising", 3.0, 10.0, 0.5, 0.4, quantiles, "last_value")


def test_provisional_incumbent_takes_a_running_trials_pessimistic_forecast() -> None:
    from curvecast.pruning._rule import provisional_incumbent

    running = [("trial a", _running(0.70, 0.80)), ("trial b", _running(0.60, 0.90))]
    # maximising: the best lower quartile (0.70, trial a's) beats a completed 0.65, not a
    # completed 0.75
    assert provisional_incumbent(0.65, running, "maximize") == (0.70, "trial a")
    assert provisional_incumbent(0.75, running, "maximize") == (0.75, None)
    assert provisional_incumbent(None, running, "maximize") == (0.70, "trial a")
    # minimising: the best upper quartile (0.80) is the value a running trial will likely beat
    assert provisional_incumbent(0.85, running, "minimize") == (0.80, "trial a")
    assert provisional_incumbent(0.5, running, "minimize") == (0.5, None)
    assert provisional_incumbent(0.95, running[::-1], "minimize") == (0.80, "trial a")
    # stopped or paused trials and verdicts without quantiles never count
    stopped = [("s", _running(0.95, 0.99, "stop")), ("p", _running(0.95, 0.99, "pause"))]
    bare = [("w", Verdict("continue", "warmup", 1.0, 10.0, None))]
    assert provisional_incumbent(0.5, [*stopped, *bare], "maximize") == (0.5, None)
    assert provisional_incumbent(None, bare, "maximize") == (None, None)


def test_a_verdict_says_where_its_incumbent_came_from() -> None:
    v = Verdict("stop", "hopeless", 3.0, 10.0, 0.72, 0.01, {0.5: 0.4}, "pfn", "running trial 7")
    assert "P(final beats 0.72, the forecast of running trial 7) = 0.010" in v.explain()
    assert Verdict.from_dict(v.to_dict()) == v
    plain = Verdict("stop", "hopeless", 3.0, 10.0, 0.72, 0.01, {0.5: 0.4}, "pfn")
    assert "P(final beats 0.72) = 0.010" in plain.explain()
    judged = ForecastRule(method="last_value").decide(
        RISING, horizon=30, incumbent=0.9, incumbent_source="running trial 7", context=AHEAD
    )
    assert judged.reason == "hopeless" and judged.incumbent_source == "running trial 7"


# -- hardening (issues 16 and 17) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"seed": -1}, "seed"),
        ({"seed": True}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"seed": "a"}, "seed"),
        ({"seed": [1]}, "seed"),
        ({"check_growth": 10**400}, "check_growth"),
        ({"diverge_above": 10**400}, "diverge_above"),
        ({"diverge_above": -(10**5000)}, "diverge_above"),
        ({"method": ["auto"]}, "method"),
    ],
)
def test_seeds_and_huge_ints_are_refused_in_the_house_voice(
    kwargs: dict[str, object], name: str
) -> None:
    with pytest.raises(InvalidParameterError) as info:
        ForecastRule(**kwargs)  # type: ignore[arg-type]
    assert f"The {name!r} parameter of ForecastRule must be" in str(info.value)


def test_explain_gives_the_interval_not_only_the_median() -> None:
    v = ForecastRule(method="last_value").decide(RISING, horizon=30, incumbent=0.9)
    q = v.final_quantiles
    text = v.explain()
    assert f"median {q[0.5]:.4g}" in text
    assert f"90% interval [{q[0.05]:.4g}, {q[0.95]:.4g}]" in text


@pytest.mark.parametrize(
    ("verdict", "phrase"),
    [
        (Verdict("continue", "warmup", 1.0, 30.0), "too little of the curve is seen yet"),
        (Verdict("continue", "no_horizon", 4.0), "the final step is not known yet"),
        (Verdict("continue", "no_incumbent", 4.0, 30.0), "there is no result to beat yet"),
        (Verdict("continue", "finished", 30.0, 30.0), "reached its final step"),
        (Verdict("continue", "out_of_bounds", 2.0), "outside the bounds"),
    ],
)
def test_reasons_read_as_sentences(verdict: Verdict, phrase: str) -> None:
    text = verdict.explain()
    assert text.startswith(f"continued at step {verdict.step:g}: ") and phrase in text
    assert "_" not in text.split(": ", 1)[1].split("(")[0]  # no bare identifiers as the reason


def test_no_incumbent_with_a_forecast_explains_it() -> None:
    v = ForecastRule(method="last_value").decide(
        RISING, horizon=30, incumbent=None, forecast_without_incumbent=True
    )
    assert v.reason == "no_incumbent" and "90% interval [" in v.explain()


def test_shadow_verdicts_say_would_have() -> None:
    v = Verdict("stop", "hopeless", 3.0, 10.0, 0.9, 0.01, {0.5: 0.4}, "pfn", shadow=True)
    assert v.explain().startswith("would have stopped at step 3 (shadow mode): P(final beats 0.9)")
    kept = Verdict("continue", "promising", 3.0, 10.0, 0.9, 0.5, {0.5: 0.9}, "pfn", shadow=True)
    assert kept.explain().startswith("continued at step 3: ")  # that is what happened
    assert v.to_dict()["shadow"] is True and Verdict.from_dict(v.to_dict()) == v
    assert Verdict.from_dict({**v.to_dict(), "shadow": None}).shadow is False


@pytest.mark.parametrize(
    "record",
    [
        "stop",
        {"decision": "explode", "reason": "hopeless", "step": 1},
        {"decision": "stop", "reason": "because", "step": 1},
        {"decision": "stop", "reason": "hopeless", "step": "three"},
        {"decision": "stop", "reason": "hopeless", "step": 1, "final_quantiles": [1, 2]},
        {"decision": "stop", "reason": "hopeless", "step": 1, "final_quantiles": {"0.5": "x"}},
        {"decision": "stop", "reason": "hopeless", "step": 1, "incumbent": [0.5]},
        {"decision": "stop", "reason": "hopeless", "step": 1, "method": 3},
    ],
)
def test_a_malformed_record_is_a_value_error(record: object) -> None:
    with pytest.raises(ValueError, match=r"verdict record|must be a number|final_quantiles"):
        Verdict.from_dict(record)  # type: ignore[arg-type]


def test_a_horizon_a_million_times_away_is_warmup_not_a_forecast() -> None:
    rule = ForecastRule(method="last_value")
    far = rule.decide(RISING, horizon=1e308, incumbent=0.9)
    assert (far.decision, far.reason) == ("continue", "warmup") and not far.final_quantiles
    near = rule.decide(RISING, horizon=6e6, incumbent=0.9)  # exactly a million times step 6
    assert near.reason in ("hopeless", "promising") and near.final_quantiles  # forecast made


def test_the_context_is_redrawn_as_the_search_grows_by_a_quarter() -> None:
    from curvecast.pruning._rule import context_due

    drawn, at = 0, []
    for n in range(1, 1001):
        if context_due(drawn, n):
            drawn = n
            at.append(n)
    assert at[:8] == [1, 2, 3, 4, 5, 7, 9, 12]
    assert len(at) < 35  # about 30 draws for 1,000 completed trials, not 1,000
    assert not context_due(12, 12) and not context_due(12, 14)
