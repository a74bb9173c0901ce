"""``curvecast bench prune``: real searches replayed through every pruner, aggregated honestly.

For each suite, each task is one search over its configurations; each search is replayed in
``orders`` random orders, the same orders for every pruner, once per *setting* (``workers``
trials in flight: 1 is a sequential search, Optuna's ``n_jobs=1``) and per *size* (at most
``configs`` configurations per search; a suite whose searches are all smaller runs once, with
every run, and the report says so). Aggregates are per (suite, setting, size, pruner): the
median and IQM of the speedup in points and in compute (:data:`~curvecast.bench.prune.SUITE_COST`)
and the mean regret, with stratified bootstrap 95% intervals (tasks are strata, orders are runs),
and the share of replays in which the best configuration was kept (regret 0).
"""

from __future__ import annotations

import math
import os
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.bench.aggregate import Interval, pooled_iqm, pooled_mean, stratified_bootstrap
from curvecast.bench.prune import (
    PRUNERS,
    SUITE_COST,
    CostKind,
    ReplayResult,
    make_judge,
    replay,
)
from curvecast.curves import Curve

__all__ = ["PruneConfig", "PruneResult", "aggregate", "run_prune_bench", "write_prune_report"]

#: How each suite is read for pruning: lcbench-surrogate is sampled (configs per task); the
#: others are used whole, keeping 2-point runs so that early divergences count.
_MIN_POINTS = {"lcdb": 3, "lcbench-surrogate": 3, "scanbench-vlm": 2, "scanbench-llm": 2}
#: Tasks with fewer configurations than this are no search worth replaying.
_MIN_SEARCH = 4


@dataclass(frozen=True)
class PruneConfig:
    """What one ``bench prune`` run does; see :func:`run_prune_bench`.

    ``configs`` are the search sizes (at most that many configurations per search) and
    ``workers`` the settings (trials in flight), each a tuple of positive ints.
    """

    suites: tuple[str, ...]
    pruners: tuple[str, ...] = PRUNERS
    data_dir: str | None = None
    configs: tuple[int, ...] = (100, 1000)
    tasks: int | None = None
    orders: int = 3
    workers: tuple[int, ...] = (1, 4)
    seed: int = 0
    jobs: int = 1
    n_boot: int = 1000


@dataclass
class PruneResult:
    """Rows (one per replay, see :meth:`ReplayResult.to_dict` plus suite and size), traces and
    what each suite's searches hold.

    ``traces`` maps ``"suite|workers|size|pruner"`` to (compute fraction, relative regret of the
    best completed trial) after each trial ended. ``runs`` maps a suite to the configurations
    per task over all its tasks (before ``tasks`` cuts them; lcbench-surrogate, which draws as
    many for every task, evaluates and counts only the tasks kept), ``sizes`` a suite to
    ``{size: note}`` for every size asked (note "" where the size was run as asked).
    """

    config: PruneConfig
    rows: list[dict[str, Any]] = field(default_factory=list)
    traces: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    searches: dict[str, int] = field(default_factory=dict)
    runs: dict[str, list[int]] = field(default_factory=dict)
    sizes: dict[str, dict[int, str]] = field(default_factory=dict)
    seconds: float = 0.0


def _searches(
    suite: str, cfg: PruneConfig, fixture: Sequence[Curve] | None
) -> tuple[list[list[Curve]], list[int]]:
    """The suite's searches (one per task, each in a fixed random order, so that a smaller size
    is a prefix of a larger one) and the configurations per task over all tasks."""
    if fixture is not None:
        curves = list(fixture)
    else:
        from curvecast.bench.sources import load_suite

        limit, keep = None, None
        if suite == "lcbench-surrogate":  # a surrogate: draw as many as the largest size asks
            limit = 34 * max(cfg.configs)
            keep = _surrogate_tasks(cfg)
        curves = load_suite(
            suite,
            data_dir=cfg.data_dir,
            limit=limit,
            seed=cfg.seed,
            min_points=_MIN_POINTS.get(suite, 3),
            task_names=keep,
        )
    by_task: dict[str, list[Curve]] = {}
    for c in curves:
        by_task.setdefault(str(c.meta.get("task", "all")), []).append(c)
    names = sorted(t for t, cs in by_task.items() if len(cs) >= _MIN_SEARCH)
    runs = sorted(len(by_task[t]) for t in names)
    names = _draw_tasks(names, cfg)
    out = []
    for t in names:
        perm = np.random.default_rng([cfg.seed, 11, zlib.crc32(t.encode())]).permutation(
            len(by_task[t])
        )
        out.append([by_task[t][i] for i in perm])
    return out, runs


