"""Forecasts of the final value alone and with 2, 5 and 16 completed runs of the same search.

The quick table behind the context work (issue 24): per suite, mean CRPS of the final value and
90% coverage of each method at each cutoff, for each context size, with the same target curves
in every setting. ``curvecast bench forecast --context K`` gives the full report per setting;
this prints the settings side by side, with "alone" (the default with no context) as the
reference each context setting must not be worse than.

    python scripts/eval_context.py --suite heldout-gbm --targets 6 --tasks 3
    python scripts/eval_context.py --suite lcbench-surrogate --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import defaultdict

import numpy as np

from curvecast.bench.runner import evaluate_curve
from curvecast.bench.sources import load_suite

CUTOFFS = (0.1, 0.2, 0.4, 0.6, 0.8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", required=True)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--tasks", type=int, default=3)
    ap.add_argument("--targets", type=int, default=6, help="target curves per task")
    ap.add_argument("--limit", type=int, default=None, help="curves loaded (load_suite limit)")
    ap.add_argument("--contexts", default="0,2,5,16")
    ap.add_argument("--methods", default="last_value,auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write the rows here")
    ap.add_argument("--from-json", default=None, help="print the tables of rows written before")
    args = ap.parse_args()
    if args.from_json:
        with open(args.from_json) as fh:
            rows = json.load(fh)
        table(rows, [int(k) for k in args.contexts.split(",")], args.methods.split(","))
        family_cells(rows, [int(k) for k in args.contexts.split(",")])
        return
    ks = [int(k) for k in args.contexts.split(",")]
    methods = args.methods.split(",")
    t0 = time.perf_counter()
    curves = load_suite(args.suite, data_dir=args.data_dir, tasks=args.tasks, limit=args.limit,
                        seed=args.seed)  # fmt: skip
    by_task: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(curves):
        by_task[str(c.meta.get("task", ""))].append(i)
    rows = []
    for task, idx in sorted(by_task.items()):
        rng = np.random.default_rng([args.seed, len(task)])
        targets = sorted(rng.choice(idx, min(args.targets, len(idx)), replace=False).tolist())
        for t in targets:
            others = [j for j in idx if j != t]
            order = np.random.default_rng([args.seed, t]).permutation(others).tolist()
            for k in ks:
                if k > len(others):
                    continue
                ctx = [curves[j] for j in order[:k]]  # the first k: nested across settings
                out, _ = evaluate_curve(curves[t], t, methods, CUTOFFS, args.seed, context=ctx)
                for r in out:
                    r["k"] = k
                    rows.append(r)
    print(f"{args.suite}: {len(curves)} curves, {len(by_task)} tasks, "
          f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
    table(rows, ks, methods)
    family_cells(rows, ks)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, default=float)


def table(rows: list[dict], ks: list[int], methods: list[str]) -> None:
    cells: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
    for r in rows:
        if r.get("error") or not math.isfinite(r.get("crps", math.nan)):
            continue
        cells[(r["k"], r["cutoff"], r["method"])].append((r["crps"], r["cover90"]))
    ref = {c: np.mean([v[0] for v in cells.get((0, c, "auto"), [(math.nan, 0)])])
           for c in CUTOFFS}  # fmt: skip
    last = {c: np.mean([v[0] for v in cells.get((0, c, "last_value"), [(math.nan, 0)])])
            for c in CUTOFFS}  # fmt: skip
    print("| context | method | " + " | ".join(f"{c:g}" for c in CUTOFFS) +
          " | mean vs alone | mean vs last | cover90 |")  # fmt: skip
    for k in ks:
        for m in methods:
            if m == "last_value" and k:
                continue
            crps = [np.mean([v[0] for v in cells[(k, c, m)]]) if cells[(k, c, m)] else math.nan
                    for c in CUTOFFS]  # fmt: skip
            cov = [v[1] for c in CUTOFFS for v in cells[(k, c, m)]]
            vs = np.nanmean([crps[i] / ref[c] - 1 for i, c in enumerate(CUTOFFS)])
            vl = np.nanmean([crps[i] / last[c] - 1 for i, c in enumerate(CUTOFFS)])
            print(f"| {k} | {m} | " + " | ".join(f"{v:.4g}" for v in crps) +
                  f" | {vs:+.0%} | {vl:+.0%} | {np.mean(cov):.2f} |")  # fmt: skip


def family_cells(rows: list[dict], ks: list[int], method: str = "auto") -> None:
    """Issue 24's count: per (family = task, cutoff) cell, the default's mean CRPS against the
    last observed value's mean absolute error and against the same curves' CRPS alone; tasks are
    never pooled, so losses of different scales do not swamp one another."""
    acc: dict[tuple, list[float]] = defaultdict(list)
    for r in rows:
        if r.get("error") or r.get("truth_diverged") or r.get("crps") is None:
            continue
        if not math.isfinite(r["crps"]):
            continue
        cell = (r["k"], r["task"], float(r["cutoff"]))
        if r["method"] == method:
            acc[("crps", *cell)].append(float(r["crps"]))
            acc[("cov", *cell)].append(float(r["cover90"]))
        if r["method"] == "last_value" and r["k"] == 0:
            acc[("lv", r["task"], float(r["cutoff"]))].append(float(r["abs_error"]))
    print("| context | cells | worse than last value | worse than alone | CRPS vs last value "
          "| CRPS vs alone | 90% coverage (cells) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for k in ks:
        keys = sorted({key[1:] for key in acc if key[0] == "crps" and key[1] == k})
        worse_lv = worse_alone = 0
        rel_lv, rel_alone, covs, cell_cov = [], [], [], []
        for cell in keys:
            crps = float(np.mean(acc[("crps", *cell)]))
            lv = float(np.mean(acc.get(("lv", *cell[1:]), [math.nan])))
            alone = float(np.mean(acc.get(("crps", 0, *cell[1:]), [math.nan])))
            worse_lv += crps > lv
            worse_alone += k > 0 and crps > alone * 1.0001
            if lv > 0:
                rel_lv.append(crps / lv - 1)
            if alone > 0:
                rel_alone.append(crps / alone - 1)
            covs.extend(acc[("cov", *cell)])
            cell_cov.append(float(np.mean(acc[("cov", *cell)])))
        if not keys:
            continue
        print(f"| {k} | {len(keys)} | {worse_lv} | {worse_alone if k else '-'} | "
              f"{np.mean(rel_lv):+.0%} | {np.mean(rel_alone):+.0%} | {np.mean(covs):.2f} "
              f"({min(cell_cov):.2f}-{max(cell_cov):.2f}) |")  # fmt: skip


if __name__ == "__main__":
    main()
