"""Write docs/benchmarks.md from the outputs of the bench commands it quotes.

Usage: python scripts/benchmarks_doc.py [--out docs/benchmarks.md]

Reads ``bench-out/forecast/results.json`` (each curve alone), ``bench-out/context/results.json``
(with 16 completed trials of the same task as context), ``bench-out/speed/speed.md``,
``bench-out/speed-batch/speed.md``, ``bench-out/prune_cost.txt`` (the output of
``scripts/prune_cost.py``), ``bench-out/prune/prune.md`` and ``bench-out/anytime/anytime.md``,
written by the commands in the document itself, and lays their
figures out side by side: the CRPS of the final value (mean, lower is better) and the 90% coverage
of every method at every cutoff, each method's CRPS against ``last_value`` on average, and the
targets of the forecasting issue checked cell by cell. Nothing here is typed by hand: rerun the
commands, then this script.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

COMMANDS = {
    "forecast": "curvecast bench forecast --suite lcdb,lcbench-surrogate,scanbench-vlm,scanbench-llm "
    "--limit 100 --tasks 10 --methods last_value,pow4,parametric,lcpfn,pfn,ensemble,calibrated "
    "--n-boot 1000 --no-plots --out bench-out/forecast",
    "context": "curvecast bench forecast --suite lcdb,lcbench-surrogate,scanbench-vlm,scanbench-llm "
    "--limit 100 --tasks 10 --context 16 --methods last_value,analog,pfn,ensemble,calibrated "
    "--n-boot 1000 --no-plots --out bench-out/context",
    "speed": "curvecast bench speed --methods last_value,pow4,parametric,lcpfn,pfn,ensemble,calibrated "
    "--repeats 20 --out bench-out/speed",
    "speed-batch": "curvecast bench speed --methods pfn,calibrated --batch 1000 --repeats 5 "
    "--out bench-out/speed-batch",
    "prune-cost": "python scripts/prune_cost.py --trials 1000 --repeats 30",
    "heldout": "python scripts/heldout_coverage.py --data-dir DIR --curves 60",
    # 6 min on 2 cores (see docs/pruning-bench.md for the time of larger runs)
    "prune": "curvecast bench prune --suite lcdb,lcbench-surrogate,scanbench-vlm,scanbench-llm,"
    "schedules,sklearn-mlp --tasks 3 --orders 2 --configs 100,1000 --workers 1,4 --pruners none,"
    "median,successive_halving,hyperband,asha,curvecast,oracle --jobs 2 --out bench-out/prune",
    "anytime": "curvecast bench anytime --suite lcbench-surrogate --configs 100 --tasks 3 "
    "--orders 2 --budget 0.5 --jobs 2 --out bench-out/anytime",
}


def _est(v: Any) -> float:
    return float(v["estimate"]) if isinstance(v, dict) else float(v)


def _cells(path: Path) -> tuple[dict[tuple[str, str, float], dict[str, Any]], dict[str, Any]]:
    r = json.loads(path.read_text())
    return {(s["suite"], s["method"], s["cutoff"]): s for s in r["summaries"]}, r


def _table(path: Path, default: str) -> list[str]:
    cells, r = _cells(path)
    suites = sorted({k[0] for k in cells})
    cutoffs = sorted({k[2] for k in cells})
    lines = [
        f"`{r['environment']['command']}` (commit `{r['environment']['commit'][:10]}`, "
        f"{r['environment'].get('date', '')})",
        "",
        "| suite | method | "
        + " | ".join(f"CRPS @{c:g}" for c in cutoffs)
        + " | 90% coverage @"
        + "/".join(f"{c:g}" for c in cutoffs)
        + " | CRPS vs last_value |",
        "|---|---|" + "---|" * (len(cutoffs) + 2),
    ]
    for suite in suites:
        for m in r["methods"]:
            row = [cells.get((suite, m, c)) for c in cutoffs]
            if not all(row):
                continue
            best = {
                c: min(
                    _est(v["crps_mean"]) for k, v in cells.items() if k[0] == suite and k[2] == c
                )
                for c in cutoffs
            }
            crps = [_est(s["crps_mean"]) for s in row]  # type: ignore[index]
            lv = [_est(cells[(suite, "last_value", c)]["crps_mean"]) for c in cutoffs]
            ratio = sum(a / b for a, b in zip(crps, lv, strict=True)) / len(lv)
            name = f"**{m}**" if m == default else m
            lines.append(
                f"| {suite} | {name} | "
                + " | ".join(
                    f"**{v:.3g}**" if v == best[c] else f"{v:.3g}"
                    for v, c in zip(crps, cutoffs, strict=True)
                )
                + " | "
                + "/".join(f"{_est(s['cover90']):.2f}" for s in row)  # type: ignore[index]
                + f" | {100 * (1 - ratio):+.0f}% |"
            )
    return lines


def _targets(path: Path, method: str, band: tuple[float, float], gain: float) -> list[str]:
    cells, _ = _cells(path)
    out = []
    for suite in sorted({k[0] for k in cells}):
        cutoffs = sorted(k[2] for k in cells if k[0] == suite and k[1] == method)
        worse = [
            f"@{c:g} {_est(cells[(suite, method, c)]['crps_mean']):.3g} vs "
            f"{_est(cells[(suite, 'last_value', c)]['crps_mean']):.3g}"
            for c in cutoffs
            if _est(cells[(suite, method, c)]["crps_mean"])
            > _est(cells[(suite, "last_value", c)]["crps_mean"])
        ]
        ratios = [
            _est(cells[(suite, method, c)]["crps_mean"])
            / _est(cells[(suite, "last_value", c)]["crps_mean"])
            for c in cutoffs
        ]
        avg = 100 * (1 - sum(ratios) / len(ratios))
        cov = [_est(cells[(suite, method, c)]["cover90"]) for c in cutoffs]
        outside = [
            f"@{c:g} {v:.2f}"
            for c, v in zip(cutoffs, cov, strict=True)
            if not band[0] <= v <= band[1]
        ]
        sp = [_est(cells[(suite, method, c)]["spearman"] or 0) for c in cutoffs]
        sp_lv = [_est(cells[(suite, "last_value", c)]["spearman"] or 0) for c in cutoffs]
        sp_low = [
            f"@{c:g} {a:.2f} vs {b:.2f}"
            for c, a, b in zip(cutoffs, sp, sp_lv, strict=True)
            if a < b - 1e-9
        ]
        out.append(
            f"- **{suite}**: cells worse than last_value: {', '.join(worse) or 'none'}; "
            f"CRPS {avg:.0f}% below last_value on average (target {100 * gain:.0f}%): "
            f"{'yes' if avg >= 100 * gain else 'NO'}; 90% coverage outside "
            f"[{band[0]}, {band[1]}]: {', '.join(outside) or 'none'}; Spearman below "
            f"last_value's: {', '.join(sp_low) or 'none'}"
        )
    return out


def _prune_section(path: Path) -> list[str]:
    """From ``prune.md``: its header lines, the searches and summary tables, and one line per
    (suite, setting, size) of the targets met, with the misses; the per-cell tables stay in the
    report."""
    lines = path.read_text().splitlines()
    out = [ln for ln in lines[:8] if ln.startswith("- ")] + [""]
    keep = False
    for ln in lines:
        if ln.startswith("## "):
            keep = ln in ("## Searches", "## Summary", "## Targets (curvecast)")
            if keep:
                out.append("#" + ln)
            continue
        if not keep:
            continue
        if ln.startswith("  - ") and "**MISS**" not in ln:
            continue  # a target met: the count on the line above says so
        out.append(ln)
    return out


def _anytime_section(path: Path) -> list[str]:
    """From ``anytime.md``: its header lines and its first table (the headline regret)."""
    lines = path.read_text().splitlines()
    out = [ln for ln in lines[:8] if ln.startswith("- ")] + [""]
    table = False
    for ln in lines:
        if ln.startswith("|"):
            table = True
            out.append(ln)
        elif table:
            break
    return out


def _section(path: Path, title: str) -> list[str]:
    text = path.read_text()
    return [f"### {title}", "", text.strip(), ""]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    p.add_argument("--bench-out", default=str(ROOT / "bench-out"))
    args = p.parse_args()
    b = Path(args.bench_out)
    lines = [
        "# Benchmarks",
        "",
        "Written by `python scripts/benchmarks_doc.py` from the outputs of the commands below; each",
        "command writes a full report (every interval, log-likelihood, cov50, pairwise win rates)",
        "next to the figures quoted here. Without `--data-dir` the suites are fetched into a cache",
        "on first use (LCDB and ScAn-Bench from PyPI wheels, the YAHPO LCBench surrogate from",
        "GitHub, with checksums); `--data-dir DIR` reads a local copy laid out the same way.",
        "",
        "Protocol (`bench forecast`): each curve is cut at 10, 20, 40, 60 and 80% of its points and",
        "its final value forecast; CRPS of that forecast (mean over curves, in the metric's units,",
        "lower is better; **bold** the lowest at that cutoff), the share of true finals inside the",
        "90% interval (calibrated: 0.90), and the mean over cutoffs of the CRPS relative to",
        "`last_value`'s. 100 curves over 10 tasks per suite. LCBench rows come from the YAHPO",
        "surrogate, not real runs. The default, `auto`, is **ensemble** alone and **calibrated**",
        "with context.",
        "",
        "## Forecasts: each curve alone",
        "",
        f"    {COMMANDS['forecast']}",
        "",
        *_table(b / "forecast" / "results.json", "ensemble"),
        "",
        "The forecasting issue's targets for the default alone (no cell worse than last_value, 25%",
        "lower CRPS on average, 90% coverage in [0.80, 0.97], Spearman no lower than last_value's):",
        "",
        *_targets(b / "forecast" / "results.json", "ensemble", (0.80, 0.97), 0.25),
        "",
        "And for `calibrated` alone (the fast method, `auto` with context):",
        "",
        *_targets(b / "forecast" / "results.json", "calibrated", (0.80, 0.97), 0.25),
        "",
        "## Forecasts: with 16 completed trials of the same task as context",
        "",
        f"    {COMMANDS['context']}",
        "",
        *_table(b / "context" / "results.json", "calibrated"),
        "",
        "Targets with context (no cell worse than last_value, 40% lower CRPS on average, 90%",
        "coverage in [0.85, 0.95], Spearman no lower than last_value's), for the default:",
        "",
        *_targets(b / "context" / "results.json", "calibrated", (0.85, 0.95), 0.40),
        "",
        "## Curves nobody tuned to",
        "",
        "modded-nanogpt validation loss and Pythia zero-shot accuracy over training: no method",
        "was tuned on them. `curvecast.forecast` with its defaults and no bounds, alone and with",
        "up to 16 other curves of the same group as context; last_value's absolute error is",
        "its CRPS (a point forecast).",
        "",
        f"    {COMMANDS['heldout']}",
        "",
        "```",
        *(b / "heldout.txt").read_text().strip().splitlines(),
        "```",
        "",
        "## Speed",
        "",
        f"    {COMMANDS['speed']}",
        "",
        *_section(b / "speed" / "speed.md", "One curve (latency) and batches of 32 (throughput)"),
        f"    {COMMANDS['speed-batch']}",
        "",
        *_section(b / "speed-batch" / "speed.md", "Batches of 1,000 curves"),
        f"    {COMMANDS['prune-cost']}",
        "",
        "```",
        *(b / "prune_cost.txt").read_text().strip().splitlines(),
        "```",
        "",
        "## Pruning",
        "",
        f"    {COMMANDS['prune']}",
        "",
        "Each task's configurations replayed as one search (sequentially and with 4 workers, at",
        "100 and 1,000 configurations) through every pruner; speedup in points and in compute",
        "(docs/pruning-bench.md gives the cost of a report per suite), mean relative regret, and",
        "issue 12's targets for the default `ForecastPruner()` (only the misses listed, with the",
        "margin). `bench-out/prune/prune.md` has every interval.",
        "",
        *_prune_section(b / "prune" / "prune.md"),
        "",
        "## Promotion: regret against compute (freeze-thaw)",
        "",
        f"    {COMMANDS['anytime']}",
        "",
        *_anytime_section(b / "anytime" / "anytime.md"),
    ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
