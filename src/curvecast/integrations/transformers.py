"""``ForecastEarlyStoppingCallback``: a Hugging Face ``Trainer`` callback that stops on a forecast.

>>> from transformers import Trainer, TrainingArguments
>>> from curvecast.integrations.transformers import ForecastEarlyStoppingCallback
>>> args = TrainingArguments("out", eval_strategy="epoch", metric_for_best_model="accuracy")
>>> trainer = Trainer(model, args, callbacks=[ForecastEarlyStoppingCallback(target=0.92)])
... # doctest: +SKIP

Like Transformers' ``EarlyStoppingCallback``, it watches ``args.metric_for_best_model``
(``eval_`` prefixed) in the direction of ``args.greater_is_better``, at each evaluation. The
axis is ``state.global_step`` and the horizon ``state.max_steps``, so it works with epoch and
step evaluation strategies alike. It sets ``control.should_training_stop`` when the forecast of
the metric at ``max_steps`` gives the run less than ``threshold`` chance of reaching ``target``,
or of beating the best run stored in ``storage`` (an Optuna storage URL shared by your runs).
Each decision is appended to ``state.log_history`` (saved in ``trainer_state.json``) and logged
through Transformers' logging (the stop reason at WARNING, the default verbosity, others at
INFO). The learning-rate schedule is read from the trainer's ``lr_scheduler`` over the global
steps (or, when it has none, from ``args.lr_scheduler_type``, ``learning_rate`` and the warm-up),
so the forecast is the schedule-aware one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from curvecast.exceptions import InvalidParameterError, MissingDependencyError, install_hint
from curvecast.integrations._callback import (
    RunStopper,
    ScheduleOption,
    check_schedule_option,
    describe,
    read_schedule,
    torch_schedule,
)
from curvecast.pruning import Verdict
from curvecast.pruning._rule import (
    DEFAULT_CHECK_GROWTH,
    DEFAULT_MIN_POINTS,
    DEFAULT_PROBABILITY_THRESHOLD,
)
from curvecast.schedules import Schedule

try:
    from transformers import TrainerCallback
    from transformers.utils import logging as hf_logging
except ImportError as exc:  # pragma: no cover - exercised only without transformers
    raise MissingDependencyError(
        "curvecast.integrations.transformers needs Hugging Face Transformers: "
        + install_hint("transformers")
    ) from exc

__all__ = ["ForecastEarlyStoppingCallback"]

logger = hf_logging.get_logger("transformers.curvecast")

_ARG_ATTRS = ("learning_rate", "num_train_epochs", "per_device_train_batch_size", "seed")

#: ``args.lr_scheduler_type`` -> the curvecast schedule of the same shape (Transformers' defaults:
#: decay to 0 at ``max_steps``, half a cosine), for a trainer without an ``lr_scheduler`` yet.
_NAMED = {
    "constant": "constant",
    "constant_with_warmup": "constant",
    "linear": "linear",
    "cosine": "cosine",
}


class ForecastEarlyStoppingCallback(TrainerCallback):
    """Stop a ``Trainer`` run when a forecast says it will not reach ``target`` or beat the best
    run in ``storage``.

    Args:
        metric: the evaluation metric (default ``args.metric_for_best_model``); ``eval_`` is
            prefixed when missing, as Transformers does.
        greater_is_better: default ``args.greater_is_better`` (Transformers sets it from the
            metric's name when not given).
        target: stop when P(final metric beats ``target``) < ``threshold``.
        storage: an Optuna storage URL (``"sqlite:///runs.db"``) shared by your runs: stop when
            P(final beats the best run there) < ``threshold``. At least one of ``target`` and
            ``storage`` is needed; with both, either can stop the run.
        study_name: the study in ``storage`` (default ``"curvecast:<metric>"``).
        run_name: the name stored with the run (default ``args.run_name``).
        threshold: in (0, 1), default 0.1.
        min_evals: no forecast-based stop before this many evaluations (>= 1, default 2).
        schedule: the learning-rate schedule over the global steps (a
            :class:`curvecast.Schedule` or its dict). None (default): read when training
            begins from the trainer's ``lr_scheduler`` (stepped on a copy, up to
            ``state.max_steps``) or, without one, from ``args.lr_scheduler_type`` ("linear",
            "cosine", "constant", "constant_with_warmup"), ``args.learning_rate`` and the
            warm-up. A schedule that cannot be read is logged once and the run goes on without
            one. False: no schedule.
        method, bounds, check_growth, seed: see
            :class:`~curvecast.integrations.optuna.ForecastPruner`.

    Attributes:
        schedule: the schedule of the current run (None: none), set when training begins.
        stopped_step: the global step at which the run was stopped (0: not stopped).
        stopping_reason_message: why, in one line (None: not stopped).
        verdicts: every decision taken.

    Raises:
        InvalidParameterError: nothing to stop against or an argument out of range (at
            construction); no metric to watch, or no evaluation during training (when training
            begins); the metric missing from the evaluation (at the first evaluation).
    """

    def __init__(
        self,
        metric: str | None = None,
        greater_is_better: bool | None = None,
        *,
        target: float | None = None,
        storage: str | None = None,
        study_name: str | None = None,
        run_name: str | None = None,
        threshold: float = DEFAULT_PROBABILITY_THRESHOLD,
        min_evals: int = DEFAULT_MIN_POINTS,
        method: str = "auto",
        bounds: Sequence[float | None] | None = None,
        check_growth: float = DEFAULT_CHECK_GROWTH,
        seed: int = 0,
        schedule: ScheduleOption = None,
    ) -> None:
        self._schedule_option = check_schedule_option(schedule, "ForecastEarlyStoppingCallback")
        self.metric = metric
        self.greater_is_better = greater_is_better
        self.run_name = run_name
        self._settings: dict[str, Any] = {
            "target": target,
            "storage": storage,
            "study_name": study_name,
            "threshold": threshold,
            "method": method,
            "bounds": bounds,
            "min_points": min_evals,
            "check_growth": check_growth,
            "seed": seed,
        }
        # validate now, with a placeholder metric: a mistake shows at construction, not later
        self._stopper = self._make(metric or "eval_metric", greater_is_better is not False)
        self.stopped_step = 0
        self.stopping_reason_message: str | None = None

    def _make(self, monitor: str, maximize: bool) -> RunStopper:
        return RunStopper(
            monitor=monitor,
            direction="maximize" if maximize else "minimize",
            owner="ForecastEarlyStoppingCallback",
            **self._settings,
        )

    @property
    def verdicts(self) -> list[Verdict]:
        return list(self._stopper.verdicts)

    @property
    def schedule(self) -> Schedule | None:
        return self._stopper.schedule

    def _monitor(self, args: Any) -> str:
        name = self.metric or args.metric_for_best_model
        if not name:
            raise InvalidParameterError(
                "ForecastEarlyStoppingCallback needs a metric to watch: pass metric='accuracy' "
                "or set TrainingArguments(metric_for_best_model='accuracy')"
            )
        return name if name.startswith("eval_") else f"eval_{name}"

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        strategy = str(getattr(args.eval_strategy, "value", args.eval_strategy))
        if strategy == "no":
            raise InvalidParameterError(
                "ForecastEarlyStoppingCallback decides at each evaluation, and this Trainer never "
                "evaluates: set TrainingArguments(eval_strategy='epoch') or eval_strategy='steps'"
            )
        monitor = self._monitor(args)
        maximize = self.greater_is_better
        if maximize is None:
            maximize = args.greater_is_better
        if maximize is None:
            maximize = not monitor.endswith("loss")
        self._stopper = self._make(monitor, bool(maximize))
        self.stopped_step, self.stopping_reason_message = 0, None
        attrs: dict[str, Any] = {"framework": "transformers"}
        name = self.run_name or getattr(args, "run_name", None)
        if name:
            attrs["run_name"] = str(name)
        for a in _ARG_ATTRS:
            v = getattr(args, a, None)
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                attrs[f"arg:{a}"] = v
        horizon = state.max_steps if state.max_steps and state.max_steps > 0 else None
        if not state.is_world_process_zero:
            # only the main process records the run; with several processes and a storage,
            # the others stop on the target alone (see docs/integrations.md)
            self._stopper.storage = None
        schedule = self._schedule_for(args, horizon, kwargs.get("lr_scheduler"))
        self._stopper.begin(horizon, attrs, schedule)

    def _schedule_for(self, args: Any, horizon: int | None, scheduler: Any) -> Schedule | None:
        option = self._schedule_option
        if option is False:
            return None
        if option is not None:
            return option
        if horizon is None:
            return None
        return read_schedule(
            lambda: _trainer_schedule(args, horizon, scheduler),
            horizon=horizon,
            owner="ForecastEarlyStoppingCallback",
            logger=logger,
        )

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        metrics: dict[str, float] = kwargs.get("metrics") or {}
        monitor = self._stopper.monitor
        if monitor not in metrics:
            raise InvalidParameterError(
                f"ForecastEarlyStoppingCallback watches {monitor!r}, which the evaluation did not "
                f"return; use one of {', '.join(repr(k) for k in metrics)} (metric= or "
                "metric_for_best_model), or return it from compute_metrics"
            )
        verdict = self._stopper.update(state.global_step, float(metrics[monitor]))
        if verdict is None:
            return
        message = describe(verdict, monitor, "step")
        entry: dict[str, Any] = {
            "curvecast_decision": verdict.decision,
            "curvecast_reason": verdict.reason,
            "step": state.global_step,
        }
        if state.epoch is not None:
            entry["epoch"] = state.epoch
        if verdict.prob_better is not None:
            entry["curvecast_prob_better"] = verdict.prob_better
        if verdict.forecast_median is not None and math.isfinite(verdict.forecast_median):
            entry["curvecast_forecast_median"] = verdict.forecast_median
        state.log_history.append(entry)
        if verdict.should_stop and not self.stopping_reason_message:
            control.should_training_stop = True
            self.stopped_step = state.global_step
            self.stopping_reason_message = message
            logger.warning(message)
        else:
            logger.info(message)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._stopper.end()


def _trainer_schedule(args: Any, max_steps: int, scheduler: Any) -> Schedule | None:
    """The rate over the global steps (the rate at ``x`` is the one of the step after ``x``
    steps): the trainer's torch scheduler, stepped on a copy, else (none yet, or a stand-in such
    as DeepSpeed's DummyScheduler) the one the arguments name."""
    inner = getattr(scheduler, "scheduler", scheduler)  # accelerate's wrapper
    if getattr(inner, "optimizer", None) is not None and hasattr(inner, "step"):
        done = int(getattr(inner, "last_epoch", 0) or 0)
        return torch_schedule(scheduler, max(1, max_steps - done), 1)
    kind = str(getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type))
    if kind not in _NAMED or getattr(args, "lr_scheduler_kwargs", None):
        raise ValueError(
            f"the trainer has no torch lr_scheduler yet and lr_scheduler_type={kind!r}"
            f"{' with lr_scheduler_kwargs' if kind in _NAMED else ''} has no curvecast "
            f"equivalent (known: {', '.join(_NAMED)})"
        )
    warmup = float(args.get_warmup_steps(max_steps)) if kind != "constant" else 0.0
    return Schedule(
        {
            "name": _NAMED[kind],
            "peak_lr": float(args.learning_rate),
            "total": float(max_steps),
            "warmup": warmup,
        }
    )
