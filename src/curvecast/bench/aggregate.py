"""Aggregate scores over tasks with honest uncertainty, after Agarwal et al. (2021).

"Deep RL at the edge of the statistical precipice" recommends the interquartile mean (IQM) next to
the mean, stratified bootstrap confidence intervals, and the probability of improvement. Here a
*task* plays the part of an RL task (one dataset, one LLM family) and the *runs* of a task are its
curves (configurations and seeds). The stratified bootstrap resamples curves with replacement
within every task, keeping the number of curves per task, and recomputes the statistic.

One departure: a task with a single run has nothing to resample within, and a benchmark limited
to a few curves per suite (``--limit``) may give every task one curve. Such single-run tasks are
resampled among themselves instead (a plain bootstrap over those tasks), so that an interval never
collapses to a point because of how the curves were sampled.

Unlike rliable, every random draw comes from an explicit :class:`numpy.random.Generator`, so a
seed reproduces an interval exactly.

Statistics take the resampled groups as a list of arrays, one per task, each of shape
``(B, n_task, ...)`` (``B`` bootstrap replicates; ``B = 1`` for the point estimate), and return
shape ``(B,)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import trim_mean

from curvecast.bench.metrics import spearman
from curvecast.exceptions import parameter_error

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

Statistic = Callable[[list[NDArray[np.float64]]], NDArray[np.float64]]


@dataclass(frozen=True)
class Interval:
    """A point estimate with a bootstrap confidence interval (NaN when there was no data)."""

    estimate: float
    low: float
    high: float
    n: int = 0

    def to_dict(self) -> dict[str, float | int | None]:
        """JSON-ready: non-finite numbers become None."""
        return {
            "estimate": _finite_or_none(self.estimate),
            "low": _finite_or_none(self.low),
            "high": _finite_or_none(self.high),
            "n": self.n,
        }

    def format(self, digits: int = 3) -> str:
        """``"0.123 [0.100, 0.150]"``, or ``"–"`` without data."""
        if not math.isfinite(self.estimate):
            return "–"
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return f"{self.estimate:.{digits}g}"
        return f"{self.estimate:.{digits}g} [{self.low:.{digits}g}, {self.high:.{digits}g}]"


def _finite_or_none(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


NAN_INTERVAL = Interval(math.nan, math.nan, math.nan, 0)


def iqm(values: ArrayLike, axis: int = -1) -> NDArray[np.float64]:
    """Interquartile mean: the mean of the middle 50% of ``values`` along ``axis`` (25% trimmed
    from each end, as scipy.stats.trim_mean and rliable count them).

    Example:
        >>> float(iqm([1, 2, 3, 4, 5, 6, 7, 100]))
        4.5
    """
    result: NDArray[np.float64] = np.asarray(
        trim_mean(np.asarray(values, dtype=np.float64), 0.25, axis=axis)
    )
    return result


def pooled_mean(groups: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    """Mean over all runs of all tasks. Groups: ``(B, n_task)`` each; returns ``(B,)``."""
    result: NDArray[np.float64] = np.concatenate(groups, axis=1).mean(axis=1)
    return result


def pooled_iqm(groups: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    """IQM over all runs of all tasks. Groups: ``(B, n_task)`` each; returns ``(B,)``."""
    return iqm(np.concatenate(groups, axis=1), axis=1)


def win_fraction(groups: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    """Probability of improvement from paired scores, lower is better (e.g. CRPS).

    Groups: ``(B, n_task, 2)`` each, column 0 method A's score, column 1 method B's on the same
    curve. Per task, the fraction of curves where A scores lower than B (ties count 1/2); then the
    mean over tasks, as rliable averages P(X > Y) over tasks. Returns ``(B,)``.
    """
    per_task = []
    for g in groups:
        a, b = g[..., 0], g[..., 1]
        per_task.append(np.mean((a < b) + 0.5 * (a == b), axis=1))
    result: NDArray[np.float64] = np.mean(np.stack(per_task, axis=1), axis=1)
    return result


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


def stratified_bootstrap(
    groups: Sequence[ArrayLike],
    statistic: Statistic,
    *,
    rng: np.random.Generator,
    n_boot: int = 2000,
    confidence: float = 0.95,
) -> Interval:
    """Point estimate and percentile confidence interval from a stratified bootstrap.

    Args:
        groups: one array per task (stratum), shape ``(n_task, ...)``; tasks with no runs are
            skipped. Runs are resampled with replacement within each task.
        statistic: maps resampled groups (each ``(B, n_task, ...)``) to shape ``(B,)``.
        rng: the only source of randomness; the same state gives the same interval.
        n_boot: number of bootstrap replicates ``B`` (>= 1).
        confidence: the interval's coverage, in (0, 1).

    Returns:
        An :class:`Interval` with the statistic on the data, the percentile interval, and the
        number of runs; all NaN when no task has runs.

    Raises:
        InvalidParameterError: ``n_boot`` or ``confidence`` out of range.

    Example:
        >>> g = [np.array([1.0, 2.0, 3.0]), np.array([10.0, 11.0])]
        >>> iv = stratified_bootstrap(g, pooled_mean, rng=np.random.default_rng(0), n_boot=200)
        >>> iv.estimate, iv.low <= iv.estimate <= iv.high
        (5.4, True)
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise parameter_error("n_boot", "stratified_bootstrap", "a positive int", n_boot)
    if not 0 < confidence < 1:
        raise parameter_error("confidence", "stratified_bootstrap", "a float in (0, 1)", confidence)
    arrays = [np.asarray(g, dtype=np.float64) for g in groups]
    arrays = [a for a in arrays if a.shape[0] > 0]
    if not arrays:
        return NAN_INTERVAL
    n = sum(a.shape[0] for a in arrays)
    estimate = float(statistic([a[None, ...] for a in arrays])[0])
    resampled = [a[rng.integers(0, a.shape[0], size=(n_boot, a.shape[0]))] for a in arrays]
    singles = [i for i, a in enumerate(arrays) if a.shape[0] == 1]
    if len(singles) >= 2:
        # a task with one run has nothing to resample within: resample those tasks among
        # themselves (a plain bootstrap over them) so the interval does not collapse to a point
        draw = rng.integers(0, len(singles), size=(n_boot, len(singles)))
        for j, i in enumerate(singles):
            resampled[i] = np.stack([arrays[singles[k]] for k in draw[:, j]])
    reps = np.asarray(statistic(resampled), dtype=np.float64)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return Interval(estimate, math.nan, math.nan, n)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(reps, [alpha, 1 - alpha])
    return Interval(estimate, float(low), float(high), n)


