"""What the dashboard shows, as JSON-ready dicts built from what a storage holds.

Nothing here knows about HTTP or caching: :func:`build_view` turns one study and its trials into
a :class:`StudyView` (summary, one record per trial, the chart's compact curves); numbers are
finite or None and user-chosen names are strings, so the page shows them with ``textContent``
and never as HTML. :func:`list_studies`, :func:`study_view` and :func:`trial_view` read a storage
directly (no cache); the app serves the same views from :mod:`curvecast.dashboard._snapshot`.

Compute saved
-------------
A pruned trial stopped at step ``s`` would, without pruning, have run to the horizon ``H`` (the
horizon recorded in the verdict that stopped it, else the largest last step of the completed
trials). Steps saved are ``sum(max(0, H - s))`` over pruned trials, and the fraction saved is
``saved / (run + saved)``, where ``run`` adds up the last step each finished trial reached. Both
are in units of the step axis, which is the resource when a trial reports once per step (epochs,
iterations).

Shadow mode
-----------
A shadow pruner (``ForecastPruner(shadow=True)``) records the stop it would have made, with
``"shadow": true``, and lets the trial run. Such a trial is "would have pruned"; once it has
finished, the stop *would have been right* when its final value did not beat the incumbent it
was judged against, and *wrong* when it did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from curvecast.dashboard._chart import CHART_BUDGET, chart_payload, robust_range
from curvecast.dashboard._forecasts import BAND_LEVELS, ForecastCache
from curvecast.dashboard._records import (
    TrialFacts,
    broken_record,
    final_value,
    num,
    param,
    read_trial,
    sample_schedule,
    shadow_outcome,
    short,
    trial_record,
)

if TYPE_CHECKING:
    from optuna.storages import BaseStorage
    from optuna.study._frozen import FrozenStudy
    from optuna.trial import FrozenTrial

__all__ = [
    "BAND_LEVELS",
    "CHART_BUDGET",
    "SORT_KEYS",
    "STATES",
    "ForecastCache",
    "StudyView",
    "build_view",
    "chart_payload",
    "list_studies",
    "page_rows",
    "robust_range",
    "study_view",
    "trial_view",
]

#: Values of the ``state`` filter of the trials table ("shadow": would-have-pruned trials).
STATES = ("all", "complete", "pruned", "running", "fail", "shadow", "notes")
#: Values of the ``sort`` parameter of the trials table (a leading "-" sorts descending).
SORT_KEYS = ("number", "value", "p", "last_step", "state")


def _direction(study: FrozenStudy) -> str:
    dirs = study.directions
    if len(dirs) != 1:
        return "multi-objective"
    return "maximize" if dirs[0].name == "MAXIMIZE" else "minimize"


def pruner_settings(study: FrozenStudy) -> dict[str, Any]:
    """The study's ForecastPruner settings (its "curvecast:pruner" attribute), or {}."""
    settings = study.system_attrs.get("curvecast:pruner")
    return settings if isinstance(settings, dict) else {}


def _pruner_bounds(study: FrozenStudy) -> tuple[float | None, float | None] | None:
    """The bounds the study's ForecastPruner was given, if readable."""
    bounds = pruner_settings(study).get("bounds")
    if isinstance(bounds, list) and len(bounds) == 2:
        lo, hi = (None if b is None else num(b) for b in bounds)
        if (lo is None or hi is None or lo < hi) and (lo is not None or hi is not None):
            return (lo, hi)
    return None


# -- the summary of a study -------------------------------------------------------------------


