"""A table of models with their benchmark scores: what :class:`DownstreamScaling` is fitted to.

One row per trained model: ``model`` (a name), ``family`` (models trained the same way at
different sizes), ``params``, ``tokens``, ``flops`` (``6 * params * tokens`` when not given) and
one score in ``[0, 1]`` per benchmark (NaN where a model was not evaluated on it).

Read one from CSV or a pandas DataFrame with :func:`read_models`: the columns ``model, family,
params, tokens`` (and optionally ``flops``) are found by name; every other numeric column is a
benchmark.

>>> t = ModelTable(model=["a", "b"], family=["f", "f"], params=[1e8, 1e9], tokens=[2e9, 2e10],
...                scores={"mmlu": [0.26, 0.31]})
>>> t.flops.tolist(), t.benchmarks, t.scores.shape
([1.2e+18, 1.2e+20], ('mmlu',), (2, 1))
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from curvecast.exceptions import InvalidParameterError

__all__ = ["ModelTable", "read_models"]

_CORE = {
    "model": ("model", "name", "model_name"),
    "family": ("family", "model_family", "model family", "group"),
    "params": ("params", "n_params", "parameters", "n", "model_size"),
    "tokens": ("tokens", "n_tokens", "d", "train_tokens", "data"),
    "flops": ("flops", "compute", "c", "train_flops"),
}


def _floats(values: ArrayLike, name: str, n: int) -> NDArray[np.float64]:
    try:
        arr = np.asarray(
            [math.nan if v is None or v == "" else v for v in np.asarray(values, dtype=object)],
            dtype=np.float64,
        ).reshape(-1)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"The {name!r} column of the model table must hold numbers. Got {values!r:.80} instead."
        ) from None
    if arr.size != n:
        raise InvalidParameterError(
            f"The {name!r} column of the model table must have one value per model ({n}). "
            f"Got {arr.size} instead."
        )
    return arr


@dataclass(frozen=True)
class ModelTable:
    """Models, their family, size, tokens, compute and benchmark scores.

    Args:
        model, family: one name each per model, shape ``(n,)``.
        params, tokens: parameters and training tokens, shape ``(n,)``, finite and > 0.
        scores: benchmark name -> scores, shape ``(n,)`` each, in ``[0, 1]`` or NaN (not
            evaluated).
        flops: training compute, shape ``(n,)``; ``6 * params * tokens`` when None (or where NaN).
        loss: an optional validation loss per model, shape ``(n,)`` (for loss-based anchors).

    Attributes ``benchmarks`` (names, sorted as given) and ``scores`` (array ``(n, B)``).

    Raises:
        InvalidParameterError: a missing or non-positive size or token count (naming the model),
            a score outside ``[0, 1]`` (naming the model and benchmark), duplicate model names,
            no benchmark, or columns of different lengths.
    """

    model: Sequence[str]
    family: Sequence[str]
    params: ArrayLike
    tokens: ArrayLike
    scores: Any
    flops: ArrayLike | None = None
    loss: ArrayLike | None = None
    benchmarks: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = tuple(str(m) for m in self.model)
        n = len(names)
        fam = tuple(str(f) for f in self.family)
        if len(fam) != n:
            raise InvalidParameterError(
                f"The 'family' column of the model table must have one value per model ({n}). "
                f"Got {len(fam)} instead."
            )
        if len(set(names)) != n:
            dup = sorted({m for m in names if names.count(m) > 1})
            raise InvalidParameterError(
                f"Model names must be unique in the model table; {', '.join(dup[:5])} appear "
                "more than once. Rename them or drop the duplicates."
            )
        N = _floats(self.params, "params", n)
        D = _floats(self.tokens, "tokens", n)
        for col, arr in (("params", N), ("tokens", D)):
            bad = np.flatnonzero(~(np.isfinite(arr) & (arr > 0)))
            if bad.size:
                i = int(bad[0])
                raise InvalidParameterError(
                    f"Model {names[i]!r} has no usable {col!r} (got {arr[i]!r}): every model "
                    f"needs its parameter count and training tokens, both > 0. Fill in {col!r} "
                    f"from the model card, or drop the model ({bad.size} model(s) affected)."
                )
        C = 6.0 * N * D
        if self.flops is not None:
            given = _floats(self.flops, "flops", n)
            if np.any(np.isfinite(given) & (given <= 0)):
                raise InvalidParameterError("The 'flops' column must be > 0 where given.")
            C = np.where(np.isfinite(given), given, C)
        if not isinstance(self.scores, Mapping) or not self.scores:
            raise InvalidParameterError(
                "The model table needs at least one benchmark: scores must map a benchmark "
                f"name to one score per model. Got {type(self.scores).__name__} instead."
            )
        bench = tuple(str(b) for b in self.scores)
        S = np.column_stack([_floats(self.scores[b], b, n) for b in self.scores])
        bad_s = np.isfinite(S) & ((S < 0) | (S > 1))
        if np.any(bad_s):
            i, j = (int(v[0]) for v in np.nonzero(bad_s))
            raise InvalidParameterError(
                f"Score {S[i, j]!r} of model {names[i]!r} on {bench[j]!r} is outside [0, 1]: "
                "scores must be accuracies or pass rates in [0, 1] (divide percentages by 100)."
            )
        L = None if self.loss is None else _floats(self.loss, "loss", n)
        object.__setattr__(self, "model", names)
        object.__setattr__(self, "family", fam)
        object.__setattr__(self, "params", N)
        object.__setattr__(self, "tokens", D)
        object.__setattr__(self, "flops", C)
        object.__setattr__(self, "scores", S)
        object.__setattr__(self, "loss", L)
        object.__setattr__(self, "benchmarks", bench)

    def __len__(self) -> int:
        return len(self.model)

    @property
    def families(self) -> tuple[str, ...]:
        """Distinct families, in order of first appearance."""
        return tuple(dict.fromkeys(self.family))

    def select(self, mask: ArrayLike) -> ModelTable:
        """The models where ``mask`` (bool, shape ``(n,)``, or indices) holds."""
        idx = np.arange(len(self))[np.asarray(mask)]
        S = np.asarray(self.scores)
        return ModelTable(
            model=[self.model[i] for i in idx],
            family=[self.family[i] for i in idx],
            params=np.asarray(self.params)[idx],
            tokens=np.asarray(self.tokens)[idx],
            scores={b: S[idx, j] for j, b in enumerate(self.benchmarks)},
            flops=np.asarray(self.flops)[idx],
            loss=None if self.loss is None else np.asarray(self.loss)[idx],
        )

    def with_benchmarks(self, names: Sequence[str]) -> ModelTable:
        """The same models with only the benchmarks in ``names``."""
        S = np.asarray(self.scores)
        missing = [b for b in names if b not in self.benchmarks]
        if missing:
            raise InvalidParameterError(
                f"The model table has no benchmark {missing[0]!r}. Its benchmarks are: "
                f"{', '.join(self.benchmarks)}."
            )
        return ModelTable(
            model=self.model,
            family=self.family,
            params=self.params,
            tokens=self.tokens,
            scores={b: S[:, self.benchmarks.index(b)] for b in names},
            flops=self.flops,
            loss=self.loss,
        )


def _find(cols: Sequence[str], key: str) -> str | None:
    low = {c.strip().lower(): c for c in cols}
    for alias in _CORE[key]:
        if alias in low:
            return low[alias]
    return None


def read_models(source: str | os.PathLike[str] | Any) -> ModelTable:
    """Read a :class:`ModelTable` from a CSV file or a pandas DataFrame.

    Columns ``model, family, params, tokens`` are required (matched case-insensitively, with
    common spellings such as ``name``, ``n_params``, ``n_tokens``), ``flops`` is optional; every
    other column is a benchmark and must hold scores in ``[0, 1]`` (empty cells are NaN).

    Raises:
        FileNotFoundError: ``source`` is a path that does not exist.
        InvalidParameterError: a required column is missing, or :class:`ModelTable` refuses the
            values.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "m.csv")
    >>> _ = open(p, "w").write("model,family,params,tokens,mmlu\\na,f,1e8,2e9,0.26\\n")
    >>> read_models(p).benchmarks
    ('mmlu',)
    """
    if hasattr(source, "to_dict"):
        data: dict[str, list[Any]] = {str(k): list(v) for k, v in source.to_dict("list").items()}
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"No model table at {path}: give a CSV file.")
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        if not rows:
            raise InvalidParameterError(f"{path} holds no models (a header and one row each).")
        data = {k: [r[k] for r in rows] for k in rows[0]}
    cols = list(data)
    found = {k: _find(cols, k) for k in _CORE}
    for key in ("model", "family", "params", "tokens"):
        if found[key] is None:
            raise InvalidParameterError(
                f"The model table has no {key!r} column (looked for "
                f"{', '.join(_CORE[key])}). Its columns are: {', '.join(cols)}."
            )
    used = {c for c in found.values() if c is not None}
    scores = {c: data[c] for c in cols if c not in used}
    flops_col = found["flops"]
    return ModelTable(
        model=[str(v) for v in data[str(found["model"])]],
        family=[str(v) for v in data[str(found["family"])]],
        params=data[str(found["params"])],
        tokens=data[str(found["tokens"])],
        scores=scores,
        flops=None if flops_col is None else data[flops_col],
    )
