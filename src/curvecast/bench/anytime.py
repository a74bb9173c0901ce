"""``curvecast bench anytime``: regret against compute when runs can be paused and resumed.

``bench prune`` asks how much a pruner saves by the end of a search; this benchmark asks what a
user holds at every moment of a search with a fixed compute budget. Each task's configurations
(their full, real curves) are replayed in random orders by one worker, up to ``budget`` times the
compute of running every configuration to its end, through:

* ``none``: random search without pruning, each configuration run to its end in order;
* ``freeze_thaw``: :class:`curvecast.pruning.FreezeThaw`, which pauses and resumes runs;
* ``ray_freeze_thaw``: curvecast's Ray ``ForecastScheduler(freeze_thaw=True)``, and
  ``ray_hyperband``: Ray's ``HyperBandScheduler`` (synchronous Hyperband, it pauses and resumes),
  both through :class:`curvecast.bench.replay_ray.PausingController`, Tune's controller stood in;
* the stop-only pruners of ``bench prune``, one trial at a time: ``asha`` (Ray's
  ``AsyncHyperBandScheduler``), ``successive_halving`` and ``hyperband`` (Optuna's), ``curvecast``
  (``ForecastPruner()``), ``median``.

Compute is counted with the suite's step cost (:data:`STEP_COST`): an epoch or a step where the
axis is epochs, steps or tokens; the anchor size on LCDB, whose anchors each train from scratch.
A paused run resumes from its checkpoint at no extra cost. After every report the replay records
the compute used, the best *completed* final value (what a user can deploy: the headline) and the
best value *seen* in any report (an optimistic view: a value seen mid-run may not be the run's
final value, and no run with it may have finished).

Metrics per replay, with ``regret = |best final of all configurations - best so far|`` (before
anything completed: the gap between the best and the worst final, as if the worst were deployed):
regret at 10%, 25% and 50% of the compute without pruning, and the area under the normalised
regret curve (regret / that gap, clipped to [0, 1], averaged over compute fractions from 0 to
``budget``; 0 is finding the best configuration at once, 1 is finding nothing).
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from curvecast.curves import Curve
from curvecast.exceptions import parameter_error

__all__ = [
    "FRACTIONS",
    "METHODS",
    "STEP_COST",
    "AnytimeConfig",
    "AnytimeResult",
    "AnytimeTrace",
    "replay_anytime",
    "run_anytime_bench",
]

#: The methods, in table order; see the module docstring.
METHODS: tuple[str, ...] = (
    "none",
    "freeze_thaw",
    "ray_freeze_thaw",
    "ray_hyperband",
    "asha",
    "successive_halving",
    "hyperband",
    "curvecast",
)
#: Compute fractions (of the search without pruning) at which regret is reported.
FRACTIONS: tuple[float, ...] = (0.1, 0.25, 0.5)
#: The step cost of each suite (as ``step_cost=`` of curvecast's pruners): "step" where the axis
#: is epochs, steps or tokens; on LCDB each anchor trains from scratch on that many examples.
STEP_COST: dict[str, Any] = {"lcdb": "anchor"}

_PAUSING = ("freeze_thaw", "ray_freeze_thaw", "ray_hyperband")


def _cost_fn(suite: str) -> Callable[[float, float], float]:
    """cost(step, previous step) of one report on ``suite``."""
    if STEP_COST.get(suite) == "anchor":
        return lambda step, prev: step
    return lambda step, prev: step - prev


def _user_step_cost(suite: str) -> Any:
    """The same cost as FreezeThaw's ``step_cost``."""
    if STEP_COST.get(suite) == "anchor":
        return lambda step: step
    return "step"


