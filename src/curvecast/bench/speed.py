"""How fast each method forecasts: single-curve latency and batched throughput on one CPU core.

``curvecast bench speed`` times, for every method:

- **latency** of one call of :func:`curvecast.forecast_curve` (the front door, method construction
  included) on a synthetic accuracy curve with 10, 100 and 1,000 observed points and 50 query
  points beyond them: p50 and p95 over ``--repeats`` calls after one warm-up call;
- **throughput** in curves per second on a batch of curves of 100 points through
  :func:`curvecast.forecast_many` (one batched forward pass for the methods that batch: ``pfn``,
  ``calibrated``; a loop over the curves for the others);
- **one pow4 fit**: a plain ``scipy.optimize.curve_fit`` of ``c - a (x + d)^-alpha`` to the
  100-point curve, the cost a practitioner pays for the simplest extrapolation; every method's
  latency and per-curve batched cost are also given as multiples of it.

Speeds are also given relative to ``domhan_mcmc`` timed in the same run (the classic MCMC
extrapolation of Domhan et al. 2015 that faster methods are measured against).

One core: the process is pinned to a single CPU with ``os.sched_setaffinity`` (Linux) while it
times, and BLAS/OpenMP pools are limited to one thread with ``threadpoolctl`` when it is
installed. Without threadpoolctl those pools keep their threads (all on the pinned core); set
``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1`` before starting Python to limit
them too. The report states what was in force.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.bench.runner import check_methods
from curvecast.curves import Curve
from curvecast.forecast import forecast_curve, get_forecaster

__all__ = [
    "DEFAULT_SIZES",
    "REFERENCE",
    "SpeedResult",
    "run_speed",
    "single_core",
    "speed_tables",
    "synthetic_curve",
]

DEFAULT_SIZES: tuple[int, ...] = (10, 100, 1000)
#: The method every speed is compared with.
REFERENCE = "domhan_mcmc"
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class SpeedResult:
    """Timings of one ``bench speed`` run.

    Attributes:
        methods: methods timed; ``skipped`` maps the others to why.
        latency: ``{method: {n_observed: {"p50": s, "p95": s, "repeats": r}}}``.
        throughput: ``{method: {"curves_per_s": v, "batched": bool, "batch": b}}``.
        threads: how the run was held to one core, in words.
        settings: sizes, n_query, repeats, batch, seed.
    """

    methods: tuple[str, ...]
    skipped: dict[str, str]
    latency: dict[str, dict[int, dict[str, float]]] = field(default_factory=dict)
    throughput: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    curve_fit_s: float | None = None


def synthetic_curve(n: int, rng: np.random.Generator) -> Curve:
    """A noisy saturating accuracy curve with ``n`` points on epochs 1..n, bounds (0, 1)."""
    x = np.arange(1.0, n + 1.0)
    top, start, rate = rng.uniform(0.7, 0.95), rng.uniform(0.1, 0.4), rng.uniform(0.3, 1.0)
    y = top - (top - start) * x ** (-rate) + rng.normal(0.0, 0.005, size=n)
    return Curve(x, np.clip(y, 0.0, 1.0), direction="maximize", bounds=(0.0, 1.0))


def _query(curve: Curve, m: int) -> NDArray[np.float64]:
    """``m`` query points beyond the curve, geometrically spaced up to 10x its last x."""
    last = float(curve.x[-1])
    return np.geomspace(last * 1.05, last * 10.0, m)


@contextlib.contextmanager
def single_core() -> Iterator[str]:
    """Hold the process to one CPU core while inside; yields what was done, in words."""
    notes: list[str] = []
    restore: Callable[[], None] = lambda: None  # noqa: E731
    sched_get = getattr(os, "sched_getaffinity", None)
    sched_set = getattr(os, "sched_setaffinity", None)
    if sched_get is not None and sched_set is not None:
        before = sched_get(0)
        cpu = min(before)
        sched_set(0, {cpu})
        notes.append(f"pinned to CPU {cpu} (os.sched_setaffinity)")

        def restore() -> None:
            sched_set(0, before)

    else:
        notes.append("not pinned (os.sched_setaffinity is not available on this platform)")
    limiter: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=1)
        notes.append("BLAS/OpenMP pools limited to 1 thread (threadpoolctl)")
    except ImportError:
        env = ", ".join(f"{v}={os.environ.get(v, 'unset')}" for v in _THREAD_VARS)
        notes.append(f"threadpoolctl not installed, BLAS/OpenMP pools as set by env ({env})")
    torch = sys.modules.get("torch")
    if torch is not None:
        before_torch = torch.get_num_threads()
        torch.set_num_threads(1)
        notes.append("torch limited to 1 thread")
    try:
        with limiter:
            yield "; ".join(notes)
    finally:
        restore()
        if torch is not None:
            torch.set_num_threads(before_torch)


def _timed_calls(fn: Callable[[], object], repeats: int, budget_s: float) -> list[float]:
    """Times of up to ``repeats`` calls of ``fn``, stopping once ``budget_s`` is spent (but
    never before 3 calls, or 1 call when ``repeats`` is 1)."""
    times: list[float] = []
    spent = 0.0
    for i in range(repeats):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
        if spent > budget_s and i + 1 >= min(3, repeats):
            break
    return times


def run_speed(
    methods: Sequence[str],
    *,
    repeats: int = 20,
    sizes: Sequence[int] = DEFAULT_SIZES,
    n_query: int = 50,
    batch: int = 32,
    seed: int = 0,
    budget_s: float = 30.0,
    progress: Callable[[str], None] | None = None,
) -> SpeedResult:
    """Time every method that can run; see the module docstring.

    Args:
        methods: names to time; those that cannot be imported are skipped with the reason.
        repeats: timed calls per (method, size) after one warm-up call.
        sizes: observed points per latency curve, shape ``(k,)``.
        n_query: query points per forecast.
        batch: curves per throughput batch.
        seed: seeds the synthetic curves and every forecast's rng.
        budget_s: a (method, size) stops repeating after this many seconds (at least 3 calls),
            so that slow methods (MCMC) do not take minutes.
        progress: called with one line per step.

    Returns:
        A :class:`SpeedResult`.
    """
    say = progress or (lambda _msg: None)
    ok, skipped = check_methods(methods)
    for name, why in skipped.items():
        say(f"note: skipping method {name!r}: {why}")
    result = SpeedResult(methods=ok, skipped=skipped)
    result.settings = {
        "sizes": list(sizes),
        "n_query": n_query,
        "repeats": repeats,
        "batch": batch,
        "seed": seed,
        "budget_s": budget_s,
    }
    gen = np.random.default_rng([seed, 0x5BEED])
    curves = {n: synthetic_curve(n, gen) for n in sizes}
    batch_curves = [synthetic_curve(100, gen) for _ in range(batch)]
    batch_x = _query(batch_curves[0], n_query)
    with single_core() as threads:
        result.threads = threads
        say(f"speed: {threads}")
        for method in ok:
            result.latency[method] = {}
            for n, curve in curves.items():
                xq = _query(curve, n_query)
                rng = np.random.default_rng([seed, n])

                def one(
                    curve: Curve = curve,
                    xq: NDArray[np.float64] = xq,
                    rng: np.random.Generator = rng,
                    method: str = method,
                ) -> object:
                    return forecast_curve(curve, xq, method=method, rng=rng)

                one()  # warm-up: imports, caches, weights
                times = np.asarray(_timed_calls(one, repeats, budget_s))
                result.latency[method][n] = {
                    "p50": float(np.percentile(times, 50)),
                    "p95": float(np.percentile(times, 95)),
                    "repeats": int(times.size),
                }
                say(f"speed: {method} n={n}: p50 {1000 * result.latency[method][n]['p50']:.3g} ms")
            result.throughput[method] = _throughput(
                method, batch_curves, batch_x, seed, max(1, repeats // 5), budget_s
            )
        if 100 in curves:
            fit_times = _timed_calls(lambda: _pow4_fit(curves[100]), max(repeats, 20), budget_s)
            result.curve_fit_s = float(np.percentile(fit_times, 50))
            say(f"speed: one pow4 curve_fit: p50 {1000 * result.curve_fit_s:.3g} ms")
    return result


def _pow4(x: NDArray[np.float64], a: float, alpha: float, c: float, d: float) -> Any:
    return c - a * (x + d) ** (-alpha)


def _pow4_fit(curve: Curve) -> object:
    """One least-squares pow4 fit with scipy, as a practitioner would write it."""
    from scipy.optimize import curve_fit

    with np.errstate(all="ignore"):
        try:
            return curve_fit(
                _pow4, curve.x, curve.y, p0=(0.5, 0.5, float(curve.y[-1]), 0.0), maxfev=2000
            )
        except RuntimeError:  # no convergence still costs what it cost
            return None


def _throughput(
    method: str,
    curves: Sequence[Curve],
    x_new: NDArray[np.float64],
    seed: int,
    repeats: int,
    budget_s: float,
) -> dict[str, Any]:
    from curvecast.forecast import forecast_many

    batched = callable(getattr(get_forecaster(method), "forecast_batch", None))

    def fn() -> object:
        return forecast_many(list(curves), x_new, method=method, rng=seed)

    fn()  # warm-up
    times = np.asarray(_timed_calls(fn, repeats, budget_s))
    return {
        "curves_per_s": float(len(curves) / np.median(times)),
        "batched": batched,
        "batch": len(curves),
        "repeats": int(times.size),
    }


def speed_tables(result: SpeedResult) -> str:
    """Markdown: latency per size and throughput, each with the speed-up over domhan_mcmc."""
    sizes = [int(s) for s in result.settings.get("sizes", DEFAULT_SIZES)]
    ref_lat = result.latency.get(REFERENCE)
    ref_thr = result.throughput.get(REFERENCE)
    lines = [
        f"Threads: {result.threads}. Latency: one forecast through curvecast.forecast_curve, "
        f"{result.settings.get('n_query')} query points, after one warm-up call. "
        f"Speed-up: {REFERENCE}'s p50 (or throughput) over the method's, same run"
        + ("" if ref_lat else f" (n/a: {REFERENCE} did not run)")
        + ".",
        "",
        "| method | "
        + " | ".join(f"n={n} p50 ms | n={n} p95 ms | n={n} speed-up" for n in sizes)
        + " | curves/s | batched | throughput speed-up | n=100 p50 / one pow4 fit | "
        "batched per curve / one pow4 fit |",
        "|" + "---|" * (1 + 3 * len(sizes) + 5),
    ]
    fit = result.curve_fit_s
    for m in result.methods:
        cells = [m]
        for n in sizes:
            lat = result.latency[m].get(n)
            if lat is None:
                cells += ["–", "–", "–"]
                continue
            cells += [f"{1000 * lat['p50']:.3g}", f"{1000 * lat['p95']:.3g}"]
            ref = ref_lat.get(n) if ref_lat else None
            cells.append(_ratio(ref["p50"] / lat["p50"]) if ref else "n/a")
        thr = result.throughput[m]
        cells += [f"{thr['curves_per_s']:.3g}", "yes" if thr["batched"] else "no (loop)"]
        cells.append(_ratio(thr["curves_per_s"] / ref_thr["curves_per_s"]) if ref_thr else "n/a")
        lat100 = result.latency[m].get(100)
        cells.append(f"{lat100['p50'] / fit:.3g}" if fit and lat100 else "n/a")
        cells.append(f"{1.0 / thr['curves_per_s'] / fit:.3g}" if fit else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    if fit:
        lines += [
            "",
            f"One pow4 fit (scipy.optimize.curve_fit on the 100-point curve): p50 "
            f"{1000 * fit:.3g} ms.",
        ]
    if result.skipped:
        lines += ["", "Skipped: " + "; ".join(f"{k} ({v})" for k, v in result.skipped.items())]
    return "\n".join(lines)


def _ratio(r: float) -> str:
    """A speed-up as "0.52x", "12.3x" or "8,470x"."""
    return f"{r:,.0f}x" if r >= 100 else f"{r:.3g}x"
