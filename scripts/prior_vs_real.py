"""Where the synthetic prior (``curvecast.prior``) is unlike real searches: statistics and plots.

Usage: python scripts/prior_vs_real.py [--data-dir ../shared/data] [--out docs/prior]
                                       [--limit 300] [--tasks 40] [--prior-tasks 2000] [--seed 0]

Loads ``--limit`` curves of each real suite (lcdb, lcbench-surrogate, scanbench-vlm,
scanbench-llm; spread over at most ``--tasks`` tasks so that each task keeps several curves) and
samples ``--prior-tasks`` tasks from ``sample_task(rng, PriorConfig())``. Every curve is put in
"larger is better" space (a minimised metric is negated) and, for the shape statistics, normalised
by its own range (max - min over the whole curve), so that accuracies, losses and perplexities
compare. Diverged curves (NaN, inf, overflow) are counted and left out of the statistics; so are
curves with fewer than 3 points (the real suites drop them when loading).

What it measures, per real suite and for the prior (also per grid kind of the prior):

1. points per curve, and ``x[-1] / x[0]`` (the span of the axis; for geometric grids the ratio
   of the largest to the smallest training-set size or token count);
2. remaining gain: ``(final - y at the 20% / 50% point cutoff) / range``, how much the curve
   still moves after a forecaster's context ends (cutoffs count points, not x);
3. noise: ``curvecast.forecast._util.noise_scale`` (robust std of second differences) of the
   normalised curve;
4. non-monotonicity: the fraction of curves whose best value is more than 5% of the range above
   the final one (overfitting, drops), and the fraction with a late improvement step (in the second
   half: one step up by more than 10% of the range, to a new best, after a flat stretch);
5. within-task Spearman correlation between the values at the 20% cutoff and the finals over the
   curves of one task (real: one dataset / task / FLOPs bin with >= 4 curves; prior: one sampled
   task with >= 4 curves); raw values, not normalised, since normalising per curve erases ranks;
6. for bounded metrics, the final value's gap to the bound it approaches (``1 - accuracy``,
   or the error rate), in metric units.

Writes one PNG per statistic (overlaid density histograms), ``curves.png`` (12 random normalised
curves per source, against the fraction of points) and ``README.md`` with the tables, under
``--out``. Runs on one CPU core in about a minute; set OMP_NUM_THREADS=1 beside a training job.
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import NDArray
from scipy.stats import spearmanr

from curvecast import Curve
from curvecast.bench.sources import SUITES, load_suite
from curvecast.forecast._util import noise_scale
from curvecast.prior import PriorConfig, sample_task

_F = NDArray[np.float64]
CUTOFFS = (0.2, 0.5)
DROP = 0.05  # best above final by more than this fraction of the range: a drop
STEP = 0.10  # a late single step up by more than this fraction of the range
PRIOR = "prior"
COLORS = {
    "lcdb": "tab:blue",
    "lcbench-surrogate": "tab:orange",
    "scanbench-vlm": "tab:green",
    "scanbench-llm": "tab:red",
    PRIOR: "black",
    "prior:linear": "0.35",
    "prior:geometric": "0.55",
    "prior:irregular": "0.75",
}


def cut_index(n: int, frac: float) -> int:
    """Index of the last point a forecaster sees at a ``frac`` cutoff of ``n`` points."""
    return max(0, math.ceil(frac * n) - 1)


def late_step(yn: _F) -> bool:
    """A step up in the second half: > STEP of the range, to a new best, after a flat stretch."""
    n = yn.size
    if n < 8:
        return False
    w = max(2, n // 10)
    best_before = np.maximum.accumulate(yn)[:-1]  # best of yn[:j] for j = 1..n-1
    d = np.diff(yn)  # d[j-1] = yn[j] - yn[j-1]
    j = np.arange(1, n)
    windows = np.lib.stride_tricks.sliding_window_view(yn, w)  # windows[i] = yn[i:i+w]
    ptp = np.full(n - 1, np.inf)
    ok = j >= w
    ptp[ok] = np.ptp(windows[j[ok] - w], axis=1)  # spread of the w points before yn[j]
    hit = (j >= math.ceil(n / 2)) & (d > STEP) & (yn[1:] > best_before + DROP) & (ptp < 0.5 * d)
    return bool(hit.any())


def curve_stats(c: Curve) -> dict[str, float] | None:
    """Per-curve statistics, or None for a diverged or too short curve."""
    if c.diverged or c.y.size < 3:
        return None
    sign = 1.0 if c.direction == "maximize" else -1.0
    y = sign * np.asarray(c.y, dtype=np.float64)
    x = np.asarray(c.x, dtype=np.float64)
    n = y.size
    rng_ = float(np.ptp(y))
    out: dict[str, float] = {"n": n, "xratio": float(x[-1] / x[0]) if x[0] > 0 else math.nan}
    if rng_ <= 0:
        yn = np.zeros_like(y)
    else:
        yn = (y - y.min()) / rng_
    for f in CUTOFFS:
        out[f"gain{int(f * 100)}"] = float(yn[-1] - yn[cut_index(n, f)]) if rng_ > 0 else 0.0
    ns = noise_scale(yn) if rng_ > 0 else None
    out["noise"] = math.nan if ns is None else ns
    out["drop"] = float(yn.max() - yn[-1])
    out["late_step"] = float(late_step(yn))
    out["flat"] = float(rng_ <= 0)
    if c.bounds is not None and c.bounds[1] is not None and math.isfinite(c.bounds[1]):
        lo, hi = c.bounds
        final = float(c.y[-1])
        gap = (hi - final) if c.direction == "maximize" else (final - lo)
        out["bound_gap"] = gap / (hi - lo)
    else:
        out["bound_gap"] = math.nan
    return out


def task_spearman(groups: Sequence[Sequence[Curve]]) -> list[float]:
    """Spearman(value at the 20% cutoff, final) over the curves of each group with >= 4."""
    rhos = []
    for curves in groups:
        good = [c for c in curves if not c.diverged and c.y.size >= 3]
        if len(good) < 4:
            continue
        sign = [1.0 if c.direction == "maximize" else -1.0 for c in good]
        early = [s * c.y[cut_index(c.y.size, 0.2)] for s, c in zip(sign, good, strict=True)]
        final = [s * c.y[-1] for s, c in zip(sign, good, strict=True)]
        if np.ptp(early) == 0 or np.ptp(final) == 0:
            continue
        rhos.append(float(spearmanr(early, final).statistic))
    return rhos


def load_real(data_dir: Path, limit: int, tasks: int, seed: int) -> dict[str, list[list[Curve]]]:
    out = {}
    for name in SUITES:
        curves = load_suite(name, data_dir=data_dir, limit=limit, seed=seed, tasks=tasks)
        groups: dict[str, list[Curve]] = defaultdict(list)
        for c in curves:
            groups[str(c.meta["task"])].append(c)
        out[name] = list(groups.values())
    return out


def sample_prior(n_tasks: int, seed: int) -> list[list[Curve]]:
    rng = np.random.default_rng(seed)
    cfg = PriorConfig()
    return [sample_task(rng, cfg) for _ in range(n_tasks)]


def collect(groups: Sequence[Sequence[Curve]]) -> dict[str, object]:
    """Per-curve stat arrays, Spearman list and counts for one source."""
    curves = [c for g in groups for c in g]
    rows = [s for s in (curve_stats(c) for c in curves) if s is not None]
    keys = rows[0].keys() if rows else []
    arrays = {k: np.array([r[k] for r in rows], dtype=np.float64) for k in keys}
    return {
        "stats": arrays,
        "rho": np.array(task_spearman(groups)),
        "curves": len(curves),
        "tasks": len(groups),
        "diverged": sum(c.diverged for c in curves),
        "short": sum((not c.diverged) and c.y.size < 3 for c in curves),
        "groups": groups,
    }


def fmt(v: _F, digits: int = 2, log: bool = False) -> str:
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "-"
    q = np.percentile(v, [25, 50, 75])
    if log:
        return f"{q[1]:.3g} [{q[0]:.3g}, {q[2]:.3g}]"
    return f"{q[1]:.{digits}f} [{q[0]:.{digits}f}, {q[2]:.{digits}f}]"


def _frac_below(v: _F, t: float) -> str:
    v = v[np.isfinite(v)]
    return f"{np.mean(v < t):.1%}" if v.size else "-"


def hist(ax: plt.Axes, data: dict[str, _F], bins: _F, title: str, xlabel: str) -> None:
    for name, v in data.items():
        v = v[np.isfinite(v)]
        if v.size == 0:
            continue
        prior = name.startswith(PRIOR)
        ax.hist(
            np.clip(v, bins[0], bins[-1]), bins=bins, density=True, histtype="step",
            color=COLORS.get(name, "gray"), lw=2.2 if name == PRIOR else 1.4,
            ls="--" if prior and name != PRIOR else "-", label=f"{name} (n={v.size})",
        )  # fmt: skip
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.legend(fontsize=7)


def save(fig: plt.Figure, path: Path, dpi: int = 80) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    p.add_argument("--out", type=Path, default=Path("docs/prior"))
    p.add_argument("--limit", type=int, default=300, help="curves per real suite")
    p.add_argument("--tasks", type=int, default=40, help="at most this many tasks per suite")
    p.add_argument("--prior-tasks", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    real = load_real(args.data_dir, args.limit, args.tasks, args.seed)
    prior_tasks = sample_prior(args.prior_tasks, args.seed)
    sources: dict[str, dict[str, object]] = {n: collect(g) for n, g in real.items()}
    sources[PRIOR] = collect(prior_tasks)
    for kind in ("linear", "geometric", "irregular"):
        sel = [t for t in prior_tasks if t[0].meta["grid"] == kind]
        sources[f"prior:{kind}"] = collect(sel)
    by_metric = {
        m: collect([t for t in prior_tasks if t[0].meta["metric"] == m])
        for m in ("accuracy", "error_rate", "loss", "perplexity")
    }
    shapes = sorted({t[0].meta["shape"] for t in prior_tasks})
    by_shape = {s: collect([t for t in prior_tasks if t[0].meta["shape"] == s]) for s in shapes}

    def stat(key: str, names: Sequence[str] | None = None) -> dict[str, _F]:
        names = names or list(sources)
        return {n: sources[n]["stats"][key] for n in names}  # type: ignore[index]

    main_names = [*SUITES, PRIOR]
    grid_names = [*SUITES, PRIOR, "prior:linear", "prior:geometric", "prior:irregular"]

    # 1. points and axis span
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    logs = {k: np.log10(v) for k, v in stat("n", grid_names).items()}
    hist(axes[0], logs, np.linspace(0.4, 3.4, 31), "points per curve", "log10(points)")
    logs = {k: np.log10(v) for k, v in stat("xratio", grid_names).items()}
    hist(axes[1], logs, np.linspace(0, 7, 36), "axis span", "log10(x[-1] / x[0])")
    save(fig, out / "1_points_span.png")

    # 2. remaining gain
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, f in zip(axes, CUTOFFS, strict=True):
        key = f"gain{int(f * 100)}"
        hist(ax, stat(key, main_names), np.linspace(-1, 1, 41),
             f"remaining gain after the {int(f * 100)}% point cutoff",
             "(final - y at cutoff) / range, larger is better")  # fmt: skip
    save(fig, out / "2_remaining_gain.png")

    # 3. noise
    fig, ax = plt.subplots(figsize=(7, 4))
    logs = {k: np.log10(np.maximum(v, 1e-5)) for k, v in stat("noise", grid_names).items()}
    hist(ax, logs, np.linspace(-5, 0, 41), "noise / range (robust std of 2nd differences)",
         "log10(noise / range), 1e-5 floor")  # fmt: skip
    save(fig, out / "3_noise.png")

    # 4. non-monotonicity
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    hist(axes[0], stat("drop", main_names), np.linspace(0, 1, 41),
         "drop from best to final", "(best - final) / range")  # fmt: skip
    axes[0].axvline(DROP, color="k", lw=0.8, ls=":")
    names = grid_names
    frac_drop = [np.mean(sources[n]["stats"]["drop"] > DROP) for n in names]  # type: ignore[index]
    frac_step = [np.mean(sources[n]["stats"]["late_step"]) for n in names]  # type: ignore[index]
    pos = np.arange(len(names))
    axes[1].bar(pos - 0.2, frac_drop, 0.4, label=f"best > final + {DROP:.0%} of range")
    axes[1].bar(pos + 0.2, frac_step, 0.4, label="late improvement step")
    axes[1].set_xticks(pos, names, rotation=30, ha="right", fontsize=8)
    axes[1].set_ylabel("fraction of curves")
    axes[1].legend(fontsize=8)
    save(fig, out / "4_non_monotone.png")

    # 5. within-task rank correlation
    fig, ax = plt.subplots(figsize=(7, 4))
    rhos = {n: sources[n]["rho"] for n in grid_names}
    hist(ax, rhos, np.linspace(-1, 1, 21),  # type: ignore[arg-type]
         "within-task Spearman(y at 20% cutoff, final)", "Spearman rho")  # fmt: skip
    save(fig, out / "5_task_rank_corr.png")

    # 6. gap to bound
    fig, ax = plt.subplots(figsize=(7, 4))
    gaps = {
        n: np.log10(np.maximum(v, 1e-4))
        for n, v in stat("bound_gap", ["lcdb", "lcbench-surrogate", PRIOR]).items()
    }
    for m in ("accuracy", "error_rate"):
        gap = by_metric[m]["stats"]["bound_gap"]  # type: ignore[index]
        gaps[f"prior:{m}"] = np.log10(np.maximum(gap, 1e-4))
    hist(ax, gaps, np.linspace(-4, 0, 33), "final value's gap to the bound (bounded metrics)",
         "log10(gap), 1 - accuracy or error rate; 1e-4 floor")  # fmt: skip
    save(fig, out / "6_bound_gap.png")

    # random normalised curves
    rng = np.random.default_rng(args.seed + 1)
    fig, axes = plt.subplots(1, len(main_names), figsize=(17, 3.6), sharey=True)
    for ax, name in zip(axes, main_names, strict=True):
        pool = [c for g in sources[name]["groups"] for c in g  # type: ignore[attr-defined]
                if not c.diverged and c.y.size >= 3 and np.ptp(c.y) > 0]  # fmt: skip
        for i in rng.choice(len(pool), min(12, len(pool)), replace=False):
            c = pool[i]
            y = c.y if c.direction == "maximize" else -c.y
            yn = (y - y.min()) / np.ptp(y)
            lab = c.meta.get("shape", "")
            ax.plot(np.linspace(0, 1, y.size), yn, lw=1, marker="." if y.size < 60 else None,
                    ms=3, label=lab if name == PRIOR else None)  # fmt: skip
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("fraction of points")
        ax.axvline(0.2, color="k", lw=0.5, ls=":")
    axes[0].set_ylabel("normalised, larger is better")
    axes[-1].legend(fontsize=5, loc="lower right", ncol=2, framealpha=0.5)
    save(fig, out / "curves.png", dpi=64)

    write_readme(out, args, sources, grid_names, by_metric, by_shape)


def write_readme(
    out: Path,
    args: argparse.Namespace,
    sources: dict[str, dict[str, object]],
    names: Sequence[str],
    by_metric: dict[str, dict[str, object]],
    by_shape: dict[str, dict[str, object]],
) -> None:
    def s(src: dict[str, object], key: str) -> _F:
        return src["stats"][key]  # type: ignore[index,no-any-return]

    lines = [
        "# The synthetic prior against real curves",
        "",
        f"Written by `scripts/prior_vs_real.py --limit {args.limit} --tasks {args.tasks} "
        f"--prior-tasks {args.prior_tasks} --seed {args.seed}` (see its docstring for the "
        "definitions). Curves are in larger-is-better space, normalised by their own range; "
        "diverged curves and curves with fewer than 3 points are left out of the statistics. "
        "Cells are median [25%, 75%].",
        "",
        "| source | curves (tasks) | diverged | <3 pts | points | x[-1]/x[0] | gain after 20% "
        "| gain after 50% | noise / range | task Spearman (tasks) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in names:
        src = sources[n]
        rho = src["rho"]
        lines.append(
            f"| {n} | {src['curves']} ({src['tasks']}) "
            f"| {src['diverged'] / max(1, src['curves']):.1%} "  # type: ignore[operator]
            f"| {src['short'] / max(1, src['curves']):.1%} "  # type: ignore[operator]
            f"| {fmt(s(src, 'n'), 0)} | {fmt(s(src, 'xratio'), log=True)} "
            f"| {fmt(s(src, 'gain20'))} | {fmt(s(src, 'gain50'))} "
            f"| {fmt(s(src, 'noise'), log=True)} "
            f"| {fmt(rho, 2)} ({len(rho)}) |"  # type: ignore[arg-type]
        )
    lines += [
        "",
        "| source | best > final + 5% of range | late improvement step | flat (range 0) "
        "| gap to bound (bounded metrics) | gap < 0.05 |",
        "|---|---|---|---|---|---|",
    ]
    rows = [(n, sources[n]) for n in names] + [(f"prior:{m}", v) for m, v in by_metric.items()]
    for n, src in rows:
        lines.append(
            f"| {n} | {np.mean(s(src, 'drop') > DROP):.1%} | {np.mean(s(src, 'late_step')):.1%} "
            f"| {np.mean(s(src, 'flat')):.1%} | {fmt(s(src, 'bound_gap'), log=True)} "
            f"| {_frac_below(s(src, 'bound_gap'), 0.05)} |"
        )
    lines += [
        "",
        "The prior by shape:",
        "",
        "| shape | curves | gain after 20% | best > final + 5% | late step | noise / range "
        "| task Spearman |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, src in by_shape.items():
        lines.append(
            f"| {n} | {src['curves']} | {fmt(s(src, 'gain20'))} "
            f"| {np.mean(s(src, 'drop') > DROP):.1%} | {np.mean(s(src, 'late_step')):.1%} "
            f"| {fmt(s(src, 'noise'), log=True)} | {fmt(src['rho'], 2)} |"  # type: ignore[arg-type]
        )
    lines += [
        "",
        "Caveats: the cutoffs count points, so a curve of 5 or fewer points has its 20% cutoff at "
        "the first point (remaining gain 1 for a monotone curve: most of scanbench-llm); on curves "
        "of under about 10 points the second differences still hold trend, so their noise is an "
        "upper bound; scanbench-llm has only 3 tasks (FLOPs bins) for the rank correlation; "
        "lcbench-surrogate curves come from a smooth surrogate, so their noise is far below a real "
        "run's.",
        "",
        "Figures: `1_points_span.png` (points per curve, axis span), `2_remaining_gain.png`, "
        "`3_noise.png`, `4_non_monotone.png`, `5_task_rank_corr.png`, `6_bound_gap.png`, "
        "`curves.png` (12 random normalised curves per source; dotted line: 20% cutoff).",
        "",
    ]
    (out / "README.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
