"""IQM, the stratified bootstrap and the probability of improvement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from curvecast.bench.aggregate import (
    Interval,
    iqm,
    pairwise,
    pooled_iqm,
    pooled_mean,
    prob_improvement,
    stratified_bootstrap,
    summarise,
    task_mean_spearman,
)
from curvecast.exceptions import InvalidParameterError


def test_iqm_of_known_arrays() -> None:
    assert float(iqm([1, 2, 3, 4, 5, 6, 7, 100])) == pytest.approx(4.5)
    assert float(iqm(np.arange(1, 9))) == pytest.approx(4.5)
    assert float(iqm([3.0, 3.0, 3.0, 3.0])) == 3.0
    assert iqm(np.array([[1, 2, 3, 4], [10, 20, 30, 40]]), axis=1) == pytest.approx([2.5, 25])


def test_bootstrap_is_deterministic_for_a_seed_and_contains_the_estimate() -> None:
    rng = np.random.default_rng(0)
    groups = [rng.normal(size=n) + k for k, n in enumerate((5, 8, 12))]
    a = stratified_bootstrap(groups, pooled_mean, rng=np.random.default_rng(7), n_boot=500)
    b = stratified_bootstrap(groups, pooled_mean, rng=np.random.default_rng(7), n_boot=500)
    assert a == b
    assert a.low <= a.estimate <= a.high
    assert a.n == 25
    assert a.estimate == pytest.approx(np.concatenate(groups).mean())
    c = stratified_bootstrap(groups, pooled_iqm, rng=np.random.default_rng(8), n_boot=500)
    assert c.low <= c.estimate <= c.high


def test_bootstrap_resamples_within_tasks_only() -> None:
    # each task is constant, so a within-task resample cannot change the pooled mean
    groups = [np.full(3, 1.0), np.full(7, 5.0)]
    iv = stratified_bootstrap(groups, pooled_mean, rng=np.random.default_rng(0), n_boot=200)
    assert iv.low == iv.high == iv.estimate == pytest.approx((3 + 35) / 10)


def test_bootstrap_without_data_is_nan_and_validates_its_parameters() -> None:
    iv = stratified_bootstrap([np.array([])], pooled_mean, rng=np.random.default_rng(0))
    assert math.isnan(iv.estimate) and iv.n == 0
    assert iv.format() == "–"
    with pytest.raises(InvalidParameterError, match="n_boot"):
        stratified_bootstrap([[1.0]], pooled_mean, rng=np.random.default_rng(0), n_boot=0)
    with pytest.raises(InvalidParameterError, match="confidence"):
        stratified_bootstrap([[1.0]], pooled_mean, rng=np.random.default_rng(0), confidence=1.5)


def test_probability_of_improvement_is_one_when_a_dominates() -> None:
    rng = np.random.default_rng(3)
    b = [rng.uniform(1, 2, size=6), rng.uniform(1, 2, size=4)]
    a = [g - 0.5 for g in b]  # lower is better: A always wins
    iv = prob_improvement(a, b, rng=np.random.default_rng(0), n_boot=300)
    assert iv.estimate == iv.low == iv.high == 1.0
    rev = prob_improvement(b, a, rng=np.random.default_rng(0), n_boot=300)
    assert rev.estimate == 0.0
    tie = prob_improvement(a, a, rng=np.random.default_rng(0), n_boot=300)
    assert tie.estimate == 0.5


def test_probability_of_improvement_averages_over_tasks() -> None:
    # task 1: A wins 1 of 2; task 2: A wins 4 of 4 -> (0.5 + 1) / 2, not 5 / 6
    a = [np.array([1.0, 3.0]), np.zeros(4)]
    b = [np.array([2.0, 2.0]), np.ones(4)]
    iv = prob_improvement(a, b, rng=np.random.default_rng(0), n_boot=300)
    assert iv.estimate == pytest.approx(0.75)
    assert iv.low <= 0.75 <= iv.high


def test_task_mean_spearman_skips_small_tasks() -> None:
    perfect = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    reversed_ = np.array([[1.0, 30.0], [2.0, 20.0], [3.0, 10.0], [4.0, 0.0]])
    small = np.array([[1.0, 1.0], [2.0, 2.0]])
    out = task_mean_spearman([perfect[None], reversed_[None], small[None]])
    assert out == pytest.approx([0.0])


def _row(task: str, curve: int, method: str, crps: float, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "suite": "s",
        "task": task,
        "curve": curve,
        "cutoff": 0.5,
        "method": method,
        "crps": crps,
        "abs_error": crps,
        "loglik": -crps,
        "cover50": 1.0,
        "cover90": 1.0,
        "median": float(curve),
        "y_final": float(curve),
        "seconds": 0.01,
        "error": None,
        "truth_diverged": False,
        "forecast_diverged": False,
    }
    row.update(kw)
    return row


def test_summarise_counts_diverged_and_failed_and_compares_with_the_baseline() -> None:
    rows = []
    for c in range(6):
        task = "t0" if c < 3 else "t1"
        rows.append(_row(task, c, "last_value", 1.0))
        rows.append(_row(task, c, "better", 0.5))
    rows.append(_row("t1", 6, "last_value", math.nan, truth_diverged=True, y_final=math.nan))
    rows.append(_row("t1", 6, "better", math.nan, truth_diverged=True, y_final=math.nan))
    rows.append(_row("t1", 7, "better", math.nan, error="RuntimeError: boom"))
    out = {s["method"]: s for s in summarise(rows, rng=np.random.default_rng(0), n_boot=100)}
    best = out["better"]
    assert (best["n"], best["scored"], best["diverged"], best["failed"]) == (8, 6, 1, 1)
    assert best["crps_iqm"].estimate == pytest.approx(0.5)
    assert best["p_beats_baseline"].estimate == 1.0
    assert best["spearman"].estimate == pytest.approx(1.0)
    assert best["spearman_tasks"] == 2
    assert math.isnan(out["last_value"]["p_beats_baseline"].estimate)
    matrix = pairwise(rows, ["last_value", "better"], rng=np.random.default_rng(0), n_boot=100)
    assert matrix["s"]["better"]["last_value"].estimate == 1.0
    assert matrix["s"]["last_value"]["better"].estimate == 0.0


def test_interval_formats_and_serialises() -> None:
    iv = Interval(0.12345, 0.1, 0.15, 4)
    assert iv.format() == "0.123 [0.1, 0.15]"
    assert Interval(math.nan, math.nan, math.nan).to_dict()["estimate"] is None


def test_single_run_tasks_are_resampled_among_themselves() -> None:
    groups = [np.array([float(v)]) for v in range(10)]  # ten tasks, one curve each
    iv = stratified_bootstrap(groups, pooled_mean, rng=np.random.default_rng(0), n_boot=500)
    assert iv.estimate == pytest.approx(4.5)
    assert iv.low < 4.5 < iv.high  # not a point: the tasks themselves are resampled
    same = stratified_bootstrap(groups, pooled_mean, rng=np.random.default_rng(0), n_boot=500)
    assert same == iv
