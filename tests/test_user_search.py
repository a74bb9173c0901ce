"""Smoke tests of ``scripts/user_search.py`` (a user's own searches run under every pruner),
at tiny sizes: what it measures must follow from what the searches did."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("sklearn")

_PATH = Path(__file__).resolve().parents[1] / "scripts" / "user_search.py"


@pytest.fixture(scope="module")
def us() -> Any:
    spec = importlib.util.spec_from_file_location("user_search", _PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["user_search"] = module
    spec.loader.exec_module(module)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return module


def _run(us: Any, search: str, pruner: str, *, trials: int = 4, epochs: int = 4) -> Any:
    s = us.get_search(search)
    trainer = us.Trainer(s, s.data())
    return us.run_one(s, trainer, pruner, 0, trials, epochs, {}), trainer


class _PruneAfterTwo(optuna.pruners.BasePruner):
    """Prunes every trial but the first at its second epoch."""

    def prune(self, study: Any, trial: Any) -> bool:
        return trial.number > 0 and trial.last_step == 2


def test_model_seed_is_stable_and_depends_on_params_and_seed(us: Any) -> None:
    p = {"alpha": 0.1, "batch_size": 32, "hidden_units": 16, "learning_rate_init": 0.01}
    assert us.model_seed(p, 0) == us.model_seed(dict(reversed(list(p.items()))), 0)
    assert us.model_seed(p, 0) != us.model_seed(p, 1)
    assert us.model_seed(p, 0) != us.model_seed({**p, "alpha": 0.2}, 0)


@pytest.mark.parametrize("search", ["digits", "diabetes"])
def test_training_replays_exactly(us: Any, search: str) -> None:
    s = us.get_search(search)
    trainer = us.Trainer(s, s.data())
    p = {"alpha": 1e-4, "batch_size": 64, "hidden_units": 16, "learning_rate_init": 3e-3}
    a, b = trainer.curve(p, 3, 3), trainer.curve(p, 3, 3)
    assert a == b and all(math.isfinite(v) for v in a)
    assert trainer.curve(p, 4, 3) != a  # another seed, another model


def test_without_pruning_everything_is_trained_and_nothing_is_lost(us: Any) -> None:
    r, _ = _run(us, "digits", "none", trials=3, epochs=3)
    assert r["pruned"] == 0 and r["epochs_trained"] == r["epochs_full"] == 9
    assert r["best_found"] == r["best_true"] and r["regret"] == 0.0
    assert not r["best_pruned"] and r["coverage90"] is None
    assert 0 < r["train_s"] <= r["search_s"]


def test_pruned_trials_are_continued_offline_for_their_truth(us: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(us, "make_pruner", lambda name: _PruneAfterTwo())
    r, trainer = _run(us, "diabetes", "custom", trials=3, epochs=5)
    rows = r["rows"]
    assert [row["state"] for row in rows] == ["COMPLETE", "PRUNED", "PRUNED"]
    assert [row["epochs"] for row in rows] == [5, 2, 2]
    assert r["epochs_trained"] == 9
    for row in rows:
        assert row["true_final"] == trainer.curve(row["params"], 0, 5)[-1]
    best = min(row["true_final"] for row in rows)
    assert r["best_true"] == best
    assert r["regret"] == pytest.approx(rows[0]["true_final"] - best)
    assert r["best_pruned"] == (rows[0]["true_final"] != best)


def test_curvecast_records_intervals_and_their_coverage(us: Any) -> None:
    r, _ = _run(us, "digits", "curvecast", trials=5, epochs=6)
    judged = [row for row in r["rows"] if "verdict" in row and row["verdict"]["q05"] is not None]
    assert r["n_intervals"] == len(judged)
    for row in judged:
        v = row["verdict"]
        assert row["state"] == "PRUNED" and v["q05"] <= v["q50"] <= v["q95"]
    if judged:
        inside = sum(
            r2["verdict"]["q05"] <= r2["true_final"] <= r2["verdict"]["q95"] for r2 in judged
        )
        assert r["coverage90"] == inside / len(judged)
    else:
        assert r["coverage90"] is None


def test_summary_takes_medians_and_ranges_over_seeds(us: Any) -> None:
    base = {
        "search": "digits", "pruner": "median", "regret": 0.0, "best_pruned": False,
        "epochs_trained": 10, "train_s": 1.0, "should_prune_s": 0.1, "search_s": 1.2,
        "prune_over_train": 0.1, "prune_share": 0.08, "should_prune_ms_p95": 2.0, "rows": [],
    }  # fmt: skip
    runs = [
        {**base, "seed": 0, "best_found": 0.9},
        {**base, "seed": 1, "best_found": 0.8, "best_pruned": True},
        {**base, "seed": 2, "best_found": 0.95},
    ]
    (row,) = us.summarise(runs)
    assert row["best_pruned"] == 1 and row["coverage90_pooled"] is None
    table = us.format_table([row], us.get_search("digits"))
    assert "| median | 0.9000 [0.8000, 0.9500] |" in table and "| 1/3 |" in table


def test_main_writes_strict_json(us: Any, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "r.json"
    argv = ["--searches", "diabetes", "--pruners", "none", "median", "--seeds", "0"]
    assert us.main([*argv, "--trials", "2", "--epochs", "3", "--out", str(out)]) == 0
    payload = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(c))
    assert [s["pruner"] for s in payload["summary"]] == ["none", "median"]
    assert payload["trials"] == 2 and len(payload["runs"]) == 2
    assert "| none |" in capsys.readouterr().out


def test_bad_arguments_exit_2(us: Any) -> None:
    with pytest.raises(SystemExit) as exc:
        us.main(["--trials", "1"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        us.main(["--pruners", "asha"])
    assert exc.value.code == 2


def test_json_ready_drops_non_finite(us: Any) -> None:
    assert us._json_ready({"a": [math.inf, 1.0, math.nan]}) == {"a": [None, 1.0, None]}


def test_a_search_is_the_same_every_time(us: Any) -> None:
    # HyperbandPruner assigns brackets by a hash of the study name: the name must be fixed
    a, _ = _run(us, "diabetes", "hyperband", trials=4, epochs=4)
    b, _ = _run(us, "diabetes", "hyperband", trials=4, epochs=4)
    assert [(r["params"], r["epochs"], r["true_final"]) for r in a["rows"]] == [
        (r["params"], r["epochs"], r["true_final"]) for r in b["rows"]
    ]


def test_the_shipped_sklearn_mlp_suite_loads_as_held_out_searches() -> None:
    from curvecast.bench.sources import describe_suite, load_suite

    curves = load_suite("sklearn-mlp")
    tasks = {c.meta["task"] for c in curves}
    assert len(tasks) >= 2 and len(curves) >= 100 * len(tasks)
    for c in curves:
        assert c.direction == "maximize" and c.bounds == (0.0, 1.0)
        assert c.meta["axis"] == "epoch" and "hyperparameters" in c.meta
        finite = c.y[np.isfinite(c.y)]
        assert np.all((finite >= 0) & (finite <= 1))
    assert describe_suite("sklearn-mlp").tasks == len(tasks)
    assert len(load_suite("sklearn-mlp", limit=30, seed=1)) == 30


@pytest.mark.parametrize(
    ("search", "truth", "side"),
    [("digits", 0.95, 1), ("digits", 0.85, 0), ("digits", 0.7, -1),
     ("diabetes", 0.7, 1), ("diabetes", 0.85, 0), ("diabetes", 0.95, -1)],
)  # fmt: skip
def test_a_miss_says_whether_the_forecast_was_too_pessimistic(
    us: Any, search: str, truth: float, side: int
) -> None:
    row = {"true_final": truth, "verdict": {"q05": 0.8, "q95": 0.9, "step": 2}}
    assert us._side(row, search) == side
    runs = [{
        "search": search, "pruner": "curvecast", "seed": 0, "best_found": 0.9, "regret": 0.0,
        "best_pruned": False, "epochs_trained": 10, "train_s": 1.0, "should_prune_s": 0.1,
        "search_s": 1.2, "prune_over_train": 0.1, "prune_share": 0.08,
        "should_prune_ms_p95": 2.0, "rows": [row],
    }]  # fmt: skip
    (s,) = us.summarise(runs)
    assert s["coverage90_early"] == (side == 0) and s["coverage90_late"] is None
    assert s["truth_better_than_band"] == (side == 1)
