"""The demo's static report.html: forecast bands on the plot, parameters of pruned trials.

Before (issue 16) the report showed the curves without the forecasts that stopped the pruned
trials, and a table of reasons without the pruned trials' parameters.
"""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna", reason="pip install 'curvecast[demo]'")
pytest.importorskip("matplotlib", reason="pip install 'curvecast[plot]'")

from curvecast.demo_search import DemoResult, _write_report  # noqa: E402
from curvecast.integrations.optuna import ForecastPruner  # noqa: E402
from curvecast.plot import plot_study  # noqa: E402


@pytest.fixture(scope="module")
def study() -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        ceiling = trial.suggest_float("ceiling", 0.3, 0.95)
        trial.suggest_categorical("optimizer", ["adam", "<sgd>"])
        value = 0.0
        for step in range(1, 16):
            value = ceiling * (1 - math.exp(-step / 3))
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    s = optuna.create_study(
        study_name="report test",
        direction="maximize",
        pruner=ForecastPruner(method="last_value", bounds=(0, 1), max_resource=15),
        sampler=optuna.samplers.RandomSampler(seed=4),
    )
    s.enqueue_trial({"ceiling": 0.95, "optimizer": "adam"})
    s.optimize(objective, n_trials=10)
    return s


def _pruned(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials() if t.state == optuna.trial.TrialState.PRUNED]


def test_plot_study_draws_the_band_each_pruned_trial_was_stopped_on(study: optuna.Study) -> None:
    from matplotlib.collections import PolyCollection

    pruned = _pruned(study)
    assert len(pruned) >= 2
    ax = plot_study(study, show_forecasts=True)
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2 * len(pruned)  # a 90% and a 50% band per pruned trial
    # each band starts at the trial's last value and reaches the horizon
    for band in bands:
        xs = band.get_paths()[0].vertices[:, 0]
        assert xs.max() == 15.0


def test_report_shows_pruned_trials_parameters_and_forecasts(
    study: optuna.Study, tmp_path: Path
) -> None:
    pruned = _pruned(study)
    best = study.best_trial
    result = DemoResult(
        study_name=study.study_name,
        storage="sqlite:///demo.db",
        n_trials=len(study.trials),
        n_complete=len(study.trials) - len(pruned),
        n_pruned=len(pruned),
        best_value=float(best.value or 0),
        best_params=best.params,
        epochs_used=sum(len(t.intermediate_values) for t in study.trials),
        epochs_full=15 * len(study.trials),
        seconds=1.0,
    )
    page = _write_report(study, result, tmp_path).read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in page and "Red bands" in page
    rows = re.findall(r"<tr><td>(\d+)</td>(.*?)</tr>", page, flags=re.S)
    assert [int(n) for n, _ in rows] == [t.number for t in pruned]
    for (_, row), t in zip(rows, pruned, strict=True):
        text = html.unescape(row)
        assert f"ceiling={t.params['ceiling']:.4g}" in text
        assert f"optimizer={t.params['optimizer']}" in text
        assert re.search(r"<td>[\d.]+ \[[\d.]+, [\d.]+\]</td>", row), row  # median [90%]
    assert "&lt;sgd&gt;" in page or "<sgd>" not in page  # parameters are escaped
