"""ForecastEarlyStoppingCallback in a real Hugging Face Trainer on the CPU: a softmax classifier
(a plain torch module, as Trainer accepts) on scikit-learn's digits, a few epochs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers", reason="pip install '.[transformers]'")
pytest.importorskip("accelerate", reason="pip install '.[transformers]'")
pytest.importorskip("sklearn")

from curvecast.exceptions import InvalidParameterError  # noqa: E402
from curvecast.integrations.transformers import ForecastEarlyStoppingCallback  # noqa: E402

EPOCHS = 10
STEPS_PER_EPOCH = 7  # 1400 examples, batches of 200
#: the stopping logic is what is checked; the default method costs ~10x more per forecast
FAST = "parametric"


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Any:
    """Tiny models train 10x faster on one thread than on two busy cores (CI has 2)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Softmax(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(64, 10)

    def forward(self, x: Any, labels: Any = None) -> dict[str, Any]:
        logits = self.linear(x)
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = torch.nn.functional.cross_entropy(logits, labels)
        return out


def _data() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    rows = [
        {"x": torch.tensor(xi / 16.0, dtype=torch.float32), "labels": torch.tensor(int(yi))}
        for xi, yi in zip(x, y, strict=True)
    ]
    return rows[:1400], rows[1400:]


def _accuracy(pred: Any) -> dict[str, float]:
    return {"accuracy": float((np.argmax(pred.predictions, axis=1) == pred.label_ids).mean())}


def _train(
    tmp_path: Path, lr: float, callback: Any, *, also: tuple[Any, ...] = (), **overrides: Any
) -> Any:
    settings: dict[str, Any] = {
        "eval_strategy": "epoch",
        "metric_for_best_model": "accuracy",
        "greater_is_better": True,
        "num_train_epochs": EPOCHS,
        "learning_rate": lr,
        "optim": "sgd",
        "lr_scheduler_type": "constant",
        "per_device_train_batch_size": 200,
        "per_device_eval_batch_size": 400,
        "save_strategy": "no",
        "logging_strategy": "no",
        "report_to": [],
        "disable_tqdm": True,
        "use_cpu": True,
        "seed": 0,
        "run_name": f"lr={lr}",
    }
    settings.update(overrides)
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), **settings)
    train, val = _data()
    torch.manual_seed(0)
    trainer = transformers.Trainer(
        model=Softmax(),
        args=args,
        train_dataset=train,
        eval_dataset=val,
        compute_metrics=_accuracy,
        callbacks=[callback, *also],
    )
    trainer.train()
    return trainer


def test_target_stops_a_run_that_will_not_reach_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cb = ForecastEarlyStoppingCallback(target=0.9, bounds=(0, 1))
    with caplog.at_level(logging.WARNING, logger="transformers.curvecast"):
        trainer = _train(tmp_path, 1e-4, cb)
    state = trainer.state
    assert 0 < cb.stopped_step < EPOCHS * STEPS_PER_EPOCH and state.global_step == cb.stopped_step
    assert cb.stopping_reason_message is not None
    assert "P(final eval_accuracy beats the target, 0.9)" in cb.stopping_reason_message
    assert cb.stopping_reason_message in caplog.text
    v = cb.verdicts[-1]
    assert v.should_stop and v.horizon == EPOCHS * STEPS_PER_EPOCH and v.step == state.global_step
    # the decisions are in the trainer's state, as saved in trainer_state.json
    entries = [e for e in state.log_history if "curvecast_decision" in e]
    assert entries[-1]["curvecast_decision"] == "stop" and entries[-1]["step"] == cb.stopped_step
    state.save_to_json(str(tmp_path / "trainer_state.json"))
    saved = json.loads((tmp_path / "trainer_state.json").read_text())["log_history"]
    assert any(e.get("curvecast_reason") == "hopeless" for e in saved)


def test_a_run_that_reaches_the_target_trains_to_the_end(tmp_path: Path) -> None:
    cb = ForecastEarlyStoppingCallback(target=0.85, bounds=(0, 1), method=FAST)
    trainer = _train(tmp_path, 0.5, cb)
    assert trainer.state.global_step == EPOCHS * STEPS_PER_EPOCH and cb.stopped_step == 0
    assert cb.verdicts and not any(v.should_stop for v in cb.verdicts)


