"""Ray Tune's schedulers as judges for the prune benchmark's replay of real curves.

The prune benchmark replays tables of recorded learning curves in simulated time: many
configurations, W simulated workers, each curve reported step by step. A *judge* is what decides,
at each report, whether the trial goes on. The judges here drive Ray's real scheduler code, the
very ``on_trial_add`` / ``on_trial_result`` / ``on_trial_complete`` calls Tune makes, with minimal
trial stand-ins (no Ray cluster, no actors, no processes): ASHA (``AsyncHyperBandScheduler``) and
curvecast's :class:`~curvecast.integrations.ray.ForecastScheduler`. Schedulers that pause and
resume trials (``HyperBandScheduler``, ``ForecastScheduler(freeze_thaw=True)``) run through
:class:`PausingController` instead, a stand-in for Tune's controller with one worker.

The protocol (:class:`Judge`):

* ``start(trial_id)`` before the trial's first report;
* ``report(trial_id, step, value) -> bool``: True means "stop this trial now". After True the
  judge treats the trial as ended (Tune calls ``on_trial_complete`` itself on a stop); a later
  ``complete`` for it is a no-op. A report at ``step >= max_t`` returns False: the trial has
  reached its end and the caller completes it;
* ``complete(trial_id)`` when the trial ran to its end.

Ray is imported when a judge is built, never when this module is imported.

Example:
    >>> judge = asha_judge(max_t=9, mode="max")  # doctest: +SKIP
    >>> judge.start("a"); judge.report("a", 1, 0.9)  # doctest: +SKIP
    False
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from curvecast.exceptions import MissingDependencyError, install_hint, parameter_error
from curvecast.pruning._rule import (
    DEFAULT_MIN_POINTS,
    DEFAULT_THRESHOLD,
    DEFAULT_WARMUP_FRACTION,
)

__all__ = [
    "Judge",
    "PausingController",
    "SchedulerJudge",
    "asha_judge",
    "forecast_scheduler_judge",
    "freeze_thaw_scheduler",
    "hyperband_scheduler",
]

_TIME_ATTR = "training_iteration"


class Judge(Protocol):
    """What the replay simulator calls; see the module docstring for the contract."""

    def start(self, trial_id: str) -> None: ...

    def report(self, trial_id: str, step: int, value: float) -> bool: ...

    def complete(self, trial_id: str) -> None: ...


@dataclass(eq=False)
class _StandInTrial:
    """The part of ``ray.tune.experiment.Trial`` the schedulers touch when judging results."""

    trial_id: str
    status: str = "RUNNING"
    is_saving: bool = False  # HyperBandScheduler reads it (a pause in progress)
    last_result: dict[str, Any] | None = None
    config: dict[str, Any] | None = None

    def __str__(self) -> str:
        return self.trial_id


class SchedulerJudge:
    """Drive a Ray ``TrialScheduler`` through the calls Tune makes, one trial at a time.

    Args:
        scheduler: a Ray Tune scheduler whose metric and mode are set.
        metric: the result key the scheduler reads.
        max_t: the final step; reports at or beyond it never count as stops.
        name: a label for reports and tables.

    Raises:
        InvalidParameterError: ``report`` for a trial that was not started, or a step that does
            not increase.
    """

    def __init__(self, scheduler: Any, *, metric: str, max_t: float, name: str) -> None:
        self.scheduler = scheduler
        self.metric = metric
        self.max_t = float(max_t)
        self.name = name
        self._trials: dict[str, _StandInTrial] = {}
        self._last: dict[str, dict[str, Any]] = {}
        self._ended: set[str] = set()

    def start(self, trial_id: str) -> None:
        """Add the trial, as Tune does when a searcher creates it."""
        if trial_id in self._trials:
            raise parameter_error("trial_id", self.name, "a trial not started before", trial_id)
        trial = _StandInTrial(str(trial_id))
        self._trials[trial_id] = trial
        self.scheduler.on_trial_add(None, trial)

    def report(self, trial_id: str, step: int, value: float) -> bool:
        """Pass one result; True when the scheduler stops the trial before ``max_t``."""
        trial = self._trials.get(trial_id)
        if trial is None:
            raise parameter_error("trial_id", self.name, "a started trial", trial_id)
        if trial_id in self._ended:
            return True
        last = self._last.get(trial_id)
        if last is not None and not step > last[_TIME_ATTR]:
            raise parameter_error(
                "step", self.name, f"greater than the last step {last[_TIME_ATTR]}", step
            )
        result = {_TIME_ATTR: step, self.metric: float(value), "trial_id": trial_id}
        self._last[trial_id] = result
        action = self.scheduler.on_trial_result(None, trial, dict(result))
        if action == "STOP" and step < self.max_t:
            self._ended.add(trial_id)
            trial.status = "TERMINATED"
            self.scheduler.on_trial_complete(None, trial, dict(result))
            return True
        return False

    def complete(self, trial_id: str) -> None:
        """The trial ran to its end: the scheduler may learn from its final result."""
        trial = self._trials.get(trial_id)
        if trial is None:
            raise parameter_error("trial_id", self.name, "a started trial", trial_id)
        if trial_id in self._ended:
            return
        self._ended.add(trial_id)
        trial.status = "TERMINATED"
        last = self._last.get(trial_id)
        if last is None:
            self.scheduler.on_trial_remove(None, trial)
        else:
            self.scheduler.on_trial_complete(None, trial, dict(last))


def _check_mode(mode: object, owner: str) -> Literal["min", "max"]:
    if mode == "min" or mode == "max":
        return mode
    raise parameter_error("mode", owner, '"min" or "max"', mode)


def _check_number(name: str, owner: str, value: object, expected: str, low: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < low
    ):
        raise parameter_error(name, owner, expected, value)
    return float(value)


def asha_judge(
    max_t: int,
    grace_period: int = 1,
    reduction_factor: float = 3,
    brackets: int = 1,
    *,
    mode: str,
    metric: str = "score",
    seed: int = 0,
) -> SchedulerJudge:
    """A judge backed by Ray's real ``AsyncHyperBandScheduler`` (ASHA).

    Args:
        max_t: the final step (>= 1); ASHA's rungs are ``grace_period * reduction_factor**k``.
        grace_period: no stop before this step (>= 1, <= max_t).
        reduction_factor: keep the top ``1 / reduction_factor`` at each rung (> 1).
        brackets: number of ASHA brackets (>= 1).
        mode: "max" or "min".
        metric: the result key (any name; it only labels the reported value).
        seed: with several brackets, ASHA assigns trials to brackets with NumPy's global
            generator; the judge seeds it from this for each assignment and then restores it,
            so that replays are repeatable and the caller's global state is untouched.

    Raises:
        InvalidParameterError: an argument out of range.
        MissingDependencyError: Ray Tune is not installed.
    """
    owner = "asha_judge"
    mode = _check_mode(mode, owner)
    if isinstance(max_t, bool) or not isinstance(max_t, int) or max_t < 1:
        raise parameter_error("max_t", owner, "an int >= 1", max_t)
    if (
        isinstance(grace_period, bool)
        or not isinstance(grace_period, int)
        or not 1 <= grace_period <= max_t
    ):
        raise parameter_error("grace_period", owner, f"an int in [1, max_t={max_t}]", grace_period)
    rf = _check_number("reduction_factor", owner, reduction_factor, "a number > 1", 1.0)
    if rf <= 1:
        raise parameter_error("reduction_factor", owner, "a number > 1", reduction_factor)
    if isinstance(brackets, bool) or not isinstance(brackets, int) or brackets < 1:
        raise parameter_error("brackets", owner, "an int >= 1", brackets)
    try:
        from ray.tune.schedulers import AsyncHyperBandScheduler
    except ImportError as exc:
        raise MissingDependencyError("asha_judge needs Ray Tune: " + install_hint("ray")) from exc
    scheduler = AsyncHyperBandScheduler(
        time_attr=_TIME_ATTR,
        metric=metric,
        mode=mode,
        max_t=max_t,
        grace_period=grace_period,
        reduction_factor=rf,
        brackets=brackets,
    )
    judge = SchedulerJudge(scheduler, metric=metric, max_t=max_t, name=owner)
    if brackets > 1:
        _seed_bracket_draws(judge, seed)
    return judge


def _seed_bracket_draws(judge: SchedulerJudge, seed: int) -> None:
    """Make ASHA's bracket draw (``np.random.choice`` on the global generator) repeatable."""
    sched = judge.scheduler
    add = sched.on_trial_add
    rng = np.random.default_rng(seed)

    def seeded_add(controller: Any, trial: Any) -> None:
        # ASHA draws from NumPy's global generator; seed it for this one draw, then put the
        # caller's state back, so no global randomness leaks in or out.
        saved = np.random.get_state()  # noqa: NPY002
        np.random.seed(int(rng.integers(2**32)))  # noqa: NPY002
        try:
            add(controller, trial)
        finally:
            np.random.set_state(saved)  # noqa: NPY002

    sched.on_trial_add = seeded_add


