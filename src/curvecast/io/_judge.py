"""Forecast every run of a source at once and say which are worth stopping.

The rule is the pruner's (:class:`curvecast.pruning.ForecastRule`), applied to runs read from a
log directory instead of trials of a study: each run's value at the horizon is forecast, with
the runs that reached the horizon as context, and compared with the best run. The best run is
the best final value of the runs that reached the horizon or, where better, what another
unfinished run will most likely reach (its forecast's lower quartile when maximising, upper when
minimising), as the Optuna pruner does with running trials.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from curvecast.curves import Curve
from curvecast.exceptions import InvalidParameterError, parameter_error
from curvecast.forecast import Forecast, forecast_many
from curvecast.pruning import Verdict
from curvecast.pruning._rule import DEFAULT_PROBABILITY_THRESHOLD, PROVISIONAL_LEVEL

__all__ = ["LEVELS", "RunForecast", "judge_runs"]

#: Runs of logs are judged from their second point: one point says nothing of a run's trend,
#: and the other runs of a log directory are seldom a search to compare it with.
_MIN_POINTS = 2

#: Quantile levels of the final value kept in each verdict.
LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True)
class RunForecast:
    """One run's row: what was seen, and the verdict (decision, reason, forecast of the final
    value, P(beat best)).

    Attributes:
        run: the run's name in its source.
        points: observed points (before any divergence).
        last_step, last_value: the run's latest point (the value may be NaN: diverged).
        verdict: the decision with its evidence (``final_quantiles`` at :data:`LEVELS`).
        best_run: the run whose value is the incumbent (None: no run to beat).
    """

    run: str
    points: int
    last_step: float
    last_value: float
    verdict: Verdict
    best_run: str | None

    @property
    def worth_stopping(self) -> bool:
        return self.verdict.should_stop

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (non-finite numbers as None)."""
        lv = self.last_value
        return {
            "run": self.run,
            "points": self.points,
            "last_step": self.last_step,
            "last_value": lv if math.isfinite(lv) else None,
            "best_run": self.best_run,
            "worth_stopping": self.worth_stopping,
            **self.verdict.to_dict(),
        }


def _better(a: float, b: float, maximize: bool) -> bool:
    return a > b if maximize else a < b


