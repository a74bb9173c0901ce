"""``lcpfn``: the LC-PFN baseline (Adriaensen et al., NeurIPS 2023), inference in NumPy.

LC-PFN is a transformer trained on curves drawn from a prior; one forward pass gives the posterior
predictive of a curve's later values. The published weights cannot be obtained here, so curvecast
ships its own, trained by :mod:`curvecast.train.lcpfn` on LC-PFN's prior with LC-PFN's
architecture at a smaller, stated budget (see ``weights/lcpfn.json``). This module needs NumPy,
SciPy and ``safetensors``; never torch.

The model (what the weights file holds)
---------------------------------------
- Inputs: epochs ``t`` in 1..100 and values ``z`` in [0, 1] of an increasing curve. ``t`` is
  encoded as ``Linear(1, d)((t / 101 - 0.5) / sqrt(1/12))`` and ``z`` as
  ``Linear(1, d)((z - 0.5) / sqrt(1/12))``. A context token is the sum of both encodings, a query
  token the encoding of its ``t`` alone.
- A post-norm transformer encoder (LayerNorm after each residual, GELU feed-forward, no dropout).
  The PFN attention mask: context tokens attend to all context tokens; each query token attends to
  the context tokens and to itself only, so queries are independent of each other.
- A decoder ``Linear(d, d_ff) -> GELU -> Linear(d_ff, K)`` gives logits over ``K`` bars whose
  borders (``K + 1``, equal-mass quantiles of the prior's values) are stored with the weights. The
  bars form LC-PFN's "full support" bar distribution: uniform density inside each inner bar and
  half-normal tails in the outermost two, each half-normal's median at its bar's width.

Mapping a real curve to LC-PFN's input space (part of the baseline, with its weaknesses)
---------------------------------------------------------------------------------------
- ``x``: the horizon ``H = max(x_new[-1], last observed x)`` maps to epoch 100 and every point to
  its proportional epoch ``t = 100 * x / H``. The prior only ever showed dense integer epochs
  1, 2, ..., k as context, so curves observed on sparse or log-spaced axes (LCDB's training-set
  sizes) are out of distribution: points near ``x = 0`` land at ``t < 1``.
- At most 99 context points are used (the largest context seen in training): longer curves are
  thinned to 99 points spread evenly by index, the first and last kept.
- ``y``, both bounds finite: the bounded range maps linearly onto [0, 1] (a [0, 1] accuracy is fed
  as is; a percent accuracy is divided by 100), flipped (``z = (hi - y) / (hi - lo)``) when
  minimising; forecasts are clipped to the bounds (the bar distribution's tails reach past
  [0, 1], as the prior's noisy values do). A curve crowded near its bound (accuracy 0.95 to
  0.97) is fed unchanged and gets LC-PFN's own answer.
- ``y``, some side open (losses): the squashing normaliser that the lcpfn package ships
  (``pfn_normalize``), re-derived: in "larger is better" space ``s`` (``-y`` when minimising) the
  observed range ``[min s, max s]`` maps linearly onto [-1, 1], then a logistic squashes it and
  an affine map sends the finite bound (if any) to exactly 0 or 1:
  ``z = (sigmoid(u) - sigmoid(u_lo)) / (sigmoid(u_hi) - sigmoid(u_lo))`` with open sides at
  ``sigmoid = 0`` or ``1``. An unbounded loss's observed range thus lands on about [0.27, 0.73]:
  LC-PFN sees room to improve as much again as it has, and its forecast is mapped back through
  the inverse. A constant or one-point curve gets a range of ``value_scale`` around its value.

Known weaknesses kept on purpose: the prior has no divergence, no plateaus followed by drops
(learning-rate schedules), no decreasing phases; and every curve is forced onto 100 epochs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, logit

from curvecast.curves import Curve
from curvecast.forecast._nn import (
    WeightsChecksumError,
    attention,
    bar_quantiles,
    gelu,
    layer_norm,
    linear,
    read_checked,
)
from curvecast.forecast._result import GRID, Forecast
from curvecast.forecast._util import value_scale

__all__ = [
    "HORIZON",
    "MAX_CONTEXT",
    "WEIGHTS_SHA256",
    "LCPFNForecaster",
    "LCPFNModel",
    "WeightsChecksumError",
    "bar_quantiles",
    "load_model",
]

#: Number of epochs of every prior curve; a real curve's horizon maps to this epoch.
HORIZON = 100
#: The largest context the model saw in training (single_eval_pos in 1..HORIZON-1).
MAX_CONTEXT = HORIZON - 1
#: Input encoding constants, shared with the trainer: t -> (t / X_SCALE - 0.5) / UNIFORM_STD.
X_SCALE = 101.0
UNIFORM_STD = math.sqrt(1.0 / 12.0)
#: Weights format written by :func:`curvecast.train.lcpfn.export_safetensors`.
FORMAT = "curvecast-lcpfn-v1"

#: sha256 of the bundled ``weights/lcpfn.safetensors``; a mismatch stops loading.
WEIGHTS_SHA256 = "e9e4cce5e1a024254a7b6ff7c7e1ed9b9310aa41f0ac50b6bffe0d803450539b"


@dataclass(frozen=True)
class LCPFNModel:
    """LC-PFN weights as NumPy arrays, with the forward pass.

    Attributes:
        params: name -> array, the names :func:`curvecast.train.lcpfn.export_safetensors` writes.
        n_heads: attention heads. ``d_model``, ``n_layers``, ``d_ff`` and the number of bars are
            read from the array shapes.
        borders: bar borders, shape ``(K + 1,)``, strictly increasing.
        meta: the file's metadata (format, training budget).
    """

    params: Mapping[str, NDArray[np.float64]]
    n_heads: int
    borders: NDArray[np.float64]
    meta: Mapping[str, str]

    @property
    def n_layers(self) -> int:
        n = 0
        while f"layers.{n}.qkv.weight" in self.params:
            n += 1
        return n

    @property
    def d_model(self) -> int:
        return int(self.params["x_encoder.weight"].shape[0])

    def logits(
        self, t_ctx: NDArray[np.float64], z_ctx: NDArray[np.float64], t_query: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Bar logits for each query, shape ``(m, K)``.

        Args:
            t_ctx: context epochs, shape ``(k,)``, ``k >= 1`` (on LC-PFN's 1..100 scale).
            z_ctx: context values in LC-PFN's [0, 1] space, shape ``(k,)``.
            t_query: query epochs, shape ``(m,)``.
        """
        p = self.params
        ex = linear(
            ((np.concatenate([t_ctx, t_query]) / X_SCALE - 0.5) / UNIFORM_STD)[:, None],
            p,
            "x_encoder",
        )
        ey = linear(((z_ctx - 0.5) / UNIFORM_STD)[:, None], p, "y_encoder")
        k = t_ctx.size
        h = ex.copy()
        h[:k] += ey
        allowed = np.zeros((h.shape[0], h.shape[0]), dtype=bool)
        allowed[:, :k] = True
        allowed[np.arange(k, h.shape[0]), np.arange(k, h.shape[0])] = True
        for i in range(self.n_layers):
            h = layer_norm(
                h + attention(h, allowed, p, f"layers.{i}", self.n_heads), p, f"layers.{i}.norm1"
            )
            ff = linear(gelu(linear(h, p, f"layers.{i}.ff1")), p, f"layers.{i}.ff2")
            h = layer_norm(h + ff, p, f"layers.{i}.norm2")
        out = linear(gelu(linear(h[k:], p, "decoder.hidden")), p, "decoder.out")
        return out

    def grid_quantiles(
        self, t_ctx: NDArray[np.float64], z_ctx: NDArray[np.float64], t_query: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """The predictive quantiles at :data:`GRID` in LC-PFN's space, shape ``(m, len(GRID))``."""
        return bar_quantiles(self.logits(t_ctx, z_ctx, t_query), self.borders, GRID)


# -- loading ------------------------------------------------------------------------------------
def _bundled_path() -> Path:
    return Path(str(resources.files("curvecast.forecast").joinpath("weights/lcpfn.safetensors")))


def load_model(path: str | Path | None = None, sha256: str | None = WEIGHTS_SHA256) -> LCPFNModel:
    """Load LC-PFN weights from a safetensors file, verifying its sha256 first.

    Args:
        path: the file; None for the weights bundled with curvecast.
        sha256: the digest the file must have (hex); None skips the check (for weights you
            trained yourself: safetensors holds no code, so an unchecked file cannot run any).

    Raises:
        MissingDependencyError: ``safetensors`` is not installed.
        FileNotFoundError: no file at ``path``.
        WeightsChecksumError: the file's sha256 differs from ``sha256``.
        ValueError: the file is not in curvecast's LC-PFN format.
    """
    return _load_cached(str(_bundled_path() if path is None else Path(path)), sha256)


@lru_cache(maxsize=4)
def _load_cached(path: str, sha256: str | None) -> LCPFNModel:
    arrays, meta = read_checked(
        path, sha256, "The LC-PFN weights", "python -m curvecast.train.lcpfn"
    )
    if meta.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not a curvecast LC-PFN weights file (format {meta.get('format')!r}, "
            f"expected {FORMAT!r})."
        )
    borders = arrays.pop("borders")
    return LCPFNModel(params=arrays, n_heads=int(meta["n_heads"]), borders=borders, meta=meta)


# -- the forecaster -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _YMap:
    """Monotone map of a curve's values to LC-PFN's [0, 1] "larger is better" space."""

    flip: bool  # minimising: s = -y
    linear: bool  # both bounds finite: z = (s - s_lo) / (s_hi - s_lo)
    s_lo: float  # linear: the bounds in s-space; else the lower bound (maybe -inf)
    s_hi: float
    soft_lo: float = 0.0  # squashing: observed range in s-space, mapped to [-1, 1]
    soft_hi: float = 1.0

    def _u(self, s: NDArray[np.float64] | float) -> NDArray[np.float64]:
        return np.asarray(
            2.0 * (np.asarray(s) - self.soft_lo) / (self.soft_hi - self.soft_lo) - 1.0
        )

    def _sig_bounds(self) -> tuple[float, float]:
        lo = 0.0 if math.isinf(self.s_lo) else float(expit(self._u(self.s_lo)))
        hi = 1.0 if math.isinf(self.s_hi) else float(expit(self._u(self.s_hi)))
        return lo, hi

    def forward(self, y: NDArray[np.float64]) -> NDArray[np.float64]:
        s = np.clip(-y if self.flip else y, self.s_lo, self.s_hi)
        if self.linear:
            return np.asarray((s - self.s_lo) / (self.s_hi - self.s_lo))
        lo, hi = self._sig_bounds()
        return np.asarray((expit(self._u(s)) - lo) / (hi - lo))

    def inverse(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.linear:  # the bar distribution's tails reach past [0, 1]: keep to the bounds
            s = self.s_lo + np.clip(z, 0.0, 1.0) * (self.s_hi - self.s_lo)
        else:
            lo, hi = self._sig_bounds()
            sig = np.clip(lo + z * (hi - lo), max(lo, 1e-12), min(hi, 1.0 - 1e-12))
            u = logit(sig)
            s = self.soft_lo + (u + 1.0) / 2.0 * (self.soft_hi - self.soft_lo)
        return np.asarray(-s if self.flip else s)


def _y_map(curve: Curve) -> _YMap:
    flip = curve.direction == "minimize"
    lo, hi = curve.bounds if curve.bounds is not None else (-math.inf, math.inf)
    s_lo, s_hi = (-hi, -lo) if flip else (lo, hi)
    if math.isfinite(s_lo) and math.isfinite(s_hi):
        return _YMap(flip=flip, linear=True, s_lo=s_lo, s_hi=s_hi)
    s = np.clip(-curve.observed_y if flip else curve.observed_y, s_lo, s_hi)
    soft_lo, soft_hi = float(s.min()), float(s.max())
    if not soft_hi > soft_lo:
        half = 0.5 * value_scale(curve)
        soft_lo, soft_hi = soft_lo - half, soft_hi + half
    soft_lo, soft_hi = max(soft_lo, s_lo), min(soft_hi, s_hi)
    return _YMap(flip=flip, linear=False, s_lo=s_lo, s_hi=s_hi, soft_lo=soft_lo, soft_hi=soft_hi)


def _thin(n: int) -> NDArray[np.intp]:
    """Indices of at most :data:`MAX_CONTEXT` points out of ``n``, spread evenly, ends kept."""
    if n <= MAX_CONTEXT:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, MAX_CONTEXT)).astype(np.intp))


