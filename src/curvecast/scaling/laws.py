"""Loss laws over parameters N and tokens D: Chinchilla, and over-training (Gadre et al.).

Both are fitted with Huber-on-log and many restarts (Hoffmann et al.'s approach 3) and carry a
bootstrap over runs for their intervals; see :class:`~curvecast.scaling._base.TermLaw`.

>>> import numpy as np
>>> from curvecast.scaling import ChinchillaLaw, Sweep
>>> N = np.repeat([1e7, 3e7, 1e8, 3e8], 4); D = N * np.tile([5, 10, 20, 40], 4)
>>> L = 1.7 + 400 / N**0.34 + 410 / D**0.28
>>> law = ChinchillaLaw(n_bootstrap=20).fit(Sweep(N=N, D=D, loss=L), rng=0)
>>> round(law.params["E"], 2)
1.7
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from curvecast.exceptions import InvalidParameterError
from curvecast.forecast._result import DEFAULT_LEVELS, check_levels
from curvecast.scaling._base import TermLaw, _positive_array, log_quantiles
from curvecast.scaling._fit import TermModel
from curvecast.scaling._result import OptimalSplit, ScalingForecast
from curvecast.scaling.sweep import Sweep

__all__ = ["ChinchillaLaw", "OvertrainingLaw", "resolve_nd"]


def _distinct(x: NDArray[np.float64]) -> int:
    return int(np.unique(np.round(np.log(x), 4)).size)


def resolve_nd(
    inputs: Mapping[str, ArrayLike], owner: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(N, D)`` of shape ``(m,)`` from any two of N, D, C (= 6ND) and M (= D/N), broadcast.

    Raises:
        InvalidParameterError: an unknown key, a non-positive value, or not enough keys.
    """
    allowed = {"N", "D", "C", "M"}
    unknown = set(inputs) - allowed
    if unknown:
        raise InvalidParameterError(
            f"{owner}.predict takes N, D, C (compute, 6ND) or M (tokens per parameter). "
            f"Got {sorted(unknown)} instead."
        )
    vals = {k: _positive_array(v, k, f"{owner}.predict") for k, v in inputs.items()}
    try:
        b = np.broadcast_arrays(*vals.values())
    except ValueError:
        raise InvalidParameterError(
            f"The inputs of {owner}.predict must have one length (or length 1). Got "
            f"{ {k: v.size for k, v in vals.items()} } instead."
        ) from None
    v = dict(zip(vals, b, strict=True))
    N, D, C, M = (v.get(k) for k in ("N", "D", "C", "M"))
    if N is not None and D is not None:
        return N, D
    if N is not None and C is not None:
        return N, C / (6.0 * N)
    if N is not None and M is not None:
        return N, M * N
    if D is not None and M is not None:
        return D / M, D
    if C is not None and M is not None:
        n = np.sqrt(C / (6.0 * M))
        return n, M * n
    if D is not None and C is not None:
        return C / (6.0 * D), D
    raise InvalidParameterError(
        f"{owner}.predict needs two of N, D, C, M (e.g. N=7e9, D=1.4e12). Got "
        f"{sorted(inputs) or 'none'}."
    )


