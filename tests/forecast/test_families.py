"""The 11 Domhan et al. families: shapes, monotonicity inside the bounds, exact recovery."""

from __future__ import annotations

import numpy as np
import pytest

from curvecast import Curve
from curvecast.forecast._families import FAMILIES, Family, Normaliser, family, fit, grid_fit

CAP = 25.0


def test_there_are_the_eleven_families_of_the_paper() -> None:
    names = {f.name for f in FAMILIES}
    assert names == {
        "vap", "pow3", "loglog_linear", "hill3", "log_power", "pow4",
        "mmf", "exp4", "janoschek", "weibull", "ilog2",
    }  # fmt: skip


@pytest.mark.parametrize("fam", FAMILIES, ids=lambda f: f.name)
def test_vectorised_finite_and_non_decreasing_inside_bounds(fam: Family) -> None:
    rng = np.random.default_rng(0)
    lo, hi = fam.bounds(CAP)
    lo_f, hi_f = np.maximum(lo, -50), np.minimum(hi, 50)
    theta = lo_f + (hi_f - lo_f) * rng.uniform(size=(200, fam.n_params))
    u = np.geomspace(1e-6, 100, 60)
    out = fam(u, theta)
    assert out.shape == (200, 60)
    assert np.all(np.isfinite(out))
    assert np.all(np.diff(out, axis=1) >= -1e-6 * np.maximum(1, np.abs(out[:, 1:])))


@pytest.mark.parametrize("fam", FAMILIES, ids=lambda f: f.name)
def test_grid_fit_returns_parameters_inside_bounds(fam: Family) -> None:
    u = np.linspace(0.05, 1, 20)
    z = 1.5 - 0.05 / u**0.5
    thetas, rss = grid_fit(fam, u, z, CAP, top=3)
    lo, hi = fam.bounds(CAP)
    assert thetas.shape[1] == fam.n_params and 1 <= thetas.shape[0] <= 3  # ilog2: no grid
    assert np.all(np.diff(rss) >= 0)
    assert np.all((thetas >= lo) & (thetas <= hi))


def test_pow3_is_recovered_to_1e_3_by_grid_and_exactly_by_polish() -> None:
    u = np.linspace(0.05, 1, 30)
    truth = np.array([1.6, 0.1, 0.7])
    z = family("pow3")(u, truth)
    thetas, _ = grid_fit(family("pow3"), u, z, CAP)
    assert (
        np.max(
            np.abs(
                family("pow3")(np.array([3.0]), thetas[0]) - family("pow3")(np.array([3.0]), truth)
            )
        )
        < 1e-2
    )
    res = fit(family("pow3"), u, z, CAP)
    assert res.ok and res.rss < 1e-12


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
@pytest.mark.parametrize("scale", [1.0, 1e9])
def test_normaliser_round_trip_and_orientation(direction: str, scale: float) -> None:
    x = np.arange(1.0, 11.0) * scale
    y = 0.9 - 0.5 / np.arange(1.0, 11.0) if direction == "maximize" else 1 / np.arange(1.0, 11.0)
    nm = Normaliser.from_curve(Curve(x, y, direction=direction))
    z = nm.z(y)
    assert np.allclose(nm.y(z), y)
    assert nm.u(x)[-1] == pytest.approx(1.0)
    assert z[-1] > z[0]  # better is up
    assert z.min() == pytest.approx(0.5) and z.max() == pytest.approx(1.5)


def test_normaliser_handles_x_zero_and_one_point() -> None:
    nm = Normaliser.from_curve(Curve([0.0, 5.0, 10.0], [1.0, 2.0, 3.0]))
    assert np.all(nm.u(np.array([0.0, 10.0])) > 0)
    one = Normaliser.from_curve(Curve([0.0], [3.0], direction="minimize"))
    assert one.r == pytest.approx(0.3) and np.isfinite(one.u(np.array([0.0, 1e12]))).all()


def test_best_side_bound_caps_the_asymptote() -> None:
    nm = Normaliser.from_curve(Curve([1, 2, 3], [0.5, 0.6, 0.7], bounds=(0, 1)))
    assert nm.z_best == pytest.approx((1 - 0.5) / 0.2 + 0.5)
    assert nm.asymptote_cap == pytest.approx(nm.z_best)
