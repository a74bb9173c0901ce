"""A sweep: the table of training runs that a scaling law is fitted to.

Each run has a parameter count ``N``, a number of training tokens (or samples) ``D``, a training
compute ``C`` (given, else ``6 N D``) and a final loss; optionally a name, a group (data set,
family: laws are fitted per group) and extra numeric columns (downstream errors, say).

Read one from CSV, JSON Lines or a pandas DataFrame with :func:`read_sweep`; column names are
matched case-insensitively against common spellings (``params``/``n_params``/``N``,
``tokens``/``D``, ``flops``/``compute``/``C``, ``loss``/``val_loss``...).

>>> s = Sweep(N=[1e7, 1e8, 1e9], D=[2e8, 2e9, 2e10], loss=[4.1, 3.4, 2.9])
>>> s.C.tolist()
[1.2e+16, 1.2e+18, 1.2e+20]
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from curvecast.exceptions import InvalidParameterError, _shown, install_hint

__all__ = ["COLUMN_ALIASES", "Sweep", "read_sweep"]

#: Accepted spellings of each core column (compared lower-cased).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "N": ("n", "params", "n_params", "n_param", "parameters", "num_params", "model_size"),
    "D": ("d", "tokens", "n_tokens", "data", "n_data", "train_tokens", "samples"),
    "C": ("c", "flops", "compute", "total_compute", "train_flops"),
    "loss": ("loss", "final_loss", "val_loss", "valid_loss", "eval_loss", "validation_loss"),
    "name": ("name", "run", "run_id", "id", "config_id", "model"),
    "group": ("group", "dataset", "family", "series"),
}


def _vector(values: ArrayLike, name: str, n: int | None) -> NDArray[np.float64]:
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError, OverflowError):
        raise InvalidParameterError(
            f"The {name!r} column of the sweep must hold numbers. Got {_shown(values, 80)} instead."
        ) from None
    if n is not None and arr.size != n:
        raise InvalidParameterError(
            f"The {name!r} column of the sweep must have one value per run ({n}). "
            f"Got {arr.size} instead."
        )
    return arr


@dataclass(frozen=True)
class Sweep:
    """Runs of a scaling sweep. All arrays have shape ``(n_runs,)``.

    Args:
        N: parameters per run, > 0.
        D: training tokens (or samples) per run, > 0.
        loss: final loss per run, finite and > 0 (a law is fitted on log loss).
        C: training FLOPs per run, > 0; ``None`` means ``6 N D``.
        name: a label per run (default ``run0``, ``run1``...).
        group: a group label per run (default all ``""``); fit one law per group.
        extra: other numeric columns, each of shape ``(n_runs,)`` (downstream errors...).

    Raises:
        InvalidParameterError: a column is missing a value, is not positive where it must be,
            or is non-finite; the message names the column and the first bad run.
    """

    N: NDArray[np.float64]
    D: NDArray[np.float64]
    loss: NDArray[np.float64]
    C: NDArray[np.float64] = field(default=None)  # type: ignore[arg-type]  # None: 6 N D
    name: tuple[str, ...] = ()
    group: tuple[str, ...] = ()
    extra: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n_arr = _vector(self.N, "N", None)
        n = n_arr.size
        if n == 0:
            raise InvalidParameterError(
                "The sweep must hold at least one run. Got an empty table instead."
            )
        d_arr = _vector(self.D, "D", n)
        loss = _vector(self.loss, "loss", n)
        with np.errstate(over="ignore"):  # an overflow to inf is refused just below
            c_arr = 6.0 * n_arr * d_arr if self.C is None else _vector(self.C, "C", n)
        for col, arr in (("N", n_arr), ("D", d_arr), ("C", c_arr), ("loss", loss)):
            bad = np.flatnonzero(~(np.isfinite(arr) & (arr > 0)))
            if bad.size:
                i = int(bad[0])
                hint = (
                    " A diverged run (NaN or infinite loss) must be dropped first: "
                    "read_sweep(..., drop_nonfinite=True) or --drop-diverged on the command line."
                    if col == "loss"
                    else ""
                )
                raise InvalidParameterError(
                    f"The {col!r} column of the sweep must be finite and > 0 for every run. "
                    f"Got {float(arr[i])!r} at run {i} ({bad.size} such runs).{hint}"
                )
        names = (
            tuple(str(v) for v in self.name)
            if len(self.name)
            else tuple(f"run{i}" for i in range(n))
        )
        groups = tuple(str(v) for v in self.group) if len(self.group) else ("",) * n
        for col, seq in (("name", names), ("group", groups)):
            if len(seq) != n:
                raise InvalidParameterError(
                    f"The {col!r} column of the sweep must have one value per run ({n}). "
                    f"Got {len(seq)} instead."
                )
        extra = {str(k): _vector(v, str(k), n) for k, v in dict(self.extra).items()}
        for arr in (n_arr, d_arr, c_arr, loss, *extra.values()):
            arr.setflags(write=False)
        object.__setattr__(self, "N", n_arr)
        object.__setattr__(self, "D", d_arr)
        object.__setattr__(self, "C", c_arr)
        object.__setattr__(self, "loss", loss)
        object.__setattr__(self, "name", names)
        object.__setattr__(self, "group", groups)
        object.__setattr__(self, "extra", extra)

    def __len__(self) -> int:
        return int(self.N.size)

    @property
    def tokens_per_param(self) -> NDArray[np.float64]:
        """``D / N`` per run, shape ``(n_runs,)``."""
        return self.D / self.N

    @property
    def groups(self) -> list[str]:
        """The distinct group labels, in order of first appearance."""
        return list(dict.fromkeys(self.group))

    def select(self, mask: ArrayLike) -> Sweep:
        """The runs where ``mask`` (bool, shape ``(n_runs,)``, or integer indices) holds."""
        idx = np.asarray(mask)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise InvalidParameterError(
                    f"The 'mask' parameter of Sweep.select must have shape ({len(self)},). "
                    f"Got {idx.shape} instead."
                )
            idx = np.flatnonzero(idx)
        idx = idx.astype(int)
        return Sweep(
            N=self.N[idx],
            D=self.D[idx],
            loss=self.loss[idx],
            C=self.C[idx],
            name=tuple(self.name[i] for i in idx),
            group=tuple(self.group[i] for i in idx),
            extra={k: v[idx] for k, v in self.extra.items()},
        )

    def by_group(self) -> dict[str, Sweep]:
        """One sub-sweep per group label."""
        g = np.asarray(self.group)
        return {label: self.select(g == label) for label in self.groups}

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per run (``name, group, N, D, C, loss`` and the extras)."""
        out = []
        for i in range(len(self)):
            rec: dict[str, Any] = {
                "name": self.name[i],
                "group": self.group[i],
                "N": float(self.N[i]),
                "D": float(self.D[i]),
                "C": float(self.C[i]),
                "loss": float(self.loss[i]),
            }
            rec.update({k: float(v[i]) for k, v in self.extra.items()})
            out.append(rec)
        return out


