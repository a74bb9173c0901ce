"""Lint, format and type checks run as part of the test command, so CI and a contributor's
`pytest` agree. The tools come with the `dev` extra."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.mark.skipif(
    shutil.which("ruff") is None, reason="ruff not installed: pip install -e '.[dev]'"
)
def test_ruff_lint_and_format() -> None:
    lint = _run("ruff", "check", "src", "tests")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run("ruff", "format", "--check", "src", "tests")
    assert fmt.returncode == 0, "run `ruff format src tests`:\n" + fmt.stdout


def test_mypy_clean() -> None:
    pytest.importorskip("mypy", reason="mypy not installed: pip install -e '.[dev]'")
    done = _run(sys.executable, "-m", "mypy")
    assert done.returncode == 0, done.stdout + done.stderr
