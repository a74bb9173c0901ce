"""Issue 26 on the scaling side: read_sweep without pandas, and the N* interval's coverage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from curvecast.exceptions import InvalidParameterError
from curvecast.scaling import read_sweep

_SWEEP = "params,tokens,loss\n1e7,2e8,4.1\n1e8,2e9,3.4\n1e9,2e10,2.9\n"


def test_read_sweep_reads_csv_with_pandas_absent(tmp_path: Path) -> None:
    """The ``[demo]`` install has no pandas: a CSV or JSON Lines sweep must not need it."""
    (tmp_path / "s.csv").write_text(_SWEEP)
    (tmp_path / "s.jsonl").write_text('{"N": 1e7, "D": 2e8, "loss": 4.1}\n')
    code = (
        "import sys; sys.modules['pandas'] = None\n"  # import pandas now raises ImportError
        "from curvecast.scaling import read_sweep\n"
        f"assert read_sweep({str(tmp_path / 's.csv')!r}).N.tolist() == [1e7, 1e8, 1e9]\n"
        f"assert read_sweep({str(tmp_path / 's.jsonl')!r}).loss.tolist() == [4.1]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_read_sweep_takes_a_dataframe_when_given(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"params": [1e7, 1e8], "tokens": [2e8, 2e9], "loss": [4.1, 3.4]})
    assert read_sweep(df).D.tolist() == [2e8, 2e9]


@pytest.mark.parametrize("name", ["s.parquet", "s.xlsx"])
def test_read_sweep_names_the_way_to_read_other_formats(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"PAR1\x00\xff")
    with pytest.raises(InvalidParameterError, match=r"read_sweep\(pandas\..*curvecast\[scaling\]"):
        read_sweep(tmp_path / name)


def test_the_interval_of_nstar_covers_the_truth_over_repeats() -> None:
    """Before, the 90% interval of N* held the truth in about 2 of 3 sweeps (0.66 over 30
    sweeps of 120 runs, ``docs/hardening.md``; 26 of these 36 intervals): bootstrap replicates
    polished from the full-data optimum stayed near it. Now 30 of 36. The bound is tolerant
    (28 of 36), and still short of the nominal 0.9, which the method does not reach yet."""
    sys.path.insert(0, str(Path(__file__).parent))
    from nstar_coverage import coverage

    hits, _ = coverage(reps=12, runs=120, sigma=0.02, bootstrap=60, n_starts=500)
    assert hits.mean() >= 0.78, hits.mean(axis=0)
