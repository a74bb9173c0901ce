"""The decision core shared by the Lightning, Keras and Transformers callbacks, without a
framework: runs fed point by point, against a target, a real SQLite Optuna storage, or both."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna", reason="pip install '.[optuna]'")

from curvecast.exceptions import InvalidParameterError  # noqa: E402
from curvecast.integrations._callback import RunStopper, describe  # noqa: E402
from curvecast.integrations.optuna import final_forecast, verdicts  # noqa: E402

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
