"""The sampler of the synthetic prior: tasks of curves that look like the trials of one search.

A task is one search: 1 to K curves that share an x grid (its kind and its points), a metric
(direction, bounds, scale) and a shape with per-curve variation. Each curve has a latent
*config quality* ``z`` in [0, 1]; its final level grows with ``z``, so the curves of a task rank
alike and a network can read the other trials of a search as context (FT-PFN in ifBO).

Pipeline of one task, every draw from the ``rng`` argument:

1. sizes and kinds: ``k`` curves, ``n`` points (log-uniform), a grid kind (linear: epochs or
   steps; geometric: training-set sizes or tokens; irregular: uneven evaluation times), a metric
   kind and a shape, each with the probabilities of :class:`PriorConfig`;
2. clean quality ``(k, n)`` in [0, 1] from :mod:`curvecast.prior._shapes` on ``t = x / x[-1]``,
   stretched between a start level shared by the task and a final level set by ``z``;
3. noise in quality units: heteroscedastic (larger early, where the curve moves), Gaussian or
   Student-t (heavy tails), with rare outliers, mostly on the worse side;
4. the metric mapping: accuracy ``floor + (ceiling - floor) q`` (maximise, bounds (0, 1)), error
   rate ``1 - accuracy`` (minimise, (0, 1)), loss ``a + b (1 - q)`` with ``b`` log-uniform in
   0.01..10 (minimise, (0, inf)), perplexity ``exp(a + b (1 - q))`` (minimise, (1, inf));
5. divergence, for a fraction ``divergence_rate`` of the curves: from a random point on, ``y`` is
   NaN (bounded metrics), +inf, or explodes past 1e12, so ``Curve.diverged`` is True.

Each curve's ``meta``: ``shape``, ``clean`` (the noise-free metric, length ``n``; a diverged curve's
values are those it would have had), ``diverged_at`` (the x where it diverged, or None),
``config_quality`` (``z``), ``metric``, ``grid`` and ``n_context``: how many leading points a
forecaster should see, drawn so that the horizon ``x[-1]`` is 1.2x to 100x the last of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Curve
from curvecast.exceptions import parameter_error
from curvecast.prior._shapes import SHAPE_NAMES, draw_params, quality

__all__ = ["GRID_KINDS", "METRIC_KINDS", "PriorConfig", "sample_task", "sample_tasks"]

_F = NDArray[np.float64]
GRID_KINDS: tuple[str, ...] = ("linear", "geometric", "irregular")
METRIC_KINDS: tuple[str, ...] = ("accuracy", "error_rate", "loss", "perplexity")
_OWNER = "PriorConfig"


def _default_shapes() -> Mapping[str, float]:
    # Domhan's 11 families share about half the mass; the six others 2.25 each, except sigmoid
    # and slow_start (1.0 each): real searches rank by quality early, and those two shapes
    # delay every curve's progress alike (docs/prior/README.md).
    weak = {"sigmoid", "slow_start"}
    return {name: (1.0 if i < 11 or name in weak else 2.25) for i, name in enumerate(SHAPE_NAMES)}


def _default_metrics() -> Mapping[str, float]:
    return {"accuracy": 0.3, "error_rate": 0.2, "loss": 0.35, "perplexity": 0.15}


def _default_grids() -> Mapping[str, float]:
    return {"linear": 0.5, "geometric": 0.25, "irregular": 0.25}


@dataclass(frozen=True)
class PriorConfig:
    """The knobs of the prior; every default below is what :func:`sample_task` uses.

    Attributes:
        shape_weights: relative weight of each shape (names in ``SHAPE_NAMES``; a missing name
            has weight 0). Default: Domhan's families, sigmoid and slow_start 1 each, the
            other four 2.25.
        metric_weights: relative weight of "accuracy", "error_rate", "loss", "perplexity".
            Default 0.3, 0.2, 0.35, 0.15.
        grid_weights: relative weight of "linear", "geometric", "irregular". Default 0.5, 0.25,
            0.25.
        n_points: (min, max) points per curve, drawn log-uniformly. Default (2, 1000).
        curves_per_task: (min, max) curves per task, drawn uniformly. Default (1, 16).
        horizon_ratio: (min, max) of ``x[-1] / x[n_context - 1]``, log-uniform. Default (1.2, 100).
        noise: (min, max) noise scale in quality units (the whole curve's range is about 1),
            log-uniform per task. Default (0.0003, 0.02).
        heavy_tail_prob: probability that a task's noise is Student-t (df 1.5..5). Default 0.3.
        outlier_rate: probability that a point is an outlier. Default 0.002.
        divergence_rate: probability that a curve diverges. Default 0.03.
        jitter: per-curve spread of the shape parameters around the task's, as a fraction of
            each parameter's range. Default 0.15.

    Raises:
        InvalidParameterError: a field is out of range; the message names it.

    Example:
        >>> import numpy as np
        >>> task = sample_task(np.random.default_rng(0), PriorConfig(curves_per_task=(3, 3)))
        >>> len(task), task[0].meta["shape"] in SHAPE_NAMES
        (3, True)
    """

    shape_weights: Mapping[str, float] = field(default_factory=_default_shapes)
    metric_weights: Mapping[str, float] = field(default_factory=_default_metrics)
    grid_weights: Mapping[str, float] = field(default_factory=_default_grids)
    n_points: tuple[int, int] = (2, 1000)
    curves_per_task: tuple[int, int] = (1, 16)
    horizon_ratio: tuple[float, float] = (1.2, 100.0)
    noise: tuple[float, float] = (0.0003, 0.02)
    heavy_tail_prob: float = 0.3
    outlier_rate: float = 0.002
    divergence_rate: float = 0.03
    jitter: float = 0.15

    def __post_init__(self) -> None:
        for name, allowed in (
            ("shape_weights", SHAPE_NAMES),
            ("metric_weights", METRIC_KINDS),
            ("grid_weights", GRID_KINDS),
        ):
            object.__setattr__(self, name, _check_weights(name, getattr(self, name), allowed))
        _check_int_range("n_points", self.n_points, 1)
        _check_int_range("curves_per_task", self.curves_per_task, 1)
        _check_float_range("horizon_ratio", self.horizon_ratio, 1.0, "numbers (lo, hi), 1 < lo")
        _check_float_range("noise", self.noise, 0.0, "numbers (lo, hi), 0 < lo")
        for name in ("heavy_tail_prob", "outlier_rate", "divergence_rate", "jitter"):
            _check_prob(name, getattr(self, name))

    def probabilities(self, name: str) -> tuple[tuple[str, ...], _F]:
        """The names and normalised probabilities, shape ``(m,)``, of a ``*_weights`` field."""
        weights: Mapping[str, float] = getattr(self, name)
        names = tuple(weights)
        p = np.array([weights[n] for n in names], dtype=np.float64)
        return names, p / p.sum()


def _is_number(v: object) -> bool:
    return isinstance(v, int | float | np.number) and not isinstance(v, bool)


def _check_weights(name: str, value: object, allowed: tuple[str, ...]) -> Mapping[str, float]:
    expected = f"a mapping from names in {list(allowed)} to non-negative weights, not all zero"
    if not isinstance(value, Mapping) or not value:
        raise parameter_error(name, _OWNER, expected, value)
    if any(k not in allowed for k in value) or not all(_is_number(v) for v in value.values()):
        raise parameter_error(name, _OWNER, expected, value)
    out = {k: float(v) for k, v in value.items()}
    if not all(math.isfinite(v) and v >= 0 for v in out.values()) or sum(out.values()) <= 0:
        raise parameter_error(name, _OWNER, expected, value)
    return MappingProxyType({k: v for k, v in out.items() if v > 0})


def _pair(value: object) -> tuple[Any, ...] | None:
    if isinstance(value, tuple | list) and len(value) == 2 and all(_is_number(v) for v in value):
        return tuple(value)
    return None


def _check_int_range(name: str, value: object, least: int) -> None:
    pair = _pair(value)
    ok = pair is not None and all(float(v).is_integer() for v in pair)
    if pair is None or not ok or not least <= pair[0] <= pair[1]:
        expected = f"a pair of integers (lo, hi), {least} <= lo <= hi"
        raise parameter_error(name, _OWNER, expected, value)


def _check_float_range(name: str, value: object, least: float, what: str) -> None:
    pair = _pair(value)
    expected = f"a pair of finite {what} <= hi"
    if pair is None or not all(math.isfinite(float(v)) for v in pair):
        raise parameter_error(name, _OWNER, expected, value)
    if not least < float(pair[0]) <= float(pair[1]):
        raise parameter_error(name, _OWNER, expected, value)


def _check_prob(name: str, value: object) -> None:
    if not _is_number(value) or not 0.0 <= float(value) <= 1.0:  # type: ignore[arg-type]
        raise parameter_error(name, _OWNER, "a float in [0, 1]", value)


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _choice(rng: np.random.Generator, config: PriorConfig, name: str) -> str:
    names, p = config.probabilities(name)
    return names[int(rng.choice(len(names), p=p))]


def _grid(rng: np.random.Generator, kind: str, n: int) -> _F:
    """An x grid of ``kind`` with ``n`` points: shape ``(n,)``, positive, strictly increasing."""
    if kind == "linear":  # epochs 1..n, or steps every 10, 100, 1000
        return float(10 ** int(rng.integers(0, 4))) * np.arange(1, n + 1, dtype=np.float64)
    if kind == "geometric":  # training-set sizes or tokens, 4x to 1e5x from first to last
        x_min, span = _loguniform(rng, 1.0, 1e6), _loguniform(rng, 4.0, 1e5)
        return x_min * span ** np.linspace(0.0, 1.0, n) if n > 1 else np.array([x_min])
    gaps = rng.gamma(rng.uniform(0.3, 3.0), size=n)  # irregular: uneven evaluation times
    gaps = gaps + 1e-3 * gaps.mean() + 1e-12
    return _loguniform(rng, 0.1, 1e4) * np.cumsum(gaps) / gaps.mean()


def _noise(rng: np.random.Generator, config: PriorConfig, g: _F) -> _F:
    """Noise in quality units for clean progress ``g`` (k, n): same shape."""
    k, n = g.shape
    scale = _loguniform(rng, *config.noise) * np.exp(rng.uniform(-0.7, 0.7, size=(k, 1)))
    scale = scale * (0.4 + 1.2 * (1.0 - g))  # heteroscedastic: larger where the curve moves
    if rng.random() < config.heavy_tail_prob:
        eps = rng.standard_t(rng.uniform(1.5, 5.0), size=(k, n))
    else:
        eps = rng.standard_normal((k, n))
    out = scale * eps
    hit = rng.random((k, n)) < config.outlier_rate
    side = np.where(rng.random((k, n)) < 0.8, -1.0, 1.0)  # mostly on the worse side
    return out + hit * side * rng.uniform(0.1, 0.5, size=(k, n))


def _metric(
    rng: np.random.Generator, kind: str, saturate: bool
) -> tuple[str, tuple[float, float | None], Any]:
    """Direction, bounds and the map from quality (any shape) to the metric."""
    if kind in ("accuracy", "error_rate"):
        floor = rng.uniform(0.0, 0.5)
        ceiling = 1.0 if saturate else 1.0 - _loguniform(rng, 0.001, 0.3)

        def acc(q: _F) -> _F:
            return floor + (ceiling - floor) * np.clip(q, 0.0, 1.0)

        if kind == "accuracy":
            return "maximize", (0.0, 1.0), acc
        return "minimize", (0.0, 1.0), lambda q: 1.0 - acc(q)
    if kind == "loss":
        b = _loguniform(rng, 0.01, 10.0)
        a = 0.0 if saturate else b * rng.uniform(0.0, 0.5)
        return "minimize", (0.0, None), lambda q: a + b * (1.0 - np.clip(q, -1.0, 1.0))
    a = 0.0 if saturate else rng.uniform(0.5, 3.0)  # perplexity: exp of a loss in nats
    b = rng.uniform(0.5, 4.0)
    return "minimize", (1.0, None), lambda q: np.exp(a + b * (1.0 - np.clip(q, -1.0, 1.0)))


def _diverge(rng: np.random.Generator, y: _F, bounded: bool) -> int:
    """Make ``y`` (n,) diverge in place from a random index on; returns that index."""
    j = int(rng.integers(0, y.size))
    how = "nan" if bounded else ("nan", "inf", "explode")[int(rng.integers(0, 3))]
    if how == "nan":
        y[j:] = np.nan
    elif how == "inf":
        y[j:] = np.inf
    else:
        y[j:] = 10.0 ** np.minimum(13.0 + np.arange(y.size - j), 300.0)
    return j


def sample_task(rng: np.random.Generator, config: PriorConfig = PriorConfig()) -> list[Curve]:
    """One synthetic search: a list of 1..K curves sharing a grid, a metric and a shape.

    Args:
        rng: the only source of randomness; the same seed gives the same task.
        config: the prior's knobs (immutable, so the shared default is safe).

    Raises:
        InvalidParameterError: ``config`` is not a :class:`PriorConfig`.

    Returns:
        ``k`` curves, each with ``x`` and ``y`` of the same shape ``(n,)`` (``n`` shared within
        the task) and ``meta`` as described in the module docstring.

    Example:
        >>> task = sample_task(np.random.default_rng(1))
        >>> len({(c.direction, c.bounds, c.meta["grid"]) for c in task})
        1
    """
    if not isinstance(config, PriorConfig):
        raise parameter_error("config", "sample_task", "a PriorConfig", config)
    cfg = config
    k = int(rng.integers(cfg.curves_per_task[0], cfg.curves_per_task[1] + 1))
    lo_n, hi_n = cfg.n_points
    n = int(min(hi_n, np.floor(_loguniform(rng, lo_n, hi_n + 1))))
    shape = _choice(rng, cfg, "shape_weights")
    metric = _choice(rng, cfg, "metric_weights")
    grid = _choice(rng, cfg, "grid_weights")
    x = _grid(rng, grid, n)
    t = x / x[-1]
    t0 = np.full((k, 1), t[0] * rng.uniform(0.3, 0.9))
    g = quality(shape, t, draw_params(shape, rng, k, cfg.jitter), t0)  # (k, n)

    z = rng.uniform(size=k)  # latent config quality
    start, best = rng.uniform(0.0, 0.3), rng.uniform(0.85, 1.0)
    # every configuration makes some progress; real searches rank finals by quality
    final = start + (best - start) * (0.15 + 0.85 * z ** _loguniform(rng, 0.2, 1.0))
    final = final + (0.3 if shape == "saturation" else 0.0) + 0.05 * rng.standard_normal(k)
    final = np.clip(final, 0.0, 1.0)[:, None]
    first = np.clip(start + 0.03 * rng.standard_normal((k, 1)), 0.0, final)
    q = first + (final - first) * g
    direction, bounds, to_metric = _metric(rng, metric, shape == "saturation")
    clean = to_metric(q)
    y = to_metric(q + _noise(rng, cfg, g))

    lo_r, hi_r = cfg.horizon_ratio
    ratios = np.exp(rng.uniform(math.log(lo_r), math.log(hi_r), size=k))
    n_context = np.maximum(1, np.searchsorted(x, x[-1] / ratios, side="right"))
    curves = []
    for i in range(k):
        diverged_at = None
        if rng.random() < cfg.divergence_rate:
            diverged_at = float(x[_diverge(rng, y[i], metric in ("accuracy", "error_rate"))])
        meta = {
            "shape": shape,
            "clean": clean[i].tolist(),
            "diverged_at": diverged_at,
            "config_quality": float(z[i]),
            "metric": metric,
            "grid": grid,
            "n_context": int(n_context[i]),
        }
        curves.append(Curve(x, y[i], direction, bounds, meta))
    return curves


def sample_tasks(
    n: int, rng: np.random.Generator, config: PriorConfig = PriorConfig()
) -> list[list[Curve]]:
    """``n`` independent tasks from :func:`sample_task`, drawn in order from ``rng``.

    Raises:
        InvalidParameterError: ``n`` is not a non-negative integer.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise parameter_error("n", "sample_tasks", "a non-negative integer", n)
    return [sample_task(rng, config) for _ in range(int(n))]
