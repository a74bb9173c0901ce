"""Public sweeps: readers on tiny fixture folders, fetchers with a fake transport (no network).

Tests that read the real files run only when ``CURVECAST_SHARED_DATA`` points at the shared data
folder (``../shared/data``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest

from curvecast.bench import _fetch
from curvecast.exceptions import DataSourceError, UnknownMethodError
from curvecast.scaling.sources import MLF_SUBSET, PUBLIC_SWEEPS, load_public_sweep

SHARED = os.environ.get("CURVECAST_SHARED_DATA")


def _mlf_files() -> dict[str, bytes]:
    files: dict[str, bytes] = {"exp_data/eval_metadata.csv": b"Eval Task\nx\n"}
    for ds in ("rpj", "c4_original"):
        for i, (n, mult) in enumerate([(1e7, 1.0), (1e8, 1.0), (1e9, 4.0)]):
            name = f"{ds}-m{i}-{mult}"
            model = {
                "name": name,
                "dataset_name": ds,
                "hyperparameters": {
                    "params": n,
                    "tokens": 20 * mult * n,
                    "chinchilla_multiplier": mult,
                },
                "results": [
                    {"val_data": ["x/openlm/shard.tar"], "loss": 9.0},
                    {"val_data": ["x/c4_val/shard.tar"], "loss": 4.0 - i * 0.5},
                ],
            }
            icl = {k: 0.5 for k in MLF_SUBSET} | {"extra_task": 0.2}
            files[f"exp_data/models/{name}.json"] = json.dumps(model).encode()
            files[f"exp_data/evals/evaluation_{name}_heavy.json"] = json.dumps(
                {"eval_metrics": {"icl": icl}}
            ).encode()
    return files


def _write(root: Path, files: dict[str, bytes], prefix: str) -> None:
    for rel, data in files.items():
        (root / prefix / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / prefix / rel).write_bytes(data)


OBS_CSV = (
    b"Model,Model Family,Model Size (B),Pretraining Data Size (T),FLOPs (1E21),MMLU,ARC-C,"
    b"HellaSwag,Winograd,TruthfulQA,GSM8K,XWinograd,HumanEval\n"
    b"a/x-7b,X,7.0,2.0,84.0,0.4,0.5,0.7,0.7,0.4,0.1,0.7,0.1\n"
    b"a/x-13b,X,13.0,2.0,156.0,0.5,0.6,0.8,0.8,0.3,0.2,0.8,0.2\n"
    b"a/y-1b,Y,1.0,,,0.3,0.3,0.5,0.6,0.4,0.02,0.6,\n"
)


def test_mlfoundations_reader(tmp_path: Path) -> None:
    _write(tmp_path, _mlf_files(), "mlfoundations_scaling")
    pub = load_public_sweep("mlfoundations", data_dir=tmp_path)
    s = pub.sweep
    assert len(s) == 6 and set(s.groups) == {"rpj", "c4_original"}
    assert s.loss.tolist()[:3] == [4.0, 3.5, 3.0]  # the C4 eval loss, not openlm
    np.testing.assert_allclose(s.extra["err_avg_subset"], 0.5)
    assert s.extra["err_avg"][0] == pytest.approx((17 * 0.5 + 0.8) / 18)


def test_obsscaling_reader_drops_and_counts_unknown_sizes(tmp_path: Path) -> None:
    (tmp_path / "obsscaling/eval_results").mkdir(parents=True)
    (tmp_path / "obsscaling/eval_results/base_llm_benchmark_eval.csv").write_bytes(OBS_CSV)
    pub = load_public_sweep("obsscaling", data_dir=tmp_path)
    assert len(pub.sweep) == 2 and pub.dropped == 1
    assert pub.sweep.loss[0] == pytest.approx(1 - np.mean([0.4, 0.5, 0.7, 0.7, 0.4, 0.1]))
    assert pub.sweep.C[0] == pytest.approx(84e21)


def test_scan_readers_keep_finished_runs(tmp_path: Path) -> None:
    (tmp_path / "scan_bench").mkdir()
    head = "config_id,n_param,total_compute,tokens_so_far,eval_step,final_step,valid_loss\n"
    train = head + "c1,1e7,1e17,1e9,5,10,3.0\nc1,1e7,1e17,2e9,10,10,2.8\nc2,2e7,2e17,1e9,5,10,nan\n"
    (tmp_path / "scan_bench/llm_train_split.csv").write_text(train)
    (tmp_path / "scan_bench/llm_test_split.csv").write_text(head + "c3,1e8,1e20,2e10,9,10,2.0\n")
    pub = load_public_sweep("scan_llm", data_dir=tmp_path)
    assert pub.sweep.name == ("c1",) and pub.dropped == 2  # c2 diverged, c3 unfinished
    assert pub.sweep.D[0] == 2e9 and pub.tables["curves"]["c1"][1].tolist() == [3.0, 2.8]
    vlm = (
        "config_id,epoch,total_epochs,mparams,samples_seen,compute_seen,val_loss,"
        "epoch_diverged\n1,1,2,10,1e6,1e6,3.0,False\n1,2,2,10,2e6,2e6,2.5,False\n"
        "2,1,1,20,1e6,1e6,2.0,True\n"
    )
    (tmp_path / "scan_bench/vlm_data.csv").write_text(vlm)
    v = load_public_sweep("scan_vlm", data_dir=tmp_path)
    assert len(v.sweep) == 1 and v.dropped == 1 and v.sweep.N[0] == pytest.approx(1e7)


def test_unknown_sweep_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(UnknownMethodError, match="formll"):
        load_public_sweep("chinchilla_paper", data_dir=tmp_path)
    with pytest.raises(DataSourceError, match="mlfoundations/scaling"):
        load_public_sweep("mlfoundations", data_dir=tmp_path)


def _tar_gz(files: dict[str, bytes], prefix: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel, data in files.items():
            info = tarfile.TarInfo(f"{prefix}/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _manifest(files: dict[str, bytes]) -> str:
    lines = "".join(f"{r} {hashlib.sha256(files[r]).hexdigest()}\n" for r in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def test_mlfoundations_fetch_checks_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _mlf_files()
    archive = _tar_gz({**files, "README.md": b"hi"}, "scaling-abc")
    calls: list[str] = []

    def fake(url: str, dest: Path) -> None:
        calls.append(url)
        Path(dest).write_bytes(archive)

    monkeypatch.setattr(_fetch, "urlretrieve", fake)
    monkeypatch.setattr(_fetch, "MLF_MANIFEST_SHA256", "0" * 64)
    with pytest.raises(DataSourceError, match="failed its checksum"):
        load_public_sweep("mlfoundations", cache_dir=tmp_path)
    assert not (tmp_path / "mlfoundations_scaling/exp_data/eval_metadata.csv").exists()
    monkeypatch.setattr(_fetch, "MLF_MANIFEST_SHA256", _manifest(files))
    pub = load_public_sweep("mlfoundations", cache_dir=tmp_path)
    assert len(pub.sweep) == 6 and calls[-1] == _fetch.MLF_ARCHIVE_URL
    load_public_sweep("mlfoundations", cache_dir=tmp_path)  # cached: no new download
    assert len(calls) == 2


def test_obsscaling_fetch_and_network_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rel = "obsscaling/eval_results/base_llm_benchmark_eval.csv"

    def broken(url: str, dest: Path) -> None:
        raise OSError("no route to host")

    monkeypatch.setattr(_fetch, "urlretrieve", broken)
    with pytest.raises(DataSourceError, match=r"no route to host.*ObsScaling"):
        load_public_sweep("obsscaling", cache_dir=tmp_path)
    monkeypatch.setattr(_fetch, "urlretrieve", lambda url, dest: Path(dest).write_bytes(OBS_CSV))
    monkeypatch.setitem(_fetch.OBS_FILES, rel, hashlib.sha256(OBS_CSV).hexdigest())
    assert len(load_public_sweep("obsscaling", cache_dir=tmp_path).sweep) == 2


def test_formll_fetch_flattens_the_pickles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pd = pytest.importorskip("pandas")
    data = pd.DataFrame(
        {
            "flops": [1e17, 1e18],
            "orig_n": [pd.Series([1e6, 2e6, 4e6]), np.nan],
            "orig_t": [pd.Series([1e10, 5e9, 2.5e9]), np.nan],
            "orig_loss": [pd.Series([4.0, 3.9, 4.1]), np.nan],
        }
    )
    optimal = pd.DataFrame(
        {"flops": [1e17], "n": [2e6], "t": [5e9], "multiplier": [2500.0], "loss": [3.9]}
    )
    table = pd.DataFrame(
        [
            {
                "dataset": "rw",
                "hparams": "base",
                "warmup": "long",
                "decay": "kaplan",
                "param_count": "kaplan",
                "val": "train",
                "data": data,
                "optimal_pairs": optimal,
            }
        ]
    )
    blobs: dict[str, bytes] = {}
    for name in _fetch.FORMLL_FILES:
        buf = io.BytesIO()
        table.to_pickle(buf, compression="xz")
        blobs[name] = buf.getvalue()
        monkeypatch.setitem(_fetch.FORMLL_FILES, name, hashlib.sha256(blobs[name]).hexdigest())

    def fake(url: str, dest: Path) -> None:
        Path(dest).write_bytes(blobs[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(_fetch, "urlretrieve", fake)
    pub = load_public_sweep("formll", cache_dir=tmp_path)
    assert len(pub.sweep) == 12 and len(pub.sweep.groups) == 4  # 3 points x 4 files
    assert pub.tables["optimal"][0]["n"] == 2e6


@pytest.mark.skipif(not SHARED, reason="set CURVECAST_SHARED_DATA to read the real sweeps")
@pytest.mark.parametrize(
    ("name", "n_runs", "n_groups"),
    [
        ("mlfoundations", 104, 3),
        ("formll", 1745, 15),
        ("scan_llm", 1193, 1),
        ("scan_vlm", 1366, 1),
        ("obsscaling", 120, 38),
    ],
)
def test_real_sweeps(name: str, n_runs: int, n_groups: int) -> None:
    assert name in PUBLIC_SWEEPS
    s = load_public_sweep(name, data_dir=SHARED).sweep
    assert len(s) == n_runs and len(s.groups) == n_groups
    assert np.all(s.loss > 0) and np.all(s.C > 0)


def test_with_checkpoints_adds_every_finite_checkpoint() -> None:
    from curvecast.scaling import Sweep
    from curvecast.scaling.sources import with_checkpoints

    s = Sweep(N=[1e7, 1e8], D=[2e9, 2e10], loss=[3.0, 2.5], name=("a", "b"))
    curves = {"a": (np.array([1e9, 2e9, 3e9]), np.array([3.5, 3.0, np.nan]))}
    out = with_checkpoints(s, curves)
    assert out.name == ("a@0", "a@1", "b") and out.D.tolist() == [1e9, 2e9, 2e10]
