"""Scaling laws: forecast a bigger model from small ones, over size, data and compute.

A sweep (:class:`Sweep`, read with :func:`read_sweep`) is a table of runs: parameters N, tokens
D, compute C and final loss. A law is one small class with one protocol: ``fit(sweep, rng=...)``,
``predict(**inputs)`` returning a :class:`ScalingForecast` (quantiles, ``interval(0.9)``), and for
the compute laws ``optimal(C)`` returning an :class:`OptimalSplit` (N*, D* with intervals).

============================  ==================================================  ============
law                           form                                                inputs
============================  ==================================================  ============
:class:`ChinchillaLaw`        E + A/N^alpha + B/D^beta                            N, D (or C)
:class:`OvertrainingLaw`      E + A/N^eta + B/(M N)^eta  (Gadre et al.)           N, M
:class:`ComputeLaw`           E + A/C^gamma, N* = k C^a  (approach 2)             C
:class:`LogLinearLaw`         a straight line in log-log axes (the baseline)      C
:class:`DownstreamLaw`        eps - k exp(-gamma L), or a sigmoid                 loss
============================  ==================================================  ============

Benchmark scores from scale, across model families: :class:`DownstreamScaling` fitted to a
:class:`ModelTable` (:func:`read_models`), returning a :class:`DownstreamForecast` per query and
an :class:`Emergence` per benchmark.

>>> import numpy as np
>>> from curvecast.scaling import ChinchillaLaw, Sweep
>>> N = np.repeat([1e7, 3e7, 1e8, 3e8], 4); D = N * np.tile([5, 10, 20, 40], 4)
>>> sweep = Sweep(N=N, D=D, loss=1.7 + 400 / N**0.34 + 410 / D**0.28)
>>> law = ChinchillaLaw(n_bootstrap=50).fit(sweep, rng=0)
>>> fc = law.predict(N=7e9, D=1.4e12)
>>> round(float(fc.point[0]), 3), round(1.7 + 400 / 7e9**0.34 + 410 / 1.4e12**0.28, 3)
(2.043, 2.043)
>>> lo, hi = fc.interval(0.9)
"""

from __future__ import annotations

from curvecast.exceptions import UnknownMethodError
from curvecast.scaling._base import ScalingLaw
from curvecast.scaling._result import OptimalSplit, ScalingForecast
from curvecast.scaling.compute import ComputeLaw, LogLinearLaw, frontier_points
from curvecast.scaling.downstream import DownstreamLaw
from curvecast.scaling.downstream_result import DownstreamForecast, Emergence
from curvecast.scaling.downstream_scaling import DownstreamScaling
from curvecast.scaling.downstream_table import ModelTable, read_models
from curvecast.scaling.laws import ChinchillaLaw, OvertrainingLaw
from curvecast.scaling.sweep import Sweep, read_sweep

__all__ = [
    "LAWS",
    "ChinchillaLaw",
    "ComputeLaw",
    "DownstreamForecast",
    "DownstreamLaw",
    "DownstreamScaling",
    "Emergence",
    "LogLinearLaw",
    "ModelTable",
    "OptimalSplit",
    "OvertrainingLaw",
    "ScalingForecast",
    "ScalingLaw",
    "Sweep",
    "frontier_points",
    "get_law",
    "read_models",
    "read_sweep",
]

#: Loss laws by command-line name (DownstreamLaw needs a target column, so it is not here).
LAWS: dict[str, type[ScalingLaw]] = {
    "chinchilla": ChinchillaLaw,
    "compute": ComputeLaw,
    "loglinear": LogLinearLaw,
    "overtraining": OvertrainingLaw,
}


def get_law(name: str, **kwargs: object) -> ScalingLaw:
    """A new, unfitted loss law by name (one of :data:`LAWS`), built with ``kwargs``.

    Raises:
        UnknownMethodError: no law of that name.
    """
    if name not in LAWS:
        raise UnknownMethodError(
            f"No scaling law is named {name!r}. Choose one of: {', '.join(sorted(LAWS))}."
        )
    return LAWS[name](**kwargs)
