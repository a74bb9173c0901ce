"""Oracle and property tests of the scaling laws: data drawn from a known law is recovered, and
the intervals cover fresh runs at about their nominal rate."""

from __future__ import annotations

import numpy as np
import pytest
from _scaling_oracle import TRUE, chinchilla, draw

from curvecast.exceptions import InvalidParameterError, UnknownMethodError
from curvecast.scaling import (
    LAWS,
    ChinchillaLaw,
    ComputeLaw,
    DownstreamLaw,
    LogLinearLaw,
    OvertrainingLaw,
    Sweep,
    get_law,
)


def test_chinchilla_recovers_the_law_from_noisy_runs() -> None:
    # tolerance: 2% noise on 120 runs over two decades of N pins the exponents to +-0.03
    sweep = draw(np.random.default_rng(0), 120, 0.02)
    law = ChinchillaLaw(n_bootstrap=50).fit(sweep, rng=0)
    p = law.params
    assert abs(p["alpha"] - TRUE["alpha"]) < 0.03
    assert abs(p["beta"] - TRUE["beta"]) < 0.03
    assert abs(p["E"] - TRUE["E"]) / TRUE["E"] < 0.06
    # one decade beyond the largest run: within 3% of the truth (the noise is 2%), inside the band
    fc = law.predict(N=1e10, D=2e11)
    truth = chinchilla(np.array([1e10]), np.array([2e11]))[0]
    assert abs(fc.point[0] - truth) / truth < 0.03
    lo, hi = fc.interval(0.9)
    assert lo[0] < truth < hi[0]


def test_chinchilla_noiseless_fit_is_exact() -> None:
    sweep = draw(np.random.default_rng(1), 60, 0.0)
    law = ChinchillaLaw(n_bootstrap=0).fit(sweep, rng=1)
    for k, v in TRUE.items():
        assert law.params[k] == pytest.approx(v, rel=2e-2), k


@pytest.mark.parametrize("resample", ["runs", "sizes"])
def test_intervals_cover_fresh_runs_at_nominal_rate(resample: str) -> None:
    rng = np.random.default_rng(7)
    sigma = 0.02
    sweep = draw(rng, 150, sigma)
    law = ChinchillaLaw(n_bootstrap=100, resample=resample).fit(sweep, rng=2)
    fresh = draw(rng, 400, sigma)  # same range: the band's noise part must be right
    lo, hi = law.predict(N=fresh.N, D=fresh.D).interval(0.9)
    cover = np.mean((fresh.loss >= lo) & (fresh.loss <= hi))
    assert 0.84 <= cover <= 0.96, cover


def test_extrapolated_intervals_cover_at_nominal_rate_over_repeats() -> None:
    # 8 sweeps, each fitted below 1e9 params and scored on 30 runs at 1e9-3e9 params
    hits = []
    for seed in range(8):
        rng = np.random.default_rng(100 + seed)
        fit = draw(rng, 80, 0.02, n_range=(1e7, 1e9))
        held = draw(rng, 30, 0.02, n_range=(1e9, 3e9))
        law = ChinchillaLaw(n_bootstrap=40, n_starts=500).fit(fit, rng=seed)
        lo, hi = law.predict(N=held.N, D=held.D).interval(0.9)
        hits.append(np.mean((held.loss >= lo) & (held.loss <= hi)))
    assert 0.82 <= np.mean(hits) <= 0.98, hits


def test_optimal_split_matches_a_numeric_minimum() -> None:
    sweep = draw(np.random.default_rng(3), 60, 0.0)
    law = ChinchillaLaw(n_bootstrap=20).fit(sweep, rng=0)
    p = law.params
    C = 1e22
    n_grid = np.logspace(8, 12, 20001)
    loss = p["E"] + p["A"] / n_grid ** p["alpha"] + p["B"] / (C / (6 * n_grid)) ** p["beta"]
    split = law.optimal([C])
    assert split.N[0] == pytest.approx(n_grid[np.argmin(loss)], rel=2e-3)
    assert split.loss[0] == pytest.approx(loss.min(), rel=1e-6)
    assert split.N[0] * split.D[0] * 6 == pytest.approx(C)
    q = split.N_quantiles[:, 0]
    assert np.all(np.diff(q) >= 0)
    assert q[0] <= split.N[0] * (1 + 1e-6) and split.N[0] <= q[-1] * (1 + 1e-6)
    # predict(C=...) is the same frontier
    assert law.predict(C=C).point[0] == pytest.approx(split.loss[0])


