"""Replay public suites with a variant of the default pruning rule: MedianPruner's comparison first.

The default (``ForecastRule``, ``same_step=True``) stops a run behind the same-step median only
when the forecast's compute rule agrees. The variant measured here (docs/context.md, "Measured
again this round") instead stops such a run at any report unless its forecast gives it a chance
of at least ``--rescue`` of beating the incumbent; ``--no-ahead`` drops the confident stops of
runs ahead of the median; ``--population`` adds the runs stopped ahead of the median (their
reports up to their stop) to the runs the same-step median is taken over.

Usage:
    python scripts/median_first_variant.py SUITE [--rescue 0.2] [--no-ahead] [--population]
        [--data-dir ../shared/data] [--default] [--ahead-bar P] [--ahead-min-points N]
        [--tasks 3] [--orders 2]

``--default`` runs the shipped rule (no variant) through the same code, for comparison.
``--ahead-bar`` sets the chance below which a run ahead of the median may stop (the shipped 1%),
``--ahead-min-points`` the reports it needs first (the shipped rule now needs 2; the option
reproduces that on earlier code), with any of the above. Prints
the median speedup in points, the mean relative regret and the share of orders that kept the best
configuration, for MedianPruner and for the rule (3 tasks, 2 orders, up to 100 configurations,
sequential: the configuration of the public pruning table in docs/context.md).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

import curvecast.pruning._rule as rule_module
from curvecast import Curve
from curvecast.bench.prune_run import PruneConfig, run_prune_bench
from curvecast.integrations import optuna as optuna_adapter
from curvecast.pruning import ForecastRule, Verdict


def _patch(rescue: float, ahead: bool, population: bool) -> None:
    extra: dict[int, list[Curve]] = defaultdict(list)
    current: dict[str, Any] = {}
    plain_median = rule_module.same_step_median
    plain_decide = ForecastRule.decide
    plain_check = ForecastRule.is_check_point
    plain_prune = optuna_adapter.ForecastPruner.prune

    def median(
        curve: Curve, context: Sequence[Curve], horizon: float, min_runs: int = 5
    ) -> float | None:
        runs = [*context, *extra.get(current.get("study", -1), [])] if population else context
        return plain_median(curve, runs, horizon, min_runs)

    def behind(curve: Curve, context: Sequence[Curve], horizon: float | None) -> bool:
        if horizon is None or not np.isfinite(horizon):
            return False
        m = rule_module.same_step_median(curve, context, float(horizon))
        if m is None:
            return False
        y = curve.observed_y
        return float(y.max()) < m if curve.direction == "maximize" else float(y.min()) > m

    def decide(self: ForecastRule, curve: Curve, **kw: Any) -> Verdict:
        step, horizon, inc = float(curve.x[-1]), kw.get("horizon"), kw.get("incumbent")
        off_check = not plain_check(self, curve.n_observed) and not curve.diverged
        if off_check and (
            curve.n_observed < 2 or not behind(curve, kw.get("context", ()), horizon)
        ):
            return Verdict("continue", "between_checks", step, horizon, inc)
        v = plain_decide(self, curve, **kw)
        if v.behind and v.prob_better is not None:
            stop = v.prob_better < rescue
            v = dataclasses.replace(
                v,
                decision="stop" if stop else "continue",
                reason="hopeless" if stop else "promising",
            )
        elif not ahead and v.decision == "stop" and v.behind is False:
            v = dataclasses.replace(v, decision="continue", reason="promising")
        current["last"] = (v, curve)
        return v

    def prune(self: Any, study: Any, trial: Any) -> bool:
        current["study"], current["last"] = id(study._storage), None
        out = bool(plain_prune(self, study, trial))
        last = current.get("last")
        if out and last is not None and last[0].behind is False:
            extra[current["study"]].append(last[1])
        return out

    rule_module.same_step_median = median
    ForecastRule.decide = decide
    ForecastRule.is_check_point = lambda self, n: True
    optuna_adapter.ForecastPruner.prune = prune


def _patch_min_points(points: int) -> None:
    plain_decide = ForecastRule.decide

    def decide(self: ForecastRule, curve: Curve, **kw: Any) -> Verdict:
        v = plain_decide(self, curve, **kw)
        if v.decision == "stop" and v.behind is False and curve.n_observed < points:
            v = dataclasses.replace(v, decision="continue", reason="promising")
        return v

    ForecastRule.decide = decide


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("suite")
    p.add_argument("--rescue", type=float, default=0.2)
    p.add_argument("--no-ahead", action="store_true")
    p.add_argument("--population", action="store_true")
    p.add_argument("--default", action="store_true", help="the shipped rule, no variant")
    p.add_argument(
        "--ahead-bar", type=float, default=None,
        help="the chance below which a run ahead of the median may stop (default: the shipped 1%%)",
    )  # fmt: skip
    p.add_argument(
        "--ahead-min-points", type=int, default=None,
        help="a run ahead of the median stops only once it has reported this many points",
    )  # fmt: skip
    p.add_argument("--tasks", type=int, default=3)
    p.add_argument("--orders", type=int, default=2)
    p.add_argument("--data-dir", default="../shared/data")
    a = p.parse_args()
    if a.ahead_bar is not None:
        rule_module.CONFIDENT_STOP_PROBABILITY = a.ahead_bar
    if a.ahead_min_points is not None:
        _patch_min_points(a.ahead_min_points)
    if not a.default:
        _patch(a.rescue, not a.no_ahead, a.population)
    cfg = PruneConfig(
        suites=(a.suite,),
        pruners=("none", "median", "curvecast"),
        configs=(100,),
        tasks=a.tasks,
        orders=a.orders,
        workers=(1,),
        n_boot=50,
        data_dir=a.data_dir,
    )
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in run_prune_bench(cfg).rows:
        rows[r["pruner"]].append(r)
    label = "default" if a.default else (
        f"rescue {a.rescue}" + (", no stop ahead" if a.no_ahead else "")
        + (", population" if a.population else "")
    )  # fmt: skip
    if a.ahead_bar is not None:
        label += f", ahead bar {a.ahead_bar:g}"
    if a.ahead_min_points is not None:
        label += f", ahead from {a.ahead_min_points} points"
    for name in ("median", "curvecast"):
        rs = rows[name]
        print(
            f"{a.suite} [{label}] {name}: speedup {np.median([r['speedup'] for r in rs]):.2f}x, "
            f"relative regret {np.mean([r['rel_regret'] for r in rs]):.4f}, "
            f"best kept {np.mean([r['regret'] == 0 for r in rs]):.0%} ({len(rs)} replays)"
        )


if __name__ == "__main__":
    main()
