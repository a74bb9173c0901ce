"""Read metric histories from an MLflow tracking store through MLflow's own client."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from curvecast.curves import Curve
from curvecast.exceptions import MissingDependencyError, install_hint
from curvecast.io._common import SourceError, build_curves, check_metric, unknown_metric

__all__ = ["read_mlflow", "tracking_uri"]

_INSTALL = (
    "reading an MLflow store needs MLflow's client (mlflow-skinny is enough): "
    + install_hint("mlflow")
)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def tracking_uri(location: str) -> str:
    """The tracking URI for ``location``: a URI as given; an ``.db`` file as ``sqlite:///``;
    a folder (an ``mlruns`` directory) as ``file://``.

    Raises:
        SourceError: a local path that does not exist.
    """
    if _SCHEME.match(location) or location.startswith(("file:", "databricks")):
        return location
    path = Path(location)
    if not path.exists():
        raise SourceError(
            f"mlflow:{location}: no such file or folder {str(path.resolve())!r}; give the mlruns "
            "folder, the MLflow database file (mlflow.db) or the tracking server's URL "
            "(http://host:5000)"
        )
    if path.is_file():
        return f"sqlite:///{path.resolve()}"
    return path.resolve().as_uri()


@contextlib.contextmanager
def _file_store_allowed(uri: str) -> Iterator[None]:
    """MLflow 3 refuses the folder store unless told it is wanted; a folder the user names is
    such a wish (reading it changes nothing in it)."""
    if not uri.startswith("file:"):
        yield
        return
    old = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = old


def _all_runs(client: Any, experiment_ids: list[str]) -> list[Any]:
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(experiment_ids, max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def read_mlflow(
    location: str,
    metric: str,
    *,
    direction: str = "maximize",
    bounds: Sequence[float | None] | None = None,
    experiments: Sequence[str] | None = None,
) -> dict[str, Curve]:
    """Read the history of ``metric`` of every run in an MLflow tracking store.

    Args:
        location: an ``mlruns`` folder, an MLflow SQLite file (``mlflow.db``), or a tracking
            URI (``http://host:5000``, ``sqlite:///mlflow.db``, ``postgresql://...``).
        metric: the metric key, e.g. ``"val_loss"``.
        direction, bounds: copied onto the curves (see :class:`curvecast.Curve`).
        experiments: experiment names to read (default: every active experiment).

    Returns:
        {run name: Curve} sorted by name; a name shared by several runs gets its run id's first
        8 characters appended. ``meta`` holds run, run_id, experiment, metric, source. The axis is
        the logged step (``1, 2, ...`` in logging order when every value has the same step).

    Raises:
        SourceError: the store cannot be opened, holds no run, an experiment is unknown, or no
            run logged ``metric`` (the message lists the metrics that exist).
        MissingDependencyError: MLflow is not installed.

    Example:
        >>> curves = read_mlflow("mlruns", "val_loss", direction="minimize")  # doctest: +SKIP
    """
    check_metric(metric, "read_mlflow")
    source = f"mlflow:{location}"
    uri = tracking_uri(location)
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise MissingDependencyError(_INSTALL) from exc
    with _file_store_allowed(uri):
        try:
            client = MlflowClient(tracking_uri=uri)
            exps = client.search_experiments()
        except Exception as exc:  # MLflow raises its own and the transports' exceptions
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise SourceError(
                f"{source}: cannot open the tracking store {uri!r} ({type(exc).__name__}: "
                f"{first[:300]}); check the path or that the server is running"
            ) from None
        names = {e.experiment_id: e.name for e in exps}
        if experiments is not None:
            wanted = set(experiments)
            missing = wanted - set(names.values())
            if missing:
                raise SourceError(
                    f"{source}: no experiment named {sorted(missing)}; the store has "
                    f"{sorted(names.values())}"
                )
            names = {k: v for k, v in names.items() if v in wanted}
        runs = _all_runs(client, list(names)) if names else []
        if not runs:
            raise SourceError(
                f"{source}: the store holds no run; is it the tracking URI your runs log to "
                "(mlflow.set_tracking_uri / MLFLOW_TRACKING_URI)?"
            )
        available: set[str] = set()
        counts: dict[str, int] = {}
        for r in runs:
            label = r.info.run_name or r.info.run_id
            counts[label] = counts.get(label, 0) + 1
        series: dict[str, list[tuple[float, float]]] = {}
        meta: dict[str, dict[str, Any]] = {}
        for r in runs:
            available.update(r.data.metrics)
            if metric not in r.data.metrics:
                continue
            label = r.info.run_name or r.info.run_id
            if counts[label] > 1:
                label = f"{label} ({r.info.run_id[:8]})"
            history = client.get_metric_history(r.info.run_id, metric)
            ordered = sorted(history, key=lambda m: (m.timestamp, m.step))
            series[label] = [(float(m.step), float(m.value)) for m in ordered]
            meta[label] = {
                "run_id": r.info.run_id,
                "experiment": names.get(r.info.experiment_id, r.info.experiment_id),
                "status": r.info.status,
            }
    if not series:
        raise unknown_metric(source, metric, available)
    return build_curves(
        series, source=source, metric=metric, direction=direction, bounds=bounds, meta=meta
    )
