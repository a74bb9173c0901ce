"""``curvecast forecast --from``: the table, --json, and exit code 2 with the fix on bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from test_io_readers import RUNS, loss, write_tensorboard, write_wandb_chart

from curvecast.cli import main


def test_table_names_the_runs_worth_stopping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tensorboard(tmp_path / "runs")
    rc = main(["forecast", "--from", f"tensorboard:{tmp_path / 'runs'}", "--metric", "val/loss"])
    out = capsys.readouterr().out
    assert rc == 0, out
    lines = out.splitlines()
    assert "val/loss (minimize) of 3 runs" in lines[0] and "step 20" in lines[0]
    assert "P(beat best)" in lines[1]
    by_run = {line.split()[0]: line for line in lines[2:5]}
    assert by_run["good"].endswith("best") and "STOP" in by_run["bad"]
    assert lines[-1].startswith("worth stopping: ") and "bad" in lines[-1]
    assert "good" not in lines[-1]


def test_json_lines_for_scripts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export.csv"
    write_wandb_chart(path)
    args = ["forecast", "--from", f"wandb:{path}", "--metric", "val/loss", "--mode", "min"]
    assert main([*args, "--json", "--horizon", "30", "--bounds", "0,"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["run"] for r in rows] == sorted(RUNS)
    for r in rows:
        assert r["horizon"] == 30 and r["last_step"] == RUNS[r["run"]][1]
        assert r["decision"] in ("continue", "stop") and r["prob_better"] is not None
        assert set(r["final_quantiles"]) == {"0.05", "0.25", "0.5", "0.75", "0.95"}
    assert {r["run"] for r in rows if r["worth_stopping"]} >= {"bad"}


def test_csv_source_with_explicit_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "runs.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["run", "step", "metric", "value"])
        for name, (plateau, n) in RUNS.items():
            w.writerows((name, e, "score", 1 - loss(plateau, e) / 2) for e in range(1, n + 1))
    args = ["forecast", "--from", f"csv:{path}", "--metric", "score", "--mode", "max"]
    assert main([*args, "--json"]) == 0
    rows = {r["run"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["good"]["reason"] == "finished" and rows["bad"]["worth_stopping"]


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("empty", ["--metric", "val/loss"], "no TensorBoard event file"),
        ("runs", ["--metric", "val/acc"], "no run has the metric 'val/acc'"),
        ("corrupt", ["--metric", "val/loss"], "not a readable TensorBoard event file"),
        ("runs", [], "needs --metric NAME"),
        ("runs", ["--metric", "lr"], "add --mode max or --mode min"),
    ],
)
def test_bad_input_exits_2_with_the_fix(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    args: list[str],
    message: str,
) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    if setup != "empty":
        write_tensorboard(logdir)
    if setup == "corrupt":
        (logdir / "good" / "events.out.tfevents.1.x").write_bytes(b"\x00\x01garbage" * 10)
    rc = main(["forecast", "--from", f"tensorboard:{logdir}", *args])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and err.startswith("curvecast forecast: error:")


def test_from_and_file_together_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["forecast", "x.jsonl", "--from", f"csv:{tmp_path}/a.csv", "--metric", "m"])
    assert rc == 2 and "not both" in capsys.readouterr().err
    rc = main(["forecast", "--from", "neptune:x", "--metric", "m"])
    assert rc == 2 and "unknown kind 'neptune'" in capsys.readouterr().err


def test_to_storage_keeps_the_runs_as_trials_for_the_dashboard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    optuna = pytest.importorskip("optuna")
    from torch.utils.tensorboard import SummaryWriter

    from curvecast.integrations.optuna import verdicts

    logdir, url = tmp_path / "runs", f"sqlite:///{tmp_path / 'runs.db'}"
    write_tensorboard(logdir)
    args = ["forecast", "--from", f"tensorboard:{logdir}", "--metric", "val/loss"]
    assert main([*args, "--to-storage", url, "--study", "s"]) == 0
    assert "3 new runs, 0 updated, 1 complete" in capsys.readouterr().out
    trials = {t.user_attrs["run"]: t for t in optuna.load_study(study_name="s", storage=url).trials}
    assert trials["good"].state.name == "COMPLETE"
    assert trials["good"].value == pytest.approx(loss(0.2, 20))
    bad = trials["bad"]
    assert bad.state.name == "RUNNING" and sorted(bad.intermediate_values) == list(range(1, 9))
    assert verdicts(bad)[-1].decision == "stop" and verdicts(bad)[-1].horizon == 20
    # the run goes on; --watch reads it again (here once: the wait is interrupted)
    with SummaryWriter(str(logdir / "bad"), filename_suffix=".more") as w:
        for epoch in range(9, 13):
            w.add_scalar("val/loss", loss(0.6, epoch), epoch)
    monkeypatch.setattr("curvecast.io._cli.time.sleep", _interrupt)
    assert main([*args, "--to-storage", url, "--study", "s", "--watch", "5"]) == 0
    assert "0 new runs, 1 updated, 0 complete" in capsys.readouterr().out  # only bad grew
    trials = {t.user_attrs["run"]: t for t in optuna.load_study(study_name="s", storage=url).trials}
    assert len(trials) == 3 and max(trials["bad"].intermediate_values) == 12
    assert verdicts(trials["bad"])[-1].step == 12


def _interrupt(_seconds: float) -> None:
    raise KeyboardInterrupt


def test_table_sorts_runs_naturally_marks_the_best_it_judged_against_and_explains_warmup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 26: trial-10 sorted before trial-2; "best" marked a finished run while P(beat
    best) was computed against a running run's forecast; "warmup" never explained."""
    path = tmp_path / "runs.csv"
    curves = {
        "trial-1": [0.5 + 0.01 * e for e in range(1, 21)],  # finished, 0.70
        "trial-2": [0.2 + 0.001 * e for e in range(1, 8)],  # running, hopeless
        "trial-10": [0.9 + 0.004 * e for e in range(1, 11)],  # running, far ahead
        "trial-11": [0.6],  # one point: warm-up
    }
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["run", "step", "metric", "value"])
        for name, ys in curves.items():
            w.writerows((name, e, "acc", y) for e, y in enumerate(ys, start=1))
    args = ["forecast", "--from", f"csv:{path}", "--metric", "acc", "--mode", "max"]
    assert main([*args, "--bounds", "0,1", "--method", "last_value"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines[2:6]]
    assert names == ["trial-1", "trial-2", "trial-10", "trial-11"]
    by_run = dict(zip(names, lines[2:6], strict=True))
    assert by_run["trial-10"].endswith("(best)")  # the incumbent the others were judged against
    assert not by_run["trial-1"].endswith("best")
    assert "warm-up" in by_run["trial-11"]
    notes = "\n".join(lines[6:])
    assert "best: trial-10" in notes and "still running" in notes
    assert "warm-up: a run with fewer than" in notes
    rows = main([*args, "--bounds", "0,1", "--method", "last_value", "--json"])
    assert rows == 0
    judged = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["run"] for r in judged] == names
    assert {r["best_run"] for r in judged if r["prob_better"] is not None} == {
        "trial-10",
        "trial-1",
    }
