"""The command line: JSON Lines in, JSON Lines out, clear errors with exit code 2."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
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


# -- hardening (issues 16 and 17) -------------------------------------------------------------


class _DrawForecaster:
    """A forecaster whose answer is one draw of its rng: shows which generator a request got."""

    name = "draw_for_test"

    def forecast(self, curve, x_new, *, rng, context=()):  # type: ignore[no-untyped-def]
        from curvecast.forecast import Forecast
        from curvecast.forecast._result import GRID

        level = float(rng.random())
        return Forecast(x_new, np.full((len(x_new), GRID.size), level), method=self.name)


@pytest.fixture
def draw_method() -> Iterator[str]:
    from curvecast.forecast import register, unregister

    register(_DrawForecaster.name, _DrawForecaster)
    yield _DrawForecaster.name
    unregister(_DrawForecaster.name)


def test_same_request_gets_the_same_answer_wherever_it_stands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], draw_method: str
) -> None:
    other = json.dumps({**GOOD, "id": "other", "y": [0.1, 0.2, 0.3, 0.35]})
    same = [
        json.dumps(GOOD),
        json.dumps({**GOOD, "id": 99}),
        json.dumps({**GOOD, "meta": {"k": 1}}),
    ]
    path = _write(tmp_path, same[0], other, same[1], same[2])
    assert main(["forecast", "--method", draw_method, "--seed", "3", path]) == 0
    out = _answers(capsys.readouterr().out)
    by_position = [out[0]["quantiles"], out[2]["quantiles"], out[3]["quantiles"]]
    assert by_position[0] == by_position[1] == by_position[2]
    assert out[1]["quantiles"] != out[0]["quantiles"]  # another curve: another stream
    # formatting does not matter: 1 and 1.0 are the same request
    reformatted = json.dumps({**GOOD, "x": [1.0, 2.0, 3.0, 4.0], "x_new": [10.0, 20.0]})
    assert (
        main(["forecast", "--method", draw_method, "--seed", "3", _write(tmp_path, reformatted)])
        == 0
    )
    assert _answers(capsys.readouterr().out)[0]["quantiles"] == out[0]["quantiles"]
    # and the seed matters
    assert main(["forecast", "--method", draw_method, "--seed", "4", path]) == 0
    assert _answers(capsys.readouterr().out)[0]["quantiles"] != out[0]["quantiles"]


_NESTED = '{"id": ' + "[" * 100_000 + "]" * 100_000 + ', "x": [1], "y": [1], "x_new": [2]}'
_LONG_INT = '{"id": 1, "x": [1, 2], "y": [0.1, ' + "9" * 5000 + '], "x_new": [3]}'
_BIG = 10**400


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (_NESTED, "nested too deeply"),
        (_LONG_INT, "not usable JSON"),
        (json.dumps({**GOOD, "x": [1, 2, 3, _BIG]}), "'x' field must hold numbers only"),
        (json.dumps({**GOOD, "y": [0.1, 0.2, 0.3, _BIG]}), "beyond the float range"),
        (json.dumps({**GOOD, "x_new": [10, _BIG]}), "'x_new' field must hold numbers only"),
        (json.dumps({**GOOD, "bounds": [0, _BIG]}), "'bounds' field's hi"),
        (json.dumps({**GOOD, "threshold": _BIG}), "'threshold' field"),
        ('{"id": NaN, "x": [1], "y": [1], "x_new": [2]}', "'id' field must be writable"),
        ('{"id": [Infinity], "x": [1], "y": [1], "x_new": [2]}', "'id' field must be writable"),
        (json.dumps({**GOOD, "y": [0.5, "0.6", 0.64, 0.66]}), "a string"),
        (json.dumps({**GOOD, "x": [True, 2, 3, 4]}), "a boolean"),
        (json.dumps({**GOOD, "y": [0.5, 0.6, True, 0.66]}), "a boolean"),
        (json.dumps({**GOOD, "threshold": True}), "'threshold' field"),
        (json.dumps({**GOOD, "bounds": [0, "1"]}), "'bounds' field's hi"),
        (json.dumps({**GOOD, "y": [50, 60, 64, 66]}), "within the bounds [0, 1]"),
        (json.dumps({**GOOD, "x_new": [10, 1e308]}), "more than 1e+06 times"),
        (json.dumps({**GOOD, "x_new": list(range(5, 3000))}), "at most 2000"),
        (
            json.dumps({**GOOD, "x": list(range(1, 30_001)), "y": [0.5] * 30_000}),
            "--max-points",
        ),
    ],
)
def test_hostile_input_exits_2_not_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, expected: str
) -> None:
    rc = main(["forecast", "--method", "last_value", _write(tmp_path, line)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert expected in err and "line 1:" in err
    assert "internal error" not in err and "Traceback" not in err


def test_caps_can_be_raised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = json.dumps({**GOOD, "x_new": [10, 20, 30]})
    assert (
        main(["forecast", "--method", "last_value", "--max-x-new", "2", _write(tmp_path, line)])
        == 2
    )
    assert "--max-x-new" in capsys.readouterr().err
    assert (
        main(["forecast", "--method", "last_value", "--max-x-new", "3", _write(tmp_path, line)])
        == 0
    )


def test_unwritable_id_with_skip_invalid_writes_a_strict_json_error_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, '{"id": NaN, "x": [1], "y": [1], "x_new": [2]}', json.dumps(GOOD))
    assert main(["forecast", "--method", "last_value", "--skip-invalid", path]) == 0
    lines = capsys.readouterr().out.splitlines()
    first = json.loads(lines[0], parse_constant=lambda c: pytest.fail(f"{c} in the output"))
    assert first["id"] is None and "'id' field" in first["error"]
    assert json.loads(lines[1])["id"] == "a"


def test_bytes_that_are_not_utf8_fail_their_line_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "mixed.jsonl"
    p.write_bytes(
        json.dumps(GOOD).encode() + b"\n" + b'{"id": "\xff\xfe"}\n' + json.dumps(GOOD).encode()
    )
    assert main(["forecast", "--method", "last_value", str(p)]) == 2
    captured = capsys.readouterr()
    assert len(_answers(captured.out)) == 1  # the answer before the bad line stays written
    assert "line 2: not valid UTF-8" in captured.err
    assert main(["forecast", "--method", "last_value", "--skip-invalid", str(p)]) == 0
    out = _answers(capsys.readouterr().out)
    assert [("error" in a) for a in out] == [False, True, False]


def test_a_utf8_bom_is_not_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\n")
    assert main(["forecast", "--method", "last_value", str(p)]) == 0
    assert _answers(capsys.readouterr().out)[0]["id"] == "a"


def test_an_error_raised_while_forecasting_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    from curvecast.exceptions import InvalidParameterError

    def refuse(*args: object, **kwargs: object) -> None:
        raise InvalidParameterError("The 'context' parameter of forecast must be ...")

    fc_module = importlib.import_module("curvecast.forecast")  # the package, not the function
    monkeypatch.setattr(fc_module, "forecast_curve", refuse)
    monkeypatch.setattr(fc_module, "forecast_many", refuse)  # a batch, retried line by line
    path = _write(tmp_path, json.dumps(GOOD), json.dumps(GOOD))
    assert main(["forecast", "--skip-invalid", path]) == 0
    out = _answers(capsys.readouterr().out)
    assert [a["error"].startswith(f"line {i}: The 'context'") for i, a in enumerate(out, 1)] == [
        True,
        True,
    ]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_goes_to_stderr_on_a_terminal_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, *[json.dumps({**GOOD, "id": i}) for i in range(3)])
    assert main(["forecast", "--method", "last_value", path]) == 0
    assert "requests answered" not in capsys.readouterr().err
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    assert main(["forecast", "--method", "last_value", path]) == 0
    assert "3 requests answered" in tty.getvalue()
    assert len(_answers(capsys.readouterr().out)) == 3  # stdout holds the answers only


@pytest.mark.parametrize(
    ("argv", "msg"),
    [
        (["forecast", "--seed", "-1", "-"], "The '--seed' option must be an int >= 0"),
        (["forecast", "--seed", "1.5", "-"], "The '--seed' option must be an int >= 0"),
        (["demo", "--seed", "-1"], "The '--seed' option must be an int >= 0"),
        (["forecast", "--max-x-new", "0", "-"], "--max-x-new"),
    ],
)
def test_bad_seeds_are_usage_errors(
    argv: list[str], msg: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert msg in capsys.readouterr().err


def test_unknown_option_prints_the_subcommand_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["forecast", "--bogus"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: curvecast forecast") and "--bogus" in err
    assert "Try 'curvecast forecast --help'" in err


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    return capsys.readouterr().out


def test_bench_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("curvecast.bench.cli")
    text = _help(["bench"], capsys)
    assert "{forecast,speed,prune,scaling,anytime}" in text
    assert "curvecast[:METHOD][@THRESHOLD]" in " ".join(_help(["bench", "prune"], capsys).split())


def test_every_train_option_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    from curvecast.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for action in sub.choices["train"]._actions:
        assert action.help, f"curvecast train {action.option_strings} has no help text"


def test_no_help_text_shows_a_doubled_percent_or_an_internal_path(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 26: descriptions printed a literal "90%%" (argparse formats only help strings) and
    --data-dir named the project's own "../shared/data"."""
    from curvecast.cli import build_parser

    def walk(parser: argparse.ArgumentParser, argv: list[str]) -> list[list[str]]:
        found = [argv]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found += walk(sub, [*argv, name])
        return found

    commands = walk(build_parser(), [])
    assert ["bench", "anytime"] in commands and ["scaling", "fit"] in commands
    for argv in commands:
        text = _help(argv, capsys)
        assert "%%" not in text, argv
        assert "shared/data" not in text, argv