def prob_improvement(
    a_by_task: Sequence[ArrayLike],
    b_by_task: Sequence[ArrayLike],
    *,
    rng: np.random.Generator,
    n_boot: int = 2000,
    confidence: float = 0.95,
) -> Interval:
    """P(A beats B) for paired scores where lower is better, with a stratified bootstrap CI.

    Args:
        a_by_task, b_by_task: per task, A's and B's scores on the same curves, each ``(n_task,)``
            with the same order; pairs where either score is NaN are dropped.

    Returns:
        The mean over tasks of the fraction of curves where A scores lower (ties 1/2).

    Raises:
        ValueError: the two sides do not have the same number of tasks or curves per task.
    """
    if len(a_by_task) != len(b_by_task):
        raise ValueError("a_by_task and b_by_task must hold the same tasks")
    groups = []
    for a, b in zip(a_by_task, b_by_task, strict=True):
        av = np.asarray(a, dtype=np.float64).reshape(-1)
        bv = np.asarray(b, dtype=np.float64).reshape(-1)
        if av.shape != bv.shape:
            raise ValueError("each task must hold paired scores of the same curves")
        ok = np.isfinite(av) & np.isfinite(bv)
        groups.append(np.stack([av[ok], bv[ok]], axis=1))
    return stratified_bootstrap(groups, win_fraction, rng=rng, n_boot=n_boot, confidence=confidence)


def task_mean(groups: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    """Mean over tasks of each task's mean. Groups: ``(B, n_task)`` each; returns ``(B,)``."""
    result: NDArray[np.float64] = np.mean(np.stack([g.mean(axis=1) for g in groups], 1), axis=1)
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
