"""Generate the ``sklearn-mlp`` benchmark suite: full curves of searches a user runs for real.

Every curve is one configuration of a scikit-learn MLP trained epoch by epoch with
``partial_fit`` for 30 epochs on a dataset that ships with scikit-learn, its validation accuracy
recorded after every epoch: the search of ``scripts/user_search.py`` (and ``curvecast demo``),
run to the end for configurations drawn at random, so that ``curvecast bench prune`` can replay
searches no pruner was tuned on. Three tasks ("searches"), 120 configurations each:

* ``digits-adam``: ``MLPClassifier`` (Adam) on ``load_digits`` (1,257 train / 540 validation,
  standardised), one hidden layer of 8 to 256 units, learning rate 1e-5 to 0.3, L2 penalty 1e-6
  to 1, batch size 32 to 256 (the space of ``scripts/user_search.py``);
* ``digits-sgd``: the same with SGD, Nesterov momentum 0.9 and an inverse-scaling or constant
  learning rate from 1e-4 to 1 (slower, more varied curves);
* ``breast-cancer-adam``: the Adam space on ``load_breast_cancer`` (398 / 171, standardised);
  171 validation examples make the accuracy coarse (steps of 0.6%), as small real searches are.

Configurations are drawn with a fixed seed (log-uniform where the range spans decades), each
model's ``random_state`` is its index, and BLAS runs on one thread, so the curves are
reproducible for a given scikit-learn and NumPy.

Usage (about 3 minutes on one CPU core; the data ships with curvecast, so this only reproduces
it)::

    OPENBLAS_NUM_THREADS=1 nice python scripts/make_mlp_suite.py \
        --out src/curvecast/data/mlp_suite.json.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

SEED = 20261212
EPOCHS = 30
CONFIGS = 120
TASKS = ("digits-adam", "digits-sgd", "breast-cancer-adam")


def _data(name: str) -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    loader = load_breast_cancer if name.startswith("breast-cancer") else load_digits
    X, y = loader(return_X_y=True)
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xva), ytr, yva


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(math.log(lo), math.log(hi))))


def _draw(task: str, rng: np.random.Generator) -> dict[str, Any]:
    hp: dict[str, Any] = {
        "hidden_units": round(_loguniform(rng, 8, 256)),
        "alpha": _loguniform(rng, 1e-6, 1.0),
        "batch_size": int(rng.choice([32, 64, 128, 256])),
    }
    if task == "digits-sgd":
        hp["solver"] = "sgd"
        hp["learning_rate_init"] = _loguniform(rng, 1e-4, 1.0)
        hp["learning_rate"] = str(rng.choice(["constant", "invscaling"]))
    else:
        hp["solver"] = "adam"
        hp["learning_rate_init"] = _loguniform(rng, 1e-5, 0.3)
    return hp


def _curve(data: tuple[Any, Any, Any, Any], hp: dict[str, Any], seed: int) -> list[float | None]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    Xtr, Xva, ytr, yva = data
    extra = {"momentum": 0.9, "nesterovs_momentum": True} if hp["solver"] == "sgd" else {}
    clf = MLPClassifier(
        hidden_layer_sizes=(hp["hidden_units"],), alpha=hp["alpha"], batch_size=hp["batch_size"],
        solver=hp["solver"], learning_rate_init=hp["learning_rate_init"],
        learning_rate=hp.get("learning_rate", "constant"), random_state=seed, **extra,
    )  # fmt: skip
    classes = np.unique(ytr)
    out: list[float | None] = []
    for _ in range(EPOCHS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                warnings.simplefilter("ignore", RuntimeWarning)
                clf.partial_fit(Xtr, ytr, classes=classes)
            out.append(round(float(clf.score(Xva, yva)), 6))
        except ValueError:  # the weights blew up: the run diverged here (NaN in the suite)
            out.extend([None] * (EPOCHS - len(out)))
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, default=Path("src/curvecast/data/mlp_suite.json.gz"))
    ap.add_argument("--configs", type=int, default=CONFIGS, help="configurations per task")
    args = ap.parse_args()
    import sklearn

    t0 = time.time()
    runs: list[dict[str, Any]] = []
    for t, task in enumerate(TASKS):
        data = _data(task)
        rng = np.random.default_rng([SEED, t])
        for k in range(args.configs):
            hp = _draw(task, rng)
            y = _curve(data, hp, k)
            runs.append({
                "task": task, "config": f"c{k:03d}", "x": list(range(1, EPOCHS + 1)), "y": y,
                "seed": k, "hyperparameters": hp,
            })  # fmt: skip
        print(f"{task}: {args.configs} runs, {time.time() - t0:.0f}s", flush=True)
    doc = {
        "description": "curvecast 'sklearn-mlp' suite: validation accuracy per epoch of "
        "scikit-learn MLPs trained with partial_fit on bundled datasets, random configurations "
        "(scripts/make_mlp_suite.py)",
        "seed": SEED,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
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
