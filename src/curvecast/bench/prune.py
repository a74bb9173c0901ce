"""Replay real searches through real pruners: the simulator behind ``curvecast bench prune``.

A *search* is one task's configurations (their full, real curves) taken in a random order. The
simulator runs it with ``workers`` trials in flight: at each tick every running trial reports its
next point to a *judge* (a real Optuna pruner inside a real in-memory study, or Ray's real
scheduler objects), which says whether to stop. A trial that reaches its last point completes and
its final value becomes known to the search. Cost is counted twice: in points reported and in
compute, each report costing what :data:`SUITE_COST` says for its suite (see :func:`report_costs`).

Metrics of one replay:
    speedup: points of the search without pruning / points with pruning.
    compute_speedup: compute of the search without pruning / compute with pruning.
    regret: |best final of all configurations - best final among the *completed* trials|: what
        the user loses by pruning (a pruned trial's final value is never seen). A search in which
        no trial completed with a finite value scores the worst final of all configurations as
        its best found: it found nothing.
    rel_regret: regret / |best final of all configurations|.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Curve

__all__ = [
    "PRUNERS",
    "SUITE_COST",
    "CostKind",
    "Judge",
    "ReplayResult",
    "make_judge",
    "pruner_step_cost",
    "replay",
    "report_costs",
]

#: How the compute of one report is counted (see :func:`report_costs`):
#: "report" 1 per report; "step" the step axis is the compute (a report at step s costs s minus
#: the previous reported step, the first costs s); "anchor" each report retrains from scratch on
#: s units (a report at step s costs s).
CostKind = Literal["report", "step", "anchor"]

#: The compute of a report in each suite, and why:
#:
#: - lcdb: x is the training-set size of an anchor, and LCDB trains every anchor from scratch,
#:   so the report at anchor a costs a (training cost at least linear in the examples; the
#:   anchors grow geometrically, so the last anchor alone is about 30% of the run).
#: - lcbench-surrogate: x is the epoch (1, 2, ..., 52): one per epoch, "step" says the same.
#: - scanbench-vlm: x is the epoch (1, 2, ...): one per epoch.
#: - scanbench-llm: x is the tokens seen at the checkpoint, unevenly spaced (a run's 2 to 10
#:   checkpoints are not equidistant): a checkpoint costs the tokens since the previous one.
#:   (FLOPs would also weigh each run by its parameter count, which differs 2-20x within a
#:   flops bin; a pruner's step_cost is a function of the step alone, so tokens it is.)
#: - schedules: x is the optimiser step, reported every 20 steps: the step difference (20 per
#:   report, proportional to 1 per report).
#: - fixture and any other suite: 1 per report.
SUITE_COST: dict[str, CostKind] = {
    "lcdb": "anchor",
    "lcbench-surrogate": "step",
    "scanbench-vlm": "step",
    "scanbench-llm": "step",
    "schedules": "step",
    # our own scikit-learn runs: one epoch per report, all epochs alike
    "sklearn-mlp": "step",
    # the held-out suites: x counts optimiser steps, boosting rounds, environment steps
    "heldout-lm": "step",
    "heldout-gbm": "step",
    "heldout-rl": "step",
}


def report_costs(steps: Sequence[float], kind: CostKind) -> NDArray[np.float64]:
    """The compute of each report of one run, shape ``(n,)`` for ``steps`` of shape ``(n,)``
    (increasing; see :data:`CostKind` for ``kind``).

    Raises:
        ValueError: an unknown ``kind``, or a step cost that is negative.

    Example:
        >>> report_costs([16, 32, 64], "anchor").tolist(), report_costs([2, 5], "step").tolist()
        ([16.0, 32.0, 64.0], [2.0, 3.0])
    """
    s = np.asarray(steps, dtype=np.float64)
    if kind == "report":
        return np.ones_like(s)
    if kind == "anchor":
        out = s.copy()
    elif kind == "step":
        out = np.diff(s, prepend=0.0)
    else:
        raise ValueError(f"the cost kind must be one of report, step, anchor; got {kind!r}")
    if np.any(out < 0):
        raise ValueError(f"a {kind!r} cost needs non-negative increasing steps; got {s[:5]}...")
    return out


def _anchor_cost(step: float) -> float:
    """``step_cost`` of a run whose every report retrains from scratch on ``step`` units."""
    return float(step)


def pruner_step_cost(kind: CostKind) -> Any:
    """What ForecastPruner(step_cost=...) takes for ``kind``: None (1 per report), "step", or
    a function of the step (an anchor costs its size)."""
    return {"report": None, "step": "step", "anchor": _anchor_cost}[kind]


class Judge(Protocol):
    """A pruner seen from the simulator: start a trial, report points, complete it."""

    def start(self, trial_id: str) -> None: ...

    def report(self, trial_id: str, step: int, value: float) -> bool:
        """Record one point; True means stop the trial now."""
        ...

    def complete(self, trial_id: str) -> None: ...


@dataclass
class ReplayResult:
    """One search replayed with one pruner, with ``workers`` trials in flight.

    ``trace`` holds, after each trial ended, (points used so far, compute used so far, best
    completed final so far).
    """

    pruner: str
    task: str
    order: int
    points: int
    points_full: int
    best_found: float
    best_possible: float
    worst_possible: float
    n_trials: int
    n_pruned: int
    n_diverged: int
    seconds: float
    trace: list[tuple[int, float, float]] = field(default_factory=list)
    compute: float = math.nan
    compute_full: float = math.nan
    workers: int = 1

    @property
    def speedup(self) -> float:
        return self.points_full / max(self.points, 1)

    @property
    def compute_speedup(self) -> float:
        """Compute without pruning / compute with (NaN where no compute was counted)."""
        if not self.compute > 0:
            return math.nan
        return self.compute_full / self.compute

    @property
    def regret(self) -> float:
        found = self.best_found if math.isfinite(self.best_found) else self.worst_possible
        return abs(self.best_possible - found)

    @property
    def rel_regret(self) -> float:
        return self.regret / max(abs(self.best_possible), 1e-12)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pruner": self.pruner, "task": self.task, "order": self.order,
            "workers": self.workers, "points": self.points, "points_full": self.points_full,
            "compute": self.compute, "compute_full": self.compute_full,
            "speedup": self.speedup, "compute_speedup": self.compute_speedup,
            "regret": self.regret, "rel_regret": self.rel_regret,
            "best_found": self.best_found, "best_possible": self.best_possible,
            "n_trials": self.n_trials, "n_pruned": self.n_pruned, "n_diverged": self.n_diverged,
            "seconds": self.seconds,
        }  # fmt: skip


def _steps(curve: Curve) -> list[int]:
    """Integer steps for the curve's x (Optuna wants ints); the index where x is not integral."""
    x = curve.x
    if np.all(np.abs(x - np.round(x)) < 1e-9) and np.all(x >= 0):
        return [round(float(v)) for v in x]
    return list(range(1, x.size + 1))


