"""The decision core shared by the Lightning, Keras and Transformers callbacks, without a
framework: runs fed point by point, against a target, a real SQLite Optuna storage, or both."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna", reason="pip install '.[optuna]'")

from curvecast.exceptions import InvalidParameterError  # noqa: E402
from curvecast.integrations._callback import (  # noqa: E402
    MAX_SCHEDULE_POINTS,
    RunStopper,
    check_schedule_option,
    describe,
    read_schedule,
    thinned_schedule,
)
from curvecast.integrations.optuna import final_forecast, verdicts  # noqa: E402
from curvecast.schedules import Schedule  # noqa: E402

HORIZON = 20


def acc(ceiling: float, epoch: int) -> float:
    return ceiling * (1 - math.exp(-0.4 * epoch))


def _run(stopper: RunStopper, ceiling: float, epochs: int = HORIZON) -> int:
    """Feed a run until it ends or is stopped; returns the epochs it ran."""
    stopper.begin(HORIZON, {"run_name": f"ceiling {ceiling}"})
    epoch = 0
    for epoch in range(1, epochs + 1):
        v = stopper.update(epoch, acc(ceiling, epoch))
        if v is not None and v.should_stop:
            break
    stopper.end()
    return epoch


def _stopper(**kw: object) -> RunStopper:
    settings: dict[str, object] = {"monitor": "val_acc", "direction": "maximize"}
    settings.update(method="last_value", bounds=(0, 1))
    settings.update(kw)
    return RunStopper(**settings)  # type: ignore[arg-type]


def test_target_alone_needs_no_storage() -> None:
    s = _stopper(target=0.9)
    assert _run(s, 0.5) < HORIZON and s.stopped is not None
    assert s.stopped.reason == "hopeless" and s.stopped.incumbent_source == "target"
    assert "beats the target, 0.9" in describe(s.stopped, "val_acc", "epoch")
    s = _stopper(target=0.9)
    assert _run(s, 0.97) == HORIZON and s.stopped is None


def test_storage_judges_against_the_best_stored_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    assert _run(_stopper(storage=url), 0.95) == HORIZON
    bad = _stopper(storage=url)
    assert _run(bad, 0.5) < HORIZON
    first, second = optuna.load_study(study_name="curvecast:val_acc", storage=url).trials
    assert first.state.name == "COMPLETE" and first.value == pytest.approx(acc(0.95, HORIZON))
    assert second.state.name == "PRUNED" and second.user_attrs["run_name"] == "ceiling 0.5"
    stored = final_forecast(second)
    assert stored is not None and stored == bad.stopped
    assert stored.incumbent == pytest.approx(first.value) and stored.horizon == HORIZON
    assert second.user_attrs["stop_reason"] == describe(stored, "val_acc")
    assert [v.step for v in verdicts(second)] == [v.step for v in bad.verdicts]


def test_target_and_storage_either_can_stop(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    _run(_stopper(storage=url), 0.6)  # a weak best run: the storage alone would not stop 0.7
    both = _stopper(storage=url, target=0.9)
    assert _run(both, 0.7) < HORIZON
    assert both.stopped is not None and both.stopped.incumbent_source == "target"
    trial = optuna.load_study(study_name="curvecast:val_acc", storage=url).trials[1]
    assert final_forecast(trial) == both.stopped  # the target's verdict is stored too


def test_divergence_stops_at_once_and_a_crash_is_a_failed_trial(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    s = _stopper(storage=url)
    s.begin(HORIZON)
    assert s.update(1, 0.3) is not None
    v = s.update(2, float("nan"))
    assert v is not None and v.reason == "diverged" and v.should_stop
    s.end()
    crash = _stopper(storage=url)
    crash.begin(HORIZON)
    crash.update(1, 0.3)
    crash.end(failed=True)
    states = [
        t.state.name for t in optuna.load_study(study_name="curvecast:val_acc", storage=url).trials
    ]
    assert states == ["PRUNED", "FAIL"]


def test_misuse(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="needs something to stop against"):
        _stopper()
    with pytest.raises(InvalidParameterError, match="'target' parameter"):
        _stopper(target=float("nan"))
    with pytest.raises(InvalidParameterError, match="'threshold' parameter"):
        _stopper(target=0.9, threshold=1.5)
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    _run(_stopper(storage=url), 0.9, epochs=3)
    loss = _stopper(storage=url, direction="minimize")
    with pytest.raises(InvalidParameterError, match="pass another study_name"):
        loss.begin(HORIZON)


# -- the learning-rate schedule -----------------------------------------------------------------
COSINE = {"name": "cosine", "peak_lr": 0.1, "total": HORIZON}


def _feed(
    stopper: RunStopper, ceiling: float, schedule: Schedule | None, epochs: int, end: bool = True
) -> None:
    stopper.begin(HORIZON, {"run_name": f"ceiling {ceiling}"}, schedule)
    for epoch in range(1, epochs + 1):
        v = stopper.update(epoch, acc(ceiling, epoch))
        if v is not None and v.should_stop:
            break
    if end:
        stopper.end()


def test_a_schedule_makes_the_target_forecast_schedule_aware() -> None:
    with_it = _stopper(target=0.99, method="auto")
    _feed(with_it, 0.9, Schedule(COSINE), 6)
    forecasts = [v for v in with_it.verdicts if v.prob_better is not None]
    assert forecasts and {v.method for v in forecasts} == {"schedule_ensemble"}
    without = _stopper(target=0.99, method="auto")
    _feed(without, 0.9, None, 6)
    methods = {v.method for v in without.verdicts if v.prob_better is not None}
    assert methods and "schedule_ensemble" not in methods
    # no horizon from the trainer: the schedule's end is the horizon
    s = _stopper(target=0.9)
    s.begin(None, schedule=Schedule({**COSINE, "total": 30}))
    assert s.horizon == 30


def test_storage_pruner_gets_the_schedule_and_keeps_it_on_the_trial(tmp_path: Path) -> None:
    from curvecast.integrations.optuna import SCHEDULE_ATTR

    url = f"sqlite:///{tmp_path / 'runs.db'}"
    _feed(_stopper(storage=url), 0.95, Schedule(COSINE), HORIZON)
    first = optuna.load_study(study_name="curvecast:val_acc", storage=url).trials[0]
    assert first.system_attrs[SCHEDULE_ATTR] == Schedule(COSINE).to_dict()
    second = _stopper(storage=url, target=0.99, method="auto")
    own = Schedule({**COSINE, "peak_lr": 0.01})
    _feed(second, 0.5, own, 4, end=False)
    assert second.stopped is not None
    trial = optuna.load_study(study_name="curvecast:val_acc", storage=url).trials[1]
    assert trial.system_attrs[SCHEDULE_ATTR] == own.to_dict()
    forecasts = [v for v in verdicts(trial) if v.prob_better is not None]
    assert any(v.incumbent_source != "target" for v in forecasts)  # the pruner's own, too
    assert {v.method for v in forecasts} == {"schedule_ensemble"}
    # the stored run is the target check's context with its own schedule
    assert [c.meta.get("schedule") for c in second._context()] == [Schedule(COSINE).to_dict()]


def test_a_schedule_that_stops_before_the_horizon_is_refused() -> None:
    s = _stopper(target=0.9)
    with pytest.raises(InvalidParameterError, match=r"'schedule' parameter.*horizon \(20\)"):
        s.begin(HORIZON, schedule=Schedule({**COSINE, "total": 10}))


def test_a_schedule_that_cannot_be_read_is_logged_once_and_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("curvecast.test")

    def broken() -> Schedule:
        raise RuntimeError("no scheduler here")

    with caplog.at_level(logging.WARNING, logger="curvecast.test"):
        assert read_schedule(broken, horizon=HORIZON, owner="X", logger=log) is None
        short = Schedule({**COSINE, "total": 5})
        assert read_schedule(lambda: short, horizon=HORIZON, owner="X", logger=log) is None
        ok = Schedule(COSINE)
        assert read_schedule(lambda: ok, horizon=HORIZON, owner="X", logger=log) is ok
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and "RuntimeError: no scheduler here" in warnings[0]
    assert all("schedule=False" in w for w in warnings)


def test_schedule_option_and_thinning() -> None:
    assert check_schedule_option(None, "X") is None and check_schedule_option(False, "X") is False
    assert isinstance(check_schedule_option(COSINE, "X"), Schedule)
    with pytest.raises(InvalidParameterError, match="'schedule' parameter of X"):
        check_schedule_option(True, "X")
    with pytest.raises(InvalidParameterError, match="'peak_lr'"):
        check_schedule_option({"name": "cosine", "total": 5}, "X")
    x = np.arange(10_001) / 100.0
    s = thinned_schedule(x, 0.1 * (1 + np.cos(np.pi * x / 100.0)) / 2)
    assert len(s.spec["x"]) <= MAX_SCHEDULE_POINTS and s.end == 100.0
    assert float(s.lr(50.0)[0]) == pytest.approx(0.05, abs=1e-4)
