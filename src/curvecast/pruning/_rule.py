"""When to stop a run: the expected gain of going on against the compute it costs.

The default rule stops a run when what its forecast expects it to gain over the incumbent,
E[(final - incumbent)+], is at most ``regret_rate`` x the search's spread x the share of the run's
compute still to come (see :class:`ForecastRule` for what that guarantees). With an explicit
``threshold`` it is the rule of Domhan et al. (2015): stop when P(final beats the incumbent) is
below it. A run that diverged stops at once. The rule is pure: it reads a Curve and returns a
Verdict, so every framework adapter (Optuna, Ray Tune, the benchmark replays) shares it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from curvecast.curves import MAX_EXTRAPOLATION, Curve
from curvecast.exceptions import parameter_error
from curvecast.forecast import forecast_curve, get_forecaster
from curvecast.pruning._compute import (
    StepCost,
    as_compute_fraction,
    check_step_cost,
    compute_split,
    expected_improvement,
)
from curvecast.pruning._verdict import CONFIDENT_STOP_PROBABILITY, Verdict

__all__ = [
    "CONFIDENT_STOP_PROBABILITY",
    "DEFAULT_CHECK_GROWTH",
    "DEFAULT_MIN_POINTS",
    "DEFAULT_PROBABILITY_THRESHOLD",
    "DEFAULT_REGRET_RATE",
    "DEFAULT_THRESHOLD",
    "DEFAULT_WARMUP_FRACTION",
    "MIN_CONTEXT_SINGLE_POINT",
    "MIN_SAME_STEP",
    "PROVISIONAL_LEVEL",
    "ForecastRule",
    "check_horizon_setting",
    "context_due",
    "own_horizon",
    "provisional_incumbent",
    "same_step_median",
    "search_spread",
]

#: The default rule: a stop may give up at most this expected regret, in units of the search's
#: spread, per full run of compute it saves (see ForecastRule). Chosen on replayed LCBench and
#: LCDB searches (`curvecast bench prune`); the other suites were not used to choose it. 0.1
#: saved more on replays (about 10x against 7x at 100 LCBench configurations), but on the live
#: digits search of `scripts/user_search.py` it pruned every good trial of one seed (best found
#: 0.948 against 0.985) where 0.05 kept the best in all five.
DEFAULT_REGRET_RATE = 0.05
#: None: the default rule above. A number: Domhan et al.'s rule, P(beats incumbent) < threshold.
DEFAULT_THRESHOLD: float | None = None
#: The threshold of Domhan's rule where a probability is what the user sets: the training-loop
#: callbacks (P(final beats a target)), `curvecast judge`, and the Ray scheduler until it moves.
DEFAULT_PROBABILITY_THRESHOLD = 0.1
#: The default rule stops a run only when it is also behind the median of the completed runs at
#: the same step (MedianPruner's comparison), and only once this many completed runs reach that
#: step (MedianPruner's ``n_startup_trials``): where the forecast cannot tell, what the search has
#: seen at this step decides, never a confident forecast from two or three completed runs.
MIN_SAME_STEP = 5
#: A run is judged from its first report, but a single point says nothing of its trend: the
#: forecast then rests on the search's other trials (the calibrated method compares it with
#: them at the same stage of their runs), so it needs this many completed trials as context.
#: Not more: a pruned search completes few trials (5 to 29 of 1,000 in six replayed LCBench
#: searches), and with 8 required no run of those searches was ever stopped at its first report.
DEFAULT_MIN_POINTS = 1
MIN_CONTEXT_SINGLE_POINT = 5
#: What "auto" forecasts a single point with: how the search's other runs went on from the same
#: level at the same step (a same-step comparison, as MedianPruner and ASHA make, turned into a
#: distribution). On replayed ScAn-Bench LLM searches, whose runs mostly have two checkpoints,
#: it kept the best run where the calibrated PFN, reading one point as a flat curve, lost it.
SINGLE_POINT_METHOD = "analog"
#: What "auto" forecasts with when completed runs are given and the curve has no schedule:
#: ``stacked`` with the PFN as its curve-alone member, a fifth of the cost of ``stacked``'s
#: parametric fits at every check; the same-step comparison carries the rule's safety.
CONTEXT_METHOD = "stacked_pfn"
DEFAULT_WARMUP_FRACTION = 0.0
DEFAULT_CHECK_GROWTH = 1.2
#: Never stop a run with this chance or more of beating the incumbent, whatever its expected gain:
#: early forecasts are too sure (on live digits searches half the truths of runs stopped after at
#: most 3 reports fell outside their 90% band, nearly all on the good side), and at 0.5 the rule
#: stopped runs that went on to win.
_MAX_STOP_PROBABILITY = 0.2

_LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)

#: A running trial counts as an incumbent at the quantile of its forecast final value that it
#: beats with this probability's complement: its lower quartile when maximising (upper when
#: minimising), a value it will most likely reach.
PROVISIONAL_LEVEL = 0.25


def provisional_incumbent(
    completed: float | None,
    running: Iterable[tuple[str, Verdict]],
    direction: str,
    level: float = PROVISIONAL_LEVEL,
) -> tuple[float | None, str | None]:
    """The value to beat: the best completed final, or a running trial's pessimistic forecast
    (its latest verdict's :data:`PROVISIONAL_LEVEL` quantile of the final value) where that is
    better. A trial then competes, from the start of a search, with the running trials that
    will most likely end better, as successive halving compares trials at a rung.

    ``running`` holds ``(label, latest verdict)`` of each other running trial, e.g.
    ``("running trial 7", v)`` (verdicts without forecast quantiles, or of stopped or paused
    trials, are skipped). ``level`` must be one of the recorded levels. Returns the value and the
    label of the trial it came from (None: the completed value, or nothing to beat).
    """
    maximize = direction == "maximize"
    level = level if maximize else round(1.0 - level, 12)
    best = completed if completed is not None and math.isfinite(completed) else None
    source: str | None = None
    for label, v in running:
        if v.decision != "continue" or v.reason not in ("promising", "no_incumbent"):
            continue
        q = v.final_quantiles.get(level)
        if q is None or not math.isfinite(q):
            continue
        if best is None or (q > best if maximize else q < best):
            best, source = q, label
    return best, source


def own_horizon(value: object, *, name: str, owner: str, trial: object) -> float | None:
    """Check what a per-trial horizon function returned for ``trial``: a positive finite
    number (returned as float) or None (the adapter then falls back to its shared horizon).

    Raises:
        InvalidParameterError: anything else, naming the parameter ``name`` of ``owner``.
    """
    if value is None:
        return None
    if not _is_positive(value):
        raise parameter_error(
            name, owner, f"a function returning a positive number or None (trial {trial})", value
        )
    return float(value)  # type: ignore[arg-type]


def check_horizon_setting(value: object, *, name: str, owner: str) -> None:
    """Check an adapter's horizon argument: a positive number, "auto" or a function of the trial.

    Raises:
        InvalidParameterError: anything else, naming the parameter ``name`` of ``owner``.
    """
    if not callable(value) and value != "auto" and not _is_positive(value):
        raise parameter_error(
            name, owner, "a positive number, 'auto' or a function of the trial", value
        )


def _is_finite_number(value: object) -> bool:
    """A finite int or float that float64 holds (an int of 400 digits is not one)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int):
        return abs(value) <= _FLOAT_MAX
    return math.isfinite(value)


