"""Copy runs read from a log directory into an Optuna storage, so that the dashboard shows them.

``curvecast forecast --from SOURCE --to-storage URL`` (``--watch SECONDS`` to repeat) keeps one
Optuna trial per run in the study ``--study`` of ``URL``: its curve as intermediate values, the
latest verdict of :func:`curvecast.io.judge_runs` where the Optuna pruner keeps its own
(``curvecast:step:<step>``), and the run's name as the user attribute ``run``. A run that reached
the horizon is COMPLETE with its last value; the others stay RUNNING (curvecast does not stop
them: the verdict says which are worth stopping). ``curvecast dashboard --storage URL`` then
shows them like any search, and refreshes while the copy is updated. The dashboard itself is not
changed: this only writes a storage it reads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from curvecast.curves import Curve
from curvecast.exceptions import MissingDependencyError, install_hint
from curvecast.io._common import SourceError
from curvecast.io._judge import RunForecast

__all__ = ["mirror_runs"]


def _check_storage_url(storage: str) -> None:
    """A storage URL Optuna can open: ``dialect://...``, and for SQLite a folder that exists."""
    if not isinstance(storage, str) or "://" not in storage:
        raise SourceError(
            f"--to-storage {storage!r} is not a storage URL; give e.g. sqlite:///runs.db or "
            "postgresql://user:password@host/database"
        )
    if storage.startswith("sqlite:///"):
        local = storage.removeprefix("sqlite:///").split("?", 1)[0]
        folder = Path(local).parent if local else Path(".")
        if local and not folder.is_dir():
            raise SourceError(
                f"--to-storage {storage}: the folder {str(folder)!r} does not exist; create it "
                "first (sqlite:///runs.db is relative to the current folder, "
                "sqlite:////abs/path/runs.db is absolute)"
            )


def mirror_runs(
    curves: Mapping[str, Curve],
    rows: Sequence[RunForecast],
    storage: str,
    study_name: str,
    *,
    method: str = "auto",
    threshold: float = 0.1,
) -> dict[str, int]:
    """Write (or update) one trial per run in ``study_name`` of the Optuna ``storage`` URL.

    Args:
        curves: {run: Curve} as a reader returns them (one direction).
        rows: :func:`curvecast.io.judge_runs` of those curves (its verdicts are stored).
        storage: an Optuna storage URL, e.g. ``sqlite:///runs.db`` (created when missing).
        study_name: the study holding the runs (created with the curves' direction).
        method, threshold: recorded as the study's settings, as the pruner records its own.

    Returns:
        ``{"created": n, "updated": n, "complete": n}``: trials made, trials given new points,
        trials completed by this call.

    Raises:
        SourceError: ``storage`` is not a URL or cannot be opened (a SQLite file in a folder
            that does not exist), a step that is not a whole number (Optuna's steps are
            integers), or a study of that name with the other direction.
        MissingDependencyError: Optuna is not installed.
    """
    try:
        import optuna
        from optuna.trial import Trial, TrialState
    except ImportError as exc:
        raise MissingDependencyError(
            "--to-storage needs Optuna: " + install_hint("optuna")
        ) from exc
    from curvecast.integrations.optuna import ATTR_PREFIX, STUDY_ATTR

    direction = next(iter(curves.values())).direction if curves else "maximize"
    quiet = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(quiet, optuna.logging.WARNING))
    _check_storage_url(storage)
    try:
        study = optuna.create_study(
            storage=storage, study_name=study_name, direction=direction, load_if_exists=True
        )
    except Exception as exc:  # Optuna, SQLAlchemy and the drivers raise their own types
        why = (str(exc).strip().splitlines() or [""])[0][:300]
        raise SourceError(
            f"--to-storage {storage}: cannot open or create the Optuna storage "
            f"({type(exc).__name__}: {why}); give a URL such as sqlite:///runs.db in a "
            "folder that exists"
        ) from None
    finally:
        optuna.logging.set_verbosity(quiet)
    if study.direction.name.lower() != direction:
        raise SourceError(
            f"the study {study_name!r} in {storage!r} holds runs to "
            f"{study.direction.name.lower()}, these are to {direction}: pass another --study"
        )
    first = next(iter(curves.values()), None)
    bounds = None if first is None or first.bounds is None else first.bounds
    settings: dict[str, Any] = {
        "threshold": threshold,
        "method": method,
        "bounds": None if bounds is None else [b if math.isfinite(b) else None for b in bounds],
        "max_resource": "auto",
        "source": "curvecast forecast --to-storage",
    }
    store: Any = study._storage  # Optuna offers no public way to annotate a trial by id
    store.set_study_system_attr(study._study_id, STUDY_ATTR, settings)
    existing = {
        t.user_attrs.get("run"): t
        for t in study.get_trials(deepcopy=False)
        if isinstance(t.user_attrs.get("run"), str)
    }
    counts = {"created": 0, "updated": 0, "complete": 0}
    for row in rows:
        curve = curves[row.run]
        old = existing.get(row.run)
        if old is not None and old.state != TrialState.RUNNING:
            continue  # completed (or failed) earlier: Optuna keeps finished trials as they are
        if old is None:
            trial = study.ask()
            trial.set_user_attr("run", row.run)
            for k, v in curve.meta.items():
                if k != "run" and isinstance(v, str | int | float | bool):
                    trial.set_user_attr(str(k), v)
            seen: set[int] = set()
            counts["created"] += 1
        else:
            trial = Trial(study, old._trial_id)
            seen = set(old.intermediate_values)
        new = False
        for x, y in zip(curve.x, curve.y, strict=True):
            if float(x) != int(x):
                raise SourceError(
                    f"run {row.run!r} has step {x:g}; an Optuna storage takes whole-number "
                    "steps only (scale the axis, e.g. log steps instead of fractional epochs)"
                )
            if int(x) not in seen:
                trial.report(float(y), int(x))
                new = True
        counts["updated"] += int(new and old is not None)
        step = round(row.verdict.step) if math.isfinite(row.verdict.step) else 0
        store.set_trial_system_attr(
            trial._trial_id, f"{ATTR_PREFIX}{step:010d}", row.verdict.to_dict()
        )
        if row.verdict.reason == "finished":
            if math.isfinite(row.last_value):
                study.tell(trial, row.last_value)
            else:
                study.tell(trial, state=TrialState.FAIL)
            counts["complete"] += 1
    return counts
