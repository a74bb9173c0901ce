"""Train LC-PFN on its own prior and export the weights that :mod:`curvecast.forecast.lcpfn` reads.

Re-implemented from Adriaensen, Rakotoarison, Müller and Hutter, "Efficient Bayesian Learning
Curve Extrapolation using Prior-Data Fitted Networks" (NeurIPS 2023) and the public ``lcpfn``
package it describes; no code of that package is used.

The prior (:func:`sample_prior_curves`), as the published ``lcpfn`` code draws it
------------------------------------------------------------------------------
Epochs ``t = 1..100``. A curve is ``w1 * pow3 + w2 * ilog2 + w3 * janoschek`` with each
weight ``w ~ U(0, 1)`` (not normalised, as in the published sampler), where

- ``pow3(t) = c - a * t**(-alpha)``, ``a ~ U(-0.6, 0.6)``, ``c ~ U(0, 1.25)``,
  ``alpha ~ LogNormal(0, 2)``;
- ``ilog2(t) = c - a / log(t + 1)``, ``c ~ U(0, 1)``, ``a ~ U(-0.5, 0.5)``;
- ``janoschek(t) = a - (a - beta) * exp(-k * t**delta)``, ``a ~ U(0, 1)``, ``beta ~ U(0, 2)``,
  ``k ~ LogNormal(-2, 1)``, ``delta ~ LogNormal(0, 0.5)``.

A noiseless curve is rejected (and redrawn) unless it ends above where it starts and stays in
[0, 1]. Observations add i.i.d. Gaussian noise with standard deviation ``exp(N(-4, 1))`` drawn per
curve; the model is trained on the noisy values, as the published model is.

Training, as in the paper, at a smaller budget
----------------------------------------------
Each batch draws fresh curves and one cut ``k ~ U{1..99}``: epochs 1..k are the context, epochs
k+1..100 the queries, and the loss is the bar distribution's negative log-likelihood of the
queries' noisy values. 1000 bars with equal prior mass (borders from 10,000 prior curves),
AdamW, linear warm-up then cosine decay, gradients clipped at norm 1. The paper's model has
d_model 512, 12 layers, d_ff 1024 and saw 10 million curves; the bundled one is smaller (see its
model card, ``forecast/weights/lcpfn.json``).

Usage::

    python -m curvecast.train.lcpfn --steps 2000 --batch-size 64 --seed 0 --out lcpfn.safetensors
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from curvecast.forecast._nn import HALFNORMAL_MEDIAN
from curvecast.forecast.lcpfn import FORMAT, HORIZON, UNIFORM_STD, X_SCALE
from curvecast.train._common import device_name, fit, post_norm_layer

if TYPE_CHECKING:
    import torch

__all__ = [
    "ModelConfig",
    "bar_borders",
    "build_model",
    "export_safetensors",
    "main",
    "sample_prior_curves",
    "train",
]


# -- the prior ----------------------------------------------------------------------------------
def _draw_candidates(
    n: int, t: NDArray[np.float64], rng: np.random.Generator
) -> NDArray[np.float64]:
    """``n`` noiseless candidate curves, shape ``(n, len(t))``, before rejection."""
    w = rng.uniform(0.0, 1.0, size=(n, 3, 1))
    col = (n, 1)
    pow3_a, pow3_c = rng.uniform(-0.6, 0.6, col), rng.uniform(0.0, 1.25, col)
    pow3_alpha = rng.lognormal(0.0, 2.0, col)
    ilog_c, ilog_a = rng.uniform(0.0, 1.0, col), rng.uniform(-0.5, 0.5, col)
    jan_a, jan_beta = rng.uniform(0.0, 1.0, col), rng.uniform(0.0, 2.0, col)
    jan_k, jan_delta = rng.lognormal(-2.0, 1.0, col), rng.lognormal(0.0, 0.5, col)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        pow3 = pow3_c - pow3_a * t ** (-pow3_alpha)
        ilog2 = ilog_c - ilog_a / np.log(t + 1.0)
        jan = jan_a - (jan_a - jan_beta) * np.exp(-jan_k * t**jan_delta)
        y: NDArray[np.float64] = w[:, 0] * pow3 + w[:, 1] * ilog2 + w[:, 2] * jan
    return y


def sample_prior_curves(
    n: int, rng: np.random.Generator, seq_len: int = HORIZON
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Draw ``n`` curves from LC-PFN's prior at epochs 1..``seq_len``.

    Returns:
        ``(clean, noisy)``, each shape ``(n, seq_len)``: the noiseless curves (increasing from
        first to last epoch, within [0, 1]) and the same curves with Gaussian noise.
    """
    t = np.arange(1, seq_len + 1, dtype=np.float64)
    kept: list[NDArray[np.float64]] = []
    have = 0
    while have < n:
        y = _draw_candidates(max(2 * (n - have), 16), t, rng)
        ok = np.isfinite(y).all(axis=1) & (y[:, -1] > y[:, 0])
        ok &= (y >= 0.0).all(axis=1) & (y <= 1.0).all(axis=1)
        kept.append(y[ok])
        have += int(ok.sum())
    clean = np.concatenate(kept)[:n]
    sd = np.exp(rng.normal(-4.0, 1.0, size=(n, 1)))
    noisy = clean + sd * rng.standard_normal(clean.shape)
    return clean, noisy