def test_overtraining_recovers_a_shared_exponent() -> None:
    rng = np.random.default_rng(4)
    N = np.repeat([1e7, 3e7, 1e8, 3e8], 5)
    M = np.tile([10, 20, 40, 160, 640], 4)
    D = N * M
    loss = (1.8 + 300 / N**0.3 + 900 / D**0.3) * np.exp(rng.normal(0, 0.003, N.size))
    law = OvertrainingLaw(n_bootstrap=40).fit(Sweep(N=N, D=D, loss=loss), rng=0)
    assert law.params["eta"] == pytest.approx(0.3, abs=0.03)
    fc = law.predict(N=1.4e9, M=640)
    truth = 1.8 + 300 / 1.4e9**0.3 + 900 / (1.4e9 * 640) ** 0.3
    assert abs(fc.point[0] - truth) / truth < 0.01
    assert fc.inputs["D"][0] == pytest.approx(1.4e9 * 640)


def test_compute_law_finds_the_optimal_size_exponent() -> None:
    # iso-FLOP sweep of the oracle law: N*(C) has exponent beta / (alpha + beta)
    rows = []
    for C in np.logspace(17, 20, 7):
        for N in np.logspace(-1.2, 1.2, 9) * 0.1 * np.sqrt(C / 6):
            rows.append((N, C / (6 * N)))
    N, D = np.array(rows).T
    sweep = Sweep(N=N, D=D, loss=chinchilla(N, D))
    law = ComputeLaw(n_bootstrap=30).fit(sweep, rng=0)
    assert law.n_fit_[1] == pytest.approx(TRUE["beta"] / (TRUE["alpha"] + TRUE["beta"]), abs=0.03)
    exact = ChinchillaLaw(n_bootstrap=0).fit(sweep, rng=0).optimal([1e21])
    split = law.optimal([1e21])
    assert abs(np.log10(split.N[0] / exact.N[0])) < 0.1
    assert split.loss[0] == pytest.approx(exact.loss[0], rel=0.01)


def test_loglinear_recovers_a_line_and_its_interval_covers() -> None:
    rng = np.random.default_rng(5)
    C = np.logspace(17, 21, 200)
    loss = 20 * C**-0.06 * np.exp(rng.normal(0, 0.02, C.size))
    s = Sweep(N=np.sqrt(C / 120), D=np.sqrt(C * 20 / 6), C=C, loss=loss)
    law = LogLinearLaw().fit(s)
    assert law.params["slope_C"] == pytest.approx(-0.06, abs=0.005)
    fresh_c = np.logspace(17, 21, 500)
    fresh = 20 * fresh_c**-0.06 * np.exp(rng.normal(0, 0.02, fresh_c.size))
    lo, hi = law.predict(C=fresh_c).interval(0.9)
    assert 0.85 <= np.mean((fresh >= lo) & (fresh <= hi)) <= 0.95


def test_downstream_exp_link_is_recovered() -> None:
    rng = np.random.default_rng(6)
    L = np.linspace(2.6, 4.5, 30)
    err = 0.76 - np.exp(3.4 - 1.6 * L) + rng.normal(0, 0.003, L.size)
    s = Sweep(N=np.logspace(7, 9, 30), D=np.logspace(9, 11, 30), loss=L, extra={"err": err})
    law = DownstreamLaw(target="err", n_bootstrap=50).fit(s, rng=0)
    assert law.params["eps"] == pytest.approx(0.76, abs=0.02)
    assert law.params["gamma"] == pytest.approx(1.6, abs=0.2)
    truth = 0.76 - np.exp(3.4 - 1.6 * 2.4)
    assert law.predict(loss=2.4).point[0] == pytest.approx(truth, abs=0.01)


