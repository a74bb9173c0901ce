"""Tests of the held-out suites (``heldout-lm``, ``heldout-gbm``, ``heldout-rl``).

The suites ship in the package, so these need no shared data. The make scripts' core functions
run at tiny settings; each is skipped when its generator's packages (torch, scikit-learn,
stable-baselines3 and gymnasium) are missing, since those are never curvecast dependencies.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from curvecast.bench import sources
from curvecast.bench.sources import HELDOUT_SUITES, SUITES, describe_suite, load_suite
from curvecast.curves import Curve
from curvecast.schedules import Schedule

_SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
REQUIRED_META = ("suite", "task", "config", "axis", "metric", "source", "seed")


def _script(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"_curvecast_{name}", _SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _as_suite(
    suite: str, runs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> list[Curve]:
    """``runs`` (as a make script writes them) read through the suite's own loader."""
    monkeypatch.setattr(sources, "_read_shipped", lambda *a: {"runs": runs})
    return load_suite(suite)


# --------------------------------------------------------------------------------------------
# The shipped suites.


def test_heldout_suites_are_registered_and_marked() -> None:
    assert set(HELDOUT_SUITES) <= set(SUITES)
    for suite in HELDOUT_SUITES:
        assert "held out" in sources._SPECS[suite].source


@pytest.mark.parametrize("suite", HELDOUT_SUITES)
def test_shipped_suite_shape(suite: str) -> None:
    curves = load_suite(suite)
    summary = describe_suite(suite)
    assert summary.curves == len(curves) and summary.dropped_short == 0
    per_task = Counter(c.meta["task"] for c in curves)
    assert len(per_task) >= 2
    assert min(per_task.values()) >= 20  # 16 context runs and more to forecast
    keys = [(c.meta["task"], c.meta["config"]) for c in curves]
    assert len(set(keys)) == len(keys)
    for c in curves:
        for key in REQUIRED_META:
            assert c.meta[key] is not None and c.meta[key] != "", key
        assert c.meta["suite"] == suite
        assert isinstance(c.meta["hyperparameters"], dict)
        assert c.x.size >= 5 and np.all(np.diff(c.x) > 0)
        assert np.isfinite(c.y).sum() >= 3


def test_lm_runs_carry_the_schedule_they_followed() -> None:
    curves = load_suite("heldout-lm")
    names = Counter()
    totals = set()
    peaks: dict[str, list[float]] = {}
    for c in curves:
        assert c.direction == "minimize" and c.bounds == (0.0, math.inf)
        s = Schedule(c.meta["schedule"])
        assert s.end == c.x[-1]  # the run ends where its schedule does
        names[s.name] += 1
        totals.add(s.end)
        peaks.setdefault(c.meta["task"], []).append(s.peak)
        assert c.y[np.isfinite(c.y)][0] < math.log(256) + 0.5  # byte-level: starts near ln 256
    assert set(names) == {"constant", "cosine", "wsd"}
    assert len(totals) == 2  # two budgets in each search
    for task_peaks in peaks.values():
        assert max(task_peaks) / min(task_peaks) > 20  # rates spread over decades


def test_gbm_has_log_loss_and_large_scale_l2_and_overfitting() -> None:
    curves = load_suite("heldout-gbm")
    by_loss = Counter(c.meta["loss"] for c in curves)
    assert set(by_loss) == {"log-loss", "l2"}
    l2 = [c for c in curves if c.meta["loss"] == "l2"]
    assert min(float(np.nanmin(c.y)) for c in l2) > 100  # unscaled: losses of any scale
    # U-shaped: the loss ends well above its minimum, reached before the last quarter
    u_shaped = [
        c for c in curves
        if np.nanargmin(c.y) < 0.75 * c.y.size and c.y[-1] > 1.1 * np.nanmin(c.y)
    ]  # fmt: skip
    assert len(u_shaped) >= 10
    for c in curves:
        assert c.direction == "minimize" and np.all(np.diff(c.x) == 10)


def test_rl_returns_are_unbounded_maximised_and_seeded_twice() -> None:
    curves = load_suite("heldout-rl")
    for c in curves:
        assert c.direction == "maximize" and c.bounds == (-math.inf, math.inf)
        assert c.meta["metric"] == "evaluation return"
    configs = Counter((c.meta["task"], c.meta["config"].split("-s")[0]) for c in curves)
    assert set(configs.values()) == {2}
    finals = [float(c.y[-1]) for c in curves]
    assert max(finals) > 5 * min(finals)  # configurations differ: a search has something to rank


# --------------------------------------------------------------------------------------------
# The make scripts' core functions, at tiny settings.


def test_gbm_script_makes_a_valid_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sklearn")
    gbm = _script("make_gbm_suite")
    tasks = {"hgb-wine": ("hgb", "wine"), "hgb-diabetes": ("hgb", "diabetes")}
    runs = gbm.make_runs(2, tasks, every=5)
    assert [r["config"] for r in runs] == ["c000", "c001"] * 2
    again = gbm.make_runs(2, tasks, every=5)
    assert [r["y"] for r in again] == [r["y"] for r in runs]  # deterministic
    curves = _as_suite("heldout-gbm", runs, monkeypatch)
    assert len(curves) == 4
    by_key = {(r["task"], r["config"]): r for r in runs}
    for c in curves:
        r = by_key[c.meta["task"], c.meta["config"]]
        assert c.x[0] == 5 and c.x[-1] == r["hyperparameters"]["rounds"]
        assert c.meta["loss"] == ("l2" if c.meta["task"] == "hgb-diabetes" else "log-loss")


def test_lm_script_makes_a_valid_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    lm = _script("make_lm_suite")
    runs = lm.make_runs(3, {"tiny": ("asyncio", 1, 16, 1e-3)}, text_limit=20_000,
                        steps_scale=0.05, every=2)  # fmt: skip
    curves = _as_suite("heldout-lm", runs, monkeypatch)
    assert [Schedule(c.meta["schedule"]).name for c in curves] == ["constant", "cosine", "wsd"]
    for c in curves:
        assert c.x[-1] == c.meta["schedule"]["total"] and c.x[0] == 2
        assert np.all(np.isfinite(c.y)) and c.y[0] < math.log(256) + 0.5


def test_rl_script_makes_a_valid_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("gymnasium")
    pytest.importorskip("stable_baselines3")
    rl = _script("make_rl_suite")
    tasks = {"tiny-ppo": ("PPO", "CartPole-v1", 400), "tiny-a2c": ("A2C", "CartPole-v1", 400)}
    runs = rl.make_runs(1, tasks, seeds=2, every=100)
    curves = _as_suite("heldout-rl", runs, monkeypatch)
    assert [c.meta["config"] for c in curves] == ["c00-s0", "c00-s1"] * 2
    for c in curves:
        assert c.x.tolist() == [100, 200, 300, 400]
        assert np.all(c.y >= 1) and c.direction == "maximize"
