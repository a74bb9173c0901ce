"""Honest comparisons: which method, run or configuration really won, with intervals.

- Aggregates after Agarwal et al. (2021), the definitions of rliable with an explicit ``rng``:
  :func:`aggregate_intervals` (IQM, mean, median, optimality gap with stratified bootstrap
  intervals), :func:`probability_of_improvement`, :func:`performance_profile`, :func:`difference`.
- :func:`compare`: all of those for a table of (method, task, seed, score) rows, with a verdict in
  plain words and the seeds that would separate two methods; ``curvecast compare`` prints it.
- :class:`ReusableHoldout`: Thresholdout (Dwork et al. 2015), a validation set that survives a
  whole adaptive search.
- :func:`winner_estimate`: the selected trial's true score, corrected for best-of-N optimism.

Example:
    >>> import numpy as np
    >>> from curvecast.stats import aggregate_intervals
    >>> scores = np.array([[0.8, 0.6], [0.9, 0.7], [0.85, 0.65]])  # (num_runs x num_tasks)
    >>> round(aggregate_intervals(scores, rng=np.random.default_rng(0))["mean"].estimate, 3)
    0.75
"""

from __future__ import annotations

from curvecast.stats._aggregate import (
    Profile,
    aggregate_intervals,
    difference,
    optimality_gap,
    performance_profile,
    probability_of_improvement,
)
from curvecast.stats._bootstrap import (
    Interval,
    iqm,
    paired_prob_improvement,
    pooled_iqm,
    pooled_mean,
    stratified_bootstrap,
    task_mean,
    task_median,
)
from curvecast.stats._compare import Comparison, PairVerdict, compare, seeds_to_separate
from curvecast.stats._holdout import (
    HoldoutAnswer,
    HoldoutExhaustedError,
    ReusableHoldout,
    thresholdout_settings,
)
from curvecast.stats._report import format_comparison, plot_comparison
from curvecast.stats._results import (
    Results,
    ResultsError,
    read_csv,
    read_optuna,
    results_from_rows,
)
from curvecast.stats._selection import SelectionBiasWarning, WinnerEstimate, winner_estimate

__all__ = [
    "Comparison",
    "HoldoutAnswer",
    "HoldoutExhaustedError",
    "Interval",
    "PairVerdict",
    "Profile",
    "Results",
    "ResultsError",
    "ReusableHoldout",
    "SelectionBiasWarning",
    "WinnerEstimate",
    "aggregate_intervals",
    "compare",
    "difference",
    "format_comparison",
    "iqm",
    "optimality_gap",
    "paired_prob_improvement",
    "performance_profile",
    "plot_comparison",
    "pooled_iqm",
    "pooled_mean",
    "probability_of_improvement",
    "read_csv",
    "read_optuna",
    "results_from_rows",
    "seeds_to_separate",
    "stratified_bootstrap",
    "task_mean",
    "task_median",
    "thresholdout_settings",
    "winner_estimate",
]
