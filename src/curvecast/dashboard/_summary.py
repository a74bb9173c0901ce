"""What the dashboard shows, as JSON-ready dicts built from an Optuna storage.

Nothing here knows about HTTP: :func:`list_studies`, :func:`study_view` and :func:`trial_view`
read a storage and return plain dicts (numbers finite or None, user-chosen names as strings, so
that the page can show them with ``textContent`` and never as HTML).

Compute saved
-------------
A pruned trial stopped at step ``s`` would, without pruning, have run to the horizon ``H`` (the
horizon recorded in the verdict that stopped it, else the largest last step of the completed
trials). Steps saved are ``sum(max(0, H - s))`` over pruned trials, and the fraction saved is
``saved / (run + saved)``, where ``run`` adds up the last step each finished trial reached. Both
are in units of the step axis, which is the resource when a trial reports once per step (epochs,
iterations).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from curvecast.exceptions import CurvecastError

if TYPE_CHECKING:
    from optuna.storages import BaseStorage
    from optuna.study._frozen import FrozenStudy
    from optuna.trial import FrozenTrial

__all__ = ["BAND_LEVELS", "ForecastCache", "list_studies", "study_view", "trial_view"]

#: Quantile levels of a band, with the JSON key each is stored under.
BAND_LEVELS: tuple[tuple[str, float], ...] = (
    ("q05", 0.05),
    ("q25", 0.25),
    ("q50", 0.5),
    ("q75", 0.75),
    ("q95", 0.95),
)
_BAND_POINTS = 16


def _num(v: Any) -> float | None:
    """A finite float, or None (NaN, inf, None and non-numbers)."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _param(v: Any) -> Any:
    """A parameter value as JSON: numbers stay numbers (finite), the rest become strings."""
    if v is None or isinstance(v, bool | str):
        return v
    if isinstance(v, int | float | np.integer | np.floating):
        f = _num(v)
        if f is None:
            return str(v)
        return int(v) if isinstance(v, int | np.integer) else f
    return str(v)


def _iso(d: datetime | None) -> str | None:
    return None if d is None else d.isoformat(timespec="seconds")


def _direction(study: FrozenStudy) -> str:
    dirs = study.directions
    if len(dirs) != 1:
        return "multi-objective"
    return "maximize" if dirs[0].name == "MAXIMIZE" else "minimize"


def _curve(trial: FrozenTrial) -> tuple[list[float], list[float | None]]:
    steps = sorted(trial.intermediate_values)
    return [float(s) for s in steps], [_num(trial.intermediate_values[s]) for s in steps]


def _verdicts(trial: FrozenTrial) -> list[dict[str, Any]]:
    """Every curvecast verdict on ``trial`` in step order, each with its ``explain`` line."""
    from curvecast.integrations.optuna import ATTR_PREFIX
    from curvecast.pruning import Verdict

    out = []
    for key in sorted(k for k in trial.system_attrs if k.startswith(ATTR_PREFIX)):
        raw = trial.system_attrs[key]
        try:
            v = Verdict.from_dict(raw)
            text = v.explain()
        except (KeyError, TypeError, ValueError):
            continue  # a record from another version of curvecast: skip rather than fail
        d = v.to_dict()
        d["explain"] = text
        out.append(d)
    return out


class ForecastCache:
    """Forecast bands of running trials, computed once per (trial, number of points, horizon).

    Thread safety: :meth:`band` may be called from several request threads at once.

    Args:
        method: the curvecast forecasting method ("auto" picks the best available).
        min_points: no band for a curve with fewer points (as ForecastPruner's ``min_points``:
            a forecast from one or two reports says little).
        max_entries: how many bands to keep; the oldest go first.
    """

    def __init__(self, method: str = "auto", min_points: int = 3, max_entries: int = 2048) -> None:
        self.method = method
        self.min_points = min_points
        self._max = max_entries
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[int, int, float, float | None], dict[str, Any] | None] = (
            OrderedDict()
        )

    def band(
        self,
        trial_id: int,
        steps: list[float],
        values: list[float | None],
        direction: str,
        horizon: float,
        incumbent: float | None = None,
        bounds: tuple[float | None, float | None] | None = None,
    ) -> dict[str, Any] | None:
        """The forecast from the last step to ``horizon`` as ``{"x", "q05", ..., "q95"}``
        (each a list, shape ``(k,)``, starting at the last observed point) with
        ``prob_better``, the forecast probability that the value at ``horizon`` beats
        ``incumbent`` (None without one); None when the curve cannot be forecast (diverged,
        already at the horizon, fewer than ``min_points``)."""
        key = (trial_id, len(steps), horizon, incumbent)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        result = self._compute(steps, values, direction, horizon, incumbent, bounds)
        with self._lock:
            self._cache[key] = result
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return result

    def _compute(
        self,
        steps: list[float],
        values: list[float | None],
        direction: str,
        horizon: float,
        incumbent: float | None,
        bounds: tuple[float | None, float | None] | None = None,
    ) -> dict[str, Any] | None:
        from curvecast.curves import Curve
        from curvecast.forecast import forecast_curve

        if len(steps) < self.min_points or steps[-1] >= horizon or values[-1] is None:
            return None
        y = [math.nan if v is None else v for v in values]
        x_new = np.unique(np.linspace(steps[-1], horizon, _BAND_POINTS + 1)[1:])
        try:
            curve = Curve(steps, y, direction, bounds)
            if curve.diverged:
                return None
            fc = forecast_curve(
                curve, x_new, method=self.method, quantiles=[lv for _, lv in BAND_LEVELS], rng=0
            )
        except (CurvecastError, ValueError, ArithmeticError, np.linalg.LinAlgError):
            return None  # a curve this method cannot forecast: show it without a band
        q = fc.quantiles  # (len(x_new), 5)
        band: dict[str, Any] = {
            "x": [steps[-1], *x_new.tolist()],
            "source": "forecast",
            "method": fc.method,
            "prob_better": None if incumbent is None else _num(fc.prob_better(incumbent)),
        }
        for i, (name, _) in enumerate(BAND_LEVELS):
            band[name] = [values[-1], *(_num(v) for v in q[:, i])]
        return band


