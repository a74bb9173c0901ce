"""Benchmark scores of a model not yet trained, from a table of trained ones, with intervals.

:class:`DownstreamScaling` fits the skills model of :mod:`.downstream_core` (observational
capability dimensions, as in Ruan et al. 2024, each a straight line in log compute per family
with a family efficiency shrunk towards the others, as in Sloth; scores on a logit scale above
chance) and predicts each benchmark's score for a bigger member of a known family, or for a new
family (the mean family, or given a few small members of it in the table).

**Intervals are calibrated by backtests, not by the fit's own noise.** At fit time the model is
refitted below four compute quantiles of the table (predicting upward in compute, as a user
does) and with each family held out whole (a new family). The errors of those predictions, on
the logit scale in units of each benchmark's spread, pooled over families and benchmarks, are
the noise a forecast draws from: the known-family pool grows linearly with the distance in
log10 compute above the family's largest fitted model (the slope fitted to the absolute
backtest errors, bias included: a bias the forecast does not correct is error), the new-family
pool carries the scatter between families and grows as fast. A drift the table's own
backtests cannot see (a shift shared by every model above its cutoff, of either sign, measured
across tables: :data:`DRIFT_PER_DECADE`) is added in quadrature, growing with the same
distance. The band is mapped back through the link, so it stays between the floor and the
ceiling.

With ``space="auto"`` (the default) the skills of a known family and of a new one may come from
different fits: each is the fit whose backtests predicted that kind of model best (below-cutoff
backtests for a known family, ``space_``; the new families of every backtest, each family
counted once, for a new one, ``space_new_``).

Each benchmark's forecast may lean on a straight line of its score in log compute (the
log-linear fit) where the backtests show the skills do not follow it (:mod:`.downstream_lines`):
``line_weight_`` ``(B,)`` for a known family, chosen on the cutoff backtests, and
``line_weight_new_`` ``(B,)`` for a new family, chosen on the families left out (the same
weights for both when the table has only one kind of backtest).

>>> import numpy as np
>>> from curvecast.scaling import DownstreamScaling, ModelTable
>>> rng = np.random.default_rng(0)
>>> fam = np.repeat(["a", "b", "c", "d"], 4); N = np.tile([1e8, 3e8, 1e9, 3e9], 4)
>>> x = np.log10(6 * N * 20 * N); eff = {"a": 0, "b": 0.5, "c": -0.5, "d": 0.2}
>>> z = np.array([eff[f] for f in fam]) + 0.9 * (x - 20)
>>> s = 0.25 + 0.75 / (1 + np.exp(-z)) + rng.normal(0, 0.01, 16)
>>> t = ModelTable(model=[f"m{i}" for i in range(16)], family=fam, params=N, tokens=20 * N,
...                scores={"mmlu": np.clip(s, 0, 1)})
>>> fc = DownstreamScaling(chance={"mmlu": 0.25}).fit(t).predict("b", 1e10, 2e11)
>>> bool(fc.interval(0.9)[0][0, 0] < fc.median[0, 0] < fc.interval(0.9)[1][0, 0])
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from curvecast.exceptions import InvalidParameterError, parameter_error
from curvecast.forecast._result import as_rng
from curvecast.scaling._fit import single_thread
from curvecast.scaling.downstream_core import _EPS as _LOGIT_EPS
from curvecast.scaling.downstream_core import (
    Core,
    _average,
    fit_core,
    from_unit,
    predict_core,
    to_unit,
)
from curvecast.scaling.downstream_lines import blend, choose_weights, fit_lines, line_scores
from curvecast.scaling.downstream_result import DownstreamForecast, Emergence
from curvecast.scaling.downstream_table import ModelTable

__all__ = ["DownstreamScaling"]

_MIN_POOL = 20
#: the extrapolation drift's standard deviation per decade of compute above the fitted models,
#: in units of each benchmark's logit spread: the root mean square, over the four tuning tables
#: of ``curvecast bench downstream``, of each table's drift (the slope through the origin of its
#: held-out models' mean error against their distance, averaged over rolling origins):
#: ``curvecast bench downstream --drift`` prints it
DRIFT_PER_DECADE = 0.45
#: the skill fits ``space="auto"`` chooses between, by their below-cutoff backtest error
_SPACES = ("raw", "joint", "ensemble")


class DownstreamScaling:
    """Downstream scores from scale; see the module docstring.

    Args:
        n_skills: capability dimensions ``K`` (capped at the number of benchmarks; ``K = B``
            is a separate line per benchmark, still pooled across families).
        chance: the floor of each benchmark's score: a float for all, a mapping from benchmark
            name to its chance level, or None to estimate each as 0.02 below the lowest
            fitted score (at least 0). Benchmarks missing from a mapping are estimated.
        ceiling: the best reachable score (default 1).
        allow_single: accept families with one model in the fitted table (their efficiency is
            then estimated from one point, shrunk towards the others). Off by default: a family
            with one model usually means a missing family label.
        max_backtests: at most this many families are held out (chosen with ``rng``) for each
            of the two calibration backtests.
        drift: standard deviation of the extrapolation drift per decade of compute above the
            fitted models (logit units of each benchmark's spread), added to the band in
            quadrature: a shift shared by every model of a table above its cutoff, of either
            sign, that backtests inside the table cannot see. The default is measured on the
            tuning tables of ``curvecast bench downstream`` (:data:`DRIFT_PER_DECADE`); 0 drops
            it.

    Raises:
        InvalidParameterError: a parameter out of range, or at fit time a table that cannot be
            fitted (see :meth:`fit`).
    """

    def __init__(
        self,
        *,
        n_skills: int = 1,
        chance: float | Mapping[str, float] | None = None,
        ceiling: float = 1.0,
        allow_single: bool = False,
        max_backtests: int = 40,
        link: str = "logit",
        shrink: bool = True,
        offsets: bool = True,
        new_family: str = "pooled",
        standardise: bool = True,
        space: str = "auto",
        floor_below_scores: bool = True,
        line_blend: bool = True,
        drift: float = DRIFT_PER_DECADE,
    ) -> None:
        if not (
            isinstance(drift, int | float) and not isinstance(drift, bool) and 0 <= drift < np.inf
        ):
            raise parameter_error("drift", "DownstreamScaling", "a float >= 0", drift)
        self.drift = float(drift)
        if space not in (*_SPACES, "logit", "auto"):
            raise parameter_error(
                "space", "DownstreamScaling", "'auto', 'raw', 'joint', 'ensemble' or 'logit'", space
            )
        self._space = space
        self.floor_below_scores = bool(floor_below_scores)
        self.line_blend = bool(line_blend)
        self.link = link
        self._core_kw: dict[str, Any] = {
            "shrink": shrink,
            "offsets": offsets,
            "new_family": new_family,
            "standardise": standardise,
            "space": space,
        }
        if not isinstance(n_skills, int) or isinstance(n_skills, bool) or n_skills < 1:
            raise parameter_error("n_skills", "DownstreamScaling", "an int >= 1", n_skills)
        if not (isinstance(ceiling, int | float) and 0.0 < float(ceiling) <= 1.0):
            raise parameter_error("ceiling", "DownstreamScaling", "a float in (0, 1]", ceiling)
        if chance is not None:
            vals = chance.values() if isinstance(chance, Mapping) else [chance]
            for v in vals:
                if not (isinstance(v, int | float) and 0.0 <= float(v) < float(ceiling)):
                    raise parameter_error(
                        "chance", "DownstreamScaling", "floats in [0, ceiling)", chance
                    )
        if not isinstance(max_backtests, int) or max_backtests < 1:
            raise parameter_error(
                "max_backtests", "DownstreamScaling", "an int >= 1", max_backtests
            )
        self.n_skills = n_skills
        self.chance = chance
        self.ceiling = float(ceiling)
        self.allow_single = bool(allow_single)
        self.max_backtests = max_backtests
        self._fitted = False

    # ------------------------------------------------------------------ fit

    def _floors(self, table: ModelTable) -> NDArray[np.float64]:
        S = np.asarray(table.scores)
        out = np.empty(len(table.benchmarks))
        self.chance_ = np.empty(len(table.benchmarks))
        for j, b in enumerate(table.benchmarks):
            given: float | None = None
            if isinstance(self.chance, Mapping):
                given = self.chance.get(b)
            elif self.chance is not None:
                given = float(self.chance)
            low = max(float(np.nanmin(S[:, j])) - 0.02, 0.0)
            # a chance level above fitted scores (a biased benchmark, a majority class) would
            # put them, and the band, at the floor: the floor never sits above them
            out[j] = low if given is None or not self.floor_below_scores else min(given, low)
            self.chance_[j] = low if given is None else given
        return np.minimum(out, self.ceiling - 1e-3)

    def _check(self, table: ModelTable) -> None:
        if not isinstance(table, ModelTable):
            raise parameter_error("table", "DownstreamScaling.fit", "a ModelTable", table)
        if len(table) == 0:
            raise InvalidParameterError(
                "DownstreamScaling.fit got no models: is the compute cutoff below the smallest "
                "model? Fit on a table with models at or below the cutoff."
            )
        S = np.asarray(table.scores)
        empty = [b for j, b in enumerate(table.benchmarks) if not np.isfinite(S[:, j]).any()]
        if empty:
            raise InvalidParameterError(
                f"Benchmark {empty[0]!r} has no score among the fitted models; drop it or add "
                "models evaluated on it."
            )
        fam = np.asarray(table.family)
        names, counts = np.unique(fam, return_counts=True)
        if len(names) < 2:
            raise InvalidParameterError(
                "DownstreamScaling needs models from 2 or more families (it learns how "
                f"families differ); the table has only {str(names[0])!r}."
            )
        single = names[counts < 2]
        if single.size and not self.allow_single:
            raise InvalidParameterError(
                f"Family {str(single[0])!r} has one model in the fitted table ({single.size} such "
                "families): a family's slope and efficiency need 2 or more models. Add a "
                "smaller model of that family, fix its family label, or pass allow_single=True "
                "(CLI: --allow-single) to shrink its efficiency towards the other families."
            )
        x = np.log10(np.asarray(table.flops))
        if np.ptp(x) <= 0:
            raise InvalidParameterError("Every fitted model has the same compute; need 2 or more.")

    def fit(self, table: ModelTable, *, rng: np.random.Generator | int | None = None) -> Self:
        """Fit to ``table`` (a :class:`ModelTable`). Returns ``self``.

        Raises:
            InvalidParameterError: no models, fewer than 2 families, a family with one model
                (unless ``allow_single``), a benchmark without any score, one compute only.
        """
        self._check(table)
        with single_thread():  # tiny LAPACK calls: threads only add wake-ups (see _fit)
            return self._fit(table, as_rng(rng))

    def _fit(self, table: ModelTable, gen: np.random.Generator) -> Self:
        self.benchmarks_ = table.benchmarks
        self.floor_ = self._floors(table)
        self.ceiling_ = np.full(len(table.benchmarks), self.ceiling)
        S = np.asarray(table.scores)
        self.x_ = np.log10(np.asarray(table.flops))
        self.family_ = list(table.family)
        self.Z_ = to_unit(S, self.floor_, self.ceiling_, self.link)
        self.S_ = S
        self.backtest_mae_: dict[str, float] = {}
        self._cache: dict[tuple[bytes, str], Core] = {}
        if self._space == "auto":
            for space in _SPACES:
                self._core_kw["space"] = space
                self.backtest_mae_[space] = self._backtest_mae()
            self._core_kw["space"] = min(self.backtest_mae_, key=self.backtest_mae_.__getitem__)
        self.space_ = str(self._core_kw["space"])
        self._runs = self._backtest_runs(gen)
        self.backtest_mae_new_: dict[str, float] = {}
        self.space_new_ = self.space_
        if self._space == "auto":
            for space in _SPACES:
                self.backtest_mae_new_[space] = self._new_family_mae(space)
            best = min(self.backtest_mae_new_, key=self.backtest_mae_new_.__getitem__)
            if np.isfinite(self.backtest_mae_new_[best]):  # else no backtest had a new family
                self.space_new_ = best
        self.line_ = fit_lines(self.x_, S)
        self.line_weight_ = np.zeros(len(self.benchmarks_))  # set by _calibrate
        self.line_weight_new_ = np.zeros(len(self.benchmarks_))
        self.core_: Core = self._fit_core(np.ones(self.x_.size, dtype=bool), self.space_)
        self.core_new_: Core = (
            self.core_
            if self.space_new_ == self.space_
            else self._fit_core(np.ones(self.x_.size, dtype=bool), self.space_new_)
        )
        self._calibrate()
        self._cache = {}
        self._fitted = True
        return self

    def _cutoff_masks(self) -> list[NDArray[np.bool_]]:
        fam = np.asarray(self.family_)
        out = []
        for q in (0.5, 0.6, 0.7, 0.8):
            keep = self.x_ <= np.quantile(self.x_, q)
            if len(set(fam[keep])) >= 2 and (~keep).any() and np.ptp(self.x_[keep]) > 0:
                out.append(keep)
        return out

    def _backtest_runs(self, gen: np.random.Generator) -> list[tuple[NDArray[np.bool_], bool]]:
        """The calibration backtests: ``(keep, hide)`` per run, the models refitted on and
        whether every held-out model counts as a new family."""
        fam = np.asarray(self.family_)
        fams = list(dict.fromkeys(self.family_))
        runs: list[tuple[NDArray[np.bool_], bool]] = []
        # below-cutoff backtests: the protocol a user follows, inside the fitted table
        runs.extend((keep, False) for keep in self._cutoff_masks())
        # leave one family out: the scatter between families
        new = (
            fams
            if len(fams) <= self.max_backtests
            else list(gen.choice(fams, self.max_backtests, replace=False))
        )
        if len(fams) >= 3:
            runs.extend((fam != f, True) for f in new)
        return [
            (keep, hide)
            for keep, hide in runs
            if len(set(fam[keep])) >= 2 and np.ptp(self.x_[keep]) > 0
        ]

    def _fit_core(self, keep: NDArray[np.bool_], space: str) -> Core:
        """The core fitted to the models ``keep`` ``(n,)`` with ``space``, cached for this fit
        (the backtests refit the same subsets for each choice; the ensemble is the average of
        the raw and joint cores, as :func:`fit_core` builds it)."""
        key = (keep.tobytes(), space)
        if key not in self._cache:
            if space == "ensemble":
                parts = [self._fit_core(keep, sp) for sp in ("raw", "joint")]
                self._cache[key] = _average(parts)
            else:
                fam_k = [f for f, k in zip(self.family_, keep, strict=True) if k]
                self._cache[key] = fit_core(
                    self.x_[keep],
                    fam_k,
                    self.Z_[keep],
                    self.n_skills,
                    S=self.S_[keep],
                    floor=self.floor_,
                    ceil=self.ceiling_,
                    **{**self._core_kw, "space": space},
                )
        return self._cache[key]

    def _new_family_mae(self, space: str) -> float:
        """The skills model's mean absolute score error on the backtests' new-family models
        with ``space``: the mean over runs (each family left out counts once, however many
        models it has), as a new family is one draw from the families."""
        per_run = []
        for keep, hide in self._runs:
            core = self._fit_core(keep, space)
            new = np.array(
                [hide or f not in core.fam_a for f in np.asarray(self.family_)[~keep]], dtype=bool
            )
            if not new.any():
                continue
            z = predict_core(core, self.x_[~keep][new], [None] * int(new.sum()))
            pred = from_unit(z, self.floor_, self.ceiling_, self.link)
            per_run.append(_mae(pred, self.S_[~keep][new]))
        return float(np.mean(per_run)) if per_run else float("inf")

    def _logits(
        self,
        core: Core,
        lines: NDArray,
        x: NDArray,
        family: Sequence[str | None],
        core_new: Core | None = None,
    ) -> NDArray[np.float64]:
        """Logits ``(m, B)``: the skills model (``core`` for a known family, ``core_new`` for
        a new one; ``core`` for both by default), blended per benchmark with the ``lines``
        ``(B, 2)`` by :attr:`line_weight_` (:attr:`line_weight_new_` for a new family);
        clipped to the logit range of the scores."""
        z = predict_core(core, x, family)
        isnew = np.array([f is None or f not in core.fam_a for f in family], dtype=bool)
        if core_new is not None and core_new is not core and isnew.any():
            z[isnew] = predict_core(core_new, x[isnew], [None] * int(isnew.sum()))
        if self.link == "logit":
            lim = float(np.log((1 - _LOGIT_EPS) / _LOGIT_EPS))
            z = np.clip(z, -lim, lim)
        if not (self.line_weight_.any() or self.line_weight_new_.any()):
            return z
        sk = from_unit(z, self.floor_, self.ceiling_, self.link)
        ln = line_scores(lines, x, self.floor_, self.ceiling_)
        w = np.where(isnew[:, None], self.line_weight_new_[None, :], self.line_weight_[None, :])
        return to_unit(blend(sk, ln, w), self.floor_, self.ceiling_, self.link)

    def _backtest_mae(self) -> float:
        """Mean absolute score error of the below-cutoff backtests of the skills model alone,
        with the current settings."""
        errs = []
        for keep in self._cutoff_masks():
            core = self._fit_core(keep, str(self._core_kw["space"]))
            fam_h = [f for f, k in zip(self.family_, keep, strict=True) if not k]
            pred = from_unit(
                predict_core(core, self.x_[~keep], fam_h), self.floor_, self.ceiling_, self.link
            )
            errs.append(np.abs(pred - self.S_[~keep]))
        return _mae(np.concatenate(errs), 0.0) if errs else float("inf")

    def _run(self, keep: NDArray[np.bool_], hide: bool) -> tuple[NDArray, ...]:
        """Refit on ``keep``, predict the rest: the skills model's scores and the lines' scores
        ``(h, B)``, the distance in log10 compute above what was fitted ``(h,)`` and whether
        each held-out model is a new family's ``(h,)``. ``hide``: treat every held-out model as
        a new family."""
        core = self._fit_core(keep, self.space_)
        core_new = core if self.space_new_ == self.space_ else self._fit_core(keep, self.space_new_)
        held = ~keep
        xh = self.x_[held]
        fam_h = [
            None if hide or f not in core.x_max else f
            for f, k in zip(self.family_, held, strict=True)
            if k
        ]
        weights, self.line_weight_ = self.line_weight_, np.zeros(len(self.benchmarks_))
        wnew, self.line_weight_new_ = self.line_weight_new_, np.zeros(len(self.benchmarks_))
        sk = from_unit(
            self._logits(core, self.line_, xh, fam_h, core_new),
            self.floor_,
            self.ceiling_,
            self.link,
        )
        self.line_weight_, self.line_weight_new_ = weights, wnew
        ln = line_scores(fit_lines(self.x_[keep], self.S_[keep]), xh, self.floor_, self.ceiling_)
        top = np.array([self.x_[keep].max() if f is None else core.x_max[f] for f in fam_h])
        return sk, ln, np.maximum(xh - top, 0.0), np.array([f is None for f in fam_h]), held

    def _calibrate(self) -> None:
        out = [self._run(keep, hide) for keep, hide in self._runs]
        B = len(self.benchmarks_)
        sk = np.concatenate([o[0] for o in out]) if out else np.empty((0, B))
        ln = np.concatenate([o[1] for o in out]) if out else np.empty((0, B))
        dd = np.concatenate([o[2] for o in out]) if out else np.empty(0)
        nn = np.concatenate([o[3] for o in out]) if out else np.empty(0, dtype=bool)
        truth = np.concatenate([self.S_[o[4]] for o in out]) if out else np.empty((0, B))
        if self.line_blend and out:
            run = np.concatenate([np.full(o[0].shape[0], i) for i, o in enumerate(out)])
            if nn.any() and (~nn).any():
                # each kind of forecast leans on the line as its own backtests say: a bigger
                # member of a known family (the cutoff runs), a new family (families left out)
                self.line_weight_ = choose_weights(sk[~nn], ln[~nn], truth[~nn], run[~nn])
                self.line_weight_new_ = choose_weights(sk[nn], ln[nn], truth[nn], run[nn])
            else:
                self.line_weight_ = choose_weights(sk, ln, truth, run)
                self.line_weight_new_ = self.line_weight_
        zt = np.concatenate([self.Z_[o[4]] for o in out]) if out else np.empty((0, B))
        wrow = np.where(nn[:, None], self.line_weight_new_[None, :], self.line_weight_[None, :])
        pred = to_unit(blend(sk, ln, wrow), self.floor_, self.ceiling_, self.link)
        E = (zt - pred) / self.core_.sd
        ok = np.isfinite(E)
        e = E[ok]
        d = np.broadcast_to(dd[:, None], E.shape)[ok]
        n = np.broadcast_to(nn[:, None], E.shape)[ok]
        in_sample = (
            self.Z_ - self._logits(self.core_, self.line_, self.x_, list(self.family_))
        ) / self.core_.sd
        in_sample = in_sample[np.isfinite(in_sample)]
        pools: list[NDArray[np.float64]] = []
        scales: list[tuple[float, float]] = []
        for sel in (~n, n):
            ep, dp = e[sel], d[sel]
            if ep.size < _MIN_POOL:
                ep, dp = (
                    (e, d) if e.size >= _MIN_POOL else (2.0 * in_sample, np.zeros(in_sample.size))
                )
            # the errors are not centred on their median: a bias the forecast does not correct
            # (its sign did not carry over above the cutoff on the tuning tables) is error, and
            # the band must cover it (split-conformal on |y - forecast|)
            s0, s1 = _scale_fit(ep, dp)
            if scales:
                # a new family: its band grows with the distance as fast as a known family's on
                # the cutoff backtests. Its own slope would mix the distance with how much was
                # fitted: the families left out (d = 0) were fitted on nearly every model, the
                # new families of the cutoff runs (d > 0) on half to 80% of them.
                s1 = scales[0][1]
            pn = ep / (s0 + s1 * dp)
            # symmetric, median 0: the median forecast is the centre
            pools.append(np.concatenate([pn, -pn]))
            scales.append((s0, s1))
        self.scale_ = tuple(scales)
        self.pools_ = tuple(pools)

    # -------------------------------------------------------------- predict

    def _require_fit(self) -> None:
        if not self._fitted:
            raise InvalidParameterError(
                "This DownstreamScaling is not fitted yet: call fit(table)."
            )

    def predict(
        self,
        family: str | Sequence[str],
        params: ArrayLike,
        tokens: ArrayLike,
        flops: ArrayLike | None = None,
        *,
        model: Sequence[str] | None = None,
    ) -> DownstreamForecast:
        """Scores of ``m`` models not yet trained: ``family`` (a name, or one per model; a name
        not in the fitted table is a new family), ``params``, ``tokens`` and optionally
        ``flops`` (else ``6 * params * tokens``), each a number or shape ``(m,)``.

        Raises:
            InvalidParameterError: not fitted; a size, token count or compute that is not a
                finite number > 0; lengths that differ.
        """
        self._require_fit()
        N = np.atleast_1d(np.asarray(params, dtype=np.float64)).reshape(-1)
        D = np.atleast_1d(np.asarray(tokens, dtype=np.float64)).reshape(-1)
        fam_list = None if isinstance(family, str) else [str(f) for f in family]
        m = max(N.size, D.size, 1 if fam_list is None else len(fam_list))
        if {N.size, D.size} - {1, m}:
            raise parameter_error(
                "params", "DownstreamScaling.predict", f"one number or {m} (like tokens)", params
            )
        N, D = np.broadcast_to(N, m), np.broadcast_to(D, m)
        C = 6.0 * N * D if flops is None else np.broadcast_to(np.asarray(flops, float), m)
        for name, arr in (("params", N), ("tokens", D), ("flops", C)):
            if not np.all(np.isfinite(arr) & (arr > 0)):
                raise parameter_error(name, "DownstreamScaling.predict", "numbers > 0", arr)
        fams = [str(family)] * m if fam_list is None else fam_list
        if len(fams) != m:
            raise parameter_error(
                "family", "DownstreamScaling.predict", f"a name or {m} names", family
            )
        names = (
            tuple(model)
            if model is not None
            else tuple(f"{f}:{n:.3g}" for f, n in zip(fams, N, strict=True))
        )
        x = np.log10(C)
        known = np.array([f in self.core_.fam_a for f in fams])
        # clipped as in the calibration: a saturated centre would have no band
        centre = self._logits(
            self.core_,
            self.line_,
            x,
            [f if k else None for f, k in zip(fams, known, strict=True)],
            self.core_new_,
        )
        (k0, k1), (n0, n1) = self.scale_
        d = self.decades_above(x, fams)
        scale = np.where(known, k0 + k1 * d, n0 + n1 * d)[:, None] * self.core_.sd[None, :]
        drift = (self.drift * d)[:, None] * self.core_.sd[None, :]
        return DownstreamForecast(
            model=names,
            family=tuple(fams),
            known_family=known,
            flops=np.asarray(C, dtype=np.float64),
            benchmarks=self.benchmarks_,
            centre=centre,
            scale=scale,
            pools=self.pools_,
            pool=np.where(known, 0, 1).astype(np.intp),
            floor=self.floor_,
            ceiling=self.ceiling_,
            link=self.link,
            drift=drift if self.drift > 0 else None,
        )

    def decades_above(self, x: NDArray[np.float64], families: Sequence[str]) -> NDArray[np.float64]:
        """How far each model (log10 compute ``x``, its family) lies above what was fitted: the
        decades above its family's largest fitted model, or above the largest fitted model of
        all for a new family; 0 inside the fitted range. The band widens with it."""
        top = self.x_.max()
        return np.array(
            [
                max(float(xi) - (self.core_.x_max[f] if f in self.core_.fam_a else top), 0.0)
                for xi, f in zip(x, families, strict=True)
            ]
        )

    def predict_table(self, table: ModelTable) -> DownstreamForecast:
        """:meth:`predict` for every model of ``table`` (its scores are not used)."""
        return self.predict(
            list(table.family), table.params, table.tokens, table.flops, model=table.model
        )

    # ------------------------------------------------------------ emergence

    def emergence(
        self,
        *,
        margin: float = 0.1,
        level: float = 0.9,
        max_flops: float = 1e28,
        resolve: float = 10.0,
    ) -> list[Emergence]:
        """For each benchmark: has it left chance, and at what compute will it (a mean family)?

        ``threshold = c + margin * (ceiling - c)``, ``c`` the chance level given (else the
        floor; the fitted floor may sit lower when scores fall below chance, the threshold does
        not follow it). A benchmark whose fitted models all
        sit below it gets ``"forecast"`` only when the scores rise with compute within families
        beyond noise (t > 3), the median forecast crosses the threshold below ``max_flops``, and
        the ``level`` interval of that compute is bounded and lies within a factor ``resolve``
        of it on both sides (the forecast's own band says it knows the compute to that factor;
        ``resolve=inf`` drops this test). Otherwise ``"cannot tell yet"``, with the reason in
        :attr:`Emergence.reason`. The forecast is the skills model's alone: the per-benchmark
        line (see :mod:`.downstream_lines`) through scores still at chance says nothing about
        when they leave it.
        """
        self._require_fit()
        if not (0.0 < margin < 1.0):
            raise parameter_error(
                "margin", "DownstreamScaling.emergence", "a float in (0, 1)", margin
            )
        if not (isinstance(resolve, int | float) and float(resolve) > 1.0):
            raise parameter_error("resolve", "DownstreamScaling.emergence", "a float > 1", resolve)
        grid = np.arange(self.x_.min(), np.log10(max_flops) + 1e-9, 0.02)
        weights, self.line_weight_ = self.line_weight_, np.zeros(len(self.benchmarks_))
        wnew, self.line_weight_new_ = self.line_weight_new_, np.zeros(len(self.benchmarks_))
        try:
            fc = self.predict(
                ["\x00new"] * grid.size, np.ones(grid.size), np.ones(grid.size), 10**grid
            )
        finally:
            self.line_weight_, self.line_weight_new_ = weights, wnew
        med = fc.median
        lo, hi = fc.interval(level)
        out = []
        nan = float("nan")
        for j, b in enumerate(self.benchmarks_):
            lo_j = max(float(self.chance_[j]), float(self.floor_[j]))  # chance, not the floor
            thr = lo_j + margin * (float(self.ceiling_[j]) - lo_j)
            s = self.S_[:, j]
            t = _within_t(self.x_, self.family_, s)
            if np.nanmax(s) >= thr:
                out.append(Emergence(b, "above chance", thr, nan, nan, nan, t))
                continue
            cross = _first(grid, med[:, j], thr)
            if t <= 3.0:
                why = f"no rise with compute beyond noise within families (t = {t:.1f} <= 3)"
                out.append(Emergence(b, "cannot tell yet", thr, nan, nan, nan, t, why))
                continue
            if not np.isfinite(cross):
                why = f"the median forecast stays below the threshold up to {max_flops:.3g} FLOPs"
                out.append(Emergence(b, "cannot tell yet", thr, nan, nan, nan, t, why))
                continue
            c_lo, c_hi = _first(grid, hi[:, j], thr), _first(grid, lo[:, j], thr)
            wide = max(c_hi - cross, cross - c_lo) > np.log10(resolve) + 1e-9
            if np.isfinite(resolve) and (wide or not np.isfinite(c_hi)):
                why = (
                    f"the median crosses at {10**cross:.2g} FLOPs but its {100 * level:g}% "
                    f"interval [{10**c_lo:.2g}, {10**c_hi:.2g}] is wider than a factor "
                    f"{resolve:g} either side"
                )
                out.append(Emergence(b, "cannot tell yet", thr, nan, nan, nan, t, why))
                continue
            out.append(Emergence(b, "forecast", thr, 10**cross, 10**c_lo, 10**c_hi, t))
        return out


def _mae(pred: NDArray, truth: NDArray | float) -> float:
    e = np.abs(pred - truth)
    e = e[np.isfinite(e)]
    return float(e.mean()) if e.size else float("inf")


def _first(grid: NDArray, y: NDArray, thr: float) -> float:
    above = np.flatnonzero(y >= thr)
    return float(grid[above[0]]) if above.size else float("inf")


def _scale_fit(e: NDArray, d: NDArray) -> tuple[float, float]:
    """``|e| ~ s0 + s1 d`` with ``s1 >= 0``, both by least squares on the backtest errors ``e``
    (not centred: their bias is part of the error) at distances ``d``, both ``(n,)``."""
    a = np.abs(e)
    if np.ptp(d) > 0:
        s1, s0 = np.polyfit(d, a, 1)
        if s1 < 0 or s0 <= 0:
            s0, s1 = float(a.mean()), 0.0
    else:
        s0, s1 = float(a.mean()), 0.0
    s0 = max(float(s0), 1e-3)
    return s0 / s0, float(s1) / s0  # errors are divided by s0 + s1 d, so only the ratio matters


def _within_t(x: NDArray, family: list[str], s: NDArray) -> float:
    """t-statistic of the slope of ``s`` on ``x`` with a separate intercept per family."""
    fam = np.asarray(family)
    ok = np.isfinite(s)
    sxy = sxx = sse_raw = 0.0
    groups = [np.flatnonzero((fam == f) & ok) for f in dict.fromkeys(family)]
    groups = [g for g in groups if g.size]
    for g in groups:
        dx = x[g] - x[g].mean()
        dy = s[g] - s[g].mean()
        sxy += float(dx @ dy)
        sxx += float(dx @ dx)
        sse_raw += float(dy @ dy)
    if sxx <= 1e-12:
        return 0.0
    b = sxy / sxx
    dof = max(int(ok.sum()) - len(groups) - 1, 1)
    s2 = max(sse_raw - b * sxy, 1e-12) / dof
    return float(b / np.sqrt(s2 / sxx))
