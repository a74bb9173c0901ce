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
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from curvecast.dashboard._forecasts import BAND_LEVELS, ForecastCache, stored_band
from curvecast.dashboard._records import TrialFacts, num, param, read_trial, short

if TYPE_CHECKING:
    from optuna.storages import BaseStorage
    from optuna.study._frozen import FrozenStudy
    from optuna.trial import FrozenTrial

__all__ = [
    "BAND_LEVELS",
    "SORT_KEYS",
    "STATES",
    "ForecastCache",
    "StudyView",
    "build_view",
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
#: At most this many numbers in the chart's curves of one study (curves are thinned beyond).
CHART_BUDGET = 60_000
_GRID_MIN, _GRID_MAX = 40, 400


def _iso(d: datetime | None) -> str | None:
    try:
        return None if d is None else d.isoformat(timespec="seconds")
    except Exception:
        return None


def _direction(study: FrozenStudy) -> str:
    dirs = study.directions
    if len(dirs) != 1:
        return "multi-objective"
    return "maximize" if dirs[0].name == "MAXIMIZE" else "minimize"


def _beats(a: float, b: float, direction: str) -> bool:
    return a > b if direction == "maximize" else a < b


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


def _final(f: TrialFacts) -> float | None:
    """The final reported value of a completed trial (the quantity forecast), else its value."""
    if f.values:
        return f.last_value
    t = f.trial
    return num(t.value) if len(t.values or ()) == 1 else None


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
            final = _final(f)
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


def _shadow_outcome(f: TrialFacts, direction: str) -> str | None:
    """ "right", "wrong" (it went on to beat what it was judged against), "pending" (still
    running) or None (no shadow verdict, or nothing to judge by)."""
    s = f.shadow
    if s is None:
        return None
    if f.state == "running":
        return "pending"
    final, inc = _final(f), s.get("incumbent")
    if f.state != "complete" or final is None or inc is None:
        return None
    return "wrong" if _beats(final, float(inc), direction) else "right"


def _shadow_summary(
    facts: list[TrialFacts], direction: str, horizon: float | None, best_trial: int | None
) -> dict[str, Any] | None:
    marked = [f for f in facts if f.shadow is not None]
    if not marked:
        return None
    outcomes = [_shadow_outcome(f, direction) for f in marked]
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


# -- one trial --------------------------------------------------------------------------------


def trial_record(
    f: TrialFacts,
    *,
    direction: str,
    horizon: float | None,
    incumbent: float | None,
    best_trial: int | None,
    cache: ForecastCache | None,
    bounds: tuple[float | None, float | None] | None = None,
) -> dict[str, Any]:
    """The row of one trial: state, value, P(beat incumbent) and what it means, why, params,
    band, shadow verdict and notes. Never raises: an unreadable part becomes a note."""
    t = f.trial
    steps, values, verdicts = f.steps, f.values, f.verdicts
    notes = list(f.notes)
    latest = verdicts[-1] if verdicts else None
    judged = next(
        (v for v in reversed(verdicts) if v.get("prob_better") is not None and not v.get("shadow")),
        None,
    )
    prob_better: float | None = None
    p_when: str | None = None
    band = None
    steps_saved = None
    why = None
    if f.state == "pruned":
        h = (f.stop or {}).get("horizon") or horizon
        if steps and h is not None:
            steps_saved = max(0.0, float(h) - steps[-1])
        if f.stop is not None:
            band = stored_band(f.stop, values[-1] if values else None)
            why = f.stop["explain"]
            prob_better, p_when = f.stop.get("prob_better"), "at the stop"
        else:
            why = "pruned by another pruner (no curvecast verdict recorded)"
    elif f.state == "complete":
        why = f"completed at step {steps[-1]:g}" if steps else "completed"
        if best_trial is not None and f.number == best_trial:
            why += " (the incumbent: best completed trial)"
        p_when = "finished"
    elif f.state == "running":
        h = (latest or {}).get("horizon") or horizon
        if cache is not None and h is not None and direction in ("maximize", "minimize"):
            band = cache.band(t._trial_id, steps, values, direction, float(h), incumbent, bounds)
        if judged is not None:
            why, prob_better, p_when = judged["explain"], judged["prob_better"], "now"
        elif band is not None and band["prob_better"] is not None and incumbent is not None:
            prob_better, p_when = band["prob_better"], "now"
            why = (
                f"running at step {steps[-1]:g}: P(final beats {incumbent:.4g}) = "
                f"{prob_better:.3f} by the dashboard's {band['method']} forecast"
            )
        elif latest is not None:
            why = latest["explain"]
        elif steps:
            why = f"running at step {steps[-1]:g}: too few points to forecast yet"
    elif f.state == "fail":
        why = "failed" + (f" at step {steps[-1]:g}" if steps else "")
    shadow = None
    if f.shadow is not None:
        outcome = _shadow_outcome(f, direction)
        shadow = {
            "step": f.shadow["step"],
            "prob_better": f.shadow.get("prob_better"),
            "incumbent": f.shadow.get("incumbent"),
            "explain": f.shadow["explain"],
            "outcome": outcome,
        }
        if band is None and f.state != "running":
            at = steps.index(f.shadow["step"]) if f.shadow["step"] in steps else None
            band = stored_band(f.shadow, values[at] if at is not None else None)
        judged_note = {
            "right": "it finished below the value it was judged against: the stop would have "
            "been right",
            "wrong": "it went on to beat the value it was judged against: the stop would have "
            "been wrong",
            "pending": "still running: right or wrong once it finishes",
        }.get(outcome or "")
        why = f"{why}; shadow pruner: {f.shadow['explain']}" if why else f.shadow["explain"]
        if judged_note:
            why += f" ({judged_note})"
    value = num(t.value) if len(t.values or ()) <= 1 else None
    start, end = t.datetime_start, t.datetime_complete
    try:
        params = {short(str(k), 200): param(v) for k, v in t.params.items()}
    except Exception as exc:
        params, notes = {}, [*notes, f"the parameters could not be read ({type(exc).__name__})"]
    return {
        "number": f.number,
        "id": t._trial_id,
        "state": f.state,
        "value": value,
        "last_step": steps[-1] if steps else None,
        "last_value": f.last_value,
        "prob_better": prob_better,
        "p_when": p_when,
        "stop": f.stop,
        "why": why,
        "band": band,
        "shadow": shadow,
        "steps_saved": steps_saved,
        "params": params,
        "notes": notes,
        "started": _iso(start),
        "completed": _iso(end),
        "duration_s": (end - start).total_seconds() if start and end else None,
    }


def _broken_record(f: TrialFacts, exc: BaseException) -> dict[str, Any]:
    """The row of a trial whose record could not be built: its number, state and the reason."""
    return {
        "number": f.number,
        "id": getattr(f.trial, "_trial_id", None),
        "state": f.state,
        "value": None,
        "last_step": f.steps[-1] if f.steps else None,
        "last_value": f.last_value,
        "prob_better": None,
        "p_when": None,
        "stop": None,
        "why": None,
        "band": None,
        "shadow": None,
        "steps_saved": None,
        "params": {},
        "notes": [*f.notes, f"this trial could not be shown ({type(exc).__name__}: {exc})"],
        "started": None,
        "completed": None,
        "duration_s": None,
    }


# -- the chart --------------------------------------------------------------------------------


def robust_range(
    curves: list[list[float | None]], keep: list[float] | None = None
) -> dict[str, Any]:
    """The y range to show by default, so that a few broken trials do not squash the rest.

    Two steps. A trial is *broken* when its median value is a far outlier among the trials'
    medians (outside Tukey's far-out fences ``[Q1 - 3 IQR, Q3 + 3 IQR]``); then, over the other
    trials' values, a lone spike beyond ``[P1 - w, P99 + w]`` (``w = P99 - P1``) is left out too.
    The range is the extent of what remains, widened to include ``keep`` (the best and worst
    final values) and padded by 4%. Early, low points of ordinary curves stay in view.

    Args:
        curves: each trial's values (None for a missing or non-finite one).
        keep: values that must stay visible.

    Returns:
        ``{"robust": [lo, hi], "full": [lo, hi], "outside": k}`` with ``k`` the number of
        curves with a point outside the robust range; both ranges None without values.
    """
    arrays = [np.array([v for v in c if v is not None], dtype=np.float64) for c in curves]
    arrays = [a for a in arrays if a.size]
    if not arrays:
        return {"robust": None, "full": None, "outside": 0}
    flat = np.concatenate(arrays)
    full_lo, full_hi = float(flat.min()), float(flat.max())
    medians = np.array([np.median(a) for a in arrays])
    q1, q3 = np.percentile(medians, [25, 75])
    iqr = float(q3 - q1)
    if iqr > 0:
        ok = (medians >= q1 - 3 * iqr) & (medians <= q3 + 3 * iqr)
        kept = np.concatenate([a for a, k in zip(arrays, ok, strict=True) if k])
    else:
        kept = flat
    p1, p99 = np.percentile(kept, [1, 99])
    w = float(p99 - p1)
    inside = kept[(kept >= p1 - w) & (kept <= p99 + w)]
    lo, hi = float(inside.min()), float(inside.max())
    for k in keep or []:
        lo, hi = min(lo, k), max(hi, k)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.04 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    outside = sum(1 for c in curves if any(v is not None and not lo <= v <= hi for v in c))
    return {"robust": [lo, hi], "full": [full_lo, full_hi], "outside": outside}


def _round(v: float | None) -> float | None:
    return None if v is None else float(f"{v:.4g}")


def chart_payload(
    facts: list[TrialFacts], records: list[dict[str, Any]], direction: str = "maximize"
) -> dict[str, Any]:
    """The study chart's data, compact: one shared x grid (thinned when the curves would hold
    more than :data:`CHART_BUDGET` numbers), each curve's values on it (4 significant digits,
    trailing gaps cut), the exact stop and would-have-stopped points, the bands of running
    trials, and the default y range.

    Returns:
        ``{"x": [...], "thinned": bool, "curves": [{"n", "s", "y", "p", "stop"?, "shadow"?}],
        "bands": [{"n", "x", "q05", ..., "q95"}], "y_range": {...}}``.
    """
    with_curve = [(f, r) for f, r in zip(facts, records, strict=True) if f.steps]
    union = sorted({s for f, _ in with_curve for s in f.steps})
    n_curves = max(1, len(with_curve))
    cap = int(min(_GRID_MAX, max(_GRID_MIN, CHART_BUDGET // n_curves)))
    thinned = len(union) > cap
    if thinned:
        picks = np.unique(np.linspace(0, len(union) - 1, cap).round().astype(int))
        grid = [union[i] for i in picks]
    else:
        grid = union
    grid_arr = np.asarray(grid, dtype=np.float64)
    curves = []
    for f, r in with_curve:
        y: list[float | None] = [None] * len(grid)
        # each step goes to the first grid point at or after it; the last report of a bin wins
        idx = np.searchsorted(grid_arr, np.asarray(f.steps), side="left")
        for i, v in zip(idx.tolist(), f.values, strict=True):
            y[min(i, len(grid) - 1)] = _round(v)
        while y and y[-1] is None:
            y.pop()
        c: dict[str, Any] = {"n": f.number, "s": f.state, "y": y}
        if r.get("prob_better") is not None:
            c["p"] = round(float(r["prob_better"]), 3)
        if f.state == "pruned":
            c["stop"] = [f.steps[-1], _round(f.values[-1])]
        if f.shadow is not None and f.shadow["step"] in f.steps:
            at = f.steps.index(f.shadow["step"])
            c["shadow"] = [f.steps[at], _round(f.values[at])]
            if r.get("shadow") and r["shadow"].get("outcome"):
                c["o"] = r["shadow"]["outcome"]
        if r.get("notes"):
            c["note"] = True
        curves.append(c)
    bands = []
    for f, r in with_curve:
        b = r.get("band")
        if f.state == "running" and b is not None:
            bands.append({"n": f.number, **{k: b[k] for k in ("x", *(n for n, _ in BAND_LEVELS))}})
    finals = [v for f in facts if f.state == "complete" and (v := f.last_value) is not None]
    keep = []
    if finals and direction in ("maximize", "minimize"):
        keep = [max(finals) if direction == "maximize" else min(finals)]
    return {
        "x": grid,
        "thinned": thinned,
        "curves": curves,
        "bands": bands,
        "y_range": robust_range([f.values for f, _ in with_curve], keep),
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
            records.append(_broken_record(f, exc))
    summary["trials_with_notes"] = sum(1 for r in records if r["notes"])
    if cache is not None and cache.problem and summary["states"].get("running"):
        summary["notes"] = [*summary["notes"], cache.problem]
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
    """The record of trial ``number`` with its curve, every verdict and its user attributes."""
    i = view.by_number.get(number)
    if i is None:
        return None
    f, rec = view.facts[i], dict(view.records[i])
    rec["steps"], rec["values"] = f.steps, f.values
    rec["verdicts"] = f.verdicts
    try:
        rec["user_attrs"] = {short(str(k), 200): param(v) for k, v in f.trial.user_attrs.items()}
    except Exception as exc:
        rec["user_attrs"] = {}
        rec["notes"] = [*rec["notes"], f"user attributes unreadable ({type(exc).__name__})"]
    return rec


# -- direct reads (no cache) ------------------------------------------------------------------


def _find_study(storage: BaseStorage, study_id: int) -> FrozenStudy | None:
    for s in storage.get_all_studies():
        if s._study_id == study_id:
            return s
    return None


def _summary_or_note(study: FrozenStudy, view: StudyView | None, exc: Exception | None) -> Any:
    if view is not None:
        return view.summary
    return failed_summary(study, exc)


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