def test_downstream_band_is_wide_when_the_ability_has_not_emerged() -> None:
    # every fitted run sits at chance: the law must not draw a confident line below them
    rng = np.random.default_rng(8)
    L = np.linspace(3.5, 4.5, 20)
    flat = 0.75 + rng.normal(0, 0.01, L.size)
    s = Sweep(N=np.logspace(7, 9, 20), D=np.logspace(9, 11, 20), loss=L, extra={"err": flat})
    law = DownstreamLaw(target="err", link="sigmoid", n_bootstrap=100).fit(s, rng=0)
    inside = law.predict(loss=4.0)
    far = law.predict(loss=2.0)
    w_in = np.subtract(*inside.interval(0.9)[::-1])[0]
    w_far = np.subtract(*far.interval(0.9)[::-1])[0]
    assert w_far > 3 * w_in
    assert not law.emerged_
    assert far.inputs["extrapolation"][0] == pytest.approx(1.5)
    assert np.all((far.quantiles >= 0) & (far.quantiles <= 1))


@pytest.mark.parametrize("name", sorted(LAWS))
def test_every_law_is_deterministic_and_its_quantiles_are_monotone(name: str) -> None:
    sweep = draw(np.random.default_rng(9), 60, 0.02)
    kw = {} if name == "loglinear" else {"n_bootstrap": 20, "n_starts": 500}
    a = get_law(name, **kw).fit(sweep, rng=3).predict(N=[1e9, 1e10], D=[2e10, 2e11])
    b = get_law(name, **kw).fit(sweep, rng=3).predict(N=[1e9, 1e10], D=[2e10, 2e11])
    np.testing.assert_array_equal(a.quantiles, b.quantiles)
    assert np.all(np.diff(a.quantiles, axis=0) >= 0)
    assert a.quantiles.shape == (5, 2)
    assert a.to_dict()["law"] == name


# -------------------------------------------------------------------------------------------
# Bad input: clear errors, never a traceback from deep inside


def test_too_few_runs() -> None:
    s = Sweep(N=[1e7, 1e8, 1e9], D=[1e9, 1e10, 1e11], loss=[4.0, 3.0, 2.5])
    with pytest.raises(InvalidParameterError, match="at least 6 runs"):
        ChinchillaLaw().fit(s)
    with pytest.raises(InvalidParameterError, match="at least 4 runs"):
        LogLinearLaw(inputs=("N", "D")).fit(s)


def test_one_model_size_only() -> None:
    s = Sweep(N=[1e8] * 8, D=np.logspace(9, 11, 8), loss=np.linspace(3.5, 3.0, 8))
    with pytest.raises(InvalidParameterError, match=r"one N value only \(1e\+08\)"):
        ChinchillaLaw().fit(s)
    with pytest.raises(InvalidParameterError, match="2 or more values of N"):
        OvertrainingLaw().fit(s)


@pytest.mark.parametrize(
    ("col", "kw"),
    [
        ("N", {"N": [1e7, 0.0], "D": [1e9, 1e10], "loss": [3.0, 2.9]}),
        ("D", {"N": [1e7, 1e8], "D": [1e9, -5.0], "loss": [3.0, 2.9]}),
        ("loss", {"N": [1e7, 1e8], "D": [1e9, 1e10], "loss": [3.0, float("nan")]}),
    ],
)
def test_non_positive_or_non_finite_columns(col: str, kw: dict) -> None:
    with pytest.raises(InvalidParameterError, match=f"'{col}' column .* run 1") as exc:
        Sweep(**kw)
    if col == "loss":
        assert "--drop-diverged" in str(exc.value)


def test_predict_errors() -> None:
    sweep = draw(np.random.default_rng(10), 40, 0.02)
    law = ChinchillaLaw(n_bootstrap=5, n_starts=200)
    with pytest.raises(InvalidParameterError, match="not fitted"):
        law.predict(N=1e9, D=1e10)
    law.fit(sweep)
    with pytest.raises(InvalidParameterError, match="needs two of N, D, C, M"):
        law.predict(N=1e9)
    with pytest.raises(InvalidParameterError, match="takes N, D, C"):
        law.predict(N=1e9, tokens=1e10)
    with pytest.raises(InvalidParameterError, match="finite and > 0"):
        law.predict(N=-1.0, D=1e10)
    with pytest.raises(InvalidParameterError, match="'resample'"):
        ChinchillaLaw(resample="bogus")
    with pytest.raises(UnknownMethodError, match="chinchilla"):
        get_law("kaplan")


def test_public_surface_is_complete() -> None:
    # ruff (RUF022) keeps __all__ sorted, constants first
    import curvecast.scaling as sc

    assert len(set(sc.__all__)) == len(sc.__all__)
    assert all(hasattr(sc, n) for n in sc.__all__)
