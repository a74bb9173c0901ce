"""The issue's targets, checked on aggregates where the answer is known."""

from __future__ import annotations

from typing import Any

import pytest

from curvecast.bench.aggregate import Interval
from curvecast.bench.prune_report import check_targets, readme_table
from curvecast.bench.prune_run import PruneConfig, PruneResult


def _agg(
    pruner: str,
    points: float,
    compute: float,
    regret: float,
    kept: float = 1.0,
    *,
    suite: str = "s",
    workers: int = 1,
    size: int = 100,
) -> dict[str, Any]:
    def iv(v: float) -> Interval:
        return Interval(v, v * 0.9, v * 1.1, 10)

    return {
        "suite": suite, "workers": workers, "size": size, "pruner": pruner, "replays": 10,
        "tasks": 5, "speedup_median": iv(points), "speedup_iqm": iv(points),
        "compute_speedup_median": iv(compute), "regret_mean": iv(regret),
        "rel_regret_mean": iv(regret), "best_kept": kept, "pruned_share": 0.5,
        "seconds_per_replay": 0.1,
    }  # fmt: skip


def _baselines(**at: Any) -> list[dict[str, Any]]:
    return [
        _agg("median", 3.0, 3.0, 0.01, **at),
        _agg("successive_halving", 6.0, 8.0, 0.05, **at),
        _agg("hyperband", 4.0, 5.0, 0.02, **at),
        _agg("asha", 6.0, 7.0, 0.04, **at),
        _agg("oracle", 20.0, 40.0, 0.0, **at),
    ]


def _status(targets: list[Any], pruner: str, name: str) -> str:
    (t,) = [t for t in targets if t.pruner == pruner and t.name == name]
    return str(t.status)


def test_a_pruner_that_dominates_every_baseline_passes_every_target() -> None:
    targets = check_targets([*_baselines(), _agg("curvecast", 8.0, 15.0, 0.005, 0.95)])
    assert {t.name for t in targets} == {
        "Pareto-better than median", "Pareto-better than successive_halving",
        "Pareto-better than hyperband", "Pareto-better than asha",
        ">= 5x in points", ">= 5x in compute", "within 3x of the oracle in points",
        "within 3x of the oracle in compute", "best kept in >= 90%",
    }  # fmt: skip
    assert all(t.status == "PASS" for t in targets), [t.line() for t in targets]


def test_misses_say_which_axis_and_by_how_much() -> None:
    # more points saved than SH but less compute, and more regret than median
    cc = _agg("curvecast:x", 7.0, 4.0, 0.02, 0.8)
    targets = check_targets([*_baselines(), cc])
    by = {t.name: t for t in targets}
    sh = by["Pareto-better than successive_halving"]
    assert (
        sh.status == "MISS"
        and "compute 2.00x short" in sh.text
        and "points" not in sh.text[sh.text.index(":") :]
    )
    assert sh.text.endswith("a trade-off")  # less compute saved, at less regret
    med = by["Pareto-better than median"]
    assert med.status == "MISS" and "regret +0.01 above" in med.text
    worse = check_targets([*_baselines(), _agg("curvecast", 2.0, 2.0, 0.06)])
    (t,) = [t for t in worse if t.name == "Pareto-better than successive_halving"]
    assert t.text.endswith("dominated")
    assert by["Pareto-better than hyperband"].status == "MISS"  # compute 4 < 5
    assert by[">= 5x in points"].status == "PASS"
    assert by[">= 5x in compute"].status == "MISS" and "1.25x short" in by[">= 5x in compute"].text
    assert by["within 3x of the oracle in compute"].status == "MISS"  # 4 * 3 < 40
    assert by["within 3x of the oracle in points"].status == "PASS"  # 7 * 3 >= 20
    assert (
        by["best kept in >= 90%"].status == "MISS" and "10% short" in by["best kept in >= 90%"].text
    )


def test_the_5x_target_only_applies_where_the_oracle_allows_10x() -> None:
    agg = [_agg("oracle", 8.0, 9.0, 0.0), _agg("curvecast", 3.0, 3.0, 0.0)]
    targets = check_targets(agg)
    assert _status(targets, "curvecast", ">= 5x in points") == "n/a"
    assert _status(targets, "curvecast", "within 3x of the oracle in points") == "PASS"


def test_targets_are_checked_per_suite_setting_and_size_and_only_for_curvecast() -> None:
    agg = [
        *_baselines(workers=1), _agg("curvecast", 8.0, 15.0, 0.0, workers=1),
        *_baselines(workers=4), _agg("curvecast", 2.0, 2.0, 0.0, workers=4),
    ]  # fmt: skip
    targets = check_targets(agg)
    assert {t.pruner for t in targets} == {"curvecast"}
    seq = [t for t in targets if t.workers == 1]
    par = [t for t in targets if t.workers == 4]
    assert all(t.status == "PASS" for t in seq)
    assert _status(par, "curvecast", "Pareto-better than median") == "MISS"


def test_readme_table_has_one_row_per_suite_setting_size() -> None:
    cfg = PruneConfig(suites=("s", "t"), workers=(1, 4), configs=(100, 1000))
    result = PruneResult(cfg)
    result.sizes = {"s": {100: "", 1000: ""}, "t": {100: "all 20", 1000: "skip 100"}}
    result.runs = {"s": [1000], "t": [12, 25]}
    agg = []
    for w in (1, 4):
        for suite, size in (("s", 100), ("s", 1000), ("t", 100)):
            agg += [
                *_baselines(suite=suite, workers=w, size=size),
                _agg("curvecast", 8.0, 15.0, 0.0, suite=suite, workers=w, size=size),
            ]
    lines = readme_table(result, agg)
    assert lines[0].startswith("| suite | setting | configs | median | successive_halving")
    assert len(lines) == 2 + 2 * 2 * 2
    assert "| s | sequential | 1000 | 3x / 3x, 0.01 |" in "\n".join(lines)
    assert "| t | 4 workers | 100 (all: 20) |" in "\n".join(lines)
    assert "| t | sequential | 1000 | n/a: the largest search has 20 runs (see 100) |" in lines
    assert lines[2].endswith("| 100% | 9/9 |")


@pytest.mark.parametrize("kept", [0.89, 0.9])
def test_best_kept_threshold_is_inclusive(kept: float) -> None:
    targets = check_targets([_agg("curvecast", 2.0, 2.0, 0.0, kept)])
    assert _status(targets, "curvecast", "best kept in >= 90%") == (
        "PASS" if kept >= 0.9 else "MISS"
    )
