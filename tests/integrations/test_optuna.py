"""ForecastPruner inside real Optuna studies, on every storage that needs no server."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

optuna = pytest.importorskip("optuna", reason='pip install ".[optuna]"')

from curvecast import InvalidParameterError  # noqa: E402
from curvecast.integrations.optuna import ForecastPruner, final_forecast, verdicts  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)
EPOCHS = 30


def _objective(trial: optuna.Trial) -> float:
    """A search whose quality depends on lr: a far-off lr learns slowly and plateaus low."""
    lr = trial.suggest_float("lr", 1e-3, 1.0, log=True)
    ceiling = 0.9 * (1 - abs(math.log10(lr) + 1) / 4)
    acc = 0.0
    for step in range(1, EPOCHS + 1):
        acc = ceiling * (1 - math.exp(-3 * lr * step)) + 0.002 * math.sin(7 * step)
        trial.report(acc, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return acc


def _storages(tmp_path: Path) -> dict[str, object]:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return {
        "inmemory": None,
        "sqlite": f"sqlite:///{tmp_path / 'study.db'}",
        "journal": JournalStorage(JournalFileBackend(str(tmp_path / "journal.log"))),
    }


@pytest.mark.parametrize("kind", ["inmemory", "sqlite", "journal"])
def test_prunes_and_records_reasons_on_every_storage(tmp_path: Path, kind: str) -> None:
    storage = _storages(tmp_path)[kind]
    study = optuna.create_study(
        direction="maximize",
        storage=storage,  # type: ignore[arg-type]
        sampler=optuna.samplers.RandomSampler(seed=1),
        pruner=ForecastPruner(method="last_value", bounds=(0, 1)),
    )
    study.optimize(_objective, n_trials=15)
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert pruned and complete
    for t in pruned:
        v = final_forecast(t)
        assert v is not None and v.decision == "stop" and v.reason in ("hopeless", "diverged")
        assert v.step == t.last_step
        if v.reason == "hopeless":
            assert v.prob_better is not None and v.expected_gain is not None
            if v.allowance is None:  # fewer than 3 completed: judged by its chance alone
                assert v.prob_better < 0.1
            else:  # the default rule: not worth the compute it still needs
                assert v.prob_better < 0.5 and v.expected_gain <= v.allowance
            assert v.forecast_median is not None and 0 <= v.forecast_median <= 1
            assert v.incumbent is not None and v.horizon == EPOCHS
    for t in complete:
        assert final_forecast(t) is None
        assert all(v.decision == "continue" for v in verdicts(t))
    # the best trial is never pruned: it completed
    assert study.best_trial.state == optuna.trial.TrialState.COMPLETE


def test_default_pruner_works_with_no_arguments() -> None:
    study = optuna.create_study(
        direction="maximize", pruner=ForecastPruner(), sampler=optuna.samplers.RandomSampler(seed=0)
    )
    study.optimize(_objective, n_trials=6)
    assert len(study.trials) == 6


def test_nan_report_prunes_with_reason_diverged() -> None:
    def objective(trial: optuna.Trial) -> float:
        for step in range(1, 10):
            loss = 2.0 / step if trial.number == 0 or step < 4 else float("nan")
            trial.report(loss, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return loss

    study = optuna.create_study(direction="minimize", pruner=ForecastPruner())
    study.optimize(objective, n_trials=2)
    t = study.trials[1]
    assert t.state == optuna.trial.TrialState.PRUNED
    v = final_forecast(t)
    assert v is not None and v.reason == "diverged" and v.step == 4


def test_minimize_study_uses_the_lowest_final_as_incumbent() -> None:
    def objective(trial: optuna.Trial) -> float:
        floor = [0.5, 0.2, 3.0][trial.number]
        loss = 0.0
        for step in range(1, 21):
            loss = floor + 2.0 / step
            trial.report(loss, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return loss

    # same_step=False: judged after two completed trials (the default waits for five)
    pruner = ForecastPruner(method="last_value", bounds=(0, None), same_step=False)
    study = optuna.create_study(direction="minimize", pruner=pruner)
    study.optimize(objective, n_trials=3)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE", "PRUNED"]
    v = final_forecast(study.trials[2])
    assert v is not None and v.incumbent == pytest.approx(0.2 + 2.0 / 20)


def test_fixed_max_resource_allows_pruning_before_any_trial_completes() -> None:
    pruner = ForecastPruner(method="last_value", max_resource=EPOCHS)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    study.optimize(_objective, n_trials=1)
    (v, *_) = [v for v in verdicts(study.trials[0]) if v.reason != "warmup"]
    assert v.reason == "no_incumbent" and v.horizon == EPOCHS


def _budgeted_objective(trial: optuna.Trial) -> float:
    """Each trial has its own number of epochs, as when epochs are a hyperparameter."""
    epochs = trial.suggest_categorical("epochs", [6, 12, 24])
    lr = trial.suggest_float("lr", 1e-3, 1.0, log=True)
    ceiling = 0.9 * (1 - abs(math.log10(lr) + 1) / 4)
    acc = 0.0
    for step in range(1, epochs + 1):
        acc = ceiling * (1 - math.exp(-3 * lr * step))
        trial.report(acc, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return acc


def test_per_trial_max_resource_forecasts_each_trial_at_its_own_end() -> None:
    pruner = ForecastPruner(
        method="last_value", bounds=(0, 1), max_resource=lambda t: t.params["epochs"]
    )
    study = optuna.create_study(
        direction="maximize", pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=2)
    )
    study.optimize(_budgeted_objective, n_trials=12)
    judged = [(t, v) for t in study.trials for v in verdicts(t) if v.horizon is not None]
    assert {t.params["epochs"] for t, _ in judged} == {6, 12, 24}
    for t, v in judged:
        assert v.horizon == t.params["epochs"]
    assert pruner.settings()["max_resource"] == "per-trial"


def test_per_trial_max_resource_returning_none_falls_back_to_auto() -> None:
    pruner = ForecastPruner(method="last_value", max_resource=lambda t: None)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    study.optimize(_budgeted_objective, n_trials=6)
    checked = 0
    for t in study.trials:
        before = [
            u.last_step
            for u in study.trials[: t.number]
            if u.state == optuna.trial.TrialState.COMPLETE
        ]
        for v in verdicts(t):
            if before:
                assert v.horizon == max(before)  # "auto": the longest completed trial
                checked += 1
            else:
                assert v.horizon is None
    assert checked


@pytest.mark.parametrize("bad", [0, -3, float("nan"), "12", True])
def test_per_trial_max_resource_with_a_bad_return_names_the_parameter(bad: object) -> None:
    pruner = ForecastPruner(method="last_value", max_resource=lambda t: bad)
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    trial.report(0.5, 1)
    trial.report(0.6, 2)
    frozen = study._storage.get_trial(trial._trial_id)
    with pytest.raises(InvalidParameterError, match=r"The .max_resource. parameter.*trial 0"):
        pruner.prune(study, frozen)


@pytest.mark.parametrize("incumbent", ["forecast", "completed"])
def test_running_trials_forecasts_are_the_incumbent_before_any_trial_completes(
    incumbent: str,
) -> None:
    pruner = ForecastPruner(  # same_step=False: no completed trial to compare with at all
        method="last_value", bounds=(0, 1), max_resource=20, incumbent=incumbent, same_step=False
    )
    study = optuna.create_study(direction="maximize", pruner=pruner)
    good, bad = study.ask(), study.ask()
    for step in (1, 2, 3):
        good.report(0.80 + 0.01 * step, step)
        assert not good.should_prune()
        bad.report(0.20 + 0.01 * step, step)
        if bad.should_prune():
            break
    v = verdicts(study._storage.get_trial(bad._trial_id))[-1]
    if incumbent == "forecast":
        assert v.decision == "stop" and v.reason == "hopeless"
        assert v.incumbent is not None and 0.7 < v.incumbent < 0.85  # good's lower quartile
        assert v.incumbent_source == f"running trial {good.number}"
    else:
        assert v.decision == "continue" and v.reason == "no_incumbent"
    assert pruner.settings()["incumbent"] == incumbent


def test_the_default_waits_for_five_completed_trials_at_the_step() -> None:
    """Issue 24: where the forecast cannot tell, the same-step comparison decides. A trial far
    behind two completed ones, which the forecast alone stops, goes on; behind five, it stops."""

    def objective(trial: optuna.Trial) -> float:
        ceiling = trial.suggest_float("x", 0.0, 1.0)
        acc = 0.0
        for step in range(1, EPOCHS + 1):
            acc = ceiling * (1 - math.exp(-0.5 * step))
            trial.report(acc, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return acc

    def run(n_completed: int, same_step: bool) -> optuna.trial.FrozenTrial:
        pruner = ForecastPruner(method="last_value", bounds=(0, 1), same_step=same_step)
        study = optuna.create_study(direction="maximize", pruner=pruner)
        for k in range(n_completed):
            study.enqueue_trial({"x": 0.8 + 0.02 * k})
        study.enqueue_trial({"x": 0.1})
        study.optimize(objective, n_trials=n_completed + 1)
        return study.trials[-1]

    assert run(2, same_step=False).state.name == "PRUNED"
    kept = run(2, same_step=True)
    assert kept.state.name == "COMPLETE"
    assert all(v.decision != "stop" for v in verdicts(kept))
    stopped = run(5, same_step=True)
    assert stopped.state.name == "PRUNED"
    v = final_forecast(stopped)
    assert v is not None and v.same_step is not None and "behind the median" in v.explain()


def test_multi_objective_study_is_refused_clearly() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    trial = study.ask()
    with pytest.raises(ValueError, match="single-objective"):
        ForecastPruner().prune(study, study._storage.get_trial(trial._trial_id))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": 0}, "threshold"),
        ({"min_points": -1}, "min_points"),
        ({"n_startup_trials": 0}, "n_startup_trials"),
        ({"check_growth": 0.5}, "check_growth"),
        ({"max_resource": -5}, "max_resource"),
        ({"max_resource": "soon"}, "max_resource"),
        ({"max_context": -1}, "max_context"),
        ({"incumbent": "best"}, "incumbent"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"The .{name}. parameter of ForecastPruner"):
        ForecastPruner(**kwargs)  # type: ignore[arg-type]


def test_decisions_are_the_same_for_the_same_history() -> None:
    """Two workers (two pruner objects) judging the same trial reach the same verdict."""
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=3))
    study.optimize(_objective, n_trials=4)  # no pruner: all complete
    trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-3, 1.0, log=True)})
    for step, v in enumerate(np.linspace(0.05, 0.2, 8), start=1):
        trial.report(float(v), step)
    frozen = study._storage.get_trial(trial._trial_id)
    a = ForecastPruner(method="last_value").prune(study, frozen)
    b = ForecastPruner(method="last_value").prune(study, frozen)
    assert a == b


def test_pruner_settings_are_stored_on_the_study() -> None:
    from curvecast.integrations.optuna import STUDY_ATTR

    pruner = ForecastPruner(method="last_value", bounds=(0, 1), threshold=0.2)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    study.optimize(_objective, n_trials=2)
    stored = study._storage.get_study_system_attrs(study._study_id)[STUDY_ATTR]
    assert stored == pruner.settings()
    assert stored["bounds"] == [0.0, 1.0] and stored["threshold"] == 0.2


# -- hardening (issues 16 and 17) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"seed": -1}, "seed"),
        ({"seed": "a"}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"seed": True}, "seed"),
        ({"seed": [1]}, "seed"),
        ({"max_resource": 10**400}, "max_resource"),
        ({"check_growth": 10**400}, "check_growth"),
        ({"diverge_above": 10**400}, "diverge_above"),
        ({"shadow": "yes"}, "shadow"),
    ],
)
def test_seed_and_huge_ints_fail_at_construction(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"The .{name}. parameter of ForecastPruner"):
        ForecastPruner(**kwargs)  # type: ignore[arg-type]


def test_huge_int_bounds_are_a_clear_error() -> None:
    from curvecast import CurvecastError

    with pytest.raises(CurvecastError, match=r"'bounds' field's hi .* beyond the float range"):
        ForecastPruner(bounds=(0, 10**400))


def test_steps_equal_as_float64_keep_the_latest_report() -> None:
    pruner = ForecastPruner(method="last_value", max_resource=2**63)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    trial = study.ask()
    for step, value in ((1, 0.1), (2, 0.2), (2**62, 0.3), (2**62 + 1, 0.4)):
        trial.report(value, step)
        assert trial.should_prune() is False  # raised InvalidCurveError before
    frozen = study._storage.get_trial(trial._trial_id)
    curve = pruner._curve(frozen, "maximize")
    assert curve is not None and curve.y.tolist() == [0.1, 0.2, 0.4]


def test_a_malformed_record_on_another_trial_is_skipped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from curvecast.integrations.optuna import ATTR_PREFIX

    pruner = ForecastPruner(method="last_value", bounds=(0, 1), max_resource=20)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    broken, judged = study.ask(), study.ask()
    broken.report(0.5, 1)
    study._storage.set_trial_system_attr(broken._trial_id, f"{ATTR_PREFIX}0000000001", "garbage")
    with caplog.at_level("WARNING", logger="curvecast.integrations.optuna"):
        for step in (1, 2, 3):
            judged.report(0.3 + 0.01 * step, step)
            judged.should_prune()  # raised ValueError/TypeError for every other trial before
    assert any("not a curvecast verdict" in r.getMessage() for r in caplog.records)
    assert verdicts(study._storage.get_trial(broken._trial_id)) == []
    assert verdicts(study._storage.get_trial(judged._trial_id))  # judged, and recorded


def test_reports_outside_the_bounds_are_not_judged(caplog: pytest.LogCaptureFixture) -> None:
    pruner = ForecastPruner(method="last_value", bounds=(0, 1), max_resource=20)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    done = study.ask()
    for step in range(1, 21):
        done.report(0.5, step)
    study.tell(done, 0.5)
    percent = study.ask()  # a better trial reporting percentages by mistake
    with caplog.at_level("WARNING", logger="curvecast.integrations.optuna"):
        for step in (1, 2, 3):
            percent.report(89.0 + step, step)
            assert percent.should_prune() is False  # pruned with P = 0.000 before
    vs = verdicts(study._storage.get_trial(percent._trial_id))
    assert vs and all(v.reason == "out_of_bounds" for v in vs)
    assert "outside the bounds" in vs[-1].explain()
    assert any("within the bounds [0, 1]" in r.getMessage() for r in caplog.records)


def test_shadow_mode_records_every_verdict_and_prunes_nothing() -> None:
    def run(shadow: bool) -> optuna.Study:
        pruner = ForecastPruner(method="last_value", bounds=(0, 1), shadow=shadow)
        study = optuna.create_study(
            direction="maximize", pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0)
        )
        study.optimize(_objective, n_trials=12)
        return study

    real, shadow = run(False), run(True)
    pruned = [t.number for t in real.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, "the real pruner should stop some of these trials"
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in shadow.trials)
    would = [t.number for t in shadow.trials if final_forecast(t) is not None]
    # the same trials are judged the same way up to the first stop (later ones differ: in the
    # shadow study the would-be-pruned trials completed and changed the incumbent)
    assert would[: len(pruned)][:1] == pruned[:1]
    first = real.trials[pruned[0]]
    real_stop, shadow_stop = final_forecast(first), final_forecast(shadow.trials[pruned[0]])
    assert real_stop is not None and shadow_stop is not None
    assert shadow_stop.shadow and not real_stop.shadow
    assert (shadow_stop.step, shadow_stop.prob_better) == (real_stop.step, real_stop.prob_better)
    assert shadow_stop.explain().startswith("would have stopped at step")
    attrs = shadow.trials[pruned[0]].system_attrs
    assert all(v["shadow"] is True for k, v in attrs.items() if k.startswith("curvecast:step:"))
    stored = shadow._storage.get_study_system_attrs(shadow._study_id)
    assert stored["curvecast:pruner"]["shadow"] is True
