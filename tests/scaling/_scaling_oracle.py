"""Shared helpers: sweeps drawn from a known Chinchilla law."""

from __future__ import annotations

import numpy as np

from curvecast.scaling import Sweep

#: Hoffmann et al.'s published fit (their approach 3), used as the oracle law.
TRUE = {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}


def chinchilla(N: np.ndarray, D: np.ndarray, p: dict[str, float] = TRUE) -> np.ndarray:
    return p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"]


def draw(
    rng: np.random.Generator, n: int, sigma: float, n_range=(1e7, 1e9), m_range=(5, 200)
) -> Sweep:
    """``n`` runs at log-uniform N and tokens-per-parameter M; log-normal noise ``sigma``."""
    N = np.exp(rng.uniform(*np.log(n_range), n))
    M = np.exp(rng.uniform(*np.log(m_range), n))
    D = N * M
    loss = chinchilla(N, D) * np.exp(rng.normal(0, sigma, n))
    return Sweep(N=N, D=D, loss=loss)
