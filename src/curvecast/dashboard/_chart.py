"""The study chart's data: compact curves on one shared step grid, and a robust y range.

A 1,000-trial study's curves are most of what the page receives, so they travel compact: one x
grid for all trials (thinned when the curves would pass :data:`CHART_BUDGET` numbers), values
with 4 significant digits, trailing gaps cut; stops and would-have-stopped points exactly, one
per trial.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from curvecast.dashboard._forecasts import BAND_LEVELS

if TYPE_CHECKING:
    from curvecast.dashboard._records import TrialFacts

__all__ = ["CHART_BUDGET", "chart_payload", "robust_range"]

#: At most this many numbers in the chart's curves of one study (curves are thinned beyond).
CHART_BUDGET = 60_000
_GRID_MIN, _GRID_MAX = 40, 400


def robust_range(
    curves: list[list[float | None]], keep: list[float] | None = None
) -> dict[str, Any]:
    """The y range to show by default, so that a few broken trials do not squash the rest.

    Two steps. A trial is *broken* when its median value is a far outlier among the trials'
    medians (outside Tukey's far-out fences ``[Q1 - 3 IQR, Q3 + 3 IQR]``); then, over the other
    trials' values, a lone spike beyond ``[P1 - w, P99 + w]`` (``w = P99 - P1``) is left out too.
    The range is the extent of what remains, widened to include ``keep`` (the best and worst
    final values) and padded by 4%. Early, low points of ordinary curves stay in view.

    Args:
        curves: each trial's values (None for a missing or non-finite one).
        keep: values that must stay visible.

    Returns:
        ``{"robust": [lo, hi], "full": [lo, hi], "outside": k}`` with ``k`` the number of
        curves with a point outside the robust range; both ranges None without values.
    """
    arrays = [np.array([v for v in c if v is not None], dtype=np.float64) for c in curves]
    arrays = [a for a in arrays if a.size]
    if not arrays:
        return {"robust": None, "full": None, "outside": 0}
    flat = np.concatenate(arrays)
    full_lo, full_hi = float(flat.min()), float(flat.max())
    medians = np.array([np.median(a) for a in arrays])
    q1, q3 = np.percentile(medians, [25, 75])
    iqr = float(q3 - q1)
    if iqr > 0:
        ok = (medians >= q1 - 3 * iqr) & (medians <= q3 + 3 * iqr)
        kept = np.concatenate([a for a, k in zip(arrays, ok, strict=True) if k])
    else:
        kept = flat
    p1, p99 = np.percentile(kept, [1, 99])
    w = float(p99 - p1)
    inside = kept[(kept >= p1 - w) & (kept <= p99 + w)]
    lo, hi = float(inside.min()), float(inside.max())
    for k in keep or []:
        lo, hi = min(lo, k), max(hi, k)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.04 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    outside = sum(1 for c in curves if any(v is not None and not lo <= v <= hi for v in c))
    return {"robust": [lo, hi], "full": [full_lo, full_hi], "outside": outside}


def _round(v: float | None) -> float | None:
    return None if v is None else float(f"{v:.4g}")


def chart_payload(
    facts: list[TrialFacts], records: list[dict[str, Any]], direction: str = "maximize"
) -> dict[str, Any]:
    """The study chart's data, compact: one shared x grid (thinned when the curves would hold
    more than :data:`CHART_BUDGET` numbers), each curve's values on it (4 significant digits,
    trailing gaps cut), the exact stop and would-have-stopped points, the bands of running
    trials, and the default y range.

    Returns:
        ``{"x": [...], "thinned": bool, "curves": [{"n", "s", "y", "p", "stop"?, "shadow"?}],
        "bands": [{"n", "x", "q05", ..., "q95"}], "y_range": {...}}``.
    """
    with_curve = [(f, r) for f, r in zip(facts, records, strict=True) if f.steps]
    union = sorted({s for f, _ in with_curve for s in f.steps})
    n_curves = max(1, len(with_curve))
    cap = int(min(_GRID_MAX, max(_GRID_MIN, CHART_BUDGET // n_curves)))
    thinned = len(union) > cap
    if thinned:
        picks = np.unique(np.linspace(0, len(union) - 1, cap).round().astype(int))
        grid = [union[i] for i in picks]
    else:
        grid = union
    grid_arr = np.asarray(grid, dtype=np.float64)
    curves = []
    for f, r in with_curve:
        y: list[float | None] = [None] * len(grid)
        # each step goes to the first grid point at or after it; the last report of a bin wins
        idx = np.searchsorted(grid_arr, np.asarray(f.steps), side="left")
        for i, v in zip(idx.tolist(), f.values, strict=True):
            y[min(i, len(grid) - 1)] = _round(v)
        while y and y[-1] is None:
            y.pop()
        c: dict[str, Any] = {"n": f.number, "s": f.state, "y": y}
        if r.get("prob_better") is not None:
            c["p"] = round(float(r["prob_better"]), 3)
            if r.get("p_against") is not None:
                c["i"] = _round(float(r["p_against"]))
        if f.state == "pruned":
            c["stop"] = [f.steps[-1], _round(f.values[-1])]
        if f.shadow is not None and f.shadow["step"] in f.steps:
            at = f.steps.index(f.shadow["step"])
            c["shadow"] = [f.steps[at], _round(f.values[at])]
            if r.get("shadow") and r["shadow"].get("outcome"):
                c["o"] = r["shadow"]["outcome"]
        if r.get("notes"):
            c["note"] = True
        curves.append(c)
    bands = []
    for f, r in with_curve:
        b = r.get("band")
        if f.state == "running" and b is not None:
            bands.append({"n": f.number, **{k: b[k] for k in ("x", *(n for n, _ in BAND_LEVELS))}})
    finals = [v for f in facts if f.state == "complete" and (v := f.last_value) is not None]
    keep = []
    if finals and direction in ("maximize", "minimize"):
        keep = [max(finals) if direction == "maximize" else min(finals)]
    return {
        "x": grid,
        "thinned": thinned,
        "curves": curves,
        "bands": bands,
        "y_range": robust_range([f.values for f, _ in with_curve], keep),
    }
