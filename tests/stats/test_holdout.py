"""Thresholdout: Dwork et al.'s adaptive attack overfits a plainly reused holdout, and the
reusable holdout's answers stay within its stated tolerance while its budget lasts."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from curvecast.exceptions import InvalidParameterError
from curvecast.stats import HoldoutExhaustedError, ReusableHoldout, thresholdout_settings

Answer = Callable[[np.ndarray, np.ndarray], float]


def _attack(answer: Answer, *, n: int = 2000, d: int = 2000, seed: int = 0) -> tuple[list, dict]:
    """The experiment of "The reusable holdout" (Science 2015), scaled down: labels are coin
    flips, so every feature's true correlation is 0 and every classifier's true accuracy 0.5.
    The analyst asks each feature's correlation with the label (as a query in [0, 1] whose true
    mean is 0.5), keeps the features whose training and answered correlations agree in sign,
    builds a vote of the strongest k and asks its accuracy."""
    rng = np.random.default_rng(seed)
    xt, xh = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    yt, yh = rng.choice([-1.0, 1.0], n), rng.choice([-1.0, 1.0], n)
    vt = (1 + np.clip(xt * yt[:, None], -1, 1)) / 2
    vh = (1 + np.clip(xh * yh[:, None], -1, 1)) / 2
    answers = [answer(vt[:, j], vh[:, j]) for j in range(d)]
    corr_t = vt.mean(axis=0) - 0.5
    agree = np.sign(corr_t) == np.sign(np.asarray(answers) - 0.5)
    order = np.argsort(-np.where(agree, np.abs(corr_t), -1.0))
    accuracy = {}
    for k in (10, 30, 100, 300):
        w = np.sign(corr_t[order[:k]])
        ct = (np.sign(xt[:, order[:k]] @ w) == yt).astype(float)
        ch = (np.sign(xh[:, order[:k]] @ w) == yh).astype(float)
        accuracy[k] = answer(ct, ch)
        answers.append(accuracy[k])
    return answers, accuracy


TOLERANCE = 0.1  # tau; the theorem's threshold is 3 tau / 4


def test_plain_reuse_of_the_holdout_overfits() -> None:
    _, accuracy = _attack(lambda t, h: float(h.mean()))
    assert accuracy[300] > 0.5 + TOLERANCE  # reported far above the true 0.5


def test_thresholdout_answers_stay_within_tolerance_at_its_budget() -> None:
    holdout = ReusableHoldout.for_tolerance(
        TOLERANCE, queries=2004, budget=20, rng=np.random.default_rng(1)
    )
    answers, accuracy = _attack(lambda t, h: holdout.query(t, h).value)
    assert max(abs(a - 0.5) for a in answers) <= TOLERANCE
    assert abs(accuracy[300] - 0.5) <= TOLERANCE
    assert holdout.queries == 2004 and 0 < holdout.budget_left < 20  # it had to check


def test_budget_runs_out_with_a_clear_error() -> None:
    holdout = ReusableHoldout(threshold=0.05, noise=0.0, budget=2, rng=np.random.default_rng(0))
    for _ in range(2):
        assert holdout.query(np.ones(50), np.zeros(50)).used_holdout
    with pytest.raises(HoldoutExhaustedError, match="fresh holdout"):
        holdout.query(np.ones(50), np.zeros(50))


def test_answers_follow_the_algorithm() -> None:
    holdout = ReusableHoldout(threshold=0.05, noise=0.0, budget=5, rng=np.random.default_rng(0))
    a = holdout.query(np.full(10, 0.7), np.full(20, 0.72))
    assert (a.value, a.used_holdout, a.budget_left) == (0.7, False, 5)
    a = holdout.query(np.full(10, 0.9), np.full(20, 0.6))
    assert a.value == pytest.approx(0.6) and a.used_holdout and a.budget_left == 4


def test_bad_queries_and_settings() -> None:
    holdout = ReusableHoldout(threshold=0.05, noise=0.01, budget=5, rng=np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match=r"in \[0, 1\]"):
        holdout.query([0.5, 2.0], [0.5, 0.5])
    holdout.query([0.5], [0.5, 0.5])
    with pytest.raises(InvalidParameterError, match="same 2 holdout examples"):
        holdout.query([0.5], [0.5, 0.5, 0.5])
    with pytest.raises(InvalidParameterError, match="'budget'"):
        ReusableHoldout(threshold=0.05, noise=0.01, budget=0, rng=np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match="'rng'"):
        ReusableHoldout(threshold=0.05, noise=0.01, budget=1, rng=0)  # type: ignore[arg-type]
    s = thresholdout_settings(0.08, 1000, 0.05)
    assert s["threshold"] == pytest.approx(0.06)
    assert s["noise"] == pytest.approx(0.08 / (96 * np.log(4 * 1000 / 0.05)))


def test_an_optuna_objective_reports_through_it() -> None:
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = np.random.default_rng(0)
    holdout = ReusableHoldout(threshold=0.05, noise=0.0, budget=25, rng=np.random.default_rng(1))

    def objective(trial: optuna.Trial) -> float:
        p = trial.suggest_float("p", 0.0, 1.0)
        free = (rng.random(200) < p).astype(float)
        held = (rng.random(200) < 0.5).astype(float)  # the truth does not depend on p
        return holdout.report(trial, free, held)

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(objective, n_trials=20)
    used = [t.user_attrs["holdout_used"] for t in study.trials]
    assert any(used) and not all(used)
    assert abs(study.best_value - 0.5) < 0.2  # the free set's optimism was checked