def judge_runs(
    curves: Mapping[str, Curve],
    *,
    horizon: float | None = None,
    threshold: float = DEFAULT_PROBABILITY_THRESHOLD,
    method: str = "auto",
    seed: int = 0,
    min_points: int = _MIN_POINTS,
    max_context: int = 32,
) -> list[RunForecast]:
    """Forecast each run at ``horizon`` and decide whether it is worth going on.

    Args:
        curves: {run name: Curve}, all with one direction (as a reader returns them).
        horizon: the final step; default the largest last step of the runs.
        threshold: a run is worth stopping when P(its final beats the best run) < threshold.
        method: forecasting method (see :func:`curvecast.available_methods`).
        seed: seed of the forecasts (the same seed, the same answer).
        min_points: runs with fewer observed points are not judged ("warmup").
        max_context: at most this many finished runs are given to the forecaster as context.

    Returns:
        One :class:`RunForecast` per run, in the order of ``curves``. Decisions: "stop" with
        reason "hopeless" or "diverged"; "continue" with "promising", "finished" (reached the
        horizon), "warmup" or "no_incumbent" (no other run to beat).

    Raises:
        InvalidParameterError: no curve, mixed directions, or an argument out of range.

    Example:
        >>> from curvecast import Curve
        >>> runs = {"a": Curve([1, 2, 3, 4], [0.5, 0.7, 0.8, 0.85], bounds=(0, 1)),
        ...         "b": Curve([1, 2], [0.2, 0.22], bounds=(0, 1))}
        >>> [r.verdict.reason for r in judge_runs(runs, method="last_value")]
        ['finished', 'hopeless']
    """
    owner = "judge_runs"
    if not curves:
        raise InvalidParameterError("judge_runs needs at least one run; none was given.")
    if not isinstance(threshold, int | float) or not 0 < threshold < 1:
        raise parameter_error("threshold", owner, "a float in (0, 1)", threshold)
    if isinstance(min_points, bool) or not isinstance(min_points, int) or min_points < 1:
        raise parameter_error("min_points", owner, "an int >= 1", min_points)
    directions = {c.direction for c in curves.values()}
    if len(directions) != 1:
        raise parameter_error("curves", owner, "curves of one direction", sorted(directions))
    maximize = directions.pop() == "maximize"
    last = {name: float(c.x[-1]) for name, c in curves.items()}
    if horizon is None:
        horizon = max(last.values())
    elif isinstance(horizon, bool) or not isinstance(horizon, int | float) or not horizon > 0:
        raise parameter_error("horizon", owner, "a positive number or None", horizon)
    horizon = float(horizon)

    finished = {
        n: c for n, c in curves.items() if not c.diverged and last[n] >= horizon and c.n_observed
    }
    best_final: tuple[float, str] | None = None
    for n, c in finished.items():
        final = float(c.observed_y[-1])
        if best_final is None or _better(final, best_final[0], maximize):
            best_final = (final, n)
    context = sorted(finished.values(), key=lambda c: -c.n_observed)[:max_context]

    forecasts: dict[str, Forecast] = {}
    quantiles: dict[str, dict[float, float]] = {}
    todo = [
        n
        for n, c in curves.items()
        if n not in finished and not c.diverged and c.n_observed >= min_points
    ]
    # one batched call for every running run (one forward pass of the network)
    batch = forecast_many(
        [curves[n] for n in todo], [horizon], method=method, quantiles=LEVELS, rng=seed,
        context=context,
    ) if todo else []  # fmt: skip
    for n, fc in zip(todo, batch, strict=True):
        forecasts[n] = fc
        quantiles[n] = dict(zip(LEVELS, (float(q) for q in fc.quantiles[0]), strict=True))
    level = PROVISIONAL_LEVEL if maximize else round(1 - PROVISIONAL_LEVEL, 12)
    provisional = {n: q[level] for n, q in quantiles.items() if math.isfinite(q[level])}

    rows: list[RunForecast] = []
    for n, c in curves.items():
        step = last[n]
        lv = float(c.y[-1])
        if c.diverged:
            v = Verdict("stop", "diverged", step, horizon)
            rows.append(RunForecast(n, c.n_observed, step, lv, v, None))
            continue
        if n in finished:
            inc = best_final[0] if best_final else None
            v = Verdict("continue", "finished", step, horizon, inc)
            best = best_final[1] if best_final else None
            rows.append(RunForecast(n, c.n_observed, step, lv, v, best))
            continue
        if n not in forecasts:
            v = Verdict("continue", "warmup", step, horizon)
            rows.append(RunForecast(n, c.n_observed, step, lv, v, None))
            continue
        inc_val: float | None = best_final[0] if best_final else None
        inc_run: str | None = best_final[1] if best_final else None
        source: str | None = None
        for other, q in provisional.items():
            if other != n and (inc_val is None or _better(q, inc_val, maximize)):
                inc_val, inc_run, source = q, other, f"running run {other}"
        fc = forecasts[n]
        if inc_val is None:
            v = Verdict(
                "continue", "no_incumbent", step, horizon, None, None, quantiles[n], fc.method
            )
            rows.append(RunForecast(n, c.n_observed, step, lv, v, None))
            continue
        p = float(fc.prob_better(inc_val))
        stop = p < threshold
        v = Verdict(
            "stop" if stop else "continue",
            "hopeless" if stop else "promising",
            step,
            horizon,
            inc_val,
            p,
            quantiles[n],
            fc.method,
            source,
        )
        rows.append(RunForecast(n, c.n_observed, step, lv, v, inc_run))
    return rows
