"""A user's own searches, run for real: every pruner on the same Optuna searches, measured.

Two searches a user would run on data that ships with scikit-learn (no network):

* ``digits``: ``MLPClassifier`` on ``load_digits`` (1,257 train / 540 validation images,
  standardised), one hidden layer; width, learning rate, L2 penalty and batch size drawn by TPE;
  trained epoch by epoch with ``partial_fit``, validation accuracy reported after every epoch
  (maximise).
* ``diabetes``: ``MLPRegressor`` on ``load_diabetes`` (309 train / 133 validation patients,
  features and target standardised), the same space; validation mean squared error of the
  standardised target reported after every epoch (minimise).

Each search runs ``--trials`` trials of ``--epochs`` epochs under Optuna's seeded TPE with every
pruner of ``--pruners``: none, ``MedianPruner()``, ``SuccessiveHalvingPruner()``,
``HyperbandPruner()`` and curvecast's ``ForecastPruner()``, all with their defaults (no
arguments), over the study seeds ``--seeds``. A model is deterministic per (parameters, seed):
its ``random_state`` is a hash of both, so a pruned trial can be continued offline to its last
epoch to get the truth. Per search it measures:

* the best value found, and the regret against the best true final among the configurations
  that search sampled (pruned ones continued offline), and whether that best one was pruned;
* epochs trained; wall time of training (``partial_fit`` + scoring), of ``trial.should_prune``
  (wrapped with ``perf_counter``) and of the whole ``study.optimize``; the pruner's time as a
  share of the training time and of the search time;
* for curvecast: the coverage of the pruned trials' true finals by the 90% interval recorded
  when they were stopped (:func:`curvecast.integrations.optuna.final_forecast`).

Usage (about 10 minutes on a loaded 2-core machine with the defaults)::

    nice python scripts/user_search.py --out user_search.json

It prints one table per search (median and [min, max] over the seeds) and writes every
per-seed figure, and every pruned trial's forecast and truth, to ``--out``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PRUNERS = ("none", "median", "halving", "hyperband", "curvecast", "curvecast-overhead")
SEARCHES = ("digits", "diabetes")
_OWNER = "scripts/user_search.py"


# ---------------------------------------------------------------------------------------------
# The searches


@dataclass(frozen=True)
class Search:
    """One user search: its data, its model and the metric it reports each epoch."""

    name: str
    direction: str  # "maximize" or "minimize"
    metric: str
    data: Callable[[], tuple[Any, Any, Any, Any]]
    model: Callable[[dict[str, Any], int], Any]
    score: Callable[[Any, Any, Any], float]
    fit_kwargs: Callable[[Any], dict[str, Any]]

    def worst(self) -> float:
        return -math.inf if self.direction == "maximize" else math.inf

    def better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "maximize" else a < b


def _suggest(trial: Any) -> dict[str, Any]:
    """The search space of both searches (the one ``curvecast demo`` uses)."""
    return {
        "hidden_units": trial.suggest_int("hidden_units", 8, 256, log=True),
        "learning_rate_init": trial.suggest_float("learning_rate_init", 1e-5, 0.3, log=True),
        "alpha": trial.suggest_float("alpha", 1e-6, 1.0, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128, 256]),
    }


def _digits_data() -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xva), ytr, yva


def _diabetes_data() -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_diabetes(return_X_y=True)
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.3, random_state=0)
    xs = StandardScaler().fit(Xtr)
    mu, sd = float(np.mean(ytr)), float(np.std(ytr))
    return xs.transform(Xtr), xs.transform(Xva), (ytr - mu) / sd, (yva - mu) / sd


def _mlp(kind: str) -> Callable[[dict[str, Any], int], Any]:
    def make(params: dict[str, Any], random_state: int) -> Any:
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        cls = MLPClassifier if kind == "classifier" else MLPRegressor
        return cls(
            hidden_layer_sizes=(int(params["hidden_units"]),),
            learning_rate_init=float(params["learning_rate_init"]),
            alpha=float(params["alpha"]),
            batch_size=int(params["batch_size"]),
            random_state=random_state,
        )

    return make


def _accuracy(model: Any, X: Any, y: Any) -> float:
    return float(model.score(X, y))


def _mse(model: Any, X: Any, y: Any) -> float:
    with np.errstate(all="ignore"):
        err = np.asarray(model.predict(X), dtype=float) - y
        return float(np.mean(err * err))


def get_search(name: str) -> Search:
    """The search called ``name`` (one of :data:`SEARCHES`)."""
    if name == "digits":
        return Search(
            "digits", "maximize", "validation accuracy", _digits_data, _mlp("classifier"),
            _accuracy, lambda y: {"classes": np.unique(y)},
        )  # fmt: skip
    if name == "diabetes":
        return Search(
            "diabetes", "minimize", "validation MSE (standardised target)", _diabetes_data,
            _mlp("regressor"), _mse, lambda y: {},
        )  # fmt: skip
    raise ValueError(f"{_OWNER}: unknown search {name!r}; choose from {', '.join(SEARCHES)}.")


def model_seed(params: dict[str, Any], seed: int) -> int:
    """The model's ``random_state``: a stable hash of (parameters, seed), so that a
    configuration trains the same way in the search and when continued offline."""
    text = json.dumps({"params": params, "seed": seed}, sort_keys=True)
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


class Trainer:
    """Trains one configuration epoch by epoch; counts its wall time."""

    def __init__(self, search: Search, data: tuple[Any, Any, Any, Any]) -> None:
        self.search, self.data = search, data
        self.seconds = 0.0

    def run(self, params: dict[str, Any], seed: int, epochs: int) -> Any:
        """Yield the metric after each of ``epochs`` epochs (NaN once training failed)."""
        from sklearn.exceptions import ConvergenceWarning

        Xtr, Xva, ytr, yva = self.data
        model = self.search.model(params, model_seed(params, seed))
        kwargs = self.search.fit_kwargs(ytr)
        failed = False
        for _ in range(epochs):
            t0 = time.perf_counter()
            value = math.nan
            if not failed:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        warnings.simplefilter("ignore", RuntimeWarning)
                        model.partial_fit(Xtr, ytr, **kwargs)
                    value = self.search.score(model, Xva, yva)
                except (ValueError, FloatingPointError):  # the weights blew up
                    failed = True
            self.seconds += time.perf_counter() - t0
            yield value

    def curve(self, params: dict[str, Any], seed: int, epochs: int) -> list[float]:
        return list(self.run(params, seed, epochs))


# ---------------------------------------------------------------------------------------------
# One search under one pruner


def make_pruner(name: str) -> Any:
    """The pruner called ``name``, built with no arguments (its defaults), or None."""
    import optuna

    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner()
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if name == "curvecast":
        from curvecast.integrations.optuna import ForecastPruner

        return ForecastPruner()
    if name == "curvecast-overhead":  # the one setting for millisecond epochs
        from curvecast.integrations.optuna import ForecastPruner

        return ForecastPruner(max_overhead=0.1)
    raise ValueError(f"{_OWNER}: unknown pruner {name!r}; choose from {', '.join(PRUNERS)}.")


def _key(params: dict[str, Any], seed: int) -> str:
    return json.dumps({"params": params, "seed": seed}, sort_keys=True)


def run_one(
    search: Search,
    trainer: Trainer,
    pruner: str,
    seed: int,
    trials: int,
    epochs: int,
    truths: dict[str, list[float]],
) -> dict[str, Any]:
    """Run the search with ``pruner`` and study seed ``seed``; measure it (see the module
    docstring). ``truths`` caches full curves by (parameters, seed) across runs."""
    import optuna

    from curvecast.integrations.optuna import final_forecast

    prune_seconds = 0.0
    prune_calls: list[float] = []
    failed = 0

    def objective(trial: optuna.Trial) -> float:
        nonlocal prune_seconds, failed
        params = _suggest(trial)
        value = math.nan
        for epoch, value in enumerate(trainer.run(params, seed, epochs), start=1):
            if not math.isfinite(value):  # the user's own guard: a diverged model stops here
                failed += 1
                raise optuna.TrialPruned()
            trial.report(value, epoch)
            t0 = time.perf_counter()
            stop = trial.should_prune()
            prune_calls.append(time.perf_counter() - t0)
            prune_seconds += prune_calls[-1]
            if stop:
                raise optuna.TrialPruned()
        return value

    study = optuna.create_study(
        # a fixed name: HyperbandPruner assigns brackets by a hash of it, so a random name
        # would make the search differ from run to run
        study_name=f"{search.name}-{pruner}-seed{seed}",
        direction=search.direction,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=make_pruner(pruner),
    )
    trainer.seconds = 0.0
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    search_seconds = time.perf_counter() - t0
    train_seconds = trainer.seconds

    done = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    rows: list[dict[str, Any]] = []
    for t in done:
        params = dict(t.params)
        key = _key(params, seed)
        seen = [t.intermediate_values[s] for s in sorted(t.intermediate_values)]
        if t.state == optuna.trial.TrialState.COMPLETE and len(seen) == epochs:
            truths.setdefault(key, seen)
        if key not in truths:
            truths[key] = trainer.curve(params, seed, epochs)  # continued offline
        truth = truths[key]
        if not np.allclose(truth[: len(seen)], seen, equal_nan=True):
            raise RuntimeError(
                f"{_OWNER}: trial {t.number} of the {search.name} search did not replay "
                "deterministically; the truth of pruned trials would be wrong."
            )
        final = truth[-1] if math.isfinite(truth[-1]) else search.worst()
        row: dict[str, Any] = {
            "number": t.number,
            "params": params,
            "state": t.state.name,
            "epochs": len(seen),
            "true_final": final,
        }
        if t.state == optuna.trial.TrialState.PRUNED and pruner.startswith("curvecast"):
            v = final_forecast(t)
            if v is not None:
                q = v.final_quantiles
                row["verdict"] = {
                    "reason": v.reason,
                    "step": len(seen),
                    "horizon": v.horizon,
                    "prob_better": v.prob_better,
                    "incumbent": v.incumbent,
                    "q05": q.get(0.05),
                    "q50": q.get(0.5),
                    "q95": q.get(0.95),
                }
        rows.append(row)

    finals = [r["true_final"] for r in rows]
    best_true = max(finals) if search.direction == "maximize" else min(finals)
    winners = [r for r in rows if r["true_final"] == best_true]
    completed = [r for r in rows if r["state"] == "COMPLETE"]
    best_found = float(study.best_value) if completed else search.worst()  # the value the user gets
    regret = abs(best_true - best_found) if math.isfinite(best_found) else math.inf
    intervals = [
        r["verdict"]
        for r in rows
        if "verdict" in r and r["verdict"]["q05"] is not None and r["verdict"]["q95"] is not None
    ]
    covered = [
        v["q05"] <= r["true_final"] <= v["q95"]
        for r in rows
        if "verdict" in r
        for v in [r["verdict"]]
        if v["q05"] is not None and v["q95"] is not None
    ]
    return {
        "search": search.name,
        "pruner": pruner,
        "seed": seed,
        "trials": len(rows),
        "pruned": sum(r["state"] == "PRUNED" for r in rows),
        "diverged": failed,
        "best_found": best_found,
        "best_true": best_true,
        "regret": regret,
        "best_pruned": all(r["state"] != "COMPLETE" for r in winners),
        "epochs_trained": sum(r["epochs"] for r in rows),
        "epochs_full": epochs * len(rows),
        "train_s": train_seconds,
        "should_prune_s": prune_seconds,
        "search_s": search_seconds,
        "prune_over_train": prune_seconds / train_seconds if train_seconds > 0 else math.nan,
        "prune_share": prune_seconds / search_seconds if search_seconds > 0 else math.nan,
        "should_prune_ms_p50": 1e3 * float(np.median(prune_calls)) if prune_calls else None,
        "should_prune_ms_p95": 1e3 * float(np.quantile(prune_calls, 0.95)) if prune_calls else None,
        "should_prune_ms_max": 1e3 * max(prune_calls) if prune_calls else None,
        "n_intervals": len(intervals),
        "coverage90": (sum(covered) / len(covered)) if covered else None,
        "rows": rows,
    }


# ---------------------------------------------------------------------------------------------
# Summary


def _med_range(values: Sequence[float], fmt: str) -> str:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return "-"
    return f"{format(statistics.median(vals), fmt)} [{format(min(vals), fmt)}, " + (
        f"{format(max(vals), fmt)}]"
    )


#: A pruned trial stopped after at most this many reports counts as an "early" decision.
EARLY = 3


def _side(row: dict[str, Any], search: str) -> int:
    """Where a pruned trial's true final fell against its 90% band: 0 inside, 1 better than the
    band (the forecast was too pessimistic), -1 worse."""
    v, t = row["verdict"], row["true_final"]
    if v["q05"] <= t <= v["q95"]:
        return 0
    above = t > v["q95"]
    return 1 if above == (get_search(search).direction == "maximize") else -1


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (search, pruner): medians and ranges over the seeds."""
    out = []
    for name in dict.fromkeys(r["search"] for r in runs):
        for pruner in dict.fromkeys(r["pruner"] for r in runs if r["search"] == name):
            rs = [r for r in runs if r["search"] == name and r["pruner"] == pruner]
            judged = [
                row
                for r in rs
                for row in r["rows"]
                if "verdict" in row and row["verdict"]["q05"] is not None
            ]
            pooled = [_side(row, name) == 0 for row in judged]
            early = [_side(row, name) == 0 for row in judged if row["verdict"]["step"] <= EARLY]
            late = [_side(row, name) == 0 for row in judged if row["verdict"]["step"] > EARLY]
            better = sum(_side(row, name) == 1 for row in judged)
            out.append(
                {
                    "search": name,
                    "pruner": pruner,
                    "seeds": [r["seed"] for r in rs],
                    "best_found": [r["best_found"] for r in rs],
                    "regret": [r["regret"] for r in rs],
                    "best_pruned": sum(r["best_pruned"] for r in rs),
                    "epochs_trained": [r["epochs_trained"] for r in rs],
                    "train_s": [r["train_s"] for r in rs],
                    "should_prune_s": [r["should_prune_s"] for r in rs],
                    "search_s": [r["search_s"] for r in rs],
                    "prune_over_train": [r["prune_over_train"] for r in rs],
                    "prune_share": [r["prune_share"] for r in rs],
                    "should_prune_ms_p95": [r["should_prune_ms_p95"] for r in rs],
                    "coverage90_pooled": (sum(pooled) / len(pooled)) if pooled else None,
                    "n_intervals": len(pooled),
                    "coverage90_early": (sum(early) / len(early)) if early else None,
                    "n_early": len(early),
                    "coverage90_late": (sum(late) / len(late)) if late else None,
                    "n_late": len(late),
                    "truth_better_than_band": (better / len(judged)) if judged else None,
                }
            )
    return out


