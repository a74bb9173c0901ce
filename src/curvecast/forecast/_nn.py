"""The NumPy side of curvecast's transformers: layers, the bar distribution, checked loading.

Shared by :mod:`curvecast.forecast.lcpfn` and :mod:`curvecast.forecast.pfn`; the torch modules
in :mod:`curvecast.train` use the same parameter names, so a state dict exported as safetensors
is read here without torch.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import erf, ndtri

from curvecast.exceptions import CurvecastError, MissingDependencyError

__all__ = [
    "HALFNORMAL_MEDIAN",
    "LAYER_NORM_EPS",
    "WeightsChecksumError",
    "WeightsFileError",
    "bar_quantiles",
    "read_checked",
]

#: Median of the standard half-normal: a tail bar's width is its half-normal's median.
HALFNORMAL_MEDIAN = float(ndtri(0.75))
LAYER_NORM_EPS = 1e-5


class WeightsChecksumError(CurvecastError, ValueError):
    """A weights file does not have the sha256 it must have (corrupt, truncated or replaced)."""


class WeightsFileError(CurvecastError, ValueError):
    """A weights file cannot be read: missing, not safetensors, corrupt, or of another model."""


def linear(h: NDArray[Any], p: Mapping[str, NDArray[Any]], name: str) -> NDArray[Any]:
    w = p[f"{name}.weight"]
    # 2-D operands go to BLAS; a batched (b, n, d) @ (d, k) product does not
    flat = h.reshape(-1, h.shape[-1]) @ w.T + p[f"{name}.bias"]
    out: NDArray[Any] = flat.reshape(*h.shape[:-1], w.shape[0])
    return out


def gelu(v: NDArray[Any]) -> NDArray[Any]:
    """GELU, exact: 0.5 v (1 + erf(v / sqrt 2)). In float32 (the PFN's inference) erf comes from
    Abramowitz & Stegun's 7.1.26 (absolute error below 1.5e-7, float32's own resolution),
    several times faster than scipy's erf, which is half of a forward pass's time."""
    if v.dtype != np.float32:
        out: NDArray[Any] = 0.5 * v * (1.0 + erf(v / math.sqrt(2.0)))
        return out
    z = np.abs(v) * _F32_INV_SQRT2
    t = 1.0 / (1.0 + _AS_P * z)
    y = _AS_A[4] * t
    for a in _AS_A[3::-1]:
        y += a
        y *= t
    y *= np.exp(-z * z)  # erfc(|v| / sqrt 2)
    s = np.sign(v)
    # erf(v / sqrt 2) = s (1 - y), so 1 + erf = 1 + s - s y
    y *= s
    s += 1.0
    s -= y
    s *= v
    s *= 0.5
    return s


_F32_INV_SQRT2 = np.float32(1.0 / math.sqrt(2.0))
_AS_P = np.float32(0.3275911)
_AS_A = tuple(
    np.float32(a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
)


def layer_norm(h: NDArray[Any], p: Mapping[str, NDArray[Any]], name: str) -> NDArray[Any]:
    c = h - h.mean(axis=-1, keepdims=True)
    var = np.einsum("...i,...i->...", c, c)[..., None] / h.shape[-1]
    c *= 1.0 / np.sqrt(var + LAYER_NORM_EPS)
    c *= p[f"{name}.weight"]
    c += p[f"{name}.bias"]
    return c


def attention(
    h: NDArray[np.float64],
    allowed: NDArray[np.bool_],
    p: Mapping[str, NDArray[np.float64]],
    name: str,
    n_heads: int,
) -> NDArray[np.float64]:
    """Masked multi-head self-attention; ``h`` shape ``(L, d)``, ``allowed`` shape ``(L, L)``."""
    n, d = h.shape
    dh = d // n_heads
    qkv = linear(h, p, f"{name}.qkv").reshape(n, 3, n_heads, dh).transpose(1, 2, 0, 3)
    q, k, v = qkv[0], qkv[1], qkv[2]  # (heads, L, dh)
    scores = q @ k.transpose(0, 2, 1) / math.sqrt(dh)
    scores = np.where(allowed[None], scores, -np.inf)
    scores -= scores.max(axis=-1, keepdims=True)
    w = np.exp(scores)
    w /= w.sum(axis=-1, keepdims=True)
    att = (w @ v).transpose(1, 0, 2).reshape(n, d)
    return linear(att, p, f"{name}.out")


def bar_quantiles(
    logits: NDArray[np.float64], borders: NDArray[np.float64], levels: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Quantiles of LC-PFN's full-support bar distribution.

    Args:
        logits: shape ``(m, K)``.
        borders: shape ``(K + 1,)``, strictly increasing.
        levels: shape ``(L,)`` in (0, 1).

    Returns:
        shape ``(m, L)``, non-decreasing along the levels. Inner bars have uniform density (the
        CDF is linear between borders); bar 0 is a half-normal extending down from
        ``borders[1]`` and bar ``K - 1`` one extending up from ``borders[K - 1]``, each with its
        median at the bar's width. All rows at once (no loop over rows).
    """
    m = logits.shape[0]
    z = logits - logits.max(axis=-1, keepdims=True)
    prob = np.exp(z)
    prob /= prob.sum(axis=-1, keepdims=True)
    widths = np.diff(borders)
    s_lo, s_hi = widths[0] / HALFNORMAL_MEDIAN, widths[-1] / HALFNORMAL_MEDIAN
    cdf = np.cumsum(prob, axis=-1)[:, :-1]  # CDF at borders[1..K-1], shape (m, K - 1)
    inner = borders[1:-1]
    # one searchsorted for every row: rows are offset by 2 so that they never interleave
    offset = 2.0 * np.arange(m)[:, None]
    flat = np.maximum.accumulate(cdf, axis=1) + offset
    target = levels[None, :] + offset
    idx = np.searchsorted(flat.ravel(), target.ravel(), side="right").reshape(m, -1)
    idx -= (np.arange(m) * cdf.shape[1])[:, None]
    k1 = np.clip(idx, 1, cdf.shape[1] - 1)
    c0 = np.take_along_axis(cdf, k1 - 1, axis=1)
    c1 = np.take_along_axis(cdf, k1, axis=1)
    frac = np.clip((levels[None, :] - c0) / np.maximum(c1 - c0, 1e-300), 0.0, 1.0)
    out = inner[k1 - 1] + frac * (inner[k1] - inner[k1 - 1])
    p_lo, p_hi = prob[:, :1], prob[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        lo_vals = borders[1] - s_lo * ndtri(1.0 - levels[None, :] / (2.0 * p_lo))
        r = np.clip((levels[None, :] - (1.0 - p_hi)) / p_hi, 0.0, 1.0 - 1e-12)
        hi_vals = borders[-2] + s_hi * ndtri((1.0 + r) / 2.0)
    out = np.where(levels[None, :] < p_lo, lo_vals, out)
    out = np.where(levels[None, :] > 1.0 - p_hi, hi_vals, out)
    return np.maximum.accumulate(out, axis=1)


def header_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file (8-byte little-endian length, then JSON)."""
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    meta = header.get("__metadata__") or {}
    return {str(k): str(v) for k, v in meta.items()}


def read_checked(
    path: str | Path, sha256: str | None, what: str, retrain: str
) -> tuple[dict[str, NDArray[np.float64]], dict[str, str]]:
    """The float64 arrays and metadata of a safetensors file whose sha256 is checked first.

    Args:
        path: the file.
        sha256: the hex digest it must have; None skips the check.
        what: the weights' name for messages ("The LC-PFN weights").
        retrain: the command that makes a new file, for the checksum message.

    Raises:
        MissingDependencyError: ``safetensors`` is not installed.
        WeightsFileError: no readable file at ``path``, or not a safetensors file.
        WeightsChecksumError: the digest differs.
    """
    try:
        from safetensors.numpy import load as st_load
    except ImportError as exc:
        raise MissingDependencyError(
            f"{what} are read with safetensors. Install it: pip install safetensors "
            "(a core dependency of curvecast)"
        ) from exc
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise WeightsFileError(
            f"{what} cannot be read from {str(path)!r} ({exc.strerror or exc}); give the path "
            f"of a safetensors file written by `{retrain}`."
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if sha256 is not None and digest != sha256.lower():
        raise WeightsChecksumError(
            f"{what} at {path} have sha256 {digest}, expected {sha256}. The file is corrupt or "
            f"was replaced: reinstall curvecast, or retrain with `{retrain}` and pass "
            "sha256=None for your own file."
        )
    try:  # safetensors raises its own SafetensorError; the header is JSON
        arrays = {k: np.asarray(v, dtype=np.float64) for k, v in st_load(data).items()}
        meta = header_metadata(data)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise WeightsFileError(
            f"{what} at {path} are not a readable safetensors file ({type(exc).__name__}: "
            f"{first}). The file is corrupt, truncated or of another format: reinstall "
            f"curvecast, or write it again with `{retrain}`."
        ) from None
    for a in arrays.values():
        a.setflags(write=False)
    return arrays, meta
