"""The readers on real files written in the test by the libraries that write them in practice:
TensorBoard's SummaryWriter, mlflow.log_metric, a W&B chart export and run histories, tables."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from curvecast.exceptions import CurvecastError, InvalidParameterError
from curvecast.io import (
    SourceError,
    infer_direction,
    judge_runs,
    parse_source,
    read_curves,
    read_mlflow,
    read_table,
    read_tensorboard,
    read_wandb,
)

#: run -> (plateau of the loss, number of epochs logged so far)
RUNS = {"good": (0.20, 20), "bad": (0.60, 8), "mid": (0.25, 10)}


def loss(plateau: float, epoch: int) -> float:
    return plateau + 1.5 * math.exp(-0.3 * epoch)


def write_tensorboard(logdir: Path, runs: dict[str, tuple[float, int]] = RUNS) -> None:
    pytest.importorskip("tensorboard", reason="pip install '.[tensorboard]'")
    from torch.utils.tensorboard import SummaryWriter

    for name, (plateau, n) in runs.items():
        with SummaryWriter(str(logdir / name)) as w:
            for epoch in range(1, n + 1):
                w.add_scalar("val/loss", loss(plateau, epoch), epoch)
                w.add_scalar("train/loss", loss(plateau, epoch) - 0.05, epoch)


# ------------------------------------------------------------------------------ TensorBoard


def test_tensorboard_reads_every_run_of_a_log_directory(tmp_path: Path) -> None:
    write_tensorboard(tmp_path)
    curves = read_tensorboard(tmp_path, "val/loss", direction="minimize", bounds=(0, None))
    assert sorted(curves) == ["bad", "good", "mid"]
    for name, (plateau, n) in RUNS.items():
        c = curves[name]
        assert c.x.tolist() == list(range(1, n + 1))
        assert np.allclose(c.y, [loss(plateau, e) for e in range(1, n + 1)], rtol=1e-6)
        assert c.direction == "minimize" and c.bounds == (0.0, math.inf)
        assert c.meta["run"] == name and c.meta["metric"] == "val/loss"


def test_tensorboard_nested_runs_and_a_resumed_run(tmp_path: Path) -> None:
    """Runs are named by their path (as TensorBoard does); a run resumed into a second event
    file continues its curve, and a rewritten step keeps its last value."""
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    run = tmp_path / "lightning_logs" / "version_0"
    with SummaryWriter(str(run), filename_suffix=".a") as w:
        for e in range(1, 5):
            w.add_scalar("acc", 0.1 * e, e)
    with SummaryWriter(str(run), filename_suffix=".b") as w:  # resumed from epoch 3
        for e in range(3, 7):
            w.add_scalar("acc", 0.1 * e + 0.01, e)
    c = read_tensorboard(tmp_path, "acc")["lightning_logs/version_0"]
    assert c.x.tolist() == [1, 2, 3, 4, 5, 6]
    assert np.allclose(c.y, [0.1, 0.2, 0.31, 0.41, 0.51, 0.61], atol=1e-6)


def test_tensorboard_errors_name_the_source_and_the_fix(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    with pytest.raises(SourceError, match="no such file or folder"):
        read_tensorboard(tmp_path / "missing", "val/loss")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match=r"no TensorBoard event file .*have they written"):
        read_tensorboard(tmp_path / "empty", "val/loss")
    write_tensorboard(tmp_path / "logs")
    with pytest.raises(SourceError, match=r"no run has the metric 'val/acc'.*'val/loss'") as e:
        read_tensorboard(tmp_path / "logs", "val/acc")
    assert "tensorboard:" in str(e.value) and "train/loss" in str(e.value)
    bad = tmp_path / "logs" / "broken" / "events.out.tfevents.123.host"
    bad.parent.mkdir()
    bad.write_bytes(b"this is not a TFRecord file, just bytes " * 4)
    with pytest.raises(SourceError, match=r"not a readable TensorBoard event file.*delete it"):
        read_tensorboard(tmp_path / "logs", "val/loss")


# ------------------------------------------------------------------------------------ MLflow


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Runs logged with mlflow.log_metric into an SQLite store (made once: MLflow's schema
    migrations take seconds)."""
    mlflow = pytest.importorskip("mlflow", reason="pip install '.[mlflow]'")
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    try:
        mlflow.set_experiment("search")
        for name, (plateau, n) in RUNS.items():
            with mlflow.start_run(run_name=name):
                for epoch in range(1, n + 1):
                    mlflow.log_metric("val_loss", loss(plateau, epoch), step=epoch)
        with mlflow.start_run(run_name="nostep"):
            for v in (0.9, 0.8, 0.75):
                mlflow.log_metric("val_loss", v)  # no step: MLflow writes step 0
    finally:
        mlflow.set_tracking_uri(None)
    return uri