def bar_borders(
    n_bars: int, rng: np.random.Generator, n_curves: int = 10_000
) -> NDArray[np.float64]:
    """Borders of ``n_bars`` equal-mass bars for the prior's noisy values.

    Returns:
        shape ``(n_bars + 1,)``, strictly increasing: quantiles of ``n_curves`` noisy prior curves.
    """
    _, noisy = sample_prior_curves(n_curves, rng)
    borders = np.quantile(noisy.ravel(), np.linspace(0.0, 1.0, n_bars + 1))
    if np.any(np.diff(borders) <= 0):
        raise ValueError("bar borders are not strictly increasing; use fewer bars or more curves")
    return borders


# -- the model ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the LC-PFN transformer (paper: 512, 12 layers, 4 heads, 1024, 1000 bars)."""

    d_model: int = 256
    n_layers: int = 3
    n_heads: int = 4
    d_ff: int = 512
    n_bars: int = 1000


def build_model(cfg: ModelConfig, borders: NDArray[np.float64]) -> torch.nn.Module:
    """The LC-PFN transformer as a torch module; ``forward(t, z, k)`` -> logits.

    ``t``: epochs, shape ``(B, L)``; ``z``: values, shape ``(B, L)`` (only the first ``k`` are
    read); returns logits for the ``L - k`` queries, shape ``(B, L - k, n_bars)``. Parameter
    names are those :mod:`curvecast.forecast.lcpfn` reads.
    """
    import torch
    from torch import nn
    from torch.nn import functional as F

    if cfg.d_model % cfg.n_heads:
        raise ValueError(f"d_model {cfg.d_model} is not divisible by n_heads {cfg.n_heads}")

    class LCPFN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.x_encoder = nn.Linear(1, cfg.d_model)
            self.y_encoder = nn.Linear(1, cfg.d_model)
            self.layers = nn.ModuleList(
                [post_norm_layer(cfg.d_model, cfg.n_heads, cfg.d_ff) for _ in range(cfg.n_layers)]
            )
            self.decoder = nn.ModuleDict(
                {"hidden": nn.Linear(cfg.d_model, cfg.d_ff), "out": nn.Linear(cfg.d_ff, cfg.n_bars)}
            )
            self.register_buffer("borders", torch.as_tensor(borders, dtype=torch.float32))

        def forward(self, t: torch.Tensor, z: torch.Tensor, k: int) -> torch.Tensor:
            h = self.x_encoder(((t / X_SCALE - 0.5) / UNIFORM_STD).unsqueeze(-1))
            ey = self.y_encoder(((z[:, :k] - 0.5) / UNIFORM_STD).unsqueeze(-1))
            h = torch.cat([h[:, :k] + ey, h[:, k:]], dim=1)
            n = h.shape[1]
            mask = torch.zeros(n, n, dtype=torch.bool, device=h.device)
            mask[:, :k] = True
            idx = torch.arange(k, n, device=h.device)
            mask[idx, idx] = True
            for layer in self.layers:
                h = layer(h, mask)
            hidden = F.gelu(self.decoder["hidden"](h[:, k:]))
            out: torch.Tensor = self.decoder["out"](hidden)
            return out

    return LCPFN()


