"""Generate the ``schedules`` benchmark suite: real small training runs under known LR schedules.

Every run trains a small model on CPU with torch and records its validation loss every few steps
and the learning-rate schedule it followed (a :class:`curvecast.Schedule` spec, which also set
the rate at every step, so the recorded schedule is exactly the one used). Four searches
("tasks"), each mixing the five named schedules (constant, step, cosine, linear, wsd; each with
or without warm-up) and peak learning rates drawn log-uniformly over about two decades:

* ``digits-mlp-adamw-h64`` / ``digits-mlp-adamw-h256``: a one-hidden-layer MLP (64 or 256 units)
  on scikit-learn's bundled digits (1,797 8x8 images; 1,200 train, 597 validation), AdamW,
  batch 64, 600 steps, validation cross-entropy every 15 steps;
* ``digits-mlp-sgd``: the same with 128 units and SGD with Nesterov momentum 0.9;
* ``charlm-transformer``: a 2-layer character-level transformer (d=48, 4 heads, context 32) on
  the dataset descriptions bundled with scikit-learn (``sklearn/datasets/descr/*.rst``, about
  43 kB; the last 10% held out), AdamW, batch 16, 500 steps, validation loss every 20 steps.

Usage (about 15 minutes on one CPU core; the data ships with curvecast, so this only reproduces
it)::

    nice python scripts/make_schedule_suite.py --out src/curvecast/data/schedule_suite.json.gz

The seed is fixed; runs are deterministic for a given torch build and thread count (1).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import pathlib
import platform
import time
from typing import Any

import numpy as np

SEED = 20261202


def _draw_schedule(rng: np.random.Generator, total: int) -> dict[str, Any]:
    name = str(rng.choice(["constant", "step", "cosine", "linear", "wsd"]))
    peak = float(np.exp(rng.uniform(math.log(1.0), math.log(100.0))))  # scaled by the family
    warm = round(float(rng.choice([0.0, 0.02, 0.05, 0.1])) * total)
    spec: dict[str, Any] = {"name": name, "peak_lr": peak, "warmup": warm, "total": total}
    if name in ("cosine", "linear", "wsd"):
        spec["final_lr"] = float(rng.choice([0.0, 0.1])) * peak
    if name == "wsd":
        spec["decay"] = round(float(rng.choice([0.1, 0.2, 0.3])) * total)
    if name == "step":
        fracs = [0.5, 0.75] if rng.uniform() < 0.5 else [0.33, 0.67]
        spec["milestones"] = [round(f * total) for f in fracs]
        spec["gamma"] = float(rng.choice([0.1, 0.3]))
    return spec


def _scaled(spec: dict[str, Any], lo: float) -> dict[str, Any]:
    """Map the unit draw (peak in [1, 100]) onto the family's range [lo, 100 lo]."""
    out = dict(spec)
    factor = lo
    for k in ("peak_lr", "final_lr"):
        if k in out:
            out[k] = float(f"{out[k] * factor:.4g}")
    return out


def _digits() -> tuple[Any, ...]:
    import torch
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(SEED).permutation(len(y))
    tr, va = perm[:1200], perm[1200:]
    return (
        torch.from_numpy(X[tr]),
        torch.from_numpy(y[tr]),
        torch.from_numpy(X[va]),
        torch.from_numpy(y[va]),
    )


def _text() -> tuple[Any, Any, int]:
    import sklearn
    import torch

    root = pathlib.Path(sklearn.__file__).parent / "datasets" / "descr"
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(root.glob("*.rst")))
    chars = sorted(set(text))
    ids = torch.tensor([chars.index(c) for c in text], dtype=torch.long)
    cut = int(0.9 * ids.numel())
    return ids[:cut], ids[cut:], len(chars)


def _run_mlp(data: tuple[Any, ...], hidden: int, opt_name: str, spec: dict[str, Any],
             seed: int, every: int) -> tuple[list[int], list[float]]:  # fmt: skip
    import torch

    from curvecast.schedules import Schedule

    xtr, ytr, xva, yva = data
    sched = Schedule(spec)
    total = int(spec["total"])
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10)
    )
    if opt_name == "adamw":
        opt: Any = torch.optim.AdamW(model.parameters(), lr=0.0, weight_decay=1e-4)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9, nesterov=True)
    lrs = sched.lr(np.arange(total))
    xs, ys = [], []
    for step in range(total):
        idx = torch.randint(0, xtr.shape[0], (64,), generator=g)
        for group in opt.param_groups:
            group["lr"] = float(lrs[step])
        loss = torch.nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % every == 0:
            with torch.no_grad():
                v = float(torch.nn.functional.cross_entropy(model(xva), yva))
            xs.append(step + 1)
            ys.append(v if math.isfinite(v) else float("nan"))
    return xs, ys


