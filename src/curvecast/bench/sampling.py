"""``curvecast bench sampling``: forecast pass@k from the first m samples per problem, check it
against what the rest of 10,000 samples show (Large Language Monkeys, CodeContests).

For m = 10, 100, 1,000 and k up to 10,000 it scores :class:`~curvecast.sampling.PassAtKModel`
and three anchors (observed pass@m held flat; Brown et al.'s exponentiated power law fitted to
the observed pass@k; a beta-binomial MLE), the coverage of the 90% intervals, the gain of adaptive
allocation at 100 samples per problem, the samples needed for target coverages and the
compute-optimal choice. Two models (:data:`HELD_OUT`) were kept out of every tuning loop and
are reported apart. Beside the errors it prints :func:`exchangeability_floor`, the error at
k = 10,000 that no forecast from counts beats on average, so that a reader can tell a target the
data rule out from one the method misses.

Data: ``DIR/monkeys/code_contests_outcomes.parquet`` (see :func:`load_monkeys`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import betaln
from scipy.stats import binom

from curvecast.bench.sampling_cli import HOW_TO_GET
from curvecast.exceptions import DataSourceError, MissingDependencyError, install_hint
from curvecast.sampling import (
    PassAtKModel,
    SampleCounts,
    choose_model,
    simulate_allocation,
    unbiased_pass_at_k,
)

__all__ = [
    "HELD_OUT",
    "SamplingBenchConfig",
    "anchor_beta_binomial",
    "anchor_brown",
    "anchor_flat",
    "exchangeability_floor",
    "format_report",
    "load_monkeys",
    "run_sampling_bench",
]

#: kept out of every tuning loop (chosen before any fit was run)
HELD_OUT = ("Gemma 7B", "Llama 3 8B Instruct")
#: cost per sample in proportion to parameters (2 x params x tokens, equal tokens)
PARAMS = {
    "Gemma 2B": 2.5e9,
    "Gemma 7B": 8.5e9,
    "Llama 3 8B": 8.0e9,
    "Llama 3 8B Instruct": 8.0e9,
    "Llama 3 70B Instruct": 70e9,
}
K_EVAL = (30, 100, 300, 1000, 3000, 10000)


@dataclass(frozen=True)
class SamplingBenchConfig:
    """What ``bench sampling`` runs: the m's, the bootstrap size, the seed, the data folder."""

    ms: tuple[int, ...] = (10, 100, 1000)
    n_bootstrap: int = 200
    seed: int = 0
    data_dir: str | None = None
    targets: tuple[float, ...] = (0.1, 0.15, 0.2, 0.25, 0.3)
    allocation_budget: int = 100


def _candidates(data_dir: str | None) -> list[Path]:
    if data_dir is not None:
        d = Path(data_dir)
        return [d / "monkeys", d]
    cache = Path(os.environ.get("CURVECAST_CACHE", Path.home() / ".cache" / "curvecast"))
    return [Path("../shared/data/monkeys"), Path("shared/data/monkeys"), cache / "monkeys"]


def load_monkeys(data_dir: str | None = None) -> dict[str, NDArray[np.uint8]]:
    """Outcomes per model: shape (140 problems x 10,000 attempts) of 0/1, attempts in the order
    drawn, problems in index order.

    Raises:
        DataSourceError: the parquet file is not found (the message says where to get it).
        MissingDependencyError: pandas or pyarrow is missing.
    """
    path = next(
        (p / "code_contests_outcomes.parquet" for p in _candidates(data_dir)
         if (p / "code_contests_outcomes.parquet").is_file()),
        None,
    )  # fmt: skip
    if path is None:
        looked = ", ".join(str(p) for p in _candidates(data_dir))
        raise DataSourceError(
            f"The Large Language Monkeys outcomes (code_contests_outcomes.parquet) are not in "
            f"{looked}. {HOW_TO_GET}"
        )
    try:
        import pandas as pd
    except ImportError:
        raise MissingDependencyError(
            f"bench sampling needs pandas: {install_hint('bench')}"
        ) from None
    df = pd.read_parquet(path, columns=["Problem Idx", "Attempt Idx", "Score", "Model"])
    out: dict[str, NDArray[np.uint8]] = {}
    for model, d in df.groupby("Model", sort=True):
        d = d.sort_values(["Problem Idx", "Attempt Idx"])
        n_prob = d["Problem Idx"].nunique()
        out[str(model)] = d["Score"].to_numpy().astype(np.uint8).reshape(n_prob, -1)
    return out


