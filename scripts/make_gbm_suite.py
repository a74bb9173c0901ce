"""Generate the held-out ``heldout-gbm`` suite: gradient boosting, validation loss every 10 rounds.

Every curve is one configuration of a gradient-boosted tree ensemble trained for a fixed number
of rounds on a dataset that ships with scikit-learn (no download), its validation loss recorded
every 10 rounds: log-loss for classification, mean squared error (l2, unscaled) for regression.
Learning rates span two decades, so fast learners overfit (the loss falls, then rises: U-shaped
curves) while slow ones still fall at the end. Tasks ("searches"), one per (learner, dataset):

* ``hgb-digits``, ``hgb-breast-cancer``, ``hgb-wine``: scikit-learn's
  ``HistGradientBoostingClassifier``, log-loss (digits: 10 classes, about 2.3 at the start);
* ``hgb-diabetes``: ``HistGradientBoostingRegressor`` on ``load_diabetes``, l2 of the raw target
  (about 6,000 at the start, 3,000 at best: a loss of a large scale);
* ``lgbm-digits``, ``lgbm-diabetes``: the same with LightGBM (when ``lightgbm`` is installed;
  without it these tasks are skipped, and the script says so).

Each dataset is split 70/30 once (``random_state=0``, stratified for classes). Configurations are
drawn with a fixed seed: learning rate 0.01 to 1 (log-uniform), 4 to 128 leaves (log), minimum
leaf size 2 to 60 (log), L2 penalty 1e-4 to 10 (log), feature fraction 0.5 to 1, rounds 100 to
200. Early stopping is off: the suite wants the whole curve, overfitting included.
scikit-learn's curves come from ``staged_predict_proba`` / ``staged_predict`` (one fit per run);
LightGBM's from ``record_evaluation``. Values are rounded to 6 significant digits.

This suite is **held out**: it is for judging curvecast, never for tuning it (docs/benchmarks.md).

Usage (about 2 minutes of CPU time on one core; the data ships with curvecast, so this
only reproduces it)::

    OMP_NUM_THREADS=1 nice python scripts/make_gbm_suite.py \
        --out src/curvecast/data/gbm_suite.json.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

SEED = 20261205
EVERY = 10
CONFIGS = 24
#: task -> (learner, dataset)
TASKS: dict[str, tuple[str, str]] = {
    "hgb-digits": ("hgb", "digits"),
    "hgb-breast-cancer": ("hgb", "breast_cancer"),
    "hgb-wine": ("hgb", "wine"),
    "hgb-diabetes": ("hgb", "diabetes"),
    "lgbm-digits": ("lgbm", "digits"),
    "lgbm-diabetes": ("lgbm", "diabetes"),
}
REGRESSION = frozenset({"diabetes"})


def _sig(v: float, digits: int = 6) -> float | None:
    """``v`` rounded to ``digits`` significant digits; None where it is not finite."""
    if not math.isfinite(v):
        return None
    return float(f"{v:.{digits}g}")


def _data(name: str) -> tuple[Any, Any, Any, Any]:
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    strat = None if name in REGRESSION else y
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.3, random_state=0, stratify=strat)
    return Xtr, Xva, ytr, yva


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(math.log(lo), math.log(hi))))


def draw(rng: np.random.Generator) -> dict[str, Any]:
    """One configuration (learner-neutral names; see the module docstring for the ranges)."""
    return {
        "learning_rate": _sig(_loguniform(rng, 0.01, 1.0), 4),
        "max_leaf_nodes": round(_loguniform(rng, 4, 128)),
        "min_samples_leaf": round(_loguniform(rng, 2, 60)),
        "l2_regularization": _sig(_loguniform(rng, 1e-4, 10.0), 4),
        "max_features": _sig(float(rng.uniform(0.5, 1.0)), 3),
        "rounds": int(rng.choice([100, 150, 200])),
    }


def _logloss(proba: Any, y: Any, classes: Any) -> float:
    p = np.clip(np.asarray(proba, dtype=np.float64), 1e-15, 1.0)
    idx = np.searchsorted(classes, y)
    return float(-np.mean(np.log(p[np.arange(len(y)), idx])))


def curve_hgb(data: tuple[Any, Any, Any, Any], hp: dict[str, Any], regression: bool,
              seed: int, every: int = EVERY) -> tuple[list[int], list[float]]:  # fmt: skip
    """Validation loss every ``every`` rounds of one scikit-learn HGB fit."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    Xtr, Xva, ytr, yva = data
    kw = dict(
        learning_rate=hp["learning_rate"], max_iter=hp["rounds"],
        max_leaf_nodes=hp["max_leaf_nodes"], min_samples_leaf=hp["min_samples_leaf"],
        l2_regularization=hp["l2_regularization"], max_features=hp["max_features"],
        early_stopping=False, random_state=seed,
    )  # fmt: skip
    xs: list[int] = []
    ys: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if regression:
            reg = HistGradientBoostingRegressor(**kw).fit(Xtr, ytr)
            for k, pred in enumerate(reg.staged_predict(Xva), start=1):
                if k % every == 0:
                    xs.append(k)
                    ys.append(float(np.mean((np.asarray(pred) - yva) ** 2)))
        else:
            clf = HistGradientBoostingClassifier(**kw).fit(Xtr, ytr)
            for k, proba in enumerate(clf.staged_predict_proba(Xva), start=1):
                if k % every == 0:
                    xs.append(k)
                    ys.append(_logloss(proba, yva, clf.classes_))
    return xs, ys


