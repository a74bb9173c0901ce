"""The forecast benchmark: cut every curve at several fractions, forecast the rest, score it.

Protocol (``curvecast bench forecast``):

- Each curve of ``n`` points is observed up to ``floor(f * n)`` points for every cutoff fraction
  ``f`` (at least 1, at most ``n - 1``); every remaining point is forecast through the front door,
  :func:`curvecast.forecast_curve`, so a prefix that diverged is answered as diverged. Curves with
  fewer than 2 points cannot be cut and are counted as "too short".
- A curve whose full run diverged (its true final value is NaN, inf or beyond 1e12) is still
  forecast and timed, but it has no finite truth: it is counted in the "diverged" column and left
  out of every score. Nothing is dropped silently.
- Context: with ``context=K > 0`` every method is offered up to K other curves of the same task,
  fully observed (the completed trials of a search); methods that cannot use them ignore them.
  With ``K = 0`` (the default) no method sees other curves.
- Randomness: one Generator per (seed, curve, cutoff, method), derived with ``SeedSequence``, so
  results do not depend on ``--jobs`` or on which methods run.
- A method that raises on a curve gets an ``error`` row (counted as "failed"), not a crash.
"""

from __future__ import annotations

import functools
import importlib
import math
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curvecast.bench.metrics import abs_error, covered, crps_quantiles, log_likelihood
from curvecast.curves import Curve
from curvecast.exceptions import DataSourceError, UnknownMethodError
from curvecast.forecast import forecast_curve, get_forecaster

__all__ = [
    "DEFAULT_CUTOFFS",
    "DEFAULT_METHODS",
    "FIXTURE_SUITE",
    "BenchConfig",
    "BenchResult",
    "check_methods",
    "cutoff_index",
    "evaluate_curve",
    "fixture_curves",
    "load_curves",
    "run_forecast_bench",
    "stratified_subset",
]

DEFAULT_METHODS: tuple[str, ...] = (
    "last_value",
    "pow4",
    "mmf4",
    "parametric",
    "domhan_mcmc",
    "lcpfn",
    "pfn",
)
DEFAULT_CUTOFFS: tuple[float, ...] = (0.1, 0.2, 0.4, 0.6, 0.8)
#: Methods that ``--mcmc-limit`` restricts to a stratified subset of curves.
SLOW_METHODS: tuple[str, ...] = ("domhan_mcmc",)
#: The built-in synthetic suite that CI runs; needs no data.
FIXTURE_SUITE = "fixture"
#: How many curves per suite keep their full forecast bands for the example plots.
N_EXAMPLES = 3

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchConfig:
    """What one ``bench forecast`` run does; see :func:`run_forecast_bench`."""

    suites: tuple[str, ...]
    methods: tuple[str, ...] = DEFAULT_METHODS
    cutoffs: tuple[float, ...] = DEFAULT_CUTOFFS
    seed: int = 0
    limit: int | None = None
    data_dir: Path | None = None
    mcmc_limit: int | None = None
    jobs: int = 1
    n_boot: int = 2000
    context: int = 0
    tasks: int | None = None


