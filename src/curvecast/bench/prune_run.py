"""``curvecast bench prune``: real searches replayed through every pruner, aggregated honestly.

For each suite, each task is one search over its configurations; each search is replayed in
``orders`` random orders, the same orders for every pruner. Aggregates are per (suite, pruner):
the median and IQM of the speedup and the mean regret, with stratified bootstrap 95% intervals
(tasks are strata, orders are runs), and the share of replays in which the best configuration
was kept (regret 0).
"""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.bench.aggregate import Interval, pooled_iqm, pooled_mean, stratified_bootstrap
from curvecast.bench.prune import PRUNERS, ReplayResult, curvecast_spec, make_judge, replay
from curvecast.curves import Curve

__all__ = ["PruneConfig", "PruneResult", "run_prune_bench", "write_prune_report"]

#: How each suite is read for pruning: lcbench-surrogate is sampled (configs per task); the
#: others are used whole, keeping 2-point runs so that early divergences count.
_MIN_POINTS = {"lcdb": 3, "lcbench-surrogate": 3, "scanbench-vlm": 2, "scanbench-llm": 2}


@dataclass(frozen=True)
class PruneConfig:
    suites: tuple[str, ...]
    pruners: tuple[str, ...] = PRUNERS
    data_dir: str | None = None
    configs: int = 200
    tasks: int | None = None
    orders: int = 3
    workers: int = 4
    seed: int = 0
    jobs: int = 1
    n_boot: int = 1000


@dataclass
class PruneResult:
    config: PruneConfig
    rows: list[dict[str, Any]] = field(default_factory=list)
    traces: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    searches: dict[str, int] = field(default_factory=dict)


def _searches(suite: str, cfg: PruneConfig, fixture: Sequence[Curve] | None) -> list[list[Curve]]:
    if fixture is not None:
        curves = list(fixture)
    else:
        from curvecast.bench.sources import load_suite

        limit = None
        if suite == "lcbench-surrogate":
            limit = 34 * cfg.configs
        curves = load_suite(
            suite,
            data_dir=cfg.data_dir,
            limit=limit,
            seed=cfg.seed,
            min_points=_MIN_POINTS.get(suite, 3),
        )
    by_task: dict[str, list[Curve]] = {}
    for c in curves:
        by_task.setdefault(str(c.meta.get("task", "all")), []).append(c)
    names = sorted(t for t, cs in by_task.items() if len(cs) >= 4)
    rng = np.random.default_rng([cfg.seed, 7])
    if cfg.tasks is not None and len(names) > cfg.tasks:
        names = sorted(rng.choice(names, size=cfg.tasks, replace=False).tolist())
    return [by_task[t][: cfg.configs] for t in names]


def _replay_search(args: tuple[list[Curve], tuple[str, ...], int, int, int]) -> list[ReplayResult]:
    curves, pruners, orders, workers, seed = args
    task = str(curves[0].meta.get("task", "all"))
    out = []
    for o in range(orders):
        perm = np.random.default_rng([seed, o, zlib.crc32(task.encode())]).permutation(len(curves))
        ordered = [curves[i] for i in perm]
        for name in pruners:
            judge = make_judge(name, ordered)
            out.append(replay(ordered, judge, pruner=name, task=task, order=o, workers=workers))
    return out