def curve_lgbm(data: tuple[Any, Any, Any, Any], hp: dict[str, Any], regression: bool,
               seed: int, every: int = EVERY) -> tuple[list[int], list[float]]:  # fmt: skip
    """Validation loss every ``every`` rounds of one LightGBM fit."""
    import lightgbm as lgb

    Xtr, Xva, ytr, yva = data
    n_classes = int(np.unique(ytr).size)
    params: dict[str, Any] = {
        "learning_rate": hp["learning_rate"], "num_leaves": hp["max_leaf_nodes"],
        "min_data_in_leaf": hp["min_samples_leaf"], "lambda_l2": hp["l2_regularization"],
        "feature_fraction": hp["max_features"], "feature_fraction_seed": seed, "seed": seed,
        "num_threads": 1, "deterministic": True, "force_row_wise": True, "verbosity": -1,
    }  # fmt: skip
    if regression:
        params.update(objective="regression", metric="l2")
    elif n_classes > 2:
        params.update(objective="multiclass", num_class=n_classes, metric="multi_logloss")
    else:
        params.update(objective="binary", metric="binary_logloss")
    train = lgb.Dataset(Xtr, ytr)
    valid = lgb.Dataset(Xva, yva, reference=train)
    record: dict[str, Any] = {}
    lgb.train(params, train, num_boost_round=hp["rounds"], valid_sets=[valid],
              valid_names=["valid"], callbacks=[lgb.record_evaluation(record)])  # fmt: skip
    values = next(iter(record["valid"].values()))
    xs = list(range(every, hp["rounds"] + 1, every))
    return xs, [float(values[k - 1]) for k in xs]


def _one(job: tuple[str, str, str, int, dict[str, Any], int]) -> dict[str, Any]:
    """One run, a JSON-ready dict (a top-level function, so that a pool can call it)."""
    task, learner, dataset, k, hp, every = job
    regression = dataset in REGRESSION
    run = curve_lgbm if learner == "lgbm" else curve_hgb
    xs, ys = run(_data(dataset), hp, regression, k, every)
    return {
        "task": task, "config": f"c{k:03d}", "x": xs, "y": [_sig(v) for v in ys], "seed": k,
        "loss": "l2" if regression else "log-loss",
        "hyperparameters": {"learner": learner, "dataset": dataset, **hp},
    }  # fmt: skip


def make_runs(configs: int, tasks: dict[str, tuple[str, str]] | None = None, *, every: int = EVERY,
              jobs: int = 1, log: Any = None) -> list[dict[str, Any]]:  # fmt: skip
    """The suite's runs: ``configs`` per task, as JSON-ready dicts (task, config, x, y, ...).

    Runs are independent (each is seeded), so ``jobs`` processes give the same runs as one.
    """
    tasks = TASKS if tasks is None else tasks
    try:
        import lightgbm  # noqa: F401

        have_lgbm = True
    except ImportError:
        have_lgbm = False
    todo = []
    for t, (task, (learner, dataset)) in enumerate(tasks.items()):
        if learner == "lgbm" and not have_lgbm:
            if log:
                log(f"{task}: skipped, lightgbm is not installed (pip install lightgbm)")
            continue
        rng = np.random.default_rng([SEED, t])
        todo.extend((task, learner, dataset, k, draw(rng), every) for k in range(configs))
    t0 = time.time()
    runs: list[dict[str, Any]] = []
    if jobs > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(jobs) as pool:
            for run in pool.imap(_one, todo):
                runs.append(run)
                _log(log, run, t0)
    else:
        for job in todo:
            runs.append(_one(job))
            _log(log, runs[-1], t0)
    return runs


def _log(log: Any, run: dict[str, Any], t0: float) -> None:
    if log:
        ys = [v for v in run["y"] if v is not None]
        lr = run["hyperparameters"]["learning_rate"]
        log(f"{time.time() - t0:7.1f}s {run['task']} {run['config']} lr={lr} "
            f"final={ys[-1] if ys else None} min={min(ys, default=None)}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, default=Path("src/curvecast/data/gbm_suite.json.gz"))
    ap.add_argument("--configs", type=int, default=CONFIGS, help="configurations per task")
    ap.add_argument("--jobs", type=int, default=1, help="processes (the runs are the same)")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import sklearn

    t0 = time.time()
    runs = make_runs(args.configs, jobs=args.jobs, log=lambda s: print(s, flush=True))
    versions = {"sklearn": sklearn.__version__, "numpy": np.__version__}
    try:
        import lightgbm

        versions["lightgbm"] = lightgbm.__version__
    except ImportError:
        pass
    doc = {
        "description": "curvecast 'heldout-gbm' suite (held out: never tune on it): validation "
        "log-loss or l2 every 10 rounds of gradient boosting on bundled scikit-learn datasets, "
        "random configurations (scripts/make_gbm_suite.py)",
        "seed": SEED,
        **versions,
        "python": platform.python_version(),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    with open(args.out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
        fh.write(payload)  # mtime=0: the same runs give the same bytes
    print(f"wrote {len(runs)} runs to {args.out} in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
