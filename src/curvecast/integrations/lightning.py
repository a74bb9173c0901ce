"""``ForecastEarlyStopping``: Lightning's ``EarlyStopping``, deciding on a forecast of the run.

>>> from lightning.pytorch import Trainer
>>> from curvecast.integrations.lightning import ForecastEarlyStopping
>>> stop = ForecastEarlyStopping(monitor="val_acc", mode="max", target=0.92)
>>> trainer = Trainer(max_epochs=50, callbacks=[stop])  # doctest: +SKIP

Instead of waiting ``patience`` epochs without improvement, the run is stopped as soon as the
forecast of its ``monitor`` at ``max_epochs`` gives it less than ``threshold`` chance of reaching
``target``, or of beating the best run stored in ``storage`` (an Optuna storage URL shared by
your runs; their curves are the forecaster's context). The horizon is the trainer's
``max_epochs``, and the learning-rate schedule is read from the trainer (its first
``lr_scheduler_configs`` entry, per-step or per-epoch, on the epoch axis; without a scheduler, the
optimizer's constant rate), so the forecast is the schedule-aware one. Each decision is logged
through Lightning's logging (the stop reason at INFO, every decision with ``verbose=True``) and
to the trainer's loggers as ``curvecast/prob_better``, ``curvecast/forecast_median`` and
``curvecast/stop``; with a storage, each run is an Optuna trial there (see
:mod:`curvecast.integrations._callback`), which ``curvecast dashboard`` shows.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from curvecast.exceptions import InvalidParameterError, MissingDependencyError, install_hint
from curvecast.integrations._callback import (
    RunStopper,
    ScheduleOption,
    check_mode,
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
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import Callback
except ImportError as exc:  # pragma: no cover - exercised only without lightning
    raise MissingDependencyError(
        "curvecast.integrations.lightning needs PyTorch Lightning: " + install_hint("lightning")
    ) from exc

__all__ = ["ForecastEarlyStopping"]

# A child of Lightning's logger, so that Lightning's console handler shows it as its own.
log = logging.getLogger("lightning.pytorch.callbacks.forecast_early_stopping")


def _json_ready(v: Any) -> bool:
    if isinstance(v, float):
        return math.isfinite(v)
    return v is None or isinstance(v, bool | int | str)


class ForecastEarlyStopping(Callback):
    """Stop training when a forecast says the run will not reach ``target`` or beat the best run.

    Arguments shared with :class:`lightning.pytorch.callbacks.EarlyStopping` mean the same:
    ``monitor``, ``mode``, ``verbose``, ``strict``, ``divergence_threshold`` (a value that
    counts as diverged), ``check_on_train_epoch_end`` and ``log_rank_zero_only``. A NaN or
    infinite value stops the run at once (Lightning's ``check_finite=True``).

    Args:
        monitor: the logged metric to forecast, e.g. ``"val_loss"``.
        mode: "min" or "max".
        target: stop when P(final ``monitor`` beats ``target``) < ``threshold``.
        storage: an Optuna storage URL (``"sqlite:///runs.db"``) shared by your runs: stop when
            P(final beats the best run there) < ``threshold``. At least one of ``target`` and
            ``storage`` is needed; with both, either can stop the run.
        study_name: the study in ``storage`` for these runs (default ``"curvecast:<monitor>"``).
        run_name: the name stored with the run (default: the logger's version, e.g. version_3).
        threshold: in (0, 1), default 0.1.
        min_epochs: no forecast-based stop before this many checks (>= 1, default 2).
        schedule: the learning-rate schedule on the epoch axis (a :class:`curvecast.Schedule`
            or its dict; the rate at ``x`` is the one of epoch ``x``, 0-based). None (default):
            read from the trainer at the start of ``fit``: the first scheduler of
            ``configure_optimizers`` (``interval="epoch"`` or ``"step"``, with its
            ``frequency``), or the optimizer's constant rate when there is none;
            ``ReduceLROnPlateau`` follows the metric, so no schedule then. A schedule that cannot
            be read is logged once and the run goes on without one. False: no schedule.
        method, bounds, check_growth, seed: see
            :class:`~curvecast.integrations.optuna.ForecastPruner`.

    Attributes:
        schedule: the schedule of the current run (None: none), set when ``fit`` starts.
        stopped_epoch: the epoch at which the run was stopped (0: it was not).
        stopping_reason_message: why, in one line (None: not stopped).
        verdicts: every decision taken, as :class:`~curvecast.pruning.Verdict`.

    Raises:
        InvalidParameterError: neither ``target`` nor ``storage``, or an argument out of range
            (at construction); ``monitor`` not logged and ``strict`` (at the first check).
        MissingDependencyError: Lightning (or, with ``storage``, Optuna) is not installed.

    Example:
        >>> ForecastEarlyStopping(monitor="val_loss", mode="min", storage="sqlite:///runs.db")
        ForecastEarlyStopping(monitor='val_loss', mode='min', target=None, storage='sqlite:///runs.db')
    """

    def __init__(
        self,
        monitor: str,
        mode: str = "min",
        *,
        target: float | None = None,
        storage: str | None = None,
        study_name: str | None = None,
        run_name: str | None = None,
        threshold: float = DEFAULT_PROBABILITY_THRESHOLD,
        min_epochs: int = DEFAULT_MIN_POINTS,
        verbose: bool = False,
        strict: bool = True,
        divergence_threshold: float | None = None,
        check_on_train_epoch_end: bool | None = None,
        log_rank_zero_only: bool = False,
        method: str = "auto",
        bounds: Sequence[float | None] | None = None,
        check_growth: float = DEFAULT_CHECK_GROWTH,
        seed: int = 0,
        schedule: ScheduleOption = None,
    ) -> None:
        super().__init__()
        owner = "ForecastEarlyStopping"
        self._schedule_option = check_schedule_option(schedule, owner)
        self.monitor = monitor
        self.mode = mode
        self._stopper = RunStopper(
            monitor=monitor,
            direction=check_mode(mode, owner),
            target=target,
            storage=storage,
            study_name=study_name,
            threshold=threshold,
            method=method,
            bounds=bounds,
            min_points=min_epochs,
            check_growth=check_growth,
            diverge_above=divergence_threshold,
            seed=seed,
            owner=owner,
        )
        self.run_name = run_name
        self.verbose = verbose
        self.strict = strict
        self.log_rank_zero_only = log_rank_zero_only
        self._check_on_train_epoch_end = check_on_train_epoch_end
        self.stopped_epoch = 0
        self.stopping_reason_message: str | None = None

    def __repr__(self) -> str:
        s = self._stopper
        return (
            f"ForecastEarlyStopping(monitor={self.monitor!r}, mode={self.mode!r}, "
            f"target={s.target!r}, storage={s.storage!r})"
        )

    @property
    def state_key(self) -> str:
        return self._generate_state_key(monitor=self.monitor, mode=self.mode)

    @property
    def verdicts(self) -> list[Verdict]:
        return list(self._stopper.verdicts)

    @property
    def schedule(self) -> Schedule | None:
        return self._stopper.schedule

    # -- Lightning hooks ------------------------------------------------------------------
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self._check_on_train_epoch_end is None:
            # as EarlyStopping: at the end of the training epoch when validation runs once per
            # epoch (it has run by then), else after each validation
            self._check_on_train_epoch_end = (
                trainer.val_check_interval == 1.0 and trainer.check_val_every_n_epoch == 1
            )

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.stopped_epoch, self.stopping_reason_message = 0, None
        horizon = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        attrs: dict[str, Any] = {"framework": "lightning"}
        name = self.run_name or self._logger_version(trainer)
        if name is not None:
            attrs["run_name"] = name
        hparams = getattr(pl_module, "hparams", {}) or {}
        attrs.update({f"hparam:{k}": v for k, v in dict(hparams).items() if _json_ready(v)})
        schedule = self._schedule_for(trainer, horizon)
        if trainer.is_global_zero:
            self._stopper.begin(horizon, attrs, schedule)
        else:
            self._stopper.begin(horizon, schedule=schedule)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._check_on_train_epoch_end and not self._skip(trainer):
            self._check(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._check_on_train_epoch_end and not self._skip(trainer):
            self._check(trainer)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            self._stopper.end()

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if trainer.is_global_zero:
            self._stopper.end(failed=True)

    def state_dict(self) -> dict[str, Any]:
        s = self._stopper
        return {
            "steps": list(s.steps),
            "values": list(s.values),
            "stopped_epoch": self.stopped_epoch,
            "stopping_reason_message": self.stopping_reason_message,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._stopper.steps = [float(v) for v in state_dict.get("steps", [])]
        self._stopper.values = [float(v) for v in state_dict.get("values", [])]
        self.stopped_epoch = int(state_dict.get("stopped_epoch", 0))
        self.stopping_reason_message = state_dict.get("stopping_reason_message")

    # -- internals ------------------------------------------------------------------------
    def _schedule_for(self, trainer: pl.Trainer, horizon: int | None) -> Schedule | None:
        option = self._schedule_option
        if option is False:
            return None
        if option is not None:
            return option
        if horizon is None:
            return None  # no max_epochs: no end for a schedule to reach
        return read_schedule(
            lambda: _trainer_schedule(trainer, horizon),
            horizon=horizon,
            owner="ForecastEarlyStopping",
            logger=log,
        )

    @staticmethod
    def _skip(trainer: pl.Trainer) -> bool:
        from lightning.pytorch.trainer.states import TrainerFn

        return (
            trainer.state.fn != TrainerFn.FITTING
            or trainer.sanity_checking
            or bool(getattr(trainer, "fast_dev_run", False))
        )

    @staticmethod
    def _logger_version(trainer: pl.Trainer) -> str | None:
        logger = trainer.logger
        if logger is None or logger.version is None:
            return None
        v = logger.version
        return v if isinstance(v, str) else f"version_{v}"

    def _check(self, trainer: pl.Trainer) -> None:
        logs = trainer.callback_metrics
        value = logs.get(self.monitor)
        if value is None:
            msg = (
                f"ForecastEarlyStopping monitors {self.monitor!r}, which is not logged. Log it "
                f"with self.log({self.monitor!r}, ...) or pass one of: "
                f"{', '.join(repr(k) for k in logs) or '(nothing is logged)'}"
            )
            if self.strict:
                raise InvalidParameterError(msg)
            log.warning(msg)
            return
        epoch = trainer.current_epoch + 1  # epochs completed: the last one is max_epochs
        should_stop = False
        verdict: Verdict | None = None
        if trainer.is_global_zero:
            verdict = self._stopper.update(epoch, float(value.squeeze().item()))
            should_stop = verdict is not None and verdict.should_stop
        should_stop = bool(trainer.strategy.broadcast(should_stop, src=0))
        if verdict is not None:
            self._log(trainer, verdict)
        if should_stop and not trainer.should_stop:
            trainer.should_stop = True
            self.stopped_epoch = trainer.current_epoch
            self.stopping_reason_message = (
                describe(verdict, self.monitor, "epoch") if verdict else "stopped by curvecast"
            )

    def _log(self, trainer: pl.Trainer, verdict: Verdict) -> None:
        metrics = {"curvecast/stop": float(verdict.should_stop)}
        if verdict.prob_better is not None:
            metrics["curvecast/prob_better"] = verdict.prob_better
        if verdict.forecast_median is not None and math.isfinite(verdict.forecast_median):
            metrics["curvecast/forecast_median"] = verdict.forecast_median
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
        if verdict.should_stop or self.verbose:
            message = describe(verdict, self.monitor, "epoch")
            rank = trainer.global_rank if trainer.world_size > 1 else None
            if rank is None or not self.log_rank_zero_only or rank == 0:
                log.info(message if rank is None else f"[rank: {rank}] {message}")


def _trainer_schedule(trainer: pl.Trainer, max_epochs: int) -> Schedule | None:
    """The learning rate the trainer will use, on the epoch axis (the rate at ``x`` is the one of
    epoch ``x``, 0-based); None when it follows the metric (ReduceLROnPlateau)."""
    configs = trainer.lr_scheduler_configs
    if not configs:
        if not trainer.optimizers:
            return None
        lr = float(trainer.optimizers[0].param_groups[0]["lr"])
        return Schedule({"name": "constant", "peak_lr": lr, "total": float(max_epochs)})
    config = configs[0]
    if config.reduce_on_plateau:
        log.info(
            "ForecastEarlyStopping: ReduceLROnPlateau sets the rate from the metric, which no "
            "schedule can say ahead; forecasting without a schedule."
        )
        return None
    every = max(1, int(config.frequency or 1))
    remaining = max(1, max_epochs - trainer.current_epoch)
    if config.interval == "step":
        trainer.estimated_stepping_batches  # noqa: B018 - sets up the training data if not yet
        batches = trainer.num_training_batches
        if not math.isfinite(batches) or batches < 1:
            raise ValueError(f"the number of training batches per epoch is unknown ({batches})")
        per_epoch = math.ceil(batches / trainer.accumulate_grad_batches)
        return torch_schedule(
            config.scheduler, math.ceil(remaining * per_epoch / every), per_epoch / every
        )
    return torch_schedule(config.scheduler, math.ceil(remaining / every), 1 / every)
