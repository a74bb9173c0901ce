"""Pieces both trainers share: the post-norm transformer layer, the schedule, run facts.

torch is imported inside the functions, so that importing :mod:`curvecast.train` stays free of it.
"""

from __future__ import annotations

import math
import platform
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["device_name", "lr_factor", "post_norm_layer"]


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
