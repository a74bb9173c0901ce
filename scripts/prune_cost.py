"""How much one ``trial.should_prune()`` costs with ForecastPruner in a study of many trials.

Usage: python scripts/prune_cost.py [--trials 1000] [--storage inmemory|sqlite] [--repeats 30]

Fills a study with N completed trials of 50 reported steps each (no pruner, so filling is
quick), then times ``should_prune`` on a fresh trial at a check point (a forecast is due) and
between check points (none is due), and prints p50/p95 in milliseconds. The first call after
new trials complete rebuilds the pruner's cached summary of them; later calls reuse it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna

from curvecast.integrations.optuna import ForecastPruner


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=1000)
    p.add_argument("--storage", choices=["inmemory", "sqlite"], default="inmemory")
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--method", default="auto")
    args = p.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = None
    if args.storage == "sqlite":
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'cost.db'}"
    rng = np.random.default_rng(0)
    study = optuna.create_study(storage=url, direction="maximize")
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    steps = np.arange(1, 51)
    trials = []
    for _ in range(args.trials):
        top = rng.uniform(0.5, 0.95)
        values = top - (top - 0.1) * steps ** -rng.uniform(0.3, 1.2)
        trials.append(
            optuna.trial.create_trial(
                params={"x": float(rng.uniform())}, distributions=dist, value=float(values[-1]),
                intermediate_values={int(s): float(v) for s, v in zip(steps, values, strict=True)},
            )
        )  # fmt: skip
    study.add_trials(trials)
    pruner = ForecastPruner(method=args.method, bounds=(0, 1))
    study.pruner = pruner
    trial = study.ask()
    for s in range(1, 6):
        trial.report(0.2 + 0.01 * s, s)  # 5 reports: a check point (checks at 2, 3, 4, 5, 6, 8)
    times_check, times_between = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        trial.should_prune()
        times_check.append(time.perf_counter() - t0)
    trial.report(0.26, 6)
    trial.report(0.27, 7)  # 7 reports: between check points
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        trial.should_prune()
        times_between.append(time.perf_counter() - t0)

    def fmt(ts: list[float]) -> str:
        a = np.array(ts) * 1e3
        return f"p50 {np.percentile(a, 50):.2f} ms, p95 {np.percentile(a, 95):.2f} ms"

    print(f"storage={args.storage} completed trials={args.trials} method={args.method}")
    print(f"  should_prune at a check point (forecast due): {fmt(times_check)}")
    print(f"  should_prune between check points:            {fmt(times_between)}")


if __name__ == "__main__":
    main()
