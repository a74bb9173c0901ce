"""Test-time compute: forecast pass@k from the first samples per problem."""

from __future__ import annotations

from curvecast.sampling._data import SampleCounts, read_samples
from curvecast.sampling._model import (
    PassAtKForecast,
    PassAtKModel,
    RateDistribution,
    SamplesNeeded,
)

__all__ = [
    "PassAtKForecast",
    "PassAtKModel",
    "RateDistribution",
    "SampleCounts",
    "SamplesNeeded",
    "read_samples",
]
