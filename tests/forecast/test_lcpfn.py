"""The lcpfn baseline: weight loading and checksums, the bar distribution, the forecaster.

No torch here: tiny weight files are written with safetensors.numpy directly.
"""

from __future__ import annotations

import hashlib
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.special import ndtri

from curvecast import Curve
from curvecast.exceptions import MissingDependencyError
from curvecast.forecast import GRID
from curvecast.forecast import lcpfn as L

pytest.importorskip("safetensors", reason="the lcpfn forecaster reads safetensors weights")
from safetensors.numpy import save_file

RNG = np.random.default_rng


def _tiny_weights(
    path: Path,
    *,
    d: int = 8,
    heads: int = 2,
    ff: int = 12,
    bars: int = 20,
    layers: int = 2,
    fmt: str = L.FORMAT,
    seed: int = 0,
) -> Path:
    """A random model in the exported format (names and shapes as the trainer writes them)."""
    rng = RNG(seed)

    def w(*shape: int) -> np.ndarray:
        return rng.normal(0.0, 0.4, size=shape).astype(np.float32)

    t = {
        "x_encoder.weight": w(d, 1),
        "x_encoder.bias": w(d),
        "y_encoder.weight": w(d, 1),
        "y_encoder.bias": w(d),
        "decoder.hidden.weight": w(ff, d),
        "decoder.hidden.bias": w(ff),
        "decoder.out.weight": w(bars, ff),
        "decoder.out.bias": w(bars),
        "borders": np.linspace(-0.5, 1.5, bars + 1),
    }
    for i in range(layers):
        p = f"layers.{i}."
        t |= {
            p + "qkv.weight": w(3 * d, d),
            p + "qkv.bias": w(3 * d),
            p + "out.weight": w(d, d),
            p + "out.bias": w(d),
            p + "ff1.weight": w(ff, d),
            p + "ff1.bias": w(ff),
            p + "ff2.weight": w(d, ff),
            p + "ff2.bias": w(d),
            p + "norm1.weight": 1 + w(d),
            p + "norm1.bias": w(d),
            p + "norm2.weight": 1 + w(d),
            p + "norm2.bias": w(d),
        }
    save_file(t, str(path), metadata={"format": fmt, "n_heads": str(heads)})
    return path


def _rising(n: int = 12) -> Curve:
    x = np.arange(1, n + 1, dtype=float)
    return Curve(x, 0.85 - 0.5 * x**-0.6, "maximize", (0.0, 1.0))


# -- loading and checksums ----------------------------------------------------------------------
def test_bundled_weights_match_the_recorded_checksum() -> None:
    data = (Path(L.__file__).parent / "weights" / "lcpfn.safetensors").read_bytes()
    assert hashlib.sha256(data).hexdigest() == L.WEIGHTS_SHA256
    model = L.load_model()
    assert model.borders.shape == (1001,) and np.all(np.diff(model.borders) > 0)
    assert model.meta["format"] == L.FORMAT


def test_checksum_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    bundled = Path(L.__file__).parent / "weights" / "lcpfn.safetensors"
    bad = tmp_path / "lcpfn.safetensors"
    data = bytearray(bundled.read_bytes())
    data[-1] ^= 0xFF  # one flipped byte in the last tensor
    bad.write_bytes(bytes(data))
    with pytest.raises(L.WeightsChecksumError, match=r"sha256 .* expected .*reinstall"):
        L.load_model(bad, sha256=L.WEIGHTS_SHA256)
    with pytest.raises(L.WeightsChecksumError):
        L.LCPFNForecaster(bad, sha256="ab" * 32).forecast(_rising(), np.array([20.0]), rng=RNG(0))


def test_a_file_in_another_format_is_refused(tmp_path: Path) -> None:
    path = _tiny_weights(tmp_path / "w.safetensors", fmt="something-else")
    with pytest.raises(ValueError, match="not a curvecast LC-PFN weights file"):
        L.load_model(path, sha256=None)


def test_missing_safetensors_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _tiny_weights(tmp_path / "w.safetensors")
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(MissingDependencyError, match=r"pip install safetensors"):
        L.load_model(path, sha256=None)


# -- the bar distribution against closed forms ---------------------------------------------------
def test_bar_quantiles_inner_bar_is_uniform() -> None:
    borders = np.array([-1.0, 0.0, 0.2, 0.6, 1.0, 2.0])
    logits = np.full((1, 5), -60.0)
    logits[0, 2] = 0.0  # all mass in the bar [0.2, 0.6]
    q = L.bar_quantiles(logits, borders, np.array([0.1, 0.5, 0.9]))
    np.testing.assert_allclose(q[0], [0.24, 0.4, 0.56], atol=1e-9)


@pytest.mark.parametrize("side", ["low", "high"])
def test_bar_quantiles_tails_are_half_normal(side: str) -> None:
    borders = np.array([-1.0, 0.0, 0.5, 1.0, 2.0])
    logits = np.full((1, 4), -60.0)
    logits[0, 0 if side == "low" else -1] = 0.0
    levels = np.array([0.01, 0.3, 0.7, 0.99])
    q = L.bar_quantiles(logits, borders, levels)[0]
    scale = 1.0 / ndtri(0.75)  # both tail bars have width 1: their half-normals' median is 1
    if side == "low":  # mass below 0 = half-normal mirrored at borders[1]
        expect = 0.0 - scale * ndtri(1 - levels / 2)
    else:
        expect = 1.0 + scale * ndtri((1 + levels) / 2)
    np.testing.assert_allclose(q, expect, rtol=1e-9)