def test_storage_stops_a_run_that_will_not_beat_the_best(tmp_path: Path) -> None:
    optuna = pytest.importorskip("optuna")
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    _train(tmp_path, 0.5, ForecastEarlyStoppingCallback(storage=url, method=FAST))
    bad = ForecastEarlyStoppingCallback(storage=url, method=FAST)
    _train(tmp_path, 1e-3, bad)
    assert bad.stopped_step > 0 and "beats the best run" in (bad.stopping_reason_message or "")
    trials = optuna.load_study(study_name="curvecast:eval_accuracy", storage=url).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "PRUNED"]
    assert trials[1].user_attrs["run_name"] == "lr=0.001"
    assert trials[1].user_attrs["arg:learning_rate"] == 1e-3
    assert max(trials[0].intermediate_values) == EPOCHS * STEPS_PER_EPOCH


def test_misuse_is_reported_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="needs something to stop against"):
        ForecastEarlyStoppingCallback()
    cb = ForecastEarlyStoppingCallback(target=0.9)
    with pytest.raises(InvalidParameterError, match="eval_strategy='epoch'"):
        _train(tmp_path, 0.1, cb, eval_strategy="no", num_train_epochs=1)
    cb = ForecastEarlyStoppingCallback(metric="f1", target=0.9)
    with pytest.raises(InvalidParameterError, match=r"'eval_f1', which the evaluation.*accuracy"):
        _train(tmp_path, 0.1, cb, num_train_epochs=1)


# -- the learning-rate schedule -----------------------------------------------------------------
class Rates(transformers.TrainerCallback):
    """The rate of each optimizer step, by the global step it starts from."""

    def __init__(self) -> None:
        self.rates: dict[int, float] = {}

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.rates[state.global_step] = kwargs["optimizer"].param_groups[0]["lr"]


@pytest.mark.parametrize("kind", ["cosine", "linear"])
def test_the_schedule_is_read_from_the_trainer_and_used(tmp_path: Path, kind: str) -> None:
    cb = ForecastEarlyStoppingCallback(target=0.8, bounds=(0, 1))
    rates = Rates()
    _train(tmp_path, 0.5, cb, also=(rates,), lr_scheduler_type=kind, warmup_steps=7)
    assert cb.schedule is not None and cb.schedule.end == EPOCHS * STEPS_PER_EPOCH
    steps = sorted(rates.rates)
    assert len(steps) >= 5 * STEPS_PER_EPOCH
    used = [rates.rates[s] for s in steps]
    assert used[0] == 0.0 and max(used) == pytest.approx(0.5)  # warm-up, then the decay
    assert cb.schedule.lr(steps).tolist() == pytest.approx(used, rel=1e-6, abs=1e-12)
    forecasts = [v for v in cb.verdicts if v.prob_better is not None]
    assert forecasts and {v.method for v in forecasts} == {"schedule_ensemble"}


@pytest.mark.parametrize("kind", ["linear", "cosine", "constant_with_warmup"])
def test_without_a_scheduler_the_arguments_name_the_same_schedule(kind: str) -> None:
    from curvecast.integrations.transformers import _trainer_schedule
    from curvecast.schedules import schedule_from_torch

    args = transformers.TrainingArguments(
        "out", learning_rate=0.3, lr_scheduler_type=kind, warmup_steps=10, report_to=[]
    )
    named = _trainer_schedule(args, 100, None)
    assert named is not None
    stand_in = _trainer_schedule(args, 100, object())  # e.g. DeepSpeed's DummyScheduler
    assert stand_in is not None and stand_in.to_dict() == named.to_dict()
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.3)
    real = transformers.get_scheduler(kind, opt, num_warmup_steps=10, num_training_steps=100)
    truth = schedule_from_torch(real, 100)
    xs = [0, 5, 10, 37, 64, 99, 100]
    assert named.lr(xs).tolist() == pytest.approx(truth.lr(xs).tolist(), abs=1e-9)
    polynomial = transformers.TrainingArguments("out", lr_scheduler_type="polynomial", report_to=[])
    with pytest.raises(ValueError, match="no curvecast equivalent"):
        _trainer_schedule(polynomial, 100, None)


def test_schedule_override_and_none(tmp_path: Path) -> None:
    given = {"name": "cosine", "peak_lr": 0.5, "total": EPOCHS * STEPS_PER_EPOCH}
    cb = ForecastEarlyStoppingCallback(target=0.8, method=FAST, schedule=given)
    _train(tmp_path, 0.5, cb, num_train_epochs=3)
    assert cb.schedule is not None and cb.schedule.name == "cosine"
    off = ForecastEarlyStoppingCallback(target=0.8, schedule=False)
    _train(tmp_path, 0.5, off, num_train_epochs=4)
    methods = {v.method for v in off.verdicts if v.prob_better is not None}
    assert off.schedule is None and methods and "schedule_ensemble" not in methods
