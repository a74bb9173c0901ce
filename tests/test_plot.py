"""curvecast.plot draws headless (Agg) and the artists it promises are there."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import curvecast
from curvecast.exceptions import InvalidParameterError
from curvecast.plot import plot_forecast, plot_study

pytest.importorskip("matplotlib", reason="matplotlib not installed: pip install 'curvecast[plot]'")

X = [1, 2, 3, 4, 5, 6]
Y = [0.40, 0.52, 0.60, 0.65, 0.68, 0.70]


def _png_ok(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 2000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_forecast_draws_points_median_and_two_bands(tmp_path: Path) -> None:
    f = curvecast.forecast(X, Y, np.arange(7, 31), bounds=(0, 1), method="last_value")
    ax = plot_forecast(X, Y, f)
    assert len(ax.lines) == 2  # median, observed points
    assert len(ax.collections) == 2  # 90% and 50% bands
    observed, median = ax.lines[1], ax.lines[0]
    np.testing.assert_allclose(observed.get_xdata(), X)
    np.testing.assert_allclose(median.get_ydata(), f.median)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["90% band", "50% band", "forecast median", "observed (6 points)"]
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "metric"
    assert "last_value" in ax.get_title()
    out = tmp_path / "forecast.png"
    ax.figure.savefig(out)
    _png_ok(out)


def test_plot_forecast_skips_non_finite_points_and_uses_given_axes() -> None:
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    y = [*Y[:-1], math.nan]
    f = curvecast.forecast(X[:-1], Y[:-1], [10, 20], method="last_value")
    out = plot_forecast(X, y, f, ax=ax, title="mine", xlabel="epoch", ylabel="accuracy")
    assert out is ax
    assert len(ax.lines[1].get_xdata()) == 5
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("mine", "epoch", "accuracy")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"y": [1.0, 2.0]}, "'y' parameter of plot_forecast"), ({"ax": "not axes"}, "'ax'")],
)
def test_plot_forecast_rejects_bad_input(kwargs: dict[str, object], match: str) -> None:
    f = curvecast.forecast(X, Y, [10], method="last_value")
    args: dict[str, object] = {"x": X, "y": Y, "forecast": f, **kwargs}
    with pytest.raises(InvalidParameterError, match=match):
        plot_forecast(**args)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def pruned_study() -> object:
    """A small in-memory search with curvecast's pruner: some trials complete, some pruned."""
    optuna = pytest.importorskip("optuna")
    from curvecast.integrations.optuna import ForecastPruner

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        ceiling = trial.suggest_float("ceiling", 0.3, 0.95)
        value = 0.0
        for step in range(15):
            value = ceiling * (1 - math.exp(-(step + 1) / 3))
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    study = optuna.create_study(
        study_name="plot $study$",
        direction="maximize",
        pruner=ForecastPruner(method="last_value"),
        sampler=optuna.samplers.RandomSampler(seed=1),
    )
    study.enqueue_trial({"ceiling": 0.95})  # a strong first trial, so later weak ones are pruned
    study.optimize(objective, n_trials=8)
    return study


def test_plot_study_draws_each_trial_the_stops_and_the_incumbent(
    pruned_study: object, tmp_path: Path
) -> None:
    from optuna.trial import TrialState

    trials = pruned_study.get_trials()  # type: ignore[attr-defined]
    n_complete = sum(t.state == TrialState.COMPLETE for t in trials)
    n_pruned = sum(t.state == TrialState.PRUNED for t in trials)
    assert n_pruned >= 1 and n_complete >= 1
    ax = plot_study(pruned_study, show_forecasts=True)
    # one line per trial, one for the stop markers, one for the incumbent
    assert len(ax.lines) == len(trials) + 2
    stops = next(line for line in ax.lines if line.get_label().startswith("stopped"))
    assert len(stops.get_xdata()) == n_pruned
    incumbent = next(line for line in ax.lines if line.get_label().startswith("incumbent"))
    best = max(
        t.intermediate_values[max(t.intermediate_values)]
        for t in trials
        if t.state == TrialState.COMPLETE
    )
    assert incumbent.get_ydata()[0] == pytest.approx(best)
    assert len(ax.collections) >= 1  # forecast intervals of the pruned trials
    assert ax.get_title() == f"plot $study$: {n_complete} completed, {n_pruned} pruned"
    assert ax.get_xlabel() == "step" and "maximize" in ax.get_ylabel()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "complete" in legend and "pruned" in legend and f"stopped ({n_pruned})" in legend
    out = tmp_path / "study.png"
    ax.figure.savefig(out)  # the '$' in the study name must not break mathtext
    _png_ok(out)


def test_plot_study_defaults_to_no_forecasts_and_rejects_bad_input(pruned_study: object) -> None:
    ax = plot_study(pruned_study, title="t", ylabel="acc")
    assert len(ax.collections) == 0
    assert (ax.get_title(), ax.get_ylabel()) == ("t", "acc")
    with pytest.raises(InvalidParameterError, match="'study' parameter of plot_study"):
        plot_study(object())


def test_importing_plot_does_not_import_matplotlib() -> None:
    code = "import sys, curvecast.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_matplotlib_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['matplotlib'] = None; sys.modules['matplotlib.figure'] = None\n"
        "import curvecast\n"
        "from curvecast.plot import plot_forecast\n"
        "f = curvecast.forecast([1, 2], [0.1, 0.2], [5], method='last_value')\n"
        "try:\n"
        "    plot_forecast([1, 2], [0.1, 0.2], f)\n"
        "except ImportError as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "MissingDependencyError" in out.stdout
    assert 'pip install ".[plot]"' in out.stdout  # what works from a checkout


def test_plot_study_keeps_the_cones_to_the_curves_range_and_the_legend_off_the_data(
    pruned_study: object,
) -> None:
    """Issue 26: the wide cones of trials stopped at epoch 1-2 set the y axis, squeezing the
    completed curves into the top, and the legend covered the bands."""
    ax = plot_study(pruned_study, show_forecasts=True)
    values = [y for line in ax.lines[:-2] for y in line.get_ydata()]
    lo, hi = min(values), max(values)
    y0, y1 = ax.get_ylim()
    assert y0 <= lo and hi <= y1
    assert (y1 - y0) <= 1.2 * (hi - lo)  # the data fill the height, not the cones
    legend = ax.get_legend()
    ax.figure.canvas.draw()
    box = legend.get_window_extent()
    assert box.x0 >= ax.get_window_extent().x1  # outside the axes, to the right
