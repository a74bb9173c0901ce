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