def _pruner_bounds(study: FrozenStudy) -> tuple[float | None, float | None] | None:
    """The bounds the study's ForecastPruner was given (its "curvecast:pruner" attribute)."""
    settings = study.system_attrs.get("curvecast:pruner")
    bounds = settings.get("bounds") if isinstance(settings, dict) else None
    if isinstance(bounds, list) and len(bounds) == 2:
        lo, hi = (None if b is None else float(b) for b in bounds)
        return (lo, hi)
    return None


def _stored_band(stop: dict[str, Any], last_value: float | None) -> dict[str, Any] | None:
    """The band of a pruned trial: from its last value at the stop to the stored quantiles of
    the final value at the horizon."""
    q = stop.get("final_quantiles") or {}
    step, horizon = stop.get("step"), stop.get("horizon")
    if step is None or horizon is None or horizon <= step or last_value is None:
        return None
    band: dict[str, Any] = {"x": [step, horizon], "source": "verdict", "method": stop.get("method")}
    for name, level in BAND_LEVELS:
        value = _num(q.get(f"{level:g}"))
        if value is None:
            return None
        band[name] = [last_value, value]
    return band


def _trial_record(
    trial: FrozenTrial,
    *,
    direction: str,
    horizon: float | None,
    incumbent: float | None,
    cache: ForecastCache | None,
    history: bool,
    bounds: tuple[float | None, float | None] | None = None,
) -> dict[str, Any]:
    steps, values = _curve(trial)
    verdicts = _verdicts(trial)
    state = trial.state.name.lower()
    stop = next((v for v in reversed(verdicts) if v["decision"] == "stop"), None)
    latest = verdicts[-1] if verdicts else None
    last_value = next((v for v in reversed(values) if v is not None), None)
    # the latest decision that forecast (a "between checks" or "warmup" one carries no number)
    judged = next((v for v in reversed(verdicts) if v.get("prob_better") is not None), None)
    prob_better = judged["prob_better"] if judged else None
    band = None
    steps_saved = None
    why = None
    if state == "pruned":
        h = (stop or {}).get("horizon") or horizon
        if steps and h is not None:
            steps_saved = max(0.0, float(h) - steps[-1])
        if stop is not None:
            band = _stored_band(stop, values[-1] if values else None)
            why = stop["explain"]
        else:
            why = "pruned by another pruner (no curvecast verdict recorded)"
    elif state == "complete":
        why = f"completed at step {steps[-1]:g}" if steps else "completed"
    elif state == "running":
        h = (latest or {}).get("horizon") or horizon
        if cache is not None and h is not None and direction in ("maximize", "minimize"):
            band = cache.band(
                trial._trial_id, steps, values, direction, float(h), incumbent, bounds
            )
        if judged is not None or latest is not None:
            why = (judged or latest or {})["explain"]
        elif band is not None and band["prob_better"] is not None:
            prob_better = band["prob_better"]
            why = (
                f"running at step {steps[-1]:g}: P(final beats {incumbent:.4g}) = "
                f"{prob_better:.3f} by the dashboard's {band['method']} forecast"
            )
        elif steps:
            why = f"running at step {steps[-1]:g}: too few points to forecast yet"
    start, end = trial.datetime_start, trial.datetime_complete
    rec: dict[str, Any] = {
        "number": trial.number,
        "id": trial._trial_id,
        "state": state,
        "value": _num(trial.value) if len(trial.values or ()) <= 1 else None,
        "params": {str(k): _param(v) for k, v in trial.params.items()},
        "steps": steps,
        "values": values,
        "last_step": steps[-1] if steps else None,
        "last_value": last_value,
        "prob_better": prob_better,
        "latest": latest,
        "stop": stop,
        "why": why,
        "band": band,
        "steps_saved": steps_saved,
        "started": _iso(start),
        "completed": _iso(end),
        "duration_s": (end - start).total_seconds() if start and end else None,
    }
    if history:
        rec["verdicts"] = verdicts
        rec["user_attrs"] = {str(k): _param(v) for k, v in trial.user_attrs.items()}
    return rec


