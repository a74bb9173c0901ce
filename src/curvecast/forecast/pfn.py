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

import math
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Curve
from curvecast.forecast._guard import observed_band
from curvecast.forecast._nn import (
    WeightsChecksumError,
    WeightsFileError,
    bar_quantiles,
    gelu,
    layer_norm,
    linear,
    read_checked,
)
from curvecast.forecast._pfn_input import MAX_CONTEXT_CURVES, Encoded, encode
from curvecast.forecast._result import GRID, Forecast

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

    @cached_property
    def params32(self) -> Mapping[str, NDArray[np.float32]]:
        """The weights in float32, which inference uses (half the memory traffic of float64;
        forecasts agree with float64 to about 1e-5 of the metric's scale)."""
        return {k: v.astype(np.float32) for k, v in self.params.items()}

    @property
    def n_layers(self) -> int:
        n = 0
        while f"layers.{n}.qkv.weight" in self.params:
            n += 1
        return n

    def logits(self, enc: Encoded) -> _F:
        """Bar logits for each query of ``enc``, shape ``(m, K)``."""
        return self.logits_many([enc])[0]

    def logits_many(self, encs: Sequence[Encoded], chunk: int = 32) -> list[_F]:
        """Bar logits for many requests, one array ``(m_i, K)`` per request.

        Requests are batched in chunks of ``chunk`` (similar lengths together) and run as one
        pass per chunk, packed into rows by :func:`_pack`: a short request shares a row with
        a long one where that costs fewer tokens than padding it to a row of its own (the
        ``stacked`` forecaster's curve alone beside the same curve with six context runs), and
        attention stays within a request. Queries attend to their request's observed tokens
        and to themselves only, so the cost grows linearly with the number of queries.
        """
        out: list[_F] = [np.empty((0, 0))] * len(encs)
        order = sorted(range(len(encs)), key=lambda i: encs[i].x_obs.shape[0])
        with one_blas_thread():
            for start in range(0, len(order), chunk):
                idx = order[start : start + chunk]
                for i, lg in zip(idx, self._forward([encs[i] for i in idx]), strict=True):
                    out[i] = lg.astype(np.float64)
        return out

    def _forward(self, encs: Sequence[Encoded]) -> list[NDArray[np.float32]]:
        p = self.params32
        rows = _pack([e.x_obs.shape[0] for e in encs])
        b = len(rows)
        n = max(sum(encs[i].x_obs.shape[0] for i in row) for row in rows)
        m = max(sum(encs[i].x_query.shape[0] for i in row) for row in rows)
        f32 = np.float32
        x_obs = np.zeros((b, n, encs[0].x_obs.shape[1]), dtype=f32)
        v_obs = np.zeros((b, n, encs[0].v_obs.shape[1]), dtype=f32)
        x_q = np.zeros((b, m, encs[0].x_query.shape[1]), dtype=f32)
        te_all = linear(np.stack([e.task for e in encs]).astype(f32), p, "task_enc")
        te_o = np.zeros((b, n, te_all.shape[1]), dtype=f32)
        te_q = np.zeros((b, m, te_all.shape[1]), dtype=f32)
        seg_o = np.full((b, n), -1, dtype=np.intp)  # which request a token is of; -1: padding
        seg_q = np.full((b, m), -2, dtype=np.intp)  # -2: padding queries see no token
        where: list[tuple[int, int, int]] = [(0, 0, 0)] * len(encs)  # (row, first query, m_i)
        for r, row in enumerate(rows):
            o = q = 0
            for i in row:
                e = encs[i]
                k, mi = e.x_obs.shape[0], e.x_query.shape[0]
                x_obs[r, o : o + k], v_obs[r, o : o + k] = e.x_obs, e.v_obs
                x_q[r, q : q + mi] = e.x_query
                te_o[r, o : o + k], te_q[r, q : q + mi] = te_all[i], te_all[i]
                seg_o[r, o : o + k], seg_q[r, q : q + mi] = i, i
                where[i] = (r, q, mi)
                o, q = o + k, q + mi
        # observed tokens and queries side by side (b, n + m, d): they share every layer but
        # attention, which split_attention keeps apart
        h = linear(gelu(linear(np.concatenate([x_obs, x_q], axis=1), p, "x_in")), p, "x_out")
        h[:, :n] += linear(gelu(linear(v_obs, p, "v_in")), p, "v_out") + te_o
        h[:, n:] += p["query"] + te_q
        # a token attends within its own request (padding among padding, never seen by others)
        mask_o = np.where(seg_o[:, :, None] == seg_o[:, None, :], f32(0.0), f32(-np.inf))
        mask_q = np.where(seg_q[:, :, None] == seg_o[:, None, :], f32(0.0), f32(-np.inf))
        mask_o, mask_q = mask_o[:, None], mask_q[:, None]  # (b, 1, n, n), (b, 1, m, n)
        for i in range(self.n_layers):
            name = f"layers.{i}"
            att = _split_attention(h, n, mask_o, mask_q, p, name, self.n_heads)
            h = layer_norm(h + att, p, f"{name}.norm1")
            h = layer_norm(h + linear(gelu(linear(h, p, f"{name}.ff1")), p, f"{name}.ff2"),
                           p, f"{name}.norm2")  # fmt: skip
        lg = linear(gelu(linear(h[:, n:], p, "decoder.hidden")), p, "decoder.out")
        return [lg[r, q : q + mi] for r, q, mi in where]


