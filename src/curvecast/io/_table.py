"""Read curves from plain tables (``run, step, metric, value``) and from Weights & Biases exports.

W&B exports come in two layouts, both read without a login:

* a chart's "Export CSV" (the line-plot panel menu): a ``Step`` column, then for each run
  ``"<run> - <metric>"`` with ``"<run> - <metric>__MIN"`` and ``__MAX`` beside it;
* a run's history from the public API (``run.history()`` or ``run.scan_history()`` saved as
  CSV, JSON or JSON Lines): one row per logged step, a ``_step`` column and one column per
  metric. The run is named by a ``run``/``name``/``run_name``/``run_id`` column when the file
  has one, else by the file's name; a JSON object ``{run: [rows]}`` names its runs itself.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from curvecast.curves import Curve
from curvecast.exceptions import MissingDependencyError, install_hint
from curvecast.io._common import SourceError, build_curves, check_metric, unknown_metric

__all__ = ["read_table", "read_wandb"]

_COLUMNS = ("run", "step", "metric", "value")
_RUN_COLUMNS = ("run", "name", "run_name", "run_id")
_STAT_SUFFIXES = ("__MIN", "__MAX", "__min", "__max")


def _number(v: Any) -> float | None:
    """A float from a cell (NaN and inf kept: they mark divergence), or None for an empty one."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    text = str(v).strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _missing(path: Path, source: str, what: str) -> SourceError:
    return SourceError(f"{source}: no such file {str(path.resolve())!r}; give {what}")


#: the longest CSV cell read (csv's own default, 131,072 characters, refuses longer ones)
_FIELD_LIMIT = 1 << 20


def _read_csv(path: Path, source: str) -> tuple[list[str], list[dict[str, str]]]:
    old = csv.field_size_limit()
    csv.field_size_limit(_FIELD_LIMIT)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            rows = []
            for line, row in enumerate(reader, start=2):
                if None in row:  # DictReader's key for the cells past the header's
                    raise SourceError(
                        f"{source}: line {line} of {str(path)!r} has more cells than the "
                        f"{len(reader.fieldnames or [])} columns of its header; quote cells "
                        "that hold commas, or fix the row"
                    )
                rows.append(row)
            header = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(f"{source}: cannot read {str(path)!r} as CSV ({exc})") from None
    finally:
        csv.field_size_limit(old)
    return header, rows


def read_table(
    path: str | os.PathLike[str],
    metric: str,
    *,
    direction: str = "maximize",
    bounds: Sequence[float | None] | None = None,
) -> dict[str, Curve]:
    """Read ``metric`` from a long table with columns ``run, step, metric, value``.

    CSV (any file but ``.parquet``/``.pq``) is read with the standard library; Parquet needs
    pyarrow (the ``parquet`` extra). Extra columns are ignored; an empty value
    is skipped; ``nan``/``inf`` mark a diverged run.

    Returns:
        {run: Curve}, sorted by run; ``meta`` holds run, metric, source.

    Raises:
        SourceError: the file is missing or unreadable, a column is missing, a step is not a
            number, or no row has ``metric`` (the message lists the metrics there are).

    Example:
        >>> curves = read_table("runs.csv", "val_loss", direction="minimize")  # doctest: +SKIP
    """
    check_metric(metric, "read_table")
    p = Path(path)
    parquet = p.suffix.lower() in (".parquet", ".pq")
    source = f"{'parquet' if parquet else 'csv'}:{path}"
    if not p.is_file():
        raise _missing(p, source, "a table with columns run, step, metric, value")
    if parquet:
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise MissingDependencyError(
                "reading Parquet needs pyarrow: " + install_hint("parquet")
            ) from exc
        try:
            table = pq.read_table(p)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
            raise SourceError(f"{source}: cannot read {str(p)!r} as Parquet ({exc})") from None
        header = list(table.column_names)
        rows: list[dict[str, Any]] = table.to_pylist()
    else:
        header, rows = _read_csv(p, source)
    lower = {h.strip().lower(): h for h in header if h is not None}
    missing = [c for c in _COLUMNS if c not in lower]
    if missing:
        raise SourceError(
            f"{source}: the table lacks the column(s) {missing}; it must have run, step, metric, "
            f"value (one row per logged value). Its columns are {header}"
        )
    run_c, step_c, metric_c, value_c = (lower[c] for c in _COLUMNS)
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    available: set[str] = set()
    for i, row in enumerate(rows, start=2):
        name = str(row[metric_c])
        available.add(name)
        if name != metric:
            continue
        value = _number(row[value_c])
        if value is None:
            continue
        step = _number(row[step_c])
        if step is None or not math.isfinite(step):
            raise SourceError(
                f"{source}: row {i} has step {row[step_c]!r}; every step must be a number"
            )
        series[str(row[run_c])].append((step, value))
    if not series:
        raise unknown_metric(source, metric, available)
    return build_curves(series, source=source, metric=metric, direction=direction, bounds=bounds)