def _is_positive(value: object) -> bool:
    return _is_finite_number(value) and value > 0  # type: ignore[operator]


_FLOAT_MAX = float(np.finfo(np.float64).max)


#: The context (completed trials passed to the forecaster) is redrawn when the number of
#: completed trials has grown by this factor since it was last drawn (at 1, 2, 3, 4, 5, 7, 9,
#: 12, 15, 19, ... completed trials): the calibrated forecaster's leave-one-out errors are cached
#: per context, so a search of 1,000 trials pays for them about 30 times, not 1,000.
CONTEXT_GROWTH = 1.25


def context_due(n_then: int, n_now: int) -> bool:
    """Whether an adapter should redraw its context, drawn at ``n_then`` completed trials, now
    that ``n_now`` have completed (see :data:`CONTEXT_GROWTH`)."""
    return n_now > n_then and (n_then < 4 or n_now >= CONTEXT_GROWTH * n_then)


def search_spread(finals: Iterable[float], direction: str) -> float | None:
    """How far the best of ``finals`` (the completed trials' final values) lies ahead of their
    median: the scale of the default rule's allowance. None with fewer than 3 finite finals or
    when the best is the median (nothing to scale by)."""
    v = np.array([f for f in finals if math.isfinite(f)], dtype=np.float64)
    if v.size < 3:
        return None
    best = float(v.max() if direction == "maximize" else v.min())
    gap = abs(best - float(np.median(v)))
    return gap if gap > 0 else None


