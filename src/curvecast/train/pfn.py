"""Train the curvecast PFN on :mod:`curvecast.prior`; export it for :mod:`curvecast.forecast.pfn`.

A prior-data fitted network (Müller et al. 2022; for curves, Adriaensen et al. 2023): a
transformer sees many synthetic searches drawn from the prior, each cut at a random point, and
learns to predict the rest of a curve as a distribution. Unlike LC-PFN it reads curves of any
direction, scale, axis and length, forecasts any horizon, and reads the other trials of a search
as context (as FT-PFN does in ifBO); its input space is defined in
:mod:`curvecast.forecast._pfn_input`.

One training example
--------------------
A task of 1-16 curves from :func:`curvecast.prior.sample_task`. One curve is the target, cut
after ``n_context`` points (the prior's horizon draw, 1.2x to 100x in ``x``) or, as often, at a
uniform fraction 5-95% of its points (what benchmarks cut at, and on geometric axes a far longer
horizon). The queries are up to 16 of its later points, always including the last. Two times in
three the other curves of the task are context, each complete (a finished trial) or cut at a
random point (a running one). Diverged curves count up to their last finite point. The loss is
the negative log-likelihood of the queries' noisy values under a bar distribution of
``n_bars`` equal-mass bars (borders from the prior) with half-normal tails.

Usage::

    python -m curvecast.train.pfn --steps 20000 --seed 0 --max-minutes 60 --out pfn.safetensors
    curvecast train --steps 20000 --seed 0 --out pfn.safetensors   # the same

The command writes the weights and a model card (``--out`` with ``.json``): the command, the git
commit, the seed, steps, curves seen, device, wall time and the loss history.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Curve
from curvecast.forecast._nn import read_checked
from curvecast.forecast._pfn_input import N_TASK, N_VALUE, N_X, Encoded, context_ids, encode
from curvecast.forecast.pfn import FORMAT, INPUT_VERSION
from curvecast.prior import PriorConfig, sample_task
from curvecast.train._common import device_name, fit, post_norm_layer
from curvecast.train.lcpfn import bar_nll

if TYPE_CHECKING:
    import torch

__all__ = ["ModelConfig", "build_model", "collate", "export", "main", "make_example", "train"]

_F = NDArray[np.float64]
MAX_QUERIES = 16
_TARGET_CLIP = 1e3


# -- examples from the prior ----------------------------------------------------------------------
def _finite_len(y: _F) -> int:
    """Points before the first non-finite or exploded (|y| > 1e12) value."""
    bad = ~np.isfinite(y) | (np.abs(np.nan_to_num(y, nan=0.0)) > 1e12)
    return int(np.argmax(bad)) if bad.any() else int(y.size)


def make_example(
    task: Sequence[Curve], rng: np.random.Generator, *, context_prob: float = 2 / 3
) -> tuple[Encoded, _F] | None:
    """One training example from a prior task: the encoded input and the queries' targets.

    Returns None when the chosen curve has fewer than two finite points (nothing to predict).
    """
    i = int(rng.integers(len(task)))
    target = task[i]
    n = _finite_len(target.y)
    if n < 2:
        return None
    if rng.random() < 0.5:
        cut = int(target.meta.get("n_context", 1))
    else:
        cut = round(rng.uniform(0.05, 0.95) * n)
    cut = min(max(cut, 1), n - 1)
    future = np.arange(cut, n)
    if future.size > MAX_QUERIES:
        rest = rng.choice(future[:-1], size=MAX_QUERIES - 1, replace=False)
        future = np.sort(np.append(rest, future[-1]))
    context: list[tuple[_F, _F]] = []
    if len(task) > 1 and rng.random() < context_prob:
        others = [j for j in range(len(task)) if j != i]
        keep = rng.permutation(others)[: int(rng.integers(1, len(others) + 1))]
        for j in keep:
            m = _finite_len(task[j].y)
            if m >= 1 and rng.random() >= 0.5:  # a running trial, else a finished one
                m = max(1, round(rng.uniform(0.05, 1.0) * m))
            if m >= 1:
                context.append((task[j].x[:m], task[j].y[:m]))
    enc = encode(
        target.x[:cut],
        target.y[:cut],
        target.x[future],
        direction=target.direction,
        bounds=target.bounds,
        context=context,
        ids=context_ids(len(context), rng),
    )
    z = np.clip(enc.normalize(target.y[future]), -_TARGET_CLIP, _TARGET_CLIP)
    return enc, z


def examples(rng: np.random.Generator, n: int, config: PriorConfig | None = None) -> list[Any]:
    """``n`` examples drawn in order from ``rng``."""
    cfg = config or PriorConfig()
    out: list[Any] = []
    while len(out) < n:
        ex = make_example(sample_task(rng, cfg), rng)
        if ex is not None:
            out.append(ex)
    return out


def collate(batch: Sequence[tuple[Encoded, _F]]) -> dict[str, NDArray[Any]]:
    """Pad a list of examples into arrays; ``*_mask`` is True on real (non-padding) entries and
    ``n_curves`` counts each example's curves (the target and its context)."""
    b = len(batch)
    n = max(e.x_obs.shape[0] for e, _ in batch)
    m = max(e.x_query.shape[0] for e, _ in batch)
    out: dict[str, NDArray[Any]] = {
        "x_obs": np.zeros((b, n, N_X), np.float32),
        "v_obs": np.zeros((b, n, N_VALUE), np.float32),
        "obs_mask": np.zeros((b, n), bool),
        "x_query": np.zeros((b, m, N_X), np.float32),
        "query_mask": np.zeros((b, m), bool),
        "task": np.zeros((b, N_TASK), np.float32),
        "target": np.zeros((b, m), np.float32),
        "n_curves": np.array([1 + e.n_context for e, _ in batch]),
    }
    for k, (e, z) in enumerate(batch):
        no, nq = e.x_obs.shape[0], e.x_query.shape[0]
        out["x_obs"][k, :no] = e.x_obs
        out["v_obs"][k, :no] = e.v_obs
        out["obs_mask"][k, :no] = True
        out["x_query"][k, :nq] = e.x_query
        out["query_mask"][k, :nq] = True
        out["task"][k] = e.task
        out["target"][k, :nq] = z
    return out


