"""How much one ``trial.should_prune()`` costs with ForecastPruner in a study of many trials.

Usage: python scripts/prune_cost.py [--mode sequence|repeat] [--trials 1000]
       [--storage inmemory|sqlite] [--prefill 0] [--repeats 30] [--method auto]

``--mode sequence`` (default) runs a real search: ``--trials`` trials one after another, each
reporting up to 50 steps of a learning curve (a seeded random ceiling and rate, with noise) and
calling ``should_prune`` after every report, pruned where ForecastPruner says so; every call is
timed, as a user's training loop sees it (Optuna's own storage reads and writes included). It
prints p50/p95/p99 over all calls and over the calls of the last tenth of the trials (the search
at its size). ``--prefill K`` first adds K completed trials without a pruner (quicker; the
sequence then runs the remaining trials).

``--mode repeat`` is the older micro-benchmark: N completed trials, then ``should_prune`` repeated
on one fresh trial at a check point and between check points (its caches stay warm, so it
understates what a real sequence costs).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna

from curvecast.integrations.optuna import ForecastPruner

STEPS = np.arange(1, 51)


def _values(rng: np.random.Generator) -> np.ndarray:
    """One learning curve over STEPS: accuracy rising to a random ceiling at a random rate."""
    top = rng.uniform(0.5, 0.95)
    curve = top - (top - 0.1) * STEPS ** -rng.uniform(0.3, 1.2)
    return np.clip(curve + rng.normal(0, 0.004, STEPS.size), 0, 1)


def _completed(n: int, rng: np.random.Generator) -> list[optuna.trial.FrozenTrial]:
    dist: dict[str, optuna.distributions.BaseDistribution] = {
        "x": optuna.distributions.FloatDistribution(0, 1)
    }
    out = []
    for _ in range(n):
        values = _values(rng)
        out.append(
            optuna.trial.create_trial(
                params={"x": float(rng.uniform())}, distributions=dist, value=float(values[-1]),
                intermediate_values={int(s): float(v) for s, v in zip(STEPS, values, strict=True)},
            )
        )  # fmt: skip
    return out


def _fmt(ts: list[float]) -> str:
    a = np.array(ts) * 1e3
    if a.size == 0:
        return "no calls"
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return f"p50 {p50:.2f} ms, p95 {p95:.2f} ms, p99 {p99:.2f} ms ({a.size} calls)"


def _print_times(label: str, calls: list[tuple[float, float]]) -> None:
    """Wall-clock and CPU time (of this thread: what contention for the CPU does not inflate)."""
    print(f"  {label}")
    print(f"    wall: {_fmt([w for w, _ in calls])}")
    print(f"    cpu:  {_fmt([c for _, c in calls])}")


def _sequence(args: argparse.Namespace, url: str | None) -> None:
    study = optuna.create_study(
        storage=url,
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=ForecastPruner(method=args.method, bounds=(0, 1)),
    )
    if args.prefill:
        study.add_trials(_completed(args.prefill, np.random.default_rng(1)))
    times: list[tuple[int, float, float]] = []  # (trial number, wall s, cpu s) of every call

    def objective(trial: optuna.Trial) -> float:
        trial.suggest_float("x", 0, 1)
        values = _values(np.random.default_rng(trial.number))
        for step, value in zip(STEPS, values, strict=True):
            trial.report(float(value), int(step))
            t0, c0 = time.perf_counter(), time.thread_time()
            prune = trial.should_prune()
            times.append((trial.number, time.perf_counter() - t0, time.thread_time() - c0))
            if prune:
                raise optuna.TrialPruned()
        return float(values[-1])

    started = time.perf_counter()
    study.optimize(objective, n_trials=args.trials - args.prefill)
    wall = time.perf_counter() - started
    states = [t.state for t in study.get_trials(deepcopy=False)]
    pruned = sum(s == optuna.trial.TrialState.PRUNED for s in states)
    late = args.trials - max(args.trials // 10, 1)
    print(
        f"storage={args.storage} mode=sequence trials={args.trials} (prefilled {args.prefill}) "
        f"method={args.method}: {pruned} pruned, {wall:.0f} s"
    )
    _print_times("should_prune, every call:", [(w, c) for _, w, c in times])
    _print_times(
        f"should_prune, trials {late}-{args.trials - 1}:",
        [(w, c) for n, w, c in times if n >= late],
    )


def _repeat(args: argparse.Namespace, url: str | None) -> None:
    study = optuna.create_study(storage=url, direction="maximize")
    study.add_trials(_completed(args.trials, np.random.default_rng(0)))
    study.pruner = ForecastPruner(method=args.method, bounds=(0, 1))
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
    print(f"storage={args.storage} mode=repeat completed trials={args.trials} method={args.method}")
    print(f"  should_prune at a check point (forecast due): {_fmt(times_check)}")
    print(f"  should_prune between check points:            {_fmt(times_between)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=["sequence", "repeat"], default="sequence")
    p.add_argument("--trials", type=int, default=1000)
    p.add_argument("--prefill", type=int, default=0)
    p.add_argument("--storage", choices=["inmemory", "sqlite"], default="inmemory")
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--method", default="auto")
    args = p.parse_args()
    if not 0 <= args.prefill < args.trials:
        p.error("--prefill must be >= 0 and below --trials")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = None
    if args.storage == "sqlite":
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'cost.db'}"
    (_sequence if args.mode == "sequence" else _repeat)(args, url)


if __name__ == "__main__":
    main()