def same_step_median(
    curve: Curve, context: Sequence[Curve], horizon: float, min_runs: int = MIN_SAME_STEP
) -> float | None:
    """The median of the ``context`` runs' values at ``curve``'s last step, as MedianPruner
    compares: each completed run read at the same step or, in a search that mixes budgets, at
    the same fraction of its own run (the convention of :mod:`curvecast.forecast.analog`, with
    this run ending at ``horizon``). None when fewer than ``min_runs`` runs reach that point."""
    from curvecast.forecast.analog import _run_stretch

    step = float(curve.observed_x[-1])
    values = []
    for c, f in zip(context, _run_stretch(context, horizon), strict=True):
        at = step / f
        cx = c.observed_x
        if c.n_observed and cx[0] <= at * (1 + 1e-9) and at <= cx[-1] * (1 + 1e-9):
            values.append(float(np.interp(at, cx, c.observed_y)))
    if len(values) < min_runs:
        return None
    return float(np.median(values))


class ForecastRule:
    """Decide whether a partly observed run should go on.

    **The default rule** weighs what going on may gain against what it costs. It stops a run
    when its forecast expected improvement over the incumbent, E[(final - incumbent)+], is at
    most ``regret_rate x spread x f`` and the run has less than a 20% chance of beating the
    incumbent. ``spread`` is how far the best completed trial lies ahead of the median
    completed one (:func:`search_spread`); ``f`` is the share of the run's compute still to
    come (from ``step_cost``). Until three trials completed there is no spread, and a run
    stops only when P(final beats the incumbent) < 0.1. **What it guarantees:** with
    calibrated forecasts, each stop gives up at most ``regret_rate x spread`` of expected
    regret per full run of compute it saves, so the search's expected regret (against the
    best completed trial) is at most ``regret_rate x spread`` times the number of full runs
    the pruner saved: the stopped runs' expected gains bound it. It scales with the search:
    as the incumbent improves, hopeless runs' expected gains shrink and they stop sooner,
    while a run close to the incumbent stops only late, when little compute is left to save.

    **Where the forecast cannot tell, the same-step comparison decides** (``same_step=True``,
    the default): a run behind the median of the completed runs at the same step (its best
    value so far against theirs at that step, as MedianPruner compares) is stopped when the rule
    above says so; a run ahead of that median only when, besides, it has reported at least
    two points and its forecast gives it less than :data:`CONFIDENT_STOP_PROBABILITY` (1%) of
    beating the incumbent; and no run before :data:`MIN_SAME_STEP` completed runs reach its
    step. A run seen once is forecast from how a handful of completed runs went on from the
    same step, which cannot tell a 1% chance from a 20% one (on held-out boosting searches
    such a stop lost the best run), so one report ahead of the median never stops a run.
    Behind the median the rule stops a subset of the runs MedianPruner stops at the same
    reports, so it loses no run MedianPruner would have kept there; ahead of it, it stops runs
    MedianPruner never stops, and only those its forecast calls near-certainly hopeless (a
    forecast that is wrong there costs regret MedianPruner would not have).

    With an explicit ``threshold`` the rule is Domhan et al.'s (2015): stop when P(final beats
    the incumbent) < threshold.

    Args:
        threshold: None (default: the rule above) or a float in (0, 1) (Domhan's rule).
        regret_rate: the default rule's allowance, in spreads of expected regret per full run
            of compute saved; > 0. Default :data:`DEFAULT_REGRET_RATE`; smaller is safer.
        step_cost: the compute of one report: None (1 per report), a positive number, "step"
            (the step axis is the compute) or a function of the report's step (e.g.
            ``lambda anchor: anchor`` when each step trains from scratch on that many samples).
        min_points: no forecast-based stop before this many points are observed (>= 1). A run
            of one point is judged only with at least :data:`MIN_CONTEXT_SINGLE_POINT` other
            trials as context (a single point says nothing of its own trend).
        warmup_fraction: no forecast-based stop before ``x >= warmup_fraction * horizon``,
            in [0, 1); default 0 (only ``min_points`` holds a run back). A run seen for less
            than 1/:data:`~curvecast.curves.MAX_EXTRAPOLATION` of its horizon (a millionth) is
            in warm-up too: no forecast reaches that far.
        method: forecasting method name (see :func:`curvecast.available_methods`).
        diverge_above: for "minimize", a value above which the run counts as diverged (e.g. a
            loss that never occurs in a healthy run); for "maximize", below which. None: only
            NaN, inf and the overflow policy of :mod:`curvecast.curves` count.
        check_growth: forecast only at the reports numbered ``min_points = c_0 < c_1 < ...`` with
            ``c_{k+1} = max(c_k + 1, ceil(growth * c_k))`` (>= 1; 1.0 means at every report).
            With the default 1.2, a 50-epoch run is judged 16 times instead of 50: a forecast
            then costs less than the epochs it can save. Divergence is checked at every report.
        seed: seed of the forecasts' randomness, so that decisions are repeatable across workers.
        same_step: the default rule also needs a run to be behind the median of the completed
            runs at the same step before it stops it (see above); False lets the forecast
            decide alone. Not used with an explicit ``threshold``.
        owner: the class named in error messages (an adapter passes its own name).

    Raises:
        InvalidParameterError: any argument out of range.

    Example:
        >>> from curvecast import Curve
        >>> rule = ForecastRule(method="last_value")
        >>> v = rule.decide(Curve([1, 2, 3, 4], [0.30, 0.31, 0.31, 0.32], bounds=(0, 1)),
        ...                 horizon=30, incumbent=0.9, spread=0.2)
        >>> v.decision, v.reason
        ('stop', 'hopeless')
    """

    def __init__(
        self,
        threshold: float | None = DEFAULT_THRESHOLD,
        *,
        regret_rate: float = DEFAULT_REGRET_RATE,
        step_cost: StepCost = None,
        min_points: int = DEFAULT_MIN_POINTS,
        warmup_fraction: float = DEFAULT_WARMUP_FRACTION,
        method: str = "auto",
        diverge_above: float | None = None,
        check_growth: float = DEFAULT_CHECK_GROWTH,
        seed: int = 0,
        same_step: bool = True,
        owner: str = "ForecastRule",
    ) -> None:
        if threshold is not None and (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not (0.0 < threshold < 1.0)
        ):
            raise parameter_error(
                "threshold", owner, "None (the default rule) or a float in (0, 1)", threshold
            )
        if not _is_positive(regret_rate):
            raise parameter_error("regret_rate", owner, "a positive float", regret_rate)
        self.step_cost = check_step_cost(step_cost, owner=owner)
        if isinstance(min_points, bool) or not isinstance(min_points, int) or min_points < 1:
            raise parameter_error("min_points", owner, "an int >= 1", min_points)
        if (
            isinstance(warmup_fraction, bool)
            or not isinstance(warmup_fraction, int | float)
            or not 0.0 <= warmup_fraction < 1.0
        ):
            raise parameter_error("warmup_fraction", owner, "a float in [0, 1)", warmup_fraction)
        if diverge_above is not None and not _is_finite_number(diverge_above):
            raise parameter_error("diverge_above", owner, "a finite float or None", diverge_above)
        if not _is_finite_number(check_growth) or not 1.0 <= check_growth:
            raise parameter_error("check_growth", owner, "a finite float >= 1", check_growth)
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise parameter_error("seed", owner, "an int >= 0", seed)
        if not isinstance(method, str):
            raise parameter_error("method", owner, "a method name (a string)", method)
        if not isinstance(same_step, bool):
            raise parameter_error("same_step", owner, "True or False", same_step)
        get_forecaster(method)  # fail now, not at the first decision, on an unknown name
        self.threshold = None if threshold is None else float(threshold)
        self.regret_rate = float(regret_rate)
        self.min_points = min_points
        self.warmup_fraction = float(warmup_fraction)
        self.method = method
        self.diverge_above = diverge_above
        self.check_growth = float(check_growth)
        self.seed = int(seed)
        self.same_step = same_step

    def is_check_point(self, n_points: int) -> bool:
        """Whether a forecast is due after ``n_points`` observed points (see ``check_growth``)."""
        c = self.min_points
        while c < n_points:
            c = max(c + 1, math.ceil(self.check_growth * c - 1e-9))
        return c == n_points

    def _exploded(self, curve: Curve) -> bool:
        if self.diverge_above is None:
            return False
        y = curve.observed_y
        if curve.direction == "minimize":
            return bool(np.any(y > self.diverge_above))
        return bool(np.any(y < self.diverge_above))

    def decide(
        self,
        curve: Curve,
        *,
        horizon: float | None,
        incumbent: float | None,
        context: Sequence[Curve] = (),
        forecast_without_incumbent: bool = False,
        incumbent_source: str | None = None,
        spread: float | None = None,
    ) -> Verdict:
        """The verdict for ``curve`` given the final step ``horizon`` and the value to beat.

        ``curve`` may have diverged. ``context`` holds other runs of the same search. With
        ``forecast_without_incumbent``, a run with nothing to beat yet is still forecast when a
        check is due, and its "no_incumbent" verdict carries the quantiles (so that it can be the
        incumbent of others, see :func:`provisional_incumbent`). ``incumbent_source`` says where
        the incumbent came from when it was not the best completed trial; the verdict keeps it.
        ``spread`` is the search's spread (:func:`search_spread` of the completed finals); None
        (fewer than 3 completed) judges the run by its chance alone (stop below 0.1).
        """
        step = float(curve.x[-1])
        if curve.diverged or self._exploded(curve):
            return Verdict("stop", "diverged", step, horizon, incumbent)
        if horizon is None or not math.isfinite(horizon):
            return Verdict("continue", "no_horizon", step, None, incumbent)
        if step >= horizon:
            return Verdict("continue", "finished", step, horizon, incumbent)
        if (
            curve.n_observed < self.min_points
            or (curve.n_observed < 2 and len(context) < MIN_CONTEXT_SINGLE_POINT)
            or step < self.warmup_fraction * horizon
            or horizon > MAX_EXTRAPOLATION * step  # a millionth of the run says nothing yet
        ):
            return Verdict("continue", "warmup", step, horizon, incumbent)
        if not self.is_check_point(curve.n_observed):
            return Verdict("continue", "between_checks", step, horizon, incumbent)
        if (incumbent is None or not math.isfinite(incumbent)) and not forecast_without_incumbent:
            return Verdict("continue", "no_incumbent", step, horizon, None)
        method = self.method
        if method == "auto" and curve.n_observed < 2 and len(context) >= MIN_CONTEXT_SINGLE_POINT:
            method = SINGLE_POINT_METHOD
        elif method == "auto" and context and curve.meta.get("schedule") is None:
            method = CONTEXT_METHOD
        fc = forecast_curve(
            curve,
            [horizon],
            method=method,
            quantiles=_LEVELS,
            rng=self.seed,
            context=context,
        )
        quantiles = {lv: float(q) for lv, q in zip(_LEVELS, fc.quantiles[0], strict=True)}
        if incumbent is None or not math.isfinite(incumbent):  # forecast_without_incumbent
            return Verdict(
                "continue", "no_incumbent", step, float(horizon), None, None, quantiles, fc.method
            )
        p = fc.prob_better(incumbent)
        gain = expected_improvement(fc, incumbent)
        allowance = None
        if self.threshold is None and spread is not None and spread > 0:
            done, left = compute_split(curve.observed_x, float(horizon), self.step_cost)
            allowance = self.regret_rate * spread * as_compute_fraction(done, left)
        if self.threshold is not None:
            stop = p < self.threshold
        elif allowance is None:
            # no scale yet (fewer than 3 completed trials): a wide forecast must not buy a
            # large allowance, so the run is judged by its chance alone until there is one
            stop = p < DEFAULT_PROBABILITY_THRESHOLD
        else:
            stop = p < _MAX_STOP_PROBABILITY and gain <= allowance
        median, behind = None, False
        if self.threshold is None and self.same_step:
            median = same_step_median(curve, context, float(horizon))
            y = curve.observed_y
            best = float(np.max(y) if curve.direction == "maximize" else np.min(y))
            behind = median is not None and (
                best < median if curve.direction == "maximize" else best > median
            )
            # behind the median: the rule above decides; ahead of it: only a confident forecast
            # of the run's own curve (two points or more); too few completed runs at this
            # step: never
            confident = (
                median is not None and curve.n_observed >= 2 and p < CONFIDENT_STOP_PROBABILITY
            )
            stop = stop and (behind or confident)
        return Verdict(
            "stop" if stop else "continue",
            "hopeless" if stop else "promising",
            step,
            float(horizon),
            float(incumbent),
            float(p),
            quantiles,
            fc.method,
            incumbent_source,
            expected_gain=float(gain),
            allowance=allowance,
            same_step=median,
            behind=behind if median is not None else None,
        )
