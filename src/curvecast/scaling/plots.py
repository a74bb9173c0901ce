"""Plots of a fitted law: iso-FLOP curves, the compute frontier with its band, residuals.

matplotlib is imported when a plot is drawn (the ``plot`` extra).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from curvecast.exceptions import MissingDependencyError, install_hint
from curvecast.scaling._base import ScalingLaw
from curvecast.scaling.sweep import Sweep

__all__ = ["plot_frontier", "plot_isoflop", "plot_residuals"]


def _plt() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependencyError("Plots need matplotlib: " + install_hint("plot")) from exc
    return plt


def _budgets(sweep: Sweep, k: int = 8) -> np.ndarray:
    logc = np.log10(sweep.C)
    uniq = np.unique(np.round(logc, 2))
    if uniq.size <= k:
        return 10.0**uniq
    return np.asarray(10.0 ** np.quantile(logc, np.linspace(0, 1, k)))


def plot_isoflop(law: ScalingLaw, sweep: Sweep, path: Path) -> Path:
    """Loss against N at several compute budgets: the runs and the law's iso-FLOP curves."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    budgets = _budgets(sweep)
    cmap = plt.get_cmap("viridis")
    logc = np.log10(sweep.C)
    for i, c in enumerate(budgets):
        color = cmap(i / max(len(budgets) - 1, 1))
        near = np.abs(logc - np.log10(c)) <= 0.15
        ax.scatter(sweep.N[near], sweep.loss[near], s=12, color=color, alpha=0.7)
        n_grid = np.logspace(np.log10(sweep.N.min()) - 0.3, np.log10(sweep.N.max()) + 0.3, 60)
        n_grid = n_grid[n_grid <= np.sqrt(c / 6)]  # at least one token per parameter
        if n_grid.size < 2:
            continue
        try:
            fc = law.predict(N=n_grid, C=np.full_like(n_grid, c))
        except Exception:  # a law of C alone has no iso-FLOP curve
            break
        ax.plot(n_grid, fc.point, color=color, lw=1.2, label=f"C={c:.2g}")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="parameters N (curves stop at one token per parameter)",
        ylabel="loss",
        title=f"iso-FLOP ({law.name})",
    )
    ax.legend(fontsize=7, ncol=2)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_frontier(
    law: Any, sweep: Sweep, path: Path, *, up_to: float | None = None, level: float = 0.9
) -> Path:
    """The compute-optimal loss L*(C) with its predictive band, over the runs (loss vs C)."""
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
    hi_c = max(float(sweep.C.max()), up_to or 0.0) * 3
    grid = np.logspace(np.log10(sweep.C.min()), np.log10(hi_c), 60)
    lv = (0.5 - level / 2, 0.5, 0.5 + level / 2)
    split = law.optimal(grid, levels=lv)
    ax.scatter(sweep.C, sweep.loss, s=8, color="0.6", label="runs")
    ax.fill_between(
        grid,
        split.loss_quantiles[0],
        split.loss_quantiles[2],
        alpha=0.3,
        label=f"{int(level * 100)}% band",
    )
    ax.plot(grid, split.loss, color="C0", label="L*(C)")
    if up_to:
        ax.axvline(up_to, color="C3", ls=":", lw=1)
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="compute C (FLOPs)",
        ylabel="loss",
        title=f"compute frontier ({law.name})",
    )
    ax.legend(fontsize=8)
    ax2.fill_between(grid, split.N_quantiles[0], split.N_quantiles[2], alpha=0.3)
    ax2.plot(grid, split.N, color="C1", label="N*(C)")
    ax2.scatter(sweep.C, sweep.N, s=6, color="0.6")
    ax2.set(
        xscale="log",
        yscale="log",
        xlabel="compute C (FLOPs)",
        ylabel="N*",
        title="compute-optimal size",
    )
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_residuals(law: ScalingLaw, sweep: Sweep, path: Path) -> Path:
    """Log residual (log loss - log prediction) of each run against its compute."""
    plt = _plt()
    fc = law.predict(N=sweep.N, D=sweep.D)
    r = np.log(sweep.loss) - np.log(fc.point)
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    sc = ax.scatter(sweep.C, r, c=np.log10(sweep.N), s=10, cmap="viridis")
    fig.colorbar(sc, ax=ax, label="log10 N")
    ax.axhline(0, color="k", lw=0.8)
    ax.set(
        xscale="log",
        xlabel="compute C (FLOPs)",
        ylabel="log residual",
        title=f"residuals ({law.name}); median |r| = {np.median(np.abs(r)):.4f}",
    )
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
