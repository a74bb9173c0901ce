"""The stratified bootstrap and the statistics it resamples, after Agarwal et al. (2021).

"Deep RL at the edge of the statistical precipice" recommends the interquartile mean (IQM) next to
the mean, stratified bootstrap confidence intervals, and the probability of improvement. A *task*
is a stratum (one dataset, one benchmark problem) and the *runs* of a task are its seeds (or
curves). The stratified bootstrap resamples runs with replacement within every task, keeping the
number of runs per task, and recomputes the statistic; tasks may hold different numbers of runs.

One departure from rliable: a task with a single run has nothing to resample within. Such
single-run tasks are resampled among themselves instead (a plain bootstrap over those tasks), so
that an interval never collapses to a point because of how the runs were sampled.

Unlike rliable, every random draw comes from an explicit :class:`numpy.random.Generator`, so a
seed reproduces an interval exactly.

Statistics take the resampled groups as a list of arrays, one per task, each of shape
``(B, n_task, ...)`` (``B`` bootstrap replicates; ``B = 1`` for the point estimate), and return
shape ``(B,)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import trim_mean

from curvecast.exceptions import parameter_error

__all__ = [
    "NAN_INTERVAL",
    "Interval",
    "Statistic",
    "iqm",
    "paired_prob_improvement",
    "percentile_interval",
    "pooled_iqm",
    "pooled_mean",
    "resample",
    "stratified_bootstrap",
    "task_mean",
    "task_median",
    "win_fraction",
]

Statistic = Callable[[list[NDArray[np.float64]]], NDArray[np.float64]]


@dataclass(frozen=True)
class Interval:
    """A point estimate with a bootstrap confidence interval (NaN when there was no data).

    Example:
        >>> Interval(0.5, 0.4, 0.6, 10).format()
        '0.5 [0.4, 0.6]'
    """

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

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in ``[low, high]`` (False when the interval is undefined)."""
        return bool(self.low <= value <= self.high)


