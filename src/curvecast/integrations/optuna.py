"""``ForecastPruner``: forecast-driven pruning for Optuna.

>>> import optuna
>>> from curvecast.integrations.optuna import ForecastPruner
>>> study = optuna.create_study(direction="maximize", pruner=ForecastPruner())

Where the decisions live
------------------------
Each decision is stored on the trial as a system attribute (``trial.system_attrs``), under
``"curvecast:step:<step>"`` (the step zero-padded to 10 digits; read the keys in step order with
:func:`record_keys`, since steps of 1e10 and more have more digits and do not sort as text), holding
:meth:`curvecast.pruning.Verdict.to_dict`: the decision, the reason, the forecast quantiles of the
final value, the probability of beating the incumbent, the incumbent and the horizon. Optuna has no
field for a pruned trial's forecast final value; read it with :func:`final_forecast` (the verdict
that stopped the trial) or every decision with :func:`verdicts`. The pruner's own settings
(bounds, method, threshold) are stored once on the study under ``"curvecast:pruner"``. This
works with every storage (in-memory, SQLite, PostgreSQL, JournalStorage), since system
attributes are part of the storage API, and every worker sees the same record.

Shadow mode
-----------
``ForecastPruner(shadow=True)`` decides and records exactly as it would, with ``"shadow": true``
in every record, and prunes nothing: run it on your own search to see which trials curvecast
would have stopped, and (once they finish) whether it would have been right, before trusting it.
:func:`verdicts` returns the records (``Verdict.shadow`` is True) and :func:`final_forecast` the
verdict that would have stopped the trial.

Records written by others
-------------------------
A ``curvecast:step:*`` record that is not a verdict (written by hand, by another tool, or
corrupted) is skipped and logged on the ``curvecast.integrations.optuna`` logger (once per
record by a pruner; by :func:`verdicts` at each call); it never stops the pruning of other trials.

Pickling, several studies, several processes
--------------------------------------------
A ``ForecastPruner`` pickles (and so does a study that uses it, for ask-and-tell from another
process), provided the functions it was given (``max_resource``, ``schedule``, ``step_cost``) are
module-level functions rather than lambdas. What it caches is kept per study (the storage object
and the study id), so one pruner may serve several studies; a pickled copy starts with empty
caches. A running trial's forecast counts as the incumbent of others only while that trial
reports: once the running trials have made ``STALE_REPORTS`` reports each on average since its
last one, it is left out (a worker that was killed leaves its trial RUNNING). Give a storage shared
by several processes a heartbeat (``RDBStorage(url, heartbeat_interval=60)``) so that Optuna marks
such a trial failed; the pruner warns once per study when the storage has none.

Steps
-----
Optuna's steps are ints; curvecast's axis is float64. Steps that are distinct ints but the same
float64 (``2**62`` and ``2**62 + 1``) are one point: the value of the latest (largest) step is
kept. Steps beyond the float range cannot be forecast: such a trial is not judged.
A trial's learning-rate schedule (``ForecastPruner(schedule=...)``) is stored on it under
``"curvecast:schedule"`` (its JSON spec), so that it can be drawn and reused later.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from curvecast.curves import Curve
from curvecast.exceptions import (
    CurvecastError,
    InvalidCurveError,
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
    import optuna
    from optuna.pruners import BasePruner
    from optuna.study import StudyDirection
    from optuna.trial import FrozenTrial, TrialState
except ImportError as exc:  # pragma: no cover - exercised only without optuna
    raise MissingDependencyError(
        "curvecast.integrations.optuna needs Optuna: " + install_hint("optuna")
    ) from exc

if TYPE_CHECKING:
    from optuna.study import Study

__all__ = [
    "ATTR_PREFIX",
    "SCHEDULE_ATTR",
    "STALE_REPORTS",
    "STUDY_ATTR",
    "ForecastPruner",
    "MaxResource",
    "final_forecast",
    "record_keys",
    "verdicts",
]

logger = logging.getLogger(__name__)

_FLOAT_MAX = 1.7976931348623157e308

#: Prefix of the trial system attributes that hold curvecast's decisions.
ATTR_PREFIX = "curvecast:step:"
#: The study system attribute that holds the pruner's settings (see ForecastPruner.settings).
STUDY_ATTR = "curvecast:pruner"
#: The trial system attribute that holds the trial's learning-rate schedule (JSON spec).
SCHEDULE_ATTR = "curvecast:schedule"
#: A running trial's forecast stops counting as the incumbent once the running trials have made
#: this many reports each, on average, since its own last report (it stopped reporting: its
#: worker may have died without a heartbeat to mark it failed).
STALE_REPORTS = 20


#: What ``max_resource`` takes: the final step of every trial, "auto", or a function of the trial
#: that returns its own final step (None: fall back to "auto").
MaxResource: TypeAlias = int | float | Literal["auto"] | Callable[[FrozenTrial], int | float | None]
#: What ``schedule`` takes: a Schedule (or its dict) for every trial, a function of the trial, or
#: None.
ScheduleSetting: TypeAlias = Any


def _key(step: int) -> str:
    return f"{ATTR_PREFIX}{step:010d}"


def _step_of(key: str) -> int | None:
    """The step a record key names, or None for a key that names none."""
    try:
        return int(key[len(ATTR_PREFIX) :])
    except ValueError:
        return None


def record_keys(trial: FrozenTrial) -> list[str]:
    """The keys of ``trial``'s curvecast records, in step order (numeric: ``step:20000000000``
    comes after ``step:9000000000``, which text order would put first). A key that names no
    step (``"curvecast:step:x"``) comes last, in text order."""
    keys = [k for k in trial.system_attrs if isinstance(k, str) and k.startswith(ATTR_PREFIX)]
    return sorted(keys, key=_key_order)


def _key_order(key: str) -> tuple[int, int, str]:
    step = _step_of(key)
    return (1, 0, key) if step is None else (0, step, key)


def verdicts(trial: FrozenTrial) -> list[Verdict]:
    """Every decision recorded on ``trial``, in step order (shadow ones included: see
    ``Verdict.shadow``). A record that is not a verdict is skipped and logged."""
    out = []
    for k in record_keys(trial):
        v = _read_verdict(trial, k)
        if v is not None:
            out.append(v)
    return out


def final_forecast(trial: FrozenTrial) -> Verdict | None:
    """The verdict that stopped ``trial`` (its forecast of the final value is in
    ``final_quantiles``), or None if the pruner never stopped it. In shadow mode: the first
    verdict that would have stopped it (``.shadow`` is True)."""
    for v in verdicts(trial):
        if v.decision == "stop":
            return v
    return None


def _read_verdict(
    trial: FrozenTrial, key: str, logged: set[tuple[int, str]] | None = None
) -> Verdict | None:
    """The verdict under ``key``, or None (logged) when the record is not one. With ``logged``,
    a record already logged (its ``(trial id, key)`` is in the set) is skipped quietly."""
    try:
        return Verdict.from_dict(trial.system_attrs[key])
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        if logged is not None:
            if (trial._trial_id, key) in logged:
                return None
            logged.add((trial._trial_id, key))
        logger.warning(
            "curvecast: skipped the record %r of trial %d: not a curvecast verdict (%s)",
            key,
            trial.number,
            exc,
        )
        return None


class _Summary:
    """What the completed trials tell: horizon, incumbent, spread, context curves. Cached per
    state; ``n_context`` is how many trials had completed when the context was last drawn."""

    def __init__(
        self,
        key: tuple[int, int],
        horizon: float | None,
        incumbent: float | None,
        context: list[Curve],
        spread: float | None = None,
        n_context: int = 0,
    ) -> None:
        self.key, self.horizon, self.incumbent, self.context = key, horizon, incumbent, context
        self.spread, self.n_context = spread, n_context


class _StudyState:
    """What a pruner keeps about one study: the cached summary, whether the settings were
    stored and the heartbeat checked, what was logged, and how the running trials report."""

    def __init__(self) -> None:
        self.summary: _Summary | None = None
        self.announced = False
        self.warned: set[int] = set()  # trial numbers warned about
        self.logged: set[tuple[int, str]] = set()  # (trial id, key) of bad records logged
        self.last_end: dict[int, float] = {}  # trial number -> when its last call ended
        # running trial number -> (reports seen, ``reports`` when it last reported)
        self.seen: dict[int, tuple[int, int]] = {}
        self.reports = 0  # reports of running trials seen by this pruner, all trials together


class ForecastPruner(BasePruner):
    """Prune a trial when what its forecast expects it to gain is not worth the compute it needs.

    At each reported step, the trial's intermediate values form a curve; curvecast forecasts its
    value at the final step (the horizon), with the search's completed trials as context, and prunes
    when the expected improvement over the incumbent, E[(final - incumbent)+], is at most
    ``regret_rate`` x the search's spread (how far the best completed trial lies ahead of the median
    one) x the share of the trial's compute still to come (``step_cost``). **What the default
    guarantees:** with calibrated forecasts, each pruned trial gives up at most ``regret_rate``
    spreads of expected regret per full trial of compute it saves (see
    :class:`~curvecast.pruning.ForecastRule`). **And where the forecast cannot tell, MedianPruner's
    comparison decides:** a trial behind the median of the completed trials at the same step (its
    best value so far against theirs there) is pruned when the rule above says so, which is a
    subset of what MedianPruner prunes at the same reports; a trial ahead of that median only when
    it has reported twice or more and its forecast also gives it less than a 1% chance of
    beating the incumbent; no trial before 5
    completed trials reach its step (``same_step=False`` lets the forecast decide alone). A trial
    with a 20% chance or more of beating the incumbent is never pruned; one seen for a single
    report is judged only once 5 trials have completed (it is then forecast from how they went on
    from the same step, or from the same stage of their runs where the trials' budgets differ).
    With an explicit ``threshold``, it prunes when P(final beats the incumbent) < threshold
    instead (Domhan et al., 2015). A NaN, infinite or exploding report prunes at once with reason
    "diverged". The incumbent is the best *final reported value* among completed trials (the same
    quantity that is forecast; a study whose objective returns something else, such as a test
    score, is still pruned on its reported values)
    or, with ``incumbent="forecast"`` (the default), a running trial's pessimistic forecast where
    that is better: the value its latest recorded forecast says it reaches with probability 0.75
    (the lower quartile of its final value when maximising, the upper when minimising). So trials
    running side by side (several workers, or ``n_jobs > 1``) compete with each other, as successive
    halving compares the trials of a rung; each verdict records the value it was judged against.
    Before any trial completed this needs a known horizon (a number or a function as
    ``max_resource``; "auto" knows none yet). A running trial's forecast counts only while the
    trial reports: one that has not reported while the running trials made
    :data:`STALE_REPORTS` reports each since (its worker may have died, leaving it RUNNING) is
    left out until it reports again. Give a storage shared by several processes a
    ``heartbeat_interval`` so that Optuna marks such a trial failed (the pruner warns once per
    study when it has none), or use ``incumbent="completed"``.

    The pruner pickles (with module-level functions as its settings) and may serve several
    studies: what it caches is kept per study.

    Args:
        threshold: None (default: the expected-gain rule above) or a float in (0, 1): prune
            when P(final beats incumbent) < threshold (Domhan et al. (2015) used 0.05).
        regret_rate: the default rule's allowance (> 0): expected regret, in spreads of the
            search, that a prune may give up per full trial of compute it saves; default 0.05.
            Smaller is safer and saves less (see ``curvecast bench prune``).
        step_cost: the compute of one report: None (default, 1 per report), a positive number,
            "step" (the steps measure compute: a report costs its step minus the previous
            one), or a function of the step returning that report's cost, e.g. ``lambda s: s``
            when each step retrains from scratch on ``s`` samples. Late reports that cost more
            weigh more in the decision.
        max_resource: the final step, or "auto" (default): the largest last step among
            completed trials; until one trial completes, only divergence prunes. When trials
            have budgets of their own (the number of epochs is a hyperparameter, or a compute
            budget fixes each model's tokens), pass a function of the trial that returns its
            final step, e.g. ``lambda t: t.params["epochs"]``: each trial is then forecast at
            its own end (returning None falls back to "auto").
        n_startup_trials: the best completed trial counts as the incumbent once this many
            trials completed (>= 1).
        incumbent: "forecast" (default) or "completed": whether running trials' pessimistic
            forecasts can be the incumbent (see above) or only completed trials. "completed"
            is Domhan et al.'s rule: nothing is pruned (but divergence) before a trial
            completed.
        min_points: no forecast-based pruning before this many reports (>= 1).
        warmup_fraction: no forecast-based pruning before ``step >= warmup_fraction *
            max_resource``, in [0, 1).
        check_growth: forecast at geometrically spaced reports (see
            :class:`~curvecast.pruning.ForecastRule`; 1.0: at every report).
        method: forecasting method (see :func:`curvecast.available_methods`).
        bounds: ``(lo, hi)`` the reported metric cannot leave, e.g. ``(0, 1)`` for accuracy.
        diverge_above: a value that marks divergence (above it when minimising, below when
            maximising), or None.
        max_context: how many completed trials are passed as context to the forecaster (0: none).
        seed: seed of the forecasts (an int >= 0), so that every worker reaches the same
            decision.
        shadow: record every verdict (``"shadow": true``) but prune nothing (see "Shadow mode"
            in the module docstring); ``should_prune`` then always returns False.
        schedule: the learning-rate schedule of the trials (see :class:`curvecast.Schedule`):
            one schedule or dict for every trial, or a function of the trial that returns one
            (or None), e.g. ``lambda t: {"name": "cosine", "peak_lr": t.params["lr"],
            "total": 100}``, on the axis of the reported steps. The forecast then bends where
            the schedule says, completed trials pass their own schedules as context, the
            schedule is stored on the trial (system attribute ``"curvecast:schedule"``), and
            with ``max_resource="auto"`` a trial's horizon is its schedule's end.
        max_overhead: keep the pruner's own time within this share of the training time (e.g.
            0.1): a forecast that is due is skipped while the time spent in ``should_prune``
            exceeds ``max_overhead`` x the time the trials spent between their reports (in
            this process). For epochs that cost milliseconds. None (default): every check is
            made, so decisions depend on the reports only, not on timing.
        same_step: the default rule stops a trial only when it is also behind the median of
            the completed trials at the same step, once 5 of them reach it (MedianPruner's
            comparison: see :class:`~curvecast.pruning.ForecastRule`). False lets the forecast
            decide alone (it saves more and risks more). Not used with a ``threshold``.

    Raises:
        InvalidParameterError: an argument is out of range (at construction).
        ValueError: the study has several objectives (at the first ``prune`` call).
    """

    def __init__(
        self,
        threshold: float | None = DEFAULT_THRESHOLD,
        *,
        regret_rate: float = DEFAULT_REGRET_RATE,
        step_cost: StepCost = None,
        max_resource: MaxResource = "auto",
        n_startup_trials: int = 1,
        min_points: int = DEFAULT_MIN_POINTS,
        warmup_fraction: float = DEFAULT_WARMUP_FRACTION,
        check_growth: float = DEFAULT_CHECK_GROWTH,
        method: str = "auto",
        bounds: Sequence[float | None] | None = None,
        diverge_above: float | None = None,
        max_context: int = 32,
        seed: int = 0,
        incumbent: Literal["forecast", "completed"] = "forecast",
        shadow: bool = False,
        schedule: ScheduleSetting = None,
        max_overhead: float | None = None,
        same_step: bool = True,
    ) -> None:
        owner = "ForecastPruner"
        if not isinstance(shadow, bool):
            raise parameter_error("shadow", owner, "True or False", shadow)
        if schedule is not None and not callable(schedule):
            from curvecast.schedules import as_schedule

            schedule = as_schedule(schedule)
        self._schedule = schedule
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
            same_step=same_step,
            owner=owner,
        )
        check_horizon_setting(max_resource, name="max_resource", owner=owner)
        for name, value, low in (
            ("n_startup_trials", n_startup_trials, 1),
            ("max_context", max_context, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise parameter_error(name, owner, f"an int >= {low}", value)
        from curvecast.curves import check_bounds

        self._bounds = check_bounds(bounds)
        self._max_resource = max_resource
        self._n_startup_trials = n_startup_trials
        self._max_context = max_context
        self._provisional: float | None = PROVISIONAL_LEVEL if incumbent == "forecast" else None
        self._lock = threading.Lock()
        self._states: weakref.WeakKeyDictionary[Any, dict[int, _StudyState]] = (
            weakref.WeakKeyDictionary()
        )
        self._shadow = shadow
        if max_overhead is not None and not (
            isinstance(max_overhead, int | float)
            and not isinstance(max_overhead, bool)
            and 0 < max_overhead < math.inf
        ):
            raise parameter_error("max_overhead", owner, "a positive float or None", max_overhead)
        self._max_overhead = None if max_overhead is None else float(max_overhead)
        self._pruner_seconds = self._training_seconds = 0.0
        self._skipped = 0

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the settings and counters; the lock and the per-study caches (per process,
        keyed by storage objects) are made anew on unpickling."""
        state = self.__dict__.copy()
        del state["_lock"], state["_states"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._states = weakref.WeakKeyDictionary()

    def _state(self, study: Study) -> _StudyState:
        """This pruner's state for ``study``: keyed by the storage object and the study id, since
        two in-memory studies both have study id 0."""
        storage = study._storage
        with self._lock:
            per_study = self._states.get(storage)
            if per_study is None:
                per_study = self._states[storage] = {}
            state = per_study.get(study._study_id)
            if state is None:
                state = per_study[study._study_id] = _StudyState()
            return state

    @property
    def rule(self) -> ForecastRule:
        """The stopping rule this pruner applies."""
        return self._rule

    def _direction(self, study: Study) -> Literal["maximize", "minimize"]:
        directions = study.directions
        if len(directions) != 1:
            raise ValueError(
                f"ForecastPruner prunes single-objective studies; study {study.study_name!r} "
                f"has {len(directions)} objectives. Optuna does not prune multi-objective trials."
            )
        return "maximize" if directions[0] == StudyDirection.MAXIMIZE else "minimize"

    @property
    def shadow(self) -> bool:
        """Whether the pruner only records what it would have done (see "Shadow mode")."""
        return self._shadow

    def _curve(
        self, trial: FrozenTrial, direction: str, state: _StudyState | None = None
    ) -> Curve | None:
        """The trial's reports as a Curve; None when there is none to judge. Raises
        InvalidCurveError for reports outside the pruner's bounds."""
        values = trial.intermediate_values
        if not values:
            return None
        xs: list[float] = []
        ys: list[float] = []
        for step in sorted(values):
            if abs(step) > _FLOAT_MAX:
                self._warn_once(state, trial, f"step {step:.3g} is beyond the float range")
                return None
            x = float(step)
            if xs and x <= xs[-1]:  # distinct ints, one float64: keep the latest step's value
                ys[-1] = values[step]
                continue
            xs.append(x)
            ys.append(values[step])
        meta: dict[str, Any] = {"trial": trial.number}
        schedule = self._trial_schedule(trial)
        if schedule is not None:
            meta["schedule"] = schedule.to_dict()
        return Curve(xs, ys, direction, self._bounds, meta=meta)

    def _warn_once(self, state: _StudyState | None, trial: FrozenTrial, what: str) -> None:
        if state is not None:
            with self._lock:
                if trial.number in state.warned:
                    return
                state.warned.add(trial.number)
        logger.warning("curvecast: trial %d is not judged: %s.", trial.number, what)

    def _trial_schedule(self, trial: FrozenTrial) -> Any:
        """The trial's Schedule: the one stored on it, else from ``schedule``; None without."""
        if self._schedule is None:
            return None
        from curvecast.schedules import as_schedule

        stored = trial.system_attrs.get(SCHEDULE_ATTR)
        if stored is not None:
            return as_schedule(stored, field=SCHEDULE_ATTR)
        value = self._schedule(trial) if callable(self._schedule) else self._schedule
        return as_schedule(value, field="schedule")

    def _summarise(
        self, completed: Sequence[FrozenTrial], direction: str, state: _StudyState
    ) -> _Summary:
        """The summary of the ``completed`` trials (in number order), cached per study."""
        # Optuna returns trials in creation order: the last completed has the largest number
        key = (len(completed), completed[-1].number if completed else -1)
        with self._lock:
            if state.summary is not None and state.summary.key == key:
                return state.summary
        finals: list[float] = []
        last_steps: list[int] = []
        for t in completed:
            if t.intermediate_values:
                last = max(t.intermediate_values)
                finals.append(float(t.intermediate_values[last]))
                last_steps.append(last)
            elif t.value is not None:
                finals.append(float(t.value))
        finite = [v for v in finals if math.isfinite(v)]
        incumbent: float | None = None
        if len(completed) >= self._n_startup_trials and finite:
            incumbent = max(finite) if direction == "maximize" else min(finite)
        if callable(self._max_resource) or self._max_resource == "auto":
            horizon: float | None = float(max(last_steps)) if last_steps else None
        else:
            horizon = float(self._max_resource)
        spread = search_spread(finite, direction)
        previous = state.summary
        if previous is not None and not context_due(previous.n_context, len(completed)):
            # the context is redrawn as the search grows by a quarter, not at every completion:
            # the calibrated forecaster's leave-one-out errors are cached per context, so a
            # pruner at 1,000 trials pays for them about 30 times, not 1,000
            summary = _Summary(
                key, horizon, incumbent, previous.context, spread, previous.n_context
            )
            with self._lock:
                state.summary = summary
            return summary
        context = []
        if self._max_context:
            for t in sorted(completed, key=lambda t: t.number)[-self._max_context :]:
                try:
                    c = self._curve(t, direction, state)
                except InvalidCurveError:  # reports outside the bounds: no context
                    continue
                except CurvecastError as exc:  # a malformed stored schedule: skip, say so once
                    self._warn_once(state, t, f"its stored record cannot be read ({exc})")
                    continue
                if c is not None and not c.diverged:
                    context.append(as_seen(c))  # as the forecaster sees it, once per draw
        summary = _Summary(key, horizon, incumbent, context, spread, len(completed))
        with self._lock:
            state.summary = summary
        return summary

    def settings(self) -> dict[str, Any]:
        """What the pruner was built with, JSON-ready: stored on the study (system attribute
        ``"curvecast:pruner"``) so that the dashboard forecasts running trials the same way."""
        r = self._rule
        return {
            "threshold": r.threshold,
            "regret_rate": r.regret_rate,
            "step_cost": _cost_setting(r.step_cost),
            "method": r.method,
            "min_points": r.min_points,
            "warmup_fraction": r.warmup_fraction,
            "check_growth": r.check_growth,
            "bounds": None
            if self._bounds is None
            else [b if math.isfinite(b) else None for b in self._bounds],
            "max_resource": "per-trial" if callable(self._max_resource) else self._max_resource,
            "incumbent": "completed" if self._provisional is None else "forecast",
            "shadow": self._shadow,
            **({} if self._schedule is None else {"schedule": _schedule_setting(self._schedule)}),
        }

    def _horizon(self, trial: FrozenTrial, summary: _Summary) -> float | None:
        """The final step of ``trial``: its own (a callable ``max_resource``) or the study's."""
        if self._max_resource == "auto" and self._schedule is not None:
            schedule = self._trial_schedule(trial)
            if schedule is not None:
                return float(schedule.end)
        if not callable(self._max_resource):
            return summary.horizon
        own = own_horizon(
            self._max_resource(trial),
            name="max_resource",
            owner="ForecastPruner",
            trial=trial.number,
        )
        return summary.horizon if own is None else own

    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        """Decide for ``trial`` at its latest step; records the decision on the trial."""
        started = time.perf_counter()
        state = self._state(study)
        if self._max_overhead is not None:
            self._count_training(state, trial, started)
        try:
            return self._prune(study, trial, state)
        finally:
            ended = time.perf_counter()
            with self._lock:
                self._pruner_seconds += ended - started
                state.last_end[trial.number] = ended

    def _count_training(self, state: _StudyState, trial: FrozenTrial, now: float) -> None:
        """Add the time ``trial`` trained since its last ``should_prune`` (since it started, at
        its first) to the training time the pruner's own time is held to."""
        last = state.last_end.get(trial.number)
        if last is not None:
            spent = now - last
        elif trial.datetime_start is not None:
            spent = (datetime.now() - trial.datetime_start).total_seconds()
        else:
            spent = 0.0
        with self._lock:
            self._training_seconds += max(spent, 0.0)

    def _over_budget(self) -> bool:
        """Whether the pruner's time so far exceeds ``max_overhead`` x the training time."""
        if self._max_overhead is None:
            return False
        with self._lock:
            return self._pruner_seconds > self._max_overhead * self._training_seconds

    @property
    def overhead(self) -> tuple[float, float, int]:
        """``(pruner seconds, training seconds, checks skipped)`` in this process: the time
        inside ``should_prune``, the trials' time between their reports (counted only with
        ``max_overhead``), and the forecasts skipped to keep within ``max_overhead``."""
        return self._pruner_seconds, self._training_seconds, self._skipped

    def _prune(self, study: Study, trial: FrozenTrial, state: _StudyState) -> bool:
        direction = self._direction(study)
        storage: Any = study._storage
        if not state.announced:
            storage.set_study_system_attr(study._study_id, STUDY_ATTR, self.settings())
            state.announced = True
            self._check_heartbeat(storage)
        step = trial.last_step
        if step is None:
            return False
        try:
            curve = self._curve(trial, direction, state)
        except InvalidCurveError as exc:  # reports outside the bounds: say so, never judge
            self._warn_once(state, trial, str(exc))
            if self._rule.is_check_point(len(trial.intermediate_values)):
                self._record(study, trial, step, Verdict("continue", "out_of_bounds", float(step)))
            return False
        if curve is None:
            return False
        if "schedule" in curve.meta and SCHEDULE_ATTR not in trial.system_attrs:
            storage.set_trial_system_attr(trial._trial_id, SCHEDULE_ATTR, curve.meta["schedule"])
        n = curve.n_observed
        if not curve.diverged and n > self._rule.min_points and not self._rule.is_check_point(n):
            return False  # no forecast due: skip the study scan and the storage write
        if not curve.diverged and self._over_budget():
            with self._lock:
                self._skipped += 1
            return False  # the pruner already costs max_overhead of the training: skip this check
        # one read of the storage for both (on RDB storage each read is a query)
        states = (TrialState.COMPLETE, TrialState.RUNNING)
        trials = study.get_trials(deepcopy=False, states=states)
        completed = [t for t in trials if t.state == TrialState.COMPLETE]
        summary = self._summarise(completed, direction, state)
        incumbent, source = summary.incumbent, None
        if self._provisional is not None:
            running = [t for t in trials if t.state == TrialState.RUNNING]
            incumbent, source = provisional_incumbent(
                incumbent,
                self._running_verdicts(running, trial, state),
                direction,
                self._provisional,
            )
        verdict = self._rule.decide(
            curve,
            horizon=self._horizon(trial, summary),
            incumbent=incumbent,
            context=summary.context,
            forecast_without_incumbent=self._provisional is not None,
            incumbent_source=source,
            spread=summary.spread,
        )
        if self._shadow:
            verdict = dataclasses.replace(verdict, shadow=True)
        if verdict.reason != "between_checks":
            self._record(study, trial, step, verdict)
        return verdict.should_stop and not self._shadow

    def _running_verdicts(
        self, running: Sequence[FrozenTrial], trial: FrozenTrial, state: _StudyState
    ) -> list[tuple[str, Verdict]]:
        """("running trial N", latest recorded verdict) of every other trial in ``running``
        that still reports (see :data:`STALE_REPORTS`)."""
        with self._lock:
            stale = self._stale(running, state)
        out = []
        for t in running:
            if t.number == trial.number or t.number in stale:
                continue
            keys = record_keys(t)
            if keys:  # the latest step's record; a bad one is skipped (logged once), never spread
                v = _read_verdict(t, keys[-1], state.logged)
                if v is not None:
                    out.append((f"running trial {t.number}", v))
        return out

    @staticmethod
    def _stale(running: Sequence[FrozenTrial], state: _StudyState) -> set[int]:
        """The numbers of the running trials that stopped reporting: the running trials made
        :data:`STALE_REPORTS` reports each, on average, since their last report. Counts the
        reports seen at each call (the caller holds the lock)."""
        seen = state.seen
        live = set()
        for t in running:
            live.add(t.number)
            n = len(t.intermediate_values)
            before = seen.get(t.number)
            if before is None:
                seen[t.number] = (n, state.reports)
            elif n > before[0]:
                state.reports += n - before[0]
                seen[t.number] = (n, state.reports)
        for number in [k for k in seen if k not in live]:  # ended: forget it
            del seen[number]
        limit = STALE_REPORTS * max(len(running), 1)
        return {k for k, (_, at) in seen.items() if state.reports - at > limit}

    @staticmethod
    def _check_heartbeat(storage: Any) -> None:
        """Warn (once per storage and process) when a storage that several processes can share
        has no heartbeat: a killed worker's trial then stays RUNNING."""
        from optuna.storages import InMemoryStorage

        if isinstance(storage, InMemoryStorage):
            return
        try:
            from optuna.storages._heartbeat import is_heartbeat_enabled

            if is_heartbeat_enabled(storage):
                return
        except ImportError:  # pragma: no cover - a future Optuna without the helper
            return
        backend = getattr(storage, "_backend", storage)  # _CachedStorage wraps an RDBStorage
        where = str(getattr(backend, "url", "")) or f"{type(storage).__name__} {id(storage)}"
        with _HEARTBEAT_LOCK:
            if where in _HEARTBEAT_WARNED:
                return  # pickled copies of a pruner (ask-and-tell workers) warn once, too
            _HEARTBEAT_WARNED.add(where)
        logger.warning(
            "curvecast: the study's storage (%s) has no heartbeat, so a trial whose worker was "
            "killed stays RUNNING; ForecastPruner counts a running trial's forecast only while "
            "it reports. With several processes, give the storage a heartbeat, e.g. "
            "optuna.storages.RDBStorage(url, heartbeat_interval=60).",
            type(storage).__name__,
        )

    @staticmethod
    def _record(study: Study, trial: FrozenTrial, step: int, verdict: Verdict) -> None:
        storage: Any = study._storage  # Optuna offers no public way to annotate from a pruner
        storage.set_trial_system_attr(trial._trial_id, _key(step), verdict.to_dict())


#: The storages (URL, or type and id) warned about in this process: see _check_heartbeat.
_HEARTBEAT_WARNED: set[str] = set()
_HEARTBEAT_LOCK = threading.Lock()


def _cost_setting(step_cost: StepCost) -> Any:
    return "per-trial function" if callable(step_cost) else step_cost


def _schedule_setting(schedule: Any) -> Any:
    return "per-trial" if callable(schedule) else schedule.to_dict()


del optuna