def summarise(study: FrozenStudy, facts: list[TrialFacts]) -> tuple[dict[str, Any], float | None]:
    """The study's summary (counts, incumbent, horizon, compute saved, shadow verdicts, notes)
    and its horizon; never raises for a bad trial or attribute."""
    direction = _direction(study)
    states: dict[str, int] = {}
    finals: list[float] = []
    last_steps: list[float] = []
    horizons: list[float] = []
    for f in facts:
        states[f.state] = states.get(f.state, 0) + 1
        if f.state == "complete":
            if f.steps:
                last_steps.append(f.steps[-1])
            final = final_value(f)
            if final is not None:
                finals.append(final)
        if f.verdicts and f.verdicts[-1].get("horizon") is not None:
            horizons.append(float(f.verdicts[-1]["horizon"]))
    horizon = max(horizons) if horizons else (max(last_steps) if last_steps else None)
    incumbent = None
    if finals and direction != "multi-objective":
        incumbent = max(finals) if direction == "maximize" else min(finals)
    run = saved = 0.0
    for f in facts:
        if not f.steps or f.state not in ("complete", "pruned", "fail"):
            continue
        run += f.steps[-1]
        if f.state == "pruned":
            h = (f.stop or {}).get("horizon") or horizon
            if h is not None:
                saved += max(0.0, float(h) - f.steps[-1])
    best_value = best_trial = None
    if direction != "multi-objective":
        scored = [
            (v, f.number)
            for f in facts
            if f.state == "complete" and (v := num(f.trial.value)) is not None
        ]
        if scored:
            pick = max if direction == "maximize" else min
            best_value, best_trial = pick(scored, key=lambda p: p[0])
    notes = []
    user_attrs: dict[str, Any] = {}
    try:
        for k, v in study.user_attrs.items():
            shown = param(v)
            if isinstance(v, int | float) and not isinstance(v, bool) and isinstance(shown, str):
                notes.append(f"study attribute {short(str(k), 40)!r} is {shown}: shown as text")
            user_attrs[short(str(k), 200)] = shown
    except Exception as exc:
        notes.append(f"the study's attributes could not be read ({type(exc).__name__})")
    summary = {
        "id": study._study_id,
        "name": study.study_name,
        "direction": direction,
        "n_trials": len(facts),
        "states": states,
        "best_value": best_value,
        "best_trial": best_trial,
        "incumbent": incumbent,
        "horizon": horizon,
        "compute": {
            "steps_run": run,
            "steps_saved": saved,
            "fraction_saved": saved / (run + saved) if run + saved > 0 else None,
        },
        "shadow": _shadow_summary(facts, direction, horizon, best_trial),
        "user_attrs": user_attrs,
        "notes": notes,
        "trials_with_notes": sum(1 for f in facts if f.notes),
    }
    return summary, horizon


def _shadow_summary(
    facts: list[TrialFacts], direction: str, horizon: float | None, best_trial: int | None
) -> dict[str, Any] | None:
    marked = [f for f in facts if f.shadow is not None]
    if not marked:
        return None
    outcomes = [shadow_outcome(f, direction) for f in marked]
    would_save = 0.0
    for f in marked:
        h = f.shadow.get("horizon") if f.shadow else None
        h = h if h is not None else horizon
        if h is not None and f.shadow is not None:
            would_save += max(0.0, float(h) - float(f.shadow["step"]))
    return {
        "would_prune": len(marked),
        "right": outcomes.count("right"),
        "wrong": outcomes.count("wrong"),
        "pending": outcomes.count("pending"),
        "lost_best": best_trial is not None and any(f.number == best_trial for f in marked),
        "steps_would_save": would_save,
    }


# -- views ------------------------------------------------------------------------------------


@dataclass
class StudyView:
    """One study as the dashboard shows it.

    Attributes:
        summary: see :func:`summarise`.
        facts: each trial as read, in number order.
        records: one row per trial, in number order (see :func:`trial_record`).
        chart: see :func:`chart_payload`.
        chart_json: ``chart`` serialised once (the bulk of a study page).
    """

    summary: dict[str, Any]
    facts: list[TrialFacts]
    records: list[dict[str, Any]]
    chart: dict[str, Any]
    chart_json: str
    horizon: float | None
    by_number: dict[int, int]
    context: tuple[Any, ...] = ()


