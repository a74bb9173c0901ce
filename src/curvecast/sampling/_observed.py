"""The unbiased pass@k estimator of Chen et al. (2021), for ``k`` up to the samples drawn."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import gammaln

from curvecast.exceptions import parameter_error
from curvecast.sampling._data import SampleCounts

__all__ = ["observed_pass_at_k", "unbiased_pass_at_k"]


def unbiased_pass_at_k(n: ArrayLike, c: ArrayLike, k: ArrayLike) -> NDArray[np.float64]:
    """Per-problem unbiased pass@k, ``1 - C(n - c, k) / C(n, k)``.

    Args:
        n, c: samples and correct samples per problem, shape (``P``,).
        k: sample counts, shape (``K``,).

    Returns:
        Shape (``P`` x ``K``); NaN where ``k > n`` (no unbiased estimate exists there).

    >>> unbiased_pass_at_k([4], [1], [1, 2, 4]).round(3).tolist()
    [[0.25, 0.5, 1.0]]
    """
    nn = np.asarray(n, dtype=np.float64).reshape(-1, 1)
    cc = np.asarray(c, dtype=np.float64).reshape(-1, 1)
    ks = np.asarray(k, dtype=np.float64).reshape(1, -1)
    if np.any(ks < 1):
        raise parameter_error("k", "unbiased_pass_at_k", "sample counts >= 1", k)
    f = nn - cc
    ok = f >= ks
    with np.errstate(invalid="ignore", divide="ignore"):
        log_ratio = (
            gammaln(f + 1)
            - gammaln(np.where(ok, f - ks, 0) + 1)
            - gammaln(nn + 1)
            + gammaln(np.where(nn >= ks, nn - ks, 0) + 1)
        )
    fail = np.where(ok, np.exp(np.where(ok, log_ratio, 0.0)), 0.0)
    return np.where(nn >= ks, 1.0 - fail, np.nan)


def observed_pass_at_k(counts: SampleCounts, k: ArrayLike) -> NDArray[np.float64]:
    """Observed pass@k: the mean unbiased estimate over the problems with at least ``k``
    samples, shape (``K``,); NaN where no problem has ``k`` samples."""
    per = unbiased_pass_at_k(counts.n, counts.c, k)
    with np.errstate(invalid="ignore"):
        have = ~np.isnan(per)
        total = np.where(have, per, 0.0).sum(axis=0)
        cnt = have.sum(axis=0)
    return np.where(cnt > 0, total / np.maximum(cnt, 1), np.nan)
