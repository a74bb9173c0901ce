"""The contracts Ray Tune's own scheduler tests check, run against ForecastScheduler.

After ray/tune/tests/test_trial_scheduler.py: the life cycle of a trial as Tune drives it
(on_trial_add, on_trial_result, on_trial_complete, on_trial_error, on_trial_remove), what
choose_trial_to_run may return, and save/restore of the scheduler's state; then freeze-thaw's
bookkeeping of paused and resumed trials (issue 26).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="pip install 'curvecast[ray]'")
pytest.importorskip("ray.tune", reason="pip install 'curvecast[ray]'")

from ray.tune.schedulers import TrialScheduler  # noqa: E402

from curvecast.integrations.ray import ForecastScheduler  # noqa: E402

from .test_ray import _complete, _Controller, _feed, _result, _rising, _scheduler, _Trial  # noqa: E402

CONTINUE, STOP, PAUSE = TrialScheduler.CONTINUE, TrialScheduler.STOP, TrialScheduler.PAUSE


def test_every_answer_is_one_tune_knows_through_a_trials_life() -> None:
    s = _scheduler(freeze_thaw=True)
    _complete(s, "best", _rising(0.9))
    trials = [_Trial(f"t{k}") for k in range(4)]
    ctl = _Controller(*trials, _Trial("fresh", status="PENDING"))
    for t in trials:
        s.on_trial_add(ctl, t)
    curves = [_rising(0.85), _rising(0.2), [0.5, math.nan], _rising(0.6)]
    for t, values in zip(trials, curves, strict=True):
        for k, v in enumerate(values, start=1):
            action = s.on_trial_result(ctl, t, _result(k, v))
            assert action in (CONTINUE, STOP, PAUSE)
            if action != CONTINUE:
                break
    s.on_trial_complete(ctl, trials[0], _result(20, curves[0][-1]))
    s.on_trial_error(ctl, trials[3])
    s.on_trial_add(ctl, trials[3])  # Tune retries it
    assert s.on_trial_result(ctl, trials[3], _result(1, 0.1)) in (CONTINUE, STOP, PAUSE)
    s.on_trial_remove(ctl, trials[1])
    # calls about trials it never saw report are accepted (Tune removes pending trials)
    ghost = _Trial("ghost", status="PENDING")
    s.on_trial_remove(ctl, ghost)
    s.on_trial_complete(ctl, _Trial("silent"), {})
    assert s.final_forecast("t2") is not None and s.final_forecast("t2").reason == "diverged"
    assert "ForecastScheduler" in s.debug_string()


def test_choose_trial_to_run_returns_only_a_pending_or_paused_trial() -> None:
    for freeze_thaw in (False, True):
        s = _scheduler(freeze_thaw=freeze_thaw)
        assert s.choose_trial_to_run(_Controller()) is None
        busy = [_Trial("r"), _Trial("done", status="TERMINATED"), _Trial("e", status="ERROR")]
        assert s.choose_trial_to_run(_Controller(*busy)) is None
        paused = _Trial("p", status="PAUSED")
        assert s.choose_trial_to_run(_Controller(*busy, paused)) is paused
        pending = _Trial("n", status="PENDING")
        assert s.choose_trial_to_run(_Controller(*busy, paused, pending)) is pending


def _history(s: ForecastScheduler) -> list[tuple[str, str]]:
    return [(tid, v.decision) for tid, vs in s.verdicts.items() for v in vs]


@pytest.mark.parametrize("freeze_thaw", [False, True])
def test_save_and_restore_go_on_as_if_never_stopped(tmp_path: Path, freeze_thaw: bool) -> None:
    def make() -> ForecastScheduler:
        # a lambda as a setting: saved by value (cloudpickle), as Tune saves its experiment
        return _scheduler(freeze_thaw=freeze_thaw, max_t=lambda trial: 20)

    first, second = make(), make()
    for s in (first, second):
        _complete(s, "a", _rising(0.9))
        _complete(s, "b", _rising(0.7))
    path = tmp_path / "scheduler.pkl"
    first.save(str(path))
    restored = make()
    restored.restore(str(path))
    assert restored.verdicts == first.verdicts
    t = _Trial("c")
    ctl = _Controller(t, _Trial("fresh", status="PENDING"))
    for s in (second, restored):
        s.on_trial_add(ctl, t)
        _feed(s, t, _rising(0.4), ctl)
    assert _history(restored) == _history(second)
    assert restored.final_forecast("c") == second.final_forecast("c")


def test_a_resumed_trial_is_counted_once_and_no_longer_reads_paused() -> None:
    s = _scheduler(freeze_thaw=True, min_points=3, check_growth=2.0)  # checks at 3, 6, 12
    _complete(s, "best", _rising(0.9))
    t = _Trial("t")
    s.on_trial_add(None, t)
    ctl = _Controller(t, _Trial("fresh", status="PENDING"))
    values = _rising(0.3, 12)
    assert _feed(s, t, values[:3], ctl)[-1] == PAUSE
    assert s.frozen == ["t"]
    s.on_trial_result(ctl, t, _result(4, values[3]))  # resumed
    last = s.verdicts["t"][-1]
    assert (last.decision, last.reason, last.step) == ("continue", "resumed", 4)
    assert "resumed" in last.explain()
    s.on_trial_result(ctl, t, _result(5, values[4]))
    assert s.n_resumed == 1 and s.frozen == []


def test_a_completed_trial_is_not_left_frozen_and_a_removed_paused_one_is() -> None:
    s = _scheduler(freeze_thaw=True, min_points=3)
    _complete(s, "best", _rising(0.9))
    done, left = _Trial("done"), _Trial("left")
    for t in (done, left):
        s.on_trial_add(None, t)
        ctl = _Controller(t, _Trial("fresh", status="PENDING"))
        assert _feed(s, t, _rising(0.3, 3), ctl)[-1] == PAUSE
    assert s.frozen == ["done", "left"]
    # "done" is resumed and ends at its very next result; "left" is never resumed
    s.on_trial_complete(None, done, _result(4, 0.3, done=True))
    s.on_trial_remove(None, left)
    assert s.frozen == ["left"]
    assert s.verdicts["done"][-1].decision == "continue"
    assert s.verdicts["left"][-1].decision == "pause"
    assert s.n_resumed == 1
