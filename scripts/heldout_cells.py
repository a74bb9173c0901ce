"""Per-(family, cutoff) cells of ``curvecast bench forecast`` results, as issue 24 counts them.

A family is one task (one search) of a suite; a cell is (family, cutoff). For each cell the mean
CRPS of a method's forecast of the final value is set against the mean absolute error of the last
observed value (what ``last_value`` predicts) and against ``pow4``'s mean CRPS. Tasks are never
pooled, so losses of different scales (log-loss and l2 in ``heldout-gbm``) do not swamp one
another as they do in the report's suite-wide means.

Usage::

    python scripts/heldout_cells.py bench-out/heldout-gbm-0/results.json [more results.json] \
        [--method auto]

Prints, per results file and method, one line per family and a summary line: cells better than
both last value and pow4, cells worse than last value, the mean over cells of the CRPS relative
to last value's absolute error, and the 90% coverage over all forecasts (and its range over
cells).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np


def cells(rows: list[dict[str, Any]], method: str) -> dict[tuple[str, float], dict[str, float]]:
    """(task, cutoff) -> mean CRPS of ``method``, last value's mean abs error, pow4's mean CRPS,
    90% coverage of ``method`` and the number of curves (rows with a finite truth only)."""
    acc: dict[tuple[str, float], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.get("error") or r.get("truth_diverged") or r.get("crps") is None:
            continue
        key = (r["task"], float(r["cutoff"]))
        if r["method"] == method:
            acc[key]["crps"].append(float(r["crps"]))
            acc[key]["cover90"].append(float(r["cover90"]))
        if r["method"] == "last_value":
            acc[key]["lv"].append(float(r["abs_error"]))
        if r["method"] == "pow4":
            acc[key]["pow4"].append(float(r["crps"]))
    out = {}
    for key, v in acc.items():
        if not v["crps"] or not v["lv"]:
            continue
        out[key] = {
            "crps": float(np.mean(v["crps"])),
            "lv": float(np.mean(v["lv"])),
            "pow4": float(np.mean(v["pow4"])) if v["pow4"] else float("nan"),
            "cover90": float(np.mean(v["cover90"])),
            "n": float(len(v["crps"])),
        }
    return out


def summarize(path: Path, method: str) -> list[str]:
    doc = json.loads(path.read_text())
    table = cells(doc["rows"], method)
    lines = [f"{doc['environment']['command']}  [{method}]"]
    by_task: dict[str, list[tuple[float, dict[str, float]]]] = defaultdict(list)
    for (task, cutoff), c in sorted(table.items()):
        by_task[task].append((cutoff, c))
    for task, cs in by_task.items():
        parts = [f"@{cut:g} {c['crps']:.4g}/{c['lv']:.4g} cov {c['cover90']:.2f}" for cut, c in cs]
        lines.append(f"  {task} (CRPS/last-value abs err): " + "; ".join(parts))
    vals = list(table.values())
    if not vals:
        return [*lines, "  no cells"]
    better = sum(c["crps"] < c["lv"] and c["crps"] < c["pow4"] for c in vals)
    worse = sum(c["crps"] > c["lv"] for c in vals)
    rel = np.mean([c["crps"] / c["lv"] - 1.0 for c in vals if c["lv"] > 0])
    n = sum(c["n"] for c in vals)
    cov = sum(c["cover90"] * c["n"] for c in vals) / n
    lo, hi = min(c["cover90"] for c in vals), max(c["cover90"] for c in vals)
    lines.append(
        f"  {len(vals)} cells: {better} better than last value and pow4, {worse} worse than "
        f"last value; CRPS vs last value {rel:+.0%}; 90% coverage {cov:.2f} "
        f"(cells {lo:.2f}-{hi:.2f})"
    )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("results", nargs="+", type=Path, help="results.json of bench forecast")
    ap.add_argument("--method", default="auto")
    args = ap.parse_args()
    for path in args.results:
        print("\n".join(summarize(path, args.method)))


if __name__ == "__main__":
    main()
