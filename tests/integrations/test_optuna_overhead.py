"""max_overhead: the pruner's own time held to a share of the training time (a fake clock)."""

from __future__ import annotations

import math

import pytest

optuna = pytest.importorskip("optuna")

import curvecast.integrations.optuna as module  # noqa: E402
from curvecast import InvalidParameterError  # noqa: E402
from curvecast.integrations.optuna import ForecastPruner, verdicts  # noqa: E402


class _Clock:
    """Advances by ``tick`` at each reading (the pruner reads it twice a call) and by what the
    objective says it trained."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 0.0, tick

    def perf_counter(self) -> float:
        self.now += self.tick
        return self.now


def _search(monkeypatch: pytest.MonkeyPatch, epoch_seconds: float, **kw: object) -> tuple:
    clock = _Clock(tick=1.0)
    monkeypatch.setattr(module, "time", clock)
    pruner = ForecastPruner(method="last_value", bounds=(0, 1), max_resource=20, **kw)
    study = optuna.create_study(direction="maximize", pruner=pruner)

    def objective(trial: optuna.Trial) -> float:
        top = 0.9 - 0.1 * trial.number
        for step in range(1, 21):
            clock.now += epoch_seconds  # the epoch trains
            value = math.nan if trial.number == 5 and step == 3 else top * (1 - 0.5 / step)
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return top * (1 - 0.5 / 20)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=6)
    forecasts = sum(
        1 for t in study.trials for v in verdicts(t) if v.reason in ("hopeless", "promising")
    )
    return pruner, study, forecasts


def test_slow_epochs_leave_every_check_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    pruner, _, forecasts = _search(monkeypatch, epoch_seconds=1000.0, max_overhead=0.1)
    free, _, unbounded = _search(monkeypatch, epoch_seconds=1000.0)
    assert pruner.overhead[2] == 0 and forecasts == unbounded > 0
    assert free.overhead[1] == 0.0  # without max_overhead the training time is not counted


def test_cheap_epochs_skip_checks_but_never_a_divergence(monkeypatch: pytest.MonkeyPatch) -> None:
    pruner, study, forecasts = _search(monkeypatch, epoch_seconds=1.0, max_overhead=0.1)
    _, _, unbounded = _search(monkeypatch, epoch_seconds=1.0)
    seconds, training, skipped = pruner.overhead
    assert skipped > 0 and forecasts < unbounded
    assert training > 0 and seconds > 0
    diverged = study.trials[5]
    assert diverged.state == optuna.trial.TrialState.PRUNED
    assert verdicts(diverged)[-1].reason == "diverged"


@pytest.mark.parametrize("bad", [0, -0.1, math.inf, math.nan, True, "10%"])
def test_bad_max_overhead_names_the_field(bad: object) -> None:
    with pytest.raises(InvalidParameterError, match="max_overhead"):
        ForecastPruner(max_overhead=bad)  # type: ignore[arg-type]
