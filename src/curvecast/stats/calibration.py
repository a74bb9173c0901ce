"""How often ``compare`` separates two methods that are the same: the false-separation rate of
its verdict, with and without the small-sample widening, by seeds and tasks.

Run ``python -m curvecast.stats.calibration`` (about a minute); the nominal rate is 5%.
"""

from __future__ import annotations

import numpy as np

from curvecast.stats._compare import compare
from curvecast.stats._results import results_from_rows

__all__ = ["false_separation_rate", "main"]


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


def main() -> None:
    print("false separations of two identical methods (nominal 5%), 200 experiments each")
    print("seeds  tasks  plain percentile  widened (default)")
    for seeds, tasks in ((2, 4), (3, 3), (5, 3), (10, 3), (5, 10)):
        plain = false_separation_rate(seeds, tasks, rng=np.random.default_rng(seeds * 100 + tasks),
                                      small_sample=False)  # fmt: skip
        wide = false_separation_rate(seeds, tasks, rng=np.random.default_rng(seeds * 100 + tasks))
        print(f"{seeds:>5}  {tasks:>5}  {plain:>16.1%}  {wide:>17.1%}")


if __name__ == "__main__":
    main()
