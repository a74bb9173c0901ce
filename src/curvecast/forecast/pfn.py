"""``pfn``: curvecast's own prior-data fitted network, inference in NumPy (no torch).

A transformer trained by :mod:`curvecast.train.pfn` on synthetic searches from
:mod:`curvecast.prior` gives, in one forward pass, the posterior predictive of a curve's later
values: any direction, scale, axis and horizon, 1 to thousands of observed points, and the other
trials of the search as ``context`` when given. How a curve is turned into the network's input is
in :mod:`curvecast.forecast._pfn_input`; the shipped weights and how they were trained and
measured are in ``weights/pfn.json`` and ``weights/pfn.md`` (the model card).

The network
-----------
- Observed tokens: ``MLP_x(axis features) + MLP_v(value features) + Linear(task features)``;
  query tokens: ``MLP_x(axis features) + q + Linear(task features)``, with ``MLP(v) =
  Linear(GELU(Linear(v)))``.
- A post-norm transformer encoder; observed tokens attend to observed tokens, each query to the
  observed tokens and itself, so queries are independent and any number can be asked.
- A decoder ``Linear -> GELU -> Linear`` gives logits over bars with half-normal tails (the
  bar distribution of LC-PFN), in the normalised units of the request; quantiles map back to the
  metric's units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

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
from curvecast.forecast._pfn_input import Encoded, encode
from curvecast.forecast._result import GRID, Forecast
from curvecast.forecast._util import noise_scale

__all__ = [
    "FORMAT",
    "INPUT_VERSION",
    "PFNForecaster",
    "PFNModel",
    "WeightsChecksumError",
    "load_model",
]

_F = NDArray[np.float64]
#: Weights format written by :func:`curvecast.train.pfn.export`.
FORMAT = "curvecast-pfn-v1"
#: Version of the input encoding of :mod:`curvecast.forecast._pfn_input` the weights expect.
INPUT_VERSION = "1"
#: sha256 of the bundled ``weights/pfn.safetensors``; a mismatch stops loading.
WEIGHTS_SHA256 = "8055f2e3a237a483eecb8c5b175f56509da24e6b9e1bc2a153465924b89146be"


@dataclass(frozen=True)
class PFNModel:
    """PFN weights as NumPy arrays, with the forward pass.

    Attributes:
        params: name -> array, the names :func:`curvecast.train.pfn.export` writes.
        n_heads: attention heads (the other sizes are read from the array shapes).
        borders: bar borders, shape ``(K + 1,)``, strictly increasing, in normalised units.
        meta: the file's metadata.
    """

    params: Mapping[str, _F]
    n_heads: int
    borders: _F
    meta: Mapping[str, str]

    @property
    def n_layers(self) -> int:
        n = 0
        while f"layers.{n}.qkv.weight" in self.params:
            n += 1
        return n

    def logits(self, enc: Encoded) -> _F:
        """Bar logits for each query of ``enc``, shape ``(m, K)``."""
        p = self.params
        te = linear(enc.task[None], p, "task_enc")
        h_obs = linear(gelu(linear(enc.x_obs, p, "x_in")), p, "x_out")
        h_obs = h_obs + linear(gelu(linear(enc.v_obs, p, "v_in")), p, "v_out") + te
        h_q = linear(gelu(linear(enc.x_query, p, "x_in")), p, "x_out") + p["query"] + te
        n = h_obs.shape[0]
        h = np.concatenate([h_obs, h_q])
        allowed = np.zeros((h.shape[0], h.shape[0]), dtype=bool)
        allowed[:, :n] = True
        idx = np.arange(n, h.shape[0])
        allowed[idx, idx] = True
        for i in range(self.n_layers):
            name = f"layers.{i}"
            h = layer_norm(h + attention(h, allowed, p, name, self.n_heads), p, f"{name}.norm1")
            ff = linear(gelu(linear(h, p, f"{name}.ff1")), p, f"{name}.ff2")
            h = layer_norm(h + ff, p, f"{name}.norm2")
        return linear(gelu(linear(h[n:], p, "decoder.hidden")), p, "decoder.out")


def _bundled_path() -> Path:
    return Path(str(resources.files("curvecast.forecast").joinpath("weights/pfn.safetensors")))


def load_model(path: str | Path | None = None, sha256: str | None = None) -> PFNModel:
    """Load PFN weights from a safetensors file, verifying its sha256 first.

    Args:
        path: the file; None for the weights bundled with curvecast.
        sha256: the digest the file must have (hex); defaults to the bundled file's digest when
            ``path`` is None and to no check for your own file (safetensors holds no code).

    Raises:
        MissingDependencyError: ``safetensors`` is not installed.
        FileNotFoundError: no file at ``path``.
        WeightsChecksumError: the file's sha256 differs from ``sha256``.
        ValueError: the file is not curvecast PFN weights of this version.
    """
    if path is None:
        path, sha256 = _bundled_path(), sha256 or WEIGHTS_SHA256
    path = Path(path)
    return _load_cached(str(path), path.stat().st_mtime_ns, sha256)


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int, sha256: str | None) -> PFNModel:
    """Cached per file version (``mtime_ns``), so a retrained file is read again."""
    arrays, meta = read_checked(path, sha256, "The PFN weights", "curvecast train")
    if meta.get("format") != FORMAT or meta.get("input_version") != INPUT_VERSION:
        raise ValueError(
            f"{path} is not curvecast PFN weights for this version (format "
            f"{meta.get('format')!r}, input {meta.get('input_version')!r}; expected {FORMAT!r}, "
            f"{INPUT_VERSION!r}). Retrain with `curvecast train`."
        )
    missing = [k for k in ("borders", "query", "decoder.out.weight") if k not in arrays]
    if missing or "n_heads" not in meta:
        raise ValueError(
            f"{path} lacks {missing or ['n_heads metadata']}: it is not a complete curvecast PFN "
            "weights file. Retrain with `curvecast train`."
        )
    borders = arrays.pop("borders")
    return PFNModel(params=arrays, n_heads=int(meta["n_heads"]), borders=borders, meta=meta)


class PFNForecaster:
    """The curvecast PFN: a forecast of the rest of a curve in one forward pass.

    Args:
        weights: a safetensors file written by ``curvecast train``; None for the bundled one.
        sha256: the digest ``weights`` must have; the bundled file is always checked against
            :data:`WEIGHTS_SHA256`, your own file only when you pass one.

    Deterministic (``rng`` is accepted for the protocol and unused). ``context``: other curves of
    the same search (same metric and axis); the furthest-reaching ``MAX_CONTEXT_CURVES`` (6) are
    read. Points of ``x_new`` up to the last observed ``x`` are answered from the observed curve
    (interpolated, with a band of its noise); the network forecasts the later ones. The weights
    load on the first forecast.

    Raises (on the first forecast):
        MissingDependencyError: ``safetensors`` is missing.
        WeightsChecksumError: the weights file is not the one expected.

    Example:
        >>> import numpy as np
        >>> from curvecast import Curve
        >>> curve = Curve(np.arange(1, 11), 0.8 - 0.5 / np.arange(1, 11) ** 0.7, bounds=(0, 1))
        >>> f = PFNForecaster().forecast(curve, np.array([50.0]), rng=np.random.default_rng(0))
        >>> bool(f.median[0] > curve.y[-1] - 0.05)
        True
    """

    name = "pfn"

    def __init__(self, weights: str | Path | None = None, sha256: str | None = None) -> None:
        self._path = weights
        self._sha256 = sha256

    @property
    def model(self) -> PFNModel:
        """The loaded model (loads and verifies the weights on first access)."""
        return load_model(self._path, self._sha256)

    def forecast(
        self,
        curve: Curve,
        x_new: _F,
        *,
        rng: np.random.Generator,
        context: Sequence[Curve] = (),
    ) -> Forecast:
        model = self.model
        x, y = curve.observed_x, curve.observed_y
        x_new = np.asarray(x_new, dtype=np.float64)
        ahead = x_new > x[-1]  # the network was trained on later points only
        enc = encode(
            x,
            y,
            x_new[ahead],
            direction=curve.direction,
            bounds=curve.bounds,
            context=[(c.observed_x, c.observed_y) for c in context],
        )
        values = np.empty((x_new.size, GRID.size))
        if ahead.any():
            # quantiles of larger-is-better values at 1 - GRID are the metric's at GRID
            levels = GRID if enc.sign > 0 else 1.0 - GRID[::-1]
            zq = bar_quantiles(model.logits(enc), model.borders, levels)
            values[ahead] = enc.denormalize(zq if enc.sign > 0 else zq[:, ::-1])
        if not ahead.all():
            values[~ahead] = _within(x, y, x_new[~ahead], enc.scale)
        if curve.bounds is not None:  # the bars' tails reach past a bound; the metric cannot
            values = np.clip(values, *curve.bounds)
        info: dict[str, Any] = {"n_context_curves": enc.n_context, "scale": enc.scale}
        return Forecast(x_new, values, direction=curve.direction, method=self.name, info=info)


def _within(x: _F, y: _F, x_new: _F, scale: float) -> _F:
    """Quantiles at points inside the observed range: the observed curve (interpolated) with
    a normal band of the observation noise; shape ``(len(x_new), len(GRID))``."""
    sd = noise_scale(y)
    if sd is None or not sd > 0:
        sd = 0.1 * scale
    return np.asarray(np.interp(x_new, x, y)[:, None] + sd * ndtri(GRID)[None, :])