def _pack(lengths: Sequence[int]) -> list[list[int]]:
    """Requests (by their observed-token counts) packed into rows of one batch, longest first:
    each joins the row where the batch then costs the fewest tokens (rows x longest row), or
    opens a row of its own where that is cheaper. Requests of similar length get a row each
    (as padding would give them); a short one rides along with a long one."""
    rows: list[list[int]] = []
    size: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda j: -lengths[j]):
        k = lengths[i]
        top = max(size, default=0)
        best, cost = -1, (len(rows) + 1) * max(top, k)  # a new row
        for r, s in enumerate(size):
            c = len(rows) * max(top, s + k)
            if c < cost:
                best, cost = r, c
        if best < 0:
            rows.append([i])
            size.append(k)
        else:
            rows[best].append(i)
            size[best] += k
    return rows


def one_blas_thread() -> AbstractContextManager[object]:
    """A context in which BLAS runs on one thread.

    The network's matrices are small: split across threads that compete for the cores with
    the user's training (or with each other on a 2-core machine), each product waits on the
    slowest thread, and a 5 ms forecast took 400 ms. One thread is never much slower here.
    """
    ctl = _controller()
    return ctl.limit(limits=1, user_api="blas") if ctl is not None else nullcontext()


@lru_cache(maxsize=1)
def _controller() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # a core dependency; without it, BLAS keeps its own threads
        return None
    return ThreadpoolController()


