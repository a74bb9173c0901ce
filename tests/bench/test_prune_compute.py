"""bench prune counts compute as well as points, replays several settings and sizes."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import pytest

from curvecast import Curve
from curvecast.bench.prune import SUITE_COST, make_judge, replay, report_costs
from curvecast.bench.prune_run import PruneConfig, _sizes, run_prune_bench

pytest.importorskip("optuna")


class StopAt:
    """Stops trial ``i`` at its ``stop_at[i]``-th report; records how many ran at once."""

    def __init__(self, stop_at: dict[str, int]) -> None:
        self.stop_at = stop_at
        self.seen: dict[str, int] = {}
        self.running: set[str] = set()
        self.most_at_once = 0

    def start(self, trial_id: str) -> None:
        self.seen[trial_id] = 0
        self.running.add(trial_id)
        self.most_at_once = max(self.most_at_once, len(self.running))

    def report(self, trial_id: str, step: int, value: float) -> bool:
        self.seen[trial_id] += 1
        stop = self.stop_at.get(trial_id) == self.seen[trial_id]
        if stop:
            self.running.discard(trial_id)
        return stop

    def complete(self, trial_id: str) -> None:
        self.running.discard(trial_id)


def _lcdb_like(finals: list[float]) -> list[Curve]:
    """Curves on LCDB-like anchors 16, 32, 64, 128 (maximise)."""
    x = np.array([16.0, 32.0, 64.0, 128.0])
    return [Curve(x, f * (1 - 2 / np.sqrt(x)), bounds=(0, 1)) for f in finals]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("report", [1.0, 1.0, 1.0, 1.0]),
        ("step", [16.0, 16.0, 32.0, 64.0]),
        ("anchor", [16.0, 32.0, 64.0, 128.0]),
    ],
)
def test_report_costs_of_each_kind(kind: Any, expected: list[float]) -> None:
    assert report_costs([16, 32, 64, 128], kind).tolist() == expected


def test_report_costs_rejects_unknown_kinds_and_decreasing_steps() -> None:
    with pytest.raises(ValueError, match="report, step, anchor"):
        report_costs([1, 2], "flops")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="increasing"):
        report_costs([5, 3], "step")


@pytest.mark.parametrize(
    ("cost", "compute", "full"),
    [
        # trial 0 runs to the end (4 reports), trial 1 stops at its 1st, trial 2 at its 2nd
        ("report", 4 + 1 + 2, 12),
        ("step", 128 + 16 + 32, 3 * 128),
        ("anchor", (16 + 32 + 64 + 128) + 16 + (16 + 32), 3 * 240),
    ],
)
def test_replay_counts_compute_as_the_cost_says(cost: Any, compute: float, full: float) -> None:
    curves = _lcdb_like([0.9, 0.5, 0.7])
    r = replay(
        curves, StopAt({"1": 1, "2": 2}), pruner="x", task="t", order=0, workers=2, cost=cost
    )
    assert r.points == 7 and r.points_full == 12
    assert r.compute == compute and r.compute_full == full
    assert r.compute_speedup == pytest.approx(full / compute)
    assert r.to_dict()["compute_speedup"] == r.compute_speedup
    # the trace counts compute at each trial's end, and ends at the total
    assert r.trace[-1][:2] == (7, compute)


def test_late_stops_save_more_compute_than_points_when_late_reports_cost_more() -> None:
    curves = _lcdb_like([0.9, 0.5, 0.7, 0.6])
    judge = StopAt({"1": 2, "2": 2, "3": 2})  # stop the others before their two dear anchors
    r = replay(curves, judge, pruner="x", task="t", order=0, cost="anchor")
    assert r.compute_speedup > r.speedup > 1.0


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_workers_sets_the_trials_in_flight(workers: int) -> None:
    curves = _lcdb_like([0.9, 0.5, 0.7, 0.6, 0.8])
    judge = StopAt({})
    r = replay(curves, judge, pruner="x", task="t", order=0, workers=workers)
    assert judge.most_at_once == workers and r.workers == workers
    with pytest.raises(ValueError, match="workers"):
        replay(curves, StopAt({}), pruner="x", task="t", order=0, workers=0)


def test_sequential_median_sees_every_earlier_trial_complete() -> None:
    # with one trial at a time, MedianPruner compares each trial with all earlier ones, so a
    # search of bad trials after 5 good ones prunes each of them at once; with all 10 in
    # flight, the bad ones see the good ones complete only at their own last report
    finals = [0.9] * 5 + [0.2] * 5
    seq = replay(
        _lcdb_like(finals), make_judge("median", _lcdb_like(finals)), pruner="median",
        task="t", order=0, workers=1,
    )  # fmt: skip
    par = replay(
        _lcdb_like(finals), make_judge("median", _lcdb_like(finals)), pruner="median",
        task="t", order=0, workers=10,
    )  # fmt: skip
    assert seq.n_pruned == 5 and seq.points == 5 * 4 + 5
    assert par.points == par.points_full == 40


class _Recorder:
    kwargs: ClassVar[dict[str, Any]] = {}


def _fake_pruner() -> type:
    import optuna

    class Fake(optuna.pruners.NopPruner):
        def __init__(self, *args: Any, step_cost: Any = None, **kwargs: Any) -> None:
            _Recorder.kwargs = {"args": args, "step_cost": step_cost, **kwargs}

    return Fake


def test_the_curvecast_judge_passes_the_suites_cost_as_step_cost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import curvecast.integrations.optuna as integration

    monkeypatch.setattr(integration, "ForecastPruner", _fake_pruner())
    curves = _lcdb_like([0.5, 0.6])
    make_judge("curvecast", curves, "anchor")
    assert _Recorder.kwargs["step_cost"](64) == 64.0
    assert _Recorder.kwargs["args"] == ()  # no threshold: the pruner's own default rule
    make_judge("curvecast@0.2", curves, "step")
    assert _Recorder.kwargs["step_cost"] == "step" and _Recorder.kwargs["args"] == (0.2,)
    make_judge("curvecast", curves, "report")
    assert _Recorder.kwargs["step_cost"] is None


def test_the_real_forecast_pruner_gets_the_cost() -> None:
    curves = _lcdb_like([0.5, 0.6])
    rule = make_judge("curvecast", curves, "anchor").study.pruner.rule  # type: ignore[attr-defined]
    assert rule.step_cost(64) == 64.0 and rule.threshold is None
    rule = make_judge("curvecast@0.2", curves, "step").study.pruner.rule  # type: ignore[attr-defined]
    assert rule.step_cost == "step" and rule.threshold == 0.2


def test_every_shipped_suite_has_a_cost_rule() -> None:
    from curvecast.bench.sources import SUITES

    assert set(SUITES) == set(SUITE_COST)
    assert SUITE_COST["lcdb"] == "anchor" and SUITE_COST["scanbench-llm"] == "step"


def test_sizes_cut_searches_and_say_where_a_suite_has_too_few_runs() -> None:
    searches = [[None] * 5, [None] * 8]  # type: ignore[list-item]
    assert _sizes(searches, (4, 100, 1000)) == {4: "", 100: "all 8", 1000: "skip 100"}
    assert _sizes(searches, (8, 9)) == {8: "", 9: "all 8"}
    assert _sizes(searches, (7, 2)) == {2: "", 7: ""}


def test_run_prune_bench_replays_every_setting_and_size_once() -> None:
    from curvecast.bench.runner import fixture_curves

    cfg = PruneConfig(
        suites=("fixture",), pruners=("none", "median", "oracle"), configs=(4, 100, 1000),
        orders=2, workers=(1, 3), n_boot=20,
    )  # fmt: skip
    result = run_prune_bench(cfg, fixture={"fixture": fixture_curves(0)})
    keys = {(r["workers"], r["size"]) for r in result.rows}
    assert keys == {(1, 4), (3, 4), (1, 100), (3, 100)}  # 1000 is the same search as 100
    assert result.sizes["fixture"] == {4: "", 100: "all 5", 1000: "skip 100"}
    assert result.runs["fixture"] == [5, 5, 5]
    assert len(result.rows) == 3 * 2 * 3 * 2 * 2  # tasks x orders x pruners x settings x sizes
    assert {r["n_trials"] for r in result.rows if r["size"] == 4} == {4}
    for r in result.rows:
        assert r["compute"] <= r["compute_full"] and math.isfinite(r["compute_speedup"])
    # the same orders for every pruner: the oracle and none see the same searches
    nones = {(r["task"], r["order"], r["workers"], r["size"]): r for r in result.rows
             if r["pruner"] == "none"}  # fmt: skip
    for r in result.rows:
        if r["pruner"] == "oracle":
            other = nones[(r["task"], r["order"], r["workers"], r["size"])]
            assert r["best_possible"] == other["best_possible"]
            assert r["points_full"] == other["points_full"]


def test_run_prune_bench_in_processes_gives_the_same_rows() -> None:
    from curvecast.bench.runner import fixture_curves

    cfg = PruneConfig(
        suites=("fixture",), pruners=("none", "median"), configs=(5,), orders=1,
        workers=(1, 4), n_boot=20,
    )  # fmt: skip
    fixture = {"fixture": fixture_curves(0)}
    one = run_prune_bench(cfg, fixture=fixture)
    two = run_prune_bench(PruneConfig(**{**cfg.__dict__, "jobs": 2}), fixture=fixture)

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r["task"], r["order"], r["workers"], r["size"], r["pruner"])

    strip = ("seconds",)
    a = sorted(({k: v for k, v in r.items() if k not in strip} for r in one.rows), key=key)
    b = sorted(({k: v for k, v in r.items() if k not in strip} for r in two.rows), key=key)
    assert a == b
