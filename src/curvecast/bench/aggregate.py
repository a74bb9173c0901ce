"""Aggregate benchmark scores over tasks with honest uncertainty, after Agarwal et al. (2021).

Here a *task* plays the part of an RL task (one dataset, one LLM family) and the *runs* of a task
are its curves (configurations and seeds). The interval machinery (IQM, the stratified bootstrap,
the probability of improvement) is :mod:`curvecast.stats`'s, re-exported here; this module adds
the benchmark's own statistics (Spearman over tasks) and the summaries of its raw rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from curvecast.bench.metrics import spearman
from curvecast.stats._bootstrap import (
    NAN_INTERVAL,
    Interval,
    Statistic,
    iqm,
    pooled_iqm,
    pooled_mean,
    stratified_bootstrap,
    task_mean,
    win_fraction,
)
from curvecast.stats._bootstrap import paired_prob_improvement as prob_improvement

__all__ = [
    "Interval",
    "iqm",
    "pairwise",
    "pooled_iqm",
    "pooled_mean",
    "prob_improvement",
    "stratified_bootstrap",
    "summarise",
    "task_mean",
    "task_mean_spearman",
    "win_fraction",
]


def task_mean_spearman(groups: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    """Mean over tasks of the Spearman correlation between forecast and truth.

    Groups: ``(B, n_task, 2)`` each, column 0 the forecast median, column 1 the true final value,
    one row per configuration of the task. Tasks with fewer than 3 configurations, or where a
    replicate has no ranking (all equal), are left out of that replicate's mean. Returns ``(B,)``.
    """
    rhos = [spearman(g[..., 0], g[..., 1]) for g in groups if g.shape[1] >= 3]
    if not rhos:
        return np.full(groups[0].shape[0] if groups else 1, np.nan)
    stacked = np.stack(rhos, axis=1)  # (B, n_tasks)
    with np.errstate(invalid="ignore"):
        count = np.sum(np.isfinite(stacked), axis=1)
        total = np.nansum(stacked, axis=1)
        result: NDArray[np.float64] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return result


def _by_task(rows: Sequence[Mapping[str, Any]], key: str) -> list[NDArray[np.float64]]:
    """Finite values of ``key`` grouped by task, one ``(n_task,)`` array per task."""
    groups: dict[str, list[float]] = {}
    for r in rows:
        v = float(r[key])
        if math.isfinite(v):
            groups.setdefault(str(r["task"]), []).append(v)
    return [np.asarray(v) for _, v in sorted(groups.items())]


def summarise(
    rows: Sequence[Mapping[str, Any]],
    *,
    rng: np.random.Generator,
    n_boot: int = 2000,
    baseline: str = "last_value",
) -> list[dict[str, Any]]:
    """One summary per (suite, cutoff, method) from the benchmark's raw rows.

    Scores stay in each suite's units (no normalisation across suites). Every interval is a
    stratified bootstrap over the suite's tasks (curves resampled within each task).

    Args:
        rows: raw rows of :func:`curvecast.bench.runner.evaluate_curve`.
        rng: the Generator every bootstrap draws from (in a fixed order).
        n_boot: bootstrap replicates per interval.
        baseline: the method that ``p_beats_baseline`` compares against (CRPS, paired by curve).

    Returns:
        Dicts with suite, cutoff, method, n (curves run), scored, diverged (true final not
        finite), forecast_diverged, failed, and Intervals crps_iqm, crps_mean, abs_error_iqm,
        loglik_iqm, cover50, cover90, spearman (mean over tasks with >= 3 configurations),
        p_beats_baseline; seconds_median (forecast time per curve).
    """
    cells: dict[tuple[str, float, str], list[Mapping[str, Any]]] = {}
    for r in rows:
        cells.setdefault((str(r["suite"]), float(r["cutoff"]), str(r["method"])), []).append(r)
    out: list[dict[str, Any]] = []
    for (suite, cutoff, method), sel in sorted(cells.items()):
        ok = [r for r in sel if r["error"] is None and not r["truth_diverged"]]

        def boot(groups: Sequence[ArrayLike], stat: Statistic) -> Interval:
            return stratified_bootstrap(groups, stat, rng=rng, n_boot=n_boot)

        crps = _by_task(ok, "crps")
        pairs: dict[str, list[tuple[float, float]]] = {}
        for r in ok:
            if math.isfinite(float(r["median"])):
                pairs.setdefault(str(r["task"]), []).append((float(r["median"]), r["y_final"]))
        rank_groups = [np.asarray(v) for _, v in sorted(pairs.items()) if len(v) >= 3]
        summary: dict[str, Any] = {
            "suite": suite,
            "cutoff": cutoff,
            "method": method,
            "n": len(sel),
            "scored": sum(g.size for g in crps),
            "diverged": sum(1 for r in sel if r["truth_diverged"]),
            "forecast_diverged": sum(1 for r in sel if r["forecast_diverged"]),
            "failed": sum(1 for r in sel if r["error"] is not None),
            "crps_iqm": boot(crps, pooled_iqm),
            "crps_mean": boot(crps, pooled_mean),
            "abs_error_iqm": boot(_by_task(ok, "abs_error"), pooled_iqm),
            "loglik_iqm": boot(_by_task(ok, "loglik"), pooled_iqm),
            "cover50": boot(_by_task(ok, "cover50"), pooled_mean),
            "cover90": boot(_by_task(ok, "cover90"), pooled_mean),
            "spearman": boot(rank_groups, task_mean_spearman),
            "spearman_tasks": len(rank_groups),
            "seconds_median": float(np.median([r["seconds"] for r in sel])) if sel else math.nan,
        }
        if method == baseline:
            summary["p_beats_baseline"] = NAN_INTERVAL
        else:
            base = {r["curve"]: r for r in cells.get((suite, cutoff, baseline), [])}
            a_groups, b_groups = _paired(ok, base)
            summary["p_beats_baseline"] = prob_improvement(
                a_groups, b_groups, rng=rng, n_boot=n_boot
            )
        out.append(summary)
    return out


def _paired(
    rows: Sequence[Mapping[str, Any]], base: Mapping[int, Mapping[str, Any]]
) -> tuple[list[NDArray[np.float64]], list[NDArray[np.float64]]]:
    """CRPS of ``rows`` and of the same curves in ``base``, grouped by task."""
    a: dict[str, list[float]] = {}
    b: dict[str, list[float]] = {}
    for r in rows:
        other = base.get(r["curve"])
        if other is None:
            continue
        a.setdefault(str(r["task"]), []).append(float(r["crps"]))
        b.setdefault(str(r["task"]), []).append(float(other["crps"]))
    tasks = sorted(a)
    return [np.asarray(a[t]) for t in tasks], [np.asarray(b[t]) for t in tasks]


def pairwise(
    rows: Sequence[Mapping[str, Any]],
    methods: Sequence[str],
    *,
    rng: np.random.Generator,
    n_boot: int = 2000,
) -> dict[str, dict[str, dict[str, Interval]]]:
    """P(A beats B) on CRPS for every pair of methods, per suite, over all cutoffs.

    The unit is a curve: its score is the fraction of cutoffs at which A's CRPS is below B's
    (ties 1/2; cutoffs where either is missing are left out). Per task the mean over curves, then
    the mean over tasks; curves are resampled within tasks for the interval.

    Returns:
        ``{suite: {A: {B: Interval}}}`` for A != B that share at least one scored curve.
    """
    crps: dict[tuple[str, str, int, float], float] = {}
    tasks: dict[tuple[str, int], str] = {}
    for r in rows:
        v = float(r["crps"])
        if r["error"] is None and math.isfinite(v):
            crps[(str(r["suite"]), str(r["method"]), int(r["curve"]), float(r["cutoff"]))] = v
            tasks[(str(r["suite"]), int(r["curve"]))] = str(r["task"])
    cutoffs = sorted({k[3] for k in crps})
    out: dict[str, dict[str, dict[str, Interval]]] = {}
    for suite in sorted({k[0] for k in tasks}):
        curves = sorted(c for s, c in tasks if s == suite)
        out[suite] = {}
        for a in methods:
            out[suite][a] = {}
            for b in methods:
                if a == b:
                    continue
                groups: dict[str, list[float]] = {}
                for c in curves:
                    wins = []
                    for cut in cutoffs:
                        sa = crps.get((suite, a, c, cut))
                        sb = crps.get((suite, b, c, cut))
                        if sa is not None and sb is not None:
                            wins.append(1.0 if sa < sb else 0.5 if sa == sb else 0.0)
                    if wins:
                        groups.setdefault(tasks[(suite, c)], []).append(float(np.mean(wins)))
                if groups:
                    arrays = [np.asarray(v) for _, v in sorted(groups.items())]
                    out[suite][a][b] = stratified_bootstrap(
                        arrays, task_mean, rng=rng, n_boot=n_boot
                    )
    return out
