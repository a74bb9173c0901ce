"""Plots: the forecast band of pass@k against the observed (and, in the benchmark, true) curve.

matplotlib is imported when a plot is drawn (the ``plot`` extra).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from curvecast.exceptions import MissingDependencyError, install_hint
from curvecast.sampling._model import PassAtKModel
from curvecast.sampling._observed import observed_pass_at_k

__all__ = ["plot_forecasts"]


def _plt() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependencyError("Plots need matplotlib: " + install_hint("plot")) from exc
    return plt


def plot_forecasts(
    models: Mapping[str, PassAtKModel],
    path: str | Path,
    *,
    k_max: float = 10_000,
    level: float = 0.9,
    truth: Mapping[str, tuple[ArrayLike, ArrayLike]] | None = None,
) -> Path:
    """Draw each model's forecast band (``level``) and median of pass@k against k (log axis),
    the observed pass@k (solid, up to the samples drawn) and, if given, the true curve
    (``truth[name] = (k, pass@k)``, dashed). One panel per model; returns ``path``."""
    plt = _plt()
    names = list(models)
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
    ks: NDArray[np.float64] = np.unique(np.round(np.logspace(0, np.log10(k_max), 60)))
    for ax, name in zip(axes.ravel(), names, strict=False):
        model = models[name]
        fc = model.forecast(ks)
        lo, hi = fc.interval(level)
        ax.fill_between(ks, lo, hi, alpha=0.3, color="C0", label=f"{level:.0%} interval")
        ax.plot(ks, fc.median, color="C0", label="forecast")
        counts = model._check_fitted("plot")
        obs = observed_pass_at_k(counts, ks)
        ax.plot(ks, obs, color="k", lw=2, label=f"observed (n <= {int(counts.n.max())})")
        if truth and name in truth:
            tk, tv = truth[name]
            ax.plot(tk, tv, "k--", lw=1, label="truth")
        ax.set_xscale("log")
        ax.set_ylim(0, 1)
        ax.set_title(name or "pass@k")
        ax.set_xlabel("k (samples per problem)")
        ax.set_ylabel("pass@k")
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(names) :]:
        ax.set_visible(False)
    axes.ravel()[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
