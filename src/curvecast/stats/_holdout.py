"""A validation set that survives a whole adaptive search: Thresholdout (Dwork et al. 2015).

Every time a search looks at a validation score and picks what to try next, the validation set
leaks into the choice; after hundreds of trials the best validation score is biased up, and a
model can fit the validation set's noise. Thresholdout answers each query with the score on a
*training-side* set (data the analyst may use freely), and consults the holdout only to check it:
when the two disagree by more than a noisy threshold, the answer is the holdout score plus
Laplace noise, and one unit of the budget is spent. Queries that do not overfit cost nothing, so
the holdout can answer far more queries than its budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from curvecast.exceptions import CurvecastError, parameter_error

__all__ = ["HoldoutAnswer", "HoldoutExhaustedError", "ReusableHoldout", "thresholdout_settings"]


class HoldoutExhaustedError(CurvecastError):
    """The reusable holdout has spent its budget: its answers are no longer guaranteed."""


@dataclass(frozen=True)
class HoldoutAnswer:
    """One answer: the value to use, whether the holdout was consulted, the budget left."""

    value: float
    used_holdout: bool
    budget_left: int


def thresholdout_settings(tolerance: float, queries: int, beta: float = 0.05) -> dict[str, float]:
    """The threshold and noise of Dwork et al.'s theorem for a target ``tolerance`` (tau):
    ``T = 3 tau / 4`` and ``sigma = tau / (96 ln(4 m / beta))`` for ``m`` queries.

    Example:
        >>> s = thresholdout_settings(0.08, 1000)
        >>> s["threshold"], round(s["noise"], 6)
        (0.06, 0.000102)
    """
    if not _real(tolerance) or not 0 < tolerance < 1:
        raise parameter_error("tolerance", "thresholdout_settings", "a float in (0, 1)", tolerance)
    if isinstance(queries, bool) or not isinstance(queries, int) or queries < 1:
        raise parameter_error("queries", "thresholdout_settings", "a positive int", queries)
    if not _real(beta) or not 0 < beta < 1:
        raise parameter_error("beta", "thresholdout_settings", "a float in (0, 1)", beta)
    return {
        "threshold": 0.75 * tolerance,
        "noise": tolerance / (96 * math.log(4 * queries / beta)),
    }


def _real(v: object) -> bool:
    """A real number (not a bool, a string or None)."""
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def _values(x: ArrayLike, name: str) -> NDArray[np.float64]:
    try:
        v = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise parameter_error(name, "ReusableHoldout.query", "numbers in [0, 1]", x) from None
    if v.ndim != 1 or v.size == 0:
        raise parameter_error(
            name, "ReusableHoldout.query", "a 1-D array of per-example values", v.shape
        )
    if not np.all(np.isfinite(v)) or v.min() < 0 or v.max() > 1:
        raise parameter_error(
            name,
            "ReusableHoldout.query",
            "per-example values in [0, 1] (e.g. 1.0 for a correct prediction)",
            f"values from {np.nanmin(v)} to {np.nanmax(v)}",
        )
    return v


class ReusableHoldout:
    """Thresholdout: answer many adaptive queries about a holdout set without overfitting it.

    A query is one function of an example with values in [0, 1] (say, "the trial's model
    classifies this example correctly"), given as its values on the training-side examples and
    on the holdout examples. The answer is the training-side mean, unless it differs from the
    holdout mean by more than ``threshold`` plus ``Lap(4 noise)``; then the answer is the holdout
    mean plus ``Lap(noise)``, one unit of ``budget`` is spent, and the threshold is redrawn
    (``threshold + Lap(2 noise)``).

    Guarantee (Dwork, Feldman, Hardt, Pitassi, Reingold and Roth, "The reusable holdout",
    Science 2015, and "Generalization in adaptive data analysis and holdout reuse", NeurIPS
    2015): for a tolerance ``tau`` and failure probability ``beta``, set ``threshold = 3 tau / 4``
    and ``noise = tau / (96 ln(4 m / beta))`` (:func:`thresholdout_settings`). If the holdout
    holds ``n`` examples drawn i.i.d. and ``n`` is of order ``sqrt(budget) * ln(m / beta) /
    tau**2``, then with probability at least ``1 - beta`` every one of ``m`` adaptively chosen
    queries answered before the budget runs out is within ``tau`` of the query's true mean on the
    population, whatever the analyst does with the answers. The budget counts only overfitting
    queries (answers from the holdout), so ``m`` can be exponentially larger than ``budget``.
    The theorem's constants are conservative, and its noise is tiny: :meth:`for_tolerance` sets
    them. The paper's own experiment used ``threshold = 0.04`` and ``noise = 0.01`` on 10,000
    holdout examples (about ``4 / sqrt(n)`` and ``1 / sqrt(n)``); with noise that large the
    threshold's own noise makes about a quarter of ordinary queries consult the holdout, so give
    such a setting a budget of about half the queries. ``tests/stats/test_holdout.py`` runs the
    paper's adaptive attack (feature selection on data without signal) and checks every answer
    against the truth at the theorem's settings.

    The guarantee is per answer, not for the best answer: an answer may sit up to the
    threshold above the truth, and a search keeps the trial whose answer sits highest, so the
    winner's answer carries best-of-N optimism within the tolerance (the demo's winner answered
    0.9814 for a test accuracy of 0.9511). The holdout's own mean for the winner is optimistic
    too, once the holdout has been consulted in the search. To report the winner's score, score
    it once on examples that neither side of any query saw (``tests/stats/
    test_holdout_winner.py`` measures all three).

    Args:
        threshold: ``T``, in (0, 1).
        noise: ``sigma``, the Laplace scale, >= 0.
        budget: ``B``, how many holdout answers may be given (>= 1).
        rng: the only source of the Laplace noise.

    Raises:
        InvalidParameterError: an argument out of range.

    Example:
        >>> h = ReusableHoldout(threshold=0.04, noise=0.01, budget=10, rng=np.random.default_rng(0))
        >>> a = h.query(np.ones(100), np.r_[np.ones(95), np.zeros(5)])
        >>> a.used_holdout, a.value
        (False, 1.0)
        >>> a = h.query(np.ones(100), np.zeros(100))  # the training side overfits: checked
        >>> a.used_holdout, a.budget_left
        (True, 9)
    """

    def __init__(
        self,
        *,
        threshold: float,
        noise: float,
        budget: int,
        rng: np.random.Generator,
    ) -> None:
        if not _real(threshold) or not 0 < threshold < 1:
            raise parameter_error("threshold", "ReusableHoldout", "a float in (0, 1)", threshold)
        if not _real(noise) or not (math.isfinite(noise) and noise >= 0):
            raise parameter_error("noise", "ReusableHoldout", "a float >= 0", noise)
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise parameter_error("budget", "ReusableHoldout", "a positive int", budget)
        if not isinstance(rng, np.random.Generator):
            raise parameter_error("rng", "ReusableHoldout", "a numpy.random.Generator", rng)
        self.threshold, self.noise, self.budget, self._rng = threshold, noise, budget, rng
        self.budget_left = budget
        self.queries = 0
        self._n_holdout: int | None = None
        self._hat = threshold + self._laplace(2 * noise)

    @classmethod
    def for_tolerance(
        cls,
        tolerance: float,
        *,
        queries: int,
        budget: int,
        rng: np.random.Generator,
        beta: float = 0.05,
    ) -> ReusableHoldout:
        """A holdout with the theorem's threshold and noise for ``tolerance`` over ``queries``
        queries (:func:`thresholdout_settings`).

        Example:
            >>> h = ReusableHoldout.for_tolerance(0.08, queries=500, budget=20,
            ...                                   rng=np.random.default_rng(0))
            >>> h.threshold
            0.06
        """
        s = thresholdout_settings(tolerance, queries, beta)
        return cls(threshold=s["threshold"], noise=s["noise"], budget=budget, rng=rng)

    def _laplace(self, scale: float) -> float:
        return float(self._rng.laplace(0.0, scale)) if scale > 0 else 0.0

    def query(self, train_values: ArrayLike, holdout_values: ArrayLike) -> HoldoutAnswer:
        """Answer one query.

        Args:
            train_values: the query's values on the training-side examples, shape ``(n_t,)``,
                in [0, 1].
            holdout_values: its values on the holdout examples, shape ``(n,)``, in [0, 1]; the
                same examples, in the same order, for every query.

        Returns:
            A :class:`HoldoutAnswer`.

        Raises:
            HoldoutExhaustedError: the budget is spent (collect a fresh holdout).
            InvalidParameterError: values outside [0, 1], or a holdout of another size.
        """
        self._check_budget()
        t = _values(train_values, "train_values")
        h = self._check_holdout(holdout_values)
        self.queries += 1
        mt, mh = float(t.mean()), float(h.mean())
        if abs(mh - mt) > self._hat + self._laplace(4 * self.noise):
            self.budget_left -= 1
            self._hat = self.threshold + self._laplace(2 * self.noise)
            return HoldoutAnswer(mh + self._laplace(self.noise), True, self.budget_left)
        return HoldoutAnswer(mt, False, self.budget_left)

    def _check_budget(self) -> None:
        if self.budget_left < 1:
            raise HoldoutExhaustedError(
                f"the reusable holdout has answered {self.budget} overfitting queries, its "
                "whole budget; further answers would not be guaranteed. Collect a fresh holdout "
                "(or stop the search and report the last answers)."
            )

    def _check_holdout(self, holdout_values: ArrayLike) -> NDArray[np.float64]:
        h = _values(holdout_values, "holdout_values")
        if self._n_holdout is None:
            self._n_holdout = h.size
        elif h.size != self._n_holdout:
            raise parameter_error(
                "holdout_values",
                "ReusableHoldout.query",
                f"the values of the same {self._n_holdout} holdout examples as before",
                f"{h.size} values",
            )
        return h

    def report(self, trial: Any, train_values: ArrayLike, holdout_values: ArrayLike) -> float:
        """Answer a query for an Optuna trial and record it on the trial; return the value for
        the objective to return.

        The trial's user attributes get ``holdout_used`` (whether the holdout was consulted) and
        ``holdout_budget_left``.

        Example (inside an objective)::

            holdout = ReusableHoldout.for_tolerance(0.05, queries=200, budget=50,
                                                    rng=np.random.default_rng(0))

            def objective(trial):
                model = fit(trial)
                return holdout.report(trial, model.correct(X_free, y_free),
                                      model.correct(X_holdout, y_holdout))
        """
        answer = self.query(train_values, holdout_values)
        trial.set_user_attr("holdout_used", answer.used_holdout)
        trial.set_user_attr("holdout_budget_left", answer.budget_left)
        return answer.value
