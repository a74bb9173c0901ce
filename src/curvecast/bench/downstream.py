"""``curvecast bench downstream``: benchmark scores above a compute cutoff, from models below it.

On each public table (:mod:`.downstream_data`) every method is fitted on the models at or below
the table's compute cutoff and predicts every model above it, as Ruan et al. do. Methods:
``skills`` (:class:`~curvecast.scaling.DownstreamScaling`, ours), and the anchors of
:mod:`.downstream_anchors`: ``loglinear``, ``ruan``, ``gadre`` (where losses exist). Reported
per (table, method): the mean absolute error over held-out (model, benchmark) scores, the share
inside the 90% interval, and the mean absolute error per benchmark. ``leaderboard`` is kept out
of every tuning loop (no setting of ``skills`` was chosen on it) and reported apart.

Emergence (``emergent`` table): for each task, the compute at which it leaves chance (``floor +
0.1 (1 - floor)``) is read off all models as the first compute where the running median of 9
neighbouring models (ordered by compute) passes it; ``skills`` is then fitted on the models
below that compute that still score below it, with the 8 ``obsscaling`` benchmarks beside the
task, and says "forecast" (with a compute) or "cannot tell yet".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.bench import downstream_anchors as anchors
from curvecast.bench.downstream_data import (
    TABLES,
    TUNING_TABLES,
    PublicTable,
    load_tables,
    split,
)
from curvecast.scaling.downstream_scaling import DownstreamScaling
from curvecast.scaling.downstream_table import ModelTable

__all__ = ["DownstreamRow", "format_tables", "run_downstream_bench", "write_downstream_report"]

LEVEL = 0.9


@dataclass
class DownstreamRow:
    """One (table, method): errors and coverage over the held-out (model, benchmark) scores."""

    table: str
    method: str
    n_fit: int
    n_held: int
    n_scores: int
    mae: float
    coverage: float
    per_benchmark: dict[str, float] = field(default_factory=dict)


def _row(
    name: str, method: str, fit: ModelTable, held: ModelTable, pred: anchors.Pred
) -> DownstreamRow:
    med, lo, hi = pred
    truth = np.asarray(held.scores)
    ok = np.isfinite(truth) & np.isfinite(med)
    err = np.abs(med - truth)
    cov = float("nan")
    if lo is not None and hi is not None:
        cov = float(np.mean(((lo <= truth) & (truth <= hi))[ok]))
    per = {
        b: float(np.mean(err[ok[:, j], j])) for j, b in enumerate(held.benchmarks) if ok[:, j].any()
    }
    return DownstreamRow(
        name, method, len(fit), len(held), int(ok.sum()), float(np.mean(err[ok])), cov, per
    )


def skills(fit: ModelTable, held: ModelTable, chance: dict[str, float], seed: int) -> anchors.Pred:
    """``DownstreamScaling`` with the bench's settings (families with one model allowed)."""
    model = DownstreamScaling(chance=chance, allow_single=True).fit(fit, rng=seed)
    fc = model.predict_table(held)
    lo, hi = fc.interval(LEVEL)
    return fc.median, lo, hi


def _table_rows(pt: PublicTable, seed: int) -> list[DownstreamRow]:
    fit, held = split(pt)
    rows = [
        _row(pt.name, "skills", fit, held, skills(fit, held, pt.chance, seed)),
        _row(pt.name, "loglinear", fit, held, anchors.loglinear(fit, held, LEVEL)),
        _row(pt.name, "ruan", fit, held, anchors.ruan(fit, held, pt.chance)),
    ]
    g = anchors.gadre(fit, held)
    if g is not None:
        rows.append(_row(pt.name, "gadre", fit, held, g))
    return rows


