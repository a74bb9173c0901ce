"""The report of ``curvecast bench anytime``: aggregates with bootstrap intervals, the markdown
tables and the plot of regret against compute (see :mod:`curvecast.bench.anytime`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.bench.aggregate import Interval, pooled_mean, stratified_bootstrap
from curvecast.bench.anytime import FRACTIONS, AnytimeResult, AnytimeTrace

__all__ = ["aggregate", "write_anytime_report"]


def aggregate(result: AnytimeResult) -> list[dict[str, Any]]:
    """Per (suite, method): mean regret at each of :data:`FRACTIONS` (completed final and best
    seen) and the mean area under the normalised regret curve, with stratified bootstrap 95%
    intervals (strata: tasks; runs: orders)."""
    cfg = result.config
    rng = np.random.default_rng(cfg.seed)
    out = []
    suites = list(dict.fromkeys(s for s, _ in result.traces))
    for suite in suites:
        traces = [t for s, t in result.traces if s == suite]
        for method in dict.fromkeys(t.method for t in traces):
            mine = [t for t in traces if t.method == method]
            tasks = list(dict.fromkeys(t.task for t in mine))

            def boot(
                value: Callable[[AnytimeTrace], float],
                mine: list[AnytimeTrace] = mine,
                tasks: list[str] = tasks,
            ) -> Interval:
                groups: list[NDArray[np.float64]] = [
                    np.array([value(t) for t in mine if t.task == k], dtype=float) for k in tasks
                ]
                return stratified_bootstrap(groups, pooled_mean, rng=rng, n_boot=cfg.n_boot)

            row: dict[str, Any] = {
                "suite": suite, "method": method, "replays": len(mine), "tasks": len(tasks),
                "auc": boot(lambda t: t.auc(cfg.budget)),
                "auc_seen": boot(lambda t: t.auc(cfg.budget, seen=True)),
                "seconds_per_replay": float(np.mean([t.seconds for t in mine])),
                "resumes_per_replay": float(np.mean([t.n_resumed for t in mine])),
            }  # fmt: skip
            for f in FRACTIONS:
                if f <= cfg.budget + 1e-12:
                    row[f"regret@{f:g}"] = boot(partial(_regret_at, fraction=f, seen=False))
                    row[f"regret_seen@{f:g}"] = boot(partial(_regret_at, fraction=f, seen=True))
            out.append(row)
    return out


def _regret_at(t: AnytimeTrace, *, fraction: float, seen: bool) -> float:
    return t.regret_at(fraction, seen=seen)


def write_anytime_report(
    result: AnytimeResult, out: str | os.PathLike[str], *, command_line: str, plots: bool = True
) -> tuple[str, dict[str, Path]]:
    """Write ``anytime.md``, ``anytime.json`` and (with matplotlib) ``anytime_regret.png``
    under ``out``; return the markdown tables and the paths."""
    import json

    from curvecast.bench.report import environment, header_markdown, jsonable

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = environment(command_line)
    agg = aggregate(result)
    cfg = result.config
    fracs = [f for f in FRACTIONS if f <= cfg.budget + 1e-12]
    lines = [
        header_markdown("curvecast anytime benchmark", env), "",
        f"Each task's configurations (at most {cfg.configs}) form one search, replayed in "
        f"{cfg.orders} random orders by one worker up to {cfg.budget:g} of the compute of running "
        "every configuration to its end. Regret = |best final of all configurations - best "
        "final among the trials *completed* so far| (the headline: what a user can deploy); "
        "'seen' uses the best value reported by any run instead (optimistic). AUC = mean "
        "normalised regret over compute fractions 0 to the budget (0: the best at once; 1: "
        "nothing). Intervals: stratified bootstrap 95% over tasks (strata) and orders (runs).", "",
    ]  # fmt: skip
    for suite in dict.fromkeys(a["suite"] for a in agg):
        head = "| method | AUC (completed) | " + " | ".join(f"regret @{f:.0%}" for f in fracs)
        head += " | AUC (seen) | " + " | ".join(f"seen @{f:.0%}" for f in fracs)
        head += " | resumes | s/replay |"
        lines += [f"## {suite} ({result.searches.get(suite, 0)} searches)", "", head,
                  "|" + "---|" * (5 + 2 * len(fracs))]  # fmt: skip
        for a in (a for a in agg if a["suite"] == suite):
            cells = [a["method"], a["auc"].format()]
            cells += [a[f"regret@{f:g}"].format() for f in fracs]
            cells += [a["auc_seen"].format()]
            cells += [a[f"regret_seen@{f:g}"].format() for f in fracs]
            cells += [f"{a['resumes_per_replay']:.1f}", f"{a['seconds_per_replay']:.2f}"]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if result.skipped:
        lines += ["Skipped: " + "; ".join(f"{k} ({v})" for k, v in result.skipped.items()), ""]
    md = "\n".join(lines)
    paths = {"markdown": out_dir / "anytime.md", "json": out_dir / "anytime.json"}
    paths["markdown"].write_text(md, encoding="utf-8")
    rows = [
        {"suite": s, "method": t.method, "task": t.task, "order": t.order,
         "compute_full": t.compute_full, "best_possible": t.best_possible,
         "auc": t.auc(cfg.budget), "auc_seen": t.auc(cfg.budget, seen=True),
         **{f"regret@{f:g}": t.regret_at(f) for f in fracs}, "n_resumed": t.n_resumed,
         "seconds": t.seconds}
        for s, t in result.traces
    ]  # fmt: skip
    paths["json"].write_text(json.dumps(jsonable({
        "environment": env, "config": cfg.__dict__, "aggregates": agg, "rows": rows,
        "skipped": result.skipped,
    }), indent=1), encoding="utf-8")  # fmt: skip
    if plots:
        paths["plot"] = _plot(result, out_dir / "anytime_regret.png")
    return md, paths


def _plot(result: AnytimeResult, path: Path) -> Path:
    """Mean normalised regret against compute per suite: completed final (solid), seen (dotted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budget = result.config.budget
    suites = list(dict.fromkeys(s for s, _ in result.traces))
    fig, axes = plt.subplots(1, len(suites), figsize=(5.5 * len(suites), 4.2), squeeze=False)
    grid = np.linspace(0.0, budget, 101)
    for ax, suite in zip(axes[0], suites, strict=True):
        traces = [t for s, t in result.traces if s == suite]
        for k, method in enumerate(dict.fromkeys(t.method for t in traces)):
            mine = [t for t in traces if t.method == method]
            for seen, style in ((False, "-"), (True, ":")):
                ys = np.mean([_normalised(t, grid, seen) for t in mine], axis=0)
                ax.plot(
                    grid, ys, style, color=f"C{k}", label=None if seen else method,
                    lw=2 if "freeze_thaw" in method else 1,
                )  # fmt: skip
        ax.set_title(f"{suite}: regret against compute\n(solid: completed final; dotted: seen)")
        ax.set_xlabel("compute used (fraction of the unpruned search)")
        ax.set_ylabel("normalised regret (mean over replays)")
        ax.set_yscale("symlog", linthresh=1e-2)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _normalised(t: AnytimeTrace, grid: NDArray[np.float64], seen: bool) -> NDArray[np.float64]:
    gap = abs(t.best_possible - t.worst_possible)
    out = np.ones_like(grid)
    if gap == 0:
        return np.zeros_like(grid)
    xs = np.array([c / t.compute_full for c, _, _ in t.trace])
    ys = np.array([min(1.0, t._regret(s if seen else d) / gap) for _, d, s in t.trace])
    idx = np.searchsorted(xs, grid, side="right") - 1
    ok = idx >= 0
    out[ok] = ys[idx[ok]]
    return out
