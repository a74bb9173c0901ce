from __future__ import annotations

import numpy as np
import pytest

from curvecast import Curve, InvalidParameterError
from curvecast.forecast.analog import AnalogForecaster

X = np.arange(1.0, 21.0)


def _family(top: float) -> Curve:
    return Curve(X, top * (1 - 0.6 / X**0.8), bounds=(0, 1))


def test_context_of_the_same_family_recovers_the_final_value() -> None:
    ctx = [_family(t) for t in np.linspace(0.4, 0.95, 12)]
    truth = _family(0.72)
    f = AnalogForecaster().forecast(
        truth.truncate(4), X[4:], rng=np.random.default_rng(0), context=ctx
    )
    assert f.info["context_used"] == 12
    assert f.median[-1] == pytest.approx(float(truth.y[-1]), abs=0.02)
    lo, hi = f.quantile([0.05, 0.95])[-1]
    assert lo < truth.y[-1] < hi


def test_without_context_it_is_the_fallback() -> None:
    f = AnalogForecaster(fallback="last_value").forecast(
        _family(0.7).truncate(5), X[5:], rng=np.random.default_rng(0)
    )
    assert f.info == {"context_used": 0, "base": "last_value"}
    assert f.median[-1] == pytest.approx(float(_family(0.7).y[4]), abs=0.02)


def test_context_that_never_reached_the_query_is_not_used() -> None:
    short = [_family(t).truncate(6) for t in np.linspace(0.4, 0.95, 8)]
    f = AnalogForecaster(fallback="last_value").forecast(
        _family(0.7).truncate(4), X[10:], rng=np.random.default_rng(0), context=short
    )
    assert f.info["n_eff"] == 0.0


@pytest.mark.parametrize(("kwargs", "name"), [({"n_samples": 10}, "n_samples"), ({"k0": 0}, "k0")])
def test_bad_arguments(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"'{name}'"):
        AnalogForecaster(**kwargs)  # type: ignore[arg-type]


def _budget_run(level: float, budget: float) -> Curve:
    """A loss that falls by 0.3 over each run's own budget, whatever the budget."""
    x = budget * np.array([0.25, 0.5, 0.75, 1.0])
    return Curve(x, level + 0.3 * (1 - x / budget), direction="minimize")


def test_runs_of_different_budgets_are_read_at_the_same_stage_of_their_runs() -> None:
    # a compute-optimal sweep: every run goes on by the same move from half-way to its end,
    # but no other run has this one's budget, and at the same step they stand elsewhere
    ctx = [_budget_run(2.0 + 0.02 * i, (100.0, 200.0, 400.0)[i % 3]) for i in range(12)]
    run = _budget_run(2.1, 300.0)
    f = AnalogForecaster().forecast(
        run.truncate(2), np.array([300.0]), rng=np.random.default_rng(0), context=ctx
    )
    assert f.info["context_used"] == 12
    assert f.median[0] == pytest.approx(float(run.y[-1]), abs=0.01)
    # one budget for all: compared at the same step, as before
    same = [_budget_run(2.0 + 0.02 * i, 300.0) for i in range(12)]
    g = AnalogForecaster().forecast(
        run.truncate(2), np.array([300.0]), rng=np.random.default_rng(0), context=same
    )
    assert g.median[0] == pytest.approx(float(run.y[-1]), abs=0.01)


def test_a_few_runs_that_stopped_early_do_not_make_one_budget_look_mixed() -> None:
    # one budget; some runs diverged or were cut short (and a 1-point curve): the search is
    # still compared at the same step, also for a query before the end
    full = [_budget_run(2.0 + 0.02 * i, 300.0) for i in range(12)]
    short = [_budget_run(2.05 + 0.02 * i, 300.0).truncate(2) for i in range(3)]
    one = [Curve([75.0], [2.3], direction="minimize")]
    run = _budget_run(2.1, 300.0)
    for q in (300.0, 225.0):
        alone, mixed = (
            AnalogForecaster().forecast(
                run.truncate(1), np.array([q]), rng=np.random.default_rng(0), context=ctx
            )
            for ctx in (full, full + short + one)
        )
        np.testing.assert_array_equal(alone.grid_values, mixed.grid_values)