# ---------------------------------------------------------------------------------------------
# Readers


def _columns_from_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {}
    n = 0
    for row in rows:
        for k in row:
            if k not in cols:
                cols[k] = [None] * n
        for k in cols:
            cols[k].append(row.get(k))
        n += 1
    return cols


def _find(cols: Mapping[str, Any], key: str, explicit: str | None) -> str | None:
    if explicit is not None:
        if explicit not in cols:
            raise InvalidParameterError(
                f"The sweep has no column {explicit!r} (asked for as {key}). "
                f"Its columns are: {', '.join(map(str, cols))}."
            )
        return explicit
    lower = {str(c).lower(): c for c in cols}
    if key in cols:
        return key
    for alias in COLUMN_ALIASES[key]:
        if alias in lower:
            return str(lower[alias])
    return None


def _to_float(values: Sequence[Any], col: str) -> NDArray[np.float64]:
    out = np.empty(len(values))
    for i, v in enumerate(values):
        if v is None or (isinstance(v, str) and v.strip() in ("", "nan", "NaN", "null")):
            out[i] = math.nan
            continue
        try:
            out[i] = float(v)
        except (TypeError, ValueError, OverflowError):
            raise InvalidParameterError(
                f"The {col!r} column of the sweep must hold numbers. Got {_shown(v)} at run {i} "
                "instead."
            ) from None
    return out