def forecast_scheduler_judge(
    max_t: int | float | Literal["auto"] = "auto",
    threshold: float | None = DEFAULT_THRESHOLD,
    *,
    mode: str,
    metric: str = "score",
    min_points: int = DEFAULT_MIN_POINTS,
    warmup_fraction: float = DEFAULT_WARMUP_FRACTION,
    method: str = "auto",
    bounds: Sequence[float | None] | None = None,
    diverge_above: float | None = None,
    max_context: int = 32,
    seed: int = 0,
) -> SchedulerJudge:
    """A judge backed by :class:`~curvecast.integrations.ray.ForecastScheduler`.

    The arguments are the scheduler's (freeze-thaw is left out: this judge only stops; see
    :class:`PausingController` and :func:`freeze_thaw_scheduler` for pauses). With
    ``max_t="auto"`` the horizon is the largest last step among completed trials, so the judge
    stops nothing until one trial completes; pass the suite's final step to judge from the start.

    Raises:
        InvalidParameterError: an argument out of range.
        MissingDependencyError: Ray Tune is not installed.
    """
    mode = _check_mode(mode, "forecast_scheduler_judge")
    from curvecast.integrations.ray import ForecastScheduler  # raises MissingDependencyError

    scheduler = ForecastScheduler(
        metric,
        mode,
        threshold,
        time_attr=_TIME_ATTR,
        max_t=max_t,
        min_points=min_points,
        warmup_fraction=warmup_fraction,
        method=method,
        bounds=bounds,
        diverge_above=diverge_above,
        max_context=max_context,
        seed=seed,
    )
    return SchedulerJudge(
        scheduler,
        metric=metric,
        max_t=math.inf if max_t == "auto" else float(max_t),
        name="forecast_scheduler_judge",
    )