def bar_borders(n_bars: int, rng: np.random.Generator, n_examples: int = 4000) -> _F:
    """``n_bars + 1`` borders of equal-mass bars for the prior's normalised targets."""
    z = np.concatenate([t for _, t in examples(rng, n_examples)])
    borders = np.quantile(z, np.linspace(0.0, 1.0, n_bars + 1))
    for i in range(1, borders.size):  # strictly increasing, with a gap float32 keeps
        borders[i] = max(borders[i], borders[i - 1] + 1e-3)
    return np.asarray(borders, dtype=np.float64)


# -- the model ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the curvecast PFN."""

    d_model: int = 96
    n_layers: int = 3
    n_heads: int = 4
    d_ff: int = 192
    n_bars: int = 200


def build_model(cfg: ModelConfig, borders: _F) -> torch.nn.Module:
    """The PFN as a torch module; parameter names are those :mod:`curvecast.forecast.pfn` reads.

    ``forward(batch)`` takes the tensors of :func:`collate` and returns bar logits for every
    query, shape ``(B, M, n_bars)``.
    """
    import torch
    from torch import nn
    from torch.nn import functional as F

    if cfg.d_model % cfg.n_heads:
        raise ValueError(f"d_model {cfg.d_model} is not divisible by n_heads {cfg.n_heads}")
    d = cfg.d_model

    class PFN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.x_in, self.x_out = nn.Linear(N_X, d), nn.Linear(d, d)
            self.v_in, self.v_out = nn.Linear(N_VALUE, d), nn.Linear(d, d)
            self.task_enc = nn.Linear(N_TASK, d)
            self.query = nn.Parameter(torch.zeros(d))
            self.layers = nn.ModuleList(
                [post_norm_layer(d, cfg.n_heads, cfg.d_ff) for _ in range(cfg.n_layers)]
            )
            self.decoder = nn.ModuleDict(
                {"hidden": nn.Linear(d, cfg.d_ff), "out": nn.Linear(cfg.d_ff, cfg.n_bars)}
            )
            self.register_buffer("borders", torch.as_tensor(borders, dtype=torch.float32))

        def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            te = self.task_enc(batch["task"]).unsqueeze(1)
            h_obs = self.x_out(F.gelu(self.x_in(batch["x_obs"])))
            h_obs = h_obs + self.v_out(F.gelu(self.v_in(batch["v_obs"]))) + te
            h_q = self.x_out(F.gelu(self.x_in(batch["x_query"]))) + self.query + te
            n = h_obs.shape[1]
            h = torch.cat([h_obs, h_q], dim=1)
            total = h.shape[1]
            obs_ok = batch["obs_mask"]
            allowed = torch.zeros(h.shape[0], total, total, dtype=torch.bool, device=h.device)
            allowed[:, :, :n] = obs_ok.unsqueeze(1)
            idx = torch.arange(n, total, device=h.device)
            allowed[:, idx, idx] = True
            mask = allowed.unsqueeze(1)
            for layer in self.layers:
                h = layer(h, mask)
            out: torch.Tensor = self.decoder["out"](F.gelu(self.decoder["hidden"](h[:, n:])))
            return out

    return PFN()