_FIELD_LIMIT = 1 << 20  # one CSV cell; csv's own default (131,072 characters) is too small


def _read_columns(source: Any) -> dict[str, list[Any]]:
    """The sweep's columns from a DataFrame, a CSV file or a JSON Lines file.

    Every failure to read is an :class:`InvalidParameterError` naming the file and the fix
    (``FileNotFoundError`` for a missing path, as before).
    """
    if hasattr(source, "to_dict") and not isinstance(source, str | os.PathLike):
        try:
            table = source.to_dict("list")
            return {str(k): list(v) for k, v in table.items()}
        except (TypeError, ValueError, AttributeError) as exc:
            raise InvalidParameterError(
                f"The 'source' parameter of read_sweep must be a path or a pandas DataFrame "
                f"(one row per run). Got a {type(source).__name__} whose to_dict('list') "
                f"failed ({exc})."
            ) from None
    if not isinstance(source, str | os.PathLike):
        raise InvalidParameterError(
            "The 'source' parameter of read_sweep must be the path of a CSV or JSON Lines file, "
            f"or a pandas DataFrame. Got {type(source).__name__} instead."
        )
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"No sweep file at {path}: give a CSV or JSON Lines file.")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq", ".xlsx", ".xls", ".feather"):
        raise InvalidParameterError(
            f"read_sweep reads CSV and JSON Lines files; {path.name} is not one. Convert it, or "
            "pass a DataFrame: read_sweep(pandas.read_parquet(path)) (pandas is in the scaling "
            f"extra: {install_hint('scaling')})."
        )
    try:
        if suffix in (".jsonl", ".ndjson", ".json"):
            return _columns_from_rows(_json_rows(path))
        return _csv_columns(path)
    except UnicodeDecodeError as exc:
        raise InvalidParameterError(
            f"The sweep file {path} is not UTF-8 text (byte {exc.start}: {exc.reason}). Save it "
            "as UTF-8 CSV or JSON Lines."
        ) from None
    except csv.Error as exc:
        raise InvalidParameterError(
            f"The sweep file {path} is not a readable CSV file ({exc}). Give one run per row "
            "with a header such as N,D,loss."
        ) from None
    except OSError as exc:
        raise InvalidParameterError(
            f"Cannot read the sweep file {path}: {exc.strerror or exc}."
        ) from None


def _csv_columns(path: Path) -> dict[str, list[Any]]:
    old = csv.field_size_limit()
    csv.field_size_limit(_FIELD_LIMIT)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = []
            for lineno, row in enumerate(reader, 2):
                if None in row:  # DictReader's key for the fields past the header's
                    width = len(reader.fieldnames or [])
                    raise InvalidParameterError(
                        f"Line {lineno} of {path} has {width + len(row[None])} fields, more "
                        f"than the {width} columns of its header. Quote fields holding commas, "
                        "or fix the row."
                    )
                rows.append(row)
    finally:
        csv.field_size_limit(old)
    return _columns_from_rows(rows)


def _json_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidParameterError(
                    f"Line {lineno} of {path} is not valid JSON ({exc.msg}). Each line "
                    'must be one run, e.g. {"N": 1e8, "D": 2e9, "loss": 3.4}.'
                ) from None
            except (RecursionError, ValueError) as exc:  # nesting too deep, an int of 4,300+ digits
                raise InvalidParameterError(
                    f"Line {lineno} of {path} cannot be read as one run "
                    f"({type(exc).__name__}: {str(exc)[:120]}). Each line must be a flat JSON "
                    'object, e.g. {"N": 1e8, "D": 2e9, "loss": 3.4}.'
                ) from None
            if not isinstance(rec, dict):
                raise InvalidParameterError(
                    f"Line {lineno} of {path} must be a JSON object (one run). "
                    f"Got {type(rec).__name__} instead."
                )
            rows.append(rec)
    return rows