# -- anchors -------------------------------------------------------------------------------------
def anchor_flat(counts: SampleCounts, ks: NDArray[np.float64]) -> NDArray[np.float64]:
    """Observed pass@m held flat beyond m."""
    m = int(counts.n.min())
    return np.asarray(unbiased_pass_at_k(counts.n, counts.c, np.minimum(ks, m)).mean(axis=0))


def anchor_brown(counts: SampleCounts, ks: NDArray[np.float64]) -> NDArray[np.float64]:
    """Brown et al. (2024): pass@k = exp(a k^b), fitted by least squares on
    log(-log pass@k) against log k over the observed k (log-spaced, 1..m)."""
    m = int(counts.n.min())
    kk = np.unique(np.round(np.logspace(0, np.log10(m), 20)))
    pk = unbiased_pass_at_k(counts.n, counts.c, kk).mean(axis=0)
    ok = (pk > 0) & (pk < 1)
    if ok.sum() < 2:
        return anchor_flat(counts, ks)
    A = np.vstack([np.ones(int(ok.sum())), np.log(kk[ok])]).T
    coef = np.linalg.lstsq(A, np.log(-np.log(pk[ok])), rcond=None)[0]
    return np.asarray(np.exp(-np.exp(coef[0] + coef[1] * np.log(ks))))


def anchor_beta_binomial(counts: SampleCounts, ks: NDArray[np.float64]) -> NDArray[np.float64]:
    """Beta-binomial MLE of the rates (Kazdan et al. 2025): pass@k = 1 - B(a, b+k)/B(a, b)."""
    n, c = counts.n.astype(float), counts.c.astype(float)

    def nll(t: NDArray[np.float64]) -> float:
        a, b = np.exp(t)
        return -float((betaln(c + a, n - c + b) - betaln(a, b)).sum())

    r = minimize(nll, [0.0, 0.0], method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-8})
    a, b = np.exp(r.x)
    return np.asarray(1.0 - np.exp(betaln(a, b + ks) - betaln(a, b)))


ANCHORS: dict[str, Callable[[SampleCounts, NDArray[np.float64]], NDArray[np.float64]]] = {
    "pass@m flat": anchor_flat,
    "Brown power law": anchor_brown,
    "beta-binomial": anchor_beta_binomial,
}


def _truth(outcomes: NDArray[np.uint8], ks: NDArray[np.float64]) -> NDArray[np.float64]:
    n = np.full(outcomes.shape[0], outcomes.shape[1])
    return np.asarray(unbiased_pass_at_k(n, outcomes.sum(axis=1), ks).mean(axis=0))


def exchangeability_floor(outcomes: NDArray[np.uint8], n: ArrayLike) -> NDArray[np.float64]:
    """Expected absolute error of pass@N (N = all samples) for a forecaster that knows the
    rate distribution exactly but, like every method here, sees only counts.

    A problem unsolved after ``n`` samples looks like every other unsolved problem, so the
    number of them solved by sample N is Binomial(U, q): no counts-only forecast can know which
    of them will be. With q plugged in from the truth (the share of the U solved by N), the
    floor is ``E|Binomial(U, q) - U q| / n_problems``.

    Args:
        outcomes: shape (``n_problems`` x ``N``) of 0/1 in the order drawn.
        n: samples drawn per problem: an int, or shape (``n_problems``,).

    Returns:
        The floor, a 0-d array.
    """
    depth = np.broadcast_to(np.asarray(n, dtype=np.int64), (outcomes.shape[0],))
    seen = np.arange(outcomes.shape[1])[None, :] < depth[:, None]
    unsolved = ~np.any(outcomes.astype(bool) & seen, axis=1)
    u = int(unsolved.sum())
    if u == 0:
        return np.asarray(0.0)
    q = float(outcomes[unsolved].any(axis=1).mean())
    j = np.arange(u + 1)
    return np.asarray(float(binom.pmf(j, u, q) @ np.abs(j - u * q)) / outcomes.shape[0])


def _stop_when_solved_depth(outcomes: NDArray[np.uint8], budget_per_problem: int) -> int:
    """Largest depth d such that sampling every problem until its first success or d samples
    costs at most ``budget_per_problem x n_problems`` (perfect early stopping, hindsight)."""
    first = np.where(outcomes.any(axis=1), outcomes.argmax(axis=1) + 1, outcomes.shape[1])
    total = budget_per_problem * outcomes.shape[0]
    d = budget_per_problem
    while d < outcomes.shape[1] and np.minimum(first, d + 1).sum() <= total:
        d += 1
    return d


