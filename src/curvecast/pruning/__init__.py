"""Stopping decisions from forecasts: the rule, the Verdict it returns with its evidence, and
the two sides it weighs (the compute a run still needs, what it may gain)."""

from curvecast.pruning._compute import StepCost, compute_split, expected_improvement
from curvecast.pruning._rule import ForecastRule, search_spread
from curvecast.pruning._verdict import Decision, Verdict
from curvecast.pruning.freeze_thaw import FreezeThaw

__all__ = [
    "Decision",
    "ForecastRule",
    "FreezeThaw",
    "StepCost",
    "Verdict",
    "compute_split",
    "expected_improvement",
    "search_spread",
]