class _CharLM:
    def __init__(self, vocab: int, d: int, ctx: int) -> None:
        import torch

        class Block(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.ln1 = torch.nn.LayerNorm(d)
                self.att = torch.nn.MultiheadAttention(d, 4, batch_first=True)
                self.ln2 = torch.nn.LayerNorm(d)
                self.mlp = torch.nn.Sequential(
                    torch.nn.Linear(d, 4 * d), torch.nn.GELU(), torch.nn.Linear(4 * d, d)
                )

            def forward(self, h: Any, mask: Any) -> Any:
                a = self.ln1(h)
                h = h + self.att(a, a, a, attn_mask=mask, need_weights=False)[0]
                return h + self.mlp(self.ln2(h))

        class Model(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.tok = torch.nn.Embedding(vocab, d)
                self.pos = torch.nn.Embedding(ctx, d)
                self.blocks = torch.nn.ModuleList([Block(), Block()])
                self.ln = torch.nn.LayerNorm(d)
                self.head = torch.nn.Linear(d, vocab)
                self.register_buffer(
                    "mask", torch.triu(torch.ones(ctx, ctx, dtype=torch.bool), diagonal=1)
                )

            def forward(self, idx: Any) -> Any:
                t = idx.shape[1]
                h = self.tok(idx) + self.pos(torch.arange(t))
                for b in self.blocks:
                    h = b(h, self.mask[:t, :t])
                return self.head(self.ln(h))

        self.model = Model()


def _run_charlm(data: tuple[Any, Any, int], spec: dict[str, Any], seed: int,
                every: int) -> tuple[list[int], list[float]]:  # fmt: skip
    import torch

    from curvecast.schedules import Schedule

    train, val, vocab = data
    ctx, batch = 32, 16
    sched = Schedule(spec)
    total = int(spec["total"])
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = _CharLM(vocab, 48, ctx).model
    opt = torch.optim.AdamW(model.parameters(), lr=0.0, weight_decay=0.01)
    vg = torch.Generator().manual_seed(SEED)
    vstarts = torch.randint(0, val.numel() - ctx - 1, (64,), generator=vg)
    vx = torch.stack([val[s : s + ctx] for s in vstarts])
    vy = torch.stack([val[s + 1 : s + ctx + 1] for s in vstarts])
    lrs = sched.lr(np.arange(total))
    xs, ys = [], []
    for step in range(total):
        starts = torch.randint(0, train.numel() - ctx - 1, (batch,), generator=g)
        bx = torch.stack([train[s : s + ctx] for s in starts])
        by = torch.stack([train[s + 1 : s + ctx + 1] for s in starts])
        for group in opt.param_groups:
            group["lr"] = float(lrs[step])
        logits = model(bx)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), by.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (step + 1) % every == 0:
            model.eval()
            with torch.no_grad():
                out = model(vx)
                v = float(torch.nn.functional.cross_entropy(out.reshape(-1, vocab), vy.reshape(-1)))
            model.train()
            xs.append(step + 1)
            ys.append(v if math.isfinite(v) else float("nan"))
    return xs, ys


# task name -> (kind, runs, total steps, eval every, lowest peak lr, extra)
TASKS: dict[str, tuple[str, int, int, int, float, dict[str, Any]]] = {
    "digits-mlp-adamw-h64": ("mlp", 80, 600, 15, 3e-4, {"hidden": 64, "optimizer": "adamw"}),
    "digits-mlp-adamw-h256": ("mlp", 80, 600, 15, 1e-4, {"hidden": 256, "optimizer": "adamw"}),
    "digits-mlp-sgd": ("mlp", 80, 600, 15, 3e-3, {"hidden": 128, "optimizer": "sgd"}),
    "charlm-transformer": ("charlm", 60, 500, 20, 1e-4, {"d_model": 48, "optimizer": "adamw"}),
}


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="src/curvecast/data/schedule_suite.json.gz")
    ap.add_argument("--runs", type=int, default=None, help="runs per task (default: the table)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    digits, text = _digits(), _text()
    runs: list[dict[str, Any]] = []
    t0 = time.time()
    for task, (kind, n, total, every, lo, extra) in TASKS.items():
        for k in range(args.runs or n):
            spec = _scaled(_draw_schedule(rng, total), lo)
            seed = int(rng.integers(0, 2**31 - 1))
            if kind == "mlp":
                xs, ys = _run_mlp(digits, extra["hidden"], extra["optimizer"], spec, seed, every)
            else:
                xs, ys = _run_charlm(text, spec, seed, every)
            runs.append({
                "task": task, "config": f"{task}-{k:03d}", "x": xs,
                "y": [None if not math.isfinite(v) else round(v, 6) for v in ys],
                "schedule": spec, "seed": seed, "hyperparameters": {**extra, **spec},
            })  # fmt: skip
            print(f"{time.time() - t0:7.1f}s {task} {k} {spec['name']} peak={spec['peak_lr']:.3g} "
                  f"final={ys[-1]:.4f}", flush=True)  # fmt: skip
    doc = {
        "description": "curvecast 'schedules' suite: validation loss of small CPU runs under "
        "known learning-rate schedules (scripts/make_schedule_suite.py)",
        "seed": SEED,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "runs": runs,
    }
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
        fh.write(payload)  # mtime=0: the same runs give the same bytes
    print(f"wrote {len(runs)} runs to {out} in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