def _split_attention(
    h: NDArray[Any],
    n: int,
    mask_o: NDArray[Any],
    mask_q: NDArray[Any],
    p: Mapping[str, NDArray[Any]],
    name: str,
    n_heads: int,
) -> NDArray[Any]:
    """Masked multi-head attention of ``h`` ``(b, n + m, d)``: its first ``n`` tokens are
    observed ones, which attend among themselves, and the other ``m`` are queries, each of
    which attends to the observed tokens and to itself. ``mask_o`` ``(b, 1, n, n)`` and
    ``mask_q`` ``(b, 1, m, n)`` are 0 where a token may attend to an observed one and -inf
    elsewhere (every observed token may attend to at least one). Returns the output projection,
    shape as ``h``."""
    b, nm, d = h.shape
    dh = d // n_heads
    qkv = linear(h, p, f"{name}.qkv").reshape(b, nm, 3, n_heads, dh).transpose(2, 0, 3, 1, 4)
    q_all, k_all, v_all = qkv  # each (b, heads, tokens, dh)
    qo, ko, vo = q_all[:, :, :n], k_all[:, :, :n], v_all[:, :, :n]
    qq, kq, vq = q_all[:, :, n:], k_all[:, :, n:], v_all[:, :, n:]
    scale = 1.0 / math.sqrt(dh)
    s_oo = qo @ ko.transpose(0, 1, 3, 2) * scale + mask_o
    s_oo -= s_oo.max(axis=-1, keepdims=True)
    w_oo = np.exp(s_oo)
    w_oo /= w_oo.sum(axis=-1, keepdims=True)
    s_qo = qq @ ko.transpose(0, 1, 3, 2) * scale + mask_q  # (b, heads, m, n)
    s_qq = np.sum(qq * kq, axis=-1, keepdims=True) * scale  # (b, heads, m, 1): itself
    top = np.maximum(s_qo.max(axis=-1, keepdims=True), s_qq)
    w_qo, w_qq = np.exp(s_qo - top), np.exp(s_qq - top)
    total = w_qo.sum(axis=-1, keepdims=True) + w_qq
    att = np.concatenate([w_oo @ vo, (w_qo @ vo + w_qq * vq) / total], axis=2)
    return linear(att.transpose(0, 2, 1, 3).reshape(b, nm, d), p, f"{name}.out")


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
        WeightsFileError: no readable file at ``path``, not a safetensors file, or not
            curvecast PFN weights of this version (a ValueError too).
        WeightsChecksumError: the file's sha256 differs from ``sha256``.
    """
    if path is None:
        path, sha256 = _bundled_path(), sha256 or WEIGHTS_SHA256
    path = Path(path)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise WeightsFileError(
            f"The PFN weights cannot be read from {str(path)!r} ({exc.strerror or exc}); give "
            "the path of a safetensors file written by `curvecast train`, or None for the "
            "bundled weights."
        ) from None
    return _load_cached(str(path), mtime, sha256)


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int, sha256: str | None) -> PFNModel:
    """Cached per file version (``mtime_ns``), so a retrained file is read again."""
    arrays, meta = read_checked(path, sha256, "The PFN weights", "curvecast train")
    if meta.get("format") != FORMAT or meta.get("input_version") != INPUT_VERSION:
        raise WeightsFileError(
            f"{path} is not curvecast PFN weights for this version (format "
            f"{meta.get('format')!r}, input {meta.get('input_version')!r}; expected {FORMAT!r}, "
            f"{INPUT_VERSION!r}). Retrain with `curvecast train`."
        )
    missing = [k for k in ("borders", "query", "decoder.out.weight") if k not in arrays]
    if missing or "n_heads" not in meta:
        raise WeightsFileError(
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
        WeightsFileError: the weights file is missing, corrupt or of another model.

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
        return self.forecast_batch([curve], [x_new], rngs=[rng], context=context)[0]

    def forecast_batch(
        self,
        curves: Sequence[Curve],
        x_news: Sequence[_F],
        *,
        rngs: Sequence[np.random.Generator] | None = None,
        context: Sequence[Curve] | Sequence[Sequence[Curve]] = (),
    ) -> list[Forecast]:
        """:meth:`forecast` for many curves in one batched forward pass.

        ``context`` is shared by all curves, or one sequence per curve (the calibration's
        leave-one-out forecasts give each curve its own). ``rngs`` is unused (deterministic).
        """
        # the network reads the furthest-reaching few context curves: pick them first, so that
        # a search of thousands of trials costs no more than one of six
        contexts = [_furthest(ctx) for ctx in _per_curve(context, len(curves))]
        encs, aheads = [], []
        for curve, x_new, ctx in zip(curves, x_news, contexts, strict=True):
            x, y = curve.observed_x, curve.observed_y
            ahead = np.asarray(x_new, dtype=np.float64) > x[-1]  # trained on later points only
            aheads.append(ahead)
            encs.append(
                encode(
                    x,
                    y,
                    np.asarray(x_new, dtype=np.float64)[ahead],
                    direction=curve.direction,
                    bounds=curve.bounds,
                    context=[(c.observed_x, c.observed_y) for c in ctx],
                )
            )
        model = self.model
        need = [i for i, a in enumerate(aheads) if a.any()]
        logits = model.logits_many([encs[i] for i in need]) if need else []
        out: list[Forecast] = []
        lg_of = dict(zip(need, logits, strict=True))
        for i, (curve, x_new) in enumerate(zip(curves, x_news, strict=True)):
            enc, ahead = encs[i], aheads[i]
            x_new = np.asarray(x_new, dtype=np.float64)
            values = np.empty((x_new.size, GRID.size))
            if i in lg_of:
                # quantiles of larger-is-better values at 1 - GRID are the metric's at GRID
                levels = GRID if enc.sign > 0 else 1.0 - GRID[::-1]
                zq = bar_quantiles(lg_of[i], model.borders, levels)
                values[ahead] = enc.denormalize(zq if enc.sign > 0 else zq[:, ::-1])
            if not ahead.all():
                values[~ahead] = observed_band(curve, x_new[~ahead])
            if curve.bounds is not None:  # the bars' tails reach past a bound; the metric cannot
                values = np.clip(values, *curve.bounds)
            info: dict[str, Any] = {"n_context_curves": enc.n_context, "scale": enc.scale}
            out.append(
                Forecast(x_new, values, direction=curve.direction, method=self.name, info=info)
            )
        return out


def _furthest(context: Sequence[Curve]) -> Sequence[Curve]:
    """The context curves :func:`encode` would read: the furthest-reaching ones with a finite
    point, in that order (ties keep their order)."""
    if len(context) <= MAX_CONTEXT_CURVES:
        return context
    with_points = [c for c in context if c.n_observed > 0]
    order = sorted(range(len(with_points)), key=lambda i: -float(with_points[i].observed_x[-1]))
    return [with_points[i] for i in order[:MAX_CONTEXT_CURVES]]


def _per_curve(
    context: Sequence[Curve] | Sequence[Sequence[Curve]], k: int
) -> list[Sequence[Curve]]:
    if context and not isinstance(context[0], Curve):
        per = list(context)
        if len(per) != k:
            raise ValueError(f"context: expected {k} sequences of curves, got {len(per)}")
        return per  # type: ignore[return-value]
    return [context] * k  # type: ignore[list-item]
