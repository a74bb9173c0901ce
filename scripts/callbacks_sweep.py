"""What curvecast's Lightning callback saves on a small real sweep, and what it costs.

Trains a one-hidden-layer MLP on scikit-learn's digits with PyTorch Lightning on the CPU, for
``--configs`` configurations (learning rate, hidden width, weight decay drawn with ``--seed``),
first each to ``--epochs`` without stopping (the truth), then in ``--orders`` random orders with
``ForecastEarlyStopping(storage=...)`` (runs compared with the best stored run) and with
``target=`` (runs compared with a fixed target), and prints: epochs trained against the full
sweep, whether the best configuration was kept (ran to the end), the regret (best final of all
configurations minus best final of the runs that finished, in accuracy) and, for the target,
how many runs that would have reached it were stopped.

    python scripts/callbacks_sweep.py --configs 12 --epochs 20 --orders 3 --target 0.9

Needs ``pip install '.[lightning]' scikit-learn``.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np


def _data() -> tuple[Any, Any]:
    import torch
    from sklearn.datasets import load_digits
    from torch.utils.data import DataLoader, TensorDataset

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    train = DataLoader(TensorDataset(x[:1400], y[:1400]), batch_size=100)
    return train, DataLoader(TensorDataset(x[1400:], y[1400:]), batch_size=400)


def _module(cfg: dict[str, float]) -> Any:
    import lightning.pytorch as pl
    import torch

    class MLP(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.save_hyperparameters(cfg)
            h = int(cfg["hidden"])
            self.net = torch.nn.Sequential(
                torch.nn.Linear(64, h), torch.nn.ReLU(), torch.nn.Linear(h, 10)
            )

        def training_step(self, batch: Any, _: int) -> Any:
            x, y = batch
            return torch.nn.functional.cross_entropy(self.net(x), y)

        def validation_step(self, batch: Any, _: int) -> None:
            x, y = batch
            self.log("val_acc", (self.net(x).argmax(1) == y).float().mean())

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(
                self.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"]
            )

    return MLP()


def _fit(cfg: dict[str, float], epochs: int, callbacks: list[Any]) -> list[float]:
    import lightning.pytorch as pl
    import torch

    curve: list[float] = []

    class Record(pl.Callback):
        def on_train_epoch_end(self, trainer: Any, _: Any) -> None:
            curve.append(float(trainer.callback_metrics["val_acc"]))

    torch.manual_seed(0)
    trainer = pl.Trainer(
        max_epochs=epochs,
        callbacks=[Record(), *callbacks],
        logger=False,
        accelerator="cpu",
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    train, val = _data()
    trainer.fit(_module(cfg), train, val)
    return curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--orders", type=int, default=3)
    ap.add_argument("--target", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--patience", type=int, default=3, help="of the EarlyStopping baseline")
    args = ap.parse_args()

    import torch
    from lightning.pytorch.callbacks import EarlyStopping

    from curvecast.integrations.lightning import ForecastEarlyStopping

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    rng = np.random.default_rng(args.seed)
    configs = [
        {
            "lr": float(10 ** rng.uniform(-3.5, 0)),
            "hidden": float(rng.choice([8, 32, 128])),
            "weight_decay": float(10 ** rng.uniform(-6, -1)),
        }
        for _ in range(args.configs)
    ]
    t0 = time.perf_counter()
    truth = [_fit(c, args.epochs, []) for c in configs]
    t_full = time.perf_counter() - t0
    finals = np.array([c[-1] for c in truth])
    best = float(finals.max())
    full_epochs = args.epochs * len(configs)
    print(
        f"{len(configs)} configurations x {args.epochs} epochs, MLP on digits (Lightning, CPU): "
        f"finals {finals.min():.3f}..{best:.3f}, {int((finals >= args.target).sum())} reach "
        f"{args.target}; full sweep {t_full:.0f}s"
    )
    for mode in ("storage", "target", "patience"):
        trained, kept, regrets, wrong, stopped, secs = [], [], [], [], [], []
        for order in range(args.orders):
            perm = np.random.default_rng(args.seed + 1 + order).permutation(len(configs))
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite:///{Path(tmp) / 'runs.db'}"
                n_epochs, finished, n_wrong, n_stop = 0, [], 0, 0
                t0 = time.perf_counter()
                for i in perm:
                    kw: dict[str, Any] = {"storage": url} if mode == "storage" else {}
                    if mode == "target":
                        kw["target"] = args.target
                    if mode == "patience":  # what users do today: Lightning's own rule
                        stop = EarlyStopping(monitor="val_acc", mode="max", patience=args.patience)
                    else:
                        stop = ForecastEarlyStopping(
                            monitor="val_acc", mode="max", bounds=(0, 1), **kw
                        )
                    curve = _fit(configs[i], args.epochs, [stop])
                    n_epochs += len(curve)
                    if len(curve) == args.epochs:
                        finished.append(i)
                    else:
                        n_stop += 1
                        n_wrong += int(finals[i] >= args.target)
                secs.append(time.perf_counter() - t0)
            trained.append(n_epochs)
            kept.append(int(np.argmax(finals)) in finished)
            regrets.append(best - (max(finals[finished]) if finished else 0.0))
            wrong.append(n_wrong)
            stopped.append(n_stop)
        line = (
            f"{mode:>7}: epochs trained {np.mean(trained):.0f} of {full_epochs} "
            f"(saved {1 - np.mean(trained) / full_epochs:.0%}), runs stopped "
            f"{np.mean(stopped):.1f}, best kept in {sum(kept)}/{args.orders} orders, mean regret "
            f"{np.mean(regrets):.4f}, {np.mean(secs):.0f}s per sweep"
        )
        if mode != "storage":
            line += f", runs stopped that would reach {args.target}: {np.mean(wrong):.1f}"
        print(line)


if __name__ == "__main__":
    main()
