"""The curvecast PFN without torch: its input encoding, checked loading, and its forecasts."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from curvecast import Curve, Forecast
from curvecast.forecast import _pfn_input as E
from curvecast.forecast import pfn as P
from curvecast.forecast._nn import WeightsChecksumError

X = np.arange(1.0, 21.0)
Y = 0.9 - 0.6 * X**-0.8  # a rising accuracy, spread well above any floor


def _enc(x: np.ndarray, y: np.ndarray, **kw: object) -> E.Encoded:
    kw.setdefault("direction", "maximize")
    kw.setdefault("bounds", None)
    return E.encode(x, y, np.array([40.0, 100.0]) * x[-1] / 20.0, **kw)


def _same(a: E.Encoded, b: E.Encoded) -> None:
    for name in ("x_obs", "v_obs", "x_query", "task"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), atol=1e-12, err_msg=name)


# -- the encoding ---------------------------------------------------------------------------------
def test_any_unit_or_offset_of_the_metric_reads_the_same() -> None:
    _same(_enc(X, Y), _enc(X, 1000.0 * Y - 7.0))


def test_any_unit_of_the_axis_reads_the_same() -> None:
    _same(_enc(X, Y), _enc(1e6 * X, Y))


def test_minimising_a_mirror_image_reads_the_same() -> None:
    _same(
        _enc(X, Y, bounds=(0.0, 1.0)),
        _enc(X, 1.0 - Y, direction="minimize", bounds=(0.0, 1.0)),
    )


def test_the_room_left_to_a_bound_is_an_input() -> None:
    near = _enc(X, Y, bounds=(0.0, 0.91)).task
    far = _enc(X, Y, bounds=(0.0, 5.0)).task
    assert near[0] == far[0] == 1.0 and near[1] < far[1]
    assert _enc(X, Y).task[0] == 0.0  # no upper bound, no distance


def test_normalize_and_denormalize_are_inverse() -> None:
    enc = _enc(X, 3.0 + Y, direction="minimize")
    v = np.array([1.0, 2.5, 4.0])
    np.testing.assert_allclose(enc.denormalize(enc.normalize(v)), v)
    assert enc.normalize(np.array([3.0 + Y[-1]]))[0] == pytest.approx(0.0)


def test_a_flat_or_single_point_curve_gets_a_positive_scale() -> None:
    for y in (np.array([0.5]), np.full(10, 0.5)):
        x = np.arange(1.0, y.size + 1)
        for bounds in (None, (0.0, 1.0)):
            enc = E.encode(x, y, np.array([50.0]), direction="maximize", bounds=bounds)
            assert enc.scale > 0 and np.isfinite(enc.v_obs).all()


def test_x_at_zero_and_far_horizons_stay_finite() -> None:
    enc = E.encode(
        np.array([0.0, 1.0, 2.0]), np.array([1.0, 0.5, 0.4]), np.array([1e9]),
        direction="minimize", bounds=(0.0, math.inf),
    )  # fmt: skip
    assert np.isfinite(enc.x_obs).all() and np.isfinite(enc.x_query).all()


def test_long_curves_are_thinned_and_keep_their_last_points() -> None:
    x = np.arange(1.0, 2001.0)
    enc = E.encode(x, np.log(x), np.array([3000.0]), direction="maximize", bounds=None)
    assert enc.x_obs.shape[0] == E.MAX_TARGET
    assert enc.v_obs[-1, 0] == 0.0  # the last observed point is the level
    np.testing.assert_allclose(enc.x_obs[-1], [0.0, 0.2])  # at x / xr = 1


def test_context_keeps_finite_points_of_the_furthest_reaching_curves() -> None:
    ctx = [(np.arange(1.0, k + 1), 0.8 - 0.5 / np.arange(1.0, k + 1)) for k in range(3, 13)]
    ctx.append((np.arange(1.0, 50.0), np.full(49, np.nan)))  # nothing finite: left out
    bad = 0.8 - 0.5 / np.arange(1.0, 31.0)
    bad[10:] = np.inf  # diverged after 10 points
    ctx.append((np.arange(1.0, 31.0), bad))
    enc = _enc(np.arange(1.0, 6.0), Y[:5], context=ctx)
    n_target = 5
    ctx_rows = enc.v_obs[n_target:]
    assert np.isfinite(enc.v_obs).all() and np.all(ctx_rows[:, 2] == 1.0)
    ids = {tuple(r) for r in ctx_rows[:, 5:]}
    assert len(ids) == E.MAX_CONTEXT_CURVES
    # the six furthest-reaching: 12, 11, 10 points, the diverged curve's 10 finite ones, 9, 8
    assert ctx_rows.shape[0] == 12 + 11 + 10 + 10 + 9 + 8
    assert enc.n_context == E.MAX_CONTEXT_CURVES
    assert enc.task[6] == 1.0 and enc.task[7] == pytest.approx(math.log1p(6) / 2.0)


def test_context_offset_is_flagged_only_where_a_curve_reaches_the_cut() -> None:
    short = (np.array([1.0, 2.0]), np.array([0.2, 0.3]))
    long = (np.arange(1.0, 21.0), Y + 0.05)
    enc = _enc(np.arange(1.0, 6.0), Y[:5], context=[short, long])
    rows = enc.v_obs[5:]
    flags = {len(rows[rows[:, 5] == v]): rows[rows[:, 5] == v][0, 4] for v in set(rows[:, 5])}
    assert flags == {12: 1.0, 2: 0.0}


# -- loading --------------------------------------------------------------------------------------
def test_bundled_weights_have_the_recorded_checksum_and_card() -> None:
    data = P._bundled_path().read_bytes()
    assert hashlib.sha256(data).hexdigest() == P.WEIGHTS_SHA256
    card = json.loads(P._bundled_path().with_suffix(".json").read_text())
    assert card["sha256"] == P.WEIGHTS_SHA256 and card["format"] == P.FORMAT
    for key in ("command", "commit", "seed", "steps", "curves_seen"):
        assert card[key] not in (None, ""), key
    model = P.load_model()
    assert model.meta["format"] == P.FORMAT and model.n_layers >= 1
    assert np.all(np.diff(model.borders) > 0)


def test_checksum_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    data = P._bundled_path().read_bytes()
    good, bad = tmp_path / "good.safetensors", tmp_path / "bad.safetensors"
    good.write_bytes(data)
    P.load_model(good, sha256=hashlib.sha256(data).hexdigest())  # the right digest loads
    flipped = bytearray(data)
    flipped[-1] ^= 0xFF
    bad.write_bytes(bytes(flipped))
    with pytest.raises(WeightsChecksumError, match=r"sha256 .* expected .*curvecast train"):
        P.load_model(bad, sha256=hashlib.sha256(data).hexdigest())


def test_an_incomplete_file_is_refused_by_name(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    path = tmp_path / "partial.safetensors"
    save_file(
        {"query": np.zeros(4, np.float32)},
        str(path),
        metadata={"format": P.FORMAT, "input_version": P.INPUT_VERSION, "n_heads": "2"},
    )
    with pytest.raises(ValueError, match=r"lacks \['borders', 'decoder.out.weight'\]"):
        P.load_model(path)


def test_weights_of_another_model_are_refused(tmp_path: Path) -> None:
    from curvecast.forecast import lcpfn

    with pytest.raises(ValueError, match="not curvecast PFN weights"):
        P.load_model(lcpfn._bundled_path())


# -- forecasts ------------------------------------------------------------------------------------
def _fc(curve: Curve, x_new: np.ndarray, context: tuple[Curve, ...] = ()) -> Forecast:
    return P.PFNForecaster().forecast(curve, x_new, rng=np.random.default_rng(0), context=context)


def test_forecast_is_deterministic_and_monotone_in_levels() -> None:
    curve = Curve(X[:8], Y[:8], bounds=(0, 1))
    a = _fc(curve, X[8:])
    b = P.PFNForecaster().forecast(curve, X[8:], rng=np.random.default_rng(99))
    np.testing.assert_array_equal(a.quantiles, b.quantiles)
    assert np.all(np.diff(a.quantiles, axis=1) >= 0)


def test_minimising_forecasts_mirror_maximising_ones() -> None:
    up = _fc(Curve(X[:8], Y[:8]), X[8:])
    down = _fc(Curve(X[:8], -Y[:8], direction="minimize"), X[8:])
    np.testing.assert_allclose(
        down.quantiles,
        -up.quantiles[:, ::-1],
        atol=1e-9,
    )


def test_a_rising_curve_is_forecast_near_or_above_where_it_is() -> None:
    curve = Curve(X[:10], Y[:10], bounds=(0, 1))
    f = _fc(curve, np.array([20.0, 100.0]))
    med = f.median
    assert med[0] > Y[9] - 0.02 and med[1] > Y[9] - 0.02
    lo, hi = f.quantile(0.05), f.quantile(0.95)
    assert np.all(hi - lo > 0)


def test_points_inside_the_observed_range_follow_the_data() -> None:
    curve = Curve(X[:10], Y[:10], bounds=(0, 1))
    f = _fc(curve, np.array([2.0, 5.5, 20.0]))
    np.testing.assert_allclose(f.median[:2], [Y[1], (Y[4] + Y[5]) / 2], atol=1e-9)
    later = _fc(curve, np.array([20.0]))
    # queries are independent (up to float32 rounding: the batch's shape changes the products)
    np.testing.assert_allclose(f.quantiles[2], later.quantiles[0], rtol=1e-5)


def test_a_single_point_at_x_zero_gives_the_same_answer_whatever_else_is_asked() -> None:
    curve = Curve(np.array([0.0]), np.array([0.3]), bounds=(0, 1))
    alone = _fc(curve, np.array([1000.0]))
    with_others = _fc(curve, np.array([0.5, 100.0, 1000.0]))
    np.testing.assert_allclose(alone.quantiles[0], with_others.quantiles[-1], rtol=1e-5)


def test_a_constant_curve_at_zero_and_overflowing_bounds_give_finite_forecasts() -> None:
    for curve in (
        Curve(X[:5], np.zeros(5)),
        Curve(X[:5], Y[:5], bounds=(-1e308, 1e308)),
        Curve(X[:5], 1e-300 * Y[:5]),
    ):
        f = _fc(curve, np.array([50.0]))
        assert np.isfinite(f.quantiles).all()
    tiny = _fc(Curve(X[:10], 1e-300 * Y[:10]), np.array([50.0]))
    assert 0.0 < tiny.quantile(0.95)[0] - tiny.quantile(0.05)[0] < 1e-299  # read at its scale


def test_context_of_the_other_direction_is_refused_by_name() -> None:
    import curvecast

    with pytest.raises(curvecast.InvalidParameterError, match="'context' parameter of forecast"):
        curvecast.forecast(
            X[:5], Y[:5], [20.0], method="pfn", context=[Curve(X, -Y, direction="minimize")]
        )


def test_context_changes_the_forecast() -> None:
    curve = Curve(X[:5], Y[:5], bounds=(0, 1))
    ahead = tuple(Curve(X, Y + d, bounds=(0, 1)) for d in (0.02, 0.03, 0.04))
    alone, with_ctx = _fc(curve, X[5:]), _fc(curve, X[5:], ahead)
    assert not np.allclose(alone.quantiles, with_ctx.quantiles)


# -- the forward pass -----------------------------------------------------------------------------
def test_the_float32_gelu_is_the_exact_one_to_float32_resolution() -> None:
    from scipy.special import erf

    from curvecast.forecast._nn import gelu

    v = np.linspace(-12.0, 12.0, 4001)
    exact = 0.5 * v * (1.0 + erf(v / math.sqrt(2.0)))
    fast = gelu(v.astype(np.float32))
    assert fast.dtype == np.float32
    np.testing.assert_allclose(fast, exact, atol=2e-6, rtol=1e-6)
    np.testing.assert_array_equal(gelu(v), exact)  # float64 keeps scipy's erf


def test_requests_packed_into_one_row_get_the_answers_they_get_alone() -> None:
    """A short request shares a row with a long one (the stacked forecaster's curve alone
    beside the same curve with context): attention must not leak between them."""
    model = P.load_model()
    context = [(X, Y + d) for d in (-0.05, -0.02, 0.01, 0.03, 0.05, 0.08)]
    short = _enc(X[:3], Y[:3])
    long = _enc(X[:3], Y[:3], context=context)
    assert P._pack([short.x_obs.shape[0], long.x_obs.shape[0]]) == [[1, 0]]  # one row
    together = model.logits_many([short, long])
    for enc, lg in zip((short, long), together, strict=True):
        np.testing.assert_allclose(lg, model.logits_many([enc])[0], rtol=1e-4, atol=1e-4)
    # requests of one length keep a row each, as padding would give them
    assert sorted(map(sorted, P._pack([40, 40, 40]))) == [[0], [1], [2]]