def _emergence_truth(x: NDArray, s: NDArray, thr: float, window: int = 9) -> float:
    order = np.argsort(x)
    xs, ss = x[order], s[order]
    for i in range(len(xs) - window + 1):
        if np.median(ss[i : i + window]) >= thr:
            return float(xs[i + window // 2])
    return float("nan")


def emergence_rows(root: str | Path, seed: int) -> list[dict[str, Any]]:
    """The emergence check on the ``emergent`` tasks (see the module docstring)."""
    tabs = load_tables(root, ("emergent", "obsscaling"))
    em, ob = tabs["emergent"], tabs["obsscaling"]
    base = ob.table
    rows = []
    for task in em.table.benchmarks:
        t = em.table.with_benchmarks([task])
        s = np.asarray(t.scores)[:, 0]
        ok = np.isfinite(s)
        t = t.select(ok)
        s = s[ok]
        floor = em.chance.get(task, 0.0)
        thr = floor + 0.1 * (1 - floor)
        x = np.log10(np.asarray(t.flops))
        truth = _emergence_truth(x, s, thr)
        keep = (x < truth) & (s < thr) if np.isfinite(truth) else s < thr
        sub = t.select(keep)
        idx = [base.model.index(m) for m in sub.model]
        B = np.asarray(base.scores)[idx]
        scores = {b: B[:, j] for j, b in enumerate(base.benchmarks)}
        scores[task] = np.asarray(sub.scores)[:, 0]
        joint = ModelTable(
            model=sub.model,
            family=sub.family,
            params=sub.params,
            tokens=sub.tokens,
            flops=sub.flops,
            scores=scores,
        )
        chance = {**ob.chance, task: floor}
        out: dict[str, Any] = {
            "task": task,
            "truth_flops": 10**truth if np.isfinite(truth) else None,
        }
        out["n_fit"] = len(joint)
        try:
            model = DownstreamScaling(chance=chance, allow_single=True).fit(joint, rng=seed)
            e = next(r for r in model.emergence(margin=0.1) if r.benchmark == task)
            out.update(e.to_dict())
        except Exception as exc:  # report, do not crash the benchmark
            out.update(status=f"error: {exc}")
        f = out.get("flops")
        out["ratio"] = f / out["truth_flops"] if f and out["truth_flops"] else None
        rows.append(out)
    return rows


def run_downstream_bench(
    data_dir: str | Path | None,
    *,
    tables: tuple[str, ...] = TABLES,
    seed: int = 0,
    emergence: bool = True,
) -> dict[str, Any]:
    """Every table and method; returns ``{"rows": [DownstreamRow...], "emergence": [...]}``."""
    loaded = load_tables(data_dir, tables)
    rows: list[DownstreamRow] = []
    for name in tables:
        rows.extend(_table_rows(loaded[name], seed))
    em = emergence_rows(data_dir, seed) if emergence and data_dir is not None else []
    return {"rows": rows, "emergence": em}


def _f(v: float, d: int = 4) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.{d}f}"


def format_tables(result: dict[str, Any]) -> str:
    """Markdown: the summary per (table, method), the per-benchmark errors of ``skills`` against
    ``loglinear``, the emergence check."""
    rows: list[DownstreamRow] = result["rows"]
    lines = [
        "| table | method | fit models | held-out models | scores | mean abs. error "
        "| 90% coverage |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r.table == "leaderboard", TABLES.index(r.table))):
        tag = " (held out of tuning)" if r.table not in TUNING_TABLES else ""
        cov = "n/a" if not np.isfinite(r.coverage) else f"{100 * r.coverage:.1f}%"
        lines.append(
            f"| {r.table}{tag} | {r.method} | {r.n_fit} | {r.n_held} | {r.n_scores} | "
            f"{_f(r.mae)} | {cov} |"
        )
    lines += [
        "",
        "| table | method | vs best anchor | benchmarks worse than loglinear |",
        "|---|---|---|---|",
    ]
    for t in dict.fromkeys(r.table for r in rows):
        mine = next(r for r in rows if r.table == t and r.method == "skills")
        anch = [r for r in rows if r.table == t and r.method != "skills"]
        best = min(anch, key=lambda r: r.mae)
        ll = next(r for r in anch if r.method == "loglinear")
        worse = [
            f"{b} ({mine.per_benchmark[b]:.3f} vs {ll.per_benchmark[b]:.3f})"
            for b in mine.per_benchmark
            if b in ll.per_benchmark and mine.per_benchmark[b] > ll.per_benchmark[b]
        ]
        gain = 100 * (1 - mine.mae / best.mae)
        word = "lower" if gain >= 0 else "higher"
        lines.append(
            f"| {t} | skills | {abs(gain):.1f}% {word} than {best.method} | "
            f"{len(worse)} of {len(mine.per_benchmark)}: {', '.join(worse) or 'none'} |"
        )
    if result.get("emergence"):
        lines += [
            "",
            "| task | truth: leaves chance at | fitted models | status | forecast "
            "| 90% interval | ratio | why not |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for e in result["emergence"]:
            tf = e.get("truth_flops")
            f, lo, hi, ratio = e.get("flops"), e.get("lower"), e.get("upper"), e.get("ratio")
            truth = "never" if tf is None else f"{tf:.2g}"
            fc = "" if f is None else f"{f:.2g}"
            iv = "" if f is None else f"[{lo or 0:.2g}, {hi if hi else np.inf:.2g}]"
            rt = "" if ratio is None else f"{ratio:.2f}"
            lines.append(
                f"| {e['task']} | {truth} | {e['n_fit']} | {e.get('status')} | {fc} | {iv} | {rt} "
                f"| {e.get('reason') or ''} |"
            )
    return "\n".join(lines)


def write_downstream_report(
    result: dict[str, Any], out: Path, command_line: str
) -> tuple[str, list[Path]]:
    """Write ``report.md`` and ``results.json`` into ``out``; returns the table and the paths."""
    out.mkdir(parents=True, exist_ok=True)
    table = format_tables(result)
    md = out / "report.md"
    md.write_text(f"`{command_line}`\n\n{table}\n", encoding="utf-8")
    js = out / "results.json"
    js.write_text(
        json.dumps(
            {"rows": [asdict(r) for r in result["rows"]], "emergence": result["emergence"]},
            indent=1,
            default=float,
        ),
        encoding="utf-8",
    )
    return table, [md, js]
