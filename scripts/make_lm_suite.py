"""Generate the held-out ``heldout-lm`` suite: tiny byte-level transformer LMs trained on CPU.

Every curve is one run of a small decoder-only transformer over raw bytes (vocabulary 256, so the
loss starts near ln 256 = 5.55 nats), its validation loss recorded every 10 steps. A task is one
search: a fixed model on a fixed text, whose runs differ in learning-rate schedule (constant,
cosine or WSD, with or without a short warm-up), peak learning rate (two decades, log-uniform:
the fastest overshoot or stall, the slowest barely learn) and budget (200 or 400 steps, so a
search mixes runs whose schedules end at different steps). The schedule each run followed is
kept in its meta in curvecast's schedule format (:class:`curvecast.Schedule`), which also set the
rate at every step, so schedule-aware forecasts can use it. Texts ship with Python itself (no
download); the last 10% of each is the validation split:

* ``code-d64``: the source of the standard library's ``asyncio`` package (``asyncio/*.py``,
  sorted, about 0.4 MB of Python); 2 layers, width 64, 4 heads, context 32, batch 8; peak
  learning rate 3e-4 to 3e-2;
* ``prose-d96``: ``pydoc_data/topics.py`` (the language reference text behind ``help()``,
  about 0.75 MB of English with code), 2 layers, width 96, 4 heads, context 32, batch 8;
  peak learning rate 2e-4 to 2e-2.

AdamW (betas 0.9/0.95, weight decay 0.01), gradients clipped at norm 1. Validation loss is the
mean over 64 fixed windows of the held-out text. One CPU thread, fixed seeds: the curves are
reproducible for a given torch build and Python (the texts are the Python version's own).

This suite is **held out**: it is for judging curvecast, never for tuning it (docs/benchmarks.md).

Usage (about 6 minutes of CPU time on one core; the data ships with curvecast, so this
only reproduces it)::

    nice python scripts/make_lm_suite.py --out src/curvecast/data/lm_suite.json.gz
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

SEED = 20261206
EVERY = 10
CONFIGS = 20
BUDGETS = (200, 400)
SCHEDULES = ("constant", "cosine", "wsd")
CTX, BATCH, EVAL_WINDOWS = 32, 8, 64

#: task -> (text, layers, width, lowest peak lr)
TASKS: dict[str, tuple[str, int, int, float]] = {
    "code-d64": ("asyncio", 2, 64, 3e-4),
    "prose-d96": ("topics", 2, 96, 2e-4),
}
TASKS_ALL = dict(TASKS)  # what the workers look tasks up in (make_runs adds a test's tasks)


def text_bytes(name: str, limit: int | None = None) -> bytes:
    """The raw bytes of one of the suite's texts (``asyncio`` or ``topics``), at most ``limit``."""
    import asyncio
    import pydoc_data.topics

    if name == "asyncio":
        root = pathlib.Path(asyncio.__file__).parent
        data = b"".join(p.read_bytes() for p in sorted(root.glob("*.py")))
    elif name == "topics":
        data = pathlib.Path(pydoc_data.topics.__file__).read_bytes()
    else:
        raise ValueError(f"unknown text {name!r}")
    return data if limit is None else data[:limit]


