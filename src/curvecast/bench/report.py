"""Reports of a benchmark run: markdown tables, JSON results and PNG plots.

Every report starts with what reproduces it: the exact command line, the git commit (with a
"dirty" flag when the working tree had changes), the date and the versions of Python, NumPy and
SciPy. Plots use matplotlib's Agg backend (no display needed); matplotlib comes with the optional
extra ``curvecast[bench]``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import platform
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from curvecast.bench.aggregate import Interval, pairwise, summarise
from curvecast.bench.runner import BenchResult
from curvecast.bench.speed import SpeedResult, speed_tables
from curvecast.exceptions import MissingDependencyError, install_hint

__all__ = [
    "environment",
    "forecast_tables",
    "header_markdown",
    "jsonable",
    "write_forecast_report",
    "write_speed_report",
]


def environment(command_line: str) -> dict[str, Any]:
    """What produced a report: command, git commit, UTC date, platform and library versions."""
    import scipy

    from curvecast import __version__

    return {
        "command": command_line,
        "commit": _git_commit(),
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "curvecast": __version__,
        "platform": platform.platform(),
    }


def _git_commit() -> str:
    """HEAD of the repository holding this package, "+dirty" if it had changes; "unknown" when
    git or the repository is not there (an installed wheel)."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def header_markdown(title: str, env: Mapping[str, Any]) -> str:
    """The report's title and the lines that say how to reproduce it."""
    return "\n".join(
        [
            f"# {title}",
            "",
            f"- command: `{env['command']}`",
            f"- git commit: `{env['commit']}`",
            f"- date: {env['date']}",
            f"- python {env['python']}, numpy {env['numpy']}, scipy {env['scipy']}, "
            f"curvecast {env['curvecast']} on {env['platform']}",
        ]
    )


def jsonable(obj: Any) -> Any:
    """A copy of ``obj`` that :func:`json.dumps` accepts: NaN/inf become None, Intervals and
    NumPy values become plain Python, paths become strings."""
    if isinstance(obj, Interval):
        return obj.to_dict()
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


_HOW_TO_READ = """\
How to read the tables. Each row is one method at one cutoff (the fraction of each curve's points
it saw); scores are of the forecast of the curve's final value. CRPS (lower is better) and the
absolute error of the median are in the suite's own metric units; suites are never pooled, and
within a suite curves are pooled without normalisation (every task of a suite shares its metric).
IQM is the mean of the middle 50% of curves; [lo, hi] are 95% stratified-bootstrap intervals
(curves resampled within each task, Agarwal et al. 2021; tasks holding a single curve are
resampled among themselves). Log-lik is the IQM of the forecast's log
density at the truth. cov50/cov90: share of true finals inside the central 50%/90% intervals
(calibrated: 0.50/0.90). Spearman: rank correlation of forecast medians with true finals across
the configurations of one task, averaged over the tasks with at least 3 (their count in
parentheses). P(> baseline): probability that the method's CRPS beats the baseline's on the same
curve, averaged over tasks. "diverged": curves whose true final value is not finite, excluded from
every score and counted here; "prefix div.": of those, curves whose observed prefix had already
diverged (the forecast says so); "failed": forecasts that raised. ms: median forecast time per
curve, including the method's construction. "too short to cut" counts curves of fewer than 2
points that reached the runner (a suite loader may drop shorter curves before, and says so)."""


