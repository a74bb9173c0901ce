"""The framework-free core of the training-loop callbacks (Lightning, Keras, Transformers).

A :class:`RunStopper` follows one training run: at each evaluation it gets ``(step, value)`` and
answers with a :class:`~curvecast.pruning.Verdict` when a decision was taken. It stops against

* a ``target``: stop when P(final value beats the target) < ``threshold``, with the rule of
  :class:`curvecast.pruning.ForecastRule`; and/or
* the best run so far, read from an Optuna ``storage`` URL shared by the user's runs: the run is
  an Optuna trial there (its curve reported with ``trial.report``), judged by
  :class:`curvecast.integrations.optuna.ForecastPruner` against the completed trials (and the
  running ones' forecasts), whose curves are the forecaster's context. Every decision is stored on
  the trial as the pruner stores it, so ``curvecast dashboard --storage URL`` shows these runs as
  trials, with the stop reason (also in the trial's user attribute ``stop_reason``).

The framework adapters only read the metric, the step, the horizon and the learning-rate schedule
from their trainer and act on the verdict. With a schedule (:class:`curvecast.Schedule`, on the
callback's own axis), the run's curve carries it in ``meta["schedule"]``, so the forecasts of both
checks are the schedule-aware ones (``method="auto"``), and the storage's pruner stores it on the
trial (system attribute ``curvecast:schedule``) for the runs that come later.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np

from curvecast.curves import Curve, Direction, check_bounds
from curvecast.exceptions import (
    InvalidParameterError,
    MissingDependencyError,
    install_hint,
    parameter_error,
)
from curvecast.pruning import ForecastRule, Verdict
from curvecast.pruning._rule import (
    DEFAULT_CHECK_GROWTH,
    DEFAULT_MIN_POINTS,
    DEFAULT_PROBABILITY_THRESHOLD,
)
from curvecast.schedules import Schedule, as_schedule

if TYPE_CHECKING:
    import optuna

__all__ = [
    "MAX_SCHEDULE_POINTS",
    "RunStopper",
    "ScheduleOption",
    "check_mode",
    "check_schedule_option",
    "describe",
    "read_schedule",
    "thinned_schedule",
    "torch_schedule",
]

_OPTUNA = "stopping against the best run in a storage needs Optuna: " + install_hint("optuna")

#: What a callback's ``schedule`` takes: None (read it from the trainer), False (forecast without
#: one), or a Schedule or its dict (this one, on the callback's axis).
ScheduleOption: TypeAlias = Schedule | Mapping[str, Any] | bool | None

#: A schedule read from a trainer keeps at most this many points (a run of 100k steps would
#: otherwise store 100k rates on every trial; 1025 points resolve a cosine to 1e-5 of its peak).
MAX_SCHEDULE_POINTS = 1025


def check_schedule_option(value: object, owner: str) -> Schedule | Literal[False] | None:
    """A callback's ``schedule`` argument, validated: None, False or a Schedule.

    Raises:
        InvalidParameterError: True, or a bad schedule; the message names ``schedule``.
    """
    if value is None or value is False:
        return value
    if value is True:
        raise parameter_error(
            "schedule", owner, "None (read it from the trainer), False or a Schedule", value
        )
    return as_schedule(value, field="schedule")


def read_schedule(
    read: Callable[[], Schedule | None],
    *,
    horizon: float | None,
    owner: str,
    logger: Any,  # a logging.Logger (Transformers wraps its own)
) -> Schedule | None:
    """``read()``, or None with one warning on ``logger`` when it fails or stops before
    ``horizon``: a schedule helps the forecast, and is never a reason to stop a training run."""
    try:
        schedule = read()
        if schedule is not None and horizon is not None:
            schedule.check_covers(horizon, field="horizon")
        return schedule
    except Exception as exc:  # whatever the trainer holds, training goes on
        logger.warning(
            "%s could not read the learning-rate schedule from the trainer (%s: %s); it forecasts "
            "without one. Pass schedule=... to give it, or schedule=False to silence this.",
            owner,
            type(exc).__name__,
            exc,
        )
        return None


def thinned_schedule(x: Sequence[float] | np.ndarray, lr: Sequence[float] | np.ndarray) -> Schedule:
    """A Schedule of points, at most :data:`MAX_SCHEDULE_POINTS` of them (evenly spaced, the
    first and last kept). ``x`` (shape ``(n,)``) increasing, ``lr`` (shape ``(n,)``) >= 0."""
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(lr, dtype=np.float64)
    if xs.size > MAX_SCHEDULE_POINTS:
        keep = np.unique(np.round(np.linspace(0, xs.size - 1, MAX_SCHEDULE_POINTS)).astype(int))
        xs, ys = xs[keep], ys[keep]
    return Schedule({"x": xs.tolist(), "lr": ys.tolist()})


def torch_schedule(scheduler: Any, steps: int, per_unit: float) -> Schedule:
    """The rate a torch ``LRScheduler`` will set over its next ``steps`` steps, on an axis where
    one unit is ``per_unit`` scheduler steps (1 for a per-epoch scheduler on epochs, the
    scheduler steps per epoch for a per-step one). The scheduler is not moved."""
    from curvecast.schedules import schedule_from_torch

    inner = getattr(scheduler, "scheduler", None)  # accelerate's AcceleratedScheduler wraps one
    if getattr(scheduler, "optimizer", None) is None and inner is not None:
        scheduler = inner
    s = schedule_from_torch(scheduler, max(1, int(steps)))
    x = np.asarray(s.spec["x"], dtype=np.float64) / float(per_unit)
    return thinned_schedule(x, s.spec["lr"])


def check_mode(mode: object, owner: str) -> Literal["maximize", "minimize"]:
    """ "min"/"max" (Lightning, Keras) or "minimize"/"maximize" (curvecast) as a direction."""
    if mode in ("min", "minimize"):
        return "minimize"
    if mode in ("max", "maximize"):
        return "maximize"
    raise parameter_error("mode", owner, '"min" or "max"', mode)


def describe(verdict: Verdict, monitor: str, unit: str = "step") -> str:
    """One line for a log: the decision, and why, in the trainer's words (epoch or step)."""
    at = f"{unit} {verdict.step:g}"
    if verdict.reason == "diverged":
        return f"curvecast stopped the run at {at}: {monitor} diverged (NaN, inf or exploding)"
    if verdict.prob_better is None or verdict.incumbent is None:
        return f"curvecast: {verdict.reason.replace('_', ' ')} at {at}"
    what = "the target" if verdict.incumbent_source == "target" else "the best run"
    if verdict.incumbent_source not in (None, "target"):
        what = f"the forecast of {verdict.incumbent_source}"
    med = verdict.forecast_median
    verb = "stopped the run" if verdict.should_stop else "continues"
    horizon = f"{unit} {verdict.horizon:g}" if verdict.horizon is not None else "the end"
    return (
        f"curvecast {verb} at {at}: P(final {monitor} beats {what}, {verdict.incumbent:.4g}) = "
        f"{verdict.prob_better:.3f}; forecast median {'-' if med is None else f'{med:.4g}'} at "
        f"{horizon}"
    )