def _to_torch(batch: dict[str, NDArray[Any]], device: torch.device) -> dict[str, torch.Tensor]:
    import torch

    return {k: torch.as_tensor(v, device=device) for k, v in batch.items()}


def _batches(seed: int, batch_size: int) -> Iterator[dict[str, NDArray[Any]]]:
    rng = np.random.default_rng([seed, 2])
    while True:
        yield collate(examples(rng, batch_size))


def _batch_loader(seed: int, batch_size: int, workers: int) -> Iterator[dict[str, NDArray[Any]]]:
    """Batches drawn in ``workers`` background processes (in the main process when 0)."""
    if workers == 0:
        return _batches(seed, batch_size)
    import torch.utils.data as tud

    class Stream(tud.IterableDataset):
        def __iter__(self) -> Iterator[dict[str, NDArray[Any]]]:
            info = tud.get_worker_info()
            return _batches(seed * 1000 + (info.id if info else 0), batch_size)

    loader = tud.DataLoader(Stream(), batch_size=None, num_workers=workers, prefetch_factor=4)
    return (
        {k: v.numpy() for k, v in b.items()}  # the loader turned arrays into tensors
        for b in loader
    )


def train(
    cfg: ModelConfig,
    *,
    steps: int,
    batch_size: int,
    seed: int,
    lr: float = 1e-3,
    warmup_frac: float = 0.05,
    log_every: int = 100,
    max_wall_s: float = math.inf,
    workers: int = 1,
    log: Any = print,
    init: torch.nn.Module | None = None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train the PFN on fresh prior tasks; returns the model and a summary of the run.

    ``init``: a model of the same sizes to start from, its bar borders included (see
    :func:`load_init`: fine-tuning on a changed prior); None starts from a random init with
    borders drawn from the prior.

    The learning rate warms up linearly, then decays along a cosine to 0; progress is the larger
    of the fraction of ``steps`` done and of ``max_wall_s`` spent, so a run cut by its time limit
    still anneals fully. The summary reports the steps actually taken.
    """
    import torch

    if not max_wall_s > 0:
        raise ValueError(f"max_wall_s must be positive (or inf); got {max_wall_s}")
    torch.manual_seed(seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if init is None:
        borders = bar_borders(cfg.n_bars, np.random.default_rng([seed, 0]))
        model = build_model(cfg, borders).to(device)
    else:
        model = init.to(device)
    border_t = model.get_buffer("borders")
    val = _to_torch(collate(examples(np.random.default_rng([seed, 1]), 512)), device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)

    def loss_of(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        nll = bar_nll(model(batch), batch["target"], border_t)
        qm = batch["query_mask"]
        return (nll * qm).sum() / qm.sum()

    def val_nll() -> float:
        model.eval()
        with torch.no_grad():
            out = float(loss_of(val).item())
        model.train()
        return out

    curves = 0  # target and context curves read, over all steps
    loader = _batch_loader(seed, batch_size, workers)

    def step_loss() -> torch.Tensor:
        nonlocal curves
        batch = next(loader)
        curves += int(batch["n_curves"].sum())
        return loss_of(_to_torch(batch, device))

    done, history, wall = fit(
        model, opt, steps=steps, lr=lr, warmup_frac=warmup_frac, max_wall_s=max_wall_s,
        log_every=log_every, step_loss=step_loss, val_nll=val_nll, log=log,
    )  # fmt: skip
    summary = {
        "steps": done,
        "steps_planned": steps,
        "batch_size": batch_size,
        "tasks_seen": done * batch_size,
        "curves_seen": curves,
        "seed": seed,
        "lr": lr,
        "warmup_frac": warmup_frac,
        "wall_time_s": wall,
        "device": device_name(device),
        "final_val_nll": history[-1]["val_nll"],
        "history": history,
    }
    return model, summary


def load_init(path: str | Path, cfg: ModelConfig) -> torch.nn.Module:
    """The model stored at ``path`` (weights and bar borders) as a trainable module.

    Raises:
        ValueError: the file is not curvecast PFN weights or its sizes differ from ``cfg``.
    """
    import torch
    from safetensors import SafetensorError

    try:
        tensors, meta = read_checked(path, None, "The --init weights", "curvecast train")
    except (OSError, SafetensorError) as exc:
        raise ValueError(f"cannot read {path} as a weights file ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} holds {meta.get('format')!r} weights, not {FORMAT!r}")
    stored = json.loads(meta.get("config", "{}"))
    if stored != asdict(cfg):
        raise ValueError(
            f"{path} was trained with sizes {stored}; pass the same sizes (--d-model, "
            f"--n-layers, --n-heads, --d-ff, --n-bars) to fine-tune it"
        )
    model = build_model(cfg, tensors.pop("borders").copy())  # read_checked arrays are read-only
    params = {k: torch.tensor(v, dtype=torch.float32) for k, v in tensors.items()}  # copies
    model.load_state_dict(params, strict=False)
    missing = {n for n, _ in model.named_parameters()} - set(tensors)
    if missing:
        raise ValueError(f"{path} lacks the parameters {sorted(missing)[:3]}")
    return model


def export(
    model: torch.nn.Module,
    cfg: ModelConfig,
    path: str | Path,
    extra_meta: dict[str, str] | None = None,
) -> str:
    """Write the weights (float32) and bar borders (float64) as safetensors; returns the sha256."""
    from safetensors.numpy import save_file

    tensors = {n: p.detach().cpu().float().numpy().copy() for n, p in model.named_parameters()}
    tensors["borders"] = model.get_buffer("borders").detach().cpu().double().numpy().copy()
    meta = {
        "format": FORMAT,
        "input_version": INPUT_VERSION,
        "n_heads": str(cfg.n_heads),
        "config": json.dumps(asdict(cfg)),
        **(extra_meta or {}),
    }
    save_file(tensors, str(path), metadata=meta)
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
            cwd=Path(__file__).parent,  # the source tree's commit, wherever the command runs
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The training command's arguments (``curvecast train`` and ``python -m``)."""
    ap.add_argument("--out", type=Path, required=True, help="weights file to write (.safetensors)")
    ap.add_argument("--steps", type=int, default=20000, help="optimizer steps (default: 20000)")
    ap.add_argument("--batch-size", type=int, default=32, help="tasks per step (default: 32)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the prior draws and the init")
    ap.add_argument(
        "--d-model",
        type=int,
        default=ModelConfig.d_model,
        help="width of the transformer (default: %(default)s)",
    )
    ap.add_argument(
        "--n-layers",
        type=int,
        default=ModelConfig.n_layers,
        help="transformer layers (default: %(default)s)",
    )
    ap.add_argument(
        "--n-heads",
        type=int,
        default=ModelConfig.n_heads,
        help="attention heads per layer; must divide --d-model (default: %(default)s)",
    )
    ap.add_argument(
        "--d-ff",
        type=int,
        default=ModelConfig.d_ff,
        help="width of each layer's feed-forward block (default: %(default)s)",
    )
    ap.add_argument(
        "--n-bars",
        type=int,
        default=ModelConfig.n_bars,
        help="equal-mass bars of the output distribution over the normalised y (default: "
        "%(default)s)",
    )
    ap.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default: 1e-3)")
    ap.add_argument(
        "--init",
        type=Path,
        default=None,
        metavar="WEIGHTS",
        help="start from these weights (.safetensors of the same sizes) instead of a random "
        "init: fine-tune a trained PFN on a changed prior",
    )
    ap.add_argument("--workers", type=int, default=1, help="processes drawing prior batches")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (1 is fastest on a small machine: the batch workers need a core)",
    )
    ap.add_argument(
        "--log-every",
        type=int,
        default=100,
        metavar="STEPS",
        help="print the loss every STEPS steps (default: %(default)s)",
    )
    ap.add_argument(
        "--max-minutes",
        type=float,
        default=math.inf,
        help="stop after this many minutes even if --steps are not done (the schedule adapts)",
    )


