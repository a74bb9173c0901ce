"""Repeated-sampling outcomes: per problem, ``n`` samples drawn and ``c`` of them correct.

:class:`SampleCounts` is what every other part of :mod:`curvecast.sampling` reads. Build one from
per-sample outcomes (:meth:`SampleCounts.from_outcomes`), from counts (the constructor), or read a
CSV or Parquet file with :func:`read_samples` (one :class:`SampleCounts` per model).

>>> sc = SampleCounts(n=[10, 10, 25], c=[3, 0, 1])
>>> sc.n.tolist(), sc.c.tolist(), len(sc)
([10, 10, 25], [3, 0, 1], 3)
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from curvecast.exceptions import InvalidParameterError, MissingDependencyError, install_hint

__all__ = ["SampleCounts", "read_samples"]

_OUTCOME_COLUMNS = ("problem", "attempt", "correct")
_COUNT_COLUMNS = ("problem", "n", "c")


def _counts(values: ArrayLike, name: str, where: str) -> NDArray[np.int64]:
    """Validate one count column: finite, integer, >= 0."""
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"The {name!r} column of {where} must hold whole numbers >= 0. "
            f"Got a value that is not a number; fix or drop that row."
        ) from None
    bad = ~np.isfinite(arr) | (arr < 0) | (arr != np.round(arr))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidParameterError(
            f"The {name!r} column of {where} must hold whole numbers >= 0. "
            f"Got {arr[i]!r} in row {i + 1} instead; fix or drop that row."
        )
    return arr.astype(np.int64)


@dataclass(frozen=True)
class SampleCounts:
    """Per-problem sample counts of one model: ``n[i]`` samples drawn on problem ``i``, ``c[i]``
    of them correct. ``n`` may differ between problems (e.g. sampling until a first success).

    Attributes:
        n: samples drawn per problem, shape (``n_problems``,), integers >= 1.
        c: correct samples per problem, shape (``n_problems``,), ``0 <= c <= n``.
        problems: problem labels, shape (``n_problems``,) (default ``0..n_problems-1``).
        model: the model's name (``""`` when the data has none).

    Raises:
        InvalidParameterError: no problems, negative or non-integer counts, ``c > n``, or a
            problem with no samples (``n == 0``); the message names the column and the fix.
    """

    n: NDArray[np.int64]
    c: NDArray[np.int64]
    problems: tuple[Any, ...] = ()
    model: str = ""

    def __init__(
        self,
        n: ArrayLike,
        c: ArrayLike,
        problems: Sequence[Any] | None = None,
        model: str = "",
    ) -> None:
        where = "the sample counts" if not model else f"the sample counts of model {model!r}"
        nn = _counts(n, "n", where)
        cc = _counts(c, "c", where)
        if nn.size == 0:
            raise InvalidParameterError(
                f"The 'n' column of {where} must have at least one problem. Got none; "
                "give at least one row."
            )
        if cc.size != nn.size:
            raise InvalidParameterError(
                f"The 'c' column of {where} must have one value per problem ({nn.size}). "
                f"Got {cc.size} instead."
            )
        labels = tuple(range(nn.size)) if problems is None else tuple(problems)
        if len(labels) != nn.size:
            raise InvalidParameterError(
                f"The 'problem' column of {where} must have one label per problem ({nn.size}). "
                f"Got {len(labels)} instead."
            )
        empty = np.flatnonzero(nn == 0)
        if empty.size:
            raise InvalidParameterError(
                f"The 'n' column of {where} must be >= 1 for every problem: problem "
                f"{labels[int(empty[0])]!r} has no samples. Drop it or draw samples for it."
            )
        over = np.flatnonzero(cc > nn)
        if over.size:
            i = int(over[0])
            raise InvalidParameterError(
                f"The 'c' column of {where} must be <= 'n' (correct samples cannot outnumber "
                f"samples). Got c={int(cc[i])} > n={int(nn[i])} for problem {labels[i]!r}; "
                "fix that row."
            )
        nn.setflags(write=False)
        cc.setflags(write=False)
        object.__setattr__(self, "n", nn)
        object.__setattr__(self, "c", cc)
        object.__setattr__(self, "problems", labels)
        object.__setattr__(self, "model", str(model))

    def __len__(self) -> int:
        return int(self.n.size)

    @classmethod
    def from_outcomes(
        cls, outcomes: ArrayLike, model: str = "", problems: Sequence[Any] | None = None
    ) -> SampleCounts:
        """Counts from a matrix of per-sample outcomes.

        Args:
            outcomes: shape (``n_problems`` x ``n_samples``) of 0/1 (or bool); NaN marks a
                sample not drawn, so problems may have different numbers of samples.
            model: the model's name.
            problems: labels, one per row.

        Raises:
            InvalidParameterError: a value other than 0, 1 or NaN.

        >>> SampleCounts.from_outcomes([[1, 0, 0], [0, 0, float("nan")]]).c.tolist()
        [1, 0]
        """
        arr = np.asarray(outcomes, dtype=np.float64)
        if arr.ndim != 2:
            raise InvalidParameterError(
                "The 'outcomes' parameter of SampleCounts.from_outcomes must be a 2-D array "
                f"(problems x samples). Got shape {arr.shape} instead."
            )
        drawn = ~np.isnan(arr)
        vals = arr[drawn]
        if vals.size and not np.all((vals == 0) | (vals == 1)):
            bad = vals[(vals != 0) & (vals != 1)][0]
            raise InvalidParameterError(
                "The 'correct' column of the outcomes must be 0 or 1 (or true/false). "
                f"Got {bad!r} instead; mark each sample correct (1) or not (0)."
            )
        return cls(drawn.sum(1), np.nansum(arr, axis=1), problems=problems, model=model)

    def unique(self) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        """Distinct ``(n, c)`` pairs and how many problems share each: ``(n_u, c_u, weight)``,
        each of shape (``n_unique``,). The fit works on these (c = 0 problems mostly share one)."""
        pairs = np.stack([self.n, self.c], axis=1)
        uniq, inv = np.unique(pairs, axis=0, return_inverse=True)
        w = np.bincount(inv.reshape(-1), minlength=len(uniq))
        return uniq[:, 0].copy(), uniq[:, 1].copy(), w.astype(np.int64)


@dataclass(frozen=True)
class _Coded:
    """A string column as integer codes into ``names`` (-1: missing)."""

    codes: NDArray[np.int64]
    names: list[str]

    def __len__(self) -> int:
        return int(self.codes.size)


def _read_table(path: Path) -> dict[str, Any]:
    """Columns of a CSV or Parquet file as arrays, names lower-cased and stripped."""
    if not path.is_file():
        raise InvalidParameterError(
            f"The 'FILE' argument must be a CSV or Parquet file. Got {str(path)!r}, which does "
            "not exist; check the path."
        )
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise MissingDependencyError(
                f"Reading Parquet needs pyarrow: {install_hint('parquet')}, or save as CSV."
            ) from None
        import pyarrow as pa

        table = pq.read_table(path)
        out: dict[str, Any] = {}
        for i, name in enumerate(table.column_names):
            col = table.column(i)
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                # integer codes + the distinct strings: no Python object per row
                enc = col.combine_chunks().dictionary_encode()
                codes = enc.indices.to_numpy(zero_copy_only=False)
                if enc.null_count:
                    codes = np.where(enc.is_null().to_numpy(zero_copy_only=False), -1, codes)
                out[str(name).strip().lower()] = _Coded(
                    np.asarray(codes, dtype=np.int64), [str(v) for v in enc.dictionary.to_pylist()]
                )
            else:
                out[str(name).strip().lower()] = np.asarray(col.to_numpy(zero_copy_only=False))
        return out
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        rows = [r for r in reader if r]
    names = [str(k).strip().lower() for k in header]
    width = len(names)
    table_rows = [r[:width] + [""] * (width - len(r)) for r in rows]
    cols = np.array(table_rows, dtype=object).reshape(len(table_rows), width)
    return {name: cols[:, j] for j, name in enumerate(names)}


def _as_text(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _in_order(values: Any) -> tuple[list[str], NDArray[np.intp]]:
    """Distinct labels in order of first appearance, and each row's index into them."""
    if isinstance(values, _Coded):
        raw = values.codes
        text = [*values.names, ""]  # code -1 (missing) -> ""
    else:
        arr = np.asarray(values)
        raw = arr if arr.dtype.kind in "biuf" else np.char.strip(arr.astype(str))
        text = None
    uniq, first, inv = np.unique(raw, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    labels = [text[int(u)] if text is not None else _as_text(u) for u in uniq[order]]
    return labels, rank[inv.reshape(-1)]


def _correct_values(values: Any) -> NDArray[np.float64]:
    """0/1 from numbers, booleans or the strings 0, 1, true, false (any case)."""
    if isinstance(values, _Coded):
        values = np.array([*values.names, ""], dtype=object)[values.codes]
    arr = np.asarray(values)
    if arr.dtype.kind in "biuf":
        out = arr.astype(np.float64)
        bad = ~((out == 0) | (out == 1))
    else:
        text = np.char.lower(np.char.strip(arr.astype(str)))
        one = np.isin(text, ("1", "1.0", "true"))
        zero = np.isin(text, ("0", "0.0", "false"))
        out = one.astype(np.float64)
        bad = ~(one | zero)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidParameterError(
            "The 'correct' column must be 0 or 1 (or true/false) in every row. "
            f"Got {arr[i]!r} in row {i + 1} instead; mark each sample correct (1) or not (0)."
        )
    return out


def read_samples(path: str | Path) -> dict[str, SampleCounts]:
    """Read a CSV or Parquet file of sampling outcomes, one :class:`SampleCounts` per model.

    The file has either per-sample columns ``problem, attempt, correct`` (``correct`` 0/1) or
    per-problem counts ``problem, n, c``; a ``model`` column is optional (without it the one
    model is named ``""``). Column names are matched case-insensitively. Models and problems
    keep the order of their first row.

    Raises:
        InvalidParameterError: an empty file, missing columns, ``correct`` not 0/1, negative
            or non-integer counts, ``c > n``, a problem with no samples. The message names the
            column and the fix.
        MissingDependencyError: a Parquet file without pyarrow installed.
    """
    path = Path(path)
    cols = _read_table(path)
    rows = max((len(v) for v in cols.values()), default=0)
    if rows == 0:
        raise InvalidParameterError(
            f"The file {str(path)!r} must hold at least one row of samples. Got an empty "
            "file; give columns problem, attempt, correct (or problem, n, c) and one row per "
            "sample (or per problem)."
        )
    per_sample = all(k in cols for k in _OUTCOME_COLUMNS)
    per_count = all(k in cols for k in _COUNT_COLUMNS)
    if not (per_sample or per_count):
        missing = [k for k in _OUTCOME_COLUMNS if k not in cols]
        raise InvalidParameterError(
            f"The file {str(path)!r} must have columns 'problem, attempt, correct' (one row per "
            f"sample) or 'problem, n, c' (one row per problem), 'model' optional. Got "
            f"{sorted(cols)}, missing {missing}; rename the columns."
        )
    model_names, model_of = (
        _in_order(cols["model"]) if "model" in cols else ([""], np.zeros(rows, dtype=np.intp))
    )
    problem_names, problem_of = _in_order(cols["problem"])
    blank = [i for i, p in enumerate(problem_names) if p in ("", "None", "nan")]
    if blank:
        row = int(np.flatnonzero(problem_of == blank[0])[0])
        raise InvalidParameterError(
            f"The 'problem' column must name a problem in every row. Got an empty value in row "
            f"{row + 1}; fill it in or drop the row."
        )
    out: dict[str, SampleCounts] = {}
    if per_count and not per_sample:
        n = _counts(cols["n"], "n", f"file {str(path)!r}")
        c = _counts(cols["c"], "c", f"file {str(path)!r}")
        for j, mdl in enumerate(model_names):
            idx = np.flatnonzero(model_of == j)
            which = problem_of[idx]
            seen = np.bincount(which, minlength=len(problem_names))
            if (seen > 1).any():
                raise InvalidParameterError(
                    f"The 'problem' column must list each problem once per model with counts "
                    f"n, c. Got {problem_names[int(np.argmax(seen > 1))]!r} twice for model "
                    f"{mdl!r}; add its rows up."
                )
            labels = [problem_names[int(k)] for k in which]
            out[mdl] = SampleCounts(n[idx], c[idx], problems=labels, model=mdl)
        return out
    correct = _correct_values(cols["correct"])
    for j, mdl in enumerate(model_names):
        idx = np.flatnonzero(model_of == j)
        present, local = np.unique(problem_of[idx], return_inverse=True)
        # keep the order of first appearance within this model
        first = np.full(present.size, idx.size)
        np.minimum.at(first, local.reshape(-1), np.arange(idx.size))
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        slot = rank[local.reshape(-1)]
        n = np.bincount(slot, minlength=present.size)
        c = np.bincount(slot, weights=correct[idx], minlength=present.size)
        labels = [problem_names[int(k)] for k in present[order]]
        out[mdl] = SampleCounts(n, c, problems=labels, model=mdl)
    return out
