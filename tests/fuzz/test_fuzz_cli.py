"""Fuzz ``curvecast forecast`` in-process: crafted JSON Lines on stdin and in a file.

Whatever the lines, the command exits 0 or 2 (never 1, "internal error"), writes only strict
JSON objects to stdout, one per request up to the first bad line (or one per non-blank line
with ``--skip-invalid``), and keeps the answers it wrote before a bad line.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from curvecast.cli import main

from ._strategies import CI, LONG, jsonl_line

_METHODS = st.sampled_from(["last_value", "pfn", "parametric", "auto"])


def _strict(text: str) -> dict[str, Any]:
    def refuse(const: str) -> None:
        raise AssertionError(f"{const} in the output: not strict JSON")

    obj = json.loads(text, parse_constant=refuse)
    assert isinstance(obj, dict) and "id" in obj
    assert ("error" in obj) != ("quantiles" in obj)
    return obj


def _non_blank(lines: list[bytes]) -> int:
    count = 0
    for i, raw in enumerate(lines):
        try:
            text = raw.decode("utf-8-sig" if i == 0 else "utf-8")
        except UnicodeDecodeError:
            count += 1
            continue
        count += bool(text.strip())
    return count


def _run(argv: list[str], data: bytes, via_file: bool) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    path = None
    stdin = sys.stdin
    try:
        if via_file:
            fd, path = tempfile.mkstemp(suffix=".jsonl")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            argv = [*argv, path]
        else:
            sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(argv)
    finally:
        sys.stdin = stdin
        if path is not None:
            os.unlink(path)
    return rc, out.getvalue(), err.getvalue()


def _check(lines: list[bytes], method: str, skip: bool, via_file: bool) -> None:
    data = b"\n".join(lines) + b"\n"
    argv = ["forecast", "--method", method, *(["--skip-invalid"] if skip else [])]
    rc, out, err = _run(argv, data, via_file)
    assert "internal error" not in err, err
    assert rc in (0, 2), err
    answers = [_strict(line) for line in out.splitlines()]
    n = _non_blank(lines)
    if skip:
        assert rc == 0 and len(answers) == n, (len(answers), n, err)
    else:
        assert len(answers) <= n
        assert all("error" not in a for a in answers)
        assert (rc == 2) == (len(answers) < n), err
        if rc == 2:
            assert err.startswith("curvecast forecast: error: line ")


@CI
@given(
    lines=st.lists(jsonl_line(), min_size=1, max_size=4),
    method=_METHODS,
    skip=st.booleans(),
    via_file=st.booleans(),
)
def test_cli_exits_0_or_2_and_writes_strict_json(
    lines: list[bytes], method: str, skip: bool, via_file: bool
) -> None:
    _check(lines, method, skip, via_file)


@pytest.mark.fuzz_long
@LONG
@given(
    lines=st.lists(jsonl_line(), min_size=1, max_size=8),
    method=_METHODS,
    skip=st.booleans(),
    via_file=st.booleans(),
)
def test_cli_long(lines: list[bytes], method: str, skip: bool, via_file: bool) -> None:
    _check(lines, method, skip, via_file)