def format_table(summary: list[dict[str, Any]], search: Search) -> str:
    """The table printed for one search (Markdown): median [min, max] over the seeds."""
    rows = [s for s in summary if s["search"] == search.name]
    head = [
        "pruner", "best found", "regret", "best pruned", "epochs", "train s", "should_prune s",
        "search s", "prune / train", "prune / search", "p95 call ms", "90% cover",
        f"cover <={EARLY} / >{EARLY} reports", "truth better than band",
    ]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in rows:
        cov = "-"
        if s["coverage90_pooled"] is not None:
            cov = f"{s['coverage90_pooled']:.0%} of {s['n_intervals']}"
        split, better = "-", "-"
        if s.get("coverage90_early") is not None or s.get("coverage90_late") is not None:
            split = " / ".join(
                "-" if s[f"coverage90_{k}"] is None else f"{s[f'coverage90_{k}']:.0%} of {s[n]}"
                for k, n in (("early", "n_early"), ("late", "n_late"))
            )
        if s.get("truth_better_than_band") is not None:
            better = f"{s['truth_better_than_band']:.0%}"
        cells = [
            s["pruner"],
            _med_range(s["best_found"], ".4f"),
            _med_range(s["regret"], ".4f"),
            f"{s['best_pruned']}/{len(s['seeds'])}",
            _med_range(s["epochs_trained"], ".0f"),
            _med_range(s["train_s"], ".1f"),
            _med_range(s["should_prune_s"], ".2f"),
            _med_range(s["search_s"], ".1f"),
            _med_range(s["prune_over_train"], ".0%"),
            _med_range(s["prune_share"], ".0%"),
            _med_range(s["should_prune_ms_p95"], ".1f"),
            cov,
            split,
            better,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _json_ready(obj: Any) -> Any:
    """``obj`` with every non-finite float as None (strict JSON has no NaN or Infinity)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, np.generic):
        return _json_ready(obj.item())
    return obj


def _git_head() -> str | None:
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
            cwd=Path(__file__).resolve().parent,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--searches", nargs="+", default=list(SEARCHES), choices=SEARCHES)
    p.add_argument("--pruners", nargs="+", default=list(PRUNERS), choices=PRUNERS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--out", type=Path, default=None, help="write every figure as JSON here")
    args = p.parse_args(argv)
    for name, value, low in (("--trials", args.trials, 2), ("--epochs", args.epochs, 2)):
        if value < low:
            p.error(f"{name} must be an int >= {low}; got {value}.")
    if any(s < 0 for s in args.seeds):
        p.error("--seeds must be ints >= 0.")
    try:
        import optuna
        import sklearn  # noqa: F401
    except ImportError as exc:
        print(f"{_OWNER} needs {exc.name}: pip install '.[demo]'", file=sys.stderr)
        return 2
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import curvecast

    runs: list[dict[str, Any]] = []
    started = time.perf_counter()
    for name in args.searches:
        search = get_search(name)
        trainer = Trainer(search, search.data())
        truths: dict[str, list[float]] = {}
        for seed in args.seeds:
            for pruner in args.pruners:
                r = run_one(search, trainer, pruner, seed, args.trials, args.epochs, truths)
                runs.append(r)
                cov = "" if r["coverage90"] is None else f", cover90 {r['coverage90']:.0%}"
                print(
                    f"  {name} seed {seed} {pruner:<9}: best {r['best_found']:.4f} "
                    f"(true best {r['best_true']:.4f}{', PRUNED' if r['best_pruned'] else ''}), "
                    f"{r['epochs_trained']} epochs, train {r['train_s']:.1f}s, "
                    f"should_prune {r['should_prune_s']:.2f}s, search {r['search_s']:.1f}s{cov}",
                    file=sys.stderr,
                    flush=True,
                )
    summary = summarise(runs)
    for name in args.searches:
        search = get_search(name)
        print(
            f"\n{name}: {search.metric} ({search.direction}), {args.trials} trials x "
            f"{args.epochs} epochs, TPE, seeds {args.seeds}; median [min, max] over seeds"
        )
        print(format_table(summary, search))
    print(f"\ntotal {time.perf_counter() - started:.0f}s")
    if args.out is not None:
        payload = {
            "command": " ".join(["python", "scripts/user_search.py", *(argv or sys.argv[1:])]),
            "curvecast": getattr(curvecast, "__version__", None),
            "git_head": _git_head(),
            "optuna": optuna.__version__,
            "sklearn": sys.modules["sklearn"].__version__,
            "python": platform.python_version(),
            "trials": args.trials,
            "epochs": args.epochs,
            "summary": summary,
            "runs": runs,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(_json_ready(payload), indent=1), encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