def _surrogate_tasks(cfg: PruneConfig) -> list[str] | None:
    """The lcbench-surrogate tasks that ``_searches`` keeps, drawn before the surrogate is
    evaluated (one configuration per task names them all), so that only those are evaluated:
    the same draw as from the whole suite. None: every task."""
    if cfg.tasks is None or max(cfg.configs) < _MIN_SEARCH:
        return None
    from curvecast.bench.sources import load_suite

    probe = load_suite("lcbench-surrogate", data_dir=cfg.data_dir, limit=34, seed=cfg.seed)
    names = sorted({str(c.meta.get("task", "all")) for c in probe})
    return None if len(names) <= cfg.tasks else _draw_tasks(names, cfg)


def _draw_tasks(names: list[str], cfg: PruneConfig) -> list[str]:
    """The ``cfg.tasks`` of the sorted task ``names`` that a run replays (all when as many or
    fewer), drawn from ``cfg.seed``."""
    if cfg.tasks is None or len(names) <= cfg.tasks:
        return names
    rng = np.random.default_rng([cfg.seed, 7])
    return sorted(rng.choice(names, size=cfg.tasks, replace=False).tolist())


def _sizes(searches: list[list[Curve]], sizes: Sequence[int]) -> dict[int, str]:
    """``{size: note}``: "" where the searches are cut to that size (the largest search has at
    least that many runs), "all N" where the largest search has N < size runs and this is the
    first such size (run with every run), "skip S" where the size S < this one already ran
    every run."""
    largest = max((len(s) for s in searches), default=0)
    out: dict[int, str] = {}
    whole = None
    for n in sorted(set(sizes)):
        if n <= largest:
            out[n] = ""
        elif whole is None:
            whole = n
            out[n] = f"all {largest}"
        else:
            out[n] = f"skip {whole}"
    return out


Unit = tuple[str, list[Curve], tuple[str, ...], int, int, int, int, CostKind]


def _replay_unit(args: Unit) -> list[ReplayResult]:
    """Every pruner on one search in one order, one setting: the unit of work of a job."""
    task, curves, pruners, order, workers, _size, seed, cost = args
    perm = np.random.default_rng([seed, order, zlib.crc32(task.encode())]).permutation(len(curves))
    ordered = [curves[i] for i in perm]
    out = []
    for name in pruners:
        judge = make_judge(name, ordered, cost)
        r = replay(ordered, judge, pruner=name, task=task, order=order, workers=workers, cost=cost)
        out.append(r)
    return out