def _final(curve: Curve) -> float:
    v = float(curve.y[-1])
    return v if math.isfinite(v) and not curve.diverged else math.nan


def replay(
    curves: Sequence[Curve],
    judge: Judge,
    *,
    pruner: str,
    task: str,
    order: int,
    workers: int = 4,
    cost: CostKind = "report",
) -> ReplayResult:
    """Replay ``curves`` (one search, already in the order to run) through ``judge``, with
    ``workers`` trials in flight (1: one trial at a time, as Optuna's ``n_jobs=1``), counting
    each report's compute as ``cost`` says (see :func:`report_costs`).

    All curves must share a direction. A diverged curve reports its non-finite value (the judge
    sees what a real run would report) and, if not stopped, completes with no usable final.

    Raises:
        ValueError: ``workers`` below 1, or an unknown ``cost``.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1; got {workers}")
    direction = curves[0].direction
    maximize = direction == "maximize"
    finals = [_final(c) for c in curves]
    finite = [f for f in finals if math.isfinite(f)]
    best_possible = (max(finite) if maximize else min(finite)) if finite else math.nan
    worst_possible = (min(finite) if maximize else max(finite)) if finite else math.nan
    started = time.perf_counter()
    queue = list(range(len(curves)))[::-1]
    running: dict[int, int] = {}  # curve index -> next point
    steps = [_steps(c) for c in curves]
    # plain Python lists: the loop below runs once per report, and indexing numpy scalars
    # there cost more than the bookkeeping itself
    values = [c.y.tolist() for c in curves]
    costs = [report_costs(s, cost).tolist() for s in steps]
    ids = [str(i) for i in range(len(curves))]
    points = pruned = 0
    compute = 0.0
    best_found = math.nan
    trace: list[tuple[int, float, float]] = []
    while queue or running:
        while queue and len(running) < workers:
            i = queue.pop()
            judge.start(ids[i])
            running[i] = 0
        for i in list(running):
            k = running[i]
            points += 1
            compute += costs[i][k]
            stop = judge.report(ids[i], steps[i][k], float(values[i][k]))
            if k + 1 == len(values[i]) and not stop:
                judge.complete(ids[i])
                f = finals[i]
                if math.isfinite(f) and (
                    math.isnan(best_found) or (f > best_found if maximize else f < best_found)
                ):
                    best_found = f
            elif not stop:
                running[i] = k + 1
                continue
            else:
                pruned += 1
            del running[i]
            trace.append((points, compute, best_found))
    return ReplayResult(
        pruner, task, order, points, sum(c.y.size for c in curves), best_found, best_possible,
        worst_possible, len(curves), pruned, sum(c.diverged for c in curves),
        time.perf_counter() - started, trace, compute, float(sum(sum(c) for c in costs)),
        workers,
    )  # fmt: skip


# -- judges: Optuna's pruners and curvecast's, inside real studies -------------------------------


#: The user attribute under which each replayed trial carries its own final step (its budget),
#: as a user's objective knows its epochs; ForecastPruner reads it, Optuna's pruners cannot.
BUDGET_ATTR = "max_step"
#: The user attribute that holds a trial's learning-rate schedule (its curve's meta["schedule"]),
#: as a user's objective knows its schedule; ForecastPruner(schedule=...) reads it.
SCHEDULE_USER_ATTR = "lr_schedule"


class OptunaJudge:
    """A real in-memory Optuna study with ``pruner``; trials are asked and told as in a search.

    ``budgets`` maps a trial id to its final step, set on the trial as :data:`BUDGET_ATTR`.
    """

    def __init__(
        self,
        pruner: Any,
        direction: Literal["maximize", "minimize"],
        budgets: dict[str, int] | None = None,
        schedules: dict[str, Any] | None = None,
    ) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        # a fixed name: HyperbandPruner assigns brackets from a hash of the study name, and
        # Optuna's default name is a fresh uuid, which made Hyperband's rows irreproducible
        self.study = optuna.create_study(
            direction=direction, pruner=pruner, study_name="curvecast-replay"
        )
        self._trials: dict[str, Any] = {}
        self._budgets = budgets or {}
        self._schedules = schedules or {}

    def start(self, trial_id: str) -> None:
        trial = self.study.ask()
        if trial_id in self._budgets:
            trial.set_user_attr(BUDGET_ATTR, self._budgets[trial_id])
        if trial_id in self._schedules:
            trial.set_user_attr(SCHEDULE_USER_ATTR, self._schedules[trial_id])
        self._trials[trial_id] = trial

    def report(self, trial_id: str, step: int, value: float) -> bool:
        trial = self._trials[trial_id]
        trial.report(value, step)
        if trial.should_prune():
            self.study.tell(trial, state=self._optuna.trial.TrialState.PRUNED)
            del self._trials[trial_id]
            return True
        return False

    def complete(self, trial_id: str) -> None:
        trial = self._trials.pop(trial_id)
        last = trial.study._storage.get_trial(trial._trial_id).intermediate_values
        value = last[max(last)] if last else math.nan
        if math.isfinite(value):
            self.study.tell(trial, value)
        else:  # a diverged run that was never stopped ends as a failure, as it would in real life
            self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)


def _optuna_pruner(
    name: str, max_t: int, min_t: int, bounds: Any, cost: CostKind = "report"
) -> Any:
    import warnings

    import optuna.pruners as p
    from optuna.exceptions import ExperimentalWarning

    # PatientPruner and WilcoxonPruner are marked experimental; say it once, not per replay
    warnings.filterwarnings("ignore", category=ExperimentalWarning)

    if name == "none":
        return p.NopPruner()
    if name == "median":
        return p.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if name == "percentile":
        return p.PercentilePruner(25.0, n_startup_trials=5)
    if name == "successive_halving":
        return p.SuccessiveHalvingPruner(min_resource=min_t, reduction_factor=3)
    if name == "hyperband":
        return p.HyperbandPruner(min_resource=min_t, max_resource=max_t, reduction_factor=3)
    if name == "patient":
        return p.PatientPruner(p.MedianPruner(n_startup_trials=5), patience=2)
    if name == "wilcoxon":
        return p.WilcoxonPruner(p_threshold=0.1)
    spec = curvecast_spec(name)
    if spec is not None:
        from curvecast.integrations.optuna import ForecastPruner

        method, threshold = spec
        # the explicit threshold only when the name gives one: the default rule is the pruner's
        args = () if threshold is None else (threshold,)
        return ForecastPruner(
            *args,
            method=method,
            bounds=bounds,
            max_resource=_trial_budget,
            schedule=_trial_schedule,
            step_cost=pruner_step_cost(cost),
        )
    raise KeyError(name)


def curvecast_spec(name: str) -> tuple[str, float | None] | None:
    """``(method, threshold)`` of a curvecast pruner name ``curvecast[:METHOD][@THRESHOLD]``
    (threshold None: the default), or None when ``name`` names another pruner.

    Raises:
        ValueError: a curvecast name whose threshold is not a number in (0, 1).
    """
    head, at, tail = name.partition("@")
    if head != "curvecast" and not head.startswith("curvecast:"):
        return None
    method = head.partition(":")[2] or "auto"
    if not at:
        return method, None
    try:
        threshold = float(tail)
    except ValueError:
        threshold = math.nan
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"the threshold in {name!r} must be a number in (0, 1)")
    return method, threshold


def _trial_budget(trial: Any) -> int | None:
    budget: int | None = trial.user_attrs.get(BUDGET_ATTR)
    return budget


def _trial_schedule(trial: Any) -> Any:
    return trial.user_attrs.get(SCHEDULE_USER_ATTR)


def _budget(curve: Curve, steps: list[int]) -> int:
    """The final step the run was planned for: its last step, or, for a run that diverged
    before its end, the planned epochs its source records (meta "total_epochs")."""
    planned = curve.meta.get("total_epochs")
    if isinstance(planned, int | float) and math.isfinite(planned) and planned > steps[-1]:
        if np.allclose(curve.x, steps):  # steps are the source's own x (epochs)
            return int(planned)
    return steps[-1]


class OracleJudge:
    """The bound no pruner can pass: it knows every final value, lets the best configuration(s)
    run to the end and stops every other trial at its first report. Its speedup is the most a
    search can save when each trial must report once; its regret is 0."""

    def __init__(self, curves: Sequence[Curve]) -> None:
        finals = [_final(c) for c in curves]
        finite = [f for f in finals if math.isfinite(f)]
        best = (max if curves[0].direction == "maximize" else min)(finite) if finite else None
        self._keep = {str(i) for i, f in enumerate(finals) if best is not None and f == best}

    def start(self, trial_id: str) -> None:
        pass

    def report(self, trial_id: str, step: int, value: float) -> bool:
        return trial_id not in self._keep

    def complete(self, trial_id: str) -> None:
        pass


#: The pruners of ``curvecast bench prune``; "asha" drives Ray's AsyncHyperBandScheduler,
#: "oracle" is :class:`OracleJudge` (the bound, not a pruner), and "curvecast:METHOD@THRESHOLD"
#: (not in the default list; both parts optional) is ForecastPruner with that method and
#: threshold.
PRUNERS: tuple[str, ...] = (
    "none", "median", "percentile", "successive_halving", "hyperband", "patient", "wilcoxon",
    "asha", "curvecast", "oracle",
)  # fmt: skip


def make_judge(name: str, curves: Sequence[Curve], cost: CostKind = "report") -> Judge:
    """A fresh judge for one replay of ``curves`` with the pruner ``name`` (see :data:`PRUNERS`;
    also "curvecast:METHOD", ForecastPruner with that forecasting method). A curvecast pruner
    is told what a report costs (``step_cost``, from ``cost``: see :func:`report_costs`); the
    others cannot be.

    Raises:
        KeyError: unknown name. MissingDependencyError: Optuna (or Ray for "asha") missing.
    """
    direction = curves[0].direction
    all_steps = [_steps(c) for c in curves]
    max_t = max(s[-1] for s in all_steps)
    min_t = max(1, min(s[0] for s in all_steps))
    if name == "oracle":
        return OracleJudge(curves)
    if name == "asha":
        from curvecast.bench.replay_ray import asha_judge

        mode = "max" if direction == "maximize" else "min"
        judge: Judge = asha_judge(max_t=max_t, grace_period=min_t, reduction_factor=3, mode=mode)
        return judge
    budgets = {str(i): _budget(c, all_steps[i]) for i, c in enumerate(curves)}
    schedules = {str(i): c.meta["schedule"] for i, c in enumerate(curves) if "schedule" in c.meta}
    pruner = _optuna_pruner(name, max_t, min_t, curves[0].bounds, cost)
    return OptunaJudge(pruner, direction, budgets, schedules)
