"""One trial read from the storage, defensively: its curve, its verdicts, and notes on what
could not be read.

A storage is written by many hands (several curvecast versions, shadow pruners, users' own
attributes). One bad record must degrade only its own trial, with a note the page shows, never
the study or the list of studies; so every value taken from the storage passes through
:func:`num` or :func:`param`, and every verdict record through :func:`read_verdicts`, which
never raise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from curvecast.dashboard._forecasts import ForecastCache

__all__ = [
    "TrialFacts",
    "broken_record",
    "final_value",
    "num",
    "param",
    "read_schedule",
    "read_trial",
    "read_verdicts",
    "sample_schedule",
    "shadow_outcome",
    "trial_record",
]

#: Integers beyond this magnitude lose digits in the browser (IEEE doubles): sent as text.
_SAFE_INT = 2**53
_MAX_TEXT = 120
#: The most points of a selected trial's learning-rate schedule sent to the page.
SCHEDULE_POINTS = 200


def num(v: Any) -> float | None:
    """A finite float, or None (NaN, inf, None, out-of-range integers and non-numbers)."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def short(text: str, limit: int = _MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def param(v: Any) -> Any:
    """A parameter or attribute value as JSON the page can show: finite numbers stay numbers,
    integers the browser cannot hold exactly and everything else become (short) strings."""
    if v is None or isinstance(v, bool | str):
        return v if not isinstance(v, str) else short(v, 400)
    if isinstance(v, int | np.integer):
        if abs(int(v)) <= _SAFE_INT:
            return int(v)
        digits = len(str(abs(int(v)))) if abs(int(v)) < 10**4000 else None
        return f"an integer of {digits} digits" if digits else "a huge integer"
    if isinstance(v, float | np.floating):
        f = num(v)
        return str(v) if f is None else f
    try:
        return short(str(v), 400)
    except Exception:  # a value whose str() fails: say so rather than fail the page
        return f"<{type(v).__name__}>"


def _explain_shadow(text: str) -> str:
    if text.startswith("would have "):  # Verdict.explain already says so (shadow mode)
        return text
    for verb in ("stopped", "stop"):
        if text.startswith(verb + " "):
            return "would have stopped " + text[len(verb) + 1 :]
    return "would have stopped: " + text


def read_verdicts(trial: FrozenTrial) -> tuple[list[dict[str, Any]], list[str]]:
    """Every curvecast verdict on ``trial`` in step order, each with its ``explain`` line, and a
    note for each record that could not be read (skipped).

    A shadow pruner's stop (``"shadow": true``, decision "prune" or "stop") comes back with
    ``"shadow": True``, decision ``"prune"`` and an ``explain`` that starts "would have stopped";
    it never counts as the stop of the trial. Its other records ("continue", ``"shadow": true``)
    and records without the field are ordinary verdicts (``"shadow": False``).
    """
    from curvecast.integrations.optuna import ATTR_PREFIX, record_keys
    from curvecast.pruning import Verdict

    out: list[dict[str, Any]] = []
    failed: list[tuple[str, str]] = []
    try:
        keys = record_keys(trial)  # in step order, 1e10 after 9e9
    except Exception as exc:  # pragma: no cover - a storage that returns odd keys
        return [], [f"verdict records could not be listed ({type(exc).__name__})"]
    for key in keys:
        raw = trial.system_attrs[key]
        try:
            if not isinstance(raw, dict):
                raise TypeError(f"a {type(raw).__name__}, not a verdict record")
            decision = raw.get("decision")
            # a shadow pruner records every verdict with "shadow": true; only its stops are
            # "would have pruned", its "continue" verdicts are ordinary forecasts
            shadow = raw.get("shadow") is True and decision in ("prune", "stop")
            if shadow:
                decision = "stop"
            if decision not in ("continue", "stop", "pause"):
                raise ValueError(f"unknown decision {short(repr(decision), 40)}")
            if not isinstance(raw.get("reason"), str):
                raise ValueError("no reason")
            v = Verdict.from_dict({**raw, "decision": decision})
            d = v.to_dict()
            if d["step"] is None:
                raise ValueError("no finite step")
            for k in ("horizon", "incumbent", "prob_better"):
                if raw.get(k) is not None and d[k] is None:
                    raise ValueError(f"{k} is not a finite number")
        except Exception as exc:  # any malformed record: skip it, say so, never spread
            step = key[len(ATTR_PREFIX) :].lstrip("0") or "0"
            failed.append((short(step, 24), f"{type(exc).__name__}: {short(str(exc), 80)}"))
            continue
        try:
            text = v.explain()
        except Exception:  # readable, but missing what the sentence needs (an incumbent)
            text = f"{d['decision']} at step {d['step']:g}: {str(d['reason']).replace('_', ' ')}"
        d["shadow"] = shadow
        if shadow:
            d["decision"] = "prune"
            text = _explain_shadow(text)
        d["explain"] = text
        out.append(d)
    notes = []
    if len(failed) == 1:
        notes.append(
            f"the verdict record at step {failed[0][0]} could not be read ({failed[0][1]}); skipped"
        )
    elif failed:
        steps = ", ".join(s for s, _ in failed[:5]) + (", …" if len(failed) > 5 else "")
        notes.append(
            f"{len(failed)} verdict records (steps {steps}) could not be read (the first: "
            f"{failed[0][1]}); skipped"
        )
    out.sort(key=lambda d: d["step"])
    return out, notes