def forecast_tables(
    result: BenchResult,
    summaries: Sequence[Mapping[str, Any]],
    pairs: Mapping[str, Mapping[str, Mapping[str, Interval]]],
    baseline: str = "last_value",
) -> str:
    """The markdown tables of a forecast run: per suite, one row per (cutoff, method), then the
    matrix of P(row beats column)."""
    parts: list[str] = []
    for suite, info in result.suites.items():
        parts.append(
            f"## Suite `{suite}`: {info['n_curves']} curves over {info['n_tasks']} tasks, "
            f"{info['too_short']} too short to cut; metric {info['metric']} "
            f"({info['direction']}) against {info['axis']}"
        )
        parts.append("")
        header = (
            "| cutoff | method | n | scored | diverged | prefix div. | failed | CRPS IQM [95% CI] "
            f"| CRPS mean [95% CI] | abs err IQM | log-lik IQM | cov50 | cov90 | "
            f"Spearman (tasks) | P(> {baseline}) [95% CI] | ms | note |"
        )
        parts += [header, "|" + "---|" * 17]
        order = {m: i for i, m in enumerate(result.methods)}
        mine = [s for s in summaries if s["suite"] == suite]
        mine.sort(key=lambda s: (s["cutoff"], order.get(s["method"], len(order)), s["method"]))
        for s in mine:
            note = ""
            subset = info["subsets"].get(s["method"])
            if subset is not None:
                note = f"subset: {len(subset)} of {info['n_curves']} curves (--mcmc-limit)"
            sp: Interval = s["spearman"]
            parts.append(
                "| "
                + " | ".join(
                    [
                        f"{s['cutoff']:g}",
                        s["method"],
                        str(s["n"]),
                        str(s["scored"]),
                        str(s["diverged"]),
                        str(s["forecast_diverged"]),
                        str(s["failed"]),
                        s["crps_iqm"].format(),
                        s["crps_mean"].format(),
                        _est(s["abs_error_iqm"]),
                        _est(s["loglik_iqm"], digits=3),
                        _est(s["cover50"], digits=2),
                        _est(s["cover90"], digits=2),
                        f"{_est(sp, digits=2)} ({s['spearman_tasks']})",
                        s["p_beats_baseline"].format(digits=2),
                        f"{1000 * s['seconds_median']:.3g}",
                        note,
                    ]
                )
                + " |"
            )
        parts.append("")
        matrix = pairs.get(suite, {})
        methods = list(matrix)
        if len(methods) >= 2:
            parts.append(
                f"P(row beats column) on CRPS, `{suite}`, all cutoffs (a curve's score is the "
                "share of cutoffs it wins), [95% CI]:"
            )
            parts.append("")
            parts.append("| | " + " | ".join(methods) + " |")
            parts.append("|" + "---|" * (len(methods) + 1))
            for a in methods:
                cells = [
                    "–" if a == b else matrix[a].get(b, _NAN).format(digits=2) for b in methods
                ]
                parts.append(f"| {a} | " + " | ".join(cells) + " |")
            parts.append("")
    return "\n".join(parts)


_NAN = Interval(math.nan, math.nan, math.nan)
#: The methods whose targets the report checks, when they ran: the learned forecaster and the
#: default (its mixture with analog). Neither counts as a baseline for the other.
CANDIDATES: tuple[str, ...] = ("pfn", "ensemble")


def forecast_targets(summaries: Sequence[Mapping[str, Any]], candidate: str = "pfn") -> list[str]:
    """The learned forecaster's targets, checked per suite on the point estimates.

    The baselines are every other method of the run except :data:`CANDIDATES`.

    - CRPS IQM at every cutoff no worse than every baseline;
    - CRPS IQM on average (over cutoffs) at least 20% below ``last_value``'s;
    - 90% coverage (the mean over cutoffs) in [0.85, 0.95];
    - Spearman (the mean over cutoffs) above every other method's.

    Returns markdown list items; none when ``candidate`` did not run.
    """
    lines: list[str] = []
    for suite in dict.fromkeys(s["suite"] for s in summaries):
        rows = [
            s
            for s in summaries
            if s["suite"] == suite and (s["method"] == candidate or s["method"] not in CANDIDATES)
        ]
        mine = {s["cutoff"]: s for s in rows if s["method"] == candidate}
        if not mine:
            continue
        others = sorted({s["method"] for s in rows} - {candidate})
        checks = []
        worse = []
        for cut, s in sorted(mine.items()):
            best = min(
                (o for o in rows if o["cutoff"] == cut and o["method"] != candidate),
                key=lambda o: _finite_or_inf(o["crps_iqm"].estimate),
                default=None,
            )
            if best is not None and s["crps_iqm"].estimate > best["crps_iqm"].estimate:
                worse.append(
                    f"@{cut:g} {s['crps_iqm'].estimate:.3g} vs {best['method']} "
                    f"{best['crps_iqm'].estimate:.3g}"
                )
        checks.append(
            "CRPS no worse than every baseline at every cutoff: "
            + ("yes" if not worse else "NO (" + "; ".join(worse) + ")")
        )
        base = {s["cutoff"]: s for s in rows if s["method"] == "last_value"}
        gains = [
            1.0 - mine[c]["crps_iqm"].estimate / base[c]["crps_iqm"].estimate
            for c in mine
            if c in base and base[c]["crps_iqm"].estimate > 0
        ]
        if gains:
            g = float(np.mean(gains))
            checks.append(f"CRPS {g:.0%} below last_value on average (>= 20%): " + _yes(g >= 0.2))
        cov = [s["cover90"].estimate for s in mine.values() if math.isfinite(s["cover90"].estimate)]
        if cov:
            c90 = float(np.mean(cov))
            checks.append(f"90% coverage {c90:.2f} (0.85-0.95): " + _yes(0.85 <= c90 <= 0.95))
        sp = _mean_spearman(rows)
        if candidate in sp and len(sp) > 1:
            rival = max((m for m in sp if m != candidate), key=lambda m: sp[m])
            checks.append(
                f"Spearman {sp[candidate]:.2f} vs best baseline {rival} {sp[rival]:.2f}: "
                + _yes(sp[candidate] > sp[rival])
            )
        lines.append(
            f"- **{suite}** ({candidate} against {', '.join(others)}): " + "; ".join(checks)
        )
    return lines


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def _finite_or_inf(v: float) -> float:
    return v if math.isfinite(v) else math.inf


