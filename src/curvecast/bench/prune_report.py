"""The report of ``curvecast bench prune``: full tables, the issue's targets checked, a compact
table for the README, and the plots.

Targets (issue 12), for every curvecast pruner in every (suite, setting, size):

* Pareto-better than each of MedianPruner, SuccessiveHalving, Hyperband and ASHA: a median
  speedup in points AND in compute at least theirs, at a mean relative regret at most theirs;
* a median speedup of at least 5x, in points and in compute, where the oracle allows 10x or more
  on that axis;
* a median speedup within a factor 3 of the oracle's, on both axes;
* the best configuration kept in at least 90% of the replays.

Each check is made on the point estimates (the intervals are in the full tables) and says PASS,
MISS or n/a with the numbers and, for a miss, by how much.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from curvecast.bench.prune import SUITE_COST, curvecast_spec
from curvecast.bench.prune_run import PruneResult, aggregate

__all__ = ["BASELINES", "Target", "check_targets", "readme_table", "write_prune_report"]

#: The pruners the default must be Pareto-better than.
BASELINES: tuple[str, ...] = ("median", "successive_halving", "hyperband", "asha")
#: Median speedup asked where the oracle allows at least ORACLE_ROOM.
MIN_SPEEDUP, ORACLE_ROOM = 5.0, 10.0
#: The median speedup must be at least the oracle's divided by this.
ORACLE_FACTOR = 3.0
#: Share of replays that must keep the best configuration.
BEST_KEPT = 0.9


@dataclass(frozen=True)
class Target:
    """One target checked for one curvecast pruner in one (suite, workers, size).

    ``status`` is "PASS", "MISS" or "n/a"; ``text`` gives the numbers (and, for a miss, by how
    much).
    """

    suite: str
    workers: int
    size: int
    pruner: str
    name: str
    status: str
    text: str

    def line(self) -> str:
        return f"{self.name}: **{self.status}** {self.text}"


def _est(a: dict[str, Any], key: str) -> float:
    return float(a[key].estimate)


def _groups(agg: list[dict[str, Any]]) -> dict[tuple[str, int, int], dict[str, dict[str, Any]]]:
    out: dict[tuple[str, int, int], dict[str, dict[str, Any]]] = {}
    for a in agg:
        out.setdefault((a["suite"], a["workers"], a["size"]), {})[a["pruner"]] = a
    return out


def _short(ours: float, theirs: float) -> str:
    """How far ``ours`` falls below ``theirs`` as a factor."""
    return f"{theirs / ours:.2f}x short" if ours > 0 else "short"


def check_targets(agg: list[dict[str, Any]]) -> list[Target]:
    """The issue's targets (see the module docstring) for every curvecast pruner in ``agg``
    (what :func:`curvecast.bench.prune_run.aggregate` returns), in the order of ``agg``."""
    out: list[Target] = []
    for (suite, workers, size), by in _groups(agg).items():
        oracle = by.get("oracle")
        for name, a in by.items():
            if curvecast_spec(name) is None:
                continue

            def add(
                check: str,
                status: str,
                text: str,
                at: tuple[str, int, int, str] = (suite, workers, size, name),
            ) -> None:
                out.append(Target(*at, check, status, text))

            sp, sc = _est(a, "speedup_median"), _est(a, "compute_speedup_median")
            g = _est(a, "rel_regret_mean")
            for other in BASELINES:
                if other not in by:
                    continue
                o = by[other]
                op, oc = _est(o, "speedup_median"), _est(o, "compute_speedup_median")
                og = _est(o, "rel_regret_mean")
                misses = []
                if sp < op:
                    misses.append(f"points {_short(sp, op)}")
                if sc < oc:
                    misses.append(f"compute {_short(sc, oc)}")
                if g > og:
                    misses.append(f"regret {g - og:+.3g} above")
                if misses:  # a trade-off where we win on some axis, else dominated
                    won = sp > op or sc > oc or g < og
                    misses.append("a trade-off" if won else "dominated")
                add(
                    f"Pareto-better than {other}",
                    "MISS" if misses else "PASS",
                    f"(ours {sp:.3g}x / {sc:.3g}x at {g:.3g}; theirs {op:.3g}x / {oc:.3g}x at "
                    f"{og:.3g})" + (f": {', '.join(misses)}" if misses else ""),
                )
            for axis, key, ours in (
                ("points", "speedup_median", sp),
                ("compute", "compute_speedup_median", sc),
            ):
                if oracle is None:
                    continue
                bound = _est(oracle, key)
                if bound >= ORACLE_ROOM:
                    ok = ours >= MIN_SPEEDUP
                    add(
                        f">= {MIN_SPEEDUP:g}x in {axis}",
                        "PASS" if ok else "MISS",
                        f"({ours:.3g}x; oracle {bound:.3g}x)"
                        + ("" if ok else f": {_short(ours, MIN_SPEEDUP)}"),
                    )
                else:
                    add(
                        f">= {MIN_SPEEDUP:g}x in {axis}",
                        "n/a",
                        f"(the oracle allows {bound:.3g}x < {ORACLE_ROOM:g}x; ours {ours:.3g}x)",
                    )
                ok = ours * ORACLE_FACTOR >= bound
                add(
                    f"within {ORACLE_FACTOR:g}x of the oracle in {axis}",
                    "PASS" if ok else "MISS",
                    f"({ours:.3g}x vs {bound:.3g}x, factor {bound / max(ours, 1e-12):.2f})",
                )
            kept = float(a["best_kept"])
            add(
                f"best kept in >= {BEST_KEPT:.0%}",
                "PASS" if kept >= BEST_KEPT else "MISS",
                f"({kept:.0%} of {a['replays']} replays)"
                + ("" if kept >= BEST_KEPT else f": {BEST_KEPT - kept:.0%} short"),
            )
    return out


def _setting(workers: int) -> str:
    return "sequential" if workers == 1 else f"{workers} workers"


def _size_label(result: PruneResult, suite: str, size: int) -> str:
    note = result.sizes.get(suite, {}).get(size, "")
    return f"{size}" if not note else f"{size} (all: {note.split()[-1]})"


def _largest(result: PruneResult, suite: str) -> int:
    """The most runs of any search replayed in ``suite``, where a size asked for more."""
    for note in result.sizes.get(suite, {}).values():
        if note.startswith("all"):
            return int(note.split()[-1])
    return max(result.runs.get(suite) or [0])


def readme_table(result: PruneResult, agg: list[dict[str, Any]] | None = None) -> list[str]:
    """The compact markdown table: one row per suite x setting x size; per pruner "points /
    compute speedup (medians), mean relative regret"; the share of replays in which the
    default curvecast pruner kept the best configuration, and its targets met."""
    agg = aggregate(result) if agg is None else agg
    groups = _groups(agg)
    names = list(dict.fromkeys(a["pruner"] for a in agg if a["pruner"] != "none"))
    first = [n for n in BASELINES if n in names]
    ours = [n for n in names if curvecast_spec(n) is not None]
    rest = [n for n in names if n not in first and n not in ours]
    cols = [*first, *ours, *rest]
    default = "curvecast" if "curvecast" in ours else (ours[0] if ours else None)
    targets = check_targets(agg)
    lines = [
        "| suite | setting | configs | "
        + " | ".join(cols)
        + (f" | best kept ({default}) | targets met ({default}) |" if default else " |"),
        "|---|---|---|" + "---|" * len(cols) + ("---|---|" if default else ""),
    ]
    for suite in result.config.suites:
        for workers in result.config.workers:
            for size, note in result.sizes.get(suite, {}).items():
                if note.startswith("skip"):
                    lines.append(
                        f"| {suite} | {_setting(workers)} | {size} | n/a: the largest search "
                        f"has {_largest(result, suite)} runs (see {note.split()[-1]}) |"
                    )
                    continue
                by = groups.get((suite, workers, size), {})
                cells = []
                for c in cols:
                    a = by.get(c)
                    cells.append(
                        "–"
                        if a is None
                        else f"{_est(a, 'speedup_median'):.3g}x / "
                        f"{_est(a, 'compute_speedup_median'):.3g}x, "
                        f"{_est(a, 'rel_regret_mean'):.2g}"
                    )
                tail = ""
                if default and default in by:
                    mine = [
                        t
                        for t in targets
                        if (t.suite, t.workers, t.size, t.pruner) == (suite, workers, size, default)
                        and t.status != "n/a"
                    ]
                    met = sum(t.status == "PASS" for t in mine)
                    tail = f" | {by[default]['best_kept']:.0%} | {met}/{len(mine)}"
                elif default:
                    tail = " | – | –"
                lines.append(
                    f"| {suite} | {_setting(workers)} | {_size_label(result, suite, size)} | "
                    + " | ".join(cells)
                    + tail
                    + " |"
                )
    return lines


def write_prune_report(
    result: PruneResult, out: str | os.PathLike[str], *, command_line: str, plots: bool = True
) -> tuple[str, dict[str, Path]]:
    """Write ``prune.md``, ``prune.json`` and (with matplotlib) ``prune_regret.png`` and
    ``prune_frontier.png`` under ``out``; return the markdown and the paths."""
    from curvecast.bench.report import environment, header_markdown, jsonable

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = environment(command_line)
    agg = aggregate(result)
    cfg = result.config
    settings = ", ".join(_setting(w) for w in cfg.workers)
    lines = [
        header_markdown("curvecast prune benchmark", env), "",
        f"Each task's configurations form one search, replayed in {cfg.orders} random orders "
        f"in each setting ({settings}: trials in flight) and each size (at most "
        f"{', '.join(str(n) for n in cfg.configs)} configurations per search). Speedup = cost "
        "without pruning / with, in points reported and in compute (the cost of a report per "
        "suite is in the table below); regret = best final value of all configurations - best "
        "final among completed trials; relative regret = regret / |best|. Intervals: "
        "stratified bootstrap 95% over tasks (strata) and orders (runs). `oracle` is not a "
        "pruner but the bound: it knows every final value and stops every trial but the best "
        f"at its first report. Wall time of the whole run: {result.seconds:.0f} s.", "",
        "## Searches", "",
        "| suite | compute of a report | searches replayed | configurations per task (all "
        "tasks, min/median/max) | sizes |",
        "|---|---|---|---|---|",
    ]  # fmt: skip
    for suite in cfg.suites:
        runs = result.runs.get(suite, [])
        span = f"{runs[0]}/{runs[len(runs) // 2]}/{runs[-1]}" if runs else "–"
        sizes = []
        for size, note in result.sizes.get(suite, {}).items():
            if not note:
                sizes.append(f"{size}: cut to {size}")
            elif note.startswith("all"):
                sizes.append(
                    f"{size}: n/a, the largest search has {note.split()[-1]} runs; all used"
                )
            else:
                sizes.append(
                    f"{size}: n/a, the largest search has {_largest(result, suite)} runs "
                    f"(the same searches as {note.split()[-1]})"
                )
        lines.append(
            f"| {suite} | {_COST_TEXT[SUITE_COST.get(suite, 'report')]} | "
            f"{result.searches.get(suite, 0)} | {span} | {'; '.join(sizes)} |"
        )
    lines += [
        "", "## Summary", "",
        "Per pruner: median speedup in points / in compute, mean relative regret.", "",
        *readme_table(result, agg), "",
    ]  # fmt: skip
    groups = _groups(agg)
    for (suite, workers, size), by in groups.items():
        lines += [
            f"## {suite}, {_setting(workers)}, {_size_label(result, suite, size)} configurations "
            f"({result.searches.get(suite, 0)} searches)", "",
            "| pruner | speedup (points) median | speedup (compute) median | speedup (points) "
            "IQM | mean regret | mean rel. regret | best kept | trials pruned | s/replay |",
            "|---|---|---|---|---|---|---|---|---|",
        ]  # fmt: skip
        for a in by.values():
            lines.append(
                f"| {a['pruner']} | {a['speedup_median'].format()} "
                f"| {a['compute_speedup_median'].format()} | {a['speedup_iqm'].format()} "
                f"| {a['regret_mean'].format()} | {a['rel_regret_mean'].format()} "
                f"| {a['best_kept']:.0%} | {a['pruned_share']:.0%} "
                f"| {a['seconds_per_replay']:.2f} |"
            )
        lines.append("")
    targets = check_targets(agg)
    if targets:
        lines += ["## Targets (curvecast)", ""]
        seen: dict[tuple[str, int, int, str], list[Target]] = {}
        for t in targets:
            seen.setdefault((t.suite, t.workers, t.size, t.pruner), []).append(t)
        for (suite, workers, size, name), ts in seen.items():
            met = sum(t.status == "PASS" for t in ts)
            judged = sum(t.status != "n/a" for t in ts)
            lines.append(
                f"- **{suite}**, {_setting(workers)}, {_size_label(result, suite, size)} "
                f"configurations, {name}: {met}/{judged} met"
            )
            lines += [f"  - {t.line()}" for t in ts]
        lines.append("")
    if result.skipped:
        lines += ["Skipped: " + "; ".join(f"{k} ({v})" for k, v in result.skipped.items()), ""]
    md = "\n".join(lines)
    paths = {"markdown": out_dir / "prune.md", "json": out_dir / "prune.json"}
    paths["markdown"].write_text(md, encoding="utf-8")
    paths["json"].write_text(json.dumps(jsonable({
        "environment": env, "config": cfg.__dict__, "aggregates": agg, "rows": result.rows,
        "skipped": result.skipped, "runs": result.runs,
        "sizes": {s: {str(k): v for k, v in d.items()} for s, d in result.sizes.items()},
        "targets": [t.__dict__ for t in targets], "seconds": result.seconds,
    }), indent=1), encoding="utf-8")  # fmt: skip
    if plots:
        paths["plot"] = _plot(result, out_dir / "prune_regret.png")
        paths["frontier"] = _plot_frontier(agg, out_dir / "prune_frontier.png")
    return md, paths


_COST_TEXT = {
    "report": "1 per report",
    "step": "the steps since the previous report",
    "anchor": "the anchor (retrained from scratch)",
}


def _panels(keys: list[tuple[str, int, int]]) -> tuple[Any, Any, dict[tuple[str, int, int], Any]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suites = list(dict.fromkeys(k[0] for k in keys))
    combos = list(dict.fromkeys(k[1:] for k in keys))
    fig, axes = plt.subplots(
        len(suites), len(combos), figsize=(5.0 * len(combos), 4.0 * len(suites)), squeeze=False
    )
    where = {}
    for i, s in enumerate(suites):
        for j, c in enumerate(combos):
            if (s, *c) in keys:
                where[(s, *c)] = axes[i][j]
            else:
                axes[i][j].set_visible(False)
    return plt, fig, where


def _plot_frontier(agg: list[dict[str, Any]], path: Path) -> Path:
    """Speedup in compute against relative regret per (suite, setting, size), with the bootstrap
    intervals: a pruner is Pareto-better than another when it sits to the right of it and no
    higher. The curvecast pruners of one method at several thresholds are joined by a line."""
    keys = list(dict.fromkeys((a["suite"], a["workers"], a["size"]) for a in agg))
    plt, fig, where = _panels(keys)
    for key, ax in where.items():
        rows = [a for a in agg if (a["suite"], a["workers"], a["size"]) == key]
        bound = [a["compute_speedup_median"].estimate for a in rows if a["pruner"] == "oracle"]
        lines: dict[str, list[tuple[float, float]]] = {}
        for a in rows:
            if a["pruner"] in ("none", "oracle"):
                continue
            s, g = a["compute_speedup_median"], a["rel_regret_mean"]
            spec = curvecast_spec(a["pruner"])
            style = {"marker": "o", "ms": 7} if spec else {"marker": "s", "ms": 5}
            ax.errorbar(
                s.estimate, g.estimate,
                xerr=[[max(0.0, s.estimate - s.low)], [max(0.0, s.high - s.estimate)]],
                yerr=[[max(0.0, g.estimate - g.low)], [max(0.0, g.high - g.estimate)]],
                capsize=2, lw=0.8, **style,
            )  # fmt: skip
            ax.annotate(a["pruner"], (s.estimate, g.estimate), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")  # fmt: skip
            if spec is not None:
                lines.setdefault(spec[0], []).append((s.estimate, g.estimate))
        for pts in lines.values():
            if len(pts) > 1:
                xs, ys = zip(*sorted(pts), strict=True)
                ax.plot(xs, ys, color="black", lw=1, alpha=0.6)
        ax.set_title(
            f"{key[0]}, {_setting(key[1])}, {key[2]} configs"
            + (f"\n(oracle bound: {bound[0]:.3g}x at no regret)" if bound else ""),
            fontsize=9,
        )
        ax.set_xlabel("speedup in compute (median)")
        ax.set_ylabel("mean relative regret (lower is better)")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _plot(result: PruneResult, path: Path) -> Path:
    """The best-so-far relative regret against the compute used, pooled over replays (the last
    value seen at or before each compute fraction)."""
    by: dict[tuple[str, int, int], dict[str, list[tuple[float, float]]]] = {}
    for name, pts in result.traces.items():
        suite, workers, size, pruner = name.split("|")
        if pts:
            by.setdefault((suite, int(workers), int(size)), {})[pruner] = pts
    plt, fig, where = _panels(list(by))
    grid = np.linspace(0.0, 1.0, 51)
    for key, ax in where.items():
        for pruner, pts in by[key].items():
            arr = np.array(pts)
            order = np.argsort(arr[:, 0])
            xs, ys = arr[order, 0], arr[order, 1]
            idx = np.searchsorted(xs, grid, side="right") - 1
            curve = np.where(idx >= 0, ys[np.clip(idx, 0, None)], 1.0)
            ax.plot(grid, curve, label=pruner, lw=2 if pruner == "curvecast" else 1)
        ax.set_title(f"{key[0]}, {_setting(key[1])}, {key[2]} configs", fontsize=9)
        ax.set_xlabel("compute used (fraction of the unpruned search)")
        ax.set_ylabel("relative regret of the best completed trial")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.grid(alpha=0.3)
    if where:
        next(iter(where.values())).legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