def test_mlflow_reads_every_run_of_a_store(mlflow_store: str) -> None:
    for location in (mlflow_store, mlflow_store.removeprefix("sqlite:///")):
        curves = read_mlflow(location, "val_loss", direction="minimize")
        assert sorted(curves) == ["bad", "good", "mid", "nostep"]
        for name, (plateau, n) in RUNS.items():
            assert curves[name].x.tolist() == list(range(1, n + 1))
            assert np.allclose(curves[name].y, [loss(plateau, e) for e in range(1, n + 1)])
            assert curves[name].meta["experiment"] == "search"
        # logged without a step: the axis is the order of logging
        assert curves["nostep"].x.tolist() == [1, 2, 3]
        assert curves["nostep"].y.tolist() == [0.9, 0.8, 0.75]


def test_mlflow_reads_an_mlruns_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mlflow = pytest.importorskip("mlflow")
    folder = tmp_path / "mlruns"
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks for it to write one
    mlflow.set_tracking_uri(folder.as_uri())
    try:
        mlflow.set_experiment("folder")
        with mlflow.start_run(run_name="r1"):
            for e in range(1, 6):
                mlflow.log_metric("acc", 0.1 * e, step=e)
    finally:
        mlflow.set_tracking_uri(None)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    c = read_curves(f"mlflow:{folder}", "acc")["r1"]
    assert np.allclose(c.y, [0.1, 0.2, 0.3, 0.4, 0.5])


def test_mlflow_errors(mlflow_store: str, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"no run has the metric 'val_acc'.*'val_loss'"):
        read_mlflow(mlflow_store, "val_acc")
    with pytest.raises(SourceError, match="no experiment named"):
        read_mlflow(mlflow_store, "val_loss", experiments=["other"])
    with pytest.raises(SourceError, match=r"mlflow:.*no such file or folder"):
        read_mlflow(str(tmp_path / "nowhere"), "val_loss")


# ------------------------------------------------------------------------------ W&B exports


def write_wandb_chart(path: Path) -> None:
    """The CSV a W&B line plot exports: Step, then '<run> - <metric>' with __MIN/__MAX."""
    header = ["Step"]
    for name in RUNS:
        header += [f"{name} - val/loss", f"{name} - val/loss__MIN", f"{name} - val/loss__MAX"]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL)
        w.writerow(header)
        for epoch in range(1, 21):
            row: list[object] = [epoch]
            for plateau, n in RUNS.values():
                v = loss(plateau, epoch) if epoch <= n else ""
                row += [v, v, v]
            w.writerow(row)


def test_wandb_chart_export(tmp_path: Path) -> None:
    path = tmp_path / "wandb_export_2026-12-02.csv"
    write_wandb_chart(path)
    curves = read_wandb(path, "val/loss", direction="minimize")
    assert sorted(curves) == ["bad", "good", "mid"]
    for name, (plateau, n) in RUNS.items():
        assert curves[name].x.tolist() == list(range(1, n + 1))
        assert np.allclose(curves[name].y, [loss(plateau, e) for e in range(1, n + 1)])
    with pytest.raises(SourceError, match=r"wandb:.*no run has the metric 'acc'.*'val/loss'"):
        read_wandb(path, "acc")


def test_wandb_history_exports(tmp_path: Path) -> None:
    """run.history() saved per run as CSV and JSON, in one folder; rows without the metric
    (logged at other steps) are skipped, NaN marks divergence."""
    folder = tmp_path / "export"
    folder.mkdir()
    rows = [
        {"_step": e, "_runtime": 1.0 * e, "val/loss": loss(0.2, e) if e % 2 == 0 else None}
        for e in range(1, 11)
    ]
    with (folder / "good.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["_step", "_runtime", "val/loss"])
        w.writeheader()
        w.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)
    diverged = [{"_step": 1, "val/loss": 2.0}, {"_step": 2, "val/loss": 1.5}]
    diverged.append({"_step": 3, "val/loss": float("nan")})
    (folder / "exploded.json").write_text(json.dumps(diverged))
    curves = read_wandb(folder, "val/loss", direction="minimize")
    assert curves["good"].x.tolist() == [2, 4, 6, 8, 10]
    assert curves["exploded"].diverged and curves["exploded"].n_observed == 2