def _available(pruners: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    ok, skipped = [], {}
    for name in pruners:
        try:
            if name == "asha":
                import ray.tune  # noqa: F401

                import curvecast.bench.replay_ray  # noqa: F401
            else:
                import optuna  # noqa: F401
            ok.append(name)
        except ImportError as exc:
            skipped[name] = f"not importable ({exc})"
    return ok, skipped


def run_prune_bench(
    cfg: PruneConfig,
    *,
    progress: Callable[[str], None] = lambda _msg: None,
    fixture: Mapping[str, Sequence[Curve]] | None = None,
) -> PruneResult:
    """Replay every search of every suite through every pruner, in every setting and size;
    ``fixture`` maps a suite name to its curves instead of loading it (tests, smoke runs).

    The work is split into units of (search, order, setting, size), each running every pruner;
    ``cfg.jobs > 1`` runs them in that many processes, the largest searches first.
    """
    started = time.perf_counter()
    pruners, skipped = _available(cfg.pruners)
    result = PruneResult(cfg, skipped=skipped)
    units: list[tuple[str, int, Unit]] = []
    for suite in cfg.suites:
        searches, runs = _searches(suite, cfg, None if fixture is None else fixture[suite])
        result.searches[suite] = len(searches)
        result.runs[suite] = runs
        result.sizes[suite] = sizes = _sizes(searches, cfg.configs)
        cost = SUITE_COST.get(suite, "report")
        for size, note in sizes.items():
            if note.startswith("skip"):
                continue
            for s in searches:
                task = str(s[0].meta.get("task", "all"))
                for w in cfg.workers:
                    for o in range(cfg.orders):
                        unit = (task, s[:size], tuple(pruners), o, w, size, cfg.seed, cost)
                        units.append((suite, size, unit))
        progress(
            f"{suite}: {len(searches)} searches (configurations per task over all tasks: "
            f"{_runs_text(runs)}) x {cfg.orders} orders x settings {list(cfg.workers)} x sizes "
            f"{[n for n, v in sizes.items() if not v.startswith('skip')]} x {len(pruners)} pruners"
        )
    order = sorted(range(len(units)), key=lambda i: -len(units[i][2][1]))  # big first
    done: dict[int, list[ReplayResult]] = {}
    loaded = time.perf_counter()
    progress(f"suites loaded in {loaded - started:.0f} s; {len(units)} replay units to run")
    if cfg.jobs > 1 and len(units) > 1:
        with ProcessPoolExecutor(cfg.jobs) as pool:
            futures = {i: pool.submit(_replay_unit, units[i][2]) for i in order}
            for n, i in enumerate(order, 1):
                done[i] = futures[i].result()
                _tick(progress, n, len(units), loaded)
    else:
        for n, i in enumerate(order, 1):
            done[i] = _replay_unit(units[i][2])
            _tick(progress, n, len(units), loaded)
    for i, (suite, size, _unit) in enumerate(units):
        for r in done[i]:
            result.rows.append({"suite": suite, "size": size, **r.to_dict()})
            key = f"{suite}|{r.workers}|{size}|{r.pruner}"
            result.traces.setdefault(key, []).extend(
                (c / r.compute_full, _norm_regret(best, r)) for _p, c, best in r.trace
            )
    result.seconds = time.perf_counter() - started
    return result


def _tick(progress: Callable[[str], None], n: int, total: int, started: float) -> None:
    """Progress every 5% of the units, with a bound on the time left: the units run largest
    first, so the rate so far is the slowest."""
    if n == total or n % max(1, total // 20) == 0:
        spent = time.perf_counter() - started
        left = spent / n * (total - n)
        progress(f"  {n}/{total} replay units done ({spent:.0f} s; at most ~{left:.0f} s left)")


def _runs_text(runs: Sequence[int]) -> str:
    if not runs:
        return "none"
    return f"{runs[0]}/{runs[len(runs) // 2]}/{runs[-1]} min/median/max"


def _norm_regret(best: float, r: ReplayResult) -> float:
    if not math.isfinite(best):
        return 1.0
    return min(1.0, abs(r.best_possible - best) / max(abs(r.best_possible), 1e-12))


def _pooled_median(groups: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    result: NDArray[np.float64] = np.median(np.concatenate(groups, axis=1), axis=1)
    return result


#: The key of an aggregate: (suite, workers, size, pruner).
_KEY = ("suite", "workers", "size", "pruner")


def aggregate(result: PruneResult) -> list[dict[str, Any]]:
    """Per (suite, workers, size, pruner): the median and IQM of the speedup in points, the
    median of the speedup in compute, the mean regret and relative regret, with stratified
    bootstrap intervals (strata: tasks; runs: orders); the share of replays that kept the best
    configuration, the share of trials pruned and the seconds per replay."""
    out = []
    rng = np.random.default_rng(result.config.seed)
    groups_of: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in result.rows:
        groups_of.setdefault(tuple(r[k] for k in _KEY), []).append(r)
    for key, rows in groups_of.items():
        tasks = list(dict.fromkeys(r["task"] for r in rows))

        def boot(
            stat: Callable[[list[NDArray[np.float64]]], NDArray[np.float64]],
            name: str,
            rows: list[dict[str, Any]] = rows,
            tasks: list[str] = tasks,
        ) -> Interval:
            groups = [
                np.array([r[name] for r in rows if r["task"] == t], dtype=float) for t in tasks
            ]
            return stratified_bootstrap(groups, stat, rng=rng, n_boot=result.config.n_boot)

        out.append({
            **dict(zip(_KEY, key, strict=True)), "replays": len(rows), "tasks": len(tasks),
            "speedup_median": boot(_pooled_median, "speedup"),
            "speedup_iqm": boot(pooled_iqm, "speedup"),
            "compute_speedup_median": boot(_pooled_median, "compute_speedup"),
            "regret_mean": boot(pooled_mean, "regret"),
            "rel_regret_mean": boot(pooled_mean, "rel_regret"),
            "best_kept": float(np.mean([r["regret"] == 0 for r in rows])),
            "pruned_share": float(np.sum([r["n_pruned"] for r in rows])
                                  / max(1, np.sum([r["n_trials"] for r in rows]))),
            "seconds_per_replay": float(np.mean([r["seconds"] for r in rows])),
        })  # fmt: skip
    return out


def write_prune_report(
    result: PruneResult, out: str | os.PathLike[str], *, command_line: str, plots: bool = True
) -> tuple[str, dict[str, Path]]:
    """See :func:`curvecast.bench.prune_report.write_prune_report` (kept here for callers)."""
    from curvecast.bench.prune_report import write_prune_report as write

    return write(result, out, command_line=command_line, plots=plots)
