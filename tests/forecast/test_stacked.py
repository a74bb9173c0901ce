"""``stacked``: the search as context helps or stays out of the way (issue 24)."""

from __future__ import annotations

import numpy as np
import pytest

import curvecast
from curvecast import Curve, InvalidParameterError
from curvecast.bench.metrics import crps_quantiles
from curvecast.forecast.stacked import StackedForecaster

STEPS = np.arange(1.0, 41.0)


def heterogeneous_search(seed: int, n: int = 20, scale: float = 1.0) -> list[Curve]:
    """Losses of one search whose runs cross: learning rates 100x apart, constant and cosine
    schedules (a late drop), and runs that overfit (a U shape)."""
    rng = np.random.default_rng(seed)
    t = STEPS / STEPS[-1]
    runs = []
    for i in range(n):
        lr = 10 ** rng.uniform(-4, -2)
        speed = lr / 1e-3
        floor = rng.uniform(1.0, 1.6) + 0.3 * abs(np.log10(lr / 1e-3))
        y = floor + 2.0 * (1 + 20 * speed * t) ** -0.7
        if i % 3 == 1:  # cosine: the annealing drop comes late
            y = y - 0.4 * (1 - np.cos(np.pi * t)) / 2 * (y - floor + 0.3)
        if i % 5 == 4:  # overfits: the loss turns up
            y = y + 0.8 * np.maximum(t - 0.4, 0) ** 2
        y = y * (1 + 0.01 * rng.standard_normal(t.size))
        runs.append(Curve(STEPS, scale * y, direction="minimize"))
    return runs


@pytest.mark.parametrize("scale", [1.0, 3000.0])
def test_context_never_raises_crps_above_the_forecast_alone(scale: float) -> None:
    """On a heterogeneous search (and a loss near 3,000), the forecast with 2, 5 or 16
    completed runs as context is on average no worse than the same curve's forecast alone."""
    runs = heterogeneous_search(0, scale=scale)
    targets, pool = runs[:4], runs[4:]
    alone, with_ctx = {}, {}
    for k in (2, 5, 16):
        for ti, target in enumerate(targets):
            for cut in (8, 20):
                seen = target.truncate(cut)
                truth = float(target.y[-1])
                if k == 2:
                    a = curvecast.forecast_curve(seen, [40.0])
                    alone[(ti, cut)] = float(crps_quantiles(a.grid_values[0], truth))
                f = curvecast.forecast_curve(seen, [40.0], context=pool[:k])
                with_ctx[(k, ti, cut)] = float(crps_quantiles(f.grid_values[0], truth))
        mean_alone = np.mean(list(alone.values()))
        mean_ctx = np.mean([v for (kk, *_), v in with_ctx.items() if kk == k])
        assert mean_ctx <= 1.05 * mean_alone, (k, mean_ctx, mean_alone)


def test_two_completed_runs_do_not_make_a_falling_loss_hopeless() -> None:
    """Issue 24's case: an LM loss at its second report (2.578, 2.431), two completed runs at
    1.757 and 1.440 that had started lower, and runs like it that end below both. The forecast
    must not collapse onto the completed finals (it gave P(final < 1.44) = 0.000)."""
    t = STEPS / STEPS[-1]

    def cosine_run(start: float, final: float) -> np.ndarray:
        decay = (1 + np.cos(np.pi * t)) / 2
        return final + (start - final) * decay * np.exp(-2 * t)

    context = [
        Curve(STEPS, cosine_run(2.45, 1.757), direction="minimize"),
        Curve(STEPS, cosine_run(2.35, 1.440), direction="minimize"),
    ]
    f = curvecast.forecast(STEPS[:2], [2.578, 2.431], [40.0], direction="minimize",
                           context=context)  # fmt: skip
    assert f.prob_better(1.44) >= 0.05
    assert f.info["stacking"]["weight"][0] <= 2 / (2 + 4)  # two backtests move it a third


def test_without_usable_context_it_is_the_forecast_alone() -> None:
    runs = heterogeneous_search(1, n=3)
    seen = runs[0].truncate(10)
    alone = curvecast.forecast_curve(seen, [40.0], method="ensemble")
    short = [r.truncate(1) for r in runs[1:]]  # no completed run reaches past the cutoff
    f = curvecast.forecast_curve(seen, [40.0], method="stacked", context=short)
    np.testing.assert_allclose(f.grid_values, alone.grid_values)
    assert f.info["stacking"]["backtests"] == 0


def test_auto_uses_the_stacked_forecast_with_any_context() -> None:
    runs = heterogeneous_search(2, n=4)
    f = curvecast.forecast_curve(runs[0].truncate(10), [40.0], context=runs[1:2])
    assert f.method == "stacked"
    assert curvecast.forecast_curve(runs[0].truncate(10), [40.0]).method == "ensemble"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"alone": "auto"}, "alone"), ({"with_context": 3}, "with_context"), ({"k0": 0}, "k0")],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of StackedForecaster"):
        StackedForecaster(**kwargs)  # type: ignore[arg-type]


