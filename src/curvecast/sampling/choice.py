"""Compute-optimal choice: which model, and how many samples, reach a coverage at least cost."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from curvecast.exceptions import parameter_error
from curvecast.sampling._model import PassAtKModel, SamplesNeeded

__all__ = ["ModelChoice", "choose_model"]


@dataclass(frozen=True)
class ModelChoice:
    """The cheapest model for a target coverage.

    Attributes:
        model: the chosen model ('' if no model is forecast to reach the target).
        samples: its forecast samples per problem (median).
        cost: ``samples x`` its cost per sample (per problem).
        probability: share of bootstrap replicates in which this model is the cheapest.
        needed: each model's :class:`SamplesNeeded`.
        costs: each model's cost per sample.
    """

    model: str
    samples: float
    cost: float
    probability: float
    needed: Mapping[str, SamplesNeeded]
    costs: Mapping[str, float]


def choose_model(
    models: Mapping[str, PassAtKModel], cost: Mapping[str, float], target: float
) -> ModelChoice:
    """Say which fitted model reaches pass@k = ``target`` at the least cost, with the chance
    that the choice is right (the share of paired bootstrap replicates where it is cheapest).

    Args:
        models: fitted models by name.
        cost: cost per sample by name (e.g. ``2 x parameters x tokens``), each > 0.
        target: the coverage to reach, in (0, 1).

    Raises:
        InvalidParameterError: a model without a cost, a cost <= 0, or a bad target.
    """
    if not models:
        raise parameter_error("models", "choose_model", "at least one fitted model", models)
    for name in models:
        if name not in cost:
            raise parameter_error(
                "cost", "choose_model", f"a cost per sample for every model ({name!r} has none)",
                dict(cost),
            )  # fmt: skip
        if not (isinstance(cost[name], int | float) and cost[name] > 0):
            raise parameter_error("cost", "choose_model", "costs > 0", dict(cost))
    needed = {name: m.samples_needed(target) for name, m in models.items()}
    names = list(models)
    b = min(needed[n].draws.size for n in names)
    table = np.stack([needed[n].draws[:b] * float(cost[n]) for n in names])  # models x B
    medians = np.array([needed[n].median * float(cost[n]) for n in names])
    if not np.isfinite(medians).any():
        return ModelChoice("", np.inf, np.inf, 0.0, needed, dict(cost))
    best = int(np.argmin(medians))
    finite = np.isfinite(table).any(axis=0)
    wins = (np.argmin(table, axis=0) == best) & finite
    name = names[best]
    return ModelChoice(
        name, needed[name].median, float(medians[best]), float(wins.mean()), needed, dict(cost)
    )
