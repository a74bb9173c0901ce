"""ForecastEarlyStopping in real Lightning training: a linear classifier on scikit-learn's digits,
trained for a few epochs on the CPU."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest

pl = pytest.importorskip("lightning.pytorch", reason="pip install '.[lightning]'")
torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from curvecast.exceptions import InvalidParameterError  # noqa: E402
from curvecast.integrations.lightning import ForecastEarlyStopping  # noqa: E402

EPOCHS = 12
#: The stopping logic is what these tests check; the default method (ensemble) costs ~0.5 s a
#: forecast on a busy 2-core CI machine, the parametric one a tenth of that. One test per
#: framework keeps the default.
FAST = "parametric"


@pytest.fixture(autouse=True)
def _one_torch_thread() -> object:
    """Tiny models train 10x faster on one thread than on two busy cores (CI has 2)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _loaders() -> tuple[object, object]:
    from sklearn.datasets import load_digits
    from torch.utils.data import DataLoader, TensorDataset

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    train = TensorDataset(x[:1400], y[:1400])
    val = TensorDataset(x[1400:], y[1400:])
    return DataLoader(train, batch_size=200, shuffle=False), DataLoader(val, batch_size=400)


class Digits(pl.LightningModule):
    def __init__(self, lr: float) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Linear(64, 10)

    def training_step(self, batch: tuple, _: int) -> object:
        x, y = batch
        return torch.nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch: tuple, _: int) -> None:
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self) -> object:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def _fit(lr: float, stop: ForecastEarlyStopping, logger: object = False) -> object:
    torch.manual_seed(0)
    trainer = pl.Trainer(
        max_epochs=EPOCHS,
        callbacks=[stop],
        logger=logger,
        accelerator="cpu",
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    train, val = _loaders()
    trainer.fit(Digits(lr), train, val)
    return trainer


def test_target_stops_a_run_that_will_not_reach_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from lightning.pytorch.loggers import CSVLogger

    stop = ForecastEarlyStopping(monitor="val_acc", mode="max", target=0.9, bounds=(0, 1))
    with caplog.at_level(logging.INFO, logger="lightning.pytorch"):
        trainer = _fit(1e-4, stop, CSVLogger(tmp_path, name="slow"))
    assert 0 < stop.stopped_epoch < EPOCHS - 1 and trainer.current_epoch < EPOCHS
    assert stop.stopping_reason_message is not None
    assert "P(final val_acc beats the target, 0.9)" in stop.stopping_reason_message
    assert stop.stopping_reason_message in caplog.text
    last = stop.verdicts[-1]
    assert last.should_stop and last.reason == "hopeless" and last.incumbent_source == "target"
    assert last.horizon == EPOCHS and last.prob_better is not None and last.prob_better < 0.1
    # the decisions went to the trainer's logger as metrics
    rows = list(csv.DictReader((Path(trainer.logger.log_dir) / "metrics.csv").open()))
    logged = [r for r in rows if r.get("curvecast/stop")]
    assert logged and float(logged[-1]["curvecast/stop"]) == 1.0
    probs = [float(r["curvecast/prob_better"]) for r in logged if r["curvecast/prob_better"]]
    assert probs and all(0 <= p <= 1 for p in probs)


def test_a_run_that_reaches_the_target_trains_to_the_end() -> None:
    stop = ForecastEarlyStopping(
        monitor="val_acc", mode="max", target=0.85, bounds=(0, 1), method=FAST
    )
    trainer = _fit(0.5, stop)
    assert stop.stopped_epoch == 0 and stop.stopping_reason_message is None
    assert trainer.current_epoch == EPOCHS
    assert stop.verdicts and not any(v.should_stop for v in stop.verdicts)


def test_storage_stops_a_run_that_will_not_beat_the_best(tmp_path: Path) -> None:
    optuna = pytest.importorskip("optuna")
    from curvecast.integrations.optuna import final_forecast

    url = f"sqlite:///{tmp_path / 'runs.db'}"
    good = ForecastEarlyStopping(monitor="val_loss", storage=url, run_name="good", method=FAST)
    _fit(0.5, good)
    bad = ForecastEarlyStopping(monitor="val_loss", storage=url, run_name="bad", method=FAST)
    _fit(1e-3, bad)
    assert good.stopped_epoch == 0 and 0 < bad.stopped_epoch < EPOCHS - 1
    study = optuna.load_study(study_name="curvecast:val_loss", storage=url)
    first, second = study.trials
    assert first.state.name == "COMPLETE" and second.state.name == "PRUNED"
    assert first.user_attrs["run_name"] == "good" and first.user_attrs["hparam:lr"] == 0.5
    assert first.value == pytest.approx(first.intermediate_values[EPOCHS])
    v = final_forecast(second)
    assert v is not None and v.reason == "hopeless" and v.horizon == EPOCHS
    assert v.incumbent == pytest.approx(first.value)
    assert second.user_attrs["stop_reason"].startswith("curvecast stopped the run")
    assert "beats the best run" in bad.stopping_reason_message


def test_misuse_is_reported_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="needs something to stop against"):
        ForecastEarlyStopping(monitor="val_loss")
    with pytest.raises(InvalidParameterError, match="'mode' parameter"):
        ForecastEarlyStopping(monitor="val_loss", mode="up", target=0.1)
    stop = ForecastEarlyStopping(monitor="val_f1", mode="max", target=0.9)
    with pytest.raises(InvalidParameterError, match=r"'val_f1', which is not logged.*'val_acc'"):
        _fit(0.1, stop)


