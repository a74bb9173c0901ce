"""``curvecast bench scaling``: fit below a compute cutoff, predict the held-out runs above it.

Protocols, one per public sweep (:mod:`curvecast.scaling.sources`); each law is fitted per group
(data set, setting) on the runs at or below the cutoff and scored on the runs above it:

==============  ==============================================================================
``gadre``       mlfoundations, Gadre et al.'s own split: fit on their 5 runs per data set
                (0.011B-0.411B at M=20, 0.011B at M=320); predict the over-trained 1.4B run
                (M=640 on RedPajama, 320 on RefinedWeb, 80 on C4) and 6.9B at M=20 (C4 eval
                loss). Paper procedure: their law and ``curve_fit`` restarts.
                ``gadre_err17``: the 17-task top-1 error of the same targets, chained from the
                loss their law predicts (fit on the 5 runs plus 1.4B at M=20, as they do).
``mlf_cutoff``  mlfoundations, every run with C <= 1e20 fitted, every run above predicted.
``formll``      Porian et al.'s iso-FLOP sweeps: budgets <= 2e18 fitted (8 budgets), the
                compute-optimal loss L* and size N* of each larger budget predicted (truth: the
                authors' per-budget optimum). Paper procedure: their power law through the
                per-budget optima and their saturating loss fit.
``scan_llm``    ScAn-Bench LLM, its own split: runs below 1e20 FLOPs fitted, runs above predicted;
                ``chinchilla_curves`` fits every checkpoint of the fitted runs, not only the last.
``scan_vlm``    ScAn-Bench OpenCLIP: runs with C <= 3e17 fitted, runs above predicted.
``obsscaling``  Ruan et al.'s public models, loss = mean error on six benchmarks: models with
                C <= 1e23 fitted, larger ones predicted.
==============  ==============================================================================

Metrics per (protocol, method): mean relative error of the point prediction on the largest
held-out runs (C within 3x of the largest) and on all held-out runs, the share of held-out runs
inside the 90% predictive interval (``coverage``), and for ``formll`` the mean absolute log10
error of the predicted N*. Methods: ``chinchilla`` (ours: Huber-on-log, restarts, bootstrap over
runs), ``overtraining`` (ours, Gadre's form), ``compute`` (ours, approach 2, frontier only),
``hoffmann`` (Hoffmann et al.'s approach 3 as published: the same fit without a bootstrap, so no
interval), ``loglinear`` (a straight line of log loss in log C, with its OLS interval) and each
paper's own procedure (``gadre``, ``porian``).
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import OptimizeWarning, curve_fit

from curvecast.exceptions import CurvecastError, InvalidParameterError
from curvecast.scaling import (
    ChinchillaLaw,
    ComputeLaw,
    DownstreamLaw,
    LogLinearLaw,
    OvertrainingLaw,
    Sweep,
)
from curvecast.scaling.sources import load_public_sweep, with_checkpoints

__all__ = [
    "PROTOCOLS",
    "ScalingBenchConfig",
    "ScalingBenchResult",
    "ScalingRow",
    "run_scaling_bench",
    "time_fit",
    "write_scaling_report",
]

PROTOCOLS = ("gadre", "mlf_cutoff", "formll", "scan_llm", "scan_vlm", "obsscaling")
_SOURCE = {
    "gadre": "mlfoundations",
    "mlf_cutoff": "mlfoundations",
    "formll": "formll",
    "scan_llm": "scan_llm",
    "scan_vlm": "scan_vlm",
    "obsscaling": "obsscaling",
}
_CUTOFF = {
    "mlf_cutoff": 1e20,
    "formll": 2e18,
    "scan_llm": 1e20,
    "scan_vlm": 3e17,
    "obsscaling": 1e23,
}
LEVEL = 0.9


@dataclass(frozen=True)
class ScalingBenchConfig:
    """What to run: protocols (see :data:`PROTOCOLS`), data folder, bootstrap size, seed."""

    protocols: tuple[str, ...] = PROTOCOLS
    data_dir: str | None = None
    n_bootstrap: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        bad = [p for p in self.protocols if p not in PROTOCOLS]
        if bad or not self.protocols:
            raise InvalidParameterError(
                f"The 'protocols' of bench scaling must be among {', '.join(PROTOCOLS)}. "
                f"Got {list(self.protocols)} instead."
            )


@dataclass
class ScalingRow:
    """One (protocol, method) result; errors are fractions, ``n_star_err`` in log10 units."""

    protocol: str
    method: str
    n_fit: int
    n_heldout: int
    rel_err_largest: float
    rel_err_mean: float
    coverage: float
    n_star_err: float
    fit_s: float
    failed: int = 0
    note: str = ""


@dataclass
class ScalingBenchResult:
    """All rows, per-target predictions (for the report's detail), and what was dropped."""

    rows: list[ScalingRow]
    targets: list[dict[str, Any]] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Paper procedures (baselines), as each paper describes them


def _gadre_law(x: NDArray, alpha: float, beta: float, b: float, E: float) -> NDArray:
    # scaling/laws.py powlaw_ours in github.com/mlfoundations/scaling; x = (N, M)
    return np.asarray(
        alpha * np.power(x[0], b) + beta * np.power(6, b / 2) * np.power(x[1] * x[0], b) + E
    )


def gadre_fit(N: NDArray, M: NDArray, L: NDArray) -> NDArray[np.float64]:
    """Gadre et al.'s fit: ``curve_fit`` from 128 starts, the lowest RMSE kept. Shape ``(4,)``."""
    best, best_res = None, np.inf
    x = np.array([N, M], dtype=np.float64)
    for p0 in product(
        [1e2, 3e2, 1e3, 3e3], [1e2, 3e2, 1e3, 3e3], [-1e-1, -3e-1], [0.0, 1.0, 2.0, 10.0]
    ):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                popt, _ = curve_fit(_gadre_law, x, L, p0=list(p0), maxfev=10000)
        except (RuntimeError, ValueError, OptimizeWarning):
            continue
        r = L - _gadre_law(x, *popt)
        res = float(np.sqrt(np.sum(r**2) / max(r.size - 2, 1)))
        if np.isfinite(res) and res < best_res:
            best, best_res = popt, res
    if best is None:
        raise InvalidParameterError("Gadre et al.'s fit did not converge from any start.")
    return np.asarray(best, dtype=np.float64)


def porian_fit(C: NDArray, Nstar: NDArray, Lstar: NDArray) -> tuple[NDArray, NDArray]:
    """Porian et al.'s fits: log-linear N*(C), and ``logaddexp(a - alpha log C, e)`` for L*.

    Returns ``(k, a)`` with ``log N* = k + a log C``, and ``(a, e, alpha)``.
    """
    slope, icpt = np.polyfit(np.log(C), np.log(Nstar), 1)

    def model(F: NDArray, a: float, e: float, alpha: float) -> NDArray:
        return np.asarray(np.logaddexp(a - alpha * np.log(F), e))

    def huber_obj(p: NDArray) -> float:
        r = model(C, *p) - np.log(Lstar)
        d = 1e-3
        return float(np.sum(np.where(np.abs(r) <= d, 0.5 * r * r, d * (np.abs(r) - 0.5 * d))))

    best, best_val = None, np.inf
    for alpha, e, a in product(
        np.arange(0, 0.4, 0.1), np.arange(-1, 1.5, 0.5), np.arange(0, 30, 5)
    ):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                popt, _ = curve_fit(
                    model,
                    C,
                    np.log(Lstar),
                    p0=[a, e, alpha],
                    method="trf",
                    ftol=1e-6,
                    xtol=1e-6,
                    max_nfev=100,
                )
        except (RuntimeError, ValueError):
            continue
        v = huber_obj(popt)
        if v < best_val:
            best, best_val = popt, v
    if best is None:
        raise InvalidParameterError("Porian et al.'s loss fit did not converge from any start.")
    return np.array([icpt, slope]), np.asarray(best, dtype=np.float64)


# ---------------------------------------------------------------------------------------------


@dataclass
class _Pred:
    point: NDArray[np.float64]
    lo: NDArray[np.float64]
    hi: NDArray[np.float64]
    n_star: NDArray[np.float64] | None = None


#: (compute per target (m,), the prediction, the true N* per target (m,) or None)
_Triple = tuple[NDArray[np.float64], _Pred, NDArray[np.float64] | None]


def _nan(m: int) -> NDArray[np.float64]:
    return np.full(m, np.nan)


def _law_runs(law_factory: Callable[[], Any], fit: Sweep, held: Sweep, seed: int) -> _Pred:
    law = law_factory().fit(fit, rng=seed)
    fc = law.predict(N=held.N, D=held.D)
    lo, hi = fc.interval(LEVEL)
    if getattr(law, "n_bootstrap", 1) == 0:
        lo, hi = _nan(len(held)), _nan(len(held))
    return _Pred(fc.point, lo, hi)


def _methods_runs(n_boot: int) -> dict[str, Callable[[Sweep, Sweep, int], _Pred]]:
    return {
        "chinchilla": lambda f, h, s: _law_runs(lambda: ChinchillaLaw(n_bootstrap=n_boot), f, h, s),
        "overtraining": lambda f, h, s: _law_runs(
            lambda: OvertrainingLaw(n_bootstrap=n_boot), f, h, s
        ),
        "hoffmann": lambda f, h, s: _law_runs(lambda: ChinchillaLaw(n_bootstrap=0), f, h, s),
        "loglinear": lambda f, h, s: _law_runs(LogLinearLaw, f, h, s),
    }


def _score(
    rows: list[ScalingRow],
    targets: list[dict[str, Any]],
    protocol: str,
    method: str,
    truth: NDArray,
    preds: list[_Triple],
    n_fit: int,
    fit_s: float,
    failed: int,
    note: str = "",
    names: list[str] | None = None,
) -> None:
    """Pool per-group predictions and append one row. ``preds``: (C, _Pred, N* truth)."""
    if not preds:
        rows.append(
            ScalingRow(
                protocol,
                method,
                n_fit,
                0,
                np.nan,
                np.nan,
                np.nan,
                np.nan,
                fit_s,
                failed,
                note or "no group could be fitted",
            )
        )
        return
    C = np.concatenate([p[0] for p in preds])
    point = np.concatenate([p[1].point for p in preds])
    lo = np.concatenate([p[1].lo for p in preds])
    hi = np.concatenate([p[1].hi for p in preds])
    rel = np.abs(point - truth) / truth
    largest = C >= C.max() / 3
    cov = float(np.mean((truth >= lo) & (truth <= hi))) if np.all(np.isfinite(lo)) else np.nan
    nerr = np.nan
    ns = [(p[1].n_star, p[2]) for p in preds if p[1].n_star is not None and p[2] is not None]
    if ns:
        pred_n = np.concatenate([a for a, _ in ns])
        true_n = np.concatenate([b for _, b in ns])
        nerr = float(np.mean(np.abs(np.log10(pred_n / true_n))))
    rows.append(
        ScalingRow(
            protocol,
            method,
            n_fit,
            int(truth.size),
            float(np.mean(rel[largest])),
            float(np.mean(rel)),
            cov,
            nerr,
            fit_s,
            failed,
            note,
        )
    )
    for i in range(truth.size):
        targets.append(
            {
                "protocol": protocol,
                "method": method,
                "name": (names or [""] * truth.size)[i],
                "C": float(C[i]),
                "truth": float(truth[i]),
                "point": float(point[i]),
                "lo": float(lo[i]),
                "hi": float(hi[i]),
            }
        )


def _run_cutoff(
    protocol: str,
    sweep: Sweep,
    cutoff: float,
    cfg: ScalingBenchConfig,
    rows: list[ScalingRow],
    targets: list[dict[str, Any]],
    progress: Callable[[str], None],
    extra_methods: dict[str, Callable[[Sweep, Sweep, int], _Pred]] | None = None,
) -> None:
    methods = {**_methods_runs(cfg.n_bootstrap), **(extra_methods or {})}
    fit_all = sweep.select(sweep.C <= cutoff)
    held_all = sweep.select(sweep.C > cutoff)
    for method, fn in methods.items():
        t0 = time.process_time()
        preds: list[_Triple] = []
        truths: list[NDArray[np.float64]] = []
        names: list[str] = []
        failed, notes = 0, []
        for group, fit in fit_all.by_group().items():
            in_group = np.asarray(held_all.group) == group
            if not in_group.any():
                continue
            held = held_all.select(in_group)
            try:
                pred = fn(fit, held, cfg.seed)
            except CurvecastError as exc:
                failed += 1
                notes.append(f"{group or 'all'}: {exc}")
                continue
            preds.append((held.C, pred, None))
            truths.append(held.loss)
            names.extend(held.name)
        fit_s = time.process_time() - t0
        truth = np.concatenate(truths) if truths else np.empty(0)
        _score(
            rows,
            targets,
            protocol,
            method,
            truth,
            preds,
            len(fit_all),
            fit_s,
            failed,
            "; ".join(notes)[:300],
            names,
        )
        progress(f"{protocol}: {method} done in {fit_s:.1f} s CPU")


def _gadre_split(sweep: Sweep) -> tuple[dict[str, Sweep], dict[str, Sweep]]:
    small = {10569312.0, 78914048.0, 153677376.0, 411616256.0}
    mult = np.asarray(sweep.extra["cc_mult"])
    fit_mask = (np.isin(sweep.N, list(small)) & (mult == 1.0)) | (
        (sweep.N == 10569312.0) & (mult == 16.0)
    )
    target_mask = ((sweep.N == 1439795200.0) & (mult > 1.0)) | (
        (sweep.N == 6889410560.0) & (mult == 1.0)
    )
    fits = sweep.select(fit_mask).by_group()
    targets = sweep.select(target_mask).by_group()
    return fits, targets


def _run_gadre(
    sweep: Sweep,
    cfg: ScalingBenchConfig,
    rows: list[ScalingRow],
    targets: list[dict[str, Any]],
    progress: Callable[[str], None],
) -> None:
    fits, tgts = _gadre_split(sweep)
    mult = {n: m for n, m in zip(sweep.name, sweep.extra["cc_mult"], strict=True)}

    def gadre(fit: Sweep, held: Sweep, seed: int) -> _Pred:
        m_fit = np.array([mult[n] * 20 for n in fit.name])
        m_held = np.array([mult[n] * 20 for n in held.name])
        p = gadre_fit(fit.N, m_fit, fit.loss)
        point = _gadre_law(np.array([held.N, m_held]), *p)
        return _Pred(point, _nan(len(held)), _nan(len(held)))

    methods = {
        "overtraining": lambda f, h, s: _law_runs(
            lambda: OvertrainingLaw(n_bootstrap=cfg.n_bootstrap), f, h, s
        ),
        "overtraining_sizes": lambda f, h, s: _law_runs(
            lambda: OvertrainingLaw(n_bootstrap=cfg.n_bootstrap, resample="sizes"), f, h, s
        ),
        "gadre": gadre,
        "loglinear": lambda f, h, s: _law_runs(LogLinearLaw, f, h, s),
    }
    for method, fn in methods.items():
        t0 = time.process_time()
        preds: list[_Triple] = []
        truths: list[NDArray[np.float64]] = []
        names: list[str] = []
        failed, notes = 0, []
        for group, fit in fits.items():
            held = tgts[group]
            try:
                pred = fn(fit, held, cfg.seed)
            except CurvecastError as exc:
                failed += 1
                notes.append(f"{group}: {exc}")
                continue
            preds.append((held.C, pred, None))
            truths.append(held.loss)
            names.extend(f"{group}:{n}" for n in held.name)
        truth = np.concatenate(truths) if truths else np.empty(0)
        n_fit = sum(len(f) for f in fits.values())
        _score(
            rows,
            targets,
            "gadre",
            method,
            truth,
            preds,
            n_fit,
            time.process_time() - t0,
            failed,
            "; ".join(notes)[:300],
            names,
        )
        progress(f"gadre: {method} done")
    _run_gadre_downstream(sweep, cfg, rows, targets)


def _run_gadre_downstream(
    sweep: Sweep, cfg: ScalingBenchConfig, rows: list[ScalingRow], targets: list[dict[str, Any]]
) -> None:
    """Top-1 error on the 17-task split, chained from the predicted loss, as Gadre et al."""
    fits, tgts = _gadre_split(sweep)
    one_b = sweep.select((sweep.N == 1439795200.0) & (np.asarray(sweep.extra["cc_mult"]) == 1.0))
    mult = {n: m for n, m in zip(sweep.name, sweep.extra["cc_mult"], strict=True)}
    for method in ("downstream", "gadre_downstream"):
        t0 = time.process_time()
        preds: list[_Triple] = []
        truths: list[NDArray[np.float64]] = []
        names: list[str] = []
        for group, fit in fits.items():
            held = tgts[group]
            err_fit = fit.select(np.ones(len(fit), dtype=bool))
            extra_b = one_b.select(np.asarray(one_b.group) == group)
            err_set = Sweep(
                N=np.r_[err_fit.N, extra_b.N],
                D=np.r_[err_fit.D, extra_b.D],
                loss=np.r_[err_fit.loss, extra_b.loss],
                extra={
                    "err": np.r_[err_fit.extra["err_avg_subset"], extra_b.extra["err_avg_subset"]]
                },
            )
            m_fit = np.array([mult[n] * 20 for n in fit.name])
            m_held = np.array([mult[n] * 20 for n in held.name])
            loss_pred = _gadre_law(np.array([held.N, m_held]), *gadre_fit(fit.N, m_fit, fit.loss))
            if method == "downstream":
                law = DownstreamLaw(target="err", n_bootstrap=cfg.n_bootstrap).fit(
                    err_set, rng=cfg.seed
                )
                fc = law.predict(loss=loss_pred)
                lo, hi = fc.interval(LEVEL)
                pred = _Pred(fc.point, lo, hi)
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    popt, _ = curve_fit(
                        lambda t, a, b, E: E - a * np.exp(-b * t),
                        err_set.loss,
                        err_set.extra["err"],
                        maxfev=10000,
                    )
                pt = popt[2] - popt[0] * np.exp(-popt[1] * loss_pred)
                pred = _Pred(pt, _nan(pt.size), _nan(pt.size))
            preds.append((held.C, pred, None))
            truths.append(held.extra["err_avg_subset"])
            names.extend(f"{group}:{n}" for n in held.name)
        _score(
            rows,
            targets,
            "gadre_err17",
            method,
            np.concatenate(truths),
            preds,
            sum(len(f) + 1 for f in fits.values()),
            time.process_time() - t0,
            0,
            "17-task top-1 error, from the loss predicted by Gadre et al.'s law",
            names,
        )


def _run_formll(
    sweep: Sweep,
    optimal: list[dict[str, Any]],
    cfg: ScalingBenchConfig,
    rows: list[ScalingRow],
    targets: list[dict[str, Any]],
    progress: Callable[[str], None],
) -> None:
    cutoff = _CUTOFF["formll"]
    groups = sweep.by_group()
    opt_by_group: dict[str, list[dict[str, Any]]] = {}
    for o in optimal:
        opt_by_group.setdefault(o["group"], []).append(o)

    def chin(fit: Sweep, C: NDArray, opt_fit: list[dict[str, Any]], seed: int) -> _Pred:
        law = ChinchillaLaw(n_bootstrap=cfg.n_bootstrap).fit(fit, rng=seed)
        split = law.optimal(C, levels=(0.5 - LEVEL / 2, 0.5 + LEVEL / 2))
        return _Pred(split.loss, split.loss_quantiles[0], split.loss_quantiles[1], split.N)

    def hoff(fit: Sweep, C: NDArray, opt_fit: list[dict[str, Any]], seed: int) -> _Pred:
        law = ChinchillaLaw(n_bootstrap=0).fit(fit, rng=seed)
        split = law.optimal(C)
        return _Pred(split.loss, _nan(C.size), _nan(C.size), split.N)

    def comp(fit: Sweep, C: NDArray, opt_fit: list[dict[str, Any]], seed: int) -> _Pred:
        law = ComputeLaw(n_bootstrap=cfg.n_bootstrap).fit(fit, rng=seed)
        split = law.optimal(C, levels=(0.5 - LEVEL / 2, 0.5 + LEVEL / 2))
        return _Pred(split.loss, split.loss_quantiles[0], split.loss_quantiles[1], split.N)

    def loglin(fit: Sweep, C: NDArray, opt_fit: list[dict[str, Any]], seed: int) -> _Pred:
        c, n, lo = (np.array([o[k] for o in opt_fit]) for k in ("flops", "n", "loss"))
        front = Sweep(N=n, D=c / (6 * n), C=c, loss=lo)
        fc = LogLinearLaw().fit(front).predict(C=C)
        a, b = fc.interval(LEVEL)
        slope, icpt = np.polyfit(np.log(c), np.log(n), 1)
        return _Pred(fc.point, a, b, np.exp(icpt + slope * np.log(C)))

    def porian(fit: Sweep, C: NDArray, opt_fit: list[dict[str, Any]], seed: int) -> _Pred:
        c, n, lo = (np.array([o[k] for o in opt_fit]) for k in ("flops", "n", "loss"))
        (k, a), (aa, e, alpha) = porian_fit(c, n, lo)
        point = np.exp(np.logaddexp(aa - alpha * np.log(C), e))
        return _Pred(point, _nan(C.size), _nan(C.size), np.exp(k + a * np.log(C)))

    methods = {
        "chinchilla": chin,
        "compute": comp,
        "hoffmann": hoff,
        "loglinear": loglin,
        "porian": porian,
    }
    for method, fn in methods.items():
        t0 = time.process_time()
        preds: list[_Triple] = []
        truths: list[NDArray[np.float64]] = []
        names: list[str] = []
        failed, notes = 0, []
        n_fit = 0
        for group, gs in groups.items():
            opts = sorted(opt_by_group.get(group, []), key=lambda o: o["flops"])
            opt_fit = [o for o in opts if o["flops"] <= cutoff]
            opt_held = [o for o in opts if o["flops"] > cutoff]
            if not opt_held or len(opt_fit) < 4:
                continue
            fit = gs.select(gs.C <= cutoff)
            n_fit += len(fit)
            C = np.array([o["flops"] for o in opt_held])
            try:
                pred = fn(fit, C, opt_fit, cfg.seed)
            except CurvecastError as exc:
                failed += 1
                notes.append(f"{group}: {exc}")
                continue
            preds.append((C, pred, np.array([o["n"] for o in opt_held])))
            truths.append(np.array([o["loss"] for o in opt_held]))
            names.extend(f"{group}@{c:.3g}" for c in C)
        truth = np.concatenate(truths) if truths else np.empty(0)
        _score(
            rows,
            targets,
            "formll",
            method,
            truth,
            preds,
            n_fit,
            time.process_time() - t0,
            failed,
            "; ".join(notes)[:300],
            names,
        )
        progress(f"formll: {method} done")


def _curves_method(
    curves: dict[str, tuple[NDArray, NDArray]], n_boot: int
) -> Callable[[Sweep, Sweep, int], _Pred]:
    """Chinchilla fitted to every checkpoint of the fitted runs (see ``with_checkpoints``)."""

    def fn(fit: Sweep, held: Sweep, seed: int) -> _Pred:
        return _law_runs(
            lambda: ChinchillaLaw(n_bootstrap=n_boot), with_checkpoints(fit, curves), held, seed
        )

    return fn


def run_scaling_bench(
    config: ScalingBenchConfig, progress: Callable[[str], None] | None = None
) -> ScalingBenchResult:
    """Run every protocol of ``config``; see the module docstring.

    Raises:
        DataSourceError: a sweep's files are missing under ``data_dir`` or cannot be fetched.
    """
    say = progress or (lambda _m: None)
    rows: list[ScalingRow] = []
    targets: list[dict[str, Any]] = []
    dropped: dict[str, int] = {}
    loaded: dict[str, Any] = {}
    for protocol in config.protocols:
        src = _SOURCE[protocol]
        if src not in loaded:
            loaded[src] = load_public_sweep(src, data_dir=config.data_dir)
            dropped[src] = loaded[src].dropped
        pub = loaded[src]
        say(f"{protocol}: {len(pub.sweep)} runs ({pub.dropped} dropped: diverged or unfinished)")
        if protocol == "gadre":
            _run_gadre(pub.sweep, config, rows, targets, say)
        elif protocol == "formll":
            _run_formll(pub.sweep, pub.tables["optimal"], config, rows, targets, say)
        else:
            sweep = pub.sweep
            if protocol == "obsscaling":  # one law across families, as Ruan et al. pool them
                sweep = Sweep(N=sweep.N, D=sweep.D, C=sweep.C, loss=sweep.loss, name=sweep.name)
            extra = (
                {"chinchilla_curves": _curves_method(pub.tables["curves"], config.n_bootstrap)}
                if protocol == "scan_llm"
                else None
            )
            _run_cutoff(protocol, sweep, _CUTOFF[protocol], config, rows, targets, say, extra)
    return ScalingBenchResult(rows, targets, dropped, asdict(config))


def time_fit(
    n_runs: int = 200, *, n_bootstrap: int = 200, repeats: int = 3, seed: int = 0
) -> dict[str, float]:
    """Seconds to fit ChinchillaLaw with its bootstrap on ``n_runs`` synthetic runs.

    The runs are drawn from Hoffmann et al.'s fitted law (N 1e7-1e9, 5-200 tokens per
    parameter, 2% noise). Returns the median wall and CPU seconds over ``repeats`` fits. Run it
    under ``taskset -c 0`` for the one-core figure.
    """
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e9), n_runs))
    D = N * np.exp(rng.uniform(np.log(5), np.log(200), n_runs))
    loss = (1.69 + 406.4 / N**0.34 + 410.7 / D**0.28) * np.exp(rng.normal(0, 0.02, n_runs))
    sweep = Sweep(N=N, D=D, loss=loss)
    walls, cpus = [], []
    for r in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        ChinchillaLaw(n_bootstrap=n_bootstrap).fit(sweep, rng=seed + r)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return {
        "n_runs": n_runs,
        "n_bootstrap": n_bootstrap,
        "wall_s": float(np.median(walls)),
        "cpu_s": float(np.median(cpus)),
    }