def test_a_member_with_no_weight_is_not_run_and_the_forecast_is_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The mixture's parameters come first: a member whose weight is 0 at every query is left
    out (the pruner's cost), and the forecast is the one the full mixture gives."""
    from curvecast.forecast import stacked as S

    runs = heterogeneous_search(3, n=12)
    seen, queries = runs[0].truncate(10), np.array([20.0, 40.0])
    full = StackedForecaster(alone="pfn")
    full_fc = full.forecast(seen, queries, rng=np.random.default_rng(0), context=runs[1:])
    forced = StackedForecaster(alone="pfn")
    # the same fitted parameters, but with the last value's weight set to 0: it must not run
    params = full._params.copy()
    for key, rows in params.items():
        forced._params[key] = [(w, 0.0, sh, sc, n, t) for w, _, sh, sc, n, t in rows]
    called: list[str] = []
    real = S._run_base

    def spy(method: str, curves: list[Curve], *args: object) -> object:
        if curves:
            called.append(method)
        return real(method, curves, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(S, "_run_base", spy)
    f = forced.forecast(seen, queries, rng=np.random.default_rng(0), context=runs[1:])
    assert S.LAST not in called
    # with its own parameters the last value is run only where it has weight
    called.clear()
    again = full.forecast(seen, queries, rng=np.random.default_rng(0), context=runs[1:])
    uses_last = any(v > 0 for v in full_fc.info["stacking"]["last_value_weight"])
    assert (S.LAST in called) == uses_last
    np.testing.assert_allclose(again.grid_values, full_fc.grid_values)
    assert f.grid_values.shape == full_fc.grid_values.shape


def alike_search(seed: int, n: int = 20) -> list[Curve]:
    """Accuracies of one search whose runs start anywhere between 0.2 and 0.6, rise at rates 4x
    apart and all end near 0.9: the early curve says little of the final, the search a lot."""
    rng = np.random.default_rng(seed)
    t = STEPS / STEPS[-1]
    runs = []
    for _ in range(n):
        final = 0.9 + 0.01 * rng.standard_normal()
        start, rate = rng.uniform(0.2, 0.6), rng.uniform(3, 12)
        y = final - (final - start) * np.exp(-rate * t) + 0.01 * rng.standard_normal(t.size)
        runs.append(Curve(STEPS, np.clip(y, 0, 1), bounds=(0, 1)))
    return runs


def test_where_runs_end_alike_the_search_s_finals_sharpen_the_forecast(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With 16 completed runs that all ended near 0.9, the backtests choose to weigh the
    forecast by where those runs ended, and the CRPS of new runs' finals falls well below the
    same forecast without that tilt."""
    from curvecast.forecast import stacked as S

    runs = alike_search(0)
    targets, pool = runs[:4], runs[4:]

    def mean_crps(f: StackedForecaster) -> tuple[float, list[float]]:
        scores, tilts = [], []
        for target in targets:
            for cut in (6, 12):
                fc = f.forecast(target.truncate(cut), np.array([40.0]),
                                rng=np.random.default_rng(0), context=pool)  # fmt: skip
                scores.append(float(crps_quantiles(fc.grid_values[0], float(target.y[-1]))))
                tilts.extend(fc.info["stacking"]["population_tilt"])
        return float(np.mean(scores)), tilts

    tilted, tilts = mean_crps(StackedForecaster(alone="pfn"))
    monkeypatch.setattr(S, "TILTS", (0.0,))
    plain, none = mean_crps(StackedForecaster(alone="pfn"))
    assert min(tilts) > 0 and max(none) == 0
    assert tilted < 0.5 * plain, (tilted, plain)


def test_population_tilt_thins_what_no_run_reached_and_needs_enough_runs() -> None:
    from statistics import NormalDist

    from curvecast.forecast._result import GRID
    from curvecast.forecast.stacked import MIN_POPULATION, population_tilt

    g = np.array([[NormalDist().inv_cdf(float(p)) for p in GRID]])  # a standard normal
    pops = np.linspace(-0.5, 0.5, 8)[None, :]
    out = population_tilt(g, pops, 0.5)
    i95 = int(np.argmin(np.abs(GRID - 0.95)))
    assert out[0, i95] < g[0, i95]  # the upper tail beyond every run thinned
    assert -0.5 < out[0, int(np.argmin(np.abs(GRID - 0.5)))] < 0.5
    assert np.all(np.diff(out[0]) >= 0)
    assert np.array_equal(population_tilt(g, pops, 0.0), g)
    few = np.full((1, 8), np.nan)
    few[0, : MIN_POPULATION - 1] = np.linspace(-0.5, 0.5, MIN_POPULATION - 1)
    assert np.array_equal(population_tilt(g, few, 1.0), g)  # too few runs: unchanged
    assert np.array_equal(population_tilt(g, np.full((1, 8), 0.3), 1.0), g)  # no spread
