"""Pieces both trainers share: the post-norm transformer layer, the schedule, run facts.

torch is imported inside the functions, so that importing :mod:`curvecast.train` stays free of it.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["device_name", "fit", "lr_factor", "post_norm_layer"]


def post_norm_layer(d_model: int, n_heads: int, d_ff: int) -> torch.nn.Module:
    """One post-norm encoder layer; ``forward(h, mask)`` with ``mask`` True where attending.

    Parameter names (``qkv``, ``out``, ``norm1``, ``ff1``, ``ff2``, ``norm2``) are those the NumPy
    forward passes of :mod:`curvecast.forecast` read. As in PFNs, the residual branches start at
    zero, so a fresh network passes its inputs through.
    """
    from torch import nn
    from torch.nn import functional as F

    class Layer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(d_model, 3 * d_model)
            self.out = nn.Linear(d_model, d_model)
            self.norm1 = nn.LayerNorm(d_model)
            self.ff1 = nn.Linear(d_model, d_ff)
            self.ff2 = nn.Linear(d_ff, d_model)
            self.norm2 = nn.LayerNorm(d_model)
            for lin in (self.out, self.ff2):
                nn.init.zeros_(lin.weight)
                nn.init.zeros_(lin.bias)

        def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            b, n, d = h.shape
            dh = d // n_heads
            qkv = self.qkv(h).view(b, n, 3, n_heads, dh).permute(2, 0, 3, 1, 4)
            att = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=mask)
            h = self.norm1(h + self.out(att.transpose(1, 2).reshape(b, n, d)))
            out: torch.Tensor = self.norm2(h + self.ff2(F.gelu(self.ff1(h))))
            return out

    return Layer()


def lr_factor(progress: float, warmup_frac: float, steps: int) -> float:
    """The learning-rate multiplier at ``progress`` in [0, 1]: linear warm-up over
    ``warmup_frac``, then a cosine down to 0."""
    if progress < warmup_frac:
        return max(progress / warmup_frac, 1.0 / steps)
    rest = (progress - warmup_frac) / max(1.0 - warmup_frac, 1e-12)
    return 0.5 * (1.0 + math.cos(math.pi * min(rest, 1.0)))


def device_name(device: torch.device) -> str:
    """The device a run used, for its model card."""
    import torch

    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def fit(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    *,
    steps: int,
    lr: float,
    warmup_frac: float,
    max_wall_s: float,
    log_every: int,
    step_loss: Callable[[], torch.Tensor],
    val_nll: Callable[[], float],
    log: Callable[[str], Any],
) -> tuple[int, list[dict[str, Any]], float]:
    """The training loop both trainers run; returns (steps done, loss history, wall seconds).

    Each step sets the learning rate from :func:`lr_factor`, takes ``step_loss()`` (a fresh
    batch's loss), clips the gradient norm at 1 and steps ``opt``. Progress is the larger of the
    fraction of ``steps`` done and of ``max_wall_s`` spent, so a run cut by its time limit still
    anneals fully. Every ``log_every`` steps, and once at the end, a record with the training
    loss (an exponential moving average), ``val_nll()`` and the wall time goes to ``history``
    and, as JSON, to ``log``.
    """
    import torch

    history: list[dict[str, Any]] = []
    start, ema, done = time.perf_counter(), float("nan"), 0

    def record() -> dict[str, Any]:
        return {
            "step": done,
            "train_nll_ema": None if math.isnan(ema) else round(ema, 4),
            "val_nll": round(val_nll(), 4),
            "wall_s": round(time.perf_counter() - start, 1),
        }

    for step in range(steps):
        progress = max(step / steps, (time.perf_counter() - start) / max_wall_s)
        if progress >= 1.0:
            log(json.dumps({"stopped_early_at_step": step, "reason": "max_wall_s"}))
            break
        for group in opt.param_groups:
            group["lr"] = lr * lr_factor(progress, warmup_frac, steps)
        loss = step_loss()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        done = step + 1
        ema = loss.item() if math.isnan(ema) else 0.98 * ema + 0.02 * loss.item()
        if done % log_every == 0 or done == steps:
            history.append(record())
            log(json.dumps(history[-1]))
    if not history or history[-1]["step"] != done:
        history.append(record())
    return done, history, round(time.perf_counter() - start, 1)