def _finite_or_none(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


NAN_INTERVAL = Interval(math.nan, math.nan, math.nan, 0)


def iqm(values: ArrayLike, axis: int | None = -1) -> NDArray[np.float64]:
    """Interquartile mean: the mean of the middle 50% of ``values`` along ``axis`` (25% trimmed
    from each end, as scipy.stats.trim_mean and rliable count them); ``axis=None`` pools all.

    Example:
        >>> float(iqm([1, 2, 3, 4, 5, 6, 7, 100]))
        4.5
    """
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise parameter_error("values", "iqm", "an array of numbers", values) from None
    if arr.size == 0:
        raise parameter_error("values", "iqm", "a non-empty array of numbers", values)
    try:
        result: NDArray[np.float64] = np.asarray(trim_mean(arr, 0.25, axis=axis))
    except (np.exceptions.AxisError, TypeError):
        expected = f"None or an axis of a {arr.ndim}-D array"
        raise parameter_error("axis", "iqm", expected, axis) from None
    return result


def pooled_mean(groups: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    """Mean over all runs of all tasks. Groups: ``(B, n_task)`` each; returns ``(B,)``."""
    result: NDArray[np.float64] = np.concatenate(groups, axis=1).mean(axis=1)
    return result


def pooled_iqm(groups: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    """IQM over all runs of all tasks (rliable's ``aggregate_iqm``). Groups: ``(B, n_task)``
    each; returns ``(B,)``."""
    return iqm(np.concatenate(groups, axis=1), axis=1)


def task_mean(groups: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    """Mean over tasks of each task's mean (rliable's ``aggregate_mean``). Groups: ``(B, n_task)``
    each; returns ``(B,)``."""
    result: NDArray[np.float64] = np.mean(np.stack([g.mean(axis=1) for g in groups], 1), axis=1)
    return result


def task_median(groups: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    """Median over tasks of each task's mean (rliable's ``aggregate_median``). Groups:
    ``(B, n_task)`` each; returns ``(B,)``."""
    result: NDArray[np.float64] = np.median(np.stack([g.mean(axis=1) for g in groups], 1), axis=1)
    return result


def win_fraction(groups: list[NDArray[np.float64]]) -> NDArray[np.float64]:
    """Probability of improvement from paired scores, lower is better (e.g. CRPS).

    Groups: ``(B, n_task, 2)`` each, column 0 method A's score, column 1 method B's on the same
    run. Per task, the fraction of runs where A scores lower than B (ties count 1/2); then the
    mean over tasks, as rliable averages P(X > Y) over tasks. Returns ``(B,)``.
    """
    per_task = []
    for g in groups:
        a, b = g[..., 0], g[..., 1]
        per_task.append(np.mean((a < b) + 0.5 * (a == b), axis=1))
    result: NDArray[np.float64] = np.mean(np.stack(per_task, axis=1), axis=1)
    return result


def _check_boot(n_boot: int, confidence: float, owner: str) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise parameter_error("n_boot", owner, "a positive int", n_boot)
    if not 0 < confidence < 1:
        raise parameter_error("confidence", owner, "a float in (0, 1)", confidence)


def resample(
    arrays: Sequence[NDArray[np.float64]], *, rng: np.random.Generator, n_boot: int
) -> list[NDArray[np.float64]]:
    """Stratified resamples: for each task array ``(n_task, ...)`` one ``(n_boot, n_task, ...)``
    array of its runs drawn with replacement; tasks with a single run are resampled among
    themselves (see the module docstring). Every task must hold at least one run."""
    resampled = [a[rng.integers(0, a.shape[0], size=(n_boot, a.shape[0]))] for a in arrays]
    singles = [i for i, a in enumerate(arrays) if a.shape[0] == 1]
    if len(singles) >= 2:
        # a task with one run has nothing to resample within: resample those tasks among
        # themselves (a plain bootstrap over them) so the interval does not collapse to a point
        draw = rng.integers(0, len(singles), size=(n_boot, len(singles)))
        for j, i in enumerate(singles):
            resampled[i] = np.stack([arrays[singles[k]] for k in draw[:, j]])
    return resampled


def percentile_interval(estimate: float, reps: ArrayLike, confidence: float, n: int) -> Interval:
    """The percentile interval of the finite bootstrap replicates ``reps`` (shape ``(B,)``), as
    rliable (and arch's ``conf_int(method='percentile')``) compute it."""
    values = np.asarray(reps, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Interval(estimate, math.nan, math.nan, n)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return Interval(estimate, float(low), float(high), n)


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
    _check_boot(n_boot, confidence, "stratified_bootstrap")
    arrays = [np.asarray(g, dtype=np.float64) for g in groups]
    arrays = [a for a in arrays if a.shape[0] > 0]
    if not arrays:
        return NAN_INTERVAL
    n = sum(a.shape[0] for a in arrays)
    estimate = float(statistic([a[None, ...] for a in arrays])[0])
    reps = statistic(resample(arrays, rng=rng, n_boot=n_boot))
    return percentile_interval(estimate, reps, confidence, n)


def paired_prob_improvement(
    a_by_task: Sequence[ArrayLike],
    b_by_task: Sequence[ArrayLike],
    *,
    rng: np.random.Generator,
    n_boot: int = 2000,
    confidence: float = 0.95,
) -> Interval:
    """P(A beats B) for paired scores where lower is better, with a stratified bootstrap CI.

    Args:
        a_by_task, b_by_task: per task, A's and B's scores on the same runs, each ``(n_task,)``
            with the same order; pairs where either score is NaN are dropped.

    Returns:
        The mean over tasks of the fraction of runs where A scores lower (ties 1/2).

    Raises:
        ValueError: the two sides do not have the same number of tasks or runs per task.

    Example:
        >>> iv = paired_prob_improvement([[1.0, 2.0]], [[3.0, 4.0]], rng=np.random.default_rng(0))
        >>> iv.estimate
        1.0
    """
    if len(a_by_task) != len(b_by_task):
        raise ValueError("a_by_task and b_by_task must hold the same tasks")
    groups = []
    for a, b in zip(a_by_task, b_by_task, strict=True):
        av = np.asarray(a, dtype=np.float64).reshape(-1)
        bv = np.asarray(b, dtype=np.float64).reshape(-1)
        if av.shape != bv.shape:
            raise ValueError("each task must hold paired scores of the same runs")
        ok = np.isfinite(av) & np.isfinite(bv)
        groups.append(np.stack([av[ok], bv[ok]], axis=1))
    return stratified_bootstrap(groups, win_fraction, rng=rng, n_boot=n_boot, confidence=confidence)
