"""The readers' edges (issue 26's reliability audit): reading never writes, damage is said per
file, nothing hangs, and bad input is exit 2 on the command line."""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import struct
import sys
import warnings
from pathlib import Path

import pytest

from curvecast.cli import main
from curvecast.io import DataLossWarning, SourceError, read_mlflow, read_tensorboard

# ------------------------------------------------------------------------------ TensorBoard


def _event_file(folder: Path, n: int = 8) -> Path:
    """One event file with ``acc`` at steps 1..n, written by TensorBoard's own writer."""
    pytest.importorskip("tensorboard", reason="pip install '.[tensorboard]'")
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    folder.mkdir(parents=True, exist_ok=True)
    w = EventFileWriter(str(folder))
    for step in range(1, n + 1):
        value = Summary.Value(tag="acc", simple_value=0.1 * step)
        w.add_event(Event(step=step, wall_time=1.0, summary=Summary(value=[value])))
    w.close()
    (path,) = folder.glob("events.out.tfevents.*")
    return path


def _record_offsets(data: bytes) -> list[int]:
    out, pos = [], 0
    while pos < len(data):
        out.append(pos)
        (length,) = struct.unpack_from("<Q", data, pos)
        pos += 16 + length
    return out


def _read_warning(logdir: Path) -> tuple[dict, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        curves = read_tensorboard(logdir, "acc")
    return curves, [str(w.message) for w in caught if issubclass(w.category, DataLossWarning)]


def test_an_intact_file_reads_whole_and_warns_nothing(tmp_path: Path) -> None:
    _event_file(tmp_path / "run")
    curves, said = _read_warning(tmp_path)
    assert curves["run"].x.tolist() == list(range(1, 9)) and said == []


def test_a_flipped_byte_costs_one_record_not_the_run(tmp_path: Path) -> None:
    path = _event_file(tmp_path / "run")
    data = bytearray(path.read_bytes())
    data[40] ^= 0xFF  # the audit's byte: inside the first records
    path.write_bytes(bytes(data))
    curves, said = _read_warning(tmp_path)
    assert len(curves["run"].x) >= 7  # on main: the whole run was dropped
    assert len(said) == 1 and str(path) in said[0] and "damaged" in said[0] + "checksum"


def test_a_bad_checksum_on_the_last_record_is_said(tmp_path: Path) -> None:
    path = _event_file(tmp_path / "run")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # the last record's data checksum
    path.write_bytes(bytes(data))
    curves, said = _read_warning(tmp_path)
    assert curves["run"].x.tolist() == list(range(1, 8))
    assert len(said) == 1 and "fails its checksum" in said[0] and str(path) in said[0]


def test_a_file_cut_in_half_keeps_what_it_has_and_says_so(tmp_path: Path) -> None:
    path = _event_file(tmp_path / "run")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    curves, said = _read_warning(tmp_path)
    kept = len(curves["run"].x)
    assert 1 <= kept < 8
    assert len(said) == 1 and "cut off" in said[0]


def test_nothing_readable_is_an_error_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _event_file(tmp_path / "run")
    path.write_bytes(bytes(b ^ 0x5A for b in path.read_bytes()))
    with pytest.raises(SourceError, match="not a readable TensorBoard event file"):
        read_tensorboard(tmp_path, "acc")
    assert main(["forecast", "--from", f"tensorboard:{tmp_path}", "--metric", "acc"]) == 2
    assert "error:" in capsys.readouterr().err


def test_the_command_line_prints_the_loss_as_a_warning_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _event_file(tmp_path / "run", n=12)
    _event_file(tmp_path / "other", n=12)
    data = bytearray(path.read_bytes())
    data[_record_offsets(bytes(data))[5] + 14] ^= 0xFF  # the data of one scalar's record
    path.write_bytes(bytes(data))
    assert main(["forecast", "--from", f"tensorboard:{tmp_path}", "--metric", "acc"]) == 0
    err = capsys.readouterr().err
    assert "curvecast forecast: warning:" in err and "fails its checksum" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_named_like_an_event_file_is_skipped_not_waited_on(tmp_path: Path) -> None:
    _event_file(tmp_path / "run")
    os.mkfifo(tmp_path / "run" / "events.out.tfevents.999.fifo")
    curves, said = _read_warning(tmp_path)  # on main: blocks forever in open()
    assert curves["run"].x.tolist() == list(range(1, 9))
    assert any("not a regular file" in s for s in said)
    with pytest.raises(SourceError, match="neither a folder nor a regular file"):
        read_tensorboard(tmp_path / "run" / "events.out.tfevents.999.fifo", "acc")


# ------------------------------------------------------------------------------------ MLflow


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): (_sha(p) if p.is_file() else "dir")
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture()
def mlflow_db(tmp_path: Path) -> Path:
    mlflow = pytest.importorskip("mlflow", reason="pip install '.[mlflow]'")
    db = tmp_path / "mlflow.db"
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    try:
        mlflow.set_experiment("search")
        with mlflow.start_run(run_name="r1"):
            for e in range(1, 6):
                mlflow.log_metric("val_loss", 1.0 / e, step=e)
    finally:
        mlflow.set_tracking_uri(None)
    return db


