"""Oracle and property tests of PassAtKModel: rates drawn from a known distribution."""

from __future__ import annotations

import math

import numpy as np
import pytest

from curvecast.exceptions import InvalidParameterError
from curvecast.sampling import (
    PassAtKModel,
    SampleCounts,
    allocate,
    choose_model,
    observed_pass_at_k,
    unbiased_pass_at_k,
)


def _rates(
    rng: np.random.Generator, size: int, zero: float = 0.4, floor: float = -4.0
) -> np.ndarray:
    """A known rate distribution: mass ``zero`` at 0, the rest log-uniform on [10^floor, 1]
    (a = 0: as many problems per decade; with floor = -7 exactly the model's family)."""
    return np.where(rng.random(size) < zero, 0.0, 10 ** rng.uniform(floor, 0, size))


def _counts(rng: np.random.Generator, p: np.ndarray, n: int) -> SampleCounts:
    return SampleCounts(np.full(p.size, n), rng.binomial(n, p))


def test_unbiased_estimator_matches_enumeration() -> None:
    for n, c in [(5, 0), (5, 2), (7, 7), (10, 3)]:
        for k in range(1, n + 1):
            exact = 1 - math.comb(n - c, k) / math.comb(n, k)
            assert unbiased_pass_at_k([n], [c], [k])[0, 0] == pytest.approx(exact, abs=1e-12)
    assert np.isnan(unbiased_pass_at_k([5], [1], [6])[0, 0])


def test_recovers_known_rate_distribution() -> None:
    rng = np.random.default_rng(0)
    p = _rates(rng, 3000)
    model = PassAtKModel(n_bootstrap=0).fit(_counts(rng, p, 300))
    rates = model.rates
    # identifiable parts (rates the 300 samples resolve), within 0.03
    for x in (0.01, 0.1, 0.5):
        assert rates.cdf(x) == pytest.approx(np.mean(p <= x), abs=0.03)
    ks = np.array([10, 100, 1000])
    truth = 1 - np.mean((1 - p[:, None]) ** ks[None, :], axis=0)
    assert np.allclose(rates.pass_at_k(ks), truth, atol=0.03)
    assert np.all(np.diff(rates.quantile([0.1, 0.5, 0.7, 0.9])) >= 0)


def test_forecast_beyond_the_samples_drawn() -> None:
    rng = np.random.default_rng(1)
    p = _rates(rng, 1000)
    fc = PassAtKModel(n_bootstrap=0).fit(_counts(rng, p, 100)).forecast([100, 1000, 10_000])
    truth = 1 - np.mean((1 - p[:, None]) ** np.array([100, 1000, 10_000])[None, :], axis=0)
    assert np.allclose(fc.point, truth, atol=0.04)
    assert np.all(np.diff(fc.point) > 0)


@pytest.mark.slow
@pytest.mark.parametrize("resample", ["model", "problems"])
def test_intervals_cover_at_their_nominal_rate(resample: str) -> None:
    rng = np.random.default_rng(2)
    hit90, hit50, reps = 0, 0, 30
    for r in range(reps):
        p = _rates(rng, 140, floor=-7.0)  # in the model's family (its grid floor is 1e-7)
        model = PassAtKModel(n_bootstrap=100, resample=resample)
        model.fit(_counts(rng, p, 20), rng=r)
        fc = model.forecast([200])
        truth = 1 - np.mean((1 - p) ** 200)
        lo, hi = fc.interval(0.9)
        hit90 += bool(lo[0] <= truth <= hi[0])
        lo, hi = fc.interval(0.5)
        hit50 += bool(lo[0] <= truth <= hi[0])
    assert 0.75 <= hit90 / reps <= 1.0
    assert 0.25 <= hit50 / reps <= 0.8  # not just wide: the 50% interval misses too


def test_parametric_bootstrap_keeps_an_interval_when_nothing_is_solved() -> None:
    # 140 problems, 10 samples each, none solved: resampling the problems gives the same data
    # every time, so only the posterior draws spread the "problems" interval; the parametric
    # bootstrap simulates benchmarks in which a few problems are solved and refits to them
    counts = SampleCounts(np.full(140, 10), np.zeros(140, dtype=int))
    width = {}
    for resample in ("model", "problems"):
        fc = PassAtKModel(n_bootstrap=100, resample=resample).fit(counts, rng=0)
        lo, hi = fc.forecast([10_000]).interval(0.9)
        width[resample] = float(hi[0] - lo[0])
    assert width["model"] > 1.5 * width["problems"]  # about 2.5x at rng=0
    assert width["model"] < 0.5  # wide, not vacuous


def test_resample_must_be_model_or_problems() -> None:
    with pytest.raises(InvalidParameterError, match="'resample' parameter"):
        PassAtKModel(resample="bootstrap")


