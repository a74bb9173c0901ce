"""The selected trial's true score: how much of the winner's validation score is luck.

After a search picks the best of ``N`` trials on one validation set, the winner's validation
score is biased up: it is the maximum of ``N`` noisy numbers, and the noise that lifted it to
the top does not come back on new data. :func:`winner_estimate` estimates the winner's true
score with an interval, in one of two ways:

* **per-example results** (``per_example``: each trial's result on each validation example,
  e.g. 1.0 where it classified the example correctly): the bootstrap bias-corrected estimate of
  Tsamardinos, Greasidou and Borboudakis ("Bootstrapping the out-of-sample predictions for
  efficient and accurate cross-validation", Machine Learning 2018). Resample the examples; pick
  the best trial on the resample; score that pick on the examples the resample left out; the
  mean of those scores estimates the winner's true score and their percentiles give the
  interval. It needs no model of the noise and keeps the correlation between trials that share
  examples; it is slightly conservative (a pick made on a resample is a little worse).
* **per-trial scores only**: empirical Bayes, as Efron discusses for selection bias
  ("Tweedie's formula and selection bias", JASA 2011). Each validation score is the trial's
  true score plus noise of known size (``noise_sd``, or the binomial ``sqrt(p (1 - p) /
  n_examples)`` of an accuracy); the distribution of the true scores over trials is estimated
  from all the scores (a nonparametric maximum-likelihood prior on a grid, fitted by EM, so
  that diverged or poor trials far below the winner do not distort it), and the winner's true
  score is its posterior mean: its lead is shrunk by the share of the spread near the top that
  is noise. The posterior does not depend on which trial was selected, so selecting the
  maximum does not bias it (Dawid 1994). The estimate and interval average the posteriors under
  priors refitted to resampled trials (bagging), which smooths the spiky nonparametric prior.

Measured on simulations with known truth (``python -m curvecast.stats.calibration winner``:
100 trials of accuracy on 400 examples; skewed, normal, two-level and a quarter-diverged
population of true scores; 60 searches each): the naive winner score is 0.022 to 0.026 too
high; the empirical Bayes estimate is 0.004 to 0.007 too high, but its 95% interval is too
narrow and covers the truth only 62% to 80% of the time. A normal prior covered 88% to 92% on
the first three and missed the bias entirely with diverged trials, as on the real digits
search, so it was dropped. The bootstrap estimate (60 trials sharing 400 examples) is 0.003 to
0.01 too low, conservative, with 97% to 98% coverage: prefer it when per-example results are at
hand. ``tests/stats/test_selection.py`` checks the bias on the quarter-diverged case.

A :class:`SelectionBiasWarning` is issued when the estimated optimism of the winner is larger
than its lead over the runner-up: the ranking of the top trials is then mostly noise.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from curvecast.exceptions import parameter_error

__all__ = ["SelectionBiasWarning", "WinnerEstimate", "winner_estimate"]


class SelectionBiasWarning(UserWarning):
    """The winner's best-of-N optimism exceeds its lead over the runner-up."""


@dataclass(frozen=True)
class WinnerEstimate:
    """The selected trial's validation score, its corrected estimate, and the interval.

    Attributes:
        index: position of the selected trial in the scores given.
        naive: its validation score.
        estimate, low, high: the corrected estimate of its true score and the interval.
        optimism: how much the naive score overstates the estimate (positive = too good).
        runner_up_gap: the winner's lead over the second-best validation score.
        method: ``"bootstrap bias-corrected"`` or ``"empirical Bayes"``.
        warning: the text of the SelectionBiasWarning, or None.
    """

    index: int
    naive: float
    estimate: float
    low: float
    high: float
    optimism: float
    runner_up_gap: float
    method: str
    confidence: float
    warning: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def format(self, digits: int = 4) -> str:
        """``"naive 0.9712, corrected 0.9581 [0.9402, 0.9733] (empirical Bayes)"``."""
        return (
            f"naive {self.naive:.{digits}f}, corrected {self.estimate:.{digits}f} "
            f"[{self.low:.{digits}f}, {self.high:.{digits}f}] ({self.method})"
        )


