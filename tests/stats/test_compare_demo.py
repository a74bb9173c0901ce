"""The selection demo runs a real (short) search and reports consistent figures."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn", reason="pip install 'curvecast[demo]'")
pytest.importorskip("optuna", reason="pip install 'curvecast[demo]'")

from curvecast.cli import main
from curvecast.stats._demo import format_selection_demo, run_selection_demo


@pytest.mark.slow
def test_demo_measures_the_winner_against_the_test_split() -> None:
    d = run_selection_demo(trials=3, seed=1)
    assert d.sizes["validation"] + d.sizes["test"] < d.sizes["train"]
    eb = d.empirical_bayes
    assert eb.naive == max(eb.naive, d.bootstrap.naive)  # both select the best trial
    assert eb.estimate <= eb.naive and d.bootstrap.estimate <= d.bootstrap.naive + 1e-12
    assert 0.0 < d.test <= 1.0 and 0.0 < d.holdout_test <= 1.0
    assert 0 <= d.holdout_used <= 3
    text = format_selection_demo(d)
    assert "test accuracy of the selected trial" in text and "Thresholdout" in text


def test_demo_rejects_too_few_trials(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--demo", "--trials", "1"]) == 2
    assert "'trials'" in capsys.readouterr().err


def test_a_correction_never_raises_the_winners_score() -> None:
    """Issue 26: the demo's corrected winner score came out above the naive one. With one
    trial far ahead the bootstrap's out-of-bag score of the winner falls on either side of its
    validation score by chance; a correction for best-of-N optimism must not go above it."""
    import numpy as np

    from curvecast.stats import winner_estimate

    for seed in range(10):
        rng = np.random.default_rng(seed)
        per_example = np.stack([rng.random(60) < 0.9, rng.random(60) < 0.3]).astype(float)
        est = winner_estimate(per_example=per_example, rng=np.random.default_rng(seed), warn=False)
        assert est.estimate <= est.naive, seed
        assert est.optimism >= 0.0