def build_view(
    study: FrozenStudy,
    trials: list[FrozenTrial],
    cache: ForecastCache | None,
    known: dict[int, TrialFacts] | None = None,
    previous: StudyView | None = None,
) -> StudyView:
    """Read ``trials`` of ``study`` once into a :class:`StudyView`; never raises for a bad
    record (the row says what is wrong). ``known`` maps trial ids to facts already read (of
    finished trials, which never change); rows of those are taken from ``previous`` while the
    study's horizon, incumbent and best trial are unchanged."""
    known = known or {}
    facts = [
        known.get(t._trial_id) or read_trial(t) for t in sorted(trials, key=lambda t: t.number)
    ]
    summary, horizon = summarise(study, facts)
    bounds = _pruner_bounds(study)
    # a finished trial's row depends only on its facts and on these: reuse it while they hold
    context = (summary["direction"], horizon, summary["incumbent"], summary["best_trial"], bounds)
    reuse: dict[int, dict[str, Any]] = {}
    if previous is not None and previous.context == context:
        reuse = {
            id(f): r
            for f, r in zip(previous.facts, previous.records, strict=True)
            if f.state in ("complete", "pruned", "fail")
        }
    records = []
    for f in facts:
        if id(f) in reuse and known.get(f.trial._trial_id) is f:
            records.append(reuse[id(f)])
            continue
        try:
            records.append(
                trial_record(
                    f,
                    direction=summary["direction"],
                    horizon=horizon,
                    incumbent=summary["incumbent"],
                    best_trial=summary["best_trial"],
                    cache=cache,
                    bounds=bounds,
                )
            )
        except Exception as exc:  # one bad trial degrades its own row only
            records.append(broken_record(f, exc))
    summary["trials_with_notes"] = sum(1 for r in records if r["notes"])
    if cache is not None and cache.problem and summary["states"].get("running"):
        summary["notes"] = [*summary["notes"], cache.problem]
    unbounded = _impossible_bands(facts, records) if bounds is None else 0
    if unbounded:
        summary["notes"] = [
            *summary["notes"],
            f"{unbounded} forecast band{'s' if unbounded > 1 else ''} leave [0, 1] though every "
            "reported value is in it: the pruner was given no bounds, so the forecasts do not "
            "know the metric's range. For an accuracy or another metric in [0, 1], pass "
            "bounds=(0, 1) to ForecastPruner.",
        ]
    chart = chart_payload(facts, records, summary["direction"])
    return StudyView(
        summary=summary,
        facts=facts,
        records=records,
        chart=chart,
        chart_json=json.dumps(chart, separators=(",", ":"), allow_nan=False),
        horizon=horizon,
        by_number={f.number: i for i, f in enumerate(facts)},
        context=context,
    )


def _impossible_bands(facts: list[TrialFacts], records: list[dict[str, Any]]) -> int:
    """How many bands leave [0, 1] in a study whose every reported value lies in [0, 1] (an
    accuracy, most likely): the sign of a pruner given no bounds."""
    values = [v for f in facts for v in f.values if v is not None]
    if not values or min(values) < 0 or max(values) > 1:
        return 0
    out = 0
    for r in records:
        b = r.get("band")
        if b is None:
            continue
        ends = [v for k in ("q05", "q95") for v in b.get(k, []) if v is not None]
        out += any(v < -1e-9 or v > 1 + 1e-9 for v in ends)
    return out


def page_rows(
    records: list[dict[str, Any]],
    *,
    offset: int = 0,
    limit: int = 50,
    state: str = "all",
    sort: str = "number",
) -> tuple[list[dict[str, Any]], int]:
    """The rows of one page of the trials table and how many rows match the filter.

    Args:
        records: every row, in number order.
        offset, limit: the page (``limit`` rows from ``offset``).
        state: one of :data:`STATES` ("shadow": trials a shadow pruner would have stopped;
            "notes": trials with a note).
        sort: one of :data:`SORT_KEYS`, with a leading "-" for descending; missing values last.
    """
    if state == "shadow":
        rows = [r for r in records if r["shadow"] is not None]
    elif state == "notes":
        rows = [r for r in records if r["notes"]]
    elif state != "all":
        rows = [r for r in records if r["state"] == state]
    else:
        rows = list(records)
    desc = sort.startswith("-")
    key = sort.lstrip("-")
    if key != "number" or desc:

        def sort_key(r: dict[str, Any]) -> Any:
            if key == "value":
                v = r["value"] if r["value"] is not None else r["last_value"]
            elif key == "p":
                v = r["prob_better"]
            elif key == "last_step":
                v = r["last_step"]
            elif key == "state":
                v = r["state"]
            else:
                v = r["number"]
            return v

        present = [r for r in rows if sort_key(r) is not None]
        missing = [r for r in rows if sort_key(r) is None]
        present.sort(key=sort_key, reverse=desc)
        rows = present + missing
    return rows[offset : offset + limit], len(rows)


