"""The prune benchmark's simulator, judges and report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from curvecast import Curve
from curvecast.bench.prune import make_judge, replay

pytest.importorskip("optuna")


class Scripted:
    """Stops the trials in ``stop_at`` (trial id -> step index) and records the calls."""

    def __init__(self, stop_at: dict[str, int]) -> None:
        self.stop_at = stop_at
        self.seen: dict[str, int] = {}
        self.completed: list[str] = []

    def start(self, trial_id: str) -> None:
        self.seen[trial_id] = 0

    def report(self, trial_id: str, step: int, value: float) -> bool:
        self.seen[trial_id] += 1
        return self.stop_at.get(trial_id) == self.seen[trial_id]

    def complete(self, trial_id: str) -> None:
        self.completed.append(trial_id)


def _search(finals: list[float], n: int = 10) -> list[Curve]:
    x = np.arange(1.0, n + 1)
    return [Curve(x, f * (1 - 0.5 / x), bounds=(0, 1)) for f in finals]


def test_no_pruning_costs_everything_and_finds_the_best() -> None:
    curves = _search([0.5, 0.9, 0.7])
    r = replay(curves, Scripted({}), pruner="none", task="t", order=0, workers=2)
    assert r.points == r.points_full == 30 and r.speedup == 1.0
    assert r.regret == 0.0 and r.best_found == pytest.approx(0.9 * 0.95)


def test_pruning_the_best_trial_costs_regret() -> None:
    curves = _search([0.5, 0.9, 0.7])
    judge = Scripted({"1": 2, "2": 3})  # stop trial 1 (the best) after 2 points, trial 2 after 3
    r = replay(curves, judge, pruner="x", task="t", order=0, workers=3)
    assert r.points == 10 + 2 + 3 and r.n_pruned == 2
    assert judge.completed == ["0"]
    assert r.regret == pytest.approx((0.9 - 0.5) * 0.95)
    assert r.rel_regret == pytest.approx(r.regret / (0.9 * 0.95))
    assert r.speedup == pytest.approx(30 / 15)


def test_a_diverged_curve_is_counted_and_never_the_best() -> None:
    curves = _search([0.5, 0.6])
    y = np.array(curves[1].y)
    y[5:] = math.nan
    curves[1] = Curve(curves[1].x, y, bounds=(0, 1))
    r = replay(curves, Scripted({}), pruner="none", task="t", order=0)
    assert r.n_diverged == 1 and r.best_possible == pytest.approx(0.5 * 0.95)
    assert r.regret == 0.0


@pytest.mark.parametrize(
    "name", ["median", "successive_halving", "hyperband", "curvecast", "curvecast:last_value"]
)
def test_real_pruners_prune_a_clearly_bad_search(name: str) -> None:
    rng = np.random.default_rng(0)
    finals = [0.9, *rng.uniform(0.1, 0.3, 15).tolist()]
    r = replay(
        _search(finals, n=20),
        make_judge(name, _search(finals, n=20)),
        pruner=name,
        task="t",
        order=0,
        workers=1,
    )
    assert r.n_pruned > 0 and r.speedup > 1.0
    assert r.regret == 0.0  # the best config runs first and completes


def test_bench_prune_cli_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from curvecast.cli import main

    out = tmp_path / "out"
    rc = main(
        [
            "bench",
            "prune",
            "--suite",
            "fixture",
            "--pruners",
            "none,median,curvecast,curvecast@0.3",
            "--orders",
            "1",
            "--configs",
            "4,100",
            "--workers",
            "1,4",
            "--out",
            str(out),
            "--n-boot",
            "50",
        ]
    )
    assert rc == 0
    md = (out / "prune.md").read_text()
    for pruner in ("none", "median", "curvecast", "curvecast@0.3"):
        assert f"| {pruner} |" in md
    assert "## Targets (curvecast)" in md and "command:" in md
    for setting in ("sequential", "4 workers"):
        for size in ("4", "100 (all: 5)"):
            assert f"## fixture, {setting}, {size} configurations" in md
            assert f"- **fixture**, {setting}, {size} configurations, curvecast:" in md
            assert f"| fixture | {setting} | {size} |" in md  # the summary table
    assert "100: n/a, the largest search has 5 runs; all used" in md
    data = json.loads((out / "prune.json").read_text())
    rows = data["rows"]
    assert {r["pruner"] for r in rows} == {"none", "median", "curvecast", "curvecast@0.3"}
    assert len(rows) == 3 * 1 * 4 * 2 * 2  # tasks x orders x pruners x settings x sizes
    assert {(r["workers"], r["size"]) for r in rows} == {(1, 4), (4, 4), (1, 100), (4, 100)}
    assert {r["n_trials"] for r in rows if r["size"] == 4} == {4}
    assert all(r["compute_speedup"] == r["speedup"] for r in rows)  # 1 per report
    assert (out / "prune_regret.png").stat().st_size > 1000
    assert (out / "prune_frontier.png").stat().st_size > 1000
    assert "| curvecast |" in capsys.readouterr().out


def test_curvecast_with_a_method_uses_that_method() -> None:
    judge = make_judge("curvecast:last_value", _search([0.5, 0.6]))
    assert judge.study.pruner.rule.method == "last_value"
    judge = make_judge("curvecast:last_value@0.25", _search([0.5, 0.6]))
    assert judge.study.pruner.rule.threshold == 0.25
    assert make_judge("curvecast@0.4", _search([0.5, 0.6])).study.pruner.rule.method == "auto"
    with pytest.raises(KeyError):
        make_judge("optuna:median", _search([0.5, 0.6]))


def test_bench_prune_rejects_unknown_pruner(capsys: pytest.CaptureFixture[str]) -> None:
    from curvecast.cli import main

    with pytest.raises(SystemExit) as info:
        main(["bench", "prune", "--suite", "fixture", "--pruners", "median,clairvoyant"])
    assert info.value.code == 2
    assert "clairvoyant" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["bench", "prune", "--suite", "fixture", "--pruners", "curvecast:magic"])
    assert info.value.code == 2
    assert "curvecast:METHOD" in capsys.readouterr().err
    for bad in ("curvecast@1.5", "curvecast@often", "curvecast:pfn@0"):
        with pytest.raises(SystemExit) as info:
            main(["bench", "prune", "--suite", "fixture", "--pruners", bad])
        assert info.value.code == 2
        assert "THRESHOLD in (0, 1)" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["prune", "anytime"])
def test_the_fixture_suite_runs_alone(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    from curvecast.cli import main

    assert main(["bench", command, "--suite", "fixture,lcdb"]) == 2
    assert f"curvecast bench {command}: error: run the fixture suite on its own" in (
        capsys.readouterr().err
    )


def test_a_search_that_completes_nothing_scores_the_worst_final() -> None:
    curves = _search([0.5, 0.9, 0.7])
    judge = Scripted({"0": 1, "1": 1, "2": 1})  # every trial stopped at its first point
    r = replay(curves, judge, pruner="x", task="t", order=0)
    assert r.regret == pytest.approx((0.9 - 0.5) * 0.95)
    assert math.isfinite(r.rel_regret)


def test_oracle_keeps_only_the_best_and_stops_the_rest_at_their_first_point() -> None:
    curves = _search([0.5, 0.9, 0.7, 0.9 - 1e-9])
    r = replay(curves, make_judge("oracle", curves), pruner="oracle", task="t", order=0)
    assert r.regret == 0.0 and r.n_pruned == 3
    assert r.points == 10 + 3 and r.speedup == pytest.approx(40 / 13)


def test_each_replayed_trial_carries_its_own_budget_for_curvecast() -> None:
    short = Curve(np.arange(1.0, 4), [0.5, 0.6, 0.62], bounds=(0, 1))
    long = Curve(np.arange(1.0, 9), np.linspace(0.3, 0.8, 8), bounds=(0, 1))
    planned = Curve(
        np.arange(1.0, 4), [0.4, 0.5, math.nan], bounds=(0, 1), meta={"total_epochs": 6}
    )
    judge = make_judge("curvecast:last_value", [short, long, planned])
    replay([short, long, planned], judge, pruner="c", task="t", order=0, workers=3)
    budgets = {t.number: t.user_attrs["max_step"] for t in judge.study.trials}
    assert budgets == {0: 3, 1: 8, 2: 6}
    from curvecast.integrations.optuna import verdicts

    horizons = {v.horizon for v in verdicts(judge.study.trials[1])}
    assert horizons == {8.0}
