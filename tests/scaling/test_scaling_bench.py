"""`curvecast bench scaling`: the paper procedures on synthetic data, the runner on fixture
folders (no network), the report, and the CLI wiring."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from _scaling_oracle import chinchilla

from curvecast.bench.scaling import (
    ScalingBenchConfig,
    format_table,
    gadre_fit,
    porian_fit,
    run_scaling_bench,
    write_scaling_report,
)
from curvecast.cli import main
from curvecast.exceptions import InvalidParameterError

SHARED = os.environ.get("CURVECAST_SHARED_DATA")


def test_gadre_procedure_recovers_its_own_law() -> None:
    N = np.array([1e7, 8e7, 1.5e8, 4e8, 1e7])
    M = np.array([20, 20, 20, 20, 320.0])
    # their parameterisation: alpha N^b + beta 6^(b/2) (M N)^b + E
    alpha, beta, b, E = 300.0, 1000.0, -0.3, 1.9
    L = alpha * N**b + beta * 6 ** (b / 2) * (M * N) ** b + E
    p = gadre_fit(N, M, L)
    pred = p[0] * 1.4e9 ** p[2] + p[1] * 6 ** (p[2] / 2) * (640 * 1.4e9) ** p[2] + p[3]
    truth = alpha * 1.4e9**b + beta * 6 ** (b / 2) * (640 * 1.4e9) ** b + E
    assert pred == pytest.approx(truth, rel=0.02)


def test_porian_procedure_fits_power_laws() -> None:
    C = np.logspace(16, 18.5, 8)
    n_star = 0.05 * C**0.5
    loss = np.exp(np.logaddexp(8 - 0.15 * np.log(C), np.log(2.0)))
    (_, a), (_, e, alpha) = porian_fit(C, n_star, loss)
    assert a == pytest.approx(0.5, abs=1e-6) and np.exp(e) == pytest.approx(2.0, rel=0.05)
    assert alpha == pytest.approx(0.15, abs=0.03)


def _fixture_root(tmp_path: Path) -> Path:
    """scan_vlm-like and obsscaling-like files drawn from the oracle law."""
    rng = np.random.default_rng(0)
    N = np.exp(rng.uniform(np.log(1e6), np.log(1e8), 80))
    D = N * np.exp(rng.uniform(np.log(2), np.log(50), 80))
    loss = chinchilla(N, D) * np.exp(rng.normal(0, 0.01, 80))
    lines = [
        "config_id,epoch,total_epochs,mparams,samples_seen,compute_seen,val_loss,epoch_diverged"
    ]
    for i in range(80):
        lines.append(f"{i},1,1,{N[i] / 1e6},{D[i]},{6 * N[i] * D[i] / 1e9},{loss[i]},False")
    (tmp_path / "scan_bench").mkdir()
    (tmp_path / "scan_bench/vlm_data.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_runner_scores_every_method_and_writes_the_report(tmp_path: Path) -> None:
    root = _fixture_root(tmp_path)
    cfg = ScalingBenchConfig(protocols=("scan_vlm",), data_dir=str(root), n_bootstrap=20)
    result = run_scaling_bench(cfg)
    methods = {r.method: r for r in result.rows}
    assert set(methods) == {"chinchilla", "overtraining", "hoffmann", "loglinear"}
    held = methods["chinchilla"].n_heldout
    assert held > 0
    # on data from the law itself, the law beats the log-log line and its band covers
    assert methods["chinchilla"].rel_err_mean < methods["loglinear"].rel_err_mean
    assert methods["chinchilla"].coverage >= 0.7
    assert np.isnan(methods["hoffmann"].coverage)  # no interval: reported as n/a
    table, paths = write_scaling_report(result, tmp_path / "out", command_line="cmd")
    assert "| scan_vlm | chinchilla |" in table and "n/a" in table
    data = json.loads(paths["results"].read_text())
    assert len(data["targets"]) == 4 * held
    assert "Command: `cmd`" in paths["report"].read_text()
    assert format_table(result) == table


def test_config_rejects_unknown_protocols() -> None:
    with pytest.raises(InvalidParameterError, match="'protocols'"):
        ScalingBenchConfig(protocols=("kaplan",))


def test_cli_runs_bench_scaling(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _fixture_root(tmp_path)
    code = main(
        [
            "bench",
            "scaling",
            "--protocols",
            "scan_vlm",
            "--data-dir",
            str(root),
            "--n-bootstrap",
            "10",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 0
    assert "| scan_vlm | loglinear |" in capsys.readouterr().out
    assert (
        main(["bench", "scaling", "--protocols", "scan_vlm", "--data-dir", str(tmp_path / "empty")])
        == 2
    )


@pytest.mark.slow
@pytest.mark.skipif(not SHARED, reason="set CURVECAST_SHARED_DATA to run on the real sweeps")
def test_gadre_protocol_on_the_real_sweep_beats_their_procedure_on_rpj() -> None:
    result = run_scaling_bench(
        ScalingBenchConfig(protocols=("gadre",), data_dir=SHARED, n_bootstrap=50)
    )
    t = {(x["method"], x["name"]): x for x in result.targets if x["protocol"] == "gadre"}
    for name in ("rpj:rpj-open_lm_1b-32.0", "rpj:rpj-open_lm_7b-1.0"):
        ours = abs(t[("overtraining", name)]["point"] / t[("overtraining", name)]["truth"] - 1)
        theirs = abs(t[("gadre", name)]["point"] / t[("gadre", name)]["truth"] - 1)
        assert ours < theirs
        # their notebook prints 0.7103% and 0.7320% for these two runs: reproduced
        assert theirs == pytest.approx(0.0071 if "1b" in name else 0.0073, abs=3e-4)


def test_time_fit_reports_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "scaling", "--time-fit", "30", "--n-bootstrap", "5"]) == 0
    assert "ChinchillaLaw fit, 30 runs, 5 bootstrap replicates:" in capsys.readouterr().out