@dataclass
class AnytimeTrace:
    """One search replayed by one method.

    ``trace`` holds, after each report, (compute used, best completed final, best value seen);
    NaN where there is none yet.
    """

    method: str
    task: str
    order: int
    compute_full: float
    best_possible: float
    worst_possible: float
    seconds: float
    trace: list[tuple[float, float, float]] = field(default_factory=list)
    n_resumed: int = 0

    def regret_at(self, fraction: float, *, seen: bool = False) -> float:
        """Regret of the best completed final (``seen``: the best value seen) once
        ``fraction`` of the unpruned compute is used."""
        best = math.nan
        limit = fraction * self.compute_full * (1 + 1e-12)
        for c, done, s in self.trace:
            if c > limit:
                break
            best = s if seen else done
        return self._regret(best)

    def _regret(self, best: float) -> float:
        if not math.isfinite(best):
            return abs(self.best_possible - self.worst_possible)
        return abs(self.best_possible - best)

    def auc(self, budget: float, *, seen: bool = False) -> float:
        """Mean normalised regret over compute fractions in [0, ``budget``] (a step function)."""
        gap = abs(self.best_possible - self.worst_possible)
        if gap == 0:
            return 0.0
        xs = [0.0] + [c / self.compute_full for c, _, _ in self.trace]
        ys = [1.0] + [min(1.0, self._regret(s if seen else d) / gap) for _, d, s in self.trace]
        total = 0.0
        for i, x in enumerate(xs):
            end = min(xs[i + 1] if i + 1 < len(xs) else budget, budget)
            if end > x:
                total += ys[i] * (end - x)
        return total / budget


def _final(curve: Curve) -> float:
    v = float(curve.y[-1])
    return v if math.isfinite(v) and not curve.diverged else math.nan


def _steps(curve: Curve) -> list[int]:
    from curvecast.bench.prune import _steps as prune_steps

    return prune_steps(curve)


class _Search:
    """The replayed search: each configuration's progress, the compute, the trace."""

    def __init__(self, curves: Sequence[Curve], suite: str, budget: float) -> None:
        self.curves = curves
        self.maximize = curves[0].direction == "maximize"
        self.steps = [_steps(c) for c in curves]
        cost = _cost_fn(suite)
        self.costs = [[cost(s[k], s[k - 1] if k else 0) for k in range(len(s))] for s in self.steps]
        self.full = float(sum(sum(c) for c in self.costs))
        self.limit = budget * self.full
        self.used = 0.0
        self.k = [0] * len(curves)
        self.best_done = math.nan
        self.best_seen = math.nan
        self.trace: list[tuple[float, float, float]] = []

    def _better(self, a: float, b: float) -> bool:
        return math.isnan(b) or (a > b if self.maximize else a < b)

    @property
    def exhausted(self) -> bool:
        return self.used >= self.limit

    def ended(self, i: int) -> bool:
        """Reported its last point, or its last report was non-finite (a diverged run ends)."""
        k = self.k[i]
        if k >= len(self.steps[i]):
            return True
        return k > 0 and not math.isfinite(float(self.curves[i].y[k - 1]))

    def advance(self, i: int) -> tuple[int, float, bool]:
        """Report configuration ``i``'s next point: (step, value, whether it is its last)."""
        k = self.k[i]
        step, value = self.steps[i][k], float(self.curves[i].y[k])
        self.k[i] = k + 1
        self.used += self.costs[i][k]
        last = self.ended(i)
        if math.isfinite(value) and self._better(value, self.best_seen):
            self.best_seen = value
        if last and k + 1 == len(self.steps[i]):
            f = _final(self.curves[i])
            if math.isfinite(f) and self._better(f, self.best_done):
                self.best_done = f
        self.trace.append((self.used, self.best_done, self.best_seen))
        return step, value, last

    def result(self, method: str, task: str, order: int, seconds: float) -> AnytimeTrace:
        finals = [f for f in (_final(c) for c in self.curves) if math.isfinite(f)]
        best = (max if self.maximize else min)(finals) if finals else math.nan
        worst = (min if self.maximize else max)(finals) if finals else math.nan
        return AnytimeTrace(method, task, order, self.full, best, worst, seconds, self.trace)


