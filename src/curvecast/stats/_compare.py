"""Compare methods from (method, task, seed, score) results: aggregates with intervals, the
probability of improvement of every pair, performance profiles, the seed-to-seed spread, and a
verdict in plain words.

The verdict on a pair rests on the interval of the difference in the chosen aggregate (IQM by
default), from resampling both methods' seeds independently within each task: when it holds 0,
the data cannot separate the two. The seeds that would separate them come from the width of
that interval, which shrinks as one over the square root of the seeds per task: about
``n * ((z + z_power) / z)**2 * (half_width / difference)**2`` seeds per task give an 80% chance
that the interval excludes 0, if the true difference is the one observed (a plug-in estimate:
optimistic when the observed difference is itself inflated by noise).

Few seeds make percentile bootstrap intervals too narrow: with ``n`` runs a stratum's bootstrap
variance is ``(n - 1) / n`` of the true one, and its quantiles ignore that the spread itself is
estimated. By default compare widens every interval as Hesterberg's expanded percentile interval
does ("What teachers should know about the bootstrap", 2015): it takes the bootstrap quantiles at
the level ``2 * Phi(sqrt(n / (n - 1)) * t_{df}(1 - alpha / 2)) - 1`` instead of ``1 - alpha``, with
``n`` the fewest seeds per task and ``df`` the summed ``n_task - 1`` of the method with the fewest.
On two methods with the same distribution this brings false separations at 3 seeds on 3 tasks
from 16% to about 6% (5% nominal); with 2 seeds per task they stay near 15%
(``python -m curvecast.stats.calibration verdict``). ``small_sample=False`` gives rliable's
intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm
from scipy.stats import t as student_t

from curvecast.exceptions import parameter_error
from curvecast.stats._aggregate import (
    AGGREGATES,
    Profile,
    difference,
    optimality_gap,
    performance_profile,
    probability_of_improvement,
)
from curvecast.stats._bootstrap import Interval, stratified_bootstrap
from curvecast.stats._results import Results

__all__ = ["Comparison", "PairVerdict", "compare", "expanded_level", "seeds_to_separate"]

METRICS = ("iqm", "mean", "median", "optimality_gap")
POWER = 0.8


@dataclass(frozen=True)
class PairVerdict:
    """What the data say about method ``a`` (the better estimate) against ``b``."""

    a: str
    b: str
    metric: str
    difference: Interval  # a - b in score units (b - a for minimize): > 0 favours a
    p_improvement: Interval  # P(a run of a beats a run of b)
    separated: bool
    seeds: int  # seeds per task now (the fewest of the two)
    seeds_needed: int | None  # None when separated, or when no difference was seen at all
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "metric": self.metric,
            "difference": self.difference.to_dict(),
            "p_improvement": self.p_improvement.to_dict(),
            "separated": self.separated,
            "seeds": self.seeds,
            "seeds_needed": self.seeds_needed,
            "text": self.text,
        }


@dataclass
class Comparison:
    """The result of :func:`compare`; :meth:`to_dict` is its JSON form."""

    results: Results
    metric: str
    gamma: float
    n_boot: int
    confidence: float
    aggregates: dict[str, dict[str, Interval]]  # method -> metric -> Interval, score units
    ranking: list[str]  # best first on ``metric``
    p_improvement: dict[str, dict[str, Interval]]  # a -> b -> P(a beats b)
    verdicts: list[PairVerdict]
    profiles: dict[str, Profile]  # taus in score units; fraction of runs better than tau
    seed_spread: dict[str, dict[str, float]] = field(default_factory=dict)
    level: float = math.nan  # the bootstrap quantile level used (``confidence`` when not widened)

    def to_dict(self) -> dict[str, Any]:
        r = self.results
        return {
            "source": r.source,
            "direction": r.direction,
            "methods": list(r.methods),
            "tasks": list(r.tasks),
            "metric": self.metric,
            "gamma": self.gamma,
            "n_boot": self.n_boot,
            "confidence": self.confidence,
            "bootstrap_level": self.level,
            "ranking": self.ranking,
            "aggregates": {
                m: {k: iv.to_dict() for k, iv in d.items()} for m, d in self.aggregates.items()
            },
            "p_improvement": {
                a: {b: iv.to_dict() for b, iv in d.items()} for a, d in self.p_improvement.items()
            },
            "verdicts": [v.to_dict() for v in self.verdicts],
            "profiles": {m: p.to_dict() for m, p in self.profiles.items()},
            "seed_spread": self.seed_spread,
        }


def seeds_to_separate(
    seeds: int, diff: float, low: float, high: float, confidence: float = 0.95
) -> int | None:
    """Seeds per task that would give an 80% chance that the interval of a difference excludes 0.

    Args:
        seeds: seeds per task behind the interval.
        diff, low, high: the observed difference and its interval.
        confidence: the interval's coverage.

    Returns:
        The number of seeds (at least ``seeds + 1``), or None when ``diff`` is 0 (no difference
        of any size was seen) or the interval has no width.

    Example:
        >>> seeds_to_separate(5, 0.01, -0.01, 0.03)
        21
    """
    half = (diff - low) if diff > 0 else (high - diff)
    if diff == 0 or not math.isfinite(half) or half <= 0:
        return None
    z = float(norm.ppf(0.5 + confidence / 2))
    factor = ((z + float(norm.ppf(POWER))) / z) ** 2
    return max(seeds + 1, math.ceil(seeds * factor * (half / abs(diff)) ** 2))


def expanded_level(confidence: float, seeds: int, df: int) -> float:
    """The bootstrap quantile level of Hesterberg's expanded percentile interval (see the module
    docstring): ``2 * Phi(sqrt(seeds / (seeds - 1)) * t_df(1 - alpha / 2)) - 1``.

    Example:
        >>> round(expanded_level(0.95, 10, 30), 3)
        0.966
    """
    if seeds < 2 or df < 1:
        return confidence
    q = float(student_t.ppf(0.5 + confidence / 2, df)) * math.sqrt(seeds / (seeds - 1))
    return float(min(2 * norm.cdf(q) - 1, 1 - 1e-9))


def _oriented(results: Results) -> dict[str, list[NDArray[np.float64]]]:
    """Scores where higher is better (losses negated)."""
    sign = 1.0 if results.direction == "maximize" else -1.0
    return {m: [sign * g for g in gs] for m, gs in results.scores.items()}


def _default_gamma(results: Results) -> float:
    allv = np.concatenate([g for gs in results.scores.values() for g in gs])
    if results.direction == "maximize":
        return 1.0 if allv.min() >= 0 and allv.max() <= 1 else float(allv.max())
    return 0.0 if allv.min() >= 0 and allv.max() <= 1 else float(allv.min())


def _flip(iv: Interval) -> Interval:
    return Interval(-iv.estimate, -iv.high, -iv.low, iv.n)


def compare(
    results: Results,
    *,
    rng: np.random.Generator,
    metric: str = "iqm",
    gamma: float | None = None,
    n_boot: int = 2000,
    confidence: float = 0.95,
    n_taus: int = 41,
    small_sample: bool = True,
) -> Comparison:
    """Compare every method in ``results``.

    Args:
        results: validated rows (:func:`read_csv`, :func:`read_optuna`, :func:`results_from_rows`).
        rng: the only source of randomness; the same seed gives the same report.
        metric: the aggregate the ranking and the verdicts rest on: ``"iqm"`` (robust to a few
            odd seeds), ``"mean"``, ``"median"`` or ``"optimality_gap"``.
        gamma: the optimality gap's target in score units; default 1 (0 for minimize) when
            every score lies in [0, 1], else the best score of any run.
        n_boot: bootstrap draws per interval.
        confidence: coverage of every interval.
        n_taus: thresholds of the performance profiles (spanning all scores).
        small_sample: widen the intervals for few seeds (see the module docstring); False gives
            rliable's plain percentile intervals.

    Returns:
        A :class:`Comparison`.

    Raises:
        InvalidParameterError: an argument out of range.

    Example:
        >>> from curvecast.stats import results_from_rows
        >>> rows = [{"method": m, "task": "t", "seed": s, "score": base + 0.01 * s}
        ...         for m, base in (("a", 0.9), ("b", 0.5)) for s in range(4)]
        >>> c = compare(results_from_rows(rows), rng=np.random.default_rng(0), n_boot=200)
        >>> c.ranking, c.verdicts[0].separated
        (['a', 'b'], True)
    """
    if metric not in METRICS:
        raise parameter_error("metric", "compare", f"one of {', '.join(METRICS)}", metric)
    if isinstance(n_taus, bool) or not isinstance(n_taus, int) or n_taus < 2:
        raise parameter_error("n_taus", "compare", "an int >= 2", n_taus)
    if gamma is not None and not math.isfinite(gamma):
        raise parameter_error("gamma", "compare", "a finite number", gamma)
    if not 0 < confidence < 1:
        raise parameter_error("confidence", "compare", "a float in (0, 1)", confidence)
    sign = 1.0 if results.direction == "maximize" else -1.0
    level = confidence
    if small_sample:
        fewest = min(results.n_seeds(m)[0] for m in results.methods)
        df = min(sum(g.size - 1 for g in results.scores[m]) for m in results.methods)
        level = expanded_level(confidence, fewest, df)
    target = _default_gamma(results) if gamma is None else float(gamma)
    good = _oriented(results)
    stats = {**AGGREGATES, "optimality_gap": optimality_gap(sign * target)}
    aggregates: dict[str, dict[str, Interval]] = {}
    for m, groups in good.items():
        out = {}
        for key, stat in stats.items():
            iv = stratified_bootstrap(groups, stat, rng=rng, n_boot=n_boot, confidence=level)
            out[key] = _flip(iv) if sign < 0 and key != "optimality_gap" else iv
        aggregates[m] = out

    def goodness(m: str) -> float:  # higher is better, on the chosen metric
        v = aggregates[m][metric].estimate
        return -v if metric == "optimality_gap" else sign * v

    ranking = sorted(results.methods, key=lambda m: (-goodness(m), m))
    p_imp: dict[str, dict[str, Interval]] = {a: {} for a in ranking}
    verdicts = []
    for i, a in enumerate(ranking):
        for b in ranking[i + 1 :]:
            p_ab = probability_of_improvement(
                good[a], good[b], rng=rng, n_boot=n_boot, confidence=level
            )
            p_imp[a][b] = p_ab
            p_imp[b][a] = Interval(1 - p_ab.estimate, 1 - p_ab.high, 1 - p_ab.low, p_ab.n)
            d = difference(
                good[a], good[b], stats[metric], rng=rng, n_boot=n_boot, confidence=level
            )
            if metric == "optimality_gap":  # a smaller gap is better: report b's gap minus a's
                d = _flip(d)
            verdicts.append(_verdict(results, a, b, metric, d, p_ab, confidence, level))
    lo = min(float(g.min()) for gs in results.scores.values() for g in gs)
    hi = max(float(g.max()) for gs in results.scores.values() for g in gs)
    taus = np.linspace(lo, hi, n_taus)
    profiles = {}
    for m, groups in good.items():
        p = performance_profile(groups, sign * taus, rng=rng, n_boot=n_boot, confidence=level)
        profiles[m] = Profile(taus, p.fraction, p.low, p.high)
    return Comparison(
        results, metric, target, n_boot, confidence, aggregates, ranking, p_imp, verdicts,
        profiles, _seed_spread(results, aggregates, metric), level,
    )  # fmt: skip


_LABEL = {"iqm": "IQM", "mean": "mean", "median": "median", "optimality_gap": "optimality gap"}


def _verdict(
    results: Results,
    a: str,
    b: str,
    metric: str,
    d: Interval,
    p: Interval,
    confidence: float,
    level: float,
) -> PairVerdict:
    seeds = min(results.n_seeds(a)[0], results.n_seeds(b)[0])
    label = _LABEL[metric]
    pct = f"{confidence:.0%}"
    pi = f"P({a} beats {b}) = {p.format(2)}"
    separated = d.low > 0 or d.high < 0
    needed = None
    if separated:
        text = (
            f"{a} beats {b}: its {label} is better by {d.format(3)} ({pct} interval excludes 0); "
            f"{pi}."
        )
    elif d.estimate == 0:
        text = f"{a} and {b} cannot be separated: their {label}s are equal at {seeds} seeds; {pi}."
    else:
        needed = seeds_to_separate(seeds, d.estimate, d.low, d.high, level)
        more = (
            f"about {needed} seeds per task would separate a difference of this size (80% chance)"
            if needed is not None and needed <= 1000
            else "the difference is too small against the seed-to-seed spread for any "
            "practical number of seeds to separate it"
        )
        text = (
            f"{a} and {b} cannot be separated at {seeds} seeds: the {label} difference "
            f"{d.format(3)} includes 0; {pi}; {more}."
        )
    return PairVerdict(a, b, metric, d, p, separated, seeds, needed, text)


def _seed_spread(
    results: Results, aggregates: dict[str, dict[str, Interval]], metric: str
) -> dict[str, dict[str, float]]:
    """Per method: the seed-to-seed standard deviation (median over tasks), the range of seed
    scores (median over tasks), and the largest and smallest gap to another method's aggregate."""
    out = {}
    for m, groups in results.scores.items():
        sd = float(np.median([np.std(g, ddof=1) for g in groups]))
        rng_ = float(np.median([np.ptp(g) for g in groups]))
        gaps = [
            abs(aggregates[m][metric].estimate - aggregates[o][metric].estimate)
            for o in results.methods
            if o != m
        ]
        out[m] = {
            "seeds": float(results.n_seeds(m)[0]),
            "seed_sd": sd,
            "seed_range": rng_,
            "nearest_gap": float(min(gaps)),
            "largest_gap": float(max(gaps)),
        }
    return out