def test_reading_an_mlflow_database_leaves_it_byte_for_byte(mlflow_db: Path) -> None:
    before = _sha(mlflow_db)
    for location in (str(mlflow_db), f"sqlite:///{mlflow_db}"):
        curves = read_mlflow(location, "val_loss", direction="minimize")
        assert curves["r1"].y.tolist() == pytest.approx([1.0, 0.5, 1 / 3, 0.25, 0.2])
    assert _sha(mlflow_db) == before
    assert sorted(p.name for p in mlflow_db.parent.iterdir()) == ["mlflow.db"]


def test_a_foreign_sqlite_file_is_refused_and_unchanged(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    other = tmp_path / "app.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE users (id INTEGER, name TEXT)")
        conn.execute("INSERT INTO users VALUES (1, 'ada')")
    before = _sha(other)
    with pytest.raises(SourceError, match=r"not an MLflow tracking database.*users"):
        read_mlflow(str(other), "val_loss")
    with pytest.raises(SourceError, match="not an MLflow tracking database"):
        read_mlflow(f"sqlite:///{other}", "val_loss")
    assert _sha(other) == before  # on main: about 75 MLflow tables were added


def test_an_optuna_study_db_is_refused_and_unchanged(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    optuna = pytest.importorskip("optuna")
    db = tmp_path / "study.db"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=f"sqlite:///{db}", study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    before = _sha(db)
    with pytest.raises(SourceError, match="not an MLflow tracking database"):
        read_mlflow(str(db), "value")
    assert _sha(db) == before


def test_a_missing_sqlite_uri_is_refused_not_created(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    with pytest.raises(SourceError, match=r"no MLflow database.*never creates one"):
        read_mlflow(f"sqlite:///{tmp_path / 'nothing.db'}", "val_loss")
    assert list(tmp_path.iterdir()) == []


def test_any_folder_is_refused_and_gets_no_trash(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(SourceError, match="not an MLflow mlruns folder"):
        read_mlflow(str(folder), "val_loss")
    assert _tree(folder) == {"a.jpg": _sha(folder / "a.jpg")}  # on main: .trash/ and 0/


def _mlruns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    mlflow = pytest.importorskip("mlflow")
    folder = tmp_path / "mlruns"
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    mlflow.set_tracking_uri(folder.as_uri())
    try:
        mlflow.set_experiment("folder")
        with mlflow.start_run(run_name="r1"):
            for e in range(1, 6):
                mlflow.log_metric("acc", 0.1 * e, step=e)
    finally:
        mlflow.set_tracking_uri(None)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    return folder


def test_reading_an_mlruns_folder_changes_nothing_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _mlruns(tmp_path, monkeypatch)
    (folder / ".trash").rmdir()  # as a store synced without its empty folders
    before = _tree(folder)
    assert read_mlflow(str(folder), "acc")["r1"].y.tolist() == pytest.approx(
        [0.1 * e for e in range(1, 6)]
    )
    assert _tree(folder) == before


def test_a_garbage_metric_file_is_a_source_error_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _mlruns(tmp_path, monkeypatch)
    (metric,) = folder.glob("*/*/metrics/acc")
    metric.write_bytes(b"\x00\xffnot a metric line\n1 2\n")
    with pytest.raises(SourceError, match="mlflow:"):
        read_mlflow(str(folder), "acc")
    assert main(["forecast", "--from", f"mlflow:{folder}", "--metric", "acc"]) == 2
    assert "internal error" not in capsys.readouterr().err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the with-block ends


def test_a_server_that_is_not_there_fails_at_once(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    port = _closed_port()
    with pytest.raises(SourceError, match=f"no tracking server answers at 127.0.0.1:{port}"):
        read_mlflow(f"http://127.0.0.1:{port}/", "val_loss")  # on main: 249 s of retries


def test_a_database_url_that_is_not_mlflow_is_refused(tmp_path: Path) -> None:
    """A SQLAlchemy URL other than plain sqlite:/// (here SQLite through its named driver, as a
    PostgreSQL URL would be) is opened by MLflow only when it already has MLflow's tables."""
    pytest.importorskip("mlflow")
    pytest.importorskip("sqlalchemy")
    other = tmp_path / "app.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE users (id INTEGER)")
    before = _sha(other)
    with pytest.raises(SourceError, match=r"lacks.*mlflow server"):
        read_mlflow(f"sqlite+pysqlite:///{other}", "val_loss")
    assert _sha(other) == before


# ------------------------------------------------------------------------------ --to-storage


@pytest.mark.parametrize("url", ["foo", "sqlite:///{tmp}/no/such/folder/runs.db"])
def test_to_storage_bad_url_is_exit_2(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("optuna")
    csv = tmp_path / "runs.csv"
    csv.write_text(
        "run,step,metric,value\n" + "".join(f"a,{s},acc,{0.1 * s}\n" for s in range(1, 5))
    )
    argv = ["forecast", "--from", f"csv:{csv}", "--metric", "acc"]
    code = main([*argv, "--to-storage", url.format(tmp=tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "--to-storage" in err and "internal error" not in err
    assert not (tmp_path / "no").exists()


if sys.platform == "win32":  # pragma: no cover
    pytestmark = pytest.mark.skip(reason="POSIX file semantics")