# -- schedulers that pause and resume: a stand-in controller ---------------------------------------

#: Ray Tune's trial states as the schedulers compare them (``Trial.PENDING`` and so on).
_PENDING, _RUNNING, _PAUSED, _TERMINATED = "PENDING", "RUNNING", "PAUSED", "TERMINATED"


class PausingController:
    """The part of Tune's ``TuneController`` a pausing scheduler touches, for one worker.

    Tune asks the scheduler which trial to run (``choose_trial_to_run``), runs it, passes each
    result to ``on_trial_result`` and acts on CONTINUE, PAUSE (the trial keeps its checkpoint and
    waits, PAUSED) or STOP; a trial whose last result is reached ends with ``on_trial_complete``;
    the scheduler may stop other trials through ``stop_trial``. This class does the same with
    stand-in trials, every trial added (PENDING) before the first is run, as Tune does with a
    fixed list of samples; a resumed trial continues where it paused (its checkpoint).

    Args:
        scheduler: a Ray scheduler whose metric and mode are set (HyperBandScheduler,
            ForecastScheduler(freeze_thaw=True), ...).
        trial_ids: the trials, in submission order.
        metric: the result key the scheduler reads.

    Example:
        >>> ctl = PausingController(hyperband_scheduler(max_t=9, mode="max"), ["a", "b"],
        ...                         metric="score")  # doctest: +SKIP
        >>> ctl.next_trial()  # doctest: +SKIP
        'a'
    """

    def __init__(self, scheduler: Any, trial_ids: Sequence[str], *, metric: str) -> None:
        self.scheduler = scheduler
        self.metric = metric
        self._trials = {str(t): _StandInTrial(str(t), status=_PENDING) for t in trial_ids}
        self._last_step: dict[str, float] = {}
        self.n_resumed = 0
        for trial in self._trials.values():
            scheduler.on_trial_add(self, trial)

    # the controller calls the schedulers make
    def get_trials(self) -> list[_StandInTrial]:
        return list(self._trials.values())

    def stop_trial(self, trial: _StandInTrial) -> None:
        """Stop a trial the scheduler no longer wants, as ``TuneController.stop_trial`` does."""
        if trial.status in (_TERMINATED, "ERROR"):
            return
        if trial.status in (_PENDING, _PAUSED):
            self.scheduler.on_trial_remove(self, trial)
        else:
            self.scheduler.on_trial_complete(self, trial, dict(trial.last_result or {}))
        trial.status = _TERMINATED

    def pause_trial(self, trial: _StandInTrial, should_checkpoint: bool = True) -> None:
        trial.status = _PAUSED

    # the simulator's side
    def status(self, trial_id: str) -> str:
        """The trial's Tune status: PENDING, RUNNING, PAUSED or TERMINATED."""
        return self._trials[trial_id].status

    def next_trial(self) -> str | None:
        """The trial the scheduler runs next (now RUNNING), or None when it runs nothing."""
        trial = self.scheduler.choose_trial_to_run(self)
        if trial is None:
            return None
        if trial.status == _PAUSED:
            self.n_resumed += 1
        trial.status = _RUNNING
        return str(trial.trial_id)

    def report(self, trial_id: str, step: float, value: float, *, last: bool) -> str:
        """Pass the running trial's result; "continue", "pause" or "stop" (the trial ended,
        stopped by the scheduler or, with ``last``, completed)."""
        trial = self._trials[trial_id]
        if trial.status != _RUNNING:
            raise parameter_error("trial_id", "PausingController", "the running trial", trial_id)
        result = {_TIME_ATTR: step, self.metric: float(value), "trial_id": trial_id}
        trial.last_result = result
        if last:  # the trainable returned: Tune completes the trial with its last result
            result["done"] = True
            trial.last_result = result
            self.scheduler.on_trial_complete(self, trial, dict(result))
            trial.status = _TERMINATED
            return "stop"
        action = self.scheduler.on_trial_result(self, trial, dict(result))
        if trial.status == _TERMINATED:  # the scheduler stopped it through stop_trial
            return "stop"
        if action == "STOP":
            self.scheduler.on_trial_complete(self, trial, dict(result))
            trial.status = _TERMINATED
            return "stop"
        if action == "PAUSE":
            trial.status = _PAUSED
            return "pause"
        return "continue"