def _available(pruners: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    ok, skipped = [], {}
    for name in pruners:
        try:
            if name == "asha":
                import ray.tune  # noqa: F401

                import curvecast.bench.replay_ray  # noqa: F401
            else:
                import optuna  # noqa: F401
            ok.append(name)
        except ImportError as exc:
            skipped[name] = f"not importable ({exc})"
    return ok, skipped


def run_prune_bench(
    cfg: PruneConfig,
    *,
    progress: Callable[[str], None] = lambda _msg: None,
    fixture: Mapping[str, Sequence[Curve]] | None = None,
) -> PruneResult:
    """Replay every search of every suite through every pruner; ``fixture`` maps a suite name
    to its curves instead of loading it (tests, smoke runs)."""
    pruners, skipped = _available(cfg.pruners)
    result = PruneResult(cfg, skipped=skipped)
    for suite in cfg.suites:
        searches = _searches(suite, cfg, None if fixture is None else fixture[suite])
        result.searches[suite] = len(searches)
        progress(
            f"{suite}: {len(searches)} searches x {cfg.orders} orders x {len(pruners)} pruners"
        )
        jobs = [(s, tuple(pruners), cfg.orders, cfg.workers, cfg.seed) for s in searches]
        if cfg.jobs > 1:
            with ProcessPoolExecutor(cfg.jobs) as pool:
                done = list(pool.map(_replay_search, jobs))
        else:
            done = []
            for i, j in enumerate(jobs, 1):
                done.append(_replay_search(j))
                progress(f"  {suite}: search {i}/{len(jobs)} done")
        for results in done:
            for r in results:
                result.rows.append({"suite": suite, **r.to_dict()})
                key = f"{suite}|{r.pruner}"
                result.traces.setdefault(key, []).extend(
                    (p / r.points_full, _norm_regret(best, r)) for p, best in r.trace
                )
    return result


def _norm_regret(best: float, r: ReplayResult) -> float:
    if not math.isfinite(best):
        return 1.0
    return min(1.0, abs(r.best_possible - best) / max(abs(r.best_possible), 1e-12))


def _pooled_median(groups: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    result: NDArray[np.float64] = np.median(np.concatenate(groups, axis=1), axis=1)
    return result


def aggregate(result: PruneResult) -> list[dict[str, Any]]:
    """Per (suite, pruner): speedup median/IQM, regret and relative regret means, with
    stratified bootstrap intervals (strata: tasks; runs: orders)."""
    out = []
    rng = np.random.default_rng(result.config.seed)
    suites = list(dict.fromkeys(r["suite"] for r in result.rows))
    for suite in suites:
        for pruner in list(dict.fromkeys(r["pruner"] for r in result.rows if r["suite"] == suite)):
            rows = [r for r in result.rows if r["suite"] == suite and r["pruner"] == pruner]
            tasks = list(dict.fromkeys(r["task"] for r in rows))

            def groups(
                key: str, rows: list[dict[str, Any]] = rows, tasks: list[str] = tasks
            ) -> list[NDArray[np.float64]]:
                return [
                    np.array([r[key] for r in rows if r["task"] == t], dtype=float) for t in tasks
                ]

            def boot(
                stat: Callable[[list[NDArray[np.float64]]], NDArray[np.float64]], key: str
            ) -> Interval:
                return stratified_bootstrap(groups(key), stat, rng=rng, n_boot=result.config.n_boot)

            out.append({
                "suite": suite, "pruner": pruner, "replays": len(rows), "tasks": len(tasks),
                "speedup_median": boot(_pooled_median, "speedup"),
                "speedup_iqm": boot(pooled_iqm, "speedup"),
                "regret_mean": boot(pooled_mean, "regret"),
                "rel_regret_mean": boot(pooled_mean, "rel_regret"),
                "best_kept": float(np.mean([r["regret"] == 0 for r in rows])),
                "pruned_share": float(np.sum([r["n_pruned"] for r in rows])
                                      / max(1, np.sum([r["n_trials"] for r in rows]))),
                "seconds_per_replay": float(np.mean([r["seconds"] for r in rows])),
            })  # fmt: skip
    return out


def _targets(agg: list[dict[str, Any]]) -> list[str]:
    """The issue's targets, checked per suite on the point estimates."""
    lines = []
    for suite in dict.fromkeys(a["suite"] for a in agg):
        by = {a["pruner"]: a for a in agg if a["suite"] == suite}
        for name in by:
            if curvecast_spec(name) is not None:
                lines.append(f"- **{suite}**, {name}: " + "; ".join(_checks(by, name)))
    return lines


def _checks(by: dict[str, dict[str, Any]], name: str) -> list[str]:
    """The targets for the curvecast pruner ``name`` against the others of one suite."""
    cc = by[name]
    s, g = cc["speedup_median"].estimate, cc["rel_regret_mean"].estimate
    checks = [f"median speedup {s:.2f}x >= 5x: {'yes' if s >= 5 else 'NO'}"]
    if "median" in by:
        ms, mg = (
            by["median"]["speedup_median"].estimate,
            by["median"]["rel_regret_mean"].estimate,
        )
        ok = s >= ms and g <= mg
        checks.append(
            f"vs MedianPruner (speedup {ms:.2f}x, rel. regret {mg:.4f}): {'yes' if ok else 'NO'}"
        )
    for other in ("successive_halving", "hyperband", "asha"):
        if other in by:
            os_, og = (
                by[other]["speedup_median"].estimate,
                by[other]["rel_regret_mean"].estimate,
            )
            better = s >= os_ and g <= og and (s > os_ or g < og)
            dominated = (os_ >= s and og <= g) and (os_ > s or og < g)
            if better:
                verdict = "yes"
            elif s == os_ and g == og:
                verdict = "NO, equal"
            else:
                verdict = "NO, " + ("dominated" if dominated else "a trade-off")
            checks.append(f"Pareto-better than {other} ({os_:.2f}x, {og:.4f}): {verdict}")
    return checks


def write_prune_report(
    result: PruneResult, out: str | os.PathLike[str], *, command_line: str, plots: bool = True
) -> tuple[str, dict[str, Path]]:
    """Write ``prune.md``, ``prune.json`` and (with matplotlib) ``prune_regret.png`` under
    ``out``; return the markdown tables and the paths."""
    import json

    from curvecast.bench.report import environment, header_markdown, jsonable

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = environment(command_line)
    agg = aggregate(result)
    cfg = result.config
    lines = [
        header_markdown("curvecast prune benchmark", env), "",
        f"Each task's configurations form one search, replayed in {cfg.orders} random orders "
        f"with {cfg.workers} trials in flight; at most {cfg.configs} configurations per search. "
        "Speedup = points reported without pruning / with; regret = best final value of all "
        "configurations - best final among completed trials; relative regret = regret / |best|. "
        "Intervals: stratified bootstrap 95% over tasks (strata) and orders (runs). "
        "`oracle` is not a pruner but the bound: it knows every final value and stops every "
        "trial but the best at its first report.", "",
    ]  # fmt: skip
    for suite in dict.fromkeys(a["suite"] for a in agg):
        lines += [
            f"## {suite} ({result.searches.get(suite, 0)} searches)", "",
            "| pruner | speedup median | speedup IQM | mean regret | mean rel. regret | "
            "best kept | trials pruned | s/replay |",
            "|---|---|---|---|---|---|---|---|",
        ]  # fmt: skip
        for a in (a for a in agg if a["suite"] == suite):
            lines.append(
                f"| {a['pruner']} | {a['speedup_median'].format()} | {a['speedup_iqm'].format()} "
                f"| {a['regret_mean'].format()} | {a['rel_regret_mean'].format()} "
                f"| {a['best_kept']:.0%} | {a['pruned_share']:.0%} "
                f"| {a['seconds_per_replay']:.2f} |"
            )
        lines.append("")
    targets = _targets(agg)
    if targets:
        lines += ["## Targets (curvecast)", "", *targets, ""]
    if result.skipped:
        lines += ["Skipped: " + "; ".join(f"{k} ({v})" for k, v in result.skipped.items()), ""]
    md = "\n".join(lines)
    paths = {"markdown": out_dir / "prune.md", "json": out_dir / "prune.json"}
    paths["markdown"].write_text(md, encoding="utf-8")
    paths["json"].write_text(json.dumps(jsonable({
        "environment": env, "config": cfg.__dict__, "aggregates": agg, "rows": result.rows,
        "skipped": result.skipped,
    }), indent=1), encoding="utf-8")  # fmt: skip
    if plots:
        paths["plot"] = _plot(result, out_dir / "prune_regret.png")
        paths["frontier"] = _plot_frontier(agg, out_dir / "prune_frontier.png")
    return md, paths


def _plot_frontier(agg: list[dict[str, Any]], path: Path) -> Path:
    """Speedup against relative regret per suite, with the bootstrap intervals: a pruner is
    Pareto-better than another when it sits to the right of it and no higher. The curvecast
    pruners of one method at several thresholds are joined by a line (their trade-off)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suites = list(dict.fromkeys(a["suite"] for a in agg))
    fig, axes = plt.subplots(1, len(suites), figsize=(5.5 * len(suites), 4.4), squeeze=False)
    for ax, suite in zip(axes[0], suites, strict=True):
        rows = [a for a in agg if a["suite"] == suite and a["pruner"] not in ("none", "oracle")]
        bound = [
            a["speedup_median"].estimate
            for a in agg
            if a["suite"] == suite and a["pruner"] == "oracle"
        ]
        lines: dict[str, list[tuple[float, float]]] = {}
        for a in rows:
            s, g = a["speedup_median"], a["rel_regret_mean"]
            spec = curvecast_spec(a["pruner"])
            style = {"marker": "o", "ms": 7} if spec else {"marker": "s", "ms": 5}
            ax.errorbar(
                s.estimate, g.estimate,
                xerr=[[s.estimate - s.low], [s.high - s.estimate]],
                yerr=[[g.estimate - g.low], [g.high - g.estimate]],
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
            f"{suite}: speedup against regret"
            + (f"\n(oracle bound: {bound[0]:.3g}x at no regret)" if bound else ""),
            fontsize=10,
        )
        ax.set_xlabel("speedup (median; points without pruning / with)")
        ax.set_ylabel("mean relative regret (lower is better)")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot(result: PruneResult, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suites = list(dict.fromkeys(r["suite"] for r in result.rows))
    fig, axes = plt.subplots(1, len(suites), figsize=(5.5 * len(suites), 4.2), squeeze=False)
    grid = np.linspace(0.0, 1.0, 51)
    for ax, suite in zip(axes[0], suites, strict=True):
        for key, pts in result.traces.items():
            s, pruner = key.split("|")
            if s != suite or not pts:
                continue
            arr = np.array(pts)
            # mean over replays of the best-so-far relative regret at each compute fraction
            order = np.argsort(arr[:, 0])
            xs, ys = arr[order, 0], arr[order, 1]
            idx = np.searchsorted(xs, grid, side="right") - 1
            curve = np.where(idx >= 0, ys[np.clip(idx, 0, None)], 1.0)
            ax.plot(grid, curve, label=pruner, lw=2 if pruner == "curvecast" else 1)
        ax.set_title(f"{suite}: regret against compute")
        ax.set_xlabel("compute used (fraction of the unpruned search)")
        ax.set_ylabel("relative regret of the best completed trial")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
