"""rliable's aggregate metrics, probability of improvement and performance profiles.

Scores of one method are given per task: either rliable's matrix of shape
(``num_runs`` x ``num_tasks``) or a sequence of ``num_tasks`` arrays of shape ``(n_task,)``, so that
tasks may hold different numbers of runs. Higher scores are better here; negate a loss first
(:func:`curvecast.stats.compare` does that for ``direction="minimize"``).

The definitions are rliable's (Agarwal et al. 2021), and ``tests/stats/test_rliable_parity.py``
runs both on the same arrays: IQM pools all runs of all tasks and trims 25% from each end; mean and
median are over the tasks' mean scores; the optimality gap is ``gamma - mean(min(score, gamma))``
over all runs; the probability of improvement is, per task, ``P(X > Y)`` over all pairs of runs
(the Mann-Whitney U statistic over ``n_x * n_y``, ties 1/2), averaged over tasks, with X's and Y's
runs resampled independently within each task; the performance profile (score distribution) is
the fraction of runs above each threshold ``tau``. With equal runs per task, pooled and per-task
averages agree; with unequal ones, IQM and optimality gap weight a task by its runs and the rest
weight tasks equally.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from curvecast.exceptions import parameter_error
from curvecast.stats._bootstrap import (
    Interval,
    Statistic,
    _check_boot,
    percentile_interval,
    pooled_iqm,
    resample,
    stratified_bootstrap,
    task_mean,
    task_median,
)

__all__ = [
    "AGGREGATES",
    "Profile",
    "aggregate_intervals",
    "as_groups",
    "difference",
    "optimality_gap",
    "performance_profile",
    "probability_of_improvement",
]

Groups = list[NDArray[np.float64]]


def as_groups(scores: Any, *, name: str = "scores", owner: str = "curvecast.stats") -> Groups:
    """Scores as one finite float array per task.

    Args:
        scores: a (``num_runs`` x ``num_tasks``) matrix, or a sequence of per-task 1-D arrays.

    Raises:
        InvalidParameterError: no task, a task without runs, or a non-finite score.

    Example:
        >>> [g.tolist() for g in as_groups([[1, 2], [3, 4]])]
        [[1.0, 3.0], [2.0, 4.0]]
    """
    expected = "a (num_runs x num_tasks) matrix or one array of runs per task"
    try:
        if isinstance(scores, Sequence) and all(isinstance(s, np.ndarray) for s in scores):
            groups = [np.asarray(s, dtype=np.float64) for s in scores]
        else:
            try:
                matrix = np.asarray(scores, dtype=np.float64)
            except ValueError:  # ragged: one list of runs per task
                groups = [np.asarray(s, dtype=np.float64) for s in scores]
            else:
                if matrix.ndim != 2:
                    raise parameter_error(name, owner, expected, scores)
                groups = [matrix[:, j] for j in range(matrix.shape[1])]
    except (TypeError, ValueError):
        raise parameter_error(name, owner, expected + " of numbers", scores) from None
    if any(g.ndim != 1 for g in groups):
        raise parameter_error(name, owner, expected, scores)
    if not groups or any(g.size == 0 for g in groups):
        raise parameter_error(name, owner, "at least one run on every task", scores)
    if not all(np.all(np.isfinite(g)) for g in groups):
        raise parameter_error(name, owner, "finite numbers (no NaN or inf)", scores)
    return groups


def optimality_gap(gamma: float = 1.0) -> Statistic:
    """The statistic ``gamma - mean(min(score, gamma))`` over all runs of all tasks (rliable's
    ``aggregate_optimality_gap``): how far the runs fall short of the target ``gamma``, with
    runs above it counting as reaching it. Groups: ``(B, n_task)`` each; returns ``(B,)``.

    Example:
        >>> float(optimality_gap(1.0)([np.array([[0.5, 1.5]])])[0])
        0.25
    """
    return functools.partial(_gap, gamma=float(gamma))


def _gap(groups: Groups, gamma: float) -> NDArray[np.float64]:
    pooled = np.concatenate(groups, axis=1)
    result: NDArray[np.float64] = gamma - np.minimum(pooled, gamma).mean(axis=1)
    return result


#: The four aggregates of rliable, by the name the compare table prints.
AGGREGATES: dict[str, Statistic] = {
    "iqm": pooled_iqm,
    "mean": task_mean,
    "median": task_median,
}


def aggregate_intervals(
    scores: Any,
    *,
    rng: np.random.Generator,
    gamma: float = 1.0,
    n_boot: int = 2000,
    confidence: float = 0.95,
) -> dict[str, Interval]:
    """IQM, mean, median and optimality gap of one method, each with a stratified bootstrap
    percentile interval (rliable's ``get_interval_estimates``).

    Args:
        scores: (``num_runs`` x ``num_tasks``) or one ``(n_task,)`` array per task; higher is
            better.
        rng: the only source of randomness; the statistics are drawn in the order of the keys.
        gamma: the optimality gap's target.
        n_boot, confidence: replicates and coverage of every interval.

    Returns:
        ``{"iqm", "mean", "median", "optimality_gap"}`` to :class:`Interval`.

    Example:
        >>> out = aggregate_intervals([[0.1, 0.9], [0.2, 0.8]], rng=np.random.default_rng(0))
        >>> round(out["mean"].estimate, 3)
        0.5
    """
    groups = as_groups(scores, owner="aggregate_intervals")
    stats = {**AGGREGATES, "optimality_gap": optimality_gap(gamma)}
    return {
        key: stratified_bootstrap(groups, stat, rng=rng, n_boot=n_boot, confidence=confidence)
        for key, stat in stats.items()
    }


def _two_sample(
    x: Groups,
    y: Groups,
    statistic: Any,
    *,
    rng: np.random.Generator,
    n_boot: int,
    confidence: float,
) -> Interval:
    """A statistic of two methods, X's and Y's runs resampled independently within every task
    (rliable's StratifiedIndependentBootstrap); ``statistic(xs, ys) -> (B,)``."""
    if len(x) != len(y):
        raise parameter_error(
            "scores_y", "probability_of_improvement", f"scores on the same {len(x)} tasks", len(y)
        )
    estimate = float(statistic([g[None] for g in x], [g[None] for g in y])[0])
    reps = statistic(resample(x, rng=rng, n_boot=n_boot), resample(y, rng=rng, n_boot=n_boot))
    return percentile_interval(estimate, reps, confidence, sum(g.size for g in x + y))


def _p_greater(xs: Groups, ys: Groups) -> NDArray[np.float64]:
    """Per task ``P(X > Y)`` over all pairs (ties 1/2), mean over tasks; ``(B,)``."""
    per_task = []
    for xb, yb in zip(xs, ys, strict=True):
        n_boot, nx, ny = xb.shape[0], xb.shape[1], yb.shape[1]
        step = max(1, 4_000_000 // (nx * ny))  # bound the (chunk, nx, ny) comparison array
        wins = np.empty(n_boot)
        for lo in range(0, n_boot, step):
            xc, yc = xb[lo : lo + step, :, None], yb[lo : lo + step, None, :]
            wins[lo : lo + step] = ((xc > yc) + 0.5 * (xc == yc)).sum(axis=(1, 2))
        per_task.append(wins / (nx * ny))
    result: NDArray[np.float64] = np.mean(np.stack(per_task, axis=1), axis=1)
    return result


def probability_of_improvement(
    scores_x: Any,
    scores_y: Any,
    *,
    rng: np.random.Generator,
    n_boot: int = 2000,
    confidence: float = 0.95,
) -> Interval:
    """P(X > Y): the probability that a run of X scores higher than a run of Y on a task drawn
    at random, with a stratified bootstrap interval (rliable's ``probability_of_improvement``).

    Args:
        scores_x, scores_y: per method (``num_runs`` x ``num_tasks``) or one array per task, on
            the same tasks in the same order; the numbers of runs may differ.
        rng, n_boot, confidence: as :func:`stratified_bootstrap`.

    Returns:
        An :class:`Interval`; 0.5 means no difference, 1.0 that X always wins.

    Raises:
        InvalidParameterError: the two do not cover the same number of tasks.

    Example:
        >>> iv = probability_of_improvement([[2.0], [3.0]], [[1.0], [1.5]],
        ...                                 rng=np.random.default_rng(0), n_boot=100)
        >>> iv.estimate
        1.0
    """
    _check_boot(n_boot, confidence, "probability_of_improvement")
    x = as_groups(scores_x, name="scores_x", owner="probability_of_improvement")
    y = as_groups(scores_y, name="scores_y", owner="probability_of_improvement")
    return _two_sample(x, y, _p_greater, rng=rng, n_boot=n_boot, confidence=confidence)


def difference(
    scores_x: Any,
    scores_y: Any,
    statistic: Statistic,
    *,
    rng: np.random.Generator,
    n_boot: int = 2000,
    confidence: float = 0.95,
) -> Interval:
    """``statistic(X) - statistic(Y)`` with an interval from resampling X's and Y's runs
    independently within every task. Same shapes as :func:`probability_of_improvement`.

    Example:
        >>> iv = difference([[2.0, 2.0]], [[1.0, 1.0]], task_mean, rng=np.random.default_rng(0))
        >>> iv.estimate
        1.0
    """
    _check_boot(n_boot, confidence, "difference")
    x = as_groups(scores_x, name="scores_x", owner="difference")
    y = as_groups(scores_y, name="scores_y", owner="difference")

    def diff(xs: Groups, ys: Groups) -> NDArray[np.float64]:
        result: NDArray[np.float64] = statistic(xs) - statistic(ys)
        return result

    return _two_sample(x, y, diff, rng=rng, n_boot=n_boot, confidence=confidence)


@dataclass(frozen=True)
class Profile:
    """A performance profile: the fraction of runs scoring above each threshold, with bands.

    Attributes:
        taus: thresholds, shape ``(T,)``.
        fraction, low, high: estimate and interval bounds at each threshold, shape ``(T,)``.
    """

    taus: NDArray[np.float64]
    fraction: NDArray[np.float64]
    low: NDArray[np.float64]
    high: NDArray[np.float64]

    def to_dict(self) -> dict[str, list[float]]:
        return {
            "taus": self.taus.tolist(),
            "fraction": self.fraction.tolist(),
            "low": self.low.tolist(),
            "high": self.high.tolist(),
        }


def performance_profile(
    scores: Any,
    taus: ArrayLike,
    *,
    rng: np.random.Generator,
    n_boot: int = 2000,
    confidence: float = 0.95,
) -> Profile:
    """The score distribution ``tau -> fraction of runs with score > tau`` (rliable's
    ``create_performance_profile`` with ``use_score_distribution=True``), tasks weighted
    equally, with pointwise stratified bootstrap bands.

    Args:
        scores: (``num_runs`` x ``num_tasks``) or one array per task.
        taus: thresholds, shape ``(T,)``.

    Example:
        >>> p = performance_profile([[0.0, 1.0]], [0.5], rng=np.random.default_rng(0), n_boot=50)
        >>> p.fraction.tolist()
        [0.5]
    """
    _check_boot(n_boot, confidence, "performance_profile")
    groups = as_groups(scores, owner="performance_profile")
    t = np.asarray(taus, dtype=np.float64).reshape(-1)
    if t.size == 0 or not np.all(np.isfinite(t)):
        raise parameter_error("taus", "performance_profile", "finite thresholds", taus)

    def frac(gs: Groups) -> NDArray[np.float64]:  # (B, T)
        per_task = [np.mean(g[..., None] > t, axis=1) for g in gs]
        result: NDArray[np.float64] = np.mean(np.stack(per_task, axis=0), axis=0)
        return result

    point = frac([g[None] for g in groups])[0]
    reps = frac(resample(groups, rng=rng, n_boot=n_boot))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(reps, [alpha, 1 - alpha], axis=0)
    return Profile(t, point, low, high)