def _check_args(args: argparse.Namespace) -> str | None:
    """The first problem with the arguments, as a message naming the flag; None when fine."""
    for name in ("steps", "batch_size", "d_model", "n_layers", "n_heads", "d_ff", "n_bars"):
        if getattr(args, name) < 1:
            return f"--{name.replace('_', '-')} must be a positive integer"
    if args.workers < 0:
        return "--workers must be 0 or more"
    if args.seed < 0:
        return "--seed must be 0 or more"
    if args.log_every < 1:
        return "--log-every must be a positive integer"
    if args.threads < 1:
        return "--threads must be a positive integer"
    if args.d_model % args.n_heads:
        return f"--d-model ({args.d_model}) must be a multiple of --n-heads ({args.n_heads})"
    if not (args.lr > 0 and math.isfinite(args.lr)):
        return "--lr must be a positive number"
    if not args.max_minutes > 0:
        return "--max-minutes must be positive"
    if args.init is not None and not args.init.is_file():
        return f"--init: {args.init} is not a file; give weights written by this command"
    if args.out.suffix == ".json":
        return "--out must not end in .json: the model card is written next to it with that suffix"
    if args.out.is_dir():
        return f"--out: {args.out} is a folder; give a file name such as {args.out}/pfn.safetensors"
    if not args.out.parent.is_dir():
        return f"--out: the folder {args.out.parent} does not exist; create it first"
    if not os.access(args.out.parent, os.W_OK):
        return f"--out: the folder {args.out.parent} is not writable"
    return None