class LCPFNForecaster:
    """LC-PFN: the posterior predictive of a prior-trained transformer, in one forward pass.

    Args:
        weights: a safetensors file written by :mod:`curvecast.train.lcpfn`; None for the
            bundled weights.
        sha256: the digest ``weights`` must have; defaults to the bundled file's when
            ``weights`` is None, and to no check for a file of your own.

    The forecast is deterministic: ``rng`` is accepted for the protocol and not used. ``context``
    is ignored (LC-PFN conditions on one curve). The weights load on the first forecast.

    Raises (on the first forecast):
        MissingDependencyError: ``safetensors`` is missing (``pip install safetensors``).
        WeightsChecksumError: the weights file is not the one expected.

    Example:
        >>> import numpy as np
        >>> from curvecast import Curve
        >>> curve = Curve(np.arange(1, 11), 0.8 - 0.5 / np.arange(1, 11) ** 0.7, bounds=(0, 1))
        >>> f = LCPFNForecaster().forecast(curve, np.array([50.0]), rng=np.random.default_rng(0))
        >>> bool(f.median[0] > curve.y[0])
        True
    """

    name = "lcpfn"

    def __init__(self, weights: str | Path | None = None, sha256: str | None = None) -> None:
        self._path = weights
        self._sha256 = WEIGHTS_SHA256 if weights is None and sha256 is None else sha256

    @property
    def model(self) -> LCPFNModel:
        """The loaded model (loads and verifies the weights on first access)."""
        return load_model(self._path, self._sha256)

    def forecast(
        self,
        curve: Curve,
        x_new: NDArray[np.float64],
        *,
        rng: np.random.Generator,
        context: Sequence[Curve] = (),
    ) -> Forecast:
        model = self.model
        x, y = curve.observed_x, curve.observed_y
        keep = _thin(x.size)
        x, y = x[keep], y[keep]
        horizon = max(float(x_new[-1]), float(x[-1]))
        if horizon <= 0.0:
            horizon = 1.0
        ymap = _y_map(curve)
        t_ctx = HORIZON * x / horizon
        t_query = HORIZON * np.asarray(x_new, dtype=np.float64) / horizon
        zq = model.grid_quantiles(t_ctx, ymap.forward(y), t_query)
        grid_values = ymap.inverse(zq)
        if ymap.flip:  # a decreasing map reverses the levels; GRID is symmetric around 0.5
            grid_values = grid_values[:, ::-1]
        info: dict[str, Any] = {"horizon": horizon, "n_context": int(keep.size)}
        return Forecast(x_new, grid_values, direction=curve.direction, method=self.name, info=info)