def replay_anytime(
    curves: Sequence[Curve],
    method: str,
    *,
    suite: str,
    budget: float = 0.5,
    task: str = "",
    order: int = 0,
    seed: int = 0,
) -> AnytimeTrace:
    """Replay one search (``curves`` in the order to run) by ``method`` (see :data:`METHODS`;
    also "median") with one worker, up to ``budget`` times the compute of the unpruned search.

    Raises:
        InvalidParameterError: an unknown method, or a budget not in (0, 1].
        MissingDependencyError: Ray or Optuna, where the method needs it.
    """
    if method not in (*METHODS, "median"):
        raise parameter_error("method", "replay_anytime", f"one of {', '.join(METHODS)}", method)
    if isinstance(budget, bool) or not isinstance(budget, int | float) or not 0 < budget <= 1:
        raise parameter_error("budget", "replay_anytime", "a number in (0, 1]", budget)
    started = time.perf_counter()
    search = _Search(curves, suite, budget)
    n_resumed = 0
    if method == "freeze_thaw":
        n_resumed = _run_freeze_thaw(search, suite, seed)
    elif method in ("ray_freeze_thaw", "ray_hyperband"):
        n_resumed = _run_pausing(search, method, seed)
    else:
        _run_in_order(search, method)
    out = search.result(method, task, order, time.perf_counter() - started)
    out.n_resumed = n_resumed
    return out


def _run_in_order(search: _Search, method: str) -> None:
    """One trial at a time, each to its end or until the pruner stops it."""
    judge = None
    if method != "none":
        from curvecast.bench.prune import make_judge

        judge = make_judge(method, search.curves)
    for i in range(len(search.curves)):
        if search.exhausted:
            return
        if judge is not None:
            judge.start(str(i))
        while not search.exhausted:
            step, value, last = search.advance(i)
            stop = judge is not None and judge.report(str(i), step, value)
            if last:
                if judge is not None and not stop:
                    judge.complete(str(i))
                break
            if stop:
                break


def _run_freeze_thaw(search: _Search, suite: str, seed: int) -> int:
    from curvecast.pruning import FreezeThaw

    curves = search.curves
    ft = FreezeThaw(
        curves[0].direction,
        bounds=curves[0].bounds,
        step_cost=_user_step_cost(suite),
        seed=seed,
    )
    for i, steps in enumerate(search.steps):
        ft.add(str(i), horizon=steps[-1], schedule=curves[i].meta.get("schedule"))
    resumed = 0
    while not search.exhausted:
        choice = ft.next()
        if choice is None or choice.trial_id is None:
            break
        resumed += choice.action == "resume"
        i = int(choice.trial_id)
        step, value, last = search.advance(i)
        ft.report(choice.trial_id, step, value)
        if last and ft.state(choice.trial_id) == "running":  # ended before its budget
            ft.complete(choice.trial_id)
    return resumed


def _run_pausing(search: _Search, method: str, seed: int) -> int:
    from curvecast.bench.replay_ray import (
        PausingController,
        freeze_thaw_scheduler,
        hyperband_scheduler,
    )

    curves = search.curves
    mode = "max" if search.maximize else "min"
    ids = [str(i) for i in range(len(curves))]
    if method == "ray_hyperband":
        max_t = max(s[-1] for s in search.steps)
        scheduler = hyperband_scheduler(max_t=max_t, mode=mode)
    else:
        budgets = {str(i): float(s[-1]) for i, s in enumerate(search.steps)}
        schedules = {
            str(i): c.meta["schedule"] for i, c in enumerate(curves) if "schedule" in c.meta
        }
        scheduler = freeze_thaw_scheduler(
            budgets, mode=mode, bounds=curves[0].bounds, seed=seed, schedules=schedules
        )
    ctl = PausingController(scheduler, ids, metric="score")
    while not search.exhausted:
        tid = ctl.next_trial()
        if tid is None:
            break
        i = int(tid)
        while not search.exhausted:
            step, value, last = search.advance(i)
            if ctl.report(tid, step, value, last=last) != "continue" or last:
                break
    return ctl.n_resumed


