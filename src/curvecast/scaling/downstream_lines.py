"""Per-benchmark straight lines in log compute, and their blend with the skills model.

Some benchmarks follow the shared skills poorly (scores that jump irregularly with scale, a task
that saturates early); on those a straight line of the score in ``log10`` compute through every
fitted model (the log-linear fit) predicts better. :class:`~curvecast.scaling.DownstreamScaling`
chooses, per benchmark, a weight ``w`` on that line from a few values by the error of the
backtests inside the fitted table (never the models it is asked about): the below-cutoff runs
for a bigger member of a known family, the leave-one-family-out runs for a new family. It keeps
``w`` only where the gain is consistent across backtest runs, and predicts ``(1 - w) skills + w
line`` in score space.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["WEIGHTS", "blend", "choose_weights", "fit_lines", "line_scores"]

#: the weights on the line a benchmark may get
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def fit_lines(x: NDArray[np.float64], S: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per benchmark, OLS of the score on ``x`` (n,) over the finite scores of ``S`` (n, B):
    ``(B, 2)`` rows ``(intercept, slope)``; NaN where fewer than 3 scores or one compute."""
    out = np.full((S.shape[1], 2), np.nan)
    for j in range(S.shape[1]):
        ok = np.isfinite(S[:, j])
        if ok.sum() >= 3 and np.ptp(x[ok]) > 0:
            b, a = np.polyfit(x[ok], S[ok, j], 1)
            out[j] = a, b
    return out


def line_scores(
    lines: NDArray[np.float64],
    x: NDArray[np.float64],
    floor: NDArray[np.float64],
    ceil: NDArray[np.float64],
) -> NDArray[np.float64]:
    """The lines ``(B, 2)`` at ``x`` (m,), clipped to ``[floor, ceil]`` (B,): ``(m, B)``."""
    s = lines[None, :, 0] + lines[None, :, 1] * x[:, None]
    return np.asarray(np.clip(s, floor, ceil))


def choose_weights(
    skills: NDArray[np.float64],
    line: NDArray[np.float64],
    truth: NDArray[np.float64],
    run: NDArray[np.intp],
    *,
    min_t: float = 1.0,
) -> NDArray[np.float64]:
    """Per benchmark, the weight of :data:`WEIGHTS` whose blend of ``skills`` and ``line``
    (both ``(n, B)`` backtest predictions) has the least mean absolute error against ``truth``
    ``(n, B)``, kept only where it beats the skills model alone consistently across the
    backtest runs (``run`` (n,) labels each row's run): the paired t-statistic of the per-run
    error differences must reach ``min_t``, with 2 or more runs. Else 0 (as for a benchmark
    without a line). Returns ``(B,)``."""
    B = truth.shape[1]
    out = np.zeros(B)
    for j in range(B):
        ok = np.isfinite(truth[:, j]) & np.isfinite(line[:, j]) & np.isfinite(skills[:, j])
        if not ok.any():
            continue
        s, ln, t, r = skills[ok, j], line[ok, j], truth[ok, j], run[ok]
        errs = [float(np.mean(np.abs((1 - w) * s + w * ln - t))) for w in WEIGHTS]
        k = int(np.argmin(errs))
        if k == 0:
            continue
        w = WEIGHTS[k]
        gain = np.array(
            [
                np.mean(np.abs(s[r == i] - t[r == i]))
                - np.mean(np.abs((1 - w) * s[r == i] + w * ln[r == i] - t[r == i]))
                for i in np.unique(r)
            ]
        )
        if gain.size < 2:
            continue
        se = float(gain.std(ddof=1)) / np.sqrt(gain.size)
        if gain.mean() > 0 and (se == 0 or gain.mean() / se >= min_t):
            out[j] = w
    return out


def blend(
    skills: NDArray[np.float64], line: NDArray[np.float64], weights: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``(1 - w) skills + w line`` per benchmark; ``skills`` where the line is NaN. ``(m, B)``;
    ``weights`` ``(B,)``, or ``(m, B)`` for a weight per row."""
    w = np.where(np.isfinite(line), np.broadcast_to(weights, line.shape), 0.0)
    return np.asarray((1 - w) * skills + w * np.nan_to_num(line))
