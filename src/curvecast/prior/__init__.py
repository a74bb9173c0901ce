"""The synthetic-curve prior: tasks of learning curves that look like real searches.

A future PFN trains on these tasks (NumPy only; torch lives in :mod:`curvecast.train`). A task is
one search, several curves sharing a grid, a metric and a shape, so that a network can use the
other trials of a search as context. See :mod:`curvecast.prior._sample` for the pipeline and
:mod:`curvecast.prior._shapes` for the shapes.

Example:
    >>> import numpy as np
    >>> from curvecast.prior import sample_tasks
    >>> tasks = sample_tasks(2, np.random.default_rng(0))
    >>> len(tasks)
    2
"""

from __future__ import annotations

from curvecast.prior._sample import GRID_KINDS, METRIC_KINDS, PriorConfig, sample_task, sample_tasks
from curvecast.prior._shapes import SHAPE_NAMES

__all__ = [
    "GRID_KINDS",
    "METRIC_KINDS",
    "SHAPE_NAMES",
    "PriorConfig",
    "sample_task",
    "sample_tasks",
]
