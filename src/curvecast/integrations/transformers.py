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
INFO).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from curvecast.exceptions import InvalidParameterError, MissingDependencyError, install_hint
from curvecast.integrations._callback import RunStopper, describe
from curvecast.pruning import Verdict
from curvecast.pruning._rule import DEFAULT_CHECK_GROWTH, DEFAULT_MIN_POINTS, DEFAULT_THRESHOLD

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
        method, bounds, check_growth, seed: see
            :class:`~curvecast.integrations.optuna.ForecastPruner`.

    Attributes:
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
        threshold: float = DEFAULT_THRESHOLD,
        min_evals: int = DEFAULT_MIN_POINTS,
        method: str = "auto",
        bounds: Sequence[float | None] | None = None,
        check_growth: float = DEFAULT_CHECK_GROWTH,
        seed: int = 0,
    ) -> None:
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
        self._stopper.begin(horizon, attrs)

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
