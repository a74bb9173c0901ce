"""Read metric histories from an MLflow tracking store through MLflow's own client."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import sqlite3
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

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


#: tables every MLflow tracking database has (MLflow creates them in any database it opens)
_MLFLOW_TABLES = frozenset({"experiments", "runs", "metrics", "alembic_version"})
#: how long a tracking server may take to accept a connection, and to answer one request
_CONNECT_TIMEOUT_S = 5.0
_ENV_BOUNDS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}


def _sqlite_tables(path: Path, source: str) -> set[str]:
    """The table names of an SQLite file, read through a read-only connection."""
    try:
        with contextlib.closing(
            sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=5)
        ) as conn:
            return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error as exc:
        raise SourceError(
            f"{source}: {str(path)!r} is not a readable SQLite database ({exc}); give the "
            "MLflow database file (mlflow.db), the mlruns folder or the server's URL"
        ) from None


def _snapshot_sqlite(path: Path, into: Path, source: str) -> str:
    """Refuse a database that is not MLflow's; copy one that is (consistently, through the
    SQLite backup API of a read-only connection) and return the copy's URI. MLflow's client
    creates and migrates tables in whatever database it opens, so it only ever sees the copy."""
    tables = _sqlite_tables(path, source)
    missing = _MLFLOW_TABLES - tables
    if missing:
        shown = ", ".join(sorted(tables)[:8]) + (" ..." if len(tables) > 8 else "")
        raise SourceError(
            f"{source}: {str(path)!r} is not an MLflow tracking database (it lacks the tables "
            f"{', '.join(sorted(missing))}; it has {shown or 'no table'}); curvecast reads it "
            "without changing it, so give the database your runs log to (mlflow.db), the "
            "mlruns folder or the server's URL"
        )
    copy = into / "mlflow.db"
    try:
        with (
            contextlib.closing(
                sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=5)
            ) as src,
            contextlib.closing(sqlite3.connect(str(copy))) as dst,
        ):
            src.backup(dst)
    except sqlite3.Error as exc:
        raise SourceError(f"{source}: cannot read {str(path)!r} ({exc})") from None
    return f"sqlite:///{copy}"


def _regular_or_dir(folder: str, names: list[str]) -> set[str]:
    """``copytree``'s ignore: what artifact folders hold (not needed for metrics) and anything
    that is neither a folder nor a regular file (a FIFO would block the copy, a link could lead
    anywhere)."""
    if os.path.basename(folder) == "artifacts":
        return set(names)  # MLflow checks that a run has the folder, not what it holds
    out = set()
    for n in names:
        try:
            mode = os.lstat(os.path.join(folder, n)).st_mode
        except OSError:
            out.add(n)
            continue
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            out.add(n)
    return out


def _snapshot_folder(path: Path, into: Path, source: str) -> str:
    """Refuse a folder that is not an mlruns store; copy the metadata of one that is (not its
    artifacts) and return the copy's URI. MLflow's folder store writes ``.trash/`` and a default
    experiment into the folder it opens, so it only ever sees the copy."""
    try:
        experiments = [d for d in path.iterdir() if d.is_dir() and (d / "meta.yaml").is_file()]
    except OSError as exc:
        raise SourceError(f"{source}: cannot list {str(path)!r} ({exc})") from None
    if not experiments:
        raise SourceError(
            f"{source}: {str(path)!r} is not an MLflow mlruns folder (no experiment folder "
            "with a meta.yaml in it); give the folder your runs log to (mlruns), the MLflow "
            "database file or the server's URL"
        )
    copy = into / "mlruns"
    try:
        shutil.copytree(path, copy, ignore=_regular_or_dir)
    except (OSError, shutil.Error) as exc:
        raise SourceError(f"{source}: cannot read {str(path)!r} ({exc})") from None
    return copy.as_uri()


def _check_server(uri: str, source: str) -> None:
    """Fail in seconds, not minutes, when nothing listens at a tracking server's address
    (MLflow retries a refused connection for about four minutes)."""
    parts = urlsplit(uri)
    if not parts.hostname:
        raise SourceError(f"{source}: {uri!r} names no host; give e.g. http://host:5000")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise SourceError(f"{source}: {uri!r} has an invalid port") from None
    try:
        with socket.create_connection((parts.hostname, port), timeout=_CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise SourceError(
            f"{source}: no tracking server answers at {parts.hostname}:{port} "
            f"({exc.strerror or exc}); start it (mlflow server) or check the address"
        ) from None


@contextlib.contextmanager
def _bounded_requests() -> Iterator[None]:
    """One retry and a 20 s timeout per request to a tracking server, unless the user's own
    MLFLOW_HTTP_REQUEST_* settings say otherwise."""
    old = {k: os.environ.get(k) for k in _ENV_BOUNDS}
    for k, v in _ENV_BOUNDS.items():
        os.environ.setdefault(k, v)
    try:
        yield
    finally:
        for k, was in old.items():
            if was is None:
                os.environ.pop(k, None)


@contextlib.contextmanager
def _read_only_uri(location: str, source: str) -> Iterator[str]:
    """The URI MLflow's client may open for ``location`` without changing it: a snapshot of a
    local SQLite file or mlruns folder, a checked server URL, or a refusal."""
    uri = tracking_uri(location)
    scheme = uri.split(":", 1)[0].lower()
    if scheme in ("http", "https"):
        _check_server(uri, source)
        with _bounded_requests():
            yield uri
        return
    if scheme == "sqlite":
        # sqlite:///relative.db, sqlite:////absolute/path.db (SQLAlchemy's spelling)
        local = uri.split("?", 1)[0].removeprefix("sqlite:").removeprefix("///")
        path = Path(unquote(local))
        if not local or local.startswith("/:memory:") or not path.is_file():
            raise SourceError(
                f"{source}: no MLflow database at {str(path)!r}; curvecast never creates one. "
                "Give the file your runs log to (sqlite:///mlflow.db is relative to the "
                "current folder, sqlite:////abs/path/mlflow.db is absolute)"
            )
        with tempfile.TemporaryDirectory(prefix="curvecast-mlflow-") as tmp:
            yield _snapshot_sqlite(path, Path(tmp), source)
        return
    if scheme == "file":
        path = Path(unquote(urlsplit(uri).path))
        if not path.is_dir():
            raise SourceError(f"{source}: no mlruns folder at {str(path)!r}")
        with tempfile.TemporaryDirectory(prefix="curvecast-mlflow-") as tmp:
            yield _snapshot_folder(path, Path(tmp), source)
        return
    _check_database(uri, scheme, source)
    yield uri


def _check_database(uri: str, scheme: str, source: str) -> None:
    """Let MLflow open a database URL (postgresql://, mysql://...) only when it already holds
    MLflow's tables: MLflow would create them in any other database."""
    try:
        import sqlalchemy
    except ImportError:
        tables = None
    else:
        try:
            engine = sqlalchemy.create_engine(uri)
            try:
                tables = set(sqlalchemy.inspect(engine).get_table_names())
            finally:
                engine.dispose()
        except Exception as exc:  # the drivers raise their own errors
            raise SourceError(f"{source}: cannot open the database ({_why(exc)})") from None
    if tables is None or not _MLFLOW_TABLES <= tables:
        raise SourceError(
            f"{source}: curvecast reads only an MLflow tracking database, and cannot tell "
            f"that this {scheme} database is one"
            + ("" if tables is None else f" (it lacks {sorted(_MLFLOW_TABLES - tables)})")
            + "; MLflow would create its tables in it. Give the tracking server's URL "
            "(mlflow server --backend-store-uri ...) instead"
        )


@contextlib.contextmanager
def _file_store_allowed(uri: str) -> Iterator[None]:
    """MLflow 3 refuses the folder store unless told it is wanted; a folder the user names is
    such a wish (curvecast reads a copy of it)."""
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
            URI (``http://host:5000``, ``sqlite:///mlflow.db``).
        metric: the metric key, e.g. ``"val_loss"``.
        direction, bounds: copied onto the curves (see :class:`curvecast.Curve`).
        experiments: experiment names to read (default: every active experiment).

    Returns:
        {run name: Curve} sorted by name; a name shared by several runs gets its run id's first
        8 characters appended. ``meta`` holds run, run_id, experiment, metric, source. The axis is
        the logged step (``1, 2, ...`` in logging order when every value has the same step).

    Reading never writes: MLflow's client creates its tables in any database it opens and a
    ``.trash`` folder in any mlruns folder, so a local store is first checked to be MLflow's
    (refused otherwise) and the client reads a copy (an SQLite file through SQLite's backup
    API; an mlruns folder without its artifacts). A server URL is first checked to accept a
    connection within 5 s, and each request is retried once with a 20 s timeout (unless
    ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``/``_TIMEOUT`` are set). Other database URIs
    (``postgresql://``...) are refused: serve them with ``mlflow server``.

    Raises:
        SourceError: the store cannot be opened or is not MLflow's, holds no run, an
            experiment is unknown, a file of it is damaged, or no run logged ``metric`` (the
            message lists the metrics that exist).
        MissingDependencyError: MLflow is not installed.

    Example:
        >>> curves = read_mlflow("mlruns", "val_loss", direction="minimize")  # doctest: +SKIP
    """
    check_metric(metric, "read_mlflow")
    source = f"mlflow:{location}"
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise MissingDependencyError(_INSTALL) from exc
    with _read_only_uri(location, source) as uri, _file_store_allowed(uri):
        try:
            client = MlflowClient(tracking_uri=uri)
            exps = client.search_experiments()
        except Exception as exc:  # MLflow raises its own and the transports' exceptions
            raise SourceError(
                f"{source}: cannot open the tracking store ({_why(exc)}); check the path or "
                "that the server is running"
            ) from None
        try:
            series, meta, available = _read_runs(client, exps, metric, experiments, source)
        except SourceError:
            raise
        except Exception as exc:  # a damaged store: YAML, metric lines, MlflowException...
            raise SourceError(
                f"{source}: the store cannot be read ({_why(exc)}); is a file of it damaged "
                "or written by another program?"
            ) from None
    if not series:
        raise unknown_metric(source, metric, available)
    return build_curves(
        series, source=source, metric=metric, direction=direction, bounds=bounds, meta=meta
    )


def _why(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:300]}"


def _read_runs(
    client: Any,
    exps: Sequence[Any],
    metric: str,
    experiments: Sequence[str] | None,
    source: str,
) -> tuple[dict[str, list[tuple[float, float]]], dict[str, dict[str, Any]], set[str]]:
    """``(series, meta, metrics seen)`` of every run that logged ``metric``."""
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
    return series, meta, available
