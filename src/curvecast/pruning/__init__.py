"""Stopping decisions from forecasts: the rule, and the Verdict it returns with its evidence."""

from curvecast.pruning._rule import ForecastRule
from curvecast.pruning._verdict import Decision, Verdict
from curvecast.pruning.freeze_thaw import FreezeThaw

__all__ = ["Decision", "ForecastRule", "FreezeThaw", "Verdict"]