def trial_detail(view: StudyView, number: int) -> dict[str, Any] | None:
    """The record of trial ``number`` with its curve, every verdict, its user attributes and
    its learning-rate schedule sampled over ``[0, horizon]`` (None without one; see
    :func:`~curvecast.dashboard._records.sample_schedule`). Only the selected trial's detail
    carries the schedule, so the study's answers stay small."""
    i = view.by_number.get(number)
    if i is None:
        return None
    f, rec = view.facts[i], dict(view.records[i])
    rec["steps"], rec["values"] = f.steps, f.values
    rec["verdicts"] = f.verdicts
    rec["schedule"] = None
    if f.schedule is not None:
        try:
            rec["schedule"] = sample_schedule(f.schedule, _schedule_horizon(f, view.horizon))
        except Exception as exc:  # a schedule that validates but cannot be drawn
            rec["notes"] = [*rec["notes"], f"the learning-rate schedule could not be drawn ({exc})"]
    try:
        rec["user_attrs"] = {short(str(k), 200): param(v) for k, v in f.trial.user_attrs.items()}
    except Exception as exc:
        rec["user_attrs"] = {}
        rec["notes"] = [*rec["notes"], f"user attributes unreadable ({type(exc).__name__})"]
    return rec


def _schedule_horizon(f: TrialFacts, study_horizon: float | None) -> float:
    """How far to draw a trial's schedule: its latest verdict's horizon, else the study's, else
    the schedule's end; never short of the trial's last step."""
    h = next((v["horizon"] for v in reversed(f.verdicts) if v.get("horizon") is not None), None)
    h = h if h is not None else study_horizon
    if h is None or not h > 0:
        h = f.schedule.end
    return max(float(h), f.steps[-1] if f.steps else 0.0)


# -- direct reads (no cache) ------------------------------------------------------------------


def _find_study(storage: BaseStorage, study_id: int) -> FrozenStudy | None:
    for s in storage.get_all_studies():
        if s._study_id == study_id:
            return s
    return None


def failed_summary(study: FrozenStudy, exc: BaseException | None) -> dict[str, Any]:
    """The row of a study whose trials could not be read: its id, its name and why."""
    return {
        "id": study._study_id,
        "name": study.study_name,
        "direction": "?",
        "n_trials": None,
        "states": {},
        "best_value": None,
        "best_trial": None,
        "incumbent": None,
        "horizon": None,
        "compute": {"steps_run": None, "steps_saved": None, "fraction_saved": None},
        "shadow": None,
        "user_attrs": {},
        "notes": [f"this study could not be read ({type(exc).__name__}: {short(str(exc), 200)})"],
        "trials_with_notes": 0,
    }


def list_studies(storage: BaseStorage, cache: ForecastCache | None = None) -> list[dict[str, Any]]:
    """A summary of every study in ``storage``, ordered by id; a study that cannot be read
    gets a row with a note instead of failing the list."""
    out = []
    for study in sorted(storage.get_all_studies(), key=lambda s: s._study_id):
        try:
            trials = storage.get_all_trials(study._study_id, deepcopy=False)
            out.append(build_view(study, trials, cache).summary)
        except Exception as exc:
            out.append(failed_summary(study, exc))
    return out


def study_view(
    storage: BaseStorage, study_id: int, cache: ForecastCache | None
) -> dict[str, Any] | None:
    """``{"study": summary, "trials": [record, ...], "chart": ...}`` for one study (every row),
    or None if it is absent."""
    study = _find_study(storage, study_id)
    if study is None:
        return None
    view = build_view(study, storage.get_all_trials(study_id, deepcopy=False), cache)
    return {"study": view.summary, "trials": view.records, "chart": view.chart}


def trial_view(
    storage: BaseStorage, study_id: int, number: int, cache: ForecastCache | None
) -> dict[str, Any] | None:
    """``{"study": summary, "trial": record}`` with the trial's curve, full verdict history and
    user attributes, or None if the study or the trial is absent."""
    study = _find_study(storage, study_id)
    if study is None:
        return None
    view = build_view(study, storage.get_all_trials(study_id, deepcopy=False), cache)
    rec = trial_detail(view, number)
    return None if rec is None else {"study": view.summary, "trial": rec}
