"""The command line: JSON Lines in, JSON Lines out, clear errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from curvecast.cli import main

GOOD = {
    "id": "a",
    "x": [1, 2, 3, 4],
    "y": [0.5, 0.6, 0.64, 0.66],
    "x_new": [10, 20],
    "bounds": [0, 1],
    "threshold": 0.7,
}


def _write(tmp_path: Path, *lines: str) -> str:
    p = tmp_path / "req.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(p)


def _answers(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_forecast_answers_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    second = {
        **GOOD,
        "id": 7,
        "direction": "minimize",
        "y": [3.0, 2.5, 2.2, 2.1],
        "bounds": [0, None],
    }
    del second["threshold"]
    path = _write(tmp_path, json.dumps(GOOD), "", json.dumps(second))
    rc = main(["forecast", "--method", "last_value", "--quantiles", "0.1,0.5,0.9", path])
    assert rc == 0
    out = _answers(capsys.readouterr().out)
    assert [a["id"] for a in out] == ["a", 7]
    assert out[0]["levels"] == [0.1, 0.5, 0.9]
    q = out[0]["quantiles"]
    assert isinstance(q, list) and len(q) == 2 and all(len(r) == 3 for r in q)
    assert all(r == sorted(r) for r in q)
    assert 0.0 <= out[0]["prob_better"] <= 1.0  # type: ignore[operator]
    assert "prob_better" not in out[1]
    assert out[1]["method"] == "last_value"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{not json", "line 1: not valid JSON"),
        ("[1, 2]", "line 1: expected a JSON object"),
        (json.dumps({"x": [1], "y": [1]}), "'x_new' field is missing"),
        (json.dumps({**GOOD, "y": [1, "a", 2, 3]}), "'y' field must hold numbers only"),
        (json.dumps({**GOOD, "x": [1, 3, 2, 4]}), "'x' field must be strictly increasing"),
        (json.dumps({**GOOD, "direction": "up"}), "'direction' field"),
        (json.dumps({**GOOD, "xnew": [1]}), "unknown field 'xnew'"),
        (json.dumps({**GOOD, "y": "0.5"}), "'y' field must be a list"),
        (json.dumps({**GOOD, "threshold": "high"}), "'threshold' field"),
    ],
)
def test_bad_input_exits_2_with_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, expected: str
) -> None:
    rc = main(["forecast", "--method", "last_value", _write(tmp_path, line)])
    err = capsys.readouterr().err
    assert rc == 2
    assert expected in err
    assert "Traceback" not in err


def test_error_on_a_later_line_keeps_earlier_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, json.dumps(GOOD), json.dumps({**GOOD, "x": [2, 1, 3, 4]}))
    assert main(["forecast", "--method", "last_value", path]) == 2
    captured = capsys.readouterr()
    assert len(_answers(captured.out)) == 1
    assert "line 2:" in captured.err


def test_skip_invalid_writes_error_objects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(
        tmp_path,
        "oops",
        json.dumps({**GOOD, "id": "b"}),
        json.dumps({**GOOD, "id": "c", "y": [1, None]}),
    )
    assert main(["forecast", "--method", "last_value", "--skip-invalid", path]) == 0
    out = _answers(capsys.readouterr().out)
    assert out[0] == {"id": None, "error": out[0]["error"]} and "line 1" in str(out[0]["error"])
    assert out[1]["id"] == "b" and "quantiles" in out[1]
    assert out[2]["id"] == "c" and "same length" in str(out[2]["error"])


def test_diverged_request_is_answered_not_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = '{"id": 1, "x": [1, 2, 3], "y": [2.0, NaN, 1.0], "x_new": [9], "direction": "minimize"}'
    assert main(["forecast", "--method", "last_value", _write(tmp_path, line)]) == 0
    (answer,) = _answers(capsys.readouterr().out)
    assert answer["diverged"] is True and answer["quantiles"] == [[None] * 5]


@pytest.mark.parametrize(
    ("argv", "msg"),
    [
        (["forecast", "--quantiles", "0.9,0.1", "-"], "--quantiles"),
        (["forecast", "--method", "nope", "-"], "invalid choice"),
        (["forecast", "/no/such/file.jsonl"], "cannot read"),
        (["demo", "--curves", "--observed", "1.5"], "'observed'"),
        (["demo", "--trials", "1"], "'trials'"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], msg: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse exits itself for usage errors
        rc = int(exc.code or 0)
    assert rc == 2
    assert msg in capsys.readouterr().err


def test_console_script_stdin_version_and_help() -> None:
    exe = [sys.executable, "-m", "curvecast.cli"]
    done = subprocess.run(
        [*exe, "forecast", "--method", "last_value"],
        input=json.dumps(GOOD),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == "a"
    version = subprocess.run([*exe, "--version"], capture_output=True, text=True, check=False)
    assert version.returncode == 0 and version.stdout.startswith("curvecast ")
    for sub in ([], ["forecast"], ["demo"]):
        h = subprocess.run([*exe, *sub, "--help"], capture_output=True, text=True, check=False)
        assert h.returncode == 0 and "exit codes" in h.stdout


def test_demo_prints_forecasts_against_truth(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--curves", "--method", "last_value"]) == 0
    out = capsys.readouterr().out
    assert "LCDB" in out and "true final values fall inside the 90% interval" in out
    assert "curvecast forecast runs.jsonl" in out
