"""``curvecast compare --demo``: the winner's score on a real search, naive and corrected,
against a held-out test split.

The search is the one of ``curvecast demo``: scikit-learn's ``MLPClassifier`` on the bundled
digits (training images augmented with one-pixel shifts), tuned by Optuna's TPE over hidden
units, learning rate, L2 penalty and batch size, trained for the same number of epochs; here
without pruning, so that every trial has a final validation score. The digits are split into
training (45%), validation (30%) and test (25%) sets; the search sees only the validation
accuracy, and the test set is looked at once, for the selected trial.

A second search of the same size reports through a :class:`ReusableHoldout`: its objective
answers with the accuracy on one half of the validation set, checked against the other half.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from curvecast.exceptions import MissingDependencyError, install_hint, parameter_error
from curvecast.stats._holdout import ReusableHoldout
from curvecast.stats._selection import WinnerEstimate, winner_estimate

__all__ = ["SelectionDemo", "format_selection_demo", "run_selection_demo"]

TOLERANCE = 0.04


@dataclass
class SelectionDemo:
    """What :func:`run_selection_demo` measured."""

    trials: int
    seed: int
    sizes: dict[str, int]
    selected: int
    params: dict[str, Any]
    test: float  # the selected trial's test accuracy
    empirical_bayes: WinnerEstimate
    bootstrap: WinnerEstimate
    mean_test: float  # mean test accuracy over all trials
    holdout_answer: float  # the Thresholdout search's winner: its reported score
    holdout_test: float  # and its test accuracy
    holdout_naive: float  # that winner's accuracy on the whole validation set
    holdout_used: int  # how many answers consulted the holdout
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["empirical_bayes"] = self.empirical_bayes.to_dict()
        out["bootstrap"] = self.bootstrap.to_dict()
        return out


def _split(seed: int) -> dict[str, tuple[Any, Any]]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from curvecast.demo_search import _shifted

    X, y = load_digits(return_X_y=True)
    Xrest, Xte, yrest, yte = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
    Xtr, Xva, ytr, yva = train_test_split(
        Xrest, yrest, test_size=0.4, random_state=seed, stratify=yrest
    )
    Xtr, ytr = _shifted(Xtr, ytr)
    scaler = StandardScaler().fit(Xtr)
    return {
        "train": (scaler.transform(Xtr), ytr),
        "validation": (scaler.transform(Xva), yva),
        "test": (scaler.transform(Xte), yte),
    }


def _search(
    data: dict[str, tuple[Any, Any]], trials: int, seed: int, score: Any, show_progress: bool
) -> tuple[Any, dict[int, dict[str, Any]]]:
    """An Optuna search of the demo's MLP; ``score(trial, val_correct)`` is what it optimizes.
    Returns the study and, per trial number, its validation and test correctness."""
    import optuna
    from sklearn.exceptions import ConvergenceWarning

    from curvecast.demo_search import EPOCHS, _classifier

    (Xtr, ytr), (Xva, yva), (Xte, yte) = data["train"], data["validation"], data["test"]
    classes = np.unique(ytr)
    seen: dict[int, dict[str, Any]] = {}

    def objective(trial: optuna.Trial) -> float:
        clf = _classifier(trial, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for _ in range(EPOCHS):
                clf.partial_fit(Xtr, ytr, classes=classes)
        val = (clf.predict(Xva) == yva).astype(float)
        seen[trial.number] = {"val": val, "test": float(np.mean(clf.predict(Xte) == yte))}
        return float(score(trial, val))

    from threadpoolctl import threadpool_limits

    from curvecast.demo_search import _Progress

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    progress = _Progress(trials, sys.stderr) if show_progress else None
    # one BLAS thread: the same scores on every machine (a thread count changes the sums'
    # order, hence the trained nets), and no oversubscription on a shared machine
    with threadpool_limits(1):
        study.optimize(objective, n_trials=trials, callbacks=[progress] if progress else None)
    return study, seen


def run_selection_demo(*, trials: int = 40, seed: int = 0, progress: bool = False) -> SelectionDemo:
    """Run both searches and measure; see the module docstring. With ``progress``, a status
    line per finished trial goes to stderr.

    Raises:
        InvalidParameterError: ``trials`` < 3. MissingDependencyError: Optuna or scikit-learn
        is missing.
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 3:
        raise parameter_error("trials", "curvecast compare --demo", "an int >= 3", trials)
    try:
        import optuna  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            f"curvecast compare --demo needs {exc.name}: {install_hint('demo')}"
        ) from exc
    started = time.perf_counter()
    data = _split(seed)
    if progress:
        print(f"search 1 of 2: {trials} trials, scored on the validation set", file=sys.stderr)
    study, seen = _search(data, trials, seed, lambda trial, val: val.mean(), progress)
    numbers = sorted(seen)
    per_example = np.stack([seen[n]["val"] for n in numbers])
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the estimates carry the warning text themselves
        eb = winner_estimate(per_example.mean(axis=1), n_examples=per_example.shape[1], rng=rng)
        bbc = winner_estimate(per_example=per_example, rng=rng)
    best = numbers[eb.index]
    # the second search: answers from half the validation set, checked against the other half
    n_val = per_example.shape[1]
    half = np.random.default_rng(seed).permutation(n_val)
    free, held = half[: n_val // 2], half[n_val // 2 :]
    holdout = ReusableHoldout.for_tolerance(
        TOLERANCE, queries=trials, budget=trials, rng=np.random.default_rng(seed + 1)
    )
    if progress:
        print(f"search 2 of 2: {trials} trials, through the reusable holdout", file=sys.stderr)
    hstudy, hseen = _search(
        data,
        trials,
        seed,
        lambda trial, val: holdout.report(trial, val[free], val[held]),
        progress,
    )
    hbest = hstudy.best_trial.number
    return SelectionDemo(
        trials=trials,
        seed=seed,
        sizes={k: int(v[1].shape[0]) for k, v in data.items()},
        selected=best,
        params=study.trials[best].params,
        test=seen[best]["test"],
        empirical_bayes=eb,
        bootstrap=bbc,
        mean_test=float(np.mean([seen[n]["test"] for n in numbers])),
        holdout_answer=float(hstudy.best_value),
        holdout_test=hseen[hbest]["test"],
        holdout_naive=float(hseen[hbest]["val"].mean()),
        holdout_used=trials - holdout.budget_left,
        seconds=time.perf_counter() - started,
    )


def format_selection_demo(d: SelectionDemo) -> str:
    """The demo's figures as text."""
    eb, bbc = d.empirical_bayes, d.bootstrap
    s = d.sizes
    lines = [
        f"curvecast compare --demo: {d.trials} trials of the digits MLP search (TPE, seed "
        f"{d.seed}); {s['train']} training images (with shifts), {s['validation']} validation, "
        f"{s['test']} test; {d.seconds:.0f}s",
        f"  selected trial {d.selected}: {d.params}",
        f"  validation accuracy (naive)                       {eb.naive:.4f}",
        f"  corrected, empirical Bayes over the {d.trials} scores     "
        f"{eb.estimate:.4f} [{eb.low:.4f}, {eb.high:.4f}]",
        f"  corrected, bootstrap over {s['validation']} validation examples  "
        f"{bbc.estimate:.4f} [{bbc.low:.4f}, {bbc.high:.4f}]",
        f"  test accuracy of the selected trial               {d.test:.4f}",
        f"  naive error {eb.naive - d.test:+.4f}; empirical Bayes {eb.estimate - d.test:+.4f}; "
        f"bootstrap {bbc.estimate - d.test:+.4f} (estimate minus test)",
        f"  best-of-{d.trials} optimism {eb.optimism:.4f} against a lead of "
        f"{eb.runner_up_gap:.4f} over the runner-up",
    ]
    if eb.warning:
        lines.append(f"  warning: {eb.warning}")
    lines += [
        f"  reusable holdout (Thresholdout, tolerance {TOLERANCE}): a second search of "
        f"{d.trials} trials reported {d.holdout_answer:.4f} for its winner (whole validation "
        f"set {d.holdout_naive:.4f}); its test accuracy {d.holdout_test:.4f}; the holdout was "
        f"consulted {d.holdout_used} times",
    ]
    return "\n".join(lines)
