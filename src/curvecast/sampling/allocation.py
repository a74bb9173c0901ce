"""Where to sample next: spend a sample budget on the problems that still move the forecast.

At large ``k`` a problem already solved contributes about 1 to pass@k whatever more samples show,
and one whose rate is surely tiny contributes about 0; the forecast's uncertainty sits in the
problems in between. :func:`allocate` splits a budget in proportion to each problem's posterior
variance of ``1 - (1 - p_i)^k`` (test-time early stopping: solved and hopeless problems get
none). :func:`simulate_allocation` replays that policy round by round on a matrix of outcomes,
as the benchmark does.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from curvecast.exceptions import parameter_error
from curvecast.sampling._data import SampleCounts
from curvecast.sampling._model import PassAtKModel

__all__ = ["allocate", "simulate_allocation"]


def _split(budget: int, score: NDArray[np.float64], cap: NDArray[np.int64]) -> NDArray[np.int64]:
    """Integers summing to at most ``budget``, about proportional to ``score``, each <= cap."""
    out = np.zeros(score.size, dtype=np.int64)
    left = int(budget)
    score = np.where(cap > 0, score, 0.0)
    for _ in range(20):  # re-spread what the caps refuse
        s = np.where(out < cap, score, 0.0)
        if left <= 0 or s.sum() <= 0:
            break
        share = left * s / s.sum()
        add = np.minimum(np.floor(share).astype(np.int64), cap - out)
        if add.sum() == 0:  # hand out the remainder one by one, largest share first
            for i in np.argsort(-share):
                if left == 0:
                    break
                if out[i] < cap[i] and s[i] > 0:
                    out[i] += 1
                    left -= 1
            break
        out += add
        left -= int(add.sum())
    return out


def allocate(
    counts: SampleCounts,
    budget: int,
    k: float = 10_000,
    *,
    cap: ArrayLike | None = None,
    model: PassAtKModel | None = None,
) -> NDArray[np.int64]:
    """How many more samples to draw on each problem.

    Args:
        counts: what has been drawn so far.
        budget: samples to spend now, >= 0.
        k: the sample count whose forecast should be sharp (the largest you care about).
        cap: at most this many more per problem, shape (``n_problems``,) (default: no cap).
        model: an unfitted :class:`PassAtKModel` to use (default: one without bootstrap).

    Returns:
        Samples to draw per problem, shape (``n_problems``,), summing to at most ``budget``
        (less only where the caps or a zero variance everywhere leave nothing to spend on).

    Raises:
        InvalidParameterError: a negative budget or ``k < 1``.
    """
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 0:
        raise parameter_error("budget", "allocate", "an integer >= 0", budget)
    if not (isinstance(k, int | float) and k >= 1):
        raise parameter_error("k", "allocate", "a number >= 1", k)
    fitted = (model or PassAtKModel(n_bootstrap=0)).fit(counts)
    var = fitted.problem_variance(float(k))
    limit = (
        np.full(len(counts), np.iinfo(np.int64).max // 4, dtype=np.int64)
        if cap is None
        else np.asarray(cap, dtype=np.int64).reshape(-1)
    )
    return _split(int(budget), var, limit)


def simulate_allocation(
    outcomes: ArrayLike,
    budget_per_problem: int,
    *,
    first: int = 10,
    rounds: int = 6,
    k: float = 10_000,
    model: str = "",
) -> SampleCounts:
    """Replay adaptive allocation on a matrix of outcomes drawn in order.

    Draw ``first`` samples of every problem, then spend the rest of
    ``budget_per_problem x n_problems`` in ``rounds`` equal rounds with :func:`allocate`;
    problem ``i`` given ``j`` more samples reveals its next ``j`` outcomes.

    Args:
        outcomes: shape (``n_problems`` x ``n_samples``) of 0/1, in the order drawn.

    Returns:
        The counts drawn (same total as ``budget_per_problem`` samples of every problem).
    """
    arr = np.asarray(outcomes, dtype=np.float64)
    if arr.ndim != 2:
        raise parameter_error("outcomes", "simulate_allocation", "a 2-D 0/1 array", arr.shape)
    n_prob, n_max = arr.shape
    if not 1 <= first <= budget_per_problem <= n_max:
        raise parameter_error(
            "budget_per_problem",
            "simulate_allocation",
            f"an integer in [first={first}, {n_max}]",
            budget_per_problem,
        )
    cum = np.concatenate([np.zeros((n_prob, 1)), np.cumsum(arr, axis=1)], axis=1)
    n = np.full(n_prob, first, dtype=np.int64)
    left = budget_per_problem * n_prob - int(n.sum())
    for r in range(rounds):
        spend = left // (rounds - r)
        c = cum[np.arange(n_prob), n].astype(np.int64)
        add = allocate(SampleCounts(n, c, model=model), spend, k, cap=n_max - n)
        n = n + add
        left -= int(add.sum())
    c = cum[np.arange(n_prob), n].astype(np.int64)
    return SampleCounts(n, c, model=model)
