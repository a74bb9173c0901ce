"""Text and plot forms of a :class:`~curvecast.stats.Comparison`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from curvecast.exceptions import MissingDependencyError, install_hint
from curvecast.stats._compare import METRICS, Comparison

__all__ = ["format_comparison", "plot_comparison"]

_HEAD = {"iqm": "IQM", "mean": "mean", "median": "median", "optimality_gap": "optimality gap"}


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def format_comparison(c: Comparison, *, seeds: bool = False) -> str:
    """The comparison as a plain-text report: the aggregates table, P(row beats column), the
    verdicts, and with ``seeds`` the seed-to-seed spread next to the gaps between methods.

    Example:
        >>> import numpy as np
        >>> from curvecast.stats import compare, results_from_rows
        >>> rows = [{"method": m, "task": "t", "seed": s, "score": b + 0.01 * s}
        ...         for m, b in (("a", 0.9), ("b", 0.5)) for s in range(3)]
        >>> text = format_comparison(compare(results_from_rows(rows),
        ...                                  rng=np.random.default_rng(0), n_boot=100))
        >>> "a beats b" in text
        True
    """
    r = c.results
    lo = min(r.n_seeds(m)[0] for m in r.methods)
    hi = max(r.n_seeds(m)[1] for m in r.methods)
    seeds_text = f"{lo} seeds" if lo == hi else f"{lo}-{hi} seeds"
    pct = f"{c.confidence:.0%}"
    widened = (
        f", widened for {lo} seeds: bootstrap level {c.level:.4g}" if c.level > c.confidence else ""
    )
    lines = [
        f"curvecast compare: {len(r.methods)} methods, {len(r.tasks)} task"
        f"{'s' if len(r.tasks) != 1 else ''}, {seeds_text} per task ({r.source}; {r.direction}; "
        f"{c.n_boot} bootstrap draws, {pct} intervals{widened})",
        "",
    ]
    if lo < 3:
        lines += [
            f"note: with {lo} seeds on a task no bootstrap interval is reliable (two identical "
            "methods are told apart about 16% of the time instead of 5%); run at least 3 seeds, "
            "better 5.",
            "",
        ]
    head = ["method"] + [
        _HEAD[k] + (f" (to {c.gamma:g})" if k == "optimality_gap" else "") for k in METRICS
    ]
    body = [[m] + [c.aggregates[m][k].format(3) for k in METRICS] for m in c.ranking]
    lines += _table([head, *body])
    lines += ["", f"P(row beats column) [{pct} interval]"]
    grid = [["", *c.ranking]]
    for a in c.ranking:
        grid.append([a] + ["" if a == b else c.p_improvement[a][b].format(2) for b in c.ranking])
    lines += _table(grid)
    lines += ["", f"verdict (on the {_HEAD[c.metric]})"]
    lines += [f"  - {v.text}" for v in c.verdicts]
    if seeds:
        lines += ["", "seed-to-seed spread next to the differences between methods"]
        rows = [["method", "seeds", "seed SD", "seed range", f"nearest {_HEAD[c.metric]} gap"]]
        for m in c.ranking:
            s = c.seed_spread[m]
            rows.append(
                [
                    m,
                    f"{s['seeds']:.0f}",
                    f"{s['seed_sd']:.3g}",
                    f"{s['seed_range']:.3g}",
                    f"{s['nearest_gap']:.3g}",
                ]
            )
        lines += _table(rows)
        sds = [c.seed_spread[m]["seed_sd"] for m in r.methods]
        gaps = [abs(v.difference.estimate) for v in c.verdicts]
        within = sum(g < min(sds) for g in gaps)
        lines.append(
            f"  seed SD (median over tasks) {min(sds):.3g}-{max(sds):.3g}; differences between "
            f"methods {min(gaps):.3g}-{max(gaps):.3g}; {within} of {len(gaps)} pair"
            f"{'s' if len(gaps) != 1 else ''} differ by less than one seed SD."
        )
    return "\n".join(lines)


def plot_comparison(c: Comparison, path: str | Path | None = None) -> Any:
    """Plot the intervals of every aggregate (one panel each), the performance profiles and
    P(best beats each other method); save to ``path`` (PNG) when given.

    Returns:
        The matplotlib Figure.

    Raises:
        MissingDependencyError: matplotlib is not installed.
    """
    try:
        import matplotlib

        if path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependencyError(
            "the compare plot needs matplotlib: " + install_hint("plot")
        ) from exc
    methods = c.ranking[::-1]  # best on top
    colors = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(c.ranking)}
    fig = plt.figure(figsize=(13.0, 3.2 + 0.35 * len(methods) + 3.2))
    grid = fig.add_gridspec(2, 4, height_ratios=[0.8 + 0.3 * len(methods), 3.2])
    for j, key in enumerate(METRICS):
        ax = fig.add_subplot(grid[0, j])
        for y, m in enumerate(methods):
            iv = c.aggregates[m][key]
            ax.plot(
                [iv.low, iv.high], [y, y], lw=6, alpha=0.6, color=colors[m], solid_capstyle="butt"
            )
            ax.plot([iv.estimate], [y], "|", ms=14, mew=2, color="black")
        ax.set_yticks(range(len(methods)))
        ax.set_yticklabels(methods if j == 0 else [])
        ax.set_title(_HEAD[key] + (f" (to {c.gamma:g})" if key == "optimality_gap" else ""))
        ax.grid(axis="x", alpha=0.3)
        ax.set_ylim(-0.6, len(methods) - 0.4)
    ax = fig.add_subplot(grid[1, :2])
    for m in c.ranking:
        p = c.profiles[m]
        ax.plot(p.taus, p.fraction, color=colors[m], label=m)
        ax.fill_between(p.taus, p.low, p.high, color=colors[m], alpha=0.2)
    better = ">" if c.results.direction == "maximize" else "<"
    ax.set_xlabel("score threshold τ")
    ax.set_ylabel(f"fraction of runs with score {better} τ")
    ax.set_title("performance profiles")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    ax = fig.add_subplot(grid[1, 2:])
    pairs = [(v.a, v.b) for v in c.verdicts]
    for y, (a, b) in enumerate(pairs[::-1]):
        iv = c.p_improvement[a][b]
        ax.plot([iv.low, iv.high], [y, y], lw=6, alpha=0.6, color=colors[a], solid_capstyle="butt")
        ax.plot([iv.estimate], [y], "|", ms=14, mew=2, color="black")
    ax.axvline(0.5, color="grey", ls="--", lw=1)
    ax.set_yticks(range(len(pairs)))
    ax.set_yticklabels([f"P({a} > {b})" for a, b in pairs[::-1]])
    ax.set_xlim(0, 1)
    ax.set_title("probability of improvement")
    ax.grid(axis="x", alpha=0.3)
    fig.suptitle(
        f"{c.results.source}: {len(c.results.tasks)} tasks; {c.confidence:.0%} stratified "
        "bootstrap intervals"
    )
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
    return fig