def test_bar_quantiles_are_monotone_for_random_logits() -> None:
    rng = RNG(1)
    borders = np.sort(rng.uniform(-1, 2, 51))
    q = L.bar_quantiles(rng.normal(0, 3, (20, 50)), borders, GRID)
    assert np.all(np.diff(q, axis=1) >= 0) and np.all(np.isfinite(q))


# -- the value map --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("direction", "bounds", "y"),
    [
        ("maximize", (0.0, 1.0), [0.2, 0.5, 0.6]),
        ("maximize", (0.0, 100.0), [20.0, 50.0, 60.0]),
        ("minimize", (0.0, None), [3.0, 2.0, 1.8]),
        ("minimize", None, [3.0, 2.0, 1.8]),
        ("maximize", None, [5.0]),
        ("maximize", (None, 10.0), [1.0, 4.0, 4.5]),
    ],
)
def test_value_map_round_trips_and_keeps_order(
    direction: str, bounds: tuple | None, y: list[float]
) -> None:
    curve = Curve(np.arange(1, len(y) + 1), y, direction, bounds)
    ymap = L._y_map(curve)
    v = np.linspace(min(y) - 0.5, max(y) + 0.5, 41)
    if bounds is not None:
        lo, hi = (
            b if b is not None else math.inf * s for b, s in zip(bounds, (-1, 1), strict=True)
        )
        v = v[(v > lo) & (v < hi)]
    z = ymap.forward(v)
    assert np.all((z >= 0) & (z <= 1))
    better = np.diff(z) > 0 if direction == "maximize" else np.diff(z) < 0
    assert np.all(better)
    np.testing.assert_allclose(ymap.inverse(z), v, rtol=1e-7, atol=1e-7)


def test_accuracy_in_unit_range_is_fed_as_is() -> None:
    ymap = L._y_map(_rising())
    np.testing.assert_allclose(ymap.forward(np.array([0.1, 0.7])), [0.1, 0.7])


# -- the forward pass on a tiny model and the forecaster -----------------------------------------
def test_tiny_model_logits_shape_and_query_independence(tmp_path: Path) -> None:
    model = L.load_model(_tiny_weights(tmp_path / "w.safetensors"), sha256=None)
    t_ctx, z_ctx = np.arange(1.0, 6.0), np.linspace(0.2, 0.5, 5)
    both = model.logits(t_ctx, z_ctx, np.array([10.0, 50.0]))
    one = model.logits(t_ctx, z_ctx, np.array([50.0]))
    assert both.shape == (2, 20)
    np.testing.assert_allclose(both[1], one[0], rtol=1e-12)  # queries see context + self only


def test_forecast_is_valid_and_monotone() -> None:
    x_new = np.array([13.0, 25.0, 50.0, 100.0])
    out = L.LCPFNForecaster().forecast(_rising(), x_new, rng=RNG(0))
    assert out.grid_values.shape == (4, GRID.size) and out.method == "lcpfn"
    assert np.all(np.isfinite(out.grid_values))
    assert np.all(np.diff(out.grid_values, axis=1) >= 0)
    assert out.info["n_context"] == 12


def test_rising_curve_median_at_horizon_is_above_its_start() -> None:
    curve = _rising()
    out = L.LCPFNForecaster().forecast(curve, np.array([50.0]), rng=RNG(0))
    assert out.median[0] > curve.y[0]
    assert out.median[0] > curve.y[-1] - 0.05  # and it does not collapse below the last value


def test_same_input_same_forecast_whatever_the_rng() -> None:
    f = L.LCPFNForecaster()
    a = f.forecast(_rising(), np.array([30.0]), rng=RNG(0))
    b = f.forecast(_rising(), np.array([30.0]), rng=RNG(123))
    np.testing.assert_array_equal(a.grid_values, b.grid_values)


def test_falling_loss_is_forecast_in_its_units() -> None:
    x = np.arange(1, 21, dtype=float)
    curve = Curve(x, 1.5 + 2.0 * x**-0.5, "minimize", (0.0, None))
    out = L.LCPFNForecaster().forecast(curve, np.array([40.0, 80.0]), rng=RNG(0))
    assert out.direction == "minimize"
    assert np.all(out.median < curve.y[0]) and np.all(out.grid_values >= 0.0)


def test_long_curves_are_thinned_to_the_trained_context() -> None:
    x = np.arange(1, 501, dtype=float)
    curve = Curve(x, 0.85 - 0.5 * x**-0.6, "maximize", (0.0, 1.0))
    out = L.LCPFNForecaster().forecast(curve, np.array([1000.0]), rng=RNG(0))
    assert out.info["n_context"] == L.MAX_CONTEXT


def test_the_axis_scale_does_not_matter() -> None:
    """x maps to LC-PFN's epochs in proportion to the horizon: epochs and tokens agree."""
    f, curve = L.LCPFNForecaster(), _rising()
    a = f.forecast(curve, np.array([20.0, 40.0]), rng=RNG(0))
    scaled = Curve(curve.x * 1e9, curve.y, curve.direction, curve.bounds)
    b = f.forecast(scaled, np.array([20.0, 40.0]) * 1e9, rng=RNG(0))
    np.testing.assert_allclose(a.grid_values, b.grid_values, rtol=1e-9, atol=1e-12)
