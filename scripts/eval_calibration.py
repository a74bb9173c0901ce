"""Calibration of the final-value forecast on real learning curves.

For each method, each suite and each cutoff (the first 20% / 50% of a curve's points observed),
prints the coverage of the central 90% and 50% intervals of the curve's final value and the
median absolute error of the median forecast (in the metric's units).

Suites (read from ``--data-dir``, the shared data folder):
  lcdb-tune     LCDB accuracy curves of datasets with an even OpenML id (with nanogpt, the
                only sets used to tune the defaults of ``parametric``)
  lcdb-heldout  LCDB accuracy curves of datasets with an odd OpenML id
  lcbench       surrogate LCBench (YAHPO ONNX) validation accuracy, random configurations
  nanogpt       modded-nanogpt validation loss, runs with at least 20 points (tuning set)

Usage:
    OMP_NUM_THREADS=1 python scripts/eval_calibration.py --data-dir ../shared/data \
        --curves 150 --mcmc-curves 20
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

import curvecast
from curvecast import Curve

Suite = list[tuple[np.ndarray, np.ndarray, str, tuple[float | None, float | None]]]


def lcdb(data: Path, parity: int, n: int, rng: np.random.Generator) -> Suite:
    df = pd.read_parquet(
        data / "lcdb" / "lcdb-accuracy.parquet",
        columns=["openmlid", "learner", "size_train", "outer_seed", "inner_seed", "score_valid"],
    )
    df = df[(df.outer_seed == 0) & (df.inner_seed == 0) & (df.openmlid % 2 == parity)]
    groups = [g for _, g in df.groupby(["openmlid", "learner"], observed=True) if len(g) >= 8]
    pick = rng.choice(len(groups), size=min(n, len(groups)), replace=False)
    out: Suite = []
    for i in pick:
        g = groups[i].sort_values("size_train").dropna(subset=["score_valid"])
        x, y = g.size_train.to_numpy(float), g.score_valid.to_numpy(float)
        out.append((x, y, "maximize", (0, 1)))
    return out


def lcbench(data: Path, n: int, rng: np.random.Generator) -> Suite:
    import onnxruntime as rt

    d = data / "yahpo_lcbench"
    sess = rt.InferenceSession(str(d / "model.onnx"), providers=["CPUExecutionProvider"])
    codes = {k: v for k, v in json.loads((d / "encoding.json").read_text())[
        "OpenML_task_id"].items() if k != "#na#"}  # fmt: skip
    tasks = sorted(codes)
    epochs = np.arange(1, 53, dtype=np.float32)
    out: Suite = []
    for _ in range(n):
        cfg = [
            math.exp(rng.uniform(math.log(16), math.log(512))),
            math.exp(rng.uniform(math.log(1e-4), math.log(1e-1))),
            rng.uniform(0.1, 0.99),
            math.exp(rng.uniform(math.log(1e-5), math.log(0.1))),
            float(rng.integers(1, 6)),
            math.exp(rng.uniform(math.log(64), math.log(1024))),
            rng.uniform(0.0, 1.0),
        ]
        x_cont = np.column_stack([epochs] + [np.full_like(epochs, v) for v in cfg])
        x_cat = np.full((52, 1), codes[tasks[rng.integers(len(tasks))]], dtype=np.int32)
        y = sess.run(None, {"x_cat": x_cat, "x_cont": x_cont.astype(np.float32)})[0][:, 1]
        out.append((epochs.astype(float), y.astype(float), "maximize", (0, 100)))
    return out


def nanogpt(data: Path, n: int, rng: np.random.Generator) -> Suite:
    df = pd.read_csv(data / "modded_nanogpt" / "nanogpt_curves.csv.gz")
    df = df[df.metric == "val_loss"]
    runs = [g.sort_values("step") for _, g in df.groupby("file")]
    runs = [g.drop_duplicates("step") for g in runs if g.step.nunique() >= 20]
    pick = rng.choice(len(runs), size=min(n, len(runs)), replace=False)
    out: Suite = []
    for i in pick:
        g = runs[i]
        y = g.value.to_numpy(float)
        if not np.all(np.isfinite(y)):
            continue
        out.append((g.step.to_numpy(float), y, "minimize", (0, None)))
    return out


def evaluate(
    suite: Suite, method: str, frac: float, seed: int
) -> Iterator[tuple[bool, bool, float, float]]:
    for j, (x, y, direction, bounds) in enumerate(suite):
        k = max(1, round(frac * x.size))
        curve = Curve(x[:k], y[:k], direction=direction, bounds=bounds)
        t0 = time.perf_counter()
        f = curvecast.forecast_curve(
            curve, x[k:], method=method, quantiles=(0.05, 0.25, 0.5, 0.75, 0.95), rng=seed + j
        )
        dt = time.perf_counter() - t0
        q = f.quantiles[-1]
        yt = y[-1]
        yield bool(q[0] <= yt <= q[4]), bool(q[1] <= yt <= q[3]), abs(q[2] - yt), dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--curves", type=int, default=150, help="curves per suite")
    ap.add_argument("--mcmc-curves", type=int, default=20, help="curves per suite for MCMC")
    ap.add_argument("--methods", default="last_value,pow4,mmf4,parametric,domhan_mcmc")
    ap.add_argument("--suites", default="lcdb-tune,lcdb-heldout,lcbench,nanogpt")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    loaders = {
        "lcdb-tune": lambda: lcdb(args.data_dir, 0, args.curves, rng),
        "lcdb-heldout": lambda: lcdb(args.data_dir, 1, args.curves, rng),
        "lcbench": lambda: lcbench(args.data_dir, args.curves, rng),
        "nanogpt": lambda: nanogpt(args.data_dir, args.curves, rng),
    }
    print(f"{'suite':13s} {'method':12s} {'cut':>4s} {'n':>4s} {'cov90':>6s} {'cov50':>6s} "
          f"{'medAE':>9s} {'ms/fc':>7s}")  # fmt: skip
    for suite_name in args.suites.split(","):
        suite = loaders[suite_name]()
        for method in args.methods.split(","):
            sub = suite[: args.mcmc_curves] if method == "domhan_mcmc" else suite
            for frac in (0.2, 0.5):
                rows = list(evaluate(sub, method, frac, args.seed))
                c90, c50, ae, dt = (np.array(v, dtype=float) for v in zip(*rows, strict=True))
                print(
                    f"{suite_name:13s} {method:12s} {frac:4.1f} {len(rows):4d} {c90.mean():6.2f} "
                    f"{c50.mean():6.2f} {np.median(ae):9.4f} {1e3 * np.mean(dt):7.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
