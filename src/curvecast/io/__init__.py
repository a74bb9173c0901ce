"""Bring curves from where runs are logged: TensorBoard, MLflow, Weights & Biases exports, tables.

Every reader returns ``{run name: Curve}`` for one metric, with ``meta`` naming the run, the
metric and the source, and raises :class:`SourceError` (a :class:`curvecast.CurvecastError`)
with the source and the fix when it cannot. :func:`read_curves` takes the ``KIND:LOCATION``
syntax of ``curvecast forecast --from``:

==================  =======================================================================
``tensorboard:DIR``  a log directory; each folder with event files is a run (needs
                     ``curvecast[tensorboard]``)
``mlflow:WHERE``     an ``mlruns`` folder, an MLflow ``.db`` file or a tracking URI (needs
                     ``curvecast[mlflow]``)
``wandb:PATH``       a W&B chart's CSV export, or run histories saved as CSV/JSON, or a folder
``csv:FILE``         a long table ``run, step, metric, value``; ``parquet:FILE`` likewise
==================  =======================================================================

:func:`judge_runs` then forecasts each run and says which are worth stopping.

Example:
    >>> from curvecast.io import read_curves, judge_runs
    >>> curves = read_curves("tensorboard:runs", "val/loss", direction="minimize")  # doctest: +SKIP
    >>> for row in judge_runs(curves):  # doctest: +SKIP
    ...     print(row.run, row.verdict.explain())
"""

from __future__ import annotations

from collections.abc import Sequence

from curvecast.curves import Curve, Direction
from curvecast.io._common import KINDS, DataLossWarning, SourceError, parse_source
from curvecast.io._judge import RunForecast, judge_runs
from curvecast.io._mlflow import read_mlflow
from curvecast.io._table import read_table, read_wandb
from curvecast.io._tensorboard import read_tensorboard

__all__ = [
    "KINDS",
    "DataLossWarning",
    "RunForecast",
    "SourceError",
    "infer_direction",
    "judge_runs",
    "parse_source",
    "read_curves",
    "read_mlflow",
    "read_table",
    "read_tensorboard",
    "read_wandb",
]

_MAX_WORDS = ("acc", "auc", "f1", "precision", "recall", "score", "map", "iou", "bleu", "rouge")
_MIN_WORDS = (
    "loss",
    "error",
    "err",
    "perplexity",
    "ppl",
    "mse",
    "mae",
    "rmse",
    "nll",
    "cer",
    "wer",
)


def infer_direction(metric: str) -> Direction | None:
    """ "maximize" or "minimize" from the metric's name (as Keras's ``mode="auto"`` does), or
    None when the name does not tell.

    >>> infer_direction("val/loss"), infer_direction("val_accuracy"), infer_direction("lr")
    ('minimize', 'maximize', None)
    """
    words = metric.lower().replace("/", "_").replace("-", "_").replace(".", "_").split("_")
    if any(w in _MIN_WORDS for w in words):
        return "minimize"
    if any(w in _MAX_WORDS or w.startswith("acc") for w in words):
        return "maximize"
    return None


def read_curves(
    source: str,
    metric: str,
    *,
    direction: str = "maximize",
    bounds: Sequence[float | None] | None = None,
) -> dict[str, Curve]:
    """Read ``metric`` of every run in ``source`` (``KIND:LOCATION``, see the module docstring).

    Returns:
        {run name: Curve}, sorted by run name.

    Raises:
        SourceError: an unknown kind, a missing location, no run, or no run with ``metric``.
        MissingDependencyError: the reader's optional dependency is not installed.
    """
    kind, location = parse_source(source)
    if kind == "tensorboard":
        return read_tensorboard(location, metric, direction=direction, bounds=bounds)
    if kind == "mlflow":
        return read_mlflow(location, metric, direction=direction, bounds=bounds)
    if kind == "wandb":
        return read_wandb(location, metric, direction=direction, bounds=bounds)
    return read_table(location, metric, direction=direction, bounds=bounds)
