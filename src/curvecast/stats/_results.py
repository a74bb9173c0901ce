"""Results to compare: (method, task, seed, score) rows from a CSV file, an Optuna storage or
Python, validated once at the door.

Every method must cover the same tasks with at least two seeds each: the seed-to-seed spread is
what the intervals measure, and a task one method skipped cannot be compared on.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.exceptions import (
    CurvecastError,
    MissingDependencyError,
    install_hint,
    parameter_error,
)

__all__ = ["COLUMNS", "Results", "ResultsError", "read_csv", "read_optuna", "results_from_rows"]

COLUMNS = ("method", "task", "seed", "score")
#: the largest score magnitude compared: bootstrap sums of scores near 1e300 overflow to inf
MAX_SCORE = 1e100


class ResultsError(CurvecastError, ValueError):
    """The results to compare are unusable; the message names the row, the field and the fix."""


@dataclass(frozen=True)
class Results:
    """Validated scores: for each method, one array of seed scores per task.

    Attributes:
        scores: ``{method: [array (n_seeds,) for task in tasks]}``.
        seeds: ``{method: [tuple of seed labels for task in tasks]}``, in the order of ``scores``.
        tasks: the task names, sorted.
        direction: ``"maximize"`` or ``"minimize"``: which way a score is better.
        source: where the rows came from, for the report.
    """

    scores: dict[str, list[NDArray[np.float64]]]
    seeds: dict[str, list[tuple[str, ...]]]
    tasks: tuple[str, ...]
    direction: str
    source: str = "rows"

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(self.scores)

    def n_seeds(self, method: str) -> tuple[int, int]:
        """Fewest and most seeds of ``method`` over its tasks."""
        counts = [g.size for g in self.scores[method]]
        return min(counts), max(counts)


def results_from_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    direction: str = "maximize",
    source: str = "rows",
    first_line: int = 1,
) -> Results:
    """Validate (method, task, seed, score) rows into :class:`Results`.

    Args:
        rows: mappings with the keys of :data:`COLUMNS` (more keys are ignored).
        direction: ``"maximize"`` (higher scores are better) or ``"minimize"``.
        source: named in error messages ("line 4 of runs.csv").
        first_line: the line number of the first row, for messages.

    Raises:
        ResultsError: a missing or empty field, a score that is not a finite number, a run given
            twice, fewer than two methods, a method with one seed on a task, or methods that do not
            cover the same tasks.

    Example:
        >>> rows = [{"method": m, "task": "t", "seed": s, "score": v}
        ...         for m, vals in {"a": [1, 2], "b": [3, 4]}.items() for s, v in enumerate(vals)]
        >>> results_from_rows(rows).tasks
        ('t',)
    """
    if direction not in ("maximize", "minimize"):
        raise parameter_error("direction", "compare", "'maximize' or 'minimize'", direction)
    runs: dict[tuple[str, str], dict[str, float]] = {}
    where: dict[tuple[str, str, str], int] = {}
    line = first_line - 1
    for line, row in enumerate(rows, start=first_line):
        at = f"line {line} of {source}"
        fields = {}
        for col in COLUMNS:
            value = row.get(col)
            text = "" if value is None else str(value).strip()
            if not text:
                raise ResultsError(f"{at}: the {col!r} field is empty; give every row a {col}.")
            fields[col] = text
        try:
            score = float(fields["score"])
        except ValueError:
            raise ResultsError(
                f"{at}: score {fields['score']!r} is not a number; give a number such as 0.91 "
                "(or remove the row)."
            ) from None
        if not math.isfinite(score):
            raise ResultsError(
                f"{at}: score {fields['score']!r} is not finite; give the score that a failed run "
                "should count as, or remove the row."
            )
        if abs(score) > MAX_SCORE:
            raise ResultsError(
                f"{at}: score {score:g} is too large to compare (differences and intervals of "
                f"such scores overflow); scores must lie within +-{MAX_SCORE:g}: rescale them "
                "(e.g. take their logarithm)."
            )
        key = (fields["method"], fields["task"], fields["seed"])
        if key in where:
            raise ResultsError(
                f"{at}: method {key[0]!r}, task {key[1]!r}, seed {key[2]!r} appears twice (first "
                f"on line {where[key]}); each run must appear once."
            )
        where[key] = line
        runs.setdefault((key[0], key[1]), {})[key[2]] = score
    if not runs:
        raise ResultsError(f"{source} holds no rows; give one row per run: {', '.join(COLUMNS)}.")
    methods = sorted({m for m, _ in runs})
    tasks = sorted({t for _, t in runs})
    if len(methods) < 2:
        raise ResultsError(
            f"{source} holds one method ({methods[0]!r}); compare needs at least two methods."
        )
    for m in methods:
        for t in tasks:
            if (m, t) not in runs:
                other = next(o for o in methods if (o, t) in runs)
                raise ResultsError(
                    f"method {m!r} has no runs on task {t!r} (which {other!r} has); every method "
                    "must cover the same tasks: add its runs or drop the task."
                )
            if len(runs[(m, t)]) < 2:
                raise ResultsError(
                    f"method {m!r} has one seed on task {t!r}; compare needs at least 2 seeds per "
                    "method and task, because the seed-to-seed spread is what the intervals "
                    "measure: run more seeds."
                )
    scores = {m: [np.asarray(list(runs[(m, t)].values())) for t in tasks] for m in methods}
    seeds = {m: [tuple(runs[(m, t)]) for t in tasks] for m in methods}
    return Results(scores, seeds, tuple(tasks), direction, source)


def read_csv(path: str | Path, *, direction: str = "maximize") -> Results:
    """Read a CSV file with a header naming ``method, task, seed, score`` (other columns are
    ignored), one row per run.

    Raises:
        ResultsError: the file cannot be read, a column is missing, or a row is unusable (see
            :func:`results_from_rows`).
    """
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise ResultsError(
                    f"{p.name} has no column {', '.join(repr(c) for c in missing)}; its header "
                    f"must name {', '.join(COLUMNS)} (found: {', '.join(header) or 'nothing'})."
                )
            reader.fieldnames = header
            return results_from_rows(reader, direction=direction, source=p.name, first_line=2)
    except OSError as exc:
        raise ResultsError(f"cannot read {str(p)!r}: {exc.strerror or exc}.") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ResultsError(f"{p.name} is not a readable CSV file ({exc}).") from None


def _check_sqlite_exists(storage: str) -> None:
    """Refuse an SQLite URL whose file does not exist: Optuna would create an empty database
    there (as the dashboard refuses it)."""
    if not isinstance(storage, str) or "://" not in storage:
        raise ResultsError(
            f"--storage {storage!r} is not a storage URL; give e.g. sqlite:///study.db or "
            "postgresql://user:password@host/database."
        )
    if not storage.lower().startswith("sqlite:"):
        return
    database = storage.split("://", 1)[1].removeprefix("/").split("?", 1)[0]
    if not database or database == ":memory:":
        raise ResultsError(
            f"--storage {storage}: an in-memory SQLite database holds no study; give the file "
            "the search writes to, e.g. sqlite:///study.db."
        )
    if not Path(database).is_file():
        raise ResultsError(
            f"--storage {storage}: no such SQLite file {str(Path(database).resolve())!r} "
            "(compare never creates one; sqlite:///study.db is relative to the current folder, "
            "sqlite:////abs/path/study.db is absolute)."
        )


def read_optuna(storage: str, studies: Sequence[str], *, unit: str = "trial") -> Results:
    """Rows from Optuna studies.

    With ``unit="trial"`` every complete trial is one run: method is the study's user attribute
    ``method`` (else the study name), task its attribute ``task`` (else ``"study"``), seed the
    trial's user attribute ``seed`` (else the trial number), score the trial's value. With
    ``unit="study"`` every study is one run scoring its best value, with ``method``, ``task``
    and ``seed`` from the study's user attributes (seed else the study name): several studies
    per method, one per seed, as when comparing samplers or pruners.

    Raises:
        ResultsError: ``storage`` names an SQLite file that does not exist (it is never
            created), a study is missing or empty, or the studies disagree on the direction.
        MissingDependencyError: Optuna is not installed.
    """
    if unit not in ("trial", "study"):
        raise parameter_error("unit", "read_optuna", "'trial' or 'study'", unit)
    try:
        import optuna
    except ImportError as exc:
        raise MissingDependencyError(
            "reading an Optuna storage needs optuna: " + install_hint("optuna")
        ) from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _check_sqlite_exists(storage)
    if not studies:
        raise ResultsError("name the studies to compare: --study NAME (repeat it for each).")
    rows: list[dict[str, Any]] = []
    directions = set()
    for name in studies:
        try:
            study = optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            known = optuna.get_all_study_names(storage)
            raise ResultsError(
                f"no study {name!r} in {storage}; it holds: {', '.join(known) or 'no studies'}."
            ) from None
        if len(study.directions) != 1:
            raise ResultsError(f"study {name!r} has several objectives; compare needs one.")
        directions.add(study.direction.name.lower())
        attrs = study.user_attrs
        method = str(attrs.get("method", name))
        task = str(attrs.get("task", "study"))
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if not done:
            raise ResultsError(f"study {name!r} has no complete trial to compare.")
        if unit == "trial":
            for t in done:
                seed = t.user_attrs.get("seed", t.number)
                rows.append({"method": method, "task": task, "seed": seed, "score": t.value})
        else:
            values = [float(t.value) for t in done if t.value is not None]
            best = max(values) if study.direction.name == "MAXIMIZE" else min(values)
            seed = attrs.get("seed", name)
            rows.append({"method": method, "task": task, "seed": seed, "score": best})
    if len(directions) > 1:
        raise ResultsError(
            "the studies disagree on the direction (some maximize, some minimize); compare "
            "studies of the same objective."
        )
    return results_from_rows(rows, direction=directions.pop(), source=storage)