# -------------------------------------------------------------------------- CSV and Parquet


def _long_rows() -> list[tuple[str, int, str, float]]:
    out = []
    for name, (plateau, n) in RUNS.items():
        for e in range(1, n + 1):
            out += [(name, e, "val_loss", loss(plateau, e)), (name, e, "lr", 0.1)]
    return out


def test_csv_and_parquet_tables(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["run", "step", "metric", "value", "note"])
        w.writerows([(*r, "x") for r in _long_rows()])
    curves = read_curves(f"csv:{path}", "val_loss", direction="minimize")
    assert {k: c.x.size for k, c in curves.items()} == {"bad": 8, "good": 20, "mid": 10}
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    cols = list(zip(*_long_rows(), strict=True))
    table = pa.table({"run": cols[0], "step": cols[1], "metric": cols[2], "value": cols[3]})
    pq.write_table(table, tmp_path / "runs.parquet")
    again = read_curves(f"parquet:{tmp_path / 'runs.parquet'}", "val_loss", direction="min")
    for k in curves:
        assert np.allclose(again[k].y, curves[k].y) and np.array_equal(again[k].x, curves[k].x)
        assert again[k].direction == "minimize"


def test_table_errors(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("run,epoch,val_loss\na,1,0.5\n")
    with pytest.raises(SourceError, match=r"lacks the column\(s\) \['step', 'metric', 'value'\]"):
        read_table(path, "val_loss")
    path.write_text("run,step,metric,value\na,one,val_loss,0.5\n")
    with pytest.raises(SourceError, match="row 2 has step 'one'"):
        read_table(path, "val_loss")
    path.write_text("run,step,metric,value\na,-1,val_loss,0.5\n")
    with pytest.raises(SourceError, match="steps must be finite and >= 0"):
        read_table(path, "val_loss")
    with pytest.raises(SourceError, match="no such file"):
        read_table(tmp_path / "none.csv", "val_loss")


# ------------------------------------------------------------------ sources and judgement


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tensorboard:runs/", ("tensorboard", "runs/")),
        ("tb:x", ("tensorboard", "x")),
        ("mlflow:http://h:5000", ("mlflow", "http://h:5000")),
        ("csv:a.csv", ("csv", "a.csv")),
    ],
)
def test_parse_source(text: str, expected: tuple[str, str]) -> None:
    assert parse_source(text) == expected


@pytest.mark.parametrize("text", ["runs/", "neptune:x", "csv:", ""])
def test_parse_source_rejects(text: str) -> None:
    with pytest.raises(SourceError, match=r"KIND:LOCATION|unknown kind|no location"):
        parse_source(text)


def test_infer_direction() -> None:
    assert infer_direction("val/loss") == infer_direction("eval_perplexity") == "minimize"
    assert infer_direction("val_accuracy") == infer_direction("val/acc") == "maximize"
    assert infer_direction("lr") is None


def test_judge_runs_stops_the_run_that_will_lose(tmp_path: Path) -> None:
    write_tensorboard(tmp_path)
    curves = read_tensorboard(tmp_path, "val/loss", direction="minimize")
    rows = {r.run: r for r in judge_runs(curves)}
    assert rows["good"].verdict.reason == "finished" and rows["good"].best_run == "good"
    bad = rows["bad"].verdict
    assert rows["bad"].worth_stopping and bad.reason == "hopeless"
    assert bad.horizon == 20 and bad.incumbent == pytest.approx(loss(0.2, 20))
    assert bad.prob_better is not None and bad.prob_better < 0.1
    q = bad.final_quantiles
    assert q[0.05] <= q[0.5] <= q[0.95]
    assert json.loads(json.dumps(rows["bad"].to_dict()))["worth_stopping"] is True


def test_judge_runs_diverged_warmup_and_no_incumbent() -> None:
    from curvecast import Curve

    runs = {
        "nan": Curve([1, 2, 3], [0.5, float("nan"), 0.1], "minimize"),
        "one": Curve([1], [0.9], "minimize"),
        "two": Curve([1, 2], [0.9, 0.8], "minimize"),
    }
    rows = {r.run: r for r in judge_runs(runs, horizon=10, method="last_value")}
    assert rows["nan"].verdict.reason == "diverged" and rows["nan"].worth_stopping
    assert rows["one"].verdict.reason == "warmup"
    assert rows["two"].verdict.reason == "no_incumbent"
    with pytest.raises(InvalidParameterError, match="threshold"):
        judge_runs(runs, threshold=2.0)
    with pytest.raises(CurvecastError):
        judge_runs({})
