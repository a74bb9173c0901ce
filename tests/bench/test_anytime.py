"""The anytime benchmark: compute accounting, regret against compute, the pausing controller."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from curvecast import Curve, InvalidParameterError
from curvecast.bench.anytime import AnytimeTrace, replay_anytime


def _search(finals: list[float], n: int = 12) -> list[Curve]:
    x = np.arange(1.0, n + 1)
    return [Curve(x, f * (1 - 0.5 / x), bounds=(0, 1)) for f in finals]


def test_without_pruning_the_whole_budget_is_spent_in_order() -> None:
    curves = _search([0.5, 0.9, 0.7])  # 36 epochs in all
    tr = replay_anytime(curves, "none", suite="fixture", budget=1.0)
    assert tr.compute_full == 36 and [c for c, _, _ in tr.trace] == list(range(1, 37))
    # nothing completed before epoch 12; the best (second) completes at 24
    assert math.isnan(tr.trace[10][1]) and tr.trace[11][1] == pytest.approx(0.5 * (1 - 0.5 / 12))
    assert tr.regret_at(23 / 36) > 0 and tr.regret_at(24 / 36) == 0
    # the best value *seen* is ahead of the best completed one
    assert tr.regret_at(14 / 36, seen=True) < tr.regret_at(14 / 36)


def test_the_budget_bounds_the_compute_and_lcdb_pays_each_anchor() -> None:
    x = np.array([16.0, 32.0, 64.0, 128.0])
    curves = [Curve(x, f - 0.1 * 16 / x, bounds=(0, 1)) for f in (0.6, 0.8, 0.7)]
    tr = replay_anytime(curves, "none", suite="lcdb", budget=0.5)
    assert tr.compute_full == 3 * (16 + 32 + 64 + 128)  # every anchor trains from scratch
    used = [c for c, _, _ in tr.trace]
    assert used[:4] == [16, 48, 112, 240] and used[-2] < 0.5 * tr.compute_full <= used[-1]
    step = replay_anytime(curves, "none", suite="schedules", budget=1.0)
    assert step.compute_full == 3 * 128  # the step axis is the compute


def test_freeze_thaw_stays_within_the_budget_and_finds_the_best() -> None:
    curves = _search([0.55, 0.6, 0.5, 0.58, 0.52, 0.57, 0.9, 0.56])  # the best comes 7th
    tr = replay_anytime(curves, "freeze_thaw", suite="fixture", budget=0.75)
    used = [c for c, _, _ in tr.trace]
    assert used == sorted(used) and used[-2] < 0.75 * tr.compute_full <= used[-1]
    none = replay_anytime(curves, "none", suite="fixture", budget=0.75)
    assert tr.regret_at(0.75) == 0 < none.regret_at(0.75)  # in order, it comes at 0.875


def test_auc_and_regret_of_a_known_trace() -> None:
    tr = AnytimeTrace("m", "t", 0, 10.0, 1.0, 0.0, 0.0, [(2.0, math.nan, 0.8), (5.0, 0.5, 0.9)])
    assert tr.regret_at(0.1) == 1.0  # nothing yet: the worst final
    assert tr.regret_at(0.2) == 1.0 and tr.regret_at(0.2, seen=True) == pytest.approx(0.2)
    assert tr.regret_at(0.5) == 0.5
    # normalised regret 1 on [0, 0.5), 0.5 on [0.5, 1.0]: mean 0.75
    assert tr.auc(1.0) == pytest.approx(0.75)
    assert tr.auc(0.5) == pytest.approx(1.0)


def test_unknown_method_and_bad_budget_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="'method'"):
        replay_anytime(_search([0.5]), "clairvoyant", suite="fixture")
    with pytest.raises(InvalidParameterError, match="'budget'"):
        replay_anytime(_search([0.5]), "none", suite="fixture", budget=1.5)


def test_ray_hyperband_pauses_and_resumes_through_the_stand_in_controller() -> None:
    pytest.importorskip("ray.tune")
    finals = [0.5 + 0.04 * ((5 * i) % 9) for i in range(9)]
    x = np.arange(1.0, 28)
    curves = [Curve(x, f * (1 - 0.5 / x), bounds=(0, 1)) for f in finals]
    tr = replay_anytime(curves, "ray_hyperband", suite="fixture", budget=1.0)
    assert tr.n_resumed > 0  # trials paused at a rung were resumed
    assert tr.trace[-1][0] < tr.compute_full  # and the others stopped: it saved compute
    assert tr.regret_at(1.0) == 0


def test_ray_freeze_thaw_resumes_a_paused_trial() -> None:
    pytest.importorskip("ray.tune")
    from curvecast.bench.replay_ray import PausingController, freeze_thaw_scheduler

    budgets = {t: 20.0 for t in "abc"}
    sched = freeze_thaw_scheduler(budgets, mode="max", metric="m", bounds=(0, 1))
    ctl = PausingController(sched, list("abc"), metric="m")
    tid = ctl.next_trial()
    assert tid == "a" and ctl.status("a") == "RUNNING"
    for step in range(1, 21):  # a completes at 0.9: the incumbent
        action = ctl.report("a", step, 0.9 - 0.4 / step, last=step == 20)
    assert action == "stop" and ctl.status("a") == "TERMINATED"
    assert ctl.next_trial() == "b"
    actions = []
    for s in range(1, 6):
        actions.append(ctl.report("b", s, 0.2, last=False))
        if actions[-1] != "continue":
            break
    assert actions[-1] == "pause" and ctl.status("b") == "PAUSED"  # hopeless while c waits
    with pytest.raises(InvalidParameterError, match="the running trial"):
        ctl.report("b", 6, 0.2, last=False)
    assert ctl.next_trial() == "c"
    for s in range(1, 21):
        ctl.report("c", s, 0.3, last=s == 20)  # c runs to its end (nothing else to run)
    assert ctl.next_trial() == "b" and ctl.n_resumed == 1  # then b is thawed


def test_bench_anytime_cli_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("optuna")
    from curvecast.cli import main

    out = tmp_path / "out"
    argv = ["bench", "anytime", "--suite", "fixture", "--methods", "none,freeze_thaw,hyperband"]
    rc = main([*argv, "--orders", "1", "--out", str(out), "--n-boot", "50"])
    assert rc == 0
    md = (out / "anytime.md").read_text()
    for method in ("none", "freeze_thaw", "hyperband"):
        assert f"| {method} |" in md
    assert "regret @10%" in md and "command:" in md
    data = json.loads((out / "anytime.json").read_text())
    assert len(data["rows"]) == 3 * 1 * 3  # tasks x orders x methods
    assert (out / "anytime_regret.png").stat().st_size > 1000
    assert "| freeze_thaw |" in capsys.readouterr().out


def test_bench_anytime_rejects_bad_flags(capsys: pytest.CaptureFixture[str]) -> None:
    from curvecast.cli import main

    for bad in (["--methods", "none,oracle"], ["--budget", "0"]):
        with pytest.raises(SystemExit) as info:
            main(["bench", "anytime", "--suite", "fixture", *bad])
        assert info.value.code == 2
