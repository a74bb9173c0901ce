"""The figures quoted in docs/compare.md, from simulations where the truth is known.

- ``python -m curvecast.stats.calibration verdict``: how often ``compare`` separates two methods
  that are the same (nominal 5%), with and without the small-sample widening.
- ``python -m curvecast.stats.calibration winner``: the bias and interval coverage of the naive
  and corrected estimates of a search winner's true score.

Each takes a few minutes on two cores.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from curvecast.stats._compare import compare
from curvecast.stats._results import results_from_rows
from curvecast.stats._selection import winner_estimate

__all__ = ["false_separation_rate", "main", "winner_table"]


def false_separation_rate(
    seeds: int, tasks: int, *, rng: np.random.Generator, sims: int = 200, small_sample: bool = True
) -> float:
    """The fraction of ``sims`` experiments (two methods, identical normal seed noise, ``tasks``
    tasks of different levels, ``seeds`` seeds each) whose IQM verdict separates them."""
    hits = 0
    for _ in range(sims):
        rows = [
            {"method": m, "task": t, "seed": s, "score": 0.05 * t + rng.normal(0.0, 0.02)}
            for m in ("a", "b")
            for t in range(tasks)
            for s in range(seeds)
        ]
        c = compare(results_from_rows(rows), rng=rng, n_boot=500, small_sample=small_sample)
        hits += c.verdicts[0].separated
    return hits / sims


def _population(kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "skewed":
        return 0.80 + 0.1 * rng.beta(2, 5, size=100)
    if kind == "normal":
        return np.clip(rng.normal(0.85, 0.02, size=100), 0, 1)
    if kind == "two-level":
        return np.where(rng.random(100) < 0.1, 0.9, 0.85)
    good = 0.85 + 0.1 * rng.beta(2, 5, size=100)  # a quarter of the trials diverged
    return np.where(rng.random(100) < 0.25, rng.uniform(0.1, 0.6, size=100), good)


def winner_table(sims: int = 60) -> list[str]:
    """Bias and 95% coverage of the winner's estimates: 100 trials of accuracy on 400 validation
    examples (empirical Bayes), and 60 trials sharing 400 examples of varied difficulty (the
    bootstrap on per-example results)."""
    lines = ["population    naive bias  corrected bias  coverage  (method)"]
    rng = np.random.default_rng(5)
    warnings.simplefilter("ignore")
    for kind in ("skewed", "normal", "two-level", "diverged"):
        rows = []
        for _ in range(sims):
            mu = _population(kind, rng)
            x = rng.binomial(400, mu) / 400
            e = winner_estimate(x, n_examples=400, rng=rng)
            t = mu[e.index]
            rows.append((e.naive - t, e.estimate - t, e.low <= t <= e.high))
        r = np.asarray(rows, dtype=float)
        lines.append(
            f"{kind:<12}  {r[:, 0].mean():+10.4f}  {r[:, 1].mean():+14.4f}  {r[:, 2].mean():8.0%}"
            "  (empirical Bayes)"
        )
    rows = []
    for _ in range(sims):
        skill, difficulty = rng.normal(1.5, 0.3, size=60), rng.normal(0, 1.5, size=400)
        mu = (1 / (1 + np.exp(-(skill[:, None] - rng.normal(0, 1.5, size=20000))))).mean(axis=1)
        p = 1 / (1 + np.exp(-(skill[:, None] - difficulty[None, :])))
        e = winner_estimate(per_example=(rng.random(p.shape) < p) * 1.0, rng=rng, n_boot=500)
        t = mu[e.index]
        rows.append((e.naive - t, e.estimate - t, e.low <= t <= e.high))
    r = np.asarray(rows, dtype=float)
    lines.append(
        f"{'logistic':<12}  {r[:, 0].mean():+10.4f}  {r[:, 1].mean():+14.4f}  {r[:, 2].mean():8.0%}"
        "  (bootstrap, per-example)"
    )
    return lines


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else "verdict"
    if what not in ("verdict", "winner"):
        sys.exit("usage: python -m curvecast.stats.calibration [verdict|winner]")
    if what == "winner":
        print("\n".join(winner_table()))
        return
    print("false separations of two identical methods (nominal 5%), 200 experiments each")
    print("seeds  tasks  plain percentile  widened (default)")
    for seeds, tasks in ((2, 4), (3, 3), (5, 3), (10, 3), (5, 10)):
        plain = false_separation_rate(seeds, tasks, rng=np.random.default_rng(seeds * 100 + tasks),
                                      small_sample=False)  # fmt: skip
        wide = false_separation_rate(seeds, tasks, rng=np.random.default_rng(seeds * 100 + tasks))
        print(f"{seeds:>5}  {tasks:>5}  {plain:>16.1%}  {wide:>17.1%}")


if __name__ == "__main__":
    main()
