"""``bench downstream``: anchors on a known skill model, the tables' loading (real data only)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from _downstream_oracle import FLOORS, _split, skill_table

from curvecast.bench import downstream_anchors as anchors
from curvecast.exceptions import DataSourceError

SHARED = os.environ.get("CURVECAST_SHARED_DATA")


def test_anchors_predict_above_the_cutoff() -> None:
    t, clean = skill_table(7)
    fit, held = _split(t)
    idx = [t.model.index(m) for m in held.model]
    truth = np.column_stack([clean[b][idx] for b in t.benchmarks])
    med, lo, hi = anchors.loglinear(fit, held)
    assert med.shape == truth.shape and lo is not None and hi is not None
    assert np.all(lo <= med) and np.all(med <= hi)
    r, r_lo, _ = anchors.ruan(fit, held, FLOORS)
    assert r_lo is None
    # Ruan et al.'s sigmoid of the skills follows the curve better than a straight line
    assert np.abs(r - truth).mean() < np.abs(med - truth).mean()
    assert anchors.gadre(fit, held) is None  # no losses in this table


def test_tables_need_a_data_dir() -> None:
    from curvecast.bench.downstream_data import load_tables

    with pytest.raises(DataSourceError, match="--data-dir"):
        load_tables(None)


@pytest.mark.skipif(not SHARED, reason="set CURVECAST_SHARED_DATA to run on the real tables")
def test_public_tables_load_with_a_held_out_part() -> None:
    from curvecast.bench.downstream_data import TABLES, load_tables, split

    tabs = load_tables(SHARED)
    assert set(tabs) == set(TABLES)
    for pt in tabs.values():
        fit, held = split(pt)
        assert len(fit) > 0 and len(held) > 0
        assert np.nanmax(np.asarray(pt.table.scores)) <= 1.0
    assert len(tabs["mlfoundations"].table.benchmarks) == 46


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([], "--data-dir"),  # no data folder
        (["--tables", "leaderboard", "--data-dir", "."], "tuning tables only"),
    ],
)
def test_drift_measurement_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    from curvecast.cli import main

    assert main(["bench", "downstream", "--drift", *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_drift_report_states_each_table_and_the_root_mean_square() -> None:
    from curvecast.bench.downstream_drift import format_drift

    result = {
        "runs": [
            {
                "table": "a",
                "cutoff": 1e22,
                "n_fit": 5,
                "n_held": 3,
                "mean_distance": 0.5,
                "drift": 0.3,
            },
        ],
        "tables": {"a": 0.3, "b": -0.4},
        "rms": float(np.sqrt((0.3**2 + 0.4**2) / 2)),
    }
    text = format_drift(result)
    assert "| a | 1e+22 | 5 | 3 | 0.50 | +0.300 |" in text
    assert "| b | -0.400 |" in text and "root mean square over tables: 0.354" in text


@pytest.mark.skipif(not SHARED, reason="set CURVECAST_SHARED_DATA to run on the real tables")
def test_drift_is_measured_on_tuning_tables_only() -> None:
    from curvecast.bench.downstream_drift import drift_rows

    res = drift_rows(SHARED, ("pythia", "leaderboard"))
    assert set(res["tables"]) == {"pythia"} and {r["table"] for r in res["runs"]} == {"pythia"}
    assert len(res["runs"]) >= 3 and res["rms"] == pytest.approx(abs(res["tables"]["pythia"]))
