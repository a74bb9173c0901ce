"""A known skill model for the DownstreamScaling tests: families, one skill, four benchmarks."""

from __future__ import annotations

import numpy as np

from curvecast.scaling import ModelTable

FLOORS = {"mc4": 0.25, "mc2": 0.5, "gen": 0.0, "code": 0.0}
ALPHA = {"mc4": -1.0, "mc2": -2.0, "gen": -3.0, "code": -4.0}
W = {"mc4": 1.2, "mc2": 0.8, "gen": 1.5, "code": 1.8}


def _families(
    rng: np.random.Generator, n_fam: int, sizes: int
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """``n_fam`` families of ``sizes`` models each, 3x apart in parameters, 20-100 tokens per
    parameter: family names, parameters, tokens and each model's family efficiency."""
    fam, N, D, eff = [], [], [], []
    for f in range(n_fam):
        e = rng.normal(0, 0.6)
        n0 = 10 ** rng.uniform(8, 9)
        for k in range(sizes):
            fam.append(f"f{f}")
            N.append(n0 * 3**k)
            D.append(20 * n0 * 3**k * rng.uniform(1, 5))
            eff.append(e)
    return fam, np.array(N), np.array(D), np.array(eff)


def skill_table(
    seed: int, n_fam: int = 10, sizes: int = 5, noise: float = 0.01
) -> tuple[ModelTable, dict[str, np.ndarray]]:
    """Models whose scores follow one skill ``u = eff_f + 0.9 (log10 C - 22)``, each benchmark
    ``floor + (1 - floor) sigmoid(alpha + w u)`` plus Gaussian noise; returns the table and the
    noiseless truth."""
    rng = np.random.default_rng(seed)
    fam, N_, D_, eff = _families(rng, n_fam, sizes)
    u = eff + 0.9 * (np.log10(6 * N_ * D_) - 22)
    clean = {b: FLOORS[b] + (1 - FLOORS[b]) / (1 + np.exp(-(ALPHA[b] + W[b] * u))) for b in FLOORS}
    scores = {b: np.clip(v + rng.normal(0, noise, v.size), 0, 1) for b, v in clean.items()}
    clean["_u"] = u
    t = ModelTable(
        model=[f"m{i}" for i in range(N_.size)], family=fam, params=N_, tokens=D_, scores=scores
    )
    return t, clean


def bent_table(seed: int, n_fam: int = 10, sizes: int = 6, bend: float = 0.25) -> ModelTable:
    """As :func:`skill_table` (noise 0.01), but the skill bends upward, ``u = eff_f + 0.5 (x -
    22) + bend (x - 19)^2`` with ``x = log10 C``: a straight line in ``x`` fitted below a cutoff
    predicts too low above it, the more so the further it extrapolates."""
    rng = np.random.default_rng(seed)
    fam, N_, D_, eff = _families(rng, n_fam, sizes)
    x = np.log10(6 * N_ * D_)
    u = eff + 0.5 * (x - 22) + bend * (x - 19) ** 2
    scores = {
        b: np.clip(
            FLOORS[b]
            + (1 - FLOORS[b]) / (1 + np.exp(-(ALPHA[b] + W[b] * u)))
            + rng.normal(0, 0.01, u.size),
            0,
            1,
        )
        for b in FLOORS
    }
    return ModelTable(
        model=[f"m{i}" for i in range(N_.size)], family=fam, params=N_, tokens=D_, scores=scores
    )


def _split(t: ModelTable, q: float = 0.6) -> tuple[ModelTable, ModelTable]:
    C = np.asarray(t.flops)
    cut = np.quantile(C, q)
    return t.select(C <= cut), t.select(C > cut)
