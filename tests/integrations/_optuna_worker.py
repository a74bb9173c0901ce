"""A worker process for the PostgreSQL test: optimises one shared study with ForecastPruner.

Usage: python _optuna_worker.py URL STUDY N_TRIALS MODE
MODE "normal" runs N_TRIALS; MODE "victim" writes its pid to STUDY.victim when its first trial
is half done and then hangs, to be killed with SIGKILL by the test.
"""

from __future__ import annotations

import math
import os
import sys
import time

import optuna

from curvecast.integrations.optuna import ForecastPruner

url, study_name, n_trials, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
optuna.logging.set_verbosity(optuna.logging.WARNING)
storage = optuna.storages.RDBStorage(url, heartbeat_interval=1, grace_period=3)
study = optuna.load_study(
    study_name=study_name,
    storage=storage,
    pruner=ForecastPruner(method="last_value", bounds=(0, 1)),
)


def objective(trial: optuna.Trial) -> float:
    lr = trial.suggest_float("lr", 1e-3, 1.0, log=True)
    ceiling = 0.9 * (1 - abs(math.log10(lr) + 1) / 4)
    acc = 0.0
    for step in range(1, 21):
        acc = ceiling * (1 - math.exp(-3 * lr * step))
        trial.report(acc, step)
        if mode == "victim" and step == 10:
            with open(f"{study_name}.victim", "w") as fh:
                fh.write(f"{os.getpid()} {trial.number}")
            time.sleep(600)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return acc


study.optimize(objective, n_trials=n_trials)
