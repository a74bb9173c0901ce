"""``ForecastScheduler``: forecast-driven early stopping, and freeze-thaw, for Ray Tune.

>>> from ray import tune
>>> from curvecast.integrations.ray import ForecastScheduler
>>> config = tune.TuneConfig(metric="acc", mode="max", scheduler=ForecastScheduler())

The scheduler applies :class:`curvecast.pruning.ForecastRule`, the rule that
:class:`curvecast.integrations.optuna.ForecastPruner` applies in Optuna: a trial is stopped when
the forecast probability that its value at the final step beats the incumbent (the best final
value among trials that completed or, where better, the pessimistic forecast of a running trial)
falls below ``threshold``; a NaN, infinite or exploding report stops it at once with the reason
"diverged".

Where the decisions live
------------------------
Ray hands a scheduler a copy of each result, so a decision cannot be written into the trial's
results. Every decision is kept on the scheduler instead: :attr:`ForecastScheduler.verdicts` maps
a trial id to its :class:`~curvecast.pruning.Verdict` list in report order (the decision, the
reason, the forecast quantiles of the final value, the probability of beating the incumbent, the
incumbent and the horizon) and :meth:`ForecastScheduler.final_forecast` gives the verdict that
stopped a trial. Stops and pauses are also logged at INFO level on the
``curvecast.integrations.ray`` logger, one line each (:meth:`~curvecast.pruning.Verdict.explain`).
Keep a reference to the scheduler you pass to ``tune.TuneConfig``: Tune uses that very object,
in the driver process.

Freeze-thaw (``freeze_thaw=True``)
----------------------------------
Ray can pause a trial (saving its latest checkpoint) and resume it later, which Optuna cannot, so
a hopeless trial may be *paused* instead of stopped ("diverged" trials are always stopped):

* A hopeless trial is paused when something better can use its slot: a trial that has not started
  yet, or a paused trial whose forecast is more promising. Otherwise it goes on, and its verdict
  reads ``decision="continue", reason="hopeless"``: pausing it would only resume it.
* :meth:`ForecastScheduler.choose_trial_to_run` starts trials that have not started first (in
  submission order), then resumes the paused trial with the highest probability of beating the
  incumbent. Paused trials are re-forecast whenever the completed trials (hence the incumbent, the
  horizon or the context) change.
* A resumed trial is not paused again before it has reported ``min_points`` more results, so that
  two near-equal trials do not swap at every step.
* Let the cluster's resources bound concurrency, not ``tune.TuneConfig(max_concurrent_trials=...)``:
  Tune's concurrency limiter counts a paused trial as running and suggests no new trial in its
  place, so with it there is never a new trial to pause for, and hopeless trials simply go on.

Tune ends a search only when no trial is paused, so without a budget every paused trial is resumed
once the others are done: freeze-thaw then puts the promising trials first rather than saving
compute. With a budget (``tune.TuneConfig(time_budget_s=...)`` or a stopper that ends the whole
experiment) Tune terminates the trials still paused at the end; :attr:`ForecastScheduler.frozen`
names them (their last verdict stays "pause"), and their last checkpoints stay on storage. A
resumed trial's first result after the pause records a verdict ``decision="continue",
reason="resumed"``, so a trial's last verdict is "pause" only while it is paused.

Saving the scheduler
--------------------
:meth:`ForecastScheduler.save` and :meth:`~ForecastScheduler.restore` write and read its whole state
(every verdict, the curves, the paused trials) with cloudpickle, as Ray's ASHA does with pickle,
so that a restored scheduler decides as the saved one would have; functions given as settings
(``max_t``, ``schedule``, ``step_cost``) are saved by value.
A trainable must report checkpoints (``tune.report(metrics, checkpoint=...)`` and
``tune.get_checkpoint()``) for a resumed trial to continue where it stopped; one that does not
starts over, and the scheduler drops the points it reports again.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from curvecast.curves import Curve, Direction, check_bounds
from curvecast.exceptions import (
    InvalidCurveError,
    InvalidParameterError,
    MissingDependencyError,
    install_hint,
    parameter_error,
)
from curvecast.forecast._api import as_seen
from curvecast.pruning import ForecastRule, Verdict
from curvecast.pruning._compute import StepCost
from curvecast.pruning._rule import (
    DEFAULT_CHECK_GROWTH,
    DEFAULT_MIN_POINTS,
    DEFAULT_REGRET_RATE,
    DEFAULT_THRESHOLD,
    DEFAULT_WARMUP_FRACTION,
    PROVISIONAL_LEVEL,
    check_horizon_setting,
    context_due,
    own_horizon,
    provisional_incumbent,
    search_spread,
)

try:
    from ray.tune.experiment import Trial
    from ray.tune.result import DEFAULT_METRIC
    from ray.tune.schedulers import FIFOScheduler, TrialScheduler
except ImportError as exc:  # pragma: no cover - exercised only without ray
    raise MissingDependencyError(
        "curvecast.integrations.ray needs Ray Tune: " + install_hint("ray")
    ) from exc

if TYPE_CHECKING:
    from ray.tune.execution.tune_controller import TuneController

__all__ = ["ForecastScheduler"]

logger = logging.getLogger(__name__)

_MODES: dict[str, Direction] = {"max": "maximize", "min": "minimize"}


class _Summary:
    """What the completed trials tell: horizon, incumbent and context curves."""

    def __init__(
        self,
        version: int,
        horizon: float | None,
        incumbent: float | None,
        context: list[Curve],
        spread: float | None = None,
        n_context: int = 0,
    ) -> None:
        self.version, self.horizon, self.incumbent, self.context = (
            version,
            horizon,
            incumbent,
            context,
        )
        self.spread, self.n_context = spread, n_context


class ForecastScheduler(FIFOScheduler):
    """Stop (or pause) a Tune trial when what its forecast expects it to gain is not worth the
    compute it still needs.

    At each result, the trial's reported ``metric`` over ``time_attr`` forms a curve; curvecast
    forecasts its value at the final step (the horizon) and stops the trial when its expected
    improvement over the incumbent is at most ``regret_rate`` x the search's spread x the share
    of its compute still to come: the rule of :class:`curvecast.pruning.ForecastRule`, which
    says what it guarantees (with an explicit ``threshold``: when P(final beats the incumbent)
    < threshold). The incumbent is the best final reported
    value among trials that completed (reached their end or ``max_t``; trials this scheduler
    stopped do not count) or, with ``incumbent="forecast"`` (the default), a running trial's
    pessimistic forecast where that is better (the lower quartile of its forecast final value
    for "max", the upper for "min"), as in :class:`curvecast.integrations.optuna.ForecastPruner`.
    The curves of completed trials are passed to the forecaster as context. See the module
    docstring for where decisions are kept and for freeze-thaw.

    Args:
        metric: the result key to judge; None to take it from ``tune.TuneConfig(metric=...)``.
        mode: "max" or "min"; None to take it from ``tune.TuneConfig(mode=...)``.
        threshold: None (default: the expected-gain rule) or a float in (0, 1): stop when
            P(final beats incumbent) < threshold (Domhan et al. (2015) used 0.05).
        regret_rate: the default rule's allowance (> 0), in spreads of expected regret per full
            trial of compute saved; default 0.05.
        step_cost: the compute of one result: None (1 per result), a positive number, "step"
            (``time_attr`` measures compute) or a function of ``time_attr`` returning that
            result's cost.
        time_attr: the result key that measures progress (must increase), e.g.
            "training_iteration" (default) or "time_total_s".
        max_t: the final value of ``time_attr``, or "auto" (default): the largest last
            ``time_attr`` among completed trials. With a number, a trial that reaches it is ended
            (as ASHA does) and counts as completed. Until a horizon is known, only divergence
            stops. When trials have budgets of their own, pass a function of the Tune trial that
            returns its final ``time_attr``, e.g. ``lambda trial: trial.config["epochs"]``:
            each trial is then forecast at, and ended at, its own end (None: "auto").
        min_points: no forecast-based decision before this many results (>= 1); also the number
            of results a resumed trial runs before it may be paused again.
        warmup_fraction: no forecast-based decision before ``time_attr >= warmup_fraction *
            horizon``, in [0, 1).
        method: forecasting method (see :func:`curvecast.available_methods`).
        bounds: ``(lo, hi)`` the reported metric cannot leave, e.g. ``(0, 1)`` for accuracy.
        diverge_above: a value that marks divergence (above it for "min", below it for "max"),
            or None.
        max_context: how many completed trials are passed as context to the forecaster (0: none).
        seed: seed of the forecasts, so that decisions are repeatable.
        same_step: the default rule stops a trial behind the median of the completed trials at
            the same step when its forecast says so, one ahead of it only below a 1% chance
            (and from its second report on),
            and none before 5 of them reach that step (see
            :class:`~curvecast.pruning.ForecastRule`); False lets the forecast decide alone.
            Not used with ``freeze_thaw``: a paused trial is resumed when it was wrong to pause.
        check_growth: forecast at geometrically spaced reports (see
            :class:`~curvecast.pruning.ForecastRule`; 1.0: at every report).
        freeze_thaw: pause hopeless trials instead of stopping them, and resume the most
            promising paused trial when a slot is free (needs a checkpointing trainable).
        incumbent: "forecast" (default) or "completed": whether running trials' pessimistic
            forecasts can be the incumbent, or only completed trials (Domhan et al.'s rule).
        schedule: the trials' learning-rate schedule on the ``time_attr`` axis (see
            :class:`curvecast.Schedule`): one schedule or dict for every trial, or a function of
            the Tune trial returning one (or None), e.g. ``lambda t: {"name": "cosine",
            "peak_lr": t.config["lr"], "total": 100}``. Forecasts then follow it, completed
            trials carry theirs as context, and with ``max_t="auto"`` a trial's horizon is its
            schedule's end.

    Raises:
        InvalidParameterError: an argument is out of range (at construction), or no metric/mode
            was given here nor in ``tune.TuneConfig`` (when the first trial is added).

    Example:
        >>> from curvecast.integrations.ray import ForecastScheduler
        >>> s = ForecastScheduler("acc", "max", threshold=0.05, bounds=(0, 1))
        >>> s.metric, s.mode
        ('acc', 'max')
    """

    def __init__(
        self,
        metric: str | None = None,
        mode: str | None = None,
        threshold: float | None = DEFAULT_THRESHOLD,
        *,
        regret_rate: float = DEFAULT_REGRET_RATE,
        step_cost: StepCost = None,
        time_attr: str = "training_iteration",
        max_t: int | float | Literal["auto"] | Callable[[Trial], int | float | None] = "auto",
        min_points: int = DEFAULT_MIN_POINTS,
        warmup_fraction: float = DEFAULT_WARMUP_FRACTION,
        method: str = "auto",
        bounds: Sequence[float | None] | None = None,
        diverge_above: float | None = None,
        max_context: int = 32,
        check_growth: float = DEFAULT_CHECK_GROWTH,
        seed: int = 0,
        same_step: bool = True,
        freeze_thaw: bool = False,
        incumbent: Literal["forecast", "completed"] = "forecast",
        schedule: Any = None,
    ) -> None:
        owner = "ForecastScheduler"
        if schedule is not None and not callable(schedule):
            from curvecast.schedules import as_schedule

            schedule = as_schedule(schedule)
        self._schedule = schedule
        self._schedules: dict[str, Any] = {}  # trial id -> its Schedule
        if incumbent not in ("forecast", "completed"):
            raise parameter_error("incumbent", owner, '"forecast" or "completed"', incumbent)
        self._rule = ForecastRule(
            threshold,
            regret_rate=regret_rate,
            step_cost=step_cost,
            min_points=min_points,
            warmup_fraction=warmup_fraction,
            method=method,
            diverge_above=diverge_above,
            check_growth=check_growth,
            seed=seed,
            same_step=same_step and not freeze_thaw,  # a pause is undone when it was wrong
            owner=owner,
        )
        if metric is not None and (not isinstance(metric, str) or not metric):
            raise parameter_error("metric", owner, "a non-empty str or None", metric)
        if mode is not None and mode not in _MODES:
            raise parameter_error("mode", owner, '"min", "max" or None', mode)
        if not isinstance(time_attr, str) or not time_attr:
            raise parameter_error("time_attr", owner, "a non-empty str", time_attr)
        check_horizon_setting(max_t, name="max_t", owner=owner)
        if isinstance(max_context, bool) or not isinstance(max_context, int) or max_context < 0:
            raise parameter_error("max_context", owner, "an int >= 0", max_context)
        if not isinstance(freeze_thaw, bool):
            raise parameter_error("freeze_thaw", owner, "a bool", freeze_thaw)
        super().__init__()
        self._metric = metric
        self._mode = mode
        self._time_attr = time_attr
        self._max_t = max_t
        self._bounds = check_bounds(bounds)
        self._max_context = max_context
        self._freeze_thaw = freeze_thaw
        self._provisional = incumbent == "forecast"
        self._ended: set[str] = set()  # completed, errored or removed: no longer running
        self._points: dict[str, tuple[list[float], list[float]]] = {}
        self._verdicts: dict[str, list[Verdict]] = {}
        self._completed: dict[str, Curve] = {}  # in completion order
        self._pruned: set[str] = set()  # stopped by this scheduler: never the incumbent
        self._since_resume: dict[str, int] = {}  # reports since the last resume
        self._paused: set[str] = set()  # paused and not resumed since
        self._priority_cache: dict[str, tuple[tuple[int, int, float | None], float]] = {}
        self._horizons: dict[str, float] = {}  # a trial's own horizon (callable max_t)
        self._summary: _Summary | None = None
        self._n_stopped = 0
        self._n_paused = 0
        self._n_resumed = 0

    # -- public read-only state -------------------------------------------------------------

    @property
    def rule(self) -> ForecastRule:
        """The stopping rule this scheduler applies."""
        return self._rule

    @property
    def mode(self) -> str | None:
        """ "max", "min", or None until ``tune.TuneConfig`` provides it."""
        return self._mode

    @property
    def freeze_thaw(self) -> bool:
        """Whether hopeless trials are paused (and resumed later) instead of stopped."""
        return self._freeze_thaw

    @property
    def verdicts(self) -> Mapping[str, list[Verdict]]:
        """Every decision, as ``{trial_id: [Verdict, ...]}`` in report order (a copy)."""
        return {tid: list(vs) for tid, vs in self._verdicts.items()}

    def final_forecast(self, trial_id: str) -> Verdict | None:
        """The verdict that stopped ``trial_id`` (its forecast of the final value is in
        ``final_quantiles``), or None if the scheduler never stopped it."""
        for v in reversed(self._verdicts.get(trial_id, [])):
            if v.decision == "stop":
                return v
        return None

    @property
    def frozen(self) -> list[str]:
        """The ids of the trials paused (freeze-thaw) and not resumed since, in the order they
        first reported: at the end of a search with a budget, the trials left frozen."""
        return [tid for tid in self._verdicts if tid in self._paused]

    @property
    def n_resumed(self) -> int:
        """How many times a paused trial was resumed (freeze-thaw)."""
        return self._n_resumed

    # -- Tune's scheduler interface ---------------------------------------------------------

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        """Take ``metric`` and ``mode`` from ``tune.TuneConfig``, as Ray's schedulers do.

        Returns False (Tune then raises) when one was already given to the constructor.
        """
        if (self._metric and metric) or (self._mode and mode):
            return False
        if mode is not None and mode not in _MODES:
            raise parameter_error("mode", "ForecastScheduler", '"min" or "max"', mode)
        if metric:
            self._metric = metric
        if mode:
            self._mode = mode
        if self._metric is None and self._mode:
            self._metric = DEFAULT_METRIC  # Tune's anonymous metric, as ASHA does
        return True

    def on_trial_add(self, tune_controller: TuneController | None, trial: Trial) -> None:
        self._direction()
        self._ended.discard(str(trial.trial_id))  # Tune re-adds a trial it retries after an error

    def on_trial_result(
        self, tune_controller: TuneController | None, trial: Trial, result: dict[str, Any]
    ) -> str:
        """Decide for ``trial`` at its new result: CONTINUE, STOP, or PAUSE (freeze-thaw)."""
        point = self._point(result)
        if point is None:
            return TrialScheduler.CONTINUE
        tid = str(trial.trial_id)
        self._note_schedule(tid, trial)
        if self._add_point(tid, *point):
            self._note_resume(tid, point[0])
        if tid in self._since_resume:
            self._since_resume[tid] += 1
        if result.get("done"):  # the trial is ending anyway; on_trial_complete follows
            return TrialScheduler.CONTINUE
        summary = self._summarise()
        try:
            curve = self._curve(tid)
        except InvalidCurveError as exc:  # reports outside the bounds: say so, never judge
            if not any(v.reason == "out_of_bounds" for v in self._verdicts.get(tid, [])):
                logger.warning("curvecast: trial %s is not judged: %s", tid, exc)
            self._verdicts.setdefault(tid, []).append(
                Verdict("continue", "out_of_bounds", float(point[0]))
            )
            return TrialScheduler.CONTINUE
        horizon = self._horizon(trial, tid, summary)
        incumbent, source = self._incumbent(tid, summary)
        verdict = self._rule.decide(
            curve,
            horizon=horizon,
            incumbent=incumbent,
            context=summary.context,
            forecast_without_incumbent=self._provisional,
            incumbent_source=source,
            spread=summary.spread,
        )
        if verdict.reason == "between_checks":
            return TrialScheduler.CONTINUE  # no forecast due at this report
        action = TrialScheduler.CONTINUE
        fixed = self._max_t != "auto" and (not callable(self._max_t) or tid in self._horizons)
        if verdict.reason == "finished" and fixed:
            action = TrialScheduler.STOP  # reached max_t: ended like ASHA, counts as completed
        elif verdict.should_stop:
            if verdict.reason == "hopeless" and self._freeze_thaw:
                if self._should_pause(tune_controller, trial, verdict):
                    verdict = replace(verdict, decision="pause")
                    action = TrialScheduler.PAUSE
                    self._n_paused += 1
                    self._paused.add(tid)
                else:
                    verdict = replace(verdict, decision="continue")
            else:
                action = TrialScheduler.STOP
                self._pruned.add(tid)
                self._n_stopped += 1
        self._verdicts.setdefault(tid, []).append(verdict)
        if verdict.decision != "continue":
            logger.info("trial %s %s", tid, verdict.explain())
        return action

    def on_trial_complete(
        self, tune_controller: TuneController | None, trial: Trial, result: dict[str, Any]
    ) -> None:
        """Count ``trial`` as completed (a candidate incumbent) unless this scheduler stopped it."""
        tid = str(trial.trial_id)
        self._ended.add(tid)
        point = self._point(result or {})
        if point is not None and self._add_point(tid, *point):
            self._note_resume(tid, point[0])  # it reported after its pause: it was resumed
        if tid in self._pruned or tid not in self._points:
            return
        try:
            self._completed[tid] = self._curve(tid)
        except InvalidCurveError:  # reports outside the bounds: not a candidate incumbent
            return

    def on_trial_remove(self, tune_controller: TuneController | None, trial: Trial) -> None:
        """A pending or paused trial was removed (e.g. the search ended); its verdicts stay."""
        self._ended.add(str(trial.trial_id))

    def on_trial_error(self, tune_controller: TuneController | None, trial: Trial) -> None:
        """A trial failed: it no longer counts as running (its verdicts stay)."""
        self._ended.add(str(trial.trial_id))

    def choose_trial_to_run(self, tune_controller: TuneController) -> Trial | None:
        """A pending trial first (submission order); then, with freeze-thaw, the paused trial
        most likely to beat the incumbent; without, the first paused trial."""
        trials = list(tune_controller.get_trials())
        for trial in trials:
            if trial.status == Trial.PENDING:
                return trial
        paused = [t for t in trials if t.status == Trial.PAUSED]
        if not paused:
            return None
        if not self._freeze_thaw:
            return paused[0]
        best, best_p = paused[0], -math.inf
        for trial in paused:
            p = self._priority(str(trial.trial_id))
            if p > best_p:
                best, best_p = trial, p
        return best

    def save(self, checkpoint_path: str) -> None:
        """Write the scheduler's whole state to ``checkpoint_path`` (cloudpickle), as Ray's
        schedulers do; :meth:`restore` reads it back."""
        from ray import cloudpickle

        with open(checkpoint_path, "wb") as fh:
            cloudpickle.dump(self.__dict__, fh)

    def restore(self, checkpoint_path: str) -> None:
        """Read back the state :meth:`save` wrote: the verdicts, the curves, the paused trials and
        the settings, so that decisions go on as if the scheduler had never stopped."""
        from ray import cloudpickle

        with open(checkpoint_path, "rb") as fh:
            state = cloudpickle.load(fh)
        self.__dict__.update(state)

    def debug_string(self) -> str:
        return (
            f"Using ForecastScheduler (threshold={self._rule.threshold}, "
            f"regret_rate={self._rule.regret_rate:g}, "
            f"freeze_thaw={self._freeze_thaw}): stopped {self._n_stopped}, paused "
            f"{self._n_paused}, resumed {self._n_resumed}, completed {len(self._completed)}."
        )

    # -- internals --------------------------------------------------------------------------

    def _point(self, result: Mapping[str, Any]) -> tuple[float, float] | None:
        if self._metric is None or self._metric not in result or self._time_attr not in result:
            return None
        x, y = result[self._time_attr], result[self._metric]
        try:
            return float(x), float(y)
        except (TypeError, ValueError):
            return None  # e.g. a metric reported as None: nothing to judge, as in ASHA

    def _add_point(self, tid: str, x: float, y: float) -> bool:
        """Append a point; True when it shows the trial resumed after a pause (the first new
        result of a paused trial)."""
        xs, ys = self._points.setdefault(tid, ([], []))
        if xs and x <= xs[-1]:
            if x == xs[-1] and (y == ys[-1] or (math.isnan(y) and math.isnan(ys[-1]))):
                return False  # the same result again (Tune repeats the last one at the end)
            # the trial went back to an earlier checkpoint: drop what it will report again
            keep = sum(1 for v in xs if v < x)
            del xs[keep:], ys[keep:]
        xs.append(x)
        ys.append(y)
        return tid in self._paused

    def _note_resume(self, tid: str, x: float) -> None:
        """``tid`` reports again after a pause: count the resume once, and record it, so that
        its last verdict no longer reads "pause" (nor does it count as frozen)."""
        self._paused.discard(tid)
        self._n_resumed += 1
        self._since_resume[tid] = 0
        past = self._verdicts.get(tid, [])
        last = past[-1] if past else None
        self._verdicts.setdefault(tid, []).append(
            Verdict(
                "continue",
                "resumed",
                float(x),
                None if last is None else last.horizon,
                None if last is None else last.incumbent,
            )
        )
        logger.info("trial %s resumed at %s %g", tid, self._time_attr, x)

    def _curve(self, tid: str) -> Curve:
        xs, ys = self._points[tid]
        meta: dict[str, Any] = {"trial": tid}
        if tid in self._schedules:
            meta["schedule"] = self._schedules[tid].to_dict()
        return Curve(xs, ys, self._direction(), self._bounds, meta=meta)

    def _note_schedule(self, tid: str, trial: Trial) -> None:
        """Resolve ``trial``'s schedule once (validated; the error names the field)."""
        if self._schedule is None or tid in self._schedules:
            return
        from curvecast.schedules import as_schedule

        value = self._schedule(trial) if callable(self._schedule) else self._schedule
        sched = as_schedule(value, field="schedule")
        if sched is not None:
            self._schedules[tid] = sched

    def _direction(self) -> Direction:
        if not self._metric or self._mode not in _MODES:
            raise InvalidParameterError(
                "ForecastScheduler needs a 'metric' and a 'mode' (\"min\" or \"max\"): pass "
                "them to ForecastScheduler(...) or to tune.TuneConfig(metric=..., mode=...). "
                f"Got metric={self._metric!r}, mode={self._mode!r}."
            )
        return _MODES[self._mode]

    def _summarise(self) -> _Summary:
        version = len(self._completed)
        if self._summary is not None and self._summary.version == version:
            return self._summary
        curves = list(self._completed.values())
        finals = [float(c.y[-1]) for c in curves if not c.diverged]
        incumbent: float | None = None
        if finals:
            incumbent = max(finals) if self._mode == "max" else min(finals)
        if callable(self._max_t) or self._max_t == "auto":
            horizon = max((float(c.x[-1]) for c in curves), default=None)
        else:
            horizon = float(self._max_t)
        spread = search_spread(finals, self._direction())
        previous = self._summary
        if previous is not None and not context_due(previous.n_context, version):
            # redrawn as the search grows by a quarter (see ForecastPruner._summarise)
            self._summary = _Summary(
                version, horizon, incumbent, previous.context, spread, previous.n_context
            )
            return self._summary
        context: list[Curve] = []
        if self._max_context:
            context = [as_seen(c) for c in curves if not c.diverged][-self._max_context :]
        self._summary = _Summary(version, horizon, incumbent, context, spread, version)
        return self._summary

    def _incumbent(self, tid: str, summary: _Summary) -> tuple[float | None, str | None]:
        """The completed incumbent or, with ``incumbent="forecast"``, a better pessimistic
        forecast of another running trial (its latest verdict), with where it came from.
        Completed trials are in ``_ended``; stopped and paused ones are skipped by their last
        verdict."""
        if not self._provisional:
            return summary.incumbent, None
        running = [
            (f"running trial {other}", vs[-1])
            for other, vs in self._verdicts.items()
            if other != tid and vs and other not in self._ended
        ]
        return provisional_incumbent(
            summary.incumbent, running, self._direction(), PROVISIONAL_LEVEL
        )

    def _horizon(self, trial: Trial, tid: str, summary: _Summary) -> float | None:
        """The final ``time_attr`` of ``trial``: its own (callable ``max_t``) or the shared one."""
        if self._max_t == "auto" and tid in self._schedules:
            return float(self._schedules[tid].end)
        if not callable(self._max_t):
            return summary.horizon
        own = own_horizon(self._max_t(trial), name="max_t", owner="ForecastScheduler", trial=tid)
        if own is None:
            return summary.horizon
        self._horizons[tid] = own
        return own

    def _priority(self, tid: str) -> float:
        """How much a paused or waiting trial is worth resuming (see :func:`_prob`), judged
        against the same incumbent as a running trial (so that a trial paused for it is not
        resumed at once), and re-forecast when that incumbent or the completed trials change;
        inf when it cannot be judged yet (no incumbent, warm-up)."""
        if tid not in self._points:
            return math.inf
        summary = self._summarise()
        incumbent, _ = self._incumbent(tid, summary)
        key = (len(self._points[tid][0]), summary.version, incumbent)
        cached = self._priority_cache.get(tid)
        if cached is not None and cached[0] == key:
            return cached[1]
        v = self._rule.decide(
            self._curve(tid),
            horizon=self._horizons.get(tid, summary.horizon),
            incumbent=incumbent,
            context=summary.context,
            spread=summary.spread,
        )
        p = _prob(v)
        self._priority_cache[tid] = (key, p)
        return p

    def _should_pause(
        self, tune_controller: TuneController | None, trial: Trial, verdict: Verdict
    ) -> bool:
        tid = str(trial.trial_id)
        if self._since_resume.get(tid, self._rule.min_points) < self._rule.min_points:
            return False  # just resumed: let it show what it does first
        if tune_controller is None:
            return False
        mine = _prob(verdict)
        for other in tune_controller.get_trials():
            if other is trial or str(other.trial_id) == tid:
                continue
            oid = str(other.trial_id)
            if other.status == Trial.PENDING and oid not in self._points:
                return True  # a trial that has not started yet can use the slot
            if other.status in (Trial.PAUSED, Trial.PENDING) and self._priority(oid) > mine:
                return True  # a paused (or resuming) trial is more promising
        return False


def _prob(v: Verdict) -> float:
    """How much a trial is worth running on: its expected gain over the allowance of the
    default rule (so per unit of the compute it still needs), or with an explicit threshold its
    probability of beating the incumbent; 0 when it diverged, inf when it cannot be judged."""
    if v.reason == "diverged":
        return 0.0
    if v.expected_gain is not None and v.allowance is not None:
        return v.expected_gain / v.allowance if v.allowance > 0 else math.inf
    return math.inf if v.prob_better is None else float(v.prob_better)