def _nd_features(N: NDArray[np.float64], D: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.column_stack([np.log(N), np.log(D)])


class ChinchillaLaw(TermLaw):
    """``L(N, D) = E + A / N^alpha + B / D^beta`` (Hoffmann et al. 2022).

    ``predict`` takes ``N`` and ``D`` (or any two of N, D, C = 6ND, M = D/N), or ``C`` alone
    for the loss on the compute-optimal frontier. :meth:`optimal` gives ``N*(C)``, ``D*(C)``.

    Args:
        n_bootstrap: bootstrap replicates for intervals (0: the best fit only, no intervals).
        resample: ``"runs"`` (bootstrap over runs) or ``"sizes"`` (over model sizes).
        huber_delta: Huber threshold on the log residual (1e-3 as Hoffmann et al.).
        n_starts: random starting points scored; ``n_polish`` best are polished by L-BFGS-B.
        calibrate: widen the band by how much worse the law did at predicting the sweep's own
            largest runs (the top fifth by compute) from the rest than its in-sample residuals
            (default True; never narrows it).

    Raises:
        InvalidParameterError: at fit, fewer than 6 runs or fewer than 3 distinct N or D.
    """

    name = "chinchilla"
    param_names: ClassVar[tuple[str, ...]] = ("E", "A", "alpha", "B", "beta")

    def _model(self) -> TermModel:
        def terms(theta: NDArray, X: NDArray) -> tuple[NDArray, NDArray]:
            e, a, al, b, be = theta
            n = X.shape[0]
            t = np.column_stack([np.full(n, e), a - al * X[:, 0], b - be * X[:, 1]])
            dt = np.zeros((n, 3, 5))
            dt[:, 0, 0] = 1.0
            dt[:, 1, 1] = 1.0
            dt[:, 1, 2] = -X[:, 0]
            dt[:, 2, 3] = 1.0
            dt[:, 2, 4] = -X[:, 1]
            return t, dt

        def batch(thetas: NDArray, X: NDArray) -> NDArray:
            e, a, al, b, be = (thetas[:, i : i + 1] for i in range(5))
            n = X.shape[0]
            return np.stack(
                [
                    np.broadcast_to(e, (e.shape[0], n)),
                    a - al * X[None, :, 0],
                    b - be * X[None, :, 1],
                ],
                axis=-1,
            )

        return TermModel(
            terms=terms,
            batch_terms=batch,
            bounds=((-8.0, 4.0), (-20.0, 80.0), (0.01, 3.0), (-20.0, 80.0), (0.01, 3.0)),
            start_box=((-1.5, 1.5), (0.0, 30.0), (0.05, 1.5), (0.0, 30.0), (0.05, 1.5)),
        )

    def _check_sweep(self, sweep: Sweep) -> None:
        super()._check_sweep(sweep)
        for col, arr, fix in (
            ("N", sweep.N, "add runs at 3 or more model sizes, or fit LogLinearLaw in D"),
            ("D", sweep.D, "add runs at 3 or more token counts per size"),
        ):
            k = _distinct(arr)
            if k < 3:
                only = f"one {col} value only ({arr[0]:.3g})" if k == 1 else f"{k} distinct {col}"
                raise InvalidParameterError(
                    f"ChinchillaLaw cannot identify its {col} term from a sweep with {only}: {fix}."
                )

    def _features(self, sweep: Sweep) -> NDArray[np.float64]:
        return _nd_features(sweep.N, sweep.D)

    def _query(
        self, inputs: Mapping[str, ArrayLike]
    ) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
        N, D = resolve_nd(inputs, "ChinchillaLaw")
        return _nd_features(N, D), {"N": N, "D": D, "C": 6 * N * D}

    def _natural(self, theta: NDArray[np.float64]) -> dict[str, float]:
        e, a, al, b, be = (float(v) for v in theta)
        return {
            "E": float(np.exp(e)),
            "A": float(np.exp(a)),
            "alpha": al,
            "B": float(np.exp(b)),
            "beta": be,
        }

    # -- the compute frontier -----------------------------------------------------------------
    @staticmethod
    def _frontier(
        thetas: NDArray[np.float64], C: NDArray[np.float64]
    ) -> tuple[NDArray, NDArray, NDArray]:
        """log N*, log D*, log L* of shape ``(S, m)`` for ``thetas`` ``(S, 5)``, ``C`` ``(m,)``."""
        e, a, al, b, be = (thetas[:, i : i + 1] for i in range(5))
        # minimise A N^-al + B D^-be s.t. N D = C/6: N* = G (C/6)^(be/(al+be))
        log_g = (np.log(al) + a - np.log(be) - b) / (al + be)
        log_c6 = np.log(C / 6.0)[None, :]
        log_n = log_g + be / (al + be) * log_c6
        log_d = log_c6 - log_n
        t = np.stack([np.broadcast_to(e, log_n.shape), a - al * log_n, b - be * log_d], axis=-1)
        m = t.max(axis=-1)
        log_l = m + np.log(np.exp(t - m[..., None]).sum(axis=-1))
        return log_n, log_d, log_l

    def _thetas(self) -> NDArray[np.float64]:
        return self.thetas_ if self.thetas_.shape[0] else self.theta_[None, :]

    def predict(
        self, *, levels: ArrayLike = DEFAULT_LEVELS, **inputs: ArrayLike
    ) -> ScalingForecast:
        """Loss at ``N, D`` (or two of N, D, C, M); with ``C`` alone, on the frontier."""
        if set(inputs) != {"C"}:
            return super().predict(levels=levels, **inputs)
        self._require_fit()
        lv = check_levels(levels, owner="ChinchillaLaw.predict")
        C = _positive_array(inputs["C"], "C", "ChinchillaLaw.predict")
        _, _, log_l = self._frontier(self._thetas(), C)
        noise = self._noise()
        log_s = (log_l[:, None, :] + noise[None, :, None]).reshape(-1, C.size)
        with np.errstate(over="ignore"):
            samples = np.exp(log_s)
        ln, ld, ll = self._frontier(self.theta_[None, :], C)
        return ScalingForecast(
            inputs={"C": C, "N": np.exp(ln[0]), "D": np.exp(ld[0])},
            point=np.exp(ll[0]),
            levels=lv,
            quantiles=log_quantiles(log_s, lv),
            law=self.name,
            _samples=samples,
        )

    def optimal(self, C: ArrayLike, *, levels: ArrayLike = DEFAULT_LEVELS) -> OptimalSplit:
        """Compute-optimal ``N*``, ``D*`` and loss for budgets ``C`` (FLOPs, shape ``(m,)``).

        Quantiles of N* and D* come from the bootstrap (parameter uncertainty); those of the
        loss are predictive (the runs' scatter included).
        """
        self._require_fit()
        lv = check_levels(levels, owner="ChinchillaLaw.optimal")
        Cs = _positive_array(C, "C", "ChinchillaLaw.optimal")
        ln, ld, _ = self._frontier(self._thetas(), Cs)
        ln0, ld0, ll0 = self._frontier(self.theta_[None, :], Cs)
        fc = self.predict(C=Cs, levels=lv)
        return OptimalSplit(
            C=Cs,
            N=np.exp(ln0[0]),
            D=np.exp(ld0[0]),
            loss=np.exp(ll0[0]),
            levels=lv,
            N_quantiles=np.exp(np.quantile(ln, lv, axis=0)),
            D_quantiles=np.exp(np.quantile(ld, lv, axis=0)),
            loss_quantiles=fc.quantiles,
            law=self.name,
        )


class OvertrainingLaw(TermLaw):
    """``L(N, M) = E + A / N^eta + B / (M N)^eta``: loss against size and tokens per parameter.

    Gadre et al. (2024)'s over-training law, in which the compute-optimal ratio ``M* = D*/N*``
    is constant (one exponent for N and D): at fixed ``M`` the loss is a power law in compute
    with an exponent that does not depend on ``M``. ``predict`` takes ``N`` and ``M`` (or any
    two of N, D, C, M). It needs fewer runs than Chinchilla (4 parameters; Gadre et al. fit 5).

    Raises:
        InvalidParameterError: at fit, fewer than 5 runs or fewer than 2 distinct N or M.
    """

    name = "overtraining"
    param_names: ClassVar[tuple[str, ...]] = ("E", "A", "B", "eta")

    def _model(self) -> TermModel:
        def terms(theta: NDArray, X: NDArray) -> tuple[NDArray, NDArray]:
            e, a, b, eta = theta
            n = X.shape[0]
            t = np.column_stack([np.full(n, e), a - eta * X[:, 0], b - eta * X[:, 1]])
            dt = np.zeros((n, 3, 4))
            dt[:, 0, 0] = 1.0
            dt[:, 1, 1] = 1.0
            dt[:, 1, 3] = -X[:, 0]
            dt[:, 2, 2] = 1.0
            dt[:, 2, 3] = -X[:, 1]
            return t, dt

        def batch(thetas: NDArray, X: NDArray) -> NDArray:
            e, a, b, eta = (thetas[:, i : i + 1] for i in range(4))
            n = X.shape[0]
            return np.stack(
                [
                    np.broadcast_to(e, (e.shape[0], n)),
                    a - eta * X[None, :, 0],
                    b - eta * X[None, :, 1],
                ],
                axis=-1,
            )

        return TermModel(
            terms=terms,
            batch_terms=batch,
            bounds=((-8.0, 4.0), (-20.0, 80.0), (-20.0, 80.0), (0.01, 3.0)),
            start_box=((-1.5, 1.5), (0.0, 30.0), (0.0, 30.0), (0.05, 1.0)),
        )

    def _check_sweep(self, sweep: Sweep) -> None:
        super()._check_sweep(sweep)
        for col, arr in (("N", sweep.N), ("M = D/N", sweep.tokens_per_param)):
            if _distinct(arr) < 2:
                raise InvalidParameterError(
                    f"OvertrainingLaw needs runs at 2 or more values of {col}; the sweep has "
                    f"one only ({arr[0]:.3g}). Add runs that vary {col.split()[0]}."
                )

    def _features(self, sweep: Sweep) -> NDArray[np.float64]:
        return _nd_features(sweep.N, sweep.D)

    def _query(
        self, inputs: Mapping[str, ArrayLike]
    ) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
        N, D = resolve_nd(inputs, "OvertrainingLaw")
        return _nd_features(N, D), {"N": N, "D": D, "M": D / N, "C": 6 * N * D}

    def _natural(self, theta: NDArray[np.float64]) -> dict[str, float]:
        e, a, b, eta = (float(v) for v in theta)
        return {"E": float(np.exp(e)), "A": float(np.exp(a)), "B": float(np.exp(b)), "eta": eta}