# -- the learning-rate schedule -----------------------------------------------------------------
class Scheduled(Digits):
    """Digits with a torch scheduler; records the rate each epoch starts with."""

    def __init__(self, lr: float, interval: str = "epoch", kind: str = "cosine") -> None:
        super().__init__(lr)
        self.interval, self.kind = interval, kind
        self.rates: dict[int, float] = {}

    def configure_optimizers(self) -> object:
        opt = torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
        per = 1 if self.interval == "epoch" else 7  # 1400 examples, batches of 200
        if self.kind == "plateau":
            sched: object = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val_loss"}}
        if self.kind == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS * per)
        else:
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=4 * per, gamma=0.3)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": self.interval}}

    def on_train_epoch_start(self) -> None:
        self.rates[self.current_epoch] = self.trainer.optimizers[0].param_groups[0]["lr"]


def _fit_scheduled(stop: ForecastEarlyStopping, model: Digits) -> None:
    torch.manual_seed(0)
    trainer = pl.Trainer(
        max_epochs=EPOCHS,
        callbacks=[stop],
        logger=False,
        accelerator="cpu",
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    trainer.fit(model, *_loaders())


@pytest.mark.parametrize(("interval", "kind"), [("epoch", "cosine"), ("step", "step")])
def test_the_schedule_is_read_from_the_trainer_and_used(interval: str, kind: str) -> None:
    stop = ForecastEarlyStopping(monitor="val_acc", mode="max", target=0.8, bounds=(0, 1))
    model = Scheduled(0.5, interval, kind)
    _fit_scheduled(stop, model)
    assert stop.schedule is not None and stop.schedule.end == EPOCHS
    epochs = sorted(model.rates)
    assert len(epochs) >= 5 and len(set(model.rates.values())) > 1  # the rate did change
    used = [model.rates[e] for e in epochs]
    assert stop.schedule.lr(epochs).tolist() == pytest.approx(used, rel=1e-6, abs=1e-12)
    forecasts = [v for v in stop.verdicts if v.prob_better is not None]
    assert forecasts and {v.method for v in forecasts} == {"schedule_ensemble"}


def test_schedule_override_none_plateau_and_a_failed_read(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from curvecast.integrations import lightning as integration

    given = {"name": "linear", "peak_lr": 0.5, "total": EPOCHS}
    stop = ForecastEarlyStopping(monitor="val_acc", mode="max", target=0.8, schedule=given)
    _fit_scheduled(stop, Scheduled(0.5))
    assert stop.schedule is not None and stop.schedule.name == "linear"
    assert {v.method for v in stop.verdicts if v.prob_better is not None} == {"schedule_ensemble"}
    off = ForecastEarlyStopping(monitor="val_acc", mode="max", target=0.8, schedule=False)
    _fit_scheduled(off, Scheduled(0.5))
    assert off.schedule is None
    methods = {v.method for v in off.verdicts if v.prob_better is not None}
    assert methods and "schedule_ensemble" not in methods
    plateau = ForecastEarlyStopping(monitor="val_acc", mode="max", target=0.8, method=FAST)
    _fit_scheduled(plateau, Scheduled(0.5, kind="plateau"))
    assert plateau.schedule is None  # it follows the metric: nothing to read ahead
    plain = ForecastEarlyStopping(monitor="val_acc", mode="max", target=0.8, method=FAST)
    _fit_scheduled(plain, Digits(0.3))  # no scheduler: the optimizer's constant rate
    assert plain.schedule is not None and plain.schedule.name == "constant"
    assert plain.schedule.peak == 0.3

    def broken(*args: object) -> None:
        raise RuntimeError("this scheduler cannot be copied")

    monkeypatch.setattr(integration, "torch_schedule", broken)
    failed = ForecastEarlyStopping(monitor="val_acc", mode="max", target=0.8, method=FAST)
    with caplog.at_level(logging.WARNING, logger="lightning.pytorch"):
        _fit_scheduled(failed, Scheduled(0.5))
    assert failed.schedule is None and failed.verdicts[-1].reason == "finished"
    said = [r for r in caplog.records if "could not read the learning-rate" in r.getMessage()]
    assert len(said) == 1 and "cannot be copied" in said[0].getMessage()
    with pytest.raises(InvalidParameterError, match="'schedule' parameter"):
        ForecastEarlyStopping(monitor="val_acc", mode="max", target=0.8, schedule=True)