def _chart_series(
    header: list[str], rows: list[dict[str, str]], metric: str
) -> tuple[dict[str, list[tuple[float, float]]], set[str]]:
    """The chart export: a Step column and "<run> - <metric>" columns."""
    step_c = next(h for h in header if h.strip().lower() == "step")
    available: set[str] = set()
    cols: dict[str, str] = {}
    suffix = f" - {metric}"
    for h in header:
        if h == step_c or h.endswith(_STAT_SUFFIXES) or " - " not in h:
            continue
        available.add(h.rsplit(" - ", 1)[1])
        if h.endswith(suffix) and len(h) > len(suffix):
            cols[h[: -len(suffix)]] = h
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in rows:
        step = _number(row.get(step_c))
        if step is None:
            continue
        for run, col in cols.items():
            v = _number(row.get(col))
            if v is not None:
                series[run].append((step, v))
    return series, available


def _history_rows(path: Path, source: str) -> dict[str, list[Mapping[str, Any]]]:
    """{run: history rows} from a history file (CSV, JSON or JSON Lines)."""
    suffix = path.suffix.lower()
    data: Any
    try:
        if suffix == ".jsonl":
            with path.open(encoding="utf-8") as fh:
                data = [json.loads(line) for line in fh if line.strip()]
        elif suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            data = _read_csv(path, source)[1]
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise SourceError(
            f"{source}: cannot read {str(path)!r} ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    if isinstance(data, Mapping):
        if all(isinstance(v, list) for v in data.values()):
            return {str(k): list(v) for k, v in data.items()}
        data = [data]
    if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
        raise SourceError(
            f"{source}: {str(path)!r} is neither a W&B chart export (Step, '<run> - <metric>' "
            "columns) nor a run history (rows with _step and one key per metric)"
        )
    out: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in data:
        name = next((row[c] for c in _RUN_COLUMNS if row.get(c) not in (None, "")), None)
        out[str(name) if name is not None else path.stem].append(row)
    return out


def _wandb_files(p: Path) -> list[Path]:
    if p.is_file():
        return [p]
    return sorted(f for f in p.iterdir() if f.suffix.lower() in (".csv", ".json", ".jsonl"))


def read_wandb(
    path: str | os.PathLike[str],
    metric: str,
    *,
    direction: str = "maximize",
    bounds: Sequence[float | None] | None = None,
) -> dict[str, Curve]:
    """Read ``metric`` from a Weights & Biases export (see the module docstring for layouts).

    Args:
        path: an exported CSV/JSON/JSONL file, or a folder of them (e.g. one history per run).
        metric: the metric's key as logged, e.g. ``"val/loss"``.
        direction, bounds: copied onto the curves.

    Returns:
        {run: Curve}, sorted by run; the axis is W&B's step (``Step`` or ``_step``).

    Raises:
        SourceError: the path is missing or holds no export, a file is of another layout, or no
            run has ``metric`` (the message lists the metrics there are).

    Example:
        >>> curves = read_wandb("export.csv", "val/loss", direction="minimize")  # doctest: +SKIP
    """
    check_metric(metric, "read_wandb")
    p = Path(path)
    source = f"wandb:{path}"
    if not p.exists():
        raise _missing(
            p, source, "a CSV exported from a W&B chart, or run histories saved as CSV/JSON"
        )
    files = _wandb_files(p)
    if not files:
        raise SourceError(f"{source}: the folder holds no .csv, .json or .jsonl export")
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    available: set[str] = set()
    for f in files:
        if f.suffix.lower() == ".csv":
            header, rows = _read_csv(f, source)
            if any(h.strip().lower() == "step" for h in header) and any(" - " in h for h in header):
                got, names = _chart_series(header, rows, metric)
                available |= names
                for run, pts in got.items():
                    series[run].extend(pts)
                continue
        for run, rows_ in _history_rows(f, source).items():
            pts = _history_points(rows_, metric, available, source, f)
            series[run].extend(pts)
    series = {k: v for k, v in series.items() if v}
    if not series:
        raise unknown_metric(source, metric, available)
    return build_curves(series, source=source, metric=metric, direction=direction, bounds=bounds)


def _history_points(
    rows: Iterable[Mapping[str, Any]], metric: str, available: set[str], source: str, f: Path
) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for k, row in enumerate(rows):
        available.update(
            c for c in row if not c.startswith("_") and c not in _RUN_COLUMNS and c.strip()
        )
        v = _number(row.get(metric))
        if v is None:
            continue
        step = _number(row.get("_step", row.get("step", k)))
        if step is None:
            raise SourceError(
                f"{source}: a row of {str(f)!r} has {metric!r} but no _step; export the "
                "history with its _step column"
            )
        points.append((step, v))
    return points