@dataclass
class TrialFacts:
    """What the dashboard knows of one trial, read once per snapshot.

    Attributes:
        trial: the Optuna trial.
        state: "complete", "pruned", "running", "fail" or "waiting".
        steps, values: the reported curve, shapes ``(n,)``; a non-finite value is None.
        verdicts: readable verdict records in step order (see :func:`read_verdicts`).
        stop: the verdict that stopped the trial (never a shadow one), or None.
        shadow: the first "would have pruned" record of a shadow pruner, or None.
        notes: what could not be read, one sentence each.
        schedule: the trial's learning-rate schedule (a ``curvecast.Schedule``), or None.
    """

    trial: FrozenTrial
    state: str
    steps: list[float]
    values: list[float | None]
    verdicts: list[dict[str, Any]]
    stop: dict[str, Any] | None
    shadow: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)
    schedule: Any = None

    @property
    def number(self) -> int:
        return int(self.trial.number)

    @property
    def last_value(self) -> float | None:
        return next((v for v in reversed(self.values) if v is not None), None)


def read_trial(trial: FrozenTrial) -> TrialFacts:
    """Read ``trial`` without raising: an unreadable part becomes a note."""
    notes: list[str] = []
    state = getattr(getattr(trial, "state", None), "name", "unknown").lower()
    steps: list[float] = []
    values: list[float | None] = []
    try:
        for s in sorted(trial.intermediate_values):
            x = num(s)
            if x is None:
                notes.append(f"a report at step {short(repr(s), 30)} was skipped")
                continue
            steps.append(x)
            values.append(num(trial.intermediate_values[s]))
    except Exception as exc:
        notes.append(f"the reported values could not be read ({type(exc).__name__})")
        steps, values = [], []
    verdicts, vnotes = read_verdicts(trial)
    notes += vnotes
    stop = next((v for v in reversed(verdicts) if v["decision"] == "stop"), None)
    shadow = next((v for v in verdicts if v.get("shadow")), None)
    schedule, snotes = read_schedule(trial)
    notes += snotes
    return TrialFacts(trial, state, steps, values, verdicts, stop, shadow, notes, schedule)


