"""``ForecastEarlyStopping``: Keras's ``EarlyStopping``, deciding on a forecast of the run.

>>> import keras
>>> from curvecast.integrations.keras import ForecastEarlyStopping
>>> stop = ForecastEarlyStopping(monitor="val_accuracy", target=0.92)
>>> model.fit(x, y, validation_split=0.2, epochs=50, callbacks=[stop])  # doctest: +SKIP

Works with every Keras 3 backend (it reads only the epoch's ``logs``). The run stops as soon as
the forecast of ``monitor`` at the last epoch (``fit(epochs=...)``) gives it less than
``threshold`` chance of reaching ``target``, or of beating the best run stored in ``storage`` (an
Optuna storage URL shared by your runs). Each epoch's ``logs`` get ``curvecast_prob_better``,
``curvecast_forecast_median`` (NaN when no forecast was made that epoch) and ``curvecast_stop``,
so ``History``, the progress bar and other callbacks (CSVLogger, TensorBoard) record them; the
stop reason is printed as Keras prints its own (``verbose=1``, the default here). The
learning-rate schedule is read from the optimizer (a ``keras.optimizers.schedules``
``LearningRateSchedule``, put on the epoch axis with ``fit``'s steps per epoch; a constant rate
otherwise), so the forecast is the schedule-aware one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from curvecast.exceptions import (
    InvalidParameterError,
    MissingDependencyError,
    install_hint,
    parameter_error,
)
from curvecast.integrations._callback import (
    MAX_SCHEDULE_POINTS,
    RunStopper,
    ScheduleOption,
    check_mode,
    check_schedule_option,
    describe,
    read_schedule,
    thinned_schedule,
)
from curvecast.pruning import Verdict
from curvecast.pruning._rule import (
    DEFAULT_CHECK_GROWTH,
    DEFAULT_MIN_POINTS,
    DEFAULT_PROBABILITY_THRESHOLD,
)
from curvecast.schedules import Schedule

try:
    import keras
except ImportError as exc:  # pragma: no cover - exercised only without keras
    raise MissingDependencyError(
        "curvecast.integrations.keras needs Keras 3 and a backend (torch, jax or tensorflow): "
        + install_hint("keras")
    ) from exc

__all__ = ["ForecastEarlyStopping"]

log = logging.getLogger("curvecast.integrations.keras")


def _print_msg(message: str) -> None:
    """Print as Keras's own callbacks do (to stdout, or to absl logging when Keras's
    interactive logging is off); plain print where that helper moved."""
    try:
        from keras.src.utils.io_utils import print_msg
    except ImportError:  # pragma: no cover - a Keras without that private module
        print(message)
    else:
        print_msg(message)


def _direction(monitor: str, mode: str, owner: str) -> str:
    if mode != "auto":
        return check_mode(mode, owner)
    from curvecast.io import infer_direction

    name = monitor[4:] if monitor.startswith("val_") else monitor
    direction = infer_direction(name)
    if direction is None:
        raise InvalidParameterError(
            f"{owner} cannot tell whether {monitor!r} is better high or low: pass mode='max' "
            "or mode='min'"
        )
    return direction


class ForecastEarlyStopping(keras.callbacks.Callback):
    """Stop training when a forecast says the run will not reach ``target`` or beat the best run.

    Arguments shared with :class:`keras.callbacks.EarlyStopping` mean the same: ``monitor``,
    ``mode`` ("auto" reads the direction from the name: loss, error -> min; accuracy, auc ->
    max), ``verbose``, ``restore_best_weights`` and ``start_from_epoch``.

    Args:
        monitor: the metric in the epoch's logs, e.g. ``"val_loss"``.
        mode: "auto", "min" or "max".
        target: stop when P(final ``monitor`` beats ``target``) < ``threshold``.
        storage: an Optuna storage URL (``"sqlite:///runs.db"``) shared by your runs: stop when
            P(final beats the best run there) < ``threshold``. At least one of ``target`` and
            ``storage`` is needed; with both, either can stop the run.
        study_name: the study in ``storage`` (default ``"curvecast:<monitor>"``).
        run_name: the name stored with the run in ``storage``.
        threshold: in (0, 1), default 0.1.
        min_epochs: no forecast-based stop before this many epochs (>= 1, default 2).
        verbose: 1 (default) prints the stop reason, 2 every decision, 0 nothing.
        restore_best_weights: on a stop, put back the weights of the best epoch seen.
        start_from_epoch: no stop before this epoch (0-based, as Keras counts).
        schedule: the learning-rate schedule on the epoch axis (a :class:`curvecast.Schedule`
            or its dict; the rate at ``x`` is the one at the start of epoch ``x``, 0-based).
            None (default): read from the optimizer when ``fit`` starts: its
            ``LearningRateSchedule`` evaluated at every step (at most 1025 points) and put on
            the epoch axis with ``fit``'s steps per epoch, or its constant rate. A schedule that
            cannot be read is logged once (logger ``curvecast.integrations.keras``) and the run
            goes on without one. False: no schedule.
        method, bounds, check_growth, seed: see
            :class:`~curvecast.integrations.optuna.ForecastPruner`.

    Attributes:
        schedule: the schedule of the current run (None: none), set when ``fit`` starts.
        stopped_epoch: the (0-based) epoch at which the run was stopped (0: not stopped).
        stopping_reason_message: why, in one line (None: not stopped).
        verdicts: every decision taken.

    Raises:
        InvalidParameterError: an argument out of range, or nothing to stop against (at
            construction); ``monitor`` missing from the logs (at the first epoch's end).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        *,
        target: float | None = None,
        storage: str | None = None,
        study_name: str | None = None,
        run_name: str | None = None,
        threshold: float = DEFAULT_PROBABILITY_THRESHOLD,
        min_epochs: int = DEFAULT_MIN_POINTS,
        verbose: int = 1,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
        method: str = "auto",
        bounds: Sequence[float | None] | None = None,
        check_growth: float = DEFAULT_CHECK_GROWTH,
        seed: int = 0,
        schedule: ScheduleOption = None,
    ) -> None:
        super().__init__()
        owner = "ForecastEarlyStopping"
        self._schedule_option = check_schedule_option(schedule, owner)
        if not isinstance(monitor, str) or not monitor:
            raise parameter_error("monitor", owner, "a metric name such as 'val_loss'", monitor)
        if isinstance(start_from_epoch, bool) or not isinstance(start_from_epoch, int):
            raise parameter_error("start_from_epoch", owner, "an int >= 0", start_from_epoch)
        if start_from_epoch < 0:
            raise parameter_error("start_from_epoch", owner, "an int >= 0", start_from_epoch)
        if isinstance(min_epochs, bool) or not isinstance(min_epochs, int) or min_epochs < 1:
            raise parameter_error("min_epochs", owner, "an int >= 1", min_epochs)
        self.monitor = monitor
        self.mode = mode
        self._stopper = RunStopper(
            monitor=monitor,
            direction=_direction(monitor, mode, owner),  # type: ignore[arg-type]
            target=target,
            storage=storage,
            study_name=study_name,
            threshold=threshold,
            method=method,
            bounds=bounds,
            min_points=max(min_epochs, start_from_epoch + 1),
            check_growth=check_growth,
            seed=seed,
            owner=owner,
        )
        self.run_name = run_name
        self.verbose = verbose
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.stopped_epoch = 0
        self.stopping_reason_message: str | None = None
        self.best_weights: list[Any] | None = None
        self._best: float | None = None

    @property
    def verdicts(self) -> list[Verdict]:
        return list(self._stopper.verdicts)

    @property
    def schedule(self) -> Schedule | None:
        return self._stopper.schedule

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.stopped_epoch, self.stopping_reason_message = 0, None
        self.best_weights, self._best = None, None
        epochs = (self.params or {}).get("epochs")
        attrs: dict[str, Any] = {"framework": "keras"}
        if self.run_name:
            attrs["run_name"] = self.run_name
        horizon = epochs if isinstance(epochs, int) and epochs > 0 else None
        self._stopper.begin(horizon, attrs, self._schedule_for(horizon))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs if logs is not None else {}
        if self.monitor not in logs:
            raise InvalidParameterError(
                f"ForecastEarlyStopping monitors {self.monitor!r}, which is not in the epoch's "
                f"logs; pass one of {', '.join(repr(k) for k in logs) or '(none)'} (val_* "
                "metrics need validation_data or validation_split in fit)"
            )
        value = float(logs[self.monitor])
        self._keep_best(value)
        verdict = self._stopper.update(epoch + 1, value)
        p = verdict.prob_better if verdict is not None else None
        med = verdict.forecast_median if verdict is not None else None
        logs["curvecast_prob_better"] = math.nan if p is None else p
        logs["curvecast_forecast_median"] = math.nan if med is None else med
        logs["curvecast_stop"] = float(verdict is not None and verdict.should_stop)
        if verdict is None:
            return
        message = describe(verdict, self.monitor, "epoch")
        if verdict.should_stop and not self.model.stop_training:
            self.model.stop_training = True
            self.stopped_epoch = epoch
            self.stopping_reason_message = message
            if self.verbose > 0:
                _print_msg(message)
        elif self.verbose > 1:
            _print_msg(message)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._stopper.end()
        if self.stopping_reason_message and self.restore_best_weights and self.best_weights:
            self.model.set_weights(self.best_weights)

    def _schedule_for(self, epochs: int | None) -> Schedule | None:
        option = self._schedule_option
        if option is False:
            return None
        if option is not None:
            return option
        if epochs is None:
            return None
        steps = (self.params or {}).get("steps")
        return read_schedule(
            lambda: _optimizer_schedule(self.model.optimizer, epochs, steps),
            horizon=epochs,
            owner="ForecastEarlyStopping",
            logger=log,
        )

    def _keep_best(self, value: float) -> None:
        if not self.restore_best_weights or not math.isfinite(value):
            return
        better = self._stopper.direction == "maximize"
        if self._best is None or (value > self._best if better else value < self._best):
            self._best = value
            self.best_weights = self.model.get_weights()


def _optimizer_schedule(optimizer: Any, epochs: int, steps: object) -> Schedule | None:
    """The optimizer's rate on the epoch axis: its LearningRateSchedule at step ``x * steps``
    (the rate of the step that starts epoch ``x``, 0-based), or its constant rate."""
    rate = getattr(optimizer, "_learning_rate", None)  # ``learning_rate`` gives today's value
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(
                f"fit() did not say how many steps an epoch has (params['steps'] = {steps!r}); "
                "pass steps_per_epoch to fit"
            )
        total = epochs * steps
        ks = np.unique(np.round(np.linspace(0, total, min(total + 1, MAX_SCHEDULE_POINTS))))
        lrs = [float(keras.ops.convert_to_numpy(rate(int(k)))) for k in ks]
        return thinned_schedule(ks / steps, lrs)
    if callable(rate) and not isinstance(rate, keras.Variable):
        return None  # a function of nothing: what it will return later is unknown
    lr = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    return Schedule({"name": "constant", "peak_lr": lr, "total": float(epochs)})
