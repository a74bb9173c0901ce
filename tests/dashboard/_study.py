"""Storages written by short real Optuna searches with curvecast's pruner, for dashboard tests.

Searching against SQLite commits on every report, which is slow on a shared disk, so the search
runs in memory and ``optuna.copy_study`` writes it to the file; a running trial is then added
directly in the file, as a live search would leave it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import optuna

from curvecast.integrations.optuna import ForecastPruner

#: The study whose name a user chose to be hostile.
XSS_NAME = "<script>alert(1)</script>"
#: A categorical parameter value that would run script if written as HTML.
XSS_PARAM = "<img src=x onerror=alert(2)>"
N_STEPS = 20


@dataclass(frozen=True)
class Written:
    url: str
    path: Path | None
    study: str
    n_trials: int
    n_pruned: int
    n_complete: int
    running_number: int


def objective(trial: optuna.Trial) -> float:
    """A curve that saturates at a ceiling the sampler picks; low ceilings get pruned."""
    ceiling = trial.suggest_float("ceiling", 0.3, 0.95)
    trial.suggest_categorical("optimizer", ["adam", "sgd"])
    value = 0.0
    for step in range(N_STEPS):
        value = ceiling * (1 - math.exp(-(step + 1) / 4))
        trial.report(value, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return value


def write_storage(path: Path, n_trials: int = 10) -> Written:
    """Write two studies to the SQLite file ``path``: "lr search" (with pruned, completed and
    one running trial) and one named :data:`XSS_NAME` with a hostile parameter value."""
    return write_search(f"sqlite:///{path}", path, n_trials)


def write_search(url: str, path: Path | None = None, n_trials: int = 10) -> Written:
    """:func:`write_storage` for any storage URL (``path`` is the SQLite file, if any)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    memory = optuna.storages.InMemoryStorage()
    study = optuna.create_study(
        storage=memory,
        study_name="lr search",
        direction="maximize",
        pruner=ForecastPruner(method="last_value"),
        sampler=optuna.samplers.RandomSampler(seed=3),
    )
    study.enqueue_trial({"ceiling": 0.95, "optimizer": "adam"})  # a strong incumbent first
    study.optimize(objective, n_trials=n_trials)
    optuna.copy_study(from_study_name="lr search", from_storage=memory, to_storage=url)

    live = optuna.load_study(study_name="lr search", storage=url)
    running = live.ask({"ceiling": optuna.distributions.FloatDistribution(0.3, 0.95)})
    for step in range(6):
        running.report(0.9 * (1 - math.exp(-(step + 1) / 4)), step)

    xss = optuna.create_study(storage=url, study_name=XSS_NAME, direction="minimize")
    xss.enqueue_trial({"opt": XSS_PARAM})
    xss.optimize(lambda t: float(len(t.suggest_categorical("opt", [XSS_PARAM, "b"]))), 1)

    trials = study.get_trials(deepcopy=False)
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in trials)
    complete = sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    return Written(url, path, "lr search", len(trials) + 1, pruned, complete, running.number)


def add_trial(url: str, n_reports: int = 3) -> None:
    """Start one more trial of "lr search" in the file and report its first values, as a live
    search would; it is left running."""
    study = optuna.load_study(study_name="lr search", storage=url)
    trial = study.ask({"ceiling": optuna.distributions.FloatDistribution(0.3, 0.95)})
    for step in range(n_reports):
        trial.report(0.5 * (1 - math.exp(-(step + 1) / 4)), step)


#: The schedules of :func:`write_schedule_study`'s trials 0 and 1.
SCHEDULES = (
    {"name": "cosine", "peak_lr": 3e-3, "warmup": 3, "total": N_STEPS - 1, "final_lr": 1e-4},
    {"name": "step", "peak_lr": 0.1, "total": N_STEPS - 1, "milestones": [8, 14], "gamma": 0.3},
)


def write_schedule_study(url: str) -> int:
    """A study "schedules" in ``url`` searched by ``ForecastPruner(schedule=...)``, which stores
    each trial's schedule on it: trials 0 and 1 follow :data:`SCHEDULES`, trial 2 has none, and
    trial 3 (added last: the pruner itself fails on such a record in its context) carries a
    malformed schedule record, a negative rate. Returns the study's id."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def schedule(trial: optuna.trial.FrozenTrial) -> dict[str, object] | None:
        return SCHEDULES[trial.number] if trial.number < len(SCHEDULES) else None

    study = optuna.create_study(
        storage=url,
        study_name="schedules",
        direction="maximize",
        pruner=ForecastPruner(method="last_value", schedule=schedule),
        sampler=optuna.samplers.RandomSampler(seed=3),
    )
    study.optimize(objective, n_trials=3)
    bad = study.ask()
    bad_record = {"name": "constant", "peak_lr": -1.0, "total": N_STEPS - 1}
    study._storage.set_trial_system_attr(bad._trial_id, "curvecast:schedule", bad_record)
    bad.report(0.2, 0)
    study.tell(bad, 0.2)
    return study._study_id


def write_shadow_search(url: str, n_trials: int = 16) -> int:
    """A real search "shadow" in ``url`` under ``ForecastPruner(shadow=True)``: ``n_trials``
    finished trials (the pruner records every verdict with ``"shadow": true`` and prunes
    nothing), then one trial left running on a curve above every finished one, judged by
    the same pruner (its verdicts are "continue" at a high P(beat the incumbent)). Returns the
    study's id."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    memory = optuna.storages.InMemoryStorage()
    pruner = ForecastPruner(method="last_value", shadow=True)
    study = optuna.create_study(
        storage=memory,
        study_name="shadow",
        direction="maximize",
        pruner=pruner,
        sampler=optuna.samplers.RandomSampler(seed=0),
    )
    for ceiling in (0.95, 0.949, 0.948):  # a strong incumbent first, then close contenders
        study.enqueue_trial({"ceiling": ceiling, "optimizer": "adam"})
    study.optimize(objective, n_trials=n_trials)
    optuna.copy_study(from_study_name="shadow", from_storage=memory, to_storage=url)
    live = optuna.load_study(study_name="shadow", storage=url, pruner=pruner)
    running = live.ask({"ceiling": optuna.distributions.FloatDistribution(0.3, 0.99)})
    for step in range(N_STEPS // 2):
        running.report(0.96 + 0.001 * step, step)  # ahead of every finished trial
        assert not running.should_prune()  # a shadow pruner never prunes
    return live._study_id