def test_tail_scale_widens_only_beyond_the_data() -> None:
    rng = np.random.default_rng(5)
    counts = _counts(rng, _rates(rng, 140, floor=-6.0), 50)
    ks = [10, 10_000]
    trust = PassAtKModel(n_bootstrap=100, tail_scale=0.0).fit(counts, rng=0).forecast(ks)
    unsure = PassAtKModel(n_bootstrap=100, tail_scale=1.0).fit(counts, rng=0).forecast(ks)
    assert np.allclose(trust.point, unsure.point)  # the plug-in forecast does not use it
    width = [np.subtract(*fc.interval(0.9)[::-1]) for fc in (trust, unsure)]
    assert width[1][1] > width[0][1]  # k = 10,000, far below 1 / 50: wider
    assert width[1][0] == pytest.approx(width[0][0], abs=0.02)  # k = 10 < 50: about the same


def test_quantiles_monotone_and_rng_reproducible() -> None:
    rng = np.random.default_rng(3)
    counts = _counts(rng, _rates(rng, 140), 50)
    a = PassAtKModel(n_bootstrap=30).fit(counts, rng=7).forecast([10, 100, 1000])
    b = PassAtKModel(n_bootstrap=30).fit(counts, rng=7).forecast([10, 100, 1000])
    assert np.array_equal(a.draws, b.draws)
    q = a.quantile([0.05, 0.25, 0.5, 0.75, 0.95])
    assert np.all(np.diff(q, axis=0) >= 0)
    assert np.all((q >= 0) & (q <= 1))
    obj = a.to_json(0.9)
    assert set(obj) == {"model", "k", "median", "lower", "upper", "level"}
    assert obj["k"] == [10, 100, 1000]


def test_one_problem_and_uneven_n() -> None:
    PassAtKModel(n_bootstrap=5).fit(SampleCounts([3], [1]), rng=0).forecast([10])
    sc = SampleCounts([5, 50, 500], [1, 0, 2])
    fc = PassAtKModel(n_bootstrap=5).fit(sc, rng=0).forecast([1000])
    assert 0 < fc.median[0] <= 1
    obs = observed_pass_at_k(sc, [5, 50, 600])
    assert obs[0] == pytest.approx(np.mean([1.0, 0.0, unbiased_pass_at_k([500], [2], [5])[0, 0]]))
    assert np.isnan(obs[2])


def test_samples_needed_brackets_the_truth() -> None:
    rng = np.random.default_rng(4)
    p = _rates(rng, 2000)
    model = PassAtKModel(n_bootstrap=40).fit(_counts(rng, p, 200), rng=0)
    ks = np.unique(np.round(np.logspace(0, 5, 400)))
    curve = 1 - np.mean((1 - p[:, None]) ** ks[None, :], axis=0)
    true_k = ks[np.argmax(curve >= 0.4)]
    nd = model.samples_needed(0.4)
    assert true_k / 1.5 <= nd.median <= true_k * 1.5
    assert nd.lower <= nd.median <= nd.upper
    assert model.samples_needed(0.99).median == math.inf


def test_allocation_skips_solved_and_hopeless() -> None:
    n = np.array([200, 200, 20, 20, 200])
    c = np.array([150, 0, 0, 0, 100])
    counts = SampleCounts(n, c)
    add = allocate(counts, 100, k=10_000, cap=np.full(5, 60))
    assert add.sum() <= 100 and np.all(add <= 60)
    assert add[0] == 0 and add[4] == 0  # solved: more samples change nothing at k = 10,000
    assert add[2] + add[3] > 0  # the barely sampled unsolved ones get the budget


def test_choose_model_prefers_the_cheaper() -> None:
    rng = np.random.default_rng(5)
    p = _rates(rng, 300, zero=0.3)
    strong = PassAtKModel(n_bootstrap=40).fit(_counts(rng, p, 100), rng=0)
    weak = PassAtKModel(n_bootstrap=40).fit(_counts(rng, p / 10, 100), rng=1)
    choice = choose_model({"strong": strong, "weak": weak}, {"strong": 2.0, "weak": 1.0}, 0.3)
    assert choice.model == "strong" and choice.probability > 0.9
    choice = choose_model({"strong": strong, "weak": weak}, {"strong": 100.0, "weak": 1.0}, 0.3)
    assert choice.model == "weak"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_bootstrap": -1},
        {"n_bootstrap": 1.5},
        {"grid_floor": 0.5},
        {"slope_scale": 0},
        {"slope_center": float("nan")},
        {"tail_scale": -0.5},
    ],
)
def test_bad_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidParameterError, match=next(iter(kwargs))):
        PassAtKModel(**kwargs)  # type: ignore[arg-type]


def test_unfitted_and_bad_k() -> None:
    with pytest.raises(InvalidParameterError, match="fit"):
        PassAtKModel().forecast([10])
    model = PassAtKModel(n_bootstrap=0).fit(SampleCounts([10, 10], [1, 0]))
    with pytest.raises(InvalidParameterError, match="'k'"):
        model.forecast([0])
    with pytest.raises(InvalidParameterError, match="'target'"):
        model.samples_needed(1.5)