def hyperband_scheduler(
    max_t: int, reduction_factor: float = 3, *, mode: str, metric: str = "score"
) -> Any:
    """Ray's real ``HyperBandScheduler`` (synchronous Hyperband: it pauses each trial at its
    rung and resumes the best), for :class:`PausingController`.

    Raises:
        InvalidParameterError: an argument out of range.
        MissingDependencyError: Ray Tune is not installed.
    """
    owner = "hyperband_scheduler"
    mode = _check_mode(mode, owner)
    if isinstance(max_t, bool) or not isinstance(max_t, int) or max_t < 1:
        raise parameter_error("max_t", owner, "an int >= 1", max_t)
    rf = _check_number("reduction_factor", owner, reduction_factor, "a number > 1", 1.0)
    if rf <= 1:
        raise parameter_error("reduction_factor", owner, "a number > 1", reduction_factor)
    try:
        from ray.tune.schedulers import HyperBandScheduler
    except ImportError as exc:
        raise MissingDependencyError(
            "hyperband_scheduler needs Ray Tune: " + install_hint("ray")
        ) from exc
    return HyperBandScheduler(
        time_attr=_TIME_ATTR, metric=metric, mode=mode, max_t=max_t, reduction_factor=rf
    )


def freeze_thaw_scheduler(
    budgets: dict[str, float],
    *,
    mode: str,
    metric: str = "score",
    bounds: Sequence[float | None] | None = None,
    seed: int = 0,
    schedules: dict[str, Any] | None = None,
) -> Any:
    """curvecast's ``ForecastScheduler(freeze_thaw=True)`` with each trial's own final step
    (``budgets``: trial id -> last step) and learning-rate schedule (``schedules``: trial id ->
    schedule dict, where known), its other arguments at their defaults, for
    :class:`PausingController`.

    Raises:
        InvalidParameterError: an argument out of range.
        MissingDependencyError: Ray Tune is not installed.
    """
    mode = _check_mode(mode, "freeze_thaw_scheduler")
    from curvecast.integrations.ray import ForecastScheduler  # raises MissingDependencyError

    known = dict(schedules or {})

    def own(trial: Any) -> float | None:
        return budgets.get(str(trial.trial_id))

    def schedule(trial: Any) -> Any:
        return known.get(str(trial.trial_id))

    return ForecastScheduler(
        metric,
        mode,
        time_attr=_TIME_ATTR,
        max_t=own,
        bounds=bounds,
        seed=seed,
        freeze_thaw=True,
        schedule=schedule if known else None,
    )