def _mean_spearman(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Mean over cutoffs of each method's Spearman estimate, where it has one."""
    by: dict[str, list[float]] = {}
    for s in rows:
        v = s["spearman"].estimate
        if v is not None and math.isfinite(v):
            by.setdefault(s["method"], []).append(float(v))
    return {m: float(np.mean(v)) for m, v in by.items()}


def _est(iv: Interval, digits: int = 3) -> str:
    return f"{iv.estimate:.{digits}g}" if math.isfinite(iv.estimate) else "–"


def write_forecast_report(
    result: BenchResult, out_dir: Path, *, command_line: str, plots: bool = True
) -> tuple[str, dict[str, Path]]:
    """Aggregate ``result`` and write ``report.md``, ``results.json`` and the PNG plots.

    Args:
        result: the run.
        out_dir: created if missing; files there with the same names are replaced.
        command_line: the exact command that produced the run, for the report's header.
        plots: False to skip the PNGs (and matplotlib).

    Returns:
        ``(tables, paths)``: the markdown tables (what the CLI prints) and the written files by
        kind ("markdown", "json", "crps_<suite>", "examples_<suite>").

    Raises:
        MissingDependencyError: ``plots`` and matplotlib is not installed.
    """
    cfg = result.config
    rng = np.random.default_rng([cfg.seed, 0xB007])
    summaries = summarise(result.rows, rng=rng, n_boot=cfg.n_boot)
    pairs = pairwise(result.rows, result.methods, rng=rng, n_boot=cfg.n_boot)
    env = environment(command_line)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    if plots:
        paths.update(_plot_all(result, summaries, out_dir))
    tables = forecast_tables(result, summaries, pairs)
    for candidate in CANDIDATES:
        targets = forecast_targets(summaries, candidate)
        if targets:
            tables += f"\n## Targets ({candidate})\n\n" + "\n".join(targets) + "\n"
    skipped = "; ".join(f"{k} ({v})" for k, v in result.skipped.items()) or "none"
    lines = [
        header_markdown("curvecast forecast benchmark", env),
        f"- suites: {', '.join(cfg.suites)}; "
        + (f"limit {cfg.limit} curves per suite; " if cfg.limit else "no limit; ")
        + (f"at most {cfg.tasks} tasks per suite; " if cfg.tasks else "")
        + f"seed {cfg.seed}; mcmc-limit {cfg.mcmc_limit or 'none'}; "
        f"cutoffs {', '.join(f'{c:g}' for c in cfg.cutoffs)}; "
        f"{cfg.n_boot} bootstrap replicates; jobs {cfg.jobs}; wall time {result.seconds:.1f} s",
        "- context: "
        + (
            f"each method is offered up to {cfg.context} other curves of the same task, "
            "fully observed (a search's completed trials)"
            if cfg.context
            else "none (no method sees other curves)"
        ),
        f"- methods run: {', '.join(result.methods)}",
        f"- methods skipped: {skipped}",
        "",
        _HOW_TO_READ,
        "",
        tables,
    ]
    for key, path in paths.items():
        lines.append(f"![{key}]({path.name})")
        lines.append("")
    md = out_dir / "report.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    paths["markdown"] = md
    payload = {
        "environment": env,
        "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
        "methods": result.methods,
        "skipped": result.skipped,
        "suites": result.suites,
        "summaries": summaries,
        "pairwise": pairs,
        "rows": result.rows,
        "examples": result.examples,
        "seconds": result.seconds,
    }
    js = out_dir / "results.json"
    js.write_text(json.dumps(jsonable(payload), indent=1, allow_nan=False), encoding="utf-8")
    paths["json"] = js
    return tables, paths


def _pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, imported on first use."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependencyError("Plots need matplotlib: " + install_hint("bench")) from exc
    return plt


def _plot_all(
    result: BenchResult, summaries: Sequence[Mapping[str, Any]], out_dir: Path
) -> dict[str, Path]:
    plt = _pyplot()
    paths: dict[str, Path] = {}
    for suite in result.suites:
        rows = [s for s in summaries if s["suite"] == suite]
        if rows:
            fig, ax = plt.subplots(figsize=(6, 4))
            dodge = 0.006 * (np.arange(len(result.methods)) - (len(result.methods) - 1) / 2)
            for method, dx in zip(result.methods, dodge, strict=True):
                pts = [s for s in rows if s["method"] == method and np.isfinite(s["crps_iqm"].low)]
                if not pts:
                    continue
                x = np.array([s["cutoff"] for s in pts]) + dx  # dodge overlapping bars
                est = np.array([s["crps_iqm"].estimate for s in pts])
                lo = np.array([s["crps_iqm"].low for s in pts])
                hi = np.array([s["crps_iqm"].high for s in pts])
                ax.errorbar(x, est, yerr=[est - lo, hi - est], marker="o", capsize=3, label=method)
            ax.set_xlabel("cutoff (fraction of the curve observed)")
            ax.set_ylabel(f"CRPS of the final value, IQM ({result.suites[suite]['metric']})")
            ax.set_title(f"{suite}: CRPS against cutoff (95% bootstrap CI)")
            ax.set_yscale("log")
            ax.legend(fontsize=8)
            fig.tight_layout()
            path = out_dir / f"crps_vs_cutoff_{_slug(suite)}.png"
            fig.savefig(path, dpi=110)
            plt.close(fig)
            paths[f"crps_{suite}"] = path
        examples = [e for e in result.examples if e["suite"] == suite]
        if examples:
            path = out_dir / f"examples_{_slug(suite)}.png"
            _plot_examples(plt, examples, result.methods, path)
            paths[f"examples_{suite}"] = path
    return paths


def _plot_examples(
    plt: Any, examples: Sequence[Mapping[str, Any]], methods: Sequence[str], path: Path
) -> None:
    """One panel per example curve: the truth, the observed prefix, each method's 90% band."""
    fig, axes = plt.subplots(1, len(examples), figsize=(4.5 * len(examples), 3.6), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, ex in zip(axes[0], examples, strict=True):
        x = np.asarray(ex["x"], dtype=float)
        y = np.asarray([np.nan if v is None else v for v in ex["y"]], dtype=float)
        k = int(ex["n_obs"])
        ax.plot(x, y, color="black", lw=1, label="truth")
        ax.plot(x[:k], y[:k], "o", color="black", ms=3, label="observed")
        for i, m in enumerate(methods):
            band = ex["methods"].get(m)
            if band is None or band["diverged"]:
                continue
            c = colors[i % len(colors)]
            ax.fill_between(band["x_new"], band["q05"], band["q95"], color=c, alpha=0.2)
            ax.plot(band["x_new"], band["q50"], color=c, lw=1.2, label=f"{m} (90% band)")
        ax.set_xscale("log")
        ax.set_title(f"{ex['task']} / {ex['config']}, cutoff {ex['cutoff']:g}", fontsize=9)
        ax.set_xlabel("x")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


def write_speed_report(
    result: SpeedResult, out_dir: Path, *, command_line: str
) -> tuple[str, dict[str, Path]]:
    """Write ``speed.md`` and ``speed.json`` for a ``bench speed`` run.

    Returns:
        ``(tables, paths)``: the markdown table (what the CLI prints) and the files written.
    """
    env = environment(command_line)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = speed_tables(result)
    md = out_dir / "speed.md"
    md.write_text(
        header_markdown("curvecast speed benchmark", env) + "\n\n" + tables + "\n",
        encoding="utf-8",
    )
    payload = {
        "environment": env,
        "settings": result.settings,
        "threads": result.threads,
        "methods": result.methods,
        "skipped": result.skipped,
        "latency": result.latency,
        "throughput": result.throughput,
    }
    js = out_dir / "speed.json"
    js.write_text(json.dumps(jsonable(payload), indent=1, allow_nan=False), encoding="utf-8")
    return tables, {"markdown": md, "json": js}
