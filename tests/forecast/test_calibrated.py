"""The ``calibrated`` method: split-conformal inside a search, self-backtests alone."""

from __future__ import annotations

import numpy as np
import pytest

from curvecast import Curve
from curvecast.exceptions import InvalidParameterError
from curvecast.forecast import GRID, Forecast, forecast_curve, register, unregister
from curvecast.forecast.calibrated import CalibratedForecaster
from curvecast.testing import check_forecaster


class _Narrow:
    """An over-confident base: the last value with a band a tenth of the truth's spread."""

    name = "narrow"
    calls = 0

    def forecast(self, curve, x_new, *, rng, context=()):
        type(self).calls += 1
        y = curve.observed_y[-1]
        z = np.linspace(-3, 3, GRID.size)
        return Forecast(x_new, np.tile(y + 0.002 * z, (x_new.size, 1)), direction=curve.direction)


@pytest.fixture
def narrow():
    register("narrow", _Narrow, overwrite=True)
    yield "narrow"
    unregister("narrow")


def _search(n: int, seed: int, length: int = 20) -> list[Curve]:
    """Curves whose remaining gain after the halfway point is random (sd 0.02)."""
    rng = np.random.default_rng(seed)
    x = np.arange(1.0, length + 1)
    out = []
    for _ in range(n):
        a, gain = rng.uniform(0.5, 0.8), rng.normal(0.03, 0.02)
        y = a + gain * np.clip((x - length / 2) / (length / 2), 0, 1)
        out.append(Curve(x, y + rng.normal(0, 0.001, x.size), bounds=(0, 1)))
    return out


def test_conformal_recalibration_covers_on_the_search(narrow) -> None:
    cal = CalibratedForecaster(base=narrow)
    context = _search(40, seed=1)
    held_out = _search(200, seed=2)
    hits_base = hits_cal = 0
    rng = np.random.default_rng(0)
    for c in held_out:
        seen = c.truncate(12)
        base = _Narrow().forecast(seen, np.array([20.0]), rng=rng)
        f = cal.forecast(seen, np.array([20.0]), rng=rng, context=context)
        assert f.info["calibration"]["source"] == "search"
        lo, hi = f.quantile([0.05, 0.95])[0]
        blo, bhi = base.quantile([0.05, 0.95])[0]
        hits_cal += lo <= c.y[-1] <= hi
        hits_base += blo <= c.y[-1] <= bhi
    assert hits_base / 200 < 0.3
    assert 0.82 <= hits_cal / 200 <= 0.97


class _Wide:
    """An under-confident base: the last value with a band ten times the truth's spread."""

    name = "wide"

    def forecast(self, curve, x_new, *, rng, context=()):
        y = curve.observed_y[-1]
        z = np.linspace(-3, 3, GRID.size)
        return Forecast(x_new, np.tile(y + 0.2 * z, (x_new.size, 1)), direction=curve.direction)


@pytest.mark.parametrize("n_trials", [3, 5, 8])
def test_too_few_trials_never_narrow_the_band(n_trials) -> None:
    """Fewer than MIN_SHRINK trials cannot vouch for a 90% band narrower than the base's: their
    small errors (survivors of a pruned search that settled early) once halved the band of a
    run that went on to win."""
    register("wide", _Wide, overwrite=True)
    try:
        seen = _search(1, seed=7)[0].truncate(12)
        xq = np.array([20.0])
        base = _Wide().forecast(seen, xq, rng=np.random.default_rng(0))
        f = CalibratedForecaster(base="wide").forecast(
            seen, xq, rng=np.random.default_rng(0), context=_search(n_trials, seed=8)
        )
        many = CalibratedForecaster(base="wide").forecast(
            seen, xq, rng=np.random.default_rng(0), context=_search(40, seed=8)
        )
    finally:
        unregister("wide")
    assert f.info["calibration"]["source"] == "search"
    width = np.diff(f.quantile([0.05, 0.95])[0])[0]
    assert width >= np.diff(base.quantile([0.05, 0.95])[0])[0] * 0.999
    # with enough trials the same evidence does narrow it (to the floor of half the base band)
    assert np.diff(many.quantile([0.05, 0.95])[0])[0] < 0.6 * width


def test_calibration_forecasts_are_reused_for_the_same_search_and_cutoff(narrow) -> None:
    cal = CalibratedForecaster(base=narrow)
    context = _search(10, seed=3)
    target = _search(2, seed=4)
    _Narrow.calls = 0
    cal.forecast(target[0].truncate(8), np.array([20.0]), rng=np.random.default_rng(0),
                 context=context)  # fmt: skip
    first = _Narrow.calls
    cal.forecast(target[1].truncate(8), np.array([20.0]), rng=np.random.default_rng(0),
                 context=context)  # fmt: skip
    assert first == 11  # the curve and its 10 leave-one-out calibration forecasts
    assert _Narrow.calls - first == 1  # only the new curve: the calibration was cached


def test_runs_of_other_lengths_are_compared_at_the_same_stage(narrow) -> None:
    """A trial of 10 epochs and one of 20 are both judged at 60% of their own run."""
    short = [c.truncate(10) for c in _search(6, seed=5, length=10)]
    long = _search(6, seed=6, length=20)
    f = CalibratedForecaster(base=narrow).forecast(
        long[0].truncate(12), np.array([20.0]), rng=np.random.default_rng(0),
        context=short + long[1:],
    )  # fmt: skip
    assert f.info["calibration"]["trials"] == 11


def test_alone_the_band_is_no_narrower_than_the_recent_change(narrow) -> None:
    x = np.arange(1.0, 21.0)
    c = Curve(x, 0.5 + 0.02 * x, bounds=(0, 1))  # still rising by 0.02 per epoch
    f = CalibratedForecaster(base=narrow).forecast(
        c, np.array([25.0]), rng=np.random.default_rng(0)
    )
    lo, hi = f.quantile([0.05, 0.95])[0]
    moved = c.y[-1] - np.interp(20.0 / 1.25, x, c.y)
    assert (hi - lo) / 2 >= moved * 0.999
    assert f.info["calibration"]["backtests"] >= 1
    assert lo <= 0.5 + 0.02 * 25 <= hi


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"base": "auto"}, "base"), ({"min_calibration": 1}, "min_calibration"),
     ({"k0": 0}, "k0"), ({"self_dof": -1.0}, "self_dof")],
)  # fmt: skip
def test_bad_parameters_name_the_field(kwargs, field) -> None:
    with pytest.raises(InvalidParameterError, match=field):
        CalibratedForecaster(**kwargs)


def test_auto_is_stacked_with_a_search_and_ensemble_alone() -> None:
    context = _search(5, seed=7)
    target = _search(1, seed=8)[0].truncate(10)
    assert forecast_curve(target, [20.0], context=context).method == "stacked"
    assert forecast_curve(target, [20.0]).method == "ensemble"


def test_calibrated_passes_the_conformance_suite() -> None:
    check_forecaster("calibrated")
