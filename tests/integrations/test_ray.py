"""ForecastScheduler in Ray Tune: its decisions call by call, then real searches on a local Ray
instance (2 CPUs), and the benchmark judges that drive Ray's real ASHA and ForecastScheduler."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="pip install 'curvecast[ray]'")
pytest.importorskip("ray.tune", reason="pip install 'curvecast[ray]'")

from ray import tune  # noqa: E402
from ray.tune.schedulers import TrialScheduler  # noqa: E402

from curvecast import InvalidParameterError  # noqa: E402
from curvecast.bench.replay_ray import asha_judge, forecast_scheduler_judge  # noqa: E402
from curvecast.integrations.ray import ForecastScheduler  # noqa: E402

CONTINUE, STOP, PAUSE = TrialScheduler.CONTINUE, TrialScheduler.STOP, TrialScheduler.PAUSE


# -- stand-ins for the two objects Tune hands a scheduler ---------------------------------------


@dataclass(eq=False)
class _Trial:
    trial_id: str
    status: str = "RUNNING"
    config: dict[str, Any] = field(default_factory=dict)


class _Controller:
    def __init__(self, *trials: _Trial) -> None:
        self.trials = list(trials)

    def get_trials(self) -> list[_Trial]:
        return self.trials


def _result(step: int, value: float, **extra: Any) -> dict[str, Any]:
    return {"training_iteration": step, "acc": value, **extra}


def _feed(
    s: ForecastScheduler, trial: _Trial, values: list[float], ctl: _Controller | None = None
) -> list[str]:
    """Report ``values`` at steps 1, 2, ... until the scheduler says STOP; the actions."""
    actions: list[str] = []
    for i, v in enumerate(values, start=1):
        actions.append(s.on_trial_result(ctl, trial, _result(i, v)))
        if actions[-1] == STOP:
            break
    return actions


def _complete(s: ForecastScheduler, trial_id: str, values: list[float]) -> None:
    t = _Trial(trial_id)
    s.on_trial_add(None, t)
    _feed(s, t, values)
    s.on_trial_complete(None, t, _result(len(values), values[-1]))


def _rising(ceiling: float, n: int = 20) -> list[float]:
    return [ceiling * (1 - math.exp(-0.4 * k)) for k in range(1, n + 1)]


# These tests were written for Domhan et al.'s settings; pinning them keeps the tests about the
# scheduler's mechanics rather than about the defaults of the day.
CLASSIC: dict[str, Any] = {"threshold": 0.05, "min_points": 3, "warmup_fraction": 0.1}


def _scheduler(**kwargs: Any) -> ForecastScheduler:
    kwargs = {"method": "last_value", "bounds": (0, 1), **CLASSIC, **kwargs}
    return ForecastScheduler("acc", "max", **kwargs)


# -- construction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": 0}, "threshold"),
        ({"min_points": -1}, "min_points"),
        ({"warmup_fraction": -0.1}, "warmup_fraction"),
        ({"warmup_fraction": 1.0}, "warmup_fraction"),
        ({"max_t": -5}, "max_t"),
        ({"max_t": "soon"}, "max_t"),
        ({"max_context": -1}, "max_context"),
        ({"mode": "up"}, "mode"),
        ({"metric": ""}, "metric"),
        ({"time_attr": ""}, "time_attr"),
        ({"freeze_thaw": "yes"}, "freeze_thaw"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of ForecastScheduler"):
        ForecastScheduler(**kwargs)


def test_metric_and_mode_can_come_from_tune_config() -> None:
    s = ForecastScheduler()
    assert s.set_search_properties("acc", "max")
    assert (s.metric, s.mode) == ("acc", "max")
    # given twice: refused, as Ray's own schedulers refuse it (Tune then raises)
    assert not ForecastScheduler("acc", "max").set_search_properties("loss", "min")
    with pytest.raises(InvalidParameterError, match="'mode' parameter"):
        ForecastScheduler().set_search_properties("acc", "up")


def test_a_trial_without_metric_or_mode_is_refused_clearly() -> None:
    with pytest.raises(InvalidParameterError, match=r"tune\.TuneConfig\(metric=..., mode=...\)"):
        ForecastScheduler().on_trial_add(None, _Trial("a"))


# -- decisions, result by result ------------------------------------------------------------------


def test_no_incumbent_means_no_forecast_stop_but_nan_stops_at_once() -> None:
    s = _scheduler(max_t=20)
    t = _Trial("a")
    s.on_trial_add(None, t)
    assert _feed(s, t, [0.1, 0.11, 0.12, 0.12]) == [CONTINUE] * 4
    assert s.on_trial_result(None, t, _result(5, float("nan"))) == STOP
    v = s.final_forecast("a")
    assert v is not None and v.reason == "diverged" and v.step == 5
    assert [x.reason for x in s.verdicts["a"]][:3] == ["warmup", "warmup", "no_incumbent"]


def test_exploding_value_stops_with_reason_diverged() -> None:
    s = ForecastScheduler("loss", "min", diverge_above=100.0, method="last_value", **CLASSIC)
    t = _Trial("a")
    s.on_trial_add(None, t)
    assert s.on_trial_result(None, t, {"training_iteration": 1, "loss": 2.0}) == CONTINUE
    assert s.on_trial_result(None, t, {"training_iteration": 2, "loss": 1e4}) == STOP
    assert s.verdicts["a"][-1].reason == "diverged"


def test_hopeless_trial_stops_and_the_verdict_carries_the_forecast() -> None:
    s = _scheduler()
    _complete(s, "best", _rising(0.9))
    t = _Trial("bad")
    s.on_trial_add(None, t)
    actions = _feed(s, t, _rising(0.3))
    assert actions[-1] == STOP and actions.count(STOP) == 1
    v = s.final_forecast("bad")
    assert v is not None and v.reason == "hopeless" and v.decision == "stop"
    assert v.prob_better is not None and v.prob_better < 0.05
    assert v.incumbent == pytest.approx(_rising(0.9)[-1]) and v.horizon == 20
    assert v.step == len(actions) >= 3  # never before min_points


def test_stopped_trials_never_become_the_incumbent_and_min_mode_uses_the_lowest() -> None:
    s = ForecastScheduler("loss", "min", method="last_value", bounds=(0, None), **CLASSIC)

    def run(tid: str, floor: float) -> list[str]:
        t = _Trial(tid)
        s.on_trial_add(None, t)
        out = []
        for k in range(1, 21):
            r = {"training_iteration": k, "loss": floor + 2.0 / k}
            out.append(s.on_trial_result(None, t, r))
            if out[-1] == STOP:
                break
        s.on_trial_complete(None, t, r)
        return out

    run("a", 0.5)
    run("b", 0.2)
    assert run("c", 3.0)[-1] == STOP
    assert run("d", 0.1)[-1] == CONTINUE  # better than b: completes
    v = s.final_forecast("c")
    assert v is not None and v.incumbent == pytest.approx(0.2 + 2.0 / 20)
    assert s.verdicts["d"][-1].incumbent == pytest.approx(0.2 + 2.0 / 20)


def test_fixed_max_t_ends_a_trial_there_and_counts_it_as_completed() -> None:
    s = _scheduler(max_t=5)
    t = _Trial("a")
    s.on_trial_add(None, t)
    assert _feed(s, t, [0.5, 0.6, 0.7, 0.75, 0.8]) == [CONTINUE] * 4 + [STOP]
    assert s.verdicts["a"][-1].reason == "finished" and s.final_forecast("a") is None
    s.on_trial_complete(None, t, _result(5, 0.8))
    t2 = _Trial("b")
    s.on_trial_add(None, t2)
    assert _feed(s, t2, [0.1, 0.1, 0.1])[-1] == STOP
    assert s.verdicts["b"][-1].incumbent == pytest.approx(0.8)


def test_per_trial_max_t_judges_and_ends_each_trial_at_its_own_budget() -> None:
    s = _scheduler(max_t=lambda trial: trial.config.get("epochs"))
    short = _Trial("short", config={"epochs": 4})
    s.on_trial_add(None, short)
    assert _feed(s, short, [0.5, 0.6, 0.7, 0.8]) == [CONTINUE] * 3 + [STOP]
    assert s.verdicts["short"][-1].reason == "finished"
    s.on_trial_complete(None, short, _result(4, 0.8))
    long = _Trial("long", config={"epochs": 12})
    s.on_trial_add(None, long)
    _feed(s, long, [0.1, 0.15, 0.2])
    assert {v.horizon for v in s.verdicts["long"]} == {12.0}
    unknown = _Trial("unknown")  # None: the shared horizon, the longest completed trial
    s.on_trial_add(None, unknown)
    _feed(s, unknown, [0.7, 0.75, 0.78])
    assert {v.horizon for v in s.verdicts["unknown"]} == {4.0}


def test_per_trial_max_t_with_a_bad_return_names_the_parameter() -> None:
    s = _scheduler(max_t=lambda trial: -1)
    t = _Trial("a")
    s.on_trial_add(None, t)
    with pytest.raises(InvalidParameterError, match=r"The .max_t. parameter.*trial a"):
        _feed(s, t, [0.5, 0.6])


@pytest.mark.parametrize("incumbent", ["forecast", "completed"])
def test_running_trials_forecasts_are_the_incumbent_before_any_trial_completes(
    incumbent: str,
) -> None:
    s = _scheduler(max_t=20, incumbent=incumbent)
    good, bad = _Trial("good"), _Trial("bad")
    s.on_trial_add(None, good)
    s.on_trial_add(None, bad)
    actions = []
    for step in range(1, 6):
        assert s.on_trial_result(None, good, _result(step, 0.80 + 0.01 * step)) == CONTINUE
        actions.append(s.on_trial_result(None, bad, _result(step, 0.20 + 0.01 * step)))
        if actions[-1] == STOP:
            break
    if incumbent == "forecast":
        assert actions[-1] == STOP and s.verdicts["bad"][-1].reason == "hopeless"
        assert s.verdicts["bad"][-1].incumbent_source == "running trial good"
    else:
        assert STOP not in actions and s.verdicts["bad"][-1].reason == "no_incumbent"


def test_a_failed_trial_stops_setting_the_bar_until_tune_retries_it() -> None:
    s = _scheduler(max_t=20)
    good = _Trial("good")
    s.on_trial_add(None, good)
    _feed(s, good, [0.81, 0.82, 0.83])
    s.on_trial_error(None, good)
    late = _Trial("late")
    s.on_trial_add(None, late)
    _feed(s, late, [0.2, 0.21, 0.22, 0.23])
    assert s.verdicts["late"][-1].reason == "no_incumbent"  # the failed trial is not running
    s.on_trial_add(None, good)  # Tune retries it (max_failures > 0): it runs again
    _feed(s, good, [0.81, 0.82, 0.83, 0.84])
    again = _Trial("again")
    s.on_trial_add(None, again)
    _feed(s, again, [0.2, 0.21, 0.22, 0.23])
    assert s.verdicts["again"][-1].reason == "hopeless"
    assert s.verdicts["again"][-1].incumbent == pytest.approx(0.8, abs=0.05)


def test_freeze_thaw_with_running_incumbents_does_not_swap_hopeless_trials() -> None:
    """Paused trials are judged against the same incumbent as running ones: a trial paused for
    a fresh one is not resumed at once, and two hopeless trials do not take turns."""
    s = _scheduler(max_t=60, freeze_thaw=True, check_growth=1.0)
    good, a, b = _Trial("good"), _Trial("a"), _Trial("b", status="PENDING")
    ctl = _Controller(good, a, b)
    for t in (good, a, b):
        s.on_trial_add(ctl, t)
    step = {"good": 0, "a": 0, "b": 0}
    pauses = []
    for _ in range(40):
        for t in (good, a, b):
            if t.status != "RUNNING":
                continue
            step[t.trial_id] += 1
            base = 0.8 if t is good else 0.3
            if (
                s.on_trial_result(
                    ctl, t, _result(step[t.trial_id], base + 0.001 * step[t.trial_id])
                )
                == PAUSE
            ):
                t.status = "PAUSED"
                pauses.append(t.trial_id)
        if a.status != "RUNNING" and b.status != "RUNNING":  # one slot for a and b
            chosen = s.choose_trial_to_run(_Controller(a, b))
            assert chosen is not None
            chosen.status = "RUNNING"
    assert pauses == ["a"]  # paused once, for the trial that had not started
    assert s.n_resumed == 0


def test_bad_incumbent_choice_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match=r"The .incumbent. parameter"):
        _scheduler(incumbent="oracle")


def test_results_without_the_metric_or_repeated_at_the_end_are_not_judged() -> None:
    s = _scheduler()
    t = _Trial("a")
    s.on_trial_add(None, t)
    assert s.on_trial_result(None, t, {"training_iteration": 1}) == CONTINUE
    _feed(s, t, [0.2, 0.3])
    assert s.on_trial_result(None, t, _result(2, 0.3, done=True)) == CONTINUE
    assert len(s.verdicts["a"]) == 2


def test_same_history_same_decisions() -> None:
    runs = []
    for _ in range(2):
        s = _scheduler(method="auto", seed=3)
        _complete(s, "best", _rising(0.9))
        t = _Trial("x")
        s.on_trial_add(None, t)
        _feed(s, t, _rising(0.5, 8))
        runs.append([v.to_dict() for v in s.verdicts["x"]])
    assert runs[0] == runs[1]


# -- freeze-thaw, unit level ----------------------------------------------------------------------


def test_freeze_thaw_pauses_for_a_fresh_trial_and_otherwise_goes_on() -> None:
    s = _scheduler(freeze_thaw=True)
    _complete(s, "best", _rising(0.9))
    bad, fresh = _Trial("bad"), _Trial("fresh", status="PENDING")
    s.on_trial_add(None, bad)
    actions = _feed(s, bad, _rising(0.3, 3), _Controller(bad, fresh))
    assert actions[-1] == PAUSE and s.verdicts["bad"][-1].decision == "pause"
    # nothing waits: pausing would only resume it, so it goes on, marked hopeless
    lone = _Trial("lone")
    s.on_trial_add(None, lone)
    actions = _feed(s, lone, _rising(0.3, 3), _Controller(lone))
    assert actions[-1] == CONTINUE
    assert (s.verdicts["lone"][-1].decision, s.verdicts["lone"][-1].reason) == (
        "continue",
        "hopeless",
    )
    assert s.final_forecast("lone") is None


def test_freeze_thaw_never_pauses_a_diverged_trial() -> None:
    s = _scheduler(freeze_thaw=True)
    _complete(s, "best", _rising(0.9))
    t = _Trial("nan")
    s.on_trial_add(None, t)
    ctl = _Controller(t, _Trial("fresh", status="PENDING"))
    assert _feed(s, t, [0.5, float("inf")], ctl)[-1] == STOP


def test_choose_trial_to_run_prefers_pending_then_the_most_promising_paused() -> None:
    s = _scheduler(freeze_thaw=True)
    _complete(s, "best", _rising(0.9))
    low, high = _Trial("low"), _Trial("high")
    for t, ceiling in ((low, 0.2), (high, 0.6)):
        s.on_trial_add(None, t)
        _feed(s, t, _rising(ceiling, 4), _Controller(t, _Trial("fresh", status="PENDING")))
        t.status = "PAUSED"
    pending = _Trial("new", status="PENDING")
    assert s.choose_trial_to_run(_Controller(low, high, pending)) is pending
    assert s.choose_trial_to_run(_Controller(low, high)) is high
    assert s.choose_trial_to_run(_Controller(low, high)) is high  # idempotent
    # without freeze-thaw: Tune's FIFO order
    fifo = _scheduler()
    assert fifo.choose_trial_to_run(_Controller(low, high)) is low


def test_a_resumed_trial_gets_min_points_reports_before_it_can_be_paused_again() -> None:
    s = _scheduler(freeze_thaw=True, min_points=3)
    _complete(s, "best", _rising(0.9))
    t = _Trial("t")
    s.on_trial_add(None, t)
    ctl = _Controller(t, _Trial("fresh", status="PENDING"))
    values = _rising(0.3, 12)
    assert _feed(s, t, values[:3], ctl)[-1] == PAUSE
    after = [s.on_trial_result(ctl, t, _result(k, values[k - 1])) for k in (4, 5, 6)]
    assert after == [CONTINUE, CONTINUE, PAUSE]
    assert s.n_resumed == 1


def test_a_trial_that_restarts_from_an_earlier_checkpoint_is_not_rejected() -> None:
    s = _scheduler()
    t = _Trial("t")
    s.on_trial_add(None, t)
    _feed(s, t, [0.1, 0.2, 0.3, 0.4])
    assert s.on_trial_result(None, t, _result(3, 0.31)) == CONTINUE  # back to step 3
    assert s.verdicts["t"][-1].step == 3


# -- real searches on a local Ray instance ----------------------------------------------------


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


# Trainables are built inside functions so that Ray pickles them by value: Ray's workers cannot
# import this test module by name.
def _curve_trainable() -> Any:
    def trainable(config: dict[str, Any]) -> None:
        """A fast synthetic search: the ceiling ``q`` decides the final accuracy."""
        for step in range(1, 21):
            tune.report({"acc": config["q"] * (1 - math.exp(-0.4 * step))})

    return trainable


def _checkpointing_trainable() -> Any:
    def trainable(config: dict[str, Any]) -> None:
        """10 steps with a checkpoint at each; reports the step it resumed from."""
        start = 0
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            with checkpoint.as_directory() as d:
                start = json.loads((Path(d) / "state.json").read_text())["step"]
        for step in range(start + 1, 11):
            with tempfile.TemporaryDirectory() as d:
                (Path(d) / "state.json").write_text(json.dumps({"step": step}))
                tune.report(
                    {"acc": config["q"] * (1 - math.exp(-0.4 * step)), "resumed_from": start},
                    checkpoint=tune.Checkpoint.from_directory(d),
                )

    return trainable


def _tuner(trainable: Any, qs: list[float], sched: ForecastScheduler, path: Path) -> Any:
    return tune.Tuner(
        trainable,
        param_space={"q": tune.grid_search(qs)},
        tune_config=tune.TuneConfig(metric="acc", mode="max", scheduler=sched, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(path), verbose=0),
    )


def test_tune_search_stops_hopeless_trials_and_the_best_finishes(
    local_ray: None, tmp_path: Path
) -> None:
    # metric/mode from TuneConfig
    sched = ForecastScheduler(method="last_value", bounds=(0, 1), **CLASSIC)
    qs = [0.9, 0.3, 0.5, 0.2, 0.85, 0.4, 0.1, 0.6]
    results = _tuner(_curve_trainable(), qs, sched, tmp_path).fit()
    assert not results.errors
    stopped, finished = [], []
    for r in results:
        tid = r.metrics["trial_id"]
        v = sched.final_forecast(tid)
        if r.metrics["training_iteration"] < 20:
            assert (
                v is not None
                and v.reason == "hopeless"
                and v.step == r.metrics["training_iteration"]
            )
            assert v.prob_better is not None and v.prob_better < 0.05
            stopped.append(r.config["q"])
        else:
            assert v is None
            finished.append(r.config["q"])
    assert stopped and 0.9 in finished
    assert results.get_best_result().config["q"] == 0.9


def test_freeze_thaw_resumes_paused_trials_from_their_checkpoints(
    local_ray: None, tmp_path: Path
) -> None:
    # Judged at every report, and one trial at a time (each asks for both CPUs), so that the order
    # does not hang on timing: 0.9 completes first, then 0.3 and 0.5 turn hopeless while a trial
    # is still pending, and are paused for it.
    sched = ForecastScheduler(
        method="last_value", bounds=(0, 1), freeze_thaw=True, check_growth=1.0, **CLASSIC
    )
    trainable = tune.with_resources(_checkpointing_trainable(), {"cpu": 2})
    results = _tuner(trainable, [0.9, 0.3, 0.5, 0.85], sched, tmp_path).fit()
    assert not results.errors
    resumed = 0
    for r in results:
        decisions = [v.decision for v in sched.verdicts[r.metrics["trial_id"]]]
        assert "stop" not in decisions
        assert r.metrics["training_iteration"] == 10  # no budget: every trial ends
        if "pause" in decisions:
            # it went on from the step it was paused at, not from scratch
            first_pause = decisions.index("pause")
            assert (
                r.metrics["resumed_from"] >= sched.verdicts[r.metrics["trial_id"]][first_pause].step
            )
            resumed += 1
    assert resumed >= 1 and sched.n_resumed >= resumed
    # every pause was followed by a resume, counted once; no trial that ended reads as frozen
    pauses = sum(v.decision == "pause" for vs in sched.verdicts.values() for v in vs)
    assert sched.n_resumed == pauses
    assert sched.frozen == []
    for vs in sched.verdicts.values():
        assert vs[-1].decision != "pause"


# -- benchmark judges -----------------------------------------------------------------------------


def test_asha_judge_stops_a_clearly_bad_trial_at_the_first_rung() -> None:
    judge = asha_judge(max_t=9, grace_period=1, reduction_factor=3, mode="max")
    for tid in ("good", "bad"):
        judge.start(tid)
    assert judge.report("good", 1, 0.9) is False
    assert judge.report("bad", 1, 0.1) is True
    assert judge.report("bad", 2, 0.1) is True  # stays stopped
    judge.complete("bad")  # a no-op after a stop
    for step in range(2, 10):
        assert judge.report("good", step, 0.9) is False  # the final step is not a stop
    judge.complete("good")


def test_asha_judge_minimises_and_is_repeatable_with_brackets() -> None:
    def replay() -> list[bool]:
        judge = asha_judge(max_t=27, reduction_factor=3, brackets=3, mode="min", seed=5)
        out = []
        for i in range(12):
            judge.start(str(i))
            out.append(judge.report(str(i), 1, float(i)))
        return out

    first = replay()
    assert first == replay() and any(first) and not first[0]


def test_forecast_scheduler_judge_stops_a_hopeless_trial() -> None:
    judge = forecast_scheduler_judge(max_t=20, mode="max", method="last_value", bounds=(0, 1))
    for name, top in (("best", 0.9), *((f"good{i}", 0.8 + 0.01 * i) for i in range(4))):
        judge.start(name)  # five completed trials: the same-step comparison can speak
        assert not any(judge.report(name, k, v) for k, v in enumerate(_rising(top), start=1))
        judge.complete(name)
    judge.start("bad")
    stops = [judge.report("bad", k, v) for k, v in enumerate(_rising(0.3, 5), start=1)]
    assert stops[-1] is True
    v = judge.scheduler.final_forecast("bad")
    assert v is not None and v.reason == "hopeless"


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: asha_judge(max_t=0, mode="max"), "max_t"),
        (lambda: asha_judge(max_t=9, grace_period=10, mode="max"), "grace_period"),
        (lambda: asha_judge(max_t=9, reduction_factor=1, mode="max"), "reduction_factor"),
        (lambda: asha_judge(max_t=9, brackets=0, mode="max"), "brackets"),
        (lambda: asha_judge(max_t=9, mode="maximize"), "mode"),
        (lambda: forecast_scheduler_judge(mode="up"), "mode"),
        (lambda: forecast_scheduler_judge(threshold=2, mode="max"), "threshold"),
    ],
)
def test_judges_refuse_bad_arguments(make: Any, name: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter"):
        make()


def test_judge_refuses_unknown_trials_and_steps_that_go_back() -> None:
    judge = asha_judge(max_t=9, mode="max")
    with pytest.raises(InvalidParameterError, match="'trial_id'"):
        judge.report("ghost", 1, 0.5)
    judge.start("a")
    judge.report("a", 2, 0.5)
    with pytest.raises(InvalidParameterError, match="'step'"):
        judge.report("a", 2, 0.6)


def test_importing_curvecast_does_not_import_ray() -> None:
    import subprocess
    import sys

    code = "import curvecast, curvecast.bench.replay_ray, sys; print('ray' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert out.stdout.strip() == "False"


def test_reports_outside_the_bounds_are_not_judged(caplog: pytest.LogCaptureFixture) -> None:
    """Curve refuses observations outside its bounds (issue 17): the scheduler neither crashes
    Tune nor decides on them; it records "out_of_bounds" and lets the trial run."""
    s = _scheduler(max_t=20)
    _complete(s, "done", _rising(0.5))
    percent = _Trial("percent")
    s.on_trial_add(None, percent)
    with caplog.at_level("WARNING", logger="curvecast.integrations.ray"):
        actions = _feed(s, percent, [89.0 + k for k in range(1, 6)])
    assert actions == [CONTINUE] * 5
    assert {v.reason for v in s.verdicts["percent"]} == {"out_of_bounds"}
    assert sum("not judged" in r.getMessage() for r in caplog.records) == 1
    s.on_trial_complete(None, percent, _result(5, 94.0))  # not a candidate incumbent
