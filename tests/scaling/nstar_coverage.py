"""How often the 90% interval of ChinchillaLaw's compute-optimal N* covers the truth, over
synthetic sweeps drawn from Hoffmann et al.'s law (the oracle of ``_scaling_oracle``).

Not a test (pytest does not collect it): a measurement quoted in ``docs/hardening.md``::

    python tests/scaling/nstar_coverage.py --reps 10 --runs 120 --sigma 0.02 --bootstrap 100

prints, for budgets 1e20, 1e22 and 1e24 FLOPs, the fraction of sweeps whose interval holds the
true N*, and the median width of the interval (in e-folds).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _scaling_oracle import TRUE, draw

from curvecast.scaling import ChinchillaLaw

BUDGETS = np.array([1e20, 1e22, 1e24])


def true_nstar(C: np.ndarray) -> np.ndarray:
    """The oracle's compute-optimal N for budgets ``C`` (C = 6 N D)."""
    a, al, b, be = TRUE["A"], TRUE["alpha"], TRUE["B"], TRUE["beta"]
    g = (al * a / (be * b)) ** (1 / (al + be))
    return np.asarray(g * (C / 6) ** (be / (al + be)))


def coverage(
    reps: int, runs: int, sigma: float, bootstrap: int, n_starts: int = 1000, first_seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Hits ``(reps, 3)`` (interval holds the truth) and log-widths ``(reps, 3)``."""
    truth = true_nstar(BUDGETS)
    hits, widths = [], []
    for seed in range(first_seed, first_seed + reps):
        sweep = draw(np.random.default_rng(1000 + seed), runs, sigma)
        law = ChinchillaLaw(n_bootstrap=bootstrap, n_starts=n_starts).fit(sweep, rng=seed)
        q = law.optimal(BUDGETS, levels=(0.05, 0.5, 0.95)).N_quantiles
        hits.append((q[0] <= truth) & (truth <= q[2]))
        widths.append(np.log(q[2] / q[0]))
    return np.array(hits), np.array(widths)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--runs", type=int, default=120)
    p.add_argument("--sigma", type=float, default=0.02)
    p.add_argument("--bootstrap", type=int, default=100)
    p.add_argument("--first-seed", type=int, default=0)
    a = p.parse_args()
    t0 = time.process_time()
    hits, widths = coverage(a.reps, a.runs, a.sigma, a.bootstrap, first_seed=a.first_seed)
    print(
        f"{a.reps} sweeps of {a.runs} runs, noise {a.sigma}, {a.bootstrap} bootstrap replicates: "
        f"90% interval of N* holds the truth at C=1e20/1e22/1e24 in "
        f"{' / '.join(f'{h:.2f}' for h in hits.mean(axis=0))} of sweeps "
        f"(all: {hits.mean():.2f}); median width "
        f"{' / '.join(f'{w:.2f}' for w in np.median(widths, axis=0))} e-folds; "
        f"{time.process_time() - t0:.0f} s CPU"
    )


if __name__ == "__main__":
    main()
