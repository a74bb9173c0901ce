"""bench sampling: the anchors on closed forms, the missing-data message, and (when the data is
present) one small run."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from scipy.special import betaln

from curvecast.bench.sampling import (
    HOW_TO_GET,
    SamplingBenchConfig,
    anchor_beta_binomial,
    anchor_brown,
    anchor_flat,
    exchangeability_floor,
    format_report,
    load_monkeys,
    run_sampling_bench,
)
from curvecast.cli import main
from curvecast.exceptions import DataSourceError
from curvecast.sampling import SampleCounts

# the real data: $CURVECAST_SHARED_DATA (as the scaling tests), else ../shared/data beside the repo
DATA = Path(
    os.environ.get("CURVECAST_SHARED_DATA")
    or Path(__file__).resolve().parents[2].parent / "shared" / "data"
)


def test_anchors_on_known_curves() -> None:
    rng = np.random.default_rng(0)
    a, b = 0.4, 3.0
    p = rng.beta(a, b, 4000)
    counts = SampleCounts(np.full(p.size, 200), rng.binomial(200, p))
    ks = np.array([100.0, 1000.0])
    truth = 1 - np.exp(betaln(a, b + ks) - betaln(a, b))
    assert np.allclose(anchor_beta_binomial(counts, ks), truth, atol=0.02)
    flat = anchor_flat(counts, ks)
    assert flat[0] <= flat[1]
    assert np.all(np.diff(anchor_flat(counts, np.array([200.0, 500.0, 5000.0]))) == 0)
    # Brown: a valid, non-decreasing curve through the observed range
    brown = anchor_brown(counts, ks)
    assert np.all((brown > 0) & (brown <= 1)) and brown[1] >= brown[0]


def test_exchangeability_floor_on_known_tables() -> None:
    # 4 of 8 problems unsolved after 2 samples, 2 of those solved later: Binomial(4, 0.5)
    x = np.zeros((8, 6), dtype=np.uint8)
    x[:4, 0] = 1
    x[4, 5] = 1
    x[5, 3] = 1
    expected = (2 + 4 + 0 + 4 + 2) / 16 / 8  # E|Bin(4, 1/2) - 2| / 8 problems
    assert float(exchangeability_floor(x, 2)) == pytest.approx(expected)
    # every unsolved problem stays unsolved (or all get solved): nothing left to guess
    assert float(exchangeability_floor(x, 6)) == 0.0
    y = x.copy()
    y[4:, 5] = 1
    assert float(exchangeability_floor(y, 2)) == 0.0
    # per-problem depths: problem 5 seen to sample 4 is solved, leaving 3 unsolved, 1 solved later
    depth = np.array([2, 2, 2, 2, 2, 4, 2, 2])
    # E|Bin(3, 1/3) - 1| = (8 + 0 + 6 + 2) / 27
    assert float(exchangeability_floor(x, depth)) == pytest.approx(16 / 27 / 8)


def test_stop_when_solved_depth() -> None:
    from curvecast.bench.sampling import _stop_when_solved_depth

    x = np.zeros((4, 20), dtype=np.uint8)
    x[0, 0] = 1  # solved at sample 1: costs 1 whatever the depth
    # budget 2 x 4 = 8: three unsolved problems to depth d cost 1 + 3 d <= 8, so d = 2
    assert _stop_when_solved_depth(x, 2) == 2
    # budget 5 x 4 = 20: 1 + 3 d <= 20 gives d = 6
    assert _stop_when_solved_depth(x, 5) == 6


def test_missing_data_names_the_source(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="ScalingIntelligence/monkey_business"):
        load_monkeys(str(tmp_path))
    assert "--data-dir" in HOW_TO_GET


def test_bench_cli_missing_data_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["bench", "sampling", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "monkey_business" in err


@pytest.mark.slow
@pytest.mark.skipif(
    not (DATA / "monkeys").is_dir(), reason="needs CURVECAST_SHARED_DATA or ../shared/data/monkeys"
)
def test_bench_runs_on_the_data() -> None:
    res = run_sampling_bench(
        SamplingBenchConfig(ms=(100,), n_bootstrap=20, targets=(0.1,), data_dir=str(DATA))
    )
    text = format_report(res)
    assert "held out" in text and "beta-binomial" in text
    assert len(res.models) == 5 and len(res.allocation) == 5