def draw_schedule(rng: np.random.Generator, k: int, lo: float) -> dict[str, Any]:
    """Run ``k``'s schedule: kinds and budgets in turn, peak log-uniform on ``[lo, 100 lo]``."""
    name = SCHEDULES[k % len(SCHEDULES)]
    total = BUDGETS[(k // len(SCHEDULES)) % len(BUDGETS)]
    peak = float(f"{lo * math.exp(rng.uniform(0.0, math.log(100.0))):.4g}")
    warm = round(float(rng.choice([0.0, 0.05])) * total)
    spec: dict[str, Any] = {"name": name, "peak_lr": peak, "warmup": warm, "total": total}
    if name in ("cosine", "wsd"):
        spec["final_lr"] = float(f"{float(rng.choice([0.0, 0.1])) * peak:.4g}")
    if name == "wsd":
        spec["decay"] = round(float(rng.choice([0.1, 0.2, 0.3])) * total)
    return spec


def _model(layers: int, width: int) -> Any:
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
            self.qkv = nn.Linear(width, 3 * width)
            self.proj = nn.Linear(width, width)
            self.mlp = nn.Sequential(
                nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
            )

        def forward(self, h: Any) -> Any:
            b, t, _ = h.shape
            q, k, v = self.qkv(self.ln1(h)).split(width, dim=2)
            q, k, v = (z.view(b, t, 4, width // 4).transpose(1, 2) for z in (q, k, v))
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            h = h + self.proj(a.transpose(1, 2).reshape(b, t, width))
            return h + self.mlp(self.ln2(h))

    class LM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tok = nn.Embedding(256, width)
            self.pos = nn.Embedding(CTX, width)
            self.blocks = nn.ModuleList([Block() for _ in range(layers)])
            self.ln = nn.LayerNorm(width)
            self.head = nn.Linear(width, 256)

        def forward(self, idx: Any) -> Any:
            h = self.tok(idx) + self.pos(torch.arange(idx.shape[1]))
            for blk in self.blocks:
                h = blk(h)
            return self.head(self.ln(h))

    return LM()


def run_lm(data: bytes, layers: int, width: int, spec: dict[str, Any], seed: int,
           every: int = EVERY) -> tuple[list[int], list[float | None]]:  # fmt: skip
    """Train one LM under ``spec``; (steps, validation losses) every ``every`` steps."""
    import torch
    from torch.nn import functional as F

    from curvecast.schedules import Schedule

    ids = torch.frombuffer(bytearray(data), dtype=torch.uint8).long()
    cut = int(0.9 * ids.numel())
    train, val = ids[:cut], ids[cut:]
    vg = torch.Generator().manual_seed(SEED)
    vstarts = torch.randint(0, val.numel() - CTX - 1, (EVAL_WINDOWS,), generator=vg)
    offsets = torch.arange(CTX)
    vx, vy = val[vstarts[:, None] + offsets], val[vstarts[:, None] + offsets + 1]
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = _model(layers, width)
    opt = torch.optim.AdamW(model.parameters(), lr=0.0, betas=(0.9, 0.95), weight_decay=0.01)
    total = int(spec["total"])
    lrs = Schedule(spec).lr(np.arange(total))
    xs: list[int] = []
    ys: list[float | None] = []
    for step in range(total):
        starts = torch.randint(0, train.numel() - CTX - 1, (BATCH,), generator=g)
        bx, by = train[starts[:, None] + offsets], train[starts[:, None] + offsets + 1]
        for group in opt.param_groups:
            group["lr"] = float(lrs[step])
        loss = F.cross_entropy(model(bx).reshape(-1, 256), by.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (step + 1) % every == 0:
            model.eval()
            with torch.no_grad():
                v = float(F.cross_entropy(model(vx).reshape(-1, 256), vy.reshape(-1)))
            model.train()
            xs.append(step + 1)
            ys.append(round(v, 5) if math.isfinite(v) else None)
    return xs, ys


def _one(job: tuple[str, int, dict[str, Any], int, int | None, int]) -> dict[str, Any]:
    """One run of the suite, a JSON-ready dict (a top-level function, so a pool can call it)."""
    import torch

    torch.set_num_threads(1)
    task, k, spec, every, text_limit, _ = job
    text, layers, width, _lo = TASKS_ALL[task]
    xs, ys = run_lm(text_bytes(text, text_limit), layers, width, spec, seed=k, every=every)
    hp = {"layers": layers, "width": width, "text": text, **spec}
    return {
        "task": task, "config": f"c{k:03d}", "x": xs, "y": ys, "schedule": spec, "seed": k,
        "hyperparameters": hp,
    }  # fmt: skip


def make_runs(configs: int, tasks: dict[str, tuple[str, int, int, float]] | None = None,
              *, text_limit: int | None = None, steps_scale: float = 1.0, every: int = EVERY,
              jobs: int = 1, log: Any = None) -> list[dict[str, Any]]:  # fmt: skip
    """The suite's runs: ``configs`` per task, JSON-ready dicts (task, config, x, y, schedule...).

    Runs are independent (each seeds its own generators), so ``jobs`` processes give the same
    runs as one. ``text_limit``, ``steps_scale`` and ``every`` shrink the runs (for tests); the
    defaults make the shipped suite.
    """
    tasks = TASKS if tasks is None else tasks
    TASKS_ALL.update(tasks)
    todo = []
    for t, (task, (_text, _layers, _width, lo)) in enumerate(tasks.items()):
        rng = np.random.default_rng([SEED, t])
        for k in range(configs):
            spec = draw_schedule(rng, k, lo)
            if steps_scale != 1.0:
                for key in ("total", "warmup", "decay"):
                    if key in spec:
                        spec[key] = max(round(spec[key] * steps_scale), 1 if key != "warmup" else 0)
            todo.append((task, k, spec, every, text_limit, t))
    t0 = time.time()
    runs: list[dict[str, Any]] = []
    if jobs > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(jobs) as pool:
            it = pool.imap(_one, todo)
            for run in it:
                runs.append(run)
                _log(log, run, t0)
    else:
        for job in todo:
            runs.append(_one(job))
            _log(log, runs[-1], t0)
    return runs


def _log(log: Any, run: dict[str, Any], t0: float) -> None:
    if log:
        spec, ys = run["schedule"], run["y"]
        last = ys[-1] if ys else None
        log(f"{time.time() - t0:7.1f}s {run['task']} {run['config']} {spec['name']} "
            f"total={spec['total']} peak={spec['peak_lr']:.3g} final={last}")  # fmt: skip


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--out", type=pathlib.Path, default=None)
    ap.add_argument("--configs", type=int, default=CONFIGS, help="configurations per task")
    ap.add_argument("--jobs", type=int, default=1, help="processes (the runs are the same)")
    args = ap.parse_args()
    out = args.out or pathlib.Path("src/curvecast/data/lm_suite.json.gz")
    t0 = time.time()
    runs = make_runs(args.configs, jobs=args.jobs, log=lambda s: print(s, flush=True))
    doc = {
        "description": "curvecast 'heldout-lm' suite (held out: never tune on it): validation "
        "loss every 10 steps of tiny byte-level transformer LMs on texts that ship with Python, "
        "constant/cosine/WSD schedules at 200 and 400 steps (scripts/make_lm_suite.py)",
        "seed": SEED,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "runs": runs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
        fh.write(payload)  # mtime=0: the same runs give the same bytes
    print(f"wrote {len(runs)} runs to {out} in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