def _fmt(v: float, pct: bool = True) -> str:
    if not np.isfinite(v):
        return "n/a"
    return f"{100 * v:.2f}%" if pct else f"{v:.3f}"


def format_table(result: ScalingBenchResult) -> str:
    """The results as a Markdown table."""
    head = (
        "| protocol | method | fit runs | held-out | rel. err. largest | rel. err. all | "
        "90% coverage | N* err (log10) | fit CPU s |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in result.rows:
        lines.append(
            f"| {r.protocol} | {r.method} | {r.n_fit} | {r.n_heldout} | "
            f"{_fmt(r.rel_err_largest)} | {_fmt(r.rel_err_mean)} | {_fmt(r.coverage)} | "
            f"{_fmt(r.n_star_err, pct=False)} | {r.fit_s:.1f} |"
            + (f" failed {r.failed}" if r.failed else "")
        )
    return head + "\n".join(lines) + "\n"


def write_scaling_report(
    result: ScalingBenchResult, out: Path, *, command_line: str = ""
) -> tuple[str, dict[str, Path]]:
    """Write ``report.md`` and ``results.json`` under ``out``; return the table and the paths."""
    out.mkdir(parents=True, exist_ok=True)
    table = format_table(result)
    cov_rows = [r for r in result.rows if np.isfinite(r.coverage) and r.method == "chinchilla"]
    md = ["# curvecast bench scaling", ""]
    if command_line:
        md += [f"Command: `{command_line}`", ""]
    md += [table, f"Runs dropped (diverged or unfinished): {result.dropped}", ""]
    if cov_rows:
        md.append(
            "Chinchilla 90% coverage per protocol: "
            + ", ".join(f"{r.protocol} {100 * r.coverage:.0f}%" for r in cov_rows)
        )
    paths = {"report": out / "report.md", "results": out / "results.json"}
    paths["report"].write_text("\n".join(md) + "\n", encoding="utf-8")
    payload = {
        "config": result.config,
        "dropped": result.dropped,
        "rows": [asdict(r) for r in result.rows],
        "targets": result.targets,
    }
    paths["results"].write_text(json.dumps(payload, indent=1, default=float), encoding="utf-8")
    return table, paths