def _summarise(
    study: FrozenStudy, trials: list[FrozenTrial]
) -> tuple[dict[str, Any], float | None]:
    direction = _direction(study)
    states: dict[str, int] = {}
    finals: list[float] = []
    last_steps: list[float] = []
    horizons: list[float] = []
    for t in trials:
        name = t.state.name.lower()
        states[name] = states.get(name, 0) + 1
        if name == "complete" and t.intermediate_values:
            last = max(t.intermediate_values)
            last_steps.append(float(last))
            final = _num(t.intermediate_values[last])
            if final is not None:
                finals.append(final)
        elif name == "complete" and _num(t.value) is not None and len(t.values or ()) == 1:
            finals.append(float(t.value))  # type: ignore[arg-type]
    for t in trials:
        for v in _verdicts(t)[-1:]:
            if v.get("horizon") is not None:
                horizons.append(float(v["horizon"]))
    horizon = max(horizons) if horizons else (max(last_steps) if last_steps else None)
    incumbent = None
    if finals and direction != "multi-objective":
        incumbent = max(finals) if direction == "maximize" else min(finals)
    run = saved = 0.0
    for t in trials:
        name = t.state.name.lower()
        if not t.intermediate_values or name not in ("complete", "pruned", "fail"):
            continue
        reached = float(max(t.intermediate_values))
        run += reached
        if name == "pruned":
            stop = next((v for v in reversed(_verdicts(t)) if v["decision"] == "stop"), None)
            h = (stop or {}).get("horizon") or horizon
            if h is not None:
                saved += max(0.0, float(h) - reached)
    best_value = best_trial = None
    scored = (
        [t for t in trials if t.state.name == "COMPLETE" and _num(t.value) is not None]
        if direction != "multi-objective"
        else []
    )
    if scored:
        pick = max if direction == "maximize" else min
        best = pick(scored, key=lambda t: float(t.value))  # type: ignore[arg-type]
        best_value, best_trial = _num(best.value), best.number
    summary = {
        "id": study._study_id,
        "name": study.study_name,
        "direction": direction,
        "n_trials": len(trials),
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
        "user_attrs": {str(k): _param(v) for k, v in study.user_attrs.items()},
    }
    return summary, horizon


def _find_study(storage: BaseStorage, study_id: int) -> FrozenStudy | None:
    for s in storage.get_all_studies():
        if s._study_id == study_id:
            return s
    return None


def list_studies(storage: BaseStorage) -> list[dict[str, Any]]:
    """A summary of every study in ``storage``, ordered by id."""
    out = []
    for study in sorted(storage.get_all_studies(), key=lambda s: s._study_id):
        trials = storage.get_all_trials(study._study_id, deepcopy=False)
        out.append(_summarise(study, trials)[0])
    return out


def study_view(
    storage: BaseStorage, study_id: int, cache: ForecastCache | None
) -> dict[str, Any] | None:
    """``{"study": summary, "trials": [record, ...]}`` for one study, or None if it is absent.

    A record holds the trial's curve (``steps``, ``values``), state, parameters, latest
    verdict, the stop verdict and its ``why`` line, and a forecast ``band``: the stored
    forecast for a pruned trial, a fresh one (from ``cache``) for a running trial.
    """
    study = _find_study(storage, study_id)
    if study is None:
        return None
    trials = storage.get_all_trials(study_id, deepcopy=False)
    summary, horizon = _summarise(study, trials)
    bounds = _pruner_bounds(study)
    records = [
        _trial_record(
            t,
            direction=summary["direction"],
            horizon=horizon,
            incumbent=summary["incumbent"],
            cache=cache,
            history=False,
            bounds=bounds,
        )
        for t in sorted(trials, key=lambda t: t.number)
    ]
    return {"study": summary, "trials": records}


def trial_view(
    storage: BaseStorage, study_id: int, number: int, cache: ForecastCache | None
) -> dict[str, Any] | None:
    """``{"study": summary, "trial": record}`` with the trial's full verdict history and user
    attributes, or None if the study or the trial is absent."""
    study = _find_study(storage, study_id)
    if study is None:
        return None
    trials = storage.get_all_trials(study_id, deepcopy=False)
    summary, horizon = _summarise(study, trials)
    for t in trials:
        if t.number == number:
            rec = _trial_record(
                t,
                direction=summary["direction"],
                horizon=horizon,
                incumbent=summary["incumbent"],
                cache=cache,
                history=True,
                bounds=_pruner_bounds(study),
            )
            return {"study": summary, "trial": rec}
    return None