# -- the benchmark over suites -------------------------------------------------------------------


@dataclass(frozen=True)
class AnytimeConfig:
    """What one ``bench anytime`` run does (see :func:`run_anytime_bench`)."""

    suites: tuple[str, ...]
    methods: tuple[str, ...] = METHODS
    data_dir: str | None = None
    configs: int = 100
    tasks: int | None = None
    orders: int = 3
    budget: float = 0.5
    seed: int = 0
    n_boot: int = 1000
    jobs: int = 1


@dataclass
class AnytimeResult:
    config: AnytimeConfig
    traces: list[tuple[str, AnytimeTrace]] = field(default_factory=list)  # (suite, trace)
    skipped: dict[str, str] = field(default_factory=dict)
    searches: dict[str, int] = field(default_factory=dict)


def _available(methods: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    ok, skipped = [], {}
    for name in methods:
        try:
            if name in ("asha", "ray_hyperband", "ray_freeze_thaw"):
                import ray.tune  # noqa: F401
            elif name != "none" and name != "freeze_thaw":
                import optuna  # noqa: F401
            ok.append(name)
        except ImportError as exc:
            skipped[name] = f"not importable ({exc})"
    return ok, skipped


def run_anytime_bench(
    cfg: AnytimeConfig,
    *,
    progress: Callable[[str], None] = lambda _msg: None,
    fixture: Mapping[str, Sequence[Curve]] | None = None,
) -> AnytimeResult:
    """Replay every search of every suite by every method, in ``cfg.orders`` random orders
    (the same orders for every method); ``fixture`` maps a suite name to its curves instead of
    loading it (tests, smoke runs)."""
    from curvecast.bench.prune_run import PruneConfig, _searches

    methods, skipped = _available(cfg.methods)
    result = AnytimeResult(cfg, skipped=skipped)
    for suite in cfg.suites:
        pcfg = PruneConfig(
            suites=(suite,), data_dir=cfg.data_dir, configs=(cfg.configs,), tasks=cfg.tasks,
            seed=cfg.seed,
        )  # fmt: skip
        shuffled, _ = _searches(suite, pcfg, None if fixture is None else fixture[suite])
        searches = [s[: cfg.configs] for s in shuffled]  # each task's first configs, as prune
        result.searches[suite] = len(searches)
        progress(
            f"{suite}: {len(searches)} searches x {cfg.orders} orders x {len(methods)} methods"
        )
        jobs = [(curves, suite, tuple(methods), cfg) for curves in searches]
        if cfg.jobs > 1 and len(jobs) > 1:
            with ProcessPoolExecutor(min(cfg.jobs, len(jobs))) as pool:
                for n, traces in enumerate(pool.map(_replay_search, jobs), 1):
                    result.traces.extend((suite, t) for t in traces)
                    progress(f"  {suite}: search {n}/{len(searches)} done")
        else:
            for n, job in enumerate(jobs, 1):
                result.traces.extend((suite, t) for t in _replay_search(job))
                progress(f"  {suite}: search {n}/{len(searches)} done")
    return result


def _replay_search(
    job: tuple[list[Curve], str, tuple[str, ...], AnytimeConfig],
) -> list[AnytimeTrace]:
    """Every order of one search by every method (the same orders for every method)."""
    curves, suite, methods, cfg = job
    task = str(curves[0].meta.get("task", "all"))
    out = []
    for o in range(cfg.orders):
        perm = np.random.default_rng([cfg.seed, o, zlib.crc32(task.encode())]).permutation(
            len(curves)
        )
        ordered = [curves[i] for i in perm]
        for m in methods:
            out.append(
                replay_anytime(
                    ordered, m, suite=suite, budget=cfg.budget, task=task, order=o, seed=cfg.seed
                )
            )
    return out
