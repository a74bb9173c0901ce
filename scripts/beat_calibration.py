"""Is the pruner's P(final beats the incumbent) calibrated where it decides?

Replays a suite's searches through ``ForecastPruner()`` (sequential, as ``curvecast bench prune``
does) and records every forecast check: the chance the forecast gave the run of beating the
incumbent, whether the run was behind the same-step median, and whether its true final did beat
that incumbent. Prints, behind and ahead of the median and by the chance given, how many checks,
the mean chance and how often the run's final beat the incumbent, and where the true finals
fell among the forecast's quantiles (5/20/25/25/20/5% expected).

Usage:
    python scripts/beat_calibration.py SUITE [--tasks 3] [--orders 2] [--no-tilt]
        [--data-dir ../shared/data] [--log checks.jsonl]

``--no-tilt`` turns off the population tilt of the stacked forecast (``stacked.TILTS = (0,)``),
which is the code before it. docs/context.md ("Where the search's runs end") quotes it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

import curvecast.bench.prune_run as prune_run
from curvecast import Curve
from curvecast.bench.prune import _final
from curvecast.bench.prune_run import PruneConfig, run_prune_bench
from curvecast.forecast import stacked
from curvecast.pruning import ForecastRule, Verdict

_LEVELS = ("0.05", "0.25", "0.5", "0.75", "0.95")
_BINS = ((0.0, 0.05), (0.05, 0.2), (0.2, 0.5), (0.5, 1.01))


def _record(suite: str, tasks: int, orders: int, data_dir: str | None) -> list[dict[str, Any]]:
    """Every check of the default rule in the replays, with the run's true final."""
    current: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    plain_judge, plain_decide = prune_run.make_judge, ForecastRule.decide

    class Tracked:
        def __init__(self, judge: Any, curves: list[Curve]) -> None:
            self.judge, self.curves = judge, curves

        def start(self, trial_id: str) -> None:
            self.judge.start(trial_id)

        def complete(self, trial_id: str) -> None:
            self.judge.complete(trial_id)

        def report(self, trial_id: str, step: int, value: float) -> bool:
            current["final"] = _final(self.curves[int(trial_id)])
            return bool(self.judge.report(trial_id, step, value))

    def make_judge(name: str, curves: list[Curve], cost: Any = "report") -> Any:
        return Tracked(plain_judge(name, curves, cost), curves)

    def decide(self: ForecastRule, curve: Curve, **kw: Any) -> Verdict:
        v = plain_decide(self, curve, **kw)
        if v.prob_better is not None and v.incumbent is not None:
            rows.append({
                "p": v.prob_better, "gain": v.expected_gain, "behind": v.behind,
                "final": current["final"],
                "incumbent": v.incumbent, "direction": curve.direction,
                "quantiles": [v.final_quantiles[float(lv)] for lv in _LEVELS],
            })  # fmt: skip
        return v

    prune_run.make_judge = make_judge  # type: ignore[assignment]
    ForecastRule.decide = decide  # type: ignore[method-assign]
    try:
        cfg = PruneConfig(
            suites=(suite,), pruners=("curvecast",), configs=(100,), tasks=tasks,
            orders=orders, workers=(1,), n_boot=20, data_dir=data_dir,
        )  # fmt: skip
        run_prune_bench(cfg)
    finally:
        prune_run.make_judge, ForecastRule.decide = plain_judge, plain_decide  # type: ignore[method-assign]
    return rows


def _beats(r: dict[str, Any]) -> bool:
    f, inc = r["final"], r["incumbent"]
    return bool(f > inc if r["direction"] == "maximize" else f < inc)


def _pit_bin(r: dict[str, Any]) -> int:
    q, f = np.asarray(r["quantiles"]), r["final"]
    if r["direction"] == "minimize":
        q, f = -q[::-1], -f
    return int(np.searchsorted(q, f))


def _gain(r: dict[str, Any]) -> float:
    """The improvement the run's final made over the incumbent (0 if none)."""
    d = r["final"] - r["incumbent"]
    return max(d if r["direction"] == "maximize" else -d, 0.0)


def report(rows: list[dict[str, Any]]) -> None:
    print(
        "| where | chance given | checks | mean chance | final beat it | PIT bins (%) "
        "| expected gain / realised |"
    )
    print("|---|---|---|---|---|---|---|")
    for where, flag in (("behind the median", True), ("ahead of it", False)):
        for lo, hi in (*_BINS, (0.0, 1.01)):
            sel = [r for r in rows if r["behind"] is flag and lo <= r["p"] < hi]
            if not sel:
                continue
            p = float(np.mean([r["p"] for r in sel]))
            hit = float(np.mean([_beats(r) for r in sel]))
            pit = np.bincount([_pit_bin(r) for r in sel], minlength=6) / len(sel)
            bins = "/".join(f"{100 * v:.0f}" for v in pit)
            given = "all" if hi - lo > 1 else f"[{lo:g}, {min(hi, 1):g})"
            g = float(np.mean([r["gain"] for r in sel]))
            real = float(np.mean([_gain(r) for r in sel]))
            ratio = f"{g / real:.0f}x" if real > 0 else "- (none realised)"
            print(f"| {where} | {given} | {len(sel)} | {p:.3f} | {hit:.3f} | {bins} | {ratio} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suite")
    ap.add_argument("--tasks", type=int, default=3)
    ap.add_argument("--orders", type=int, default=2)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--no-tilt", action="store_true")
    ap.add_argument("--log", default=None, help="also write every check as JSON lines here")
    a = ap.parse_args()
    if a.no_tilt:
        stacked.TILTS = (0.0,)
    rows = _record(a.suite, a.tasks, a.orders, a.data_dir)
    if a.log:
        with open(a.log, "w") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)
    print(f"{a.suite}: {len(rows)} checks ({a.tasks} tasks, {a.orders} orders)"
          f"{', no tilt' if a.no_tilt else ''}")  # fmt: skip
    report(rows)


if __name__ == "__main__":
    main()
