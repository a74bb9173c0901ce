"""``curvecast forecast`` forecasts the lines it has in batches: same answers, same order."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from curvecast.cli import main


def _line(i: int, **extra: object) -> str:
    x = list(range(1, 6 + i % 5))
    y = [round(0.8 - 0.4 / (k + i % 3), 4) for k in x]
    return json.dumps({"id": i, "x": x, "y": y, "x_new": [30], "bounds": [0, 1], **extra})


def _run(tmp_path: Path, lines: list[str], *args: str, capsys: pytest.CaptureFixture[str]) -> list:
    path = tmp_path / "req.jsonl"
    path.write_text("\n".join(lines) + "\n")
    rc = main(["forecast", str(path), *args])
    out = capsys.readouterr().out
    return [rc, [json.loads(t) for t in out.splitlines()]]


def test_batched_answers_equal_single_answers_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [_line(i) for i in range(70)]  # more than one batch
    rc, many = _run(tmp_path, lines, "--method", "pfn", capsys=capsys)
    assert rc == 0 and [a["id"] for a in many] == list(range(70))
    for i in (0, 33, 69):
        rc, one = _run(tmp_path, [lines[i]], "--method", "pfn", capsys=capsys)
        np.testing.assert_allclose(one[0]["quantiles"], many[i]["quantiles"], atol=1e-5)


def test_a_bad_line_in_a_batch_is_reported_in_its_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [_line(0), _line(1), '{"id": "bad", "x": [1, 2], "y": [0.1]}', _line(3)]
    rc, answers = _run(tmp_path, lines, "--method", "pfn", "--skip-invalid", capsys=capsys)
    assert rc == 0
    assert [a["id"] for a in answers] == [0, 1, "bad", 3]
    assert "error" in answers[2] and "quantiles" in answers[3]


def test_answers_before_a_fatal_bad_line_are_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [_line(0), _line(1), "not json", _line(3)]
    rc, answers = _run(tmp_path, lines, "--method", "pfn", capsys=capsys)
    assert rc == 2
    assert [a["id"] for a in answers] == [0, 1]


def test_stdin_pipe_is_answered(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO((_line(5) + "\n").encode())))
    assert main(["forecast", "--method", "pfn"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == 5
