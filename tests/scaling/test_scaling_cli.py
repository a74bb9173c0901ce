"""`curvecast scaling fit` end to end: table, JSON, plots, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _scaling_oracle import chinchilla

from curvecast.cli import main


@pytest.fixture
def sweep_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    N = np.repeat(np.logspace(7, 9, 5), 6)
    D = N * np.tile(np.logspace(np.log10(5), np.log10(200), 6), 5)
    loss = chinchilla(N, D) * np.exp(rng.normal(0, 0.01, N.size))
    p = tmp_path / "sweep.csv"
    lines = ["params,tokens,loss"] + [f"{n},{d},{v}" for n, d, v in zip(N, D, loss, strict=True)]
    p.write_text("\n".join(lines) + "\n")
    return p


def test_fit_predict_and_optimal_with_plots(
    sweep_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    code = main(
        [
            "scaling",
            "fit",
            str(sweep_csv),
            "--law",
            "chinchilla",
            "--predict",
            "N=7e9,D=1.4e12",
            "--optimal-for",
            "1e22",
            "--n-bootstrap",
            "30",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "chinchilla law fitted to 30 runs" in text
    assert "N=7e+09, D=1.4e+12" in text and "C=1e+22" in text
    data = json.loads((out / "fit.json").read_text())
    pred = data["predictions"][0]
    q = pred["quantiles"]
    truth = chinchilla(np.array([7e9]), np.array([1.4e12]))[0]
    assert q[0][0] < truth < q[2][0]
    assert data["optimal"]["C"] == [1e22] and data["optimal"]["N"][0] > 1e8
    for name in ("isoflop.png", "frontier.png", "residuals.png"):
        assert (out / name).stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--predict", "N=7e9"], "needs two of N, D, C, M"),
        (["--law", "loglinear", "--optimal-for", "1e22"], "needs a law with a compute frontier"),
        (["--group", "nope"], "no group 'nope'"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    sweep_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    code = main(
        [
            "scaling",
            "fit",
            str(sweep_csv),
            "--no-plots",
            "--n-bootstrap",
            "2",
            "--out",
            str(tmp_path / "o"),
            *args,
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_too_few_runs_and_missing_file_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "tiny.csv"
    p.write_text("N,D,loss\n1e7,2e8,4\n1e8,2e9,3.5\n1e9,2e10,3\n")
    assert main(["scaling", "fit", str(p), "--no-plots", "--out", str(tmp_path / "o")]) == 2
    assert "at least 6 runs" in capsys.readouterr().err
    assert main(["scaling", "fit", str(tmp_path / "none.csv")]) == 2
    with pytest.raises(SystemExit) as exc:  # argparse's usage error, our code 2
        main(["scaling", "fit", str(p), "--predict", "X=1"])
    assert exc.value.code == 2