class RunStopper:
    """Decide, evaluation by evaluation, whether a training run should stop.

    Args:
        monitor: the metric's name (for messages and the stored record).
        direction: "maximize" or "minimize".
        target: stop when P(final ``monitor`` beats ``target``) < ``threshold``; None: no target.
        storage: an Optuna storage URL (``sqlite:///runs.db``, ``postgresql://...``) shared by
            the runs to compare; None: no comparison with other runs.
        study_name: the study of ``storage`` holding these runs (created when missing).
        threshold: the probability below which a run stops, in (0, 1).
        method, bounds, min_points, check_growth, diverge_above, seed, max_context: as for
            :class:`~curvecast.integrations.optuna.ForecastPruner`.
        owner: the class named in error messages.

    Raises:
        InvalidParameterError: neither ``target`` nor ``storage``, or an argument out of range.
    """

    def __init__(
        self,
        *,
        monitor: str,
        direction: Direction,
        target: float | None = None,
        storage: str | None = None,
        study_name: str | None = None,
        threshold: float = DEFAULT_PROBABILITY_THRESHOLD,
        method: str = "auto",
        bounds: Sequence[float | None] | None = None,
        min_points: int = DEFAULT_MIN_POINTS,
        check_growth: float = DEFAULT_CHECK_GROWTH,
        diverge_above: float | None = None,
        seed: int = 0,
        max_context: int = 32,
        owner: str = "RunStopper",
    ) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise parameter_error("monitor", owner, "a metric name such as 'val_loss'", monitor)
        if target is None and storage is None:
            raise InvalidParameterError(
                f"{owner} needs something to stop against: target=VALUE (stop when the run will "
                "most likely not reach it), storage='sqlite:///runs.db' (stop when it will not "
                "beat your best run there), or both."
            )
        if target is not None and (
            isinstance(target, bool)
            or not isinstance(target, int | float)
            or not math.isfinite(target)
        ):
            raise parameter_error("target", owner, "a finite number or None", target)
        if storage is not None and (not isinstance(storage, str) or not storage.strip()):
            raise parameter_error(
                "storage", owner, "an Optuna storage URL such as 'sqlite:///runs.db'", storage
            )
        if study_name is not None and (not isinstance(study_name, str) or not study_name):
            raise parameter_error("study_name", owner, "a non-empty string or None", study_name)
        self.monitor = monitor
        self.direction = direction
        self.target = None if target is None else float(target)
        self.storage = storage
        self.study_name = study_name or f"curvecast:{monitor}"
        self.bounds = check_bounds(bounds)
        self.rule = ForecastRule(
            threshold,
            min_points=min_points,
            method=method,
            diverge_above=diverge_above,
            check_growth=check_growth,
            seed=seed,
            owner=owner,
        )
        if isinstance(max_context, bool) or not isinstance(max_context, int) or max_context < 0:
            raise parameter_error("max_context", owner, "an int >= 0", max_context)
        self.max_context = max_context
        self.owner = owner
        self.steps: list[float] = []
        self.values: list[float] = []
        self.verdicts: list[Verdict] = []
        self.stopped: Verdict | None = None
        self.horizon: float | None = None
        self.schedule: Schedule | None = None
        self._schedule_spec: dict[str, Any] | None = None
        self._study: optuna.Study | None = None
        self._trial: optuna.Trial | None = None

    # -- the run's life ------------------------------------------------------------------
    def begin(
        self,
        horizon: float | None,
        attrs: Mapping[str, Any] | None = None,
        schedule: Schedule | None = None,
    ) -> None:
        """A run starts: remember its horizon and learning-rate ``schedule`` (on the run's axis;
        without a horizon, the schedule's end is the horizon); with a storage, open the study and
        ask a trial, annotated with ``attrs`` (run name, framework, hyperparameters: JSON-ready
        values).

        Raises:
            InvalidParameterError: the schedule stops before the horizon.
        """
        self.steps, self.values, self.verdicts, self.stopped = [], [], [], None
        self.horizon = float(horizon) if horizon is not None and horizon > 0 else None
        self.schedule, self._schedule_spec = schedule, None
        if schedule is not None:
            if self.horizon is None:
                self.horizon = float(schedule.end)
            elif schedule.end * (1 + 1e-9) + 1e-12 < self.horizon:
                raise InvalidParameterError(
                    f"The 'schedule' parameter of {self.owner} must cover the run to its horizon "
                    f"({self.horizon:g}), but it stops at {schedule.end:g}: give it on the "
                    "callback's axis (epochs, or steps for Transformers) up to the trainer's last "
                    "one, or pass schedule=None to read it from the trainer."
                )
            self._schedule_spec = schedule.to_dict()
        if self.storage is None:
            return
        study = self._open_study()
        trial = study.ask()
        for k, v in (attrs or {}).items():
            trial.set_user_attr(str(k), v)
        trial.set_user_attr("monitor", self.monitor)
        if self.target is not None:
            trial.set_user_attr("target", self.target)
        if self.horizon is not None:
            trial.set_user_attr("horizon", self.horizon)
        self._study, self._trial = study, trial

    def update(self, step: float, value: float) -> Verdict | None:
        """The run reached ``step`` with ``value``: the verdict, or None when no decision was
        due (between checks). A "stop" verdict is final: later calls return it again."""
        if self.stopped is not None:
            return self.stopped
        if self.steps and step <= self.steps[-1]:
            return None  # evaluated twice at one step (e.g. validation and train epoch end)
        self.steps.append(float(step))
        self.values.append(float(value))
        meta = {} if self._schedule_spec is None else {"schedule": self._schedule_spec}
        curve = Curve(self.steps, self.values, self.direction, self.bounds, meta)
        verdict = self._judge_against_runs(curve) if self._trial is not None else None
        if self.target is not None and (verdict is None or not verdict.should_stop):
            on_target = self._judge_against_target(curve)
            if on_target is not None and (verdict is None or on_target.should_stop):
                verdict = on_target
                self._record(verdict)
        if verdict is None or verdict.reason == "between_checks":
            return None
        self.verdicts.append(verdict)
        if verdict.should_stop:
            self.stopped = verdict
            if self._trial is not None:
                self._trial.set_user_attr("stop_reason", describe(verdict, self.monitor))
        return verdict

    def end(self, failed: bool = False) -> None:
        """The run ended: tell the storage (PRUNED when stopped here, FAIL on a crash or a
        non-finite last value, else COMPLETE with the last value)."""
        if self._study is None or self._trial is None:
            return
        from optuna.trial import TrialState

        study, trial = self._study, self._trial
        self._study = self._trial = None
        last = self.values[-1] if self.values else math.nan
        if self.stopped is not None:
            study.tell(trial, state=TrialState.PRUNED)
        elif failed or not math.isfinite(last):
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, last)

    @property
    def trial_number(self) -> int | None:
        """The run's trial number in the storage (None without a storage, or after ``end``)."""
        return None if self._trial is None else self._trial.number

    # -- internals -------------------------------------------------------------------------
    def _open_study(self) -> optuna.Study:
        try:
            import optuna

            from curvecast.integrations.optuna import ForecastPruner
        except ImportError as exc:
            raise MissingDependencyError(_OPTUNA) from exc
        r = self.rule
        pruner = ForecastPruner(
            r.threshold,
            max_resource=self.horizon if self.horizon is not None else "auto",
            min_points=r.min_points,
            check_growth=r.check_growth,
            method=r.method,
            bounds=self.bounds,
            diverge_above=r.diverge_above,
            max_context=self.max_context,
            seed=r.seed,
            schedule=self.schedule,
        )
        quiet = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(max(quiet, optuna.logging.WARNING))  # no "Using an existing
        try:  # study" line in the user's training log at every run
            study = optuna.create_study(
                storage=self.storage,
                study_name=self.study_name,
                direction=self.direction,
                pruner=pruner,
                load_if_exists=True,
            )
        finally:
            optuna.logging.set_verbosity(quiet)
        if len(study.directions) != 1 or study.direction.name.lower() != self.direction:
            raise InvalidParameterError(
                f"The study {self.study_name!r} in {self.storage!r} holds runs to be "
                f"{study.directions[0].name.lower()}d, but {self.owner} monitors {self.monitor!r} "
                f"to {self.direction}: pass another study_name, or the mode of those runs."
            )
        return study

    def _judge_against_runs(self, curve: Curve) -> Verdict | None:
        """Report the point and let the study's ForecastPruner decide; read its verdict back."""
        from curvecast.integrations.optuna import verdicts

        assert self._study is not None and self._trial is not None
        step = round(float(curve.x[-1]))
        self._trial.report(float(curve.y[-1]), step)
        self._trial.should_prune()
        frozen = self._study._storage.get_trial(self._trial._trial_id)
        for v in reversed(verdicts(frozen)):
            if v.step == step:
                return v
        return None

    def _context(self) -> list[Curve]:
        """The completed runs of the study, as the pruner sees them (for the target check)."""
        if self._study is None or not self.max_context:
            return []
        from optuna.trial import TrialState

        from curvecast.integrations.optuna import SCHEDULE_ATTR

        out = []
        done = self._study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        for t in sorted(done, key=lambda t: t.number)[-self.max_context :]:
            iv = t.intermediate_values
            if iv:
                steps = sorted(iv)
                # a run's own schedule goes with it, as the pruner passes it (only when this run
                # has one: without, the forecast is the schedule-blind one, context included)
                stored = t.system_attrs.get(SCHEDULE_ATTR) if self.schedule is not None else None
                meta = {} if stored is None else {"schedule": stored}
                if stored is not None and not _valid_schedule(stored):
                    meta = {}  # a record this version cannot read: the curve alone
                c = Curve(steps, [iv[s] for s in steps], self.direction, self.bounds, meta)
                if not c.diverged:
                    out.append(c)
        return out

    def _judge_against_target(self, curve: Curve) -> Verdict | None:
        v = self.rule.decide(
            curve, horizon=self.horizon, incumbent=self.target, context=self._context()
        )
        if v.reason in ("hopeless", "promising"):
            v = Verdict(
                v.decision,
                v.reason,
                v.step,
                v.horizon,
                v.incumbent,
                v.prob_better,
                v.final_quantiles,
                v.method,
                "target",
            )
        return v

    def _record(self, verdict: Verdict) -> None:
        """Store a target verdict where the pruner stores its own (same key, same format)."""
        if self._study is None or self._trial is None or verdict.reason == "between_checks":
            return
        from curvecast.integrations.optuna import ATTR_PREFIX

        storage: Any = self._study._storage
        key = f"{ATTR_PREFIX}{round(verdict.step):010d}"
        storage.set_trial_system_attr(self._trial._trial_id, key, verdict.to_dict())


def _valid_schedule(spec: object) -> bool:
    try:
        as_schedule(spec)
    except InvalidParameterError:
        return False
    return True
