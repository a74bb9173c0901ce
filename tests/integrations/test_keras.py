"""ForecastEarlyStopping in real Keras 3 training, on the torch backend on the CPU: a softmax
classifier on scikit-learn's digits, a few epochs."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # before Keras is first imported
keras = pytest.importorskip("keras", reason="pip install '.[keras]'")
pytest.importorskip("sklearn")
if keras.backend.backend() != "torch":  # pragma: no cover - Keras imported earlier elsewhere
    pytest.skip("these tests run Keras on its torch backend", allow_module_level=True)

from curvecast.exceptions import InvalidParameterError  # noqa: E402
from curvecast.integrations.keras import ForecastEarlyStopping  # noqa: E402

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


def _fit(
    lr: object, stop: ForecastEarlyStopping, epochs: int = EPOCHS, also: tuple[object, ...] = ()
) -> object:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model.fit(
        x[:1400],
        y[:1400],
        validation_data=(x[1400:], y[1400:]),
        epochs=epochs,
        batch_size=200,
        verbose=0,
        callbacks=[*also, stop],
    )


def test_target_stops_a_run_that_will_not_reach_it(capsys: pytest.CaptureFixture[str]) -> None:
    stop = ForecastEarlyStopping(monitor="val_accuracy", target=0.9, bounds=(0, 1))
    history = _fit(1e-4, stop)
    epochs_run = len(history.history["val_accuracy"])
    assert 1 <= stop.stopped_epoch < EPOCHS - 1 and epochs_run == stop.stopped_epoch + 1
    assert stop.stopping_reason_message is not None
    assert "P(final val_accuracy beats the target, 0.9)" in stop.stopping_reason_message
    assert stop.stopping_reason_message in capsys.readouterr().out  # printed the Keras way
    # every epoch's logs carry the decision, so History (and any logger) records it
    h = history.history
    assert len(h["curvecast_stop"]) == epochs_run and h["curvecast_stop"][-1] == 1.0
    p = h["curvecast_prob_better"][-1]
    assert 0 <= p < 0.1 and stop.verdicts[-1].prob_better == pytest.approx(p)


def test_a_run_that_reaches_the_target_trains_to_the_end() -> None:
    stop = ForecastEarlyStopping(
        monitor="val_accuracy", mode="max", target=0.85, bounds=(0, 1), method=FAST
    )
    history = _fit(0.5, stop)
    assert len(history.history["val_accuracy"]) == EPOCHS and stop.stopped_epoch == 0
    assert stop.verdicts and not any(v.should_stop for v in stop.verdicts)


def test_storage_and_restore_best_weights(tmp_path: Path) -> None:
    optuna = pytest.importorskip("optuna")
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    _fit(
        0.5, ForecastEarlyStopping(storage=url, run_name="good", method=FAST)
    )  # monitor val_loss, min
    bad = ForecastEarlyStopping(storage=url, run_name="bad", restore_best_weights=True, method=FAST)
    history = _fit(1e-3, bad)
    assert bad.stopped_epoch > 0 and bad.best_weights is not None
    assert "beats the best run" in (bad.stopping_reason_message or "")
    trials = optuna.load_study(study_name="curvecast:val_loss", storage=url).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "PRUNED"]
    assert trials[1].user_attrs["run_name"] == "bad" and trials[1].user_attrs["horizon"] == 12
    losses = history.history["val_loss"]
    assert np.isclose(min(losses), losses[int(np.argmin(losses))])


def test_misuse_is_reported_with_the_fix() -> None:
    with pytest.raises(InvalidParameterError, match="needs something to stop against"):
        ForecastEarlyStopping()
    with pytest.raises(InvalidParameterError, match="pass mode='max' or mode='min'"):
        ForecastEarlyStopping(monitor="val_lr", target=1.0)
    with pytest.raises(InvalidParameterError, match=r"'val_f1', which is not in.*'val_loss'"):
        _fit(0.1, ForecastEarlyStopping(monitor="val_f1", mode="max", target=0.9), epochs=1)


# -- the learning-rate schedule -----------------------------------------------------------------
STEPS_PER_EPOCH = 7  # 1400 examples, batches of 200


class Rates(keras.callbacks.Callback):
    """The rate the optimizer has when each epoch starts."""

    def __init__(self) -> None:
        super().__init__()
        self.rates: dict[int, float] = {}

    def on_epoch_begin(self, epoch: int, logs: object = None) -> None:
        lr = self.model.optimizer.learning_rate
        self.rates[epoch] = float(keras.ops.convert_to_numpy(lr))


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras.optimizers.schedules.CosineDecay(0.5, EPOCHS * STEPS_PER_EPOCH),
        lambda: keras.optimizers.schedules.PiecewiseConstantDecay(
            [4 * STEPS_PER_EPOCH, 8 * STEPS_PER_EPOCH], [0.5, 0.1, 0.02]
        ),
    ],
    ids=["cosine", "step"],
)
def test_the_schedule_is_read_from_the_optimizer_and_used(make: object) -> None:
    stop = ForecastEarlyStopping(monitor="val_accuracy", target=0.8, bounds=(0, 1))
    rates = Rates()
    _fit(make(), stop, also=(rates,))  # type: ignore[operator]
    assert stop.schedule is not None and stop.schedule.end == EPOCHS
    epochs = sorted(rates.rates)
    used = [rates.rates[e] for e in epochs]
    assert len(epochs) >= 5 and len(set(used)) > 1
    assert stop.schedule.lr(epochs).tolist() == pytest.approx(used, rel=1e-5)
    forecasts = [v for v in stop.verdicts if v.prob_better is not None]
    assert forecasts and {v.method for v in forecasts} == {"schedule_ensemble"}


def test_a_constant_rate_an_override_and_a_failed_read(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from curvecast.integrations import keras as integration

    plain = ForecastEarlyStopping(monitor="val_accuracy", target=0.8, method=FAST)
    _fit(0.3, plain, epochs=3)
    assert plain.schedule is not None and plain.schedule.name == "constant"
    assert plain.schedule.peak == pytest.approx(0.3) and plain.schedule.end == 3
    off = ForecastEarlyStopping(monitor="val_accuracy", target=0.8, schedule=False)
    _fit(0.3, off, epochs=4)
    methods = {v.method for v in off.verdicts if v.prob_better is not None}
    assert off.schedule is None and methods and "schedule_ensemble" not in methods
    given = {"name": "cosine", "peak_lr": 0.3, "total": 3}
    mine = ForecastEarlyStopping(monitor="val_accuracy", target=0.8, method=FAST, schedule=given)
    _fit(0.3, mine, epochs=3)
    assert mine.schedule is not None and mine.schedule.name == "cosine"

    def broken(*args: object) -> None:
        raise RuntimeError("an odd optimizer")

    monkeypatch.setattr(integration, "_optimizer_schedule", broken)
    failed = ForecastEarlyStopping(monitor="val_accuracy", target=0.5, method=FAST)
    with caplog.at_level(logging.WARNING, logger="curvecast.integrations.keras"):
        history = _fit(0.3, failed, epochs=3)
    assert failed.schedule is None and len(history.history["val_accuracy"]) == 3
    said = [r for r in caplog.records if "could not read the learning-rate" in r.getMessage()]
    assert len(said) == 1 and "an odd optimizer" in said[0].getMessage()
    with pytest.raises(InvalidParameterError, match="cover the run to its horizon"):
        _fit(0.3, ForecastEarlyStopping(target=0.1, schedule=given), epochs=5)