def _bbc(
    per_example: NDArray[np.float64],
    rng: np.random.Generator,
    n_boot: int,
    confidence: float,
) -> tuple[float, float, float]:
    """Bootstrap bias-corrected estimate: the out-of-bag score of the in-bag winner."""
    n = per_example.shape[1]
    oob_scores = []
    step = max(1, 2_000_000 // max(n, 1))
    for lo in range(0, n_boot, step):
        b = min(step, n_boot - lo)
        idx = rng.integers(0, n, size=(b, n))
        counts = np.zeros((b, n))
        np.add.at(counts, (np.arange(b)[:, None], idx), 1.0)
        inbag = counts @ per_example.T / n  # (b, n_trials)
        pick = np.argmax(inbag, axis=1)
        oob = counts == 0
        keep = oob.sum(axis=1) > 0
        chosen = per_example[pick]  # (b, n)
        oob_scores.append((chosen * oob).sum(axis=1)[keep] / oob.sum(axis=1)[keep])
    scores = np.concatenate(oob_scores)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(scores, [alpha, 1 - alpha])
    return float(scores.mean()), float(low), float(high)


def _bagged_npmle(
    x: NDArray[np.float64],
    sd: NDArray[np.float64],
    which: int,
    confidence: float,
    rng: np.random.Generator,
    n_refit: int = 20,
    n_grid: int = 150,
    n_iter: int = 150,
) -> tuple[float, float, float]:
    """Posterior mean and interval of trial ``which``'s true score, averaged over nonparametric
    priors (a grid, fitted by EM) refitted to the trials resampled with replacement."""
    grid = np.linspace(float(np.min(x - 4 * sd)), float(np.max(x + 4 * sd)), n_grid)
    # resample the other trials and keep the selected one in every refit: a prior refitted
    # without it would have no mass near a winner that stands apart, and drag it to the others
    others = np.delete(np.arange(x.size), which)
    idx = np.concatenate(
        [others[rng.integers(0, others.size, size=(n_refit, others.size))],
         np.full((n_refit, 1), which)], axis=1,
    )  # fmt: skip
    idx[0] = np.arange(x.size)  # the first prior is fitted to the trials as they are
    xs, sds = x[idx], sd[idx]  # (R, N)
    like = np.exp(-0.5 * ((xs[..., None] - grid) / sds[..., None]) ** 2) / sds[..., None]
    g = np.full((n_refit, n_grid), 1.0 / n_grid)
    for _ in range(n_iter):
        post = like * g[:, None, :]
        post /= post.sum(axis=2, keepdims=True)
        g = post.mean(axis=1)
    logw = -0.5 * ((x[which] - grid) / sd[which]) ** 2 + np.log(np.maximum(g, 1e-300))
    lw = np.exp(logw - logw.max(axis=1, keepdims=True))  # (R, K)
    p = (lw / lw.sum(axis=1, keepdims=True)).mean(axis=0)
    cdf = np.cumsum(p)
    alpha = (1 - confidence) / 2
    return (
        float(np.sum(p * grid)),
        float(np.interp(alpha, cdf, grid)),
        float(np.interp(1 - alpha, cdf, grid)),
    )


def _real(v: object) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def _floats(value: object, name: str, owner: str) -> NDArray[np.float64]:
    """``value`` as a float array, or the house error naming ``name``."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise parameter_error(name, owner, "numbers (an array of floats)", value) from None


def winner_estimate(
    scores: ArrayLike | None = None,
    *,
    per_example: ArrayLike | None = None,
    n_examples: int | None = None,
    noise_sd: float | ArrayLike | None = None,
    direction: str = "maximize",
    selected: int | None = None,
    rng: np.random.Generator,
    n_boot: int = 2000,
    confidence: float = 0.95,
    warn: bool = True,
) -> WinnerEstimate:
    """Estimate the selected trial's true score, corrected for best-of-N selection.

    Args:
        scores: per-trial validation scores, shape ``(n_trials,)``; may be left out when
            ``per_example`` is given (its row means are the scores).
        per_example: per-trial, per-example results, shape ``(n_trials, n_examples)``, the score
            being their mean (e.g. 0/1 correctness for accuracy); enables the bootstrap
            bias-corrected estimate.
        n_examples: without ``per_example``: the validation set's size, for the binomial noise
            of an accuracy-like score in [0, 1].
        noise_sd: without ``per_example``: the standard deviation of each trial's validation
            noise, a number or shape ``(n_trials,)``; overrides ``n_examples``.
        direction: ``"maximize"`` or ``"minimize"``: which way the search selected.
        selected: the index of the selected trial (default: the best validation score).
        rng: the only source of randomness (the bootstrap).
        n_boot: bootstrap draws (per-example method).
        confidence: the interval's coverage.
        warn: issue a :class:`SelectionBiasWarning` when the optimism exceeds the lead over the
            runner-up (the result's ``warning`` is set either way).

    Returns:
        A :class:`WinnerEstimate` in the scores' units.

    Raises:
        InvalidParameterError: fewer than 2 trials, shapes that do not match, non-finite scores,
            or neither ``per_example`` nor a noise level (``n_examples`` or ``noise_sd``).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> truth = rng.uniform(0.85, 0.90, size=50)
        >>> val = rng.binomial(500, truth) / 500
        >>> est = winner_estimate(val, n_examples=500, rng=rng, warn=False)
        >>> est.naive > est.estimate
        True
    """
    owner = "winner_estimate"
    if direction not in ("maximize", "minimize"):
        raise parameter_error("direction", owner, "'maximize' or 'minimize'", direction)
    if not _real(confidence) or not 0 < confidence < 1:
        raise parameter_error("confidence", owner, "a float in (0, 1)", confidence)
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise parameter_error("n_boot", owner, "a positive int", n_boot)
    sign = 1.0 if direction == "maximize" else -1.0
    pe = None
    if per_example is not None:
        pe = _floats(per_example, "per_example", owner)
        if pe.ndim != 2 or pe.shape[0] < 2 or pe.shape[1] < 2:
            raise parameter_error(
                "per_example", owner, "shape (n_trials >= 2, n_examples >= 2)", pe.shape
            )
        if not np.all(np.isfinite(pe)):
            raise parameter_error("per_example", owner, "finite numbers", "NaN or inf values")
    if scores is None:
        if pe is None:
            raise parameter_error("scores", owner, "given (or per_example)", None)
        x = pe.mean(axis=1)
    else:
        x = _floats(scores, "scores", owner).reshape(-1)
        if pe is not None and x.shape[0] != pe.shape[0]:
            raise parameter_error(
                "scores", owner, f"one score per row of per_example ({pe.shape[0]})", x.shape
            )
    if x.size < 2:
        raise parameter_error("scores", owner, "the scores of at least 2 trials", x.tolist())
    if not np.all(np.isfinite(x)):
        raise parameter_error("scores", owner, "finite numbers", "NaN or inf values")
    good = sign * x
    order = np.argsort(-good, kind="stable")
    if selected is not None and (
        isinstance(selected, bool) or not isinstance(selected, int | np.integer)
    ):
        raise parameter_error("selected", owner, f"an index in [0, {x.size})", selected)
    which = int(order[0]) if selected is None else int(selected)
    if not 0 <= which < x.size:
        raise parameter_error("selected", owner, f"an index in [0, {x.size})", selected)
    others = np.delete(good, which)
    gap = float(good[which] - others.max())
    if pe is not None:
        if selected is not None and selected != int(order[0]):
            raise parameter_error(
                "selected", owner, "the best trial (the bootstrap re-selects the best)", selected
            )
        est, low, high = _bbc(sign * pe, rng, n_boot, confidence)
        method = "bootstrap bias-corrected"
    else:
        if noise_sd is not None:
            try:
                sd = np.broadcast_to(_floats(noise_sd, "noise_sd", owner), x.shape).copy()
            except ValueError:  # a shape that does not broadcast
                raise parameter_error(
                    "noise_sd", owner, f"a number or shape ({x.size},)", np.shape(noise_sd)
                ) from None
        elif n_examples is not None:
            if isinstance(n_examples, bool) or not isinstance(n_examples, int) or n_examples < 1:
                raise parameter_error("n_examples", owner, "a positive int", n_examples)
            if x.min() < 0 or x.max() > 1:
                raise parameter_error(
                    "n_examples", owner, "used with scores in [0, 1] only; give noise_sd", x.max()
                )
            p = np.clip(x, 0.5 / n_examples, 1 - 0.5 / n_examples)
            sd = np.sqrt(p * (1 - p) / n_examples)
        else:
            raise parameter_error(
                "noise_sd",
                owner,
                "given, or n_examples (the validation set's size) or per_example, since the "
                "winner's optimism depends on how noisy each score is",
                None,
            )
        if not np.all(np.isfinite(sd)) or sd.min() <= 0:
            raise parameter_error("noise_sd", owner, "positive numbers", noise_sd)
        est, low, high = _bagged_npmle(good, sd, which, confidence, rng)
        method = "empirical Bayes"
    naive = float(good[which])
    # selecting the best can only make it look better than it is: a "correction" above the
    # naive score (the bootstrap's Monte Carlo error, the prior grid's step) corrects nothing
    est = min(est, naive)
    optimism = naive - est
    message = None
    if optimism > gap:
        message = (
            f"the selected trial's validation score overstates its true score by about "
            f"{optimism:.3g} (best-of-{x.size} optimism), more than its lead of {gap:.3g} over "
            "the runner-up: the order of the top trials is mostly noise; compare them on fresh "
            "data (or more folds) before trusting it."
        )
        if warn:
            warnings.warn(message, SelectionBiasWarning, stacklevel=2)
    if sign < 0:
        est, low, high = -est, -high, -low
    return WinnerEstimate(
        which, float(x[which]), est, low, high, optimism, gap, method, confidence, message
    )