@dataclass
class BenchResult:
    """Everything one run produced.

    Attributes:
        config: the run's settings.
        methods: the methods that ran; ``skipped`` maps each other requested method to why.
        rows: one dict per (curve, cutoff, method); see :func:`evaluate_curve`.
        suites: per suite, ``n_curves``, ``n_tasks``, ``too_short``, ``metric``, ``axis``,
            ``direction`` and ``subsets`` (method -> curve ids it ran on, for methods limited by
            ``--mcmc-limit``).
        examples: a few curves per suite with each method's 5/50/95% path at one cutoff.
        seconds: wall time of the run.
    """

    config: BenchConfig
    methods: tuple[str, ...]
    skipped: dict[str, str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    suites: dict[str, dict[str, Any]] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def fixture_curves(seed: int = 0) -> list[Curve]:
    """A tiny synthetic suite that looks like real accuracy curves, for CI and smoke runs.

    Three tasks of five configurations: saturating power laws with noise on a linear epoch axis
    (20 points), on an LCDB-like sample-size axis (14 points, 16 * sqrt(2)^k) and one that rises
    then overfits. Two curves diverge (NaN): one late (its true final is not finite) and one at its
    second point (every prefix of at least 2 points diverged).

    Returns:
        15 curves, maximise, bounds (0, 1), with meta suite/task/config/axis/metric.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xF1C]))
    curves: list[Curve] = []
    axes = {
        "fixture-epochs": (np.arange(1.0, 21.0), "epoch"),
        "fixture-samples": (np.round(16 * np.sqrt(2.0) ** np.arange(14)), "train_size"),
        "fixture-overfit": (np.arange(1.0, 21.0), "epoch"),
    }
    for t, (task, (x, axis)) in enumerate(axes.items()):
        xs = x / x[0]
        for c in range(5):
            top = rng.uniform(0.6, 0.95)
            start = rng.uniform(0.1, 0.45)
            rate = rng.uniform(0.3, 1.2)
            y = top - (top - start) * xs ** (-rate)
            if task == "fixture-overfit":
                y = y - rng.uniform(0.0, 0.004) * (xs - 1)
            y = np.clip(y + rng.normal(0.0, rng.uniform(0.003, 0.012), size=x.size), 0.0, 1.0)
            if t == 2 and c == 3:
                y[14:] = np.nan  # diverges late: the true final is not finite
            if t == 0 and c == 4:
                y[1:] = np.nan  # diverges at once: every prefix of >= 2 points diverged
            meta = {
                "suite": FIXTURE_SUITE,
                "task": task,
                "config": f"cfg{c}",
                "axis": axis,
                "metric": "accuracy",
            }
            curves.append(Curve(x, y, direction="maximize", bounds=(0.0, 1.0), meta=meta))
    return curves


def load_curves(
    suite: str,
    *,
    data_dir: Path | None = None,
    limit: int | None = None,
    seed: int = 0,
    tasks: int | None = None,
) -> list[Curve]:
    """The curves of ``suite``: the built-in fixture, or :func:`curvecast.bench.sources.load_suite`.

    Raises:
        DataSourceError: the suite cannot be loaded (sources missing, data not found).
    """
    if suite == FIXTURE_SUITE:
        curves = fixture_curves(seed)
        return curves[:limit] if limit is not None else curves
    try:
        sources = importlib.import_module("curvecast.bench.sources")
    except ImportError as exc:
        raise DataSourceError(
            f"Suite {suite!r} needs curvecast.bench.sources, which failed to import ({exc}). "
            f"Use --suite {FIXTURE_SUITE} to run without data."
        ) from exc
    return list(sources.load_suite(suite, data_dir=data_dir, limit=limit, seed=seed, tasks=tasks))


def check_methods(methods: Sequence[str]) -> tuple[tuple[str, ...], dict[str, str]]:
    """Split ``methods`` into those that can run and those that cannot, with the reason.

    A method is skipped when its name is unknown, its module fails to import (it may not be
    written yet, or need an optional extra), or it fails to forecast a clean 5-point curve (a
    broken install, such as missing weights, would otherwise fill the tables with failures).
    """
    ok: list[str] = []
    skipped: dict[str, str] = {}
    smoke = Curve([1.0, 2.0, 3.0, 4.0, 5.0], [0.3, 0.45, 0.52, 0.56, 0.58], bounds=(0.0, 1.0))
    for name in methods:
        try:
            get_forecaster(name)
        except UnknownMethodError as exc:
            skipped[name] = f"unknown method ({exc})"
            continue
        except ImportError as exc:
            skipped[name] = f"not importable ({type(exc).__name__}: {exc})"
            continue
        try:
            forecast_curve(smoke, [10.0, 20.0], method=name, rng=0)
        except Exception as exc:  # a broken install (e.g. missing weights) is a skip, too
            skipped[name] = f"fails on a 5-point smoke curve ({type(exc).__name__}: {exc})"
            continue
        ok.append(name)
    return tuple(ok), skipped


def cutoff_index(n: int, fraction: float) -> int:
    """Number of observed points at a cutoff: ``floor(fraction * n)`` kept in ``[1, n - 1]``.

    Example:
        >>> cutoff_index(14, 0.1), cutoff_index(14, 0.8), cutoff_index(2, 0.8)
        (1, 11, 1)
    """
    return int(min(max(math.floor(fraction * n + 1e-9), 1), n - 1))


def stratified_subset(curves: Sequence[Curve], n: int, rng: np.random.Generator) -> list[int]:
    """Indices of ``n`` curves spread over tasks: tasks in random order, one curve each in turn.

    Returns:
        Sorted indices into ``curves``, ``min(n, len(curves))`` of them.
    """
    by_task: dict[str, list[int]] = {}
    for i, c in enumerate(curves):
        by_task.setdefault(str(c.meta.get("task", "")), []).append(i)
    queues = [list(rng.permutation(v)) for v in by_task.values()]
    queues = [queues[i] for i in rng.permutation(len(queues))]
    picked: list[int] = []
    while len(picked) < min(n, len(curves)):
        for q in queues:
            if q and len(picked) < n:
                picked.append(int(q.pop(0)))
    return sorted(picked)


@functools.cache
def _has_density(method: str) -> bool:
    """Whether a method's Forecast has a meaningful density (a method may say it does not)."""
    return bool(getattr(get_forecaster(method), "has_density", True))


def _method_key(name: str) -> int:
    return zlib.crc32(name.encode())


def evaluate_curve(
    curve: Curve,
    curve_id: int,
    methods: Sequence[str],
    cutoffs: Sequence[float],
    seed: int,
    example_cutoff: float | None = None,
    context: Sequence[Curve] = (),
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Forecast and score one curve at every cutoff with every method.

    Args:
        curve: the full curve, ``n >= 2`` points.
        curve_id: its index in the suite (part of its random seed).
        methods, cutoffs: what to run.
        seed: the run's seed.
        example_cutoff: if given, also return every method's 5/50/95% path at that cutoff.
        context: other curves of the same task, fully observed, offered to every method.

    Returns:
        ``(rows, example)``: one row per (cutoff, method) with the keys suite, task, config,
        curve, n_points, cutoff, n_obs, n_query, method, forecast_diverged, truth_diverged,
        y_final, median, q05, q25, q75, q95, crps, crps_path (mean CRPS over all forecast
        points with finite truth), abs_error, loglik, cover50, cover90, seconds, error.
    """
    meta = curve.meta
    truth_diverged = curve.diverged
    y_final = math.nan if truth_diverged else float(curve.y[-1])
    rows: list[dict[str, Any]] = []
    example: dict[str, Any] | None = None
    for ci, frac in enumerate(cutoffs):
        k = cutoff_index(curve.x.size, frac)
        observed = curve.truncate(k)
        x_new = curve.x[k:]
        keep = example_cutoff is not None and math.isclose(frac, example_cutoff)
        if keep:
            example = {
                "suite": meta.get("suite"),
                "task": meta.get("task"),
                "config": meta.get("config"),
                "curve": curve_id,
                "cutoff": frac,
                "n_obs": k,
                "x": curve.x.tolist(),
                "y": [float(v) if math.isfinite(v) else None for v in curve.y],
                "methods": {},
            }
        for method in methods:
            row: dict[str, Any] = {
                "suite": meta.get("suite"),
                "task": str(meta.get("task", "")),
                "config": str(meta.get("config", "")),
                "curve": curve_id,
                "n_points": int(curve.x.size),
                "cutoff": frac,
                "n_obs": k,
                "n_query": int(x_new.size),
                "method": method,
                "truth_diverged": truth_diverged,
                "y_final": y_final,
                "error": None,
            }
            rng = np.random.default_rng([seed, curve_id, ci, _method_key(method)])
            t0 = time.perf_counter()
            try:
                fc = forecast_curve(observed, x_new, method=method, rng=rng, context=context)
            except Exception as exc:  # a method's failure is a result, not a crash
                row.update(seconds=time.perf_counter() - t0, forecast_diverged=False)
                row["error"] = f"{type(exc).__name__}: {exc}"
                rows.append(_fill_nan(row))
                continue
            row["seconds"] = time.perf_counter() - t0
            row["forecast_diverged"] = fc.diverged
            q = fc.quantile([0.05, 0.25, 0.5, 0.75, 0.95])[-1]
            row.update(q05=q[0], q25=q[1], median=q[2], q75=q[3], q95=q[4])
            if truth_diverged:
                rows.append(_fill_nan(row))
            else:
                row["crps"] = float(crps_quantiles(fc.grid_values[-1], y_final))
                row["crps_path"] = float(np.mean(crps_quantiles(fc.grid_values, curve.y[k:])))
                row["abs_error"] = abs_error(fc, y_final)
                dens = _has_density(method)
                row["loglik"] = log_likelihood(fc, y_final) if dens else math.nan
                row["cover50"] = covered(fc, y_final, 0.5)
                row["cover90"] = covered(fc, y_final, 0.9)
                rows.append(_fill_nan(row))
            if keep and example is not None:
                band = fc.quantile([0.05, 0.5, 0.95])
                example["methods"][method] = {
                    "x_new": x_new.tolist(),
                    "q05": band[:, 0].tolist(),
                    "q50": band[:, 1].tolist(),
                    "q95": band[:, 2].tolist(),
                    "diverged": fc.diverged,
                }
    return rows, example


_SCORE_KEYS = (
    "median",
    "q05",
    "q25",
    "q75",
    "q95",
    "crps",
    "crps_path",
    "abs_error",
    "loglik",
    "cover50",
    "cover90",
)


def _fill_nan(row: dict[str, Any]) -> dict[str, Any]:
    for key in _SCORE_KEYS:
        row.setdefault(key, math.nan)
    return row


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_forecast_bench(config: BenchConfig, progress: Progress | None = _stderr) -> BenchResult:
    """Run the forecast benchmark; see the module docstring for the protocol.

    Args:
        config: suites, methods, cutoffs, seed, limits, jobs.
        progress: called with one line per step (default: print to stderr); None for quiet.

    Returns:
        A :class:`BenchResult`. Methods that cannot be imported are skipped and listed in
        ``skipped``; the run goes on with the others.

    Raises:
        DataSourceError: a suite cannot be loaded.
        InvalidParameterError: no requested method can run.
    """
    say = progress or (lambda _msg: None)
    t_start = time.perf_counter()
    methods, skipped = check_methods(config.methods)
    for name, why in skipped.items():
        say(f"note: skipping method {name!r}: {why}")
    if not methods:
        from curvecast.exceptions import parameter_error

        raise parameter_error(
            "methods", "bench forecast", "at least one method that can run", list(config.methods)
        )
    result = BenchResult(config=config, methods=methods, skipped=skipped)
    example_cutoff = _example_cutoff(config.cutoffs)
    for suite in config.suites:
        curves = load_curves(
            suite, data_dir=config.data_dir, limit=config.limit, seed=config.seed,
            tasks=config.tasks,
        )  # fmt: skip
        usable = [i for i, c in enumerate(curves) if c.x.size >= 2]
        info: dict[str, Any] = {
            "n_curves": len(curves),
            "too_short": len(curves) - len(usable),
            "subsets": {},
            "metric": curves[0].meta.get("metric") if curves else None,
            "axis": ", ".join(sorted({str(c.meta.get("axis", "?")) for c in curves})),
            "direction": curves[0].direction if curves else None,
            "n_tasks": len({str(c.meta.get("task", "")) for c in curves}),
        }
        per_curve_methods = {i: list(methods) for i in usable}
        if config.mcmc_limit is not None:
            sub_rng = np.random.default_rng([config.seed, 0x5B5])
            chosen = [
                usable[j]
                for j in stratified_subset([curves[i] for i in usable], config.mcmc_limit, sub_rng)
            ]
            for m in methods:
                if m in SLOW_METHODS:
                    info["subsets"][m] = chosen
                    for i in usable:
                        if i not in chosen:
                            per_curve_methods[i].remove(m)
        examples = set(_pick_examples(curves, usable))
        contexts = _task_contexts(curves, config.context, config.seed)
        result.suites[suite] = info
        say(
            f"[{suite}] {len(usable)} curves x {len(config.cutoffs)} cutoffs x "
            f"{len(methods)} methods ({info['too_short']} too short to cut)"
        )
        jobs = [
            (
                curves[i],
                i,
                per_curve_methods[i],
                config.cutoffs,
                config.seed,
                example_cutoff if i in examples else None,
                contexts[i],
            )
            for i in usable
        ]
        outputs = _run_jobs(jobs, config.jobs, suite, say)
        for rows, example in outputs:
            result.rows.extend(rows)
            if example is not None:
                result.examples.append(example)
    result.rows.sort(key=lambda r: (r["suite"], r["curve"], r["cutoff"], r["method"]))
    result.examples.sort(key=lambda e: (str(e["suite"]), e["curve"]))
    result.seconds = time.perf_counter() - t_start
    return result


_Job = tuple[Curve, int, list[str], tuple[float, ...], int, float | None, list[Curve]]


def _task_contexts(curves: Sequence[Curve], k: int, seed: int) -> list[list[Curve]]:
    """For each curve, up to ``k`` other curves of its task (seeded choice); empty if k = 0."""
    if k <= 0:
        return [[] for _ in curves]
    by_task: dict[str, list[int]] = {}
    for i, c in enumerate(curves):
        by_task.setdefault(str(c.meta.get("task", "")), []).append(i)
    out = []
    for i, c in enumerate(curves):
        others = [j for j in by_task[str(c.meta.get("task", ""))] if j != i]
        if len(others) > k:
            pick = np.random.default_rng([seed, 0xC7, i]).choice(len(others), k, replace=False)
            others = [others[p] for p in sorted(pick)]
        out.append([curves[j] for j in others])
    return out


def _run_jobs(
    jobs: list[_Job], n_jobs: int, suite: str, say: Callable[[str], None]
) -> list[tuple[list[dict[str, Any]], dict[str, Any] | None]]:
    outputs = []
    step = max(1, len(jobs) // 10)
    if n_jobs <= 1 or len(jobs) <= 1:
        for done, job in enumerate(jobs, 1):
            outputs.append(evaluate_curve(*job))
            if done % step == 0 or done == len(jobs):
                say(f"[{suite}] {done}/{len(jobs)} curves")
        return outputs
    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        futures = [pool.submit(evaluate_curve, *job) for job in jobs]
        for done, fut in enumerate(as_completed(futures), 1):
            outputs.append(fut.result())
            if done % step == 0 or done == len(jobs):
                say(f"[{suite}] {done}/{len(jobs)} curves")
    return outputs


def _example_cutoff(cutoffs: Sequence[float]) -> float:
    """The cutoff the example plots show: the one nearest 0.4."""
    return min(cutoffs, key=lambda c: abs(c - 0.4))


def _pick_examples(curves: Sequence[Curve], usable: Sequence[int]) -> list[int]:
    """Up to :data:`N_EXAMPLES` curves that did not diverge, from different tasks if possible."""
    picked: list[int] = []
    tasks: set[str] = set()
    candidates = [i for i in usable if not curves[i].diverged and curves[i].x.size >= 5]
    for i in candidates:
        task = str(curves[i].meta.get("task", ""))
        if task not in tasks and len(picked) < N_EXAMPLES:
            picked.append(i)
            tasks.add(task)
    for i in candidates:
        if i not in picked and len(picked) < N_EXAMPLES:
            picked.append(i)
    return picked