def bar_nll(logits: torch.Tensor, y: torch.Tensor, borders: torch.Tensor) -> torch.Tensor:
    """Negative log density of ``y`` under the full-support bar distribution, shape of ``y``."""
    import torch

    logp = torch.log_softmax(logits, dim=-1)
    widths = borders[1:] - borders[:-1]
    n_bars = widths.numel()
    idx = (torch.searchsorted(borders, y.contiguous()) - 1).clamp(0, n_bars - 1)
    inner = logp.gather(-1, idx.unsqueeze(-1)).squeeze(-1) - torch.log(widths[idx])
    s_lo, s_hi = widths[0] / HALFNORMAL_MEDIAN, widths[-1] / HALFNORMAL_MEDIAN
    half = 0.5 * math.log(2.0 / math.pi)

    def tail(logp_bar: torch.Tensor, dist: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return logp_bar + half - torch.log(s) - 0.5 * (dist.clamp(min=0.0) / s) ** 2

    lo = tail(logp[..., 0], borders[1] - y, s_lo)
    hi = tail(logp[..., -1], y - borders[-2], s_hi)
    ll = torch.where(idx == 0, lo, torch.where(idx == n_bars - 1, hi, inner))
    return -ll


# -- training -----------------------------------------------------------------------------------
def train(
    cfg: ModelConfig,
    *,
    steps: int,
    batch_size: int,
    seed: int,
    lr: float = 1e-3,
    warmup_frac: float = 0.1,
    log_every: int = 50,
    max_wall_s: float = math.inf,
    log: Any = print,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train LC-PFN on fresh prior curves; returns the model and a summary of the run.

    The learning rate warms up linearly over the first ``warmup_frac`` of training, then decays
    along a cosine to 0. Progress is the larger of the fraction of ``steps`` done and the fraction
    of ``max_wall_s`` spent, so that a run on a busy machine still anneals fully before its time
    limit stops it; the summary reports the steps actually taken.
    """
    import torch

    if not max_wall_s > 0:
        raise ValueError(f"max_wall_s must be positive (or inf); got {max_wall_s}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    borders = bar_borders(cfg.n_bars, rng)
    model = build_model(cfg, borders).to(device)
    val_rng = np.random.default_rng([seed, 1])
    _, val_y = sample_prior_curves(256, val_rng)
    val_k = val_rng.integers(1, HORIZON, size=4)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)

    t_all = torch.arange(1, HORIZON + 1, dtype=torch.float32, device=device)

    def step_loss() -> torch.Tensor:
        _, noisy = sample_prior_curves(batch_size, rng)
        z = torch.as_tensor(noisy, dtype=torch.float32, device=device)
        k = int(rng.integers(1, HORIZON))
        logits = model(t_all.expand(batch_size, -1), z, k)
        out: torch.Tensor = bar_nll(logits, z[:, k:], _borders(model)).mean()
        return out

    done, history, wall = fit(
        model, opt, steps=steps, lr=lr, warmup_frac=warmup_frac, max_wall_s=max_wall_s,
        log_every=log_every, step_loss=step_loss,
        val_nll=lambda: _val_nll(model, val_y, val_k, t_all), log=log,
    )  # fmt: skip
    summary = {
        "steps": done,
        "steps_planned": steps,
        "batch_size": batch_size,
        "curves_seen": done * batch_size,
        "seed": seed,
        "lr": lr,
        "warmup_frac": warmup_frac,
        "wall_time_s": wall,
        "device": device_name(device),
        "final_train_nll_ema": history[-1]["train_nll_ema"],
        "final_val_nll": history[-1]["val_nll"],
        "history": history,
    }
    return model, summary


def _val_nll(
    model: torch.nn.Module, val_y: NDArray[np.float64], ks: NDArray[np.int64], t_all: torch.Tensor
) -> float:
    """Mean NLL of a fixed validation set over fixed cuts (comparable across runs)."""
    import torch

    z = torch.as_tensor(val_y, dtype=torch.float32, device=t_all.device)
    total = 0.0
    with torch.no_grad():
        for k in ks:
            logits = model(t_all.expand(z.shape[0], -1), z, int(k))
            total += bar_nll(logits, z[:, int(k) :], _borders(model)).mean().item()
    return total / len(ks)


def _borders(model: torch.nn.Module) -> torch.Tensor:
    """The bar borders buffer of a model from :func:`build_model`, shape ``(n_bars + 1,)``."""
    out: torch.Tensor = model.get_buffer("borders")
    return out


def export_safetensors(
    model: torch.nn.Module,
    cfg: ModelConfig,
    path: str | Path,
    extra_meta: dict[str, str] | None = None,
) -> None:
    """Write the weights (float32) and the bar borders (float64) as safetensors."""
    from safetensors.numpy import save_file

    tensors = {
        name: p.detach().cpu().float().numpy().copy() for name, p in model.named_parameters()
    }
    tensors["borders"] = _borders(model).detach().cpu().double().numpy().copy()
    meta = {
        "format": FORMAT,
        "n_heads": str(cfg.n_heads),
        "config": json.dumps(asdict(cfg)),
        **(extra_meta or {}),
    }
    save_file(tensors, str(path), metadata=meta)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: train, then write ``--out`` (safetensors) and ``--out`` with .json (card)."""
    ap = argparse.ArgumentParser(
        prog="python -m curvecast.train.lcpfn",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--d-model", type=int, default=ModelConfig.d_model)
    ap.add_argument("--n-layers", type=int, default=ModelConfig.n_layers)
    ap.add_argument("--n-heads", type=int, default=ModelConfig.n_heads)
    ap.add_argument("--d-ff", type=int, default=ModelConfig.d_ff)
    ap.add_argument("--n-bars", type=int, default=ModelConfig.n_bars)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument(
        "--max-minutes",
        type=float,
        default=math.inf,
        help="stop after this many minutes even if --steps are not done",
    )
    args = ap.parse_args(argv)
    for name in ("steps", "batch_size", "d_model", "n_layers", "n_heads", "d_ff", "n_bars"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be a positive int")
    cfg = ModelConfig(args.d_model, args.n_layers, args.n_heads, args.d_ff, args.n_bars)
    command = "python -m curvecast.train.lcpfn " + " ".join(
        sys.argv[1:] if argv is None else list(argv)
    )
    print(
        f"training LC-PFN {asdict(cfg)}: {args.steps} steps x {args.batch_size} curves", flush=True
    )
    model, summary = train(
        cfg,
        steps=args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
        lr=args.lr,
        log_every=args.log_every,
        max_wall_s=60.0 * args.max_minutes,
        log=lambda s: print(s, flush=True),
    )
    n_params = sum(p.numel() for p in model.parameters())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export_safetensors(model, cfg, args.out, {"curves_seen": str(summary["curves_seen"])})
    import torch

    card = {
        "model": "LC-PFN (Adriaensen et al., NeurIPS 2023), re-trained by curvecast",
        "command": command,
        "config": asdict(cfg),
        "n_parameters": n_params,
        "torch": torch.__version__,
        **summary,
        "paper_budget": "d_model 512, 12 layers, 10,000,000 curves (1000 epochs x 100 "
        "steps x batch 100)",
    }
    args.out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
