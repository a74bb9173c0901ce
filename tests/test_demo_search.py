"""The search demo: a real (short) Optuna search on digits, pruned, stored, reported."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

pytest.importorskip("sklearn", reason="pip install 'curvecast[demo]'")
optuna = pytest.importorskip("optuna", reason="pip install 'curvecast[demo]'")

from curvecast.cli import main  # noqa: E402
from curvecast.demo_search import EPOCHS, run_search_demo  # noqa: E402


@pytest.mark.slow
def test_demo_runs_a_pruned_search_and_writes_its_report(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level("WARNING", logger="curvecast.integrations.optuna"),
        warnings.catch_warnings(),
    ):
        # Optuna's note that the heartbeat is experimental is not a new user's concern either
        warnings.simplefilter("error", optuna.exceptions.ExperimentalWarning)
        r = run_search_demo(trials=6, seed=1, out=tmp_path, method="last_value", compare=True)
    # the demo's storage has a heartbeat, so a new user is not warned about the setup it shows
    assert "heartbeat" not in caplog.text
    assert r.n_trials == 6 and r.n_complete + r.n_pruned == 6 and r.n_complete >= 1
    assert r.epochs_full == 6 * EPOCHS and r.epochs_used <= r.epochs_full
    assert 0.5 < r.best_value <= 1.0
    assert len(r.pruned_reasons) == r.n_pruned
    # the study is in the SQLite file the summary names, readable by another process
    study = optuna.load_study(study_name=r.study_name, storage=r.storage)
    assert len(study.trials) == 6
    assert r.compare is not None and r.compare["best_value"] >= r.best_value - 1e-12
    html = (tmp_path / "report.html").read_text()
    assert "curvecast dashboard --storage" in html and r.study_name in html
    assert (tmp_path / "curves.png").stat().st_size > 1000


def test_demo_cli_rejects_bad_trials(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--trials", "0"]) == 2
    assert "'trials'" in capsys.readouterr().err


def test_the_report_says_epoch_throughout() -> None:
    """Issue 26: the report's table said "stopped at epoch" in its header and "stopped at step"
    in its reasons."""
    from curvecast.demo_search import _in_epochs

    why = (
        "stopped at step 22: P(final beats 0.9759) = 0.093; forecast at step 30: median "
        "0.9723, 90% interval [0.9665, 0.9769]"
    )
    text = _in_epochs(why)
    assert "step" not in text
    assert text.startswith("stopped at epoch 22") and "forecast at epoch 30" in text
