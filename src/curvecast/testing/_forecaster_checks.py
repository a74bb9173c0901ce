"""The contract of :class:`curvecast.Forecaster`, as executable checks.

Use it like scikit-learn's ``parametrize_with_checks``::

    @pytest.mark.parametrize("check", forecaster_checks(), ids=lambda c: c.__name__)
    def test_my_forecaster(check):
        check(MyForecaster())

Each check raises AssertionError with a message naming what broke. (``assert`` is right here: this
is test code; user input is never validated with it.)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import numpy as np
from numpy.typing import NDArray

from curvecast.curves import Curve
from curvecast.forecast import Forecast, Forecaster, forecast_curve, get_forecaster
from curvecast.forecast._result import GRID

__all__ = ["check_forecaster", "forecaster_checks"]

Check = Callable[[Forecaster], None]


def _rising(n: int, x_scale: float = 1.0, seed: int = 0) -> Curve:
    rng = np.random.default_rng(seed)
    x = np.arange(1, n + 1, dtype=float)
    y = 0.9 - 0.5 * x**-0.7 + rng.normal(0, 0.005, n)
    return Curve(x * x_scale, y, "maximize", (0.0, 1.0))


def _falling(n: int, seed: int = 0) -> Curve:
    rng = np.random.default_rng(seed)
    x = np.geomspace(16, 16 * 2 ** (n - 1) ** 0.5, n) if n > 1 else np.array([16.0])
    y = 2.0 + 3.0 * (x / 16) ** -0.4 + rng.normal(0, 0.01, n)
    return Curve(x, y, "minimize", (0.0, None))


def _run(f: Forecaster, curve: Curve, x_new: NDArray[np.float64], seed: int = 0) -> Forecast:
    out = f.forecast(curve, x_new, rng=np.random.default_rng(seed), context=())
    assert isinstance(out, Forecast), f"forecast() returned {type(out).__name__}, not Forecast"
    return out


def _valid(out: Forecast, x_new: NDArray[np.float64], what: str) -> None:
    assert out.x_new.shape == x_new.shape and np.allclose(out.x_new, x_new), (
        f"{what}: x_new changed"
    )
    assert out.grid_values.shape == (x_new.size, GRID.size), f"{what}: grid shape"
    assert np.all(np.isfinite(out.grid_values)), f"{what}: non-finite quantiles"
    assert np.all(np.diff(out.grid_values, axis=1) >= 0), f"{what}: quantiles decrease"
    assert not out.diverged, f"{what}: a finite curve was forecast as diverged"


def check_has_name(f: Forecaster) -> None:
    """A forecaster has a non-empty string ``name`` and satisfies the protocol."""
    assert isinstance(f, Forecaster), "does not implement the Forecaster protocol"
    assert isinstance(f.name, str) and f.name, "name must be a non-empty string"


def check_shapes(f: Forecaster) -> None:
    """Quantiles, mean and samples have the documented shapes."""
    curve, x_new = _rising(10), np.linspace(11, 50, 7)
    out = _run(f, curve, x_new).with_levels([0.1, 0.5, 0.9])
    _valid(out, x_new, "rising curve")
    assert out.quantiles.shape == (7, 3)
    assert out.mean.shape == (7,) and np.all(np.isfinite(out.mean))
    assert out.sample(11, 0).shape == (11, 7)


def check_deterministic(f: Forecaster) -> None:
    """The same rng seed gives the same forecast."""
    curve, x_new = _rising(12), np.array([20.0, 40.0])
    a, b = _run(f, curve, x_new, seed=3), _run(f, curve, x_new, seed=3)
    np.testing.assert_array_equal(a.grid_values, b.grid_values, err_msg="same rng, other answer")


def check_inputs_not_mutated(f: Forecaster) -> None:
    """Neither x_new nor the context curves are changed."""
    curve, x_new = _rising(8), np.array([9.0, 30.0])
    before = x_new.copy()
    ctx = [_rising(20, seed=1), _rising(5, seed=2)]
    ctx_before = [(c.x.copy(), c.y.copy()) for c in ctx]
    f.forecast(curve, x_new, rng=np.random.default_rng(0), context=ctx)
    np.testing.assert_array_equal(x_new, before, err_msg="x_new was mutated")
    for c, (cx, cy) in zip(ctx, ctx_before, strict=True):
        np.testing.assert_array_equal(c.x, cx)
        np.testing.assert_array_equal(c.y, cy)


def check_one_point(f: Forecaster) -> None:
    """A one-point curve gets a valid forecast with some spread."""
    curve, x_new = Curve([1.0], [0.4], "maximize", (0.0, 1.0)), np.array([2.0, 100.0])
    out = _run(f, curve, x_new)
    _valid(out, x_new, "one-point curve")
    assert out.grid_values[-1, -1] > out.grid_values[-1, 0], "a one-point forecast has no spread"


def check_scales(f: Forecaster) -> None:
    """x given as epochs and as tokens (1e9 scale) both give valid forecasts."""
    for scale in (1.0, 1e9):
        curve = _rising(15, x_scale=scale)
        x_new = np.array([20.0, 60.0]) * scale
        _valid(_run(f, curve, x_new), x_new, f"x scale {scale:g}")


def check_minimize(f: Forecaster) -> None:
    """A falling loss curve is forecast in its own units and direction."""
    curve = _falling(12)
    x_new = curve.x[-1] * np.array([2.0, 8.0])
    out = _run(f, curve, x_new)
    _valid(out, x_new, "falling curve")
    assert out.direction == "minimize", "direction must follow the curve"
    med = out.quantile([0.5])[:, 0]
    assert np.all(med < curve.y[0]), "a falling curve's median should stay below its start"


def check_in_sample_queries(f: Forecaster) -> None:
    """Query points inside the observed range are accepted."""
    curve = _rising(10)
    x_new = np.array([2.5, 5.0, 10.0, 12.0])
    _valid(_run(f, curve, x_new), x_new, "in-sample queries")


def check_many_points(f: Forecaster) -> None:
    """A curve of 2,000 points is accepted."""
    curve = _rising(2000)
    x_new = np.linspace(2001, 4000, 50)
    _valid(_run(f, curve, x_new), x_new, "2,000 points")


def check_prob_better(f: Forecaster) -> None:
    """prob_better is a probability that falls as the threshold rises (maximize)."""
    curve = _rising(10)
    out = _run(f, curve, np.array([40.0]))
    ps = [out.prob_better(t) for t in (-1.0, 0.5, 0.8, 0.9, 2.0)]
    assert all(0.0 <= p <= 1.0 for p in ps), f"not probabilities: {ps}"
    assert all(a >= b for a, b in itertools.pairwise(ps)), f"not monotone: {ps}"
    assert ps[0] == 1.0 and ps[-1] == 0.0, f"extremes wrong: {ps}"


def check_front_door(f: Forecaster) -> None:
    """Through curvecast.forecast_curve, bounds are respected and levels reported."""
    curve = _rising(6)
    from curvecast.forecast import register, unregister

    name = f"_conformance_{f.name}"
    register(name, lambda: f, overwrite=True)
    try:
        out = forecast_curve(curve, [10.0, 100.0], method=name, quantiles=(0.05, 0.5, 0.95))
    finally:
        unregister(name)
    assert out.quantiles.shape == (2, 3)
    assert np.all(out.quantiles >= 0.0) and np.all(out.quantiles <= 1.0), "bounds not respected"


def _through_front_door(
    f: Forecaster, curve: Curve, x_new: list[float], levels: tuple[float, ...]
) -> Forecast:
    from curvecast.forecast import register, unregister

    name = f"_conformance_{f.name}"
    register(name, lambda: f, overwrite=True)
    try:
        return forecast_curve(curve, x_new, method=name, quantiles=levels)
    finally:
        unregister(name)


def _plateau(n: int, seed: int = 0) -> Curve:
    """An accuracy that reaches its ceiling early and then wobbles by a point; no bounds."""
    rng = np.random.default_rng(seed)
    x = np.arange(1, n + 1, dtype=float)
    y = np.minimum(0.95, 0.6 + 0.1 * x) + rng.normal(0, 0.01, n)
    return Curve(x, np.clip(y, 0.0, 1.0), "maximize")


def check_plausible_tails(f: Forecaster) -> None:
    """Through the front door with no bounds given: an accuracy in [0, 1] stays in [0, 1], a
    positive loss stays positive, the spread stays within a few times what the curve moved,
    and the mean lies inside the central 90% interval."""
    curve = _plateau(30)
    out = _through_front_door(f, curve, [35.0, 50.0], (0.05, 0.5, 0.95))
    q = out.quantiles
    assert np.all(q >= 0.0) and np.all(q <= 1.0), f"accuracy left [0, 1]: {q.tolist()}"
    moved = float(np.ptp(curve.y))
    assert np.all(q[:, 2] - q[:, 0] <= 4 * moved), f"90% interval {q.tolist()} vs range {moved}"
    mean = out.mean
    assert np.all((mean >= q[:, 0]) & (mean <= q[:, 2])), f"mean {mean} outside {q.tolist()}"
    loss = Curve(np.arange(1.0, 9.0), 0.05 + 2.0 / np.arange(1.0, 9.0), "minimize")
    out = _through_front_door(f, loss, [20.0, 200.0], (0.001, 0.5, 0.999))
    assert np.all(out.grid_values >= 0.0), "a positive loss was forecast below 0"
    assert np.all(out.grid_values <= 2.05 + 2 * 2.0 * 4), "a loss tail beyond the plausible"


def check_backward_queries(f: Forecaster) -> None:
    """A query before the first observed point stays near the curve's start, not at +-1e5."""
    curve = Curve(np.arange(1.0, 9.0), np.linspace(0.5, 0.76, 8), "maximize")
    out = _through_front_door(f, curve, [0.0, 4.0], (0.05, 0.5, 0.95))
    q = out.quantiles
    assert np.all(q[0] >= 0.5 - 3 * 0.26) and np.all(q[0] <= 0.76 + 3 * 0.26), q.tolist()
    assert q[1, 0] <= curve.y[3] <= q[1, 2], f"observed point outside its band: {q[1].tolist()}"


_CHECKS: tuple[Check, ...] = (
    check_has_name,
    check_shapes,
    check_deterministic,
    check_inputs_not_mutated,
    check_one_point,
    check_scales,
    check_minimize,
    check_in_sample_queries,
    check_many_points,
    check_prob_better,
    check_front_door,
    check_plausible_tails,
    check_backward_queries,
)


def forecaster_checks() -> Iterator[Check]:
    """Every conformance check, each a callable taking a Forecaster instance."""
    yield from _CHECKS


def check_forecaster(forecaster: Forecaster | str) -> None:
    """Run every check on ``forecaster`` (an instance or a registered name).

    Raises:
        AssertionError: naming the first check that failed.
    """
    f = get_forecaster(forecaster) if isinstance(forecaster, str) else forecaster
    for check in _CHECKS:
        try:
            check(f)
        except AssertionError as exc:
            raise AssertionError(f"{f.name}: {check.__name__}: {exc}") from exc