def read_schedule(trial: FrozenTrial) -> tuple[Any, list[str]]:
    """The trial's learning-rate schedule, as ``ForecastPruner(schedule=...)`` stored it (the
    trial system attribute ``"curvecast:schedule"``), and a note when the record cannot be
    read; ``(None, [])`` without one. Never raises.

    Example:
        >>> import optuna
        >>> t = optuna.trial.create_trial(value=1.0, system_attrs={"curvecast:schedule": [3]})
        >>> read_schedule(t)[1]  # doctest: +ELLIPSIS
        ["the learning-rate schedule record could not be read (InvalidParameterError: ...
    """
    from curvecast.integrations.optuna import SCHEDULE_ATTR
    from curvecast.schedules import as_schedule

    try:
        raw = trial.system_attrs.get(SCHEDULE_ATTR)
        return as_schedule(raw, field=SCHEDULE_ATTR), []
    except Exception as exc:  # a malformed record: no schedule drawn, say so, never spread
        why = f"{type(exc).__name__}: {short(str(exc), 200)}"
        return None, [f"the learning-rate schedule record could not be read ({why}); not drawn"]


def sample_schedule(schedule: Any, horizon: float, points: int = SCHEDULE_POINTS) -> dict[str, Any]:
    """The schedule's rate at (at most) ``points`` x values over ``[0, horizon]``, for the page.

    The grid is even, plus the schedule's corners inside the range (the end of the warm-up, a
    step's milestone and just before it, the start of a WSD cool-down) when there are few of
    them, so a step or a kink is drawn where it is, not smeared over a grid cell.

    Returns:
        ``{"name", "end", "x": [...], "lr": [...]}``, ``x`` increasing from 0 to ``horizon``
        and ``lr`` (4 significant digits) of the same length ``<= points``.
    """
    h = float(horizon)
    corners = schedule.grid(2)[0]
    corners = corners[(corners > 0) & (corners < h)]
    if corners.size > points // 4:  # a schedule given by many points: the even grid alone
        corners = corners[:0]
    xs = np.unique(np.concatenate([np.linspace(0.0, h, points - corners.size), corners]))
    lr = schedule.lr(xs)
    return {
        "name": schedule.name,
        "end": float(schedule.end),
        "x": xs.tolist(),
        "lr": [float(f"{v:.4g}") for v in lr.tolist()],
    }


def _iso(d: datetime | None) -> str | None:
    try:
        return None if d is None else d.isoformat(timespec="seconds")
    except Exception:
        return None


def _beats(a: float, b: float, direction: str) -> bool:
    return a > b if direction == "maximize" else a < b


def final_value(f: TrialFacts) -> float | None:
    """The final reported value of a completed trial (the quantity forecast), else its value."""
    if f.values:
        return f.last_value
    t = f.trial
    return num(t.value) if len(t.values or ()) == 1 else None


def shadow_outcome(f: TrialFacts, direction: str) -> str | None:
    """ "right", "wrong" (it went on to beat what it was judged against), "pending" (still
    running) or None (no shadow verdict, or nothing to judge by)."""
    s = f.shadow
    if s is None:
        return None
    if f.state == "running":
        return "pending"
    final, inc = final_value(f), s.get("incumbent")
    if f.state != "complete" or final is None or inc is None:
        return None
    return "wrong" if _beats(final, float(inc), direction) else "right"


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
    from curvecast.dashboard._forecasts import stored_band  # it imports this module

    t = f.trial
    steps, values, verdicts = f.steps, f.values, f.verdicts
    notes = list(f.notes)
    latest = verdicts[-1] if verdicts else None
    judged = next(
        (v for v in reversed(verdicts) if v.get("prob_better") is not None and not v.get("shadow")),
        None,
    )
    prob_better: float | None = None
    p_against: float | None = None  # the incumbent that P was computed against
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
            p_against = f.stop.get("incumbent")
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
            p_against = judged.get("incumbent")
        elif band is not None and band["prob_better"] is not None and incumbent is not None:
            prob_better, p_when, p_against = band["prob_better"], "now", incumbent
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
        outcome = shadow_outcome(f, direction)
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
        "p_against": p_against,
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


def broken_record(f: TrialFacts, exc: BaseException) -> dict[str, Any]:
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
        "p_against": None,
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
