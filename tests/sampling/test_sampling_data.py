"""Bad input gets a clear error naming the column and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from curvecast.exceptions import InvalidParameterError
from curvecast.sampling import SampleCounts, read_samples


@pytest.mark.parametrize(
    ("n", "c", "column", "fix"),
    [
        ([5, 3], [6, 0], "'c'", "fix that row"),
        ([5, -1], [1, 0], "'n'", "whole numbers >= 0"),
        ([5, 2.5], [1, 0], "'n'", "whole numbers >= 0"),
        ([5, 4], [1, -2], "'c'", "whole numbers >= 0"),
        ([5, 0], [1, 0], "'n'", "no samples"),
        ([], [], "'n'", "at least one"),
        ([5, float("nan")], [1, 0], "'n'", "whole numbers"),
    ],
)
def test_bad_counts(n: list[float], c: list[float], column: str, fix: str) -> None:
    with pytest.raises(InvalidParameterError) as err:
        SampleCounts(n, c)
    assert column in str(err.value) and fix in str(err.value)


def test_bad_outcomes() -> None:
    with pytest.raises(InvalidParameterError, match=r"'correct' column .* 0 or 1"):
        SampleCounts.from_outcomes([[0, 1, 2]])
    sc = SampleCounts.from_outcomes(np.array([[1, 0, np.nan], [0, 0, 0]]))
    assert sc.n.tolist() == [2, 3] and sc.c.tolist() == [1, 0]


def _write(tmp_path: Path, text: str, name: str = "s.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_outcomes_and_counts(tmp_path: Path) -> None:
    rows = "model,problem,attempt,correct\na,p1,1,1\na,p1,2,0\na,p2,1,0\nb,p1,1,0\n"
    path = _write(tmp_path, rows)
    data = read_samples(path)
    assert list(data) == ["a", "b"]
    assert data["a"].n.tolist() == [2, 1] and data["a"].c.tolist() == [1, 0]
    path = _write(tmp_path, "Problem,N,C\nx,10,2\ny,20,0\n", "c.csv")
    (only,) = read_samples(path).values()
    assert only.n.tolist() == [10, 20] and only.model == ""


def test_read_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"problem": ["a", "b"], "n": [4, 4], "c": [1, 0]})
    pq.write_table(table, tmp_path / "s.parquet")
    (sc,) = read_samples(tmp_path / "s.parquet").values()
    assert sc.c.tolist() == [1, 0]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty file"),
        ("problem,attempt,correct\n", "empty file"),
        ("problem,attempt,correct\np,1,2\n", "'correct' column must be 0 or 1"),
        ("problem,attempt,correct\np,1,yes\n", "'correct' column must be 0 or 1"),
        ("problem,n,c\np,3,4\n", r"'c' column .* must be <= 'n'"),
        ("problem,n,c\np,-3,0\n", "'n' column"),
        ("problem,n,c\np,3,1.5\n", "'c' column"),
        ("problem,n,c\np,0,0\n", "no samples"),
        ("problem,n,c\np,3,1\np,4,1\n", "'problem' column must list each problem once"),
        ("task,k,ok\np,3,1\n", "must have columns"),
        ("problem,n,c\n,3,1\n", "'problem' column must name a problem"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        read_samples(_write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="does not exist"):
        read_samples(tmp_path / "nope.csv")
