"""Test-time compute: forecast pass@k (coverage) at large k from the first samples per problem.

Fit a :class:`PassAtKModel` to per-problem counts (:class:`SampleCounts`, or a 0/1 outcome
matrix); it infers the distribution of per-problem success rates (:class:`RateDistribution`: a
point mass at 0 plus a power-law density on a log-p grid, fitted by marginal likelihood) and
forecasts pass@k at any k with intervals (:class:`PassAtKForecast`), and the samples needed for
a target coverage (:class:`SamplesNeeded`). :func:`allocate` says where to spend more samples;
:func:`choose_model` picks the cheapest model for a target coverage. See docs/sampling.md.

>>> import numpy as np
>>> from curvecast.sampling import PassAtKModel
>>> rng = np.random.default_rng(1)
>>> p = np.where(rng.random(300) < 0.6, 0.0, 10 ** rng.uniform(-4, 0, 300))
>>> outcomes = rng.random((300, 100)) < p[:, None]
>>> model = PassAtKModel(n_bootstrap=100).fit(outcomes, rng=0)
>>> fc = model.forecast([10, 100, 10_000])
>>> fc.median.shape, fc.to_json()["level"]
((3,), 0.9)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from curvecast.sampling._data import SampleCounts, read_samples
    from curvecast.sampling._model import (
        PassAtKForecast,
        PassAtKModel,
        RateDistribution,
        SamplesNeeded,
    )
    from curvecast.sampling._observed import observed_pass_at_k, unbiased_pass_at_k
    from curvecast.sampling.allocation import allocate, simulate_allocation
    from curvecast.sampling.choice import ModelChoice, choose_model

__all__ = [
    "ModelChoice",
    "PassAtKForecast",
    "PassAtKModel",
    "RateDistribution",
    "SampleCounts",
    "SamplesNeeded",
    "allocate",
    "choose_model",
    "observed_pass_at_k",
    "read_samples",
    "simulate_allocation",
    "unbiased_pass_at_k",
]

# names -> defining module; imported on first use so that building the CLI parser (which
# imports curvecast.sampling.cli) does not pull in scipy.optimize
_WHERE = {
    "ModelChoice": "choice",
    "PassAtKForecast": "_model",
    "PassAtKModel": "_model",
    "RateDistribution": "_model",
    "SampleCounts": "_data",
    "SamplesNeeded": "_model",
    "allocate": "allocation",
    "choose_model": "choice",
    "observed_pass_at_k": "_observed",
    "read_samples": "_data",
    "simulate_allocation": "allocation",
    "unbiased_pass_at_k": "_observed",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"curvecast.sampling.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'curvecast.sampling' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