def read_sweep(
    source: str | os.PathLike[str] | Any,
    *,
    N: str | None = None,
    D: str | None = None,
    C: str | None = None,
    loss: str | None = None,
    name: str | None = None,
    group: str | None = None,
    extra: Sequence[str] = (),
    drop_nonfinite: bool = False,
) -> Sweep:
    """Read a sweep from a CSV file, a JSON Lines file (``.jsonl``/``.ndjson``) or a DataFrame.

    Column names are found through :data:`COLUMN_ALIASES` unless given. ``N`` and ``loss`` are
    required; ``D`` is required unless ``C`` is given (then ``D = C / (6 N)``).

    Args:
        source: a path, or anything with ``to_dict("list")`` (a pandas DataFrame).
        N, D, C, loss, name, group: the column to use for each field (default: found by alias).
        extra: more numeric columns to keep (downstream scores...).
        drop_nonfinite: drop runs whose loss is NaN, infinite or <= 0 (diverged runs) instead
            of raising. The caller sees how many were dropped by comparing lengths; the
            command line and the benchmark print that count.
    Raises:
        InvalidParameterError: a required column is missing, or a value is not a number.
        FileNotFoundError: ``source`` is a path that does not exist.

    >>> import io, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "s.csv")
    >>> _ = open(p, "w").write("params,tokens,loss\\n1e7,2e8,4.1\\n1e8,2e9,3.4\\n")
    >>> read_sweep(p).N.tolist()
    [10000000.0, 100000000.0]
    """
    cols = _read_columns(source)
    if not cols:
        raise InvalidParameterError(f"The sweep {source!s:.80} holds no runs.")
    found = {
        key: _find(cols, key, given)
        for key, given in (("N", N), ("D", D), ("C", C), ("loss", loss))
    }
    if found["N"] is None or found["loss"] is None or (found["D"] is None and found["C"] is None):
        missing = [k for k in ("N", "loss") if found[k] is None]
        if found["D"] is None and found["C"] is None:
            missing.append("D (or C)")
        raise InvalidParameterError(
            f"The sweep has no column for {', '.join(missing)}. Its columns are: "
            f"{', '.join(cols)}. Name them N, D, C and loss, or pass the names (--n-col, "
            "--d-col, --c-col, --loss-col on the command line)."
        )
    n_vals = _to_float(cols[found["N"]], found["N"])
    loss_vals = _to_float(cols[found["loss"]], found["loss"])
    c_vals = _to_float(cols[found["C"]], found["C"]) if found["C"] else None
    if found["D"] is not None:
        d_vals = _to_float(cols[found["D"]], found["D"])
    elif c_vals is not None:
        d_vals = c_vals / (6.0 * n_vals)
    name_col = _find(cols, "name", name)
    group_col = _find(cols, "group", group)
    names = [str(v) for v in cols[name_col]] if name_col else []
    groups = [str(v) for v in cols[group_col]] if group_col else []
    extras = {}
    for col in extra:
        if col not in cols:
            raise InvalidParameterError(
                f"The sweep has no column {col!r} (asked for as an extra). Its columns are: "
                f"{', '.join(cols)}."
            )
        extras[col] = _to_float(cols[col], col)
    keep = np.ones(n_vals.size, dtype=bool)
    if drop_nonfinite:
        keep = np.isfinite(loss_vals) & (loss_vals > 0)
    idx = np.flatnonzero(keep)
    return Sweep(
        N=n_vals[idx],
        D=d_vals[idx],
        loss=loss_vals[idx],
        C=None if c_vals is None else c_vals[idx],  # type: ignore[arg-type]
        name=tuple(names[i] for i in idx) if names else (),
        group=tuple(groups[i] for i in idx) if groups else (),
        extra={k: v[idx] for k, v in extras.items()},
    )