def _crossing(ks: NDArray[np.float64], curve: NDArray[np.float64], target: float) -> float:
    hit = np.flatnonzero(curve >= target)
    if hit.size == 0:
        return float("inf")
    j = int(hit[0])
    if j == 0:
        return float(ks[0])
    t = (target - curve[j - 1]) / (curve[j] - curve[j - 1])
    return float(np.exp(np.log(ks[j - 1]) + t * (np.log(ks[j]) - np.log(ks[j - 1]))))


@dataclass
class SamplingBenchResult:
    """Everything the report prints (plain data; see :func:`run_sampling_bench`)."""

    errors: dict[tuple[str, str, int, int], float] = field(default_factory=dict)
    covered: dict[tuple[str, int, int], bool] = field(default_factory=dict)
    allocation: dict[str, dict[str, float]] = field(default_factory=dict)
    floor: dict[tuple[str, int], float] = field(default_factory=dict)
    backtest: list[dict[str, Any]] = field(default_factory=list)
    needed: list[dict[str, Any]] = field(default_factory=list)
    choice: list[dict[str, Any]] = field(default_factory=list)
    fit_seconds: float = float("nan")
    models: tuple[str, ...] = ()
    ms: tuple[int, ...] = ()
    n_bootstrap: int = 0


def run_sampling_bench(
    config: SamplingBenchConfig, progress: Callable[[str], None] | None = None
) -> SamplingBenchResult:
    """Run everything the report prints; returns the raw figures."""
    say = progress or (lambda _m: None)
    data = load_monkeys(config.data_dir)
    res = SamplingBenchResult(models=tuple(data), ms=config.ms, n_bootstrap=config.n_bootstrap)
    ks_all = np.array(K_EVAL, dtype=np.float64)
    dense = np.unique(np.round(np.logspace(0, 4, 200)))
    truth = {m: _truth(x, ks_all) for m, x in data.items()}
    truth_dense = {m: _truth(x, dense) for m, x in data.items()}
    fitted: dict[int, dict[str, PassAtKModel]] = {}
    for m_ in config.ms:
        fitted[m_] = {}
        for name, x in data.items():
            say(f"m={m_}: {name}")
            counts = SampleCounts.from_outcomes(x[:, :m_], model=name)
            ks = ks_all[ks_all > m_]
            res.floor[(name, m_)] = float(exchangeability_floor(x, m_))
            model = PassAtKModel(n_bootstrap=config.n_bootstrap).fit(counts, rng=config.seed)
            fitted[m_][name] = model
            fc = model.forecast(ks)
            lo, hi = fc.interval(0.9)
            t = truth[name][ks_all > m_]
            for j, k in enumerate(ks.astype(int)):
                res.errors[("curvecast", name, m_, k)] = float(abs(fc.median[j] - t[j]))
                res.covered[(name, m_, k)] = bool(lo[j] <= t[j] <= hi[j])
            for anchor, fn in ANCHORS.items():
                pred = fn(counts, ks)
                for j, k in enumerate(ks.astype(int)):
                    res.errors[(anchor, name, m_, k)] = float(abs(pred[j] - t[j]))
    # adaptive allocation at equal budget
    b = config.allocation_budget
    for name, x in data.items():
        say(f"allocation: {name}")
        ks = np.array([1000.0, 10000.0])
        t = truth[name][[K_EVAL.index(1000), K_EVAL.index(10000)]]
        uni = SampleCounts.from_outcomes(x[:, :b], model=name)
        ada = simulate_allocation(x, b, first=10, rounds=6, k=10_000, model=name)
        row: dict[str, float] = {}
        for label, counts in (("uniform", uni), ("adaptive", ada)):
            fc = PassAtKModel(n_bootstrap=0).fit(counts).forecast(ks)
            row[f"{label} k=1000"] = float(abs(fc.point[0] - t[0]))
            row[f"{label} k=10000"] = float(abs(fc.point[1] - t[1]))
        depth = _stop_when_solved_depth(x, b)
        row["stop depth"] = float(depth)
        row["floor uniform"] = float(exchangeability_floor(x, b))
        row["floor stop"] = float(exchangeability_floor(x, depth))
        res.allocation[name] = row
    # internal backtest: would "fit on the first m/10, check at m" pick the better of curvecast
    # and Brown's power law at (m, 10,000)?
    for m_ in config.ms:
        if m_ // 10 < 10:
            continue
        for name, x in data.items():
            seen = x[:, :m_].any(axis=1).mean()
            early = SampleCounts.from_outcomes(x[:, : m_ // 10], model=name)
            back = {
                "curvecast": abs(
                    PassAtKModel(n_bootstrap=0).fit(early).forecast([m_]).point[0] - seen
                ),
                "Brown power law": abs(anchor_brown(early, np.array([float(m_)]))[0] - seen),
            }
            if ("curvecast", name, m_, 10000) not in res.errors:
                continue
            later = {meth: res.errors[(meth, name, m_, 10000)] for meth in back}
            res.backtest.append(
                {"model": name, "m": m_, "pick": min(back, key=lambda k: back[k]),
                 "better": min(later, key=lambda k: later[k])}
            )  # fmt: skip
    # samples needed and the compute-optimal choice
    for m_ in config.ms:
        for target in config.targets:
            true_k = {n: _crossing(dense, truth_dense[n], target) for n in data}
            for name, model in fitted[m_].items():
                if not true_k[name] <= min(10 * m_, 10_000) or true_k[name] <= m_:
                    continue
                nd = model.samples_needed(target)
                res.needed.append(
                    {"model": name, "m": m_, "target": target, "true": true_k[name],
                     "forecast": nd.median, "lower": nd.lower, "upper": nd.upper}
                )  # fmt: skip
            true_cost = {n: true_k[n] * PARAMS.get(n, 1.0) for n in data}
            if not any(np.isfinite(v) for v in true_cost.values()):
                continue
            best = min(true_cost, key=lambda n: true_cost[n])
            choice = choose_model(fitted[m_], {n: PARAMS.get(n, 1.0) for n in data}, target)
            res.choice.append(
                {"m": m_, "target": target, "truth": best, "chosen": choice.model,
                 "probability": choice.probability}
            )  # fmt: skip
    # fit time of a 140 x 10,000 table (aggregation included), one process
    x = data[next(iter(data))]
    t0 = time.process_time()
    PassAtKModel(n_bootstrap=config.n_bootstrap).fit(SampleCounts.from_outcomes(x), rng=0)
    res.fit_seconds = time.process_time() - t0
    return res


def format_report(res: SamplingBenchResult, command_line: str = "") -> str:
    """The markdown tables the command prints."""
    methods = ("curvecast", *ANCHORS)
    lines = [f"# bench sampling\n\ncommand: `{command_line}`\n"] if command_line else []
    groups = {
        "all five models": res.models,
        "tuning models": tuple(m for m in res.models if m not in HELD_OUT),
        "held out": tuple(m for m in res.models if m in HELD_OUT),
    }
    for label, models in groups.items():
        if not models:
            continue
        lines.append(f"\n## Mean absolute error of pass@k, {label} ({', '.join(models)})\n")
        lines.append("| m | k | " + " | ".join(methods) + " | best anchor x0.5 |")
        lines.append("|---|---|" + "---|" * (len(methods) + 1))
        for m_ in res.ms:
            for k in K_EVAL:
                if k <= m_:
                    continue
                vals = [np.mean([res.errors[(meth, n, m_, k)] for n in models]) for meth in methods]
                lines.append(
                    f"| {m_} | {k:,} | " + " | ".join(f"{v:.3f}" for v in vals)
                    + f" | {0.5 * min(vals[1:]):.3f} |"
                )  # fmt: skip
    lines.append("\n## Absolute error per model at k = 10,000 (curvecast / best anchor / floor)\n")
    lines.append("| model | " + " | ".join(f"m={m_}" for m_ in res.ms) + " |")
    lines.append("|---|" + "---|" * len(res.ms))
    for n in res.models:
        cells = []
        for m_ in res.ms:
            ours = res.errors[("curvecast", n, m_, 10000)]
            best = min(res.errors[(a, n, m_, 10000)] for a in ANCHORS)
            cells.append(f"{ours:.3f} / {best:.3f} / {res.floor[(n, m_)]:.3f}")
        tag = " (held out)" if n in HELD_OUT else ""
        lines.append(f"| {n}{tag} | " + " | ".join(cells) + " |")
    lines.append(
        "\nfloor: the expected error of a forecaster that knows the rate distribution exactly "
        "but sees only counts, so that it cannot tell which unsolved problems will be solved "
        "(`exchangeability_floor`; q plugged in from the truth)."
    )
    lines.append("\n## Mean floor at k = 10,000 against the errors and the target\n")
    lines.append("| models | m | curvecast | best anchor | target (x0.5) | floor |")
    lines.append("|---|---|---|---|---|---|")
    for label, models in groups.items():
        for m_ in res.ms:
            if not models or 10000 <= m_:
                continue
            vals = [np.mean([res.errors[(meth, n, m_, 10000)] for n in models]) for meth in methods]
            fl = np.mean([res.floor[(n, m_)] for n in models])
            lines.append(
                f"| {label} | {m_} | {vals[0]:.3f} | {min(vals[1:]):.3f} | "
                f"{0.5 * min(vals[1:]):.3f} | {fl:.3f} |"
            )
    if res.backtest:
        right = sum(r["pick"] == r["better"] for r in res.backtest)
        lines.append(
            f"\nInternal backtest (fit on the first m/10 samples, check pass@m) as a chooser "
            f"between curvecast and Brown's power law at (m, 10,000): it picks the better one in "
            f"{right} of {len(res.backtest)} (model, m) cells ("
            + "; ".join(f"{r['model']} m={r['m']}: picks {r['pick']}, better {r['better']}"
                        for r in res.backtest)
            + ")."
        )  # fmt: skip
    cov = list(res.covered.values())
    held = [v for (n, _m, _k), v in res.covered.items() if n in HELD_OUT]
    lines.append(
        f"\n## 90% interval coverage\n\n{np.mean(cov):.0%} of {len(cov)} (model, m, k) cells "
        f"(k > m, k in {', '.join(str(k) for k in K_EVAL)}); held-out models: "
        f"{np.mean(held):.0%} of {len(held)}."
    )
    for m_ in res.ms:
        c = [v for (_n, mm, _k), v in res.covered.items() if mm == m_]
        lines.append(f"- m = {m_}: {np.mean(c):.0%} of {len(c)}")
    lines.append("\n## Adaptive allocation, 100 samples per problem on average\n")
    lines.append(
        "| model | uniform k=1000 | adaptive k=1000 | uniform k=10000 | adaptive k=10000 |"
    )
    lines.append("|---|---|---|---|---|")
    for n, row in res.allocation.items():
        lines.append(
            f"| {n} | {row['uniform k=1000']:.3f} | {row['adaptive k=1000']:.3f} | "
            f"{row['uniform k=10000']:.3f} | {row['adaptive k=10000']:.3f} |"
        )
    for k in (1000, 10000):
        u = np.mean([r[f"uniform k={k}"] for r in res.allocation.values()])
        a = np.mean([r[f"adaptive k={k}"] for r in res.allocation.values()])
        lines.append(f"- k = {k:,}: mean abs error uniform {u:.3f}, adaptive {a:.3f}: "
                     f"{1 - a / u:+.0%} lower")  # fmt: skip
    rows = res.allocation.values()
    if rows and all("stop depth" in r for r in rows):
        fu = np.mean([r["floor uniform"] for r in rows])
        fs = np.mean([r["floor stop"] for r in rows])
        lines.append(
            "- perfect early stopping in hindsight (every problem sampled until its first "
            "success, the rest to equal depth) reaches a depth of "
            + ", ".join(f"{r['stop depth']:.0f}" for r in rows)
            + f" samples on the unsolved problems; the floor at k = 10,000 is {fu:.3f} "
            f"(uniform) and {fs:.3f} (stopping): {1 - fs / fu:+.0%} lower"
        )
    lines.append("\n## Samples needed for a target coverage (truth within 10x the samples drawn)\n")
    if res.needed:
        lines.append("| model | m | target | true k | forecast k | 90% interval | within 2x |")
        lines.append("|---|---|---|---|---|---|---|")
        ok = 0
        for r in res.needed:
            ratio = r["forecast"] / r["true"]
            good = 0.5 <= ratio <= 2.0
            ok += good
            lines.append(
                f"| {r['model']} | {r['m']} | {r['target']} | {r['true']:,.0f} | "
                f"{r['forecast']:,.0f} | {r['lower']:,.0f} to {r['upper']:,.0f} | "
                f"{'yes' if good else 'no'} |"
            )
        lines.append(f"\nwithin a factor of 2: {ok} of {len(res.needed)}")
    lines.append("\n## Compute-optimal choice (cost per sample in proportion to parameters)\n")
    lines.append("| m | target | true cheapest | chosen | P(right) |")
    lines.append("|---|---|---|---|---|")
    right = 0
    for r in res.choice:
        right += r["chosen"] == r["truth"]
        lines.append(
            f"| {r['m']} | {r['target']} | {r['truth']} | {r['chosen'] or '(none)'} | "
            f"{r['probability']:.2f} |"
        )
    lines.append(f"\nright: {right} of {len(res.choice)}")
    lines.append(
        f"\n## Speed\n\nfit of a 140 x 10,000 outcome table with {res.n_bootstrap} bootstrap "
        "replicates: "
        f"{res.fit_seconds:.2f} s CPU (aggregation included)."
    )
    return "\n".join(lines) + "\n"
