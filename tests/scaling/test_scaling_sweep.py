"""Reading sweeps: CSV, JSON Lines, DataFrames, column aliases, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from curvecast.exceptions import InvalidParameterError
from curvecast.scaling import Sweep, read_sweep


def test_csv_with_aliases_and_compute_default(tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    p.write_text(
        "run,dataset,params,tokens,val_loss,acc\na,x,1e7,2e8,4.1,0.3\nb,y,1e8,2e9,3.4,0.4\n"
    )
    s = read_sweep(p, extra=["acc"])
    assert s.name == ("a", "b") and s.group == ("x", "y")
    np.testing.assert_allclose(s.C, 6 * s.N * s.D)
    np.testing.assert_allclose(s.extra["acc"], [0.3, 0.4])
    assert s.groups == ["x", "y"] and len(s.by_group()["y"]) == 1


def test_jsonl_with_compute_only(tmp_path: Path) -> None:
    p = tmp_path / "s.jsonl"
    rows = [{"N": 1e7, "flops": 1.2e16, "loss": 4.0}, {"N": 1e8, "flops": 1.2e18, "loss": 3.0}]
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    s = read_sweep(p)
    np.testing.assert_allclose(s.D, [2e8, 2e9])


def test_dataframe_and_explicit_columns() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"size": [1e7, 1e8], "toks": [2e8, 2e9], "y": [4.0, 3.0]})
    s = read_sweep(df, N="size", D="toks", loss="y")
    assert len(s) == 2 and s.loss.tolist() == [4.0, 3.0]
    with pytest.raises(InvalidParameterError, match="no column 'nope'"):
        read_sweep(df, N="nope", D="toks", loss="y")


def test_missing_columns_say_what_to_name_them(tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    p.write_text("params,score\n1e7,0.3\n")
    with pytest.raises(InvalidParameterError, match=r"no column for loss, D \(or C\).*--loss-col"):
        read_sweep(p)


def test_bad_values_name_the_run(tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    p.write_text("N,D,loss\n1e7,2e8,4.0\n1e8,abc,3.0\n")
    with pytest.raises(InvalidParameterError, match=r"'D' column .* 'abc' at run 1"):
        read_sweep(p)
    q = tmp_path / "s.jsonl"
    q.write_text('{"N": 1}\n[1, 2]\n')
    with pytest.raises(InvalidParameterError, match=r"Line 2 .* must be a JSON object"):
        read_sweep(q)
    with pytest.raises(FileNotFoundError, match="No sweep file"):
        read_sweep(tmp_path / "none.csv")


def test_diverged_runs_are_dropped_only_when_asked(tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    p.write_text("N,D,loss\n1e7,2e8,4.0\n1e8,2e9,nan\n1e9,2e10,inf\n")
    with pytest.raises(InvalidParameterError, match="drop_nonfinite=True"):
        read_sweep(p)
    assert len(read_sweep(p, drop_nonfinite=True)) == 1


def test_sweep_is_immutable_and_select_checks_its_mask() -> None:
    s = Sweep(N=[1e7, 1e8], D=[1e9, 1e10], loss=[3.0, 2.5])
    with pytest.raises(ValueError):
        s.N[0] = 5.0
    with pytest.raises(InvalidParameterError, match="shape"):
        s.select(np.array([True]))
    assert s.select(np.array([False, True])).N.tolist() == [1e8]
    assert s.to_records()[0]["C"] == pytest.approx(6e16)
    with pytest.raises(InvalidParameterError, match="one value per run"):
        Sweep(N=[1e7, 1e8], D=[1e9], loss=[3.0, 2.5])