def run(args: argparse.Namespace, command: str) -> int:
    """Train with parsed ``args``; write the weights and the model card. Returns an exit code."""
    problem = _check_args(args)
    if problem is not None:
        print(f"curvecast train: error: {problem}", file=sys.stderr)
        return 2
    try:
        import torch
    except ImportError:
        from curvecast.exceptions import install_hint

        print(
            "curvecast train: error: training needs torch. Install it: "
            + install_hint("train")
            + " (a CPU build is enough)",
            file=sys.stderr,
        )
        return 2
    commit = _git_commit()  # the code that trains, before anyone commits more during the run
    torch.set_num_threads(args.threads)
    cfg = ModelConfig(args.d_model, args.n_layers, args.n_heads, args.d_ff, args.n_bars)
    init = None
    if args.init is not None:
        try:
            init = load_init(args.init, cfg)  # fail now, with the flag named, before training
        except ValueError as exc:
            print(f"curvecast train: error: --init: {exc}", file=sys.stderr)
            return 2
    model, summary = train(
        cfg,
        steps=args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
        lr=args.lr,
        workers=args.workers,
        log_every=args.log_every,
        max_wall_s=args.max_minutes * 60.0,
        log=lambda s: print(s, flush=True),
        init=init,
    )
    sha = export(model, cfg, args.out, {"curves_seen": str(summary["curves_seen"])})
    card = {
        "model": "curvecast PFN",
        "weights": args.out.name,
        "sha256": sha,
        "format": FORMAT,
        "input_version": INPUT_VERSION,
        "command": command,
        "commit": commit,
        "config": asdict(cfg),
        "prior": "curvecast.prior.PriorConfig() defaults",
        **summary,
    }
    if args.init is not None:
        card["init"] = args.init.name
    args.out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps({"wrote": str(args.out), "sha256": sha, "steps": summary["steps"]}))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m curvecast.train.pfn``: the same as ``curvecast train``."""
    prog = "python -m curvecast.train.pfn"
    ap = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(ap)
    args = ap.parse_args(argv)
    return run(args, f"{prog} " + " ".join(sys.argv[1:] if argv is None else list(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
