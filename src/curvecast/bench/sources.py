"""Real learning curves for the benchmark: nine suites, loaded as :class:`~curvecast.Curve` lists.

=====================  ==========================  ================  =====================  =====
suite                  task (one search)           config            axis, metric           dir.
=====================  ==========================  ================  =====================  =====
``lcdb``               OpenML dataset id           learner           training-set size,     max
                                                                     validation accuracy
``lcbench-surrogate``  OpenML task id              sampled config    epoch 1..52,           max
                                                                     val. accuracy
``scanbench-vlm``      ``text{w}-vision{w}``       config_id         epoch, val. loss       min
``scanbench-llm``      FLOPs bin (``bin_0``..)     config_id         tokens, val. loss      min
``schedules``          model and optimiser         run               step, val. loss        min
``sklearn-mlp``        model, optimiser, dataset   config            epoch 1..30,           max
                                                                     val. accuracy
``heldout-lm``         text and model size         run               step, val. loss        min
``heldout-gbm``        learner and dataset         config            boosting round,        min
                                                                     val. log-loss or l2
``heldout-rl``         algorithm and environment   config and seed   env. step,             max
                                                                     eval. return
=====================  ==========================  ================  =====================  =====

Curves of one task are the configurations of one search, compared by rank. Every curve's ``meta``
holds "suite", "task", "config", "axis", "metric" and "source", plus the suite's extras below.
Accuracies are fractions in [0, 1] (``bounds=(0, 1)``); losses have ``bounds=(0, inf)``; RL
returns have no bounds (``bounds=(-inf, inf)``).

* **lcdb** (LCDB 1.0, Mohr et al. 2022, MIT): one curve per (dataset, learner). The runs of all
  (outer, inner) seeds, usually 5 x 5, are averaged at each training-set size; a size measured by
  fewer than half as many runs as the curve's best-covered size is dropped (0.5% of points: odd
  seeds whose full-size anchor differs). Extras: "openmlid", "learner", "n_seeds" (runs averaged).
* **lcbench-surrogate** (YAHPO Gym's ONNX surrogate of LCBench, Apache-2.0; say "surrogate LCBench"
  wherever a result comes from it): configurations drawn from the YAHPO config space with ``seed``
  (log-uniform where it says ``log``; an integer is a rounded draw on [lo - 0.5, hi + 0.5]), one
  curve per (task, configuration) over epochs 1..52. The surrogate's percent is divided by 100 and
  clipped to [0, 1]. Without ``limit`` each of the 34 tasks gets :data:`LCBENCH_CONFIGS_PER_TASK`
  configurations. Config ids are ``"s{seed}-{k}"``: the k-th draw of that seed for that task, the
  same whatever ``limit`` is. Extras: "hyperparameters".
* **scanbench-vlm** (ScAn-Bench 0.2.3, MIT; OpenCLIP runs): validation loss per epoch. A task is a
  model shape (text width, vision width), so a task's configurations differ only in optimiser
  settings and epoch budget. ScAn-Bench flags the epoch where a run diverged (``epoch_diverged``)
  and records a capped or partial loss there (often 5.0); that point becomes NaN, so
  ``Curve.diverged`` is True and the run is kept (the raw value is in "diverged_value").
  Extras: "diverged_epoch", "diverged_value", "total_epochs", "mparams", "hyperparameters".
* **scanbench-llm** (ScAn-Bench 0.2.3; LLMs of 16M to 1B parameters): validation loss against
  tokens seen, train and test splits together. A task is ScAn-Bench's own ``flops_bin``: runs with
  the same compute budget, whose final losses are what a search at that budget compares. A few runs
  log the same token count twice (resumed runs); only the first of such points is kept
  ("dropped_points" counts the rest). Extras: "split", "n_param", "total_compute", "dropped_points",
  "hyperparameters".

* **schedules** (curvecast's own, MIT; ``scripts/make_schedule_suite.py``, shipped in the
  package as ``curvecast/data/schedule_suite.json.gz``, so nothing is fetched): small CPU runs
  (MLPs on scikit-learn's digits, a character-level transformer) under known learning-rate
  schedules (constant, step, cosine, linear, WSD; with and without warm-up), several peak rates
  per task. Every curve's ``meta["schedule"]`` holds the schedule it was trained with (a
  :class:`curvecast.Schedule` spec), which :func:`curvecast.forecast_curve` uses. Extras:
  "schedule", "seed", "hyperparameters".
* **sklearn-mlp** (curvecast's own, MIT; ``scripts/make_mlp_suite.py``, shipped as
  ``curvecast/data/mlp_suite.json.gz``): the search of ``scripts/user_search.py`` run to the end
  for random configurations, held out from every tuning: scikit-learn MLPs trained with
  ``partial_fit`` for 30 epochs on the bundled digits (Adam; SGD with momentum) and breast-cancer
  (Adam) data, 120 configurations per task, validation accuracy after every epoch. A run whose
  weights blew up is NaN from there on (``Curve.diverged``). Extras: "seed" (the model's
  ``random_state``), "hyperparameters".

**Held-out suites.** The three ``heldout-*`` suites (:data:`HELDOUT_SUITES`; curvecast's own,
MIT, shipped gzipped in the package like ``sklearn-mlp``) are real CPU runs made for judging
curvecast and never for tuning it: report them apart from the suites above (docs/benchmarks.md).

* **heldout-lm** (``scripts/make_lm_suite.py``, ``curvecast/data/lm_suite.json.gz``): tiny
  byte-level transformer LMs on texts that ship with Python (the ``asyncio`` sources; the
  ``pydoc`` topics), validation loss every 10 steps, constant, cosine and WSD schedules, peak
  rates over two decades, budgets of 200 and 400 steps mixed in each search. Extras:
  "schedule" (the :class:`curvecast.Schedule` spec the run followed), "seed", "hyperparameters".
* **heldout-gbm** (``scripts/make_gbm_suite.py``, ``curvecast/data/gbm_suite.json.gz``):
  scikit-learn HistGradientBoosting and LightGBM on bundled datasets (digits, breast cancer,
  wine; diabetes for regression), validation log-loss or unscaled l2 every 10 rounds, learning
  rates over two decades, so many runs overfit (U-shaped curves). Extras: "loss" ("log-loss" or
  "l2"), "seed", "hyperparameters".
* **heldout-rl** (``scripts/make_rl_suite.py``, ``curvecast/data/rl_suite.json.gz``):
  stable-baselines3 PPO and A2C on gymnasium's CartPole-v1, evaluation return (4 deterministic
  episodes) every 500 environment steps, random hyperparameters, two seeds per configuration
  (config ids ``c{k}-s{seed}``). Extras: "seed", "hyperparameters".

Curves with fewer than ``min_points`` points (3 by default; a diverged point counts) are dropped:
:func:`describe_suite` reports how many, and how many of them diverged, and :func:`load_suite` logs
the same line at INFO level on the ``curvecast.bench`` logger.

Where the files come from (``data_dir`` or a download into the cache) is described in
:mod:`curvecast.bench._fetch`.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curvecast.bench import _fetch
from curvecast.curves import Curve
from curvecast.exceptions import DataSourceError, parameter_error

__all__ = [
    "HELDOUT_SUITES",
    "LCBENCH_CONFIGS_PER_TASK",
    "MIN_POINTS",
    "SUITES",
    "SuiteSummary",
    "describe_suite",
    "load_suite",
]

SUITES: tuple[str, ...] = (
    "lcdb",
    "lcbench-surrogate",
    "scanbench-vlm",
    "scanbench-llm",
    "schedules",
    "sklearn-mlp",
    "heldout-lm",
    "heldout-gbm",
    "heldout-rl",
)
#: The suites made for judging curvecast and never for tuning it: report them apart.
HELDOUT_SUITES: tuple[str, ...] = ("heldout-lm", "heldout-gbm", "heldout-rl")
#: Curves with fewer points than this are dropped (and counted) unless ``min_points`` says else.
MIN_POINTS = 3
#: Configurations per task that ``lcbench-surrogate`` draws when no ``limit`` is given.
LCBENCH_CONFIGS_PER_TASK = 25

_log = logging.getLogger("curvecast.bench")

_ACCURACY = ("maximize", (0.0, 1.0))
_LOSS = ("minimize", (0.0, None))
_RETURN = ("maximize", (None, None))


@dataclass(frozen=True)
class _Record:
    """One curve before it becomes a Curve: x, y of shape ``(n,)`` and the suite's meta extras."""

    task: str
    config: str
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def diverged(self) -> bool:
        with np.errstate(invalid="ignore"):
            return bool(np.any(~np.isfinite(self.y) | (np.abs(self.y) > 1e12)))


@dataclass(frozen=True)
class SuiteSummary:
    """Counts for one suite as loaded (no ``limit``): what a benchmark report should print.

    Example:
        >>> s = SuiteSummary("lcdb", 10, 2, 3, 14.0, 20, 1, 4, 1)
        >>> str(s).split(":")[0]
        'lcdb'
    """

    suite: str
    curves: int
    tasks: int
    points_min: int
    points_median: float
    points_max: int
    diverged: int
    dropped_short: int
    dropped_short_diverged: int

    def __str__(self) -> str:
        return (
            f"{self.suite}: {self.curves} curves over {self.tasks} tasks, "
            f"{self.points_min}/{self.points_median:g}/{self.points_max} points (min/median/max), "
            f"{self.diverged} diverged; dropped {self.dropped_short} with too few points "
            f"({self.dropped_short_diverged} of them diverged)"
        )


def load_suite(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    min_points: int = MIN_POINTS,
    tasks: int | None = None,
    task_names: Collection[str] | None = None,
) -> list[Curve]:
    """Load a benchmark suite as curves, grouped by task in a stable order.

    Args:
        name: one of :data:`SUITES`.
        data_dir: a folder laid out like the shared data folder (``lcdb/lcdb-accuracy.parquet``,
            ``yahpo_lcbench/...``, ``scan_bench/...``); nothing is downloaded when given.
        limit: at most this many curves, spread over tasks: tasks are visited round-robin in an
            order drawn from ``seed``, each giving its next configuration (also drawn from
            ``seed``), until ``limit`` curves are chosen or all are. None keeps all. The curves
            chosen for a limit are among those chosen for any larger limit.
        seed: drives the task order, the choice within tasks and the lcbench-surrogate draws.
        cache_dir: where downloads go when ``data_dir`` is None; default ``$CURVECAST_CACHE``
            or ``~/.cache/curvecast``.
        min_points: curves with fewer points are dropped (and counted, see
            :func:`describe_suite`).
        tasks: keep at most this many tasks (drawn from ``seed``) before ``limit`` is spread
            over them, so that each task keeps several configurations to rank (LCDB has 248
            datasets: ``limit=200`` alone gives one learner per dataset). For
            lcbench-surrogate, ``limit`` sets how many configurations are drawn over all 34
            tasks before this cut.
        task_names: keep only the tasks of these names (as ``meta["task"]`` reads), before
            ``tasks`` applies; None keeps all. For most suites ``limit`` is then spread over the
            named tasks; lcbench-surrogate draws ``limit`` over all 34 tasks first (so each
            named task keeps the configurations it has in the whole suite) and evaluates its
            surrogate for the named tasks only.

    Returns:
        A list of Curve; each has ``x, y`` of shape ``(n_i,)`` with ``n_i >= min_points`` and the
        meta described in the module docstring.

    Raises:
        InvalidParameterError: unknown suite, or a bad ``limit``, ``seed`` or ``min_points``.
        DataSourceError: a file is missing under ``data_dir``, or cannot be fetched or verified.
        MissingDependencyError: pandas, pyarrow or onnxruntime is missing.

    Example:
        >>> curves = load_suite("lcdb", data_dir="../shared/data", limit=5)  # doctest: +SKIP
        >>> sorted(curves[0].meta)[:3]  # doctest: +SKIP
        ['axis', 'config', 'learner']
    """
    only = None
    if task_names is not None:
        try:
            names = None if isinstance(task_names, str) else list(task_names)
        except TypeError:
            names = None
        if not names or not all(isinstance(t, str) for t in names):
            raise parameter_error(
                "task_names", "load_suite", "a non-empty collection of task names (strings)",
                task_names,
            )  # fmt: skip
        only = frozenset(names)
    kept, short = _load_records(name, data_dir, cache_dir, limit, seed, min_points, only)
    if only is not None:
        absent = sorted(only - {r.task for r in (*kept, *short)}, key=_natural_key)
        if absent:
            raise parameter_error(
                "task_names", "load_suite",
                f"names of {name} tasks that have curves here (none for {absent}: not a task "
                "of the suite, or no configuration of it drawn under this limit)",
                task_names,
            )  # fmt: skip
    if tasks is not None:
        if not _is_int(tasks) or tasks < 1:
            raise parameter_error("tasks", "load_suite", "a positive integer or None", tasks)
        names = sorted({r.task for r in kept}, key=_natural_key)
        if len(names) > tasks:
            pick = np.random.default_rng([seed, 0x7A5]).choice(len(names), tasks, replace=False)
            keep = {names[i] for i in pick}
            kept = [r for r in kept if r.task in keep]
    chosen = _stratify([r.task for r in kept], limit, seed)
    n_div = sum(r.diverged for r in short)
    _log.info(
        "%s: %d of %d usable curves chosen over %d tasks; dropped %d with fewer than %d points "
        "(%d of them diverged)",
        name, len(chosen), len(kept), len({r.task for r in kept}), len(short), min_points, n_div,
    )  # fmt: skip
    spec = _SPECS[name]
    return [_to_curve(name, spec, kept[i]) for i in chosen]


def describe_suite(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    min_points: int = MIN_POINTS,
) -> SuiteSummary:
    """Counts for a whole suite (no limit): curves, tasks, points per curve, diverged, dropped.

    Arguments and errors are those of :func:`load_suite`.
    """
    kept, short = _load_records(name, data_dir, cache_dir, None, seed, min_points)
    sizes = np.array([r.x.size for r in kept]) if kept else np.zeros(1, dtype=int)
    return SuiteSummary(
        suite=name,
        curves=len(kept),
        tasks=len({r.task for r in kept}),
        points_min=int(sizes.min()),
        points_median=float(np.median(sizes)),
        points_max=int(sizes.max()),
        diverged=sum(r.diverged for r in kept),
        dropped_short=len(short),
        dropped_short_diverged=sum(r.diverged for r in short),
    )


# ---------------------------------------------------------------------------------------------


def _load_records(
    name: str,
    data_dir: str | os.PathLike[str] | None,
    cache_dir: str | os.PathLike[str] | None,
    limit: int | None,
    seed: int,
    min_points: int,
    only: frozenset[str] | None = None,
) -> tuple[list[_Record], list[_Record]]:
    """Validate the arguments, read the suite (the tasks named in ``only``; None: all), split
    it into (kept, too short)."""
    if not isinstance(name, str) or name not in _SPECS:
        raise parameter_error("name", "load_suite", f"one of {', '.join(SUITES)}", name)
    if limit is not None and (not _is_int(limit) or limit < 1):
        raise parameter_error("limit", "load_suite", "a positive integer or None", limit)
    if not _is_int(seed) or seed < 0:
        raise parameter_error("seed", "load_suite", "a non-negative integer", seed)
    if not _is_int(min_points) or min_points < 1:
        raise parameter_error("min_points", "load_suite", "a positive integer", min_points)
    spec = _SPECS[name]
    root = _fetch.resolve_root(spec.files, data_dir=data_dir, cache_dir=cache_dir)
    if only is not None and spec.read_some is not None:
        records = spec.read_some(root, limit, seed, only)
    else:
        records = spec.read(root, limit, seed)
    if only is not None:
        records = [r for r in records if r.task in only]
    kept = [r for r in records if r.x.size >= min_points]
    short = [r for r in records if r.x.size < min_points]
    return kept, short


_INT_HPS = frozenset({"d_model", "n_layers", "n_heads", "global_batch_size"})


def _num(name: str, v: Any) -> int | float:
    """A JSON-ready hyperparameter value: int for sizes and counts, else float."""
    return int(v) if name in _INT_HPS else float(v)


def _is_int(v: object) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _to_curve(name: str, spec: _Spec, r: _Record) -> Curve:
    meta = {
        "suite": name,
        "task": r.task,
        "config": r.config,
        "axis": spec.axis,
        "metric": spec.metric,
        "source": spec.source,
        **r.extra,
    }
    return Curve(r.x, r.y, direction=spec.direction, bounds=spec.bounds, meta=meta)


def _round_robin_counts(
    sizes: Sequence[int | None], limit: int, rng: np.random.Generator
) -> list[int]:
    """How many curves each task gives: tasks visited in a random order, one at a time.

    ``sizes[t]`` is task t's number of curves (None: unbounded). Returns counts summing to
    ``min(limit, sum(sizes))``, each within its size, differing by at most one where sizes allow.
    """
    n = len(sizes)
    order = rng.permutation(n)
    counts = [0] * n
    left = limit
    while left > 0:
        progressed = False
        for t in order:
            size = sizes[t]
            if left > 0 and (size is None or counts[t] < size):
                counts[t] += 1
                left -= 1
                progressed = True
        if not progressed:
            break
    return counts


def _stratify(tasks: Sequence[str], limit: int | None, seed: int) -> list[int]:
    """Indices (ascending) of the curves chosen: see ``limit`` in :func:`load_suite`."""
    if limit is None or limit >= len(tasks):
        return list(range(len(tasks)))
    groups: dict[str, list[int]] = {}
    for i, t in enumerate(tasks):
        groups.setdefault(t, []).append(i)
    names = list(groups)
    rng = np.random.default_rng([seed, 0])
    counts = _round_robin_counts([len(groups[t]) for t in names], limit, rng)
    chosen: list[int] = []
    for t, k in zip(names, counts, strict=True):
        # drawn for every task whatever ``limit`` is, so that selections are nested in limit
        perm = rng.permutation(len(groups[t]))
        chosen.extend(groups[t][j] for j in perm[:k])
    return sorted(chosen)


# --------------------------------------------------------------------------------------------- #
# Readers: (root, limit, seed) -> records in a stable order (by task, then config).


def _natural_key(s: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", s))


def _runs(keys: NDArray[Any]) -> list[tuple[int, int]]:
    """(start, stop) of each run of equal consecutive ``keys``, shape ``(n,)``."""
    if keys.size == 0:
        return []
    cuts = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    starts = np.concatenate([[0], cuts])
    stops = np.concatenate([cuts, [keys.size]])
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def _read_csv(path: Path, columns: Sequence[str]) -> Any:
    pd = _fetch.require("pandas")
    try:
        return pd.read_csv(path, usecols=list(columns))
    except ValueError as exc:  # a column is missing: a different version of the file
        raise DataSourceError(f"{path} lacks a column the suite needs ({exc}).") from exc


def _read_lcdb(root: Path, limit: int | None, seed: int) -> list[_Record]:
    pd = _fetch.require("pandas")
    _fetch.require("pyarrow")
    path = root / _fetch.LCDB_FILE
    cols = ["openmlid", "learner", "size_train", "score_valid"]
    try:
        df = pd.read_parquet(path, columns=cols)
    except (ValueError, KeyError, OSError) as exc:
        raise DataSourceError(f"{path} cannot be read as LCDB ({exc}).") from exc
    g = df.groupby(["openmlid", "learner", "size_train"], observed=True)["score_valid"]
    agg = g.agg(["mean", "count"]).reset_index()
    agg["learner"] = agg["learner"].astype(str)
    agg = agg.sort_values(["openmlid", "learner", "size_train"], kind="stable")
    agg["n_seeds"] = agg.groupby(["openmlid", "learner"])["count"].transform("max")
    agg = agg[agg["count"] * 2 >= agg["n_seeds"]]
    key = agg["openmlid"].astype(str).to_numpy() + "|" + agg["learner"].to_numpy()
    x = agg["size_train"].to_numpy(np.float64)
    y = agg["mean"].to_numpy(np.float64)
    ids, learners = agg["openmlid"].to_numpy(), agg["learner"].to_numpy()
    n_seeds = agg["n_seeds"].to_numpy()
    return [
        _Record(
            task=str(ids[a]),
            config=str(learners[a]),
            x=x[a:b],
            y=y[a:b],
            extra={
                "openmlid": int(ids[a]),
                "learner": str(learners[a]),
                "n_seeds": int(n_seeds[a]),
            },
        )
        for a, b in _runs(key)
    ]


_VLM_HPS = ("lr", "wd", "beta1", "beta2", "eps", "warmup_fraction", "global_batch_size")


def _read_vlm(root: Path, limit: int | None, seed: int) -> list[_Record]:
    path = root / "scan_bench/vlm_data.csv"
    cols = ["config_id", "epoch", "val_loss", "epoch_diverged", "text_width", "vision_width"]
    df = _read_csv(path, [*cols, "total_epochs", "mparams", *_VLM_HPS])
    df = df.sort_values(["text_width", "vision_width", "config_id", "epoch"], kind="stable")
    cid = df["config_id"].to_numpy()
    epoch = df["epoch"].to_numpy(np.float64)
    loss = df["val_loss"].to_numpy(np.float64)
    div = df["epoch_diverged"].astype(bool).to_numpy()
    tw, vw = df["text_width"].to_numpy(), df["vision_width"].to_numpy()
    other = {c: df[c].to_numpy() for c in ("total_epochs", "mparams", *_VLM_HPS)}
    out = []
    for a, b in _runs(cid):
        y = loss[a:b].copy()
        hit = np.flatnonzero(div[a:b])
        diverged_epoch = diverged_value = None
        if hit.size:
            k = int(hit[0])
            diverged_epoch = int(epoch[a + k])
            raw = float(loss[a + k])
            diverged_value = raw if np.isfinite(raw) else None
            y[k:] = np.nan
        extra = {
            "diverged_epoch": diverged_epoch,
            "diverged_value": diverged_value,
            "total_epochs": int(other["total_epochs"][a]),
            "mparams": float(other["mparams"][a]),
            "hyperparameters": {h: _num(h, other[h][a]) for h in _VLM_HPS},
        }
        task = f"text{int(tw[a])}-vision{int(vw[a])}"
        out.append(_Record(task, str(cid[a]), epoch[a:b], y, extra))
    return out


_LLM_HPS: tuple[str, ...] = ("d_model", "n_layers", "n_heads", "lr", "weight_decay", "beta1")
_LLM_HPS += ("beta2", "cooldown_steps", "global_batch_size")


def _read_llm(root: Path, limit: int | None, seed: int) -> list[_Record]:
    pd = _fetch.require("pandas")
    cols = ["config_id", "eval_step", "tokens_so_far", "valid_loss", "flops_bin"]
    cols += ["n_param", "total_compute", *_LLM_HPS]
    parts = []
    for split in ("train", "test"):
        part = _read_csv(root / f"scan_bench/llm_{split}_split.csv", cols)
        parts.append(part.assign(split=split))
    df = pd.concat(parts, ignore_index=True)
    df["_bin"] = df["flops_bin"].astype(str).map(_natural_key)
    df["_cid"] = df["config_id"].astype(str).map(_natural_key)
    df = df.sort_values(["_bin", "_cid", "eval_step"], kind="stable")
    cid = df["config_id"].astype(str).to_numpy()
    tokens = df["tokens_so_far"].to_numpy(np.float64)
    loss = df["valid_loss"].to_numpy(np.float64)
    cols_np = {c: df[c].to_numpy() for c in ("flops_bin", "split", "n_param", "total_compute")}
    hps = {h: df[h].to_numpy() for h in _LLM_HPS}
    out = []
    for a, b in _runs(cid):
        t = tokens[a:b]
        keep = np.concatenate([[True], t[1:] > np.maximum.accumulate(t)[:-1]])
        extra = {
            "split": str(cols_np["split"][a]),
            "n_param": int(cols_np["n_param"][a]),
            "total_compute": float(cols_np["total_compute"][a]),
            "dropped_points": int((~keep).sum()),
            "hyperparameters": {h: _num(h, hps[h][a]) for h in _LLM_HPS},
        }
        task = str(cols_np["flops_bin"][a])
        out.append(_Record(task, cid[a], t[keep], loss[a:b][keep], extra))
    return out


# x_cont column order of the YAHPO LCBench network (epoch first).
_LCB_CONT: tuple[str, ...] = ("epoch", "batch_size", "learning_rate", "momentum", "weight_decay")
_LCB_CONT += ("num_layers", "max_units", "max_dropout")
_LCB_EPOCHS = np.arange(1, 53, dtype=np.float64)


def _open_session(path: Path) -> Any:
    """An onnxruntime session on the CPU (tests replace this with a fake)."""
    rt = _fetch.require("onnxruntime")
    try:
        return rt.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise DataSourceError(f"{path} cannot be loaded by onnxruntime ({exc}).") from exc


def _sample_hps(specs: dict[str, dict[str, Any]], u: NDArray[np.float64]) -> NDArray[np.float64]:
    """Map uniforms ``u`` of shape ``(k, 7)`` to the 7 hyperparameters after "epoch", ``(k, 7)``."""
    out = np.empty_like(u)
    for j, hp in enumerate(_LCB_CONT[1:]):
        s = specs[hp]
        lo, hi, log = float(s["lower"]), float(s["upper"]), bool(s.get("log", False))
        is_int = s["type"] == "uniform_int"
        if is_int:
            lo, hi = lo - 0.5, hi + 0.5
        v = (
            np.exp(np.log(lo) + u[:, j] * (np.log(hi) - np.log(lo)))
            if log
            else lo + u[:, j] * (hi - lo)
        )
        out[:, j] = np.clip(np.rint(v), s["lower"], s["upper"]) if is_int else v
    return out


def _read_lcbench(
    root: Path, limit: int | None, seed: int, only: frozenset[str] | None = None
) -> list[_Record]:
    """Sample configurations per task and evaluate the surrogate on them (for the tasks in
    ``only``; None: all). A task's draws depend on the seed and its index only."""
    folder = root / "yahpo_lcbench"
    try:
        space = json.loads((folder / "config_space.json").read_text())
        codes = json.loads((folder / "encoding.json").read_text())["OpenML_task_id"]
        specs = {h["name"]: h for h in space["hyperparameters"]}
        tasks = sorted(specs["OpenML_task_id"]["choices"], key=int)
        missing = [t for t in tasks if t not in codes] + [h for h in _LCB_CONT if h not in specs]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataSourceError(
            f"{folder} does not hold a YAHPO LCBench config space ({exc})."
        ) from exc
    if missing:
        raise DataSourceError(f"{folder}: encoding/config space disagree, missing {missing}.")
    if limit is None:
        counts = [LCBENCH_CONFIGS_PER_TASK] * len(tasks)
    else:
        rng = np.random.default_rng([seed, 0])
        counts = _round_robin_counts([None] * len(tasks), limit, rng)
    n_ep = _LCB_EPOCHS.size
    hp_rows: list[NDArray[np.float64]] = []
    cat_rows: list[NDArray[np.int64]] = []
    labels: list[tuple[str, int]] = []
    for i, (task, k) in enumerate(zip(tasks, counts, strict=True)):
        if k == 0 or (only is not None and task not in only):
            continue
        # one stream per (seed, task); rows are drawn in order, so draw k is the same for any limit
        u = np.random.default_rng([seed, 1, i]).random((k, len(_LCB_CONT) - 1))
        hp_rows.append(_sample_hps(specs, u))
        cat_rows.append(np.full(k, int(codes[task])))
        labels.extend((task, j) for j in range(k))
    if not labels:
        return []
    hps = np.concatenate(hp_rows)
    n = hps.shape[0]
    x_cont = np.column_stack([np.tile(_LCB_EPOCHS, n), np.repeat(hps, n_ep, axis=0)])
    x_cat = np.repeat(np.concatenate(cat_rows), n_ep)[:, None]
    sess = _open_session(folder / "model.onnx")
    pred = sess.run(None, {"x_cat": x_cat.astype(np.int32), "x_cont": x_cont.astype(np.float32)})
    acc = np.asarray(pred[0], dtype=np.float64)[:, 1].reshape(n, n_ep)
    acc = np.clip(acc / 100.0, 0.0, 1.0)
    out = []
    for r, (task, j) in enumerate(labels):
        hp = {h: float(v) for h, v in zip(_LCB_CONT[1:], hps[r], strict=True)}
        for h in ("batch_size", "num_layers", "max_units"):
            hp[h] = int(hp[h])
        out.append(_Record(task, f"s{seed}-{j}", _LCB_EPOCHS, acc[r], {"hyperparameters": hp}))
    return out


SCHEDULE_SUITE_FILE = "data/schedule_suite.json.gz"


def _read_shipped(suite: str, file: str, script: str) -> Any:
    """The JSON document of a suite shipped gzipped in the package (``file`` under it)."""
    import gzip
    from importlib import resources

    res = resources.files("curvecast").joinpath(file)
    try:
        return json.loads(gzip.decompress(res.read_bytes()).decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise DataSourceError(
            f"The {suite} suite ({file} in the curvecast package) cannot be read ({exc}); "
            f"reinstall curvecast or regenerate it with {script}."
        ) from exc


def _read_schedules(root: Path, limit: int | None, seed: int) -> list[_Record]:
    """The shipped ``schedules`` suite (``root`` is unused: the data is in the package)."""
    doc = _read_shipped("schedules", SCHEDULE_SUITE_FILE, "scripts/make_schedule_suite.py")
    out = []
    for run in sorted(doc["runs"], key=lambda r: (_natural_key(r["task"]), r["config"])):
        y = np.array([np.nan if v is None else v for v in run["y"]], dtype=np.float64)
        extra = {"schedule": run["schedule"], "seed": run["seed"]}
        extra["hyperparameters"] = run["hyperparameters"]
        x = np.asarray(run["x"], dtype=np.float64)
        out.append(_Record(run["task"], run["config"], x, y, extra))
    return out


MLP_SUITE_FILE = "data/mlp_suite.json.gz"


def _read_mlp_suite(root: Path, limit: int | None, seed: int) -> list[_Record]:
    """The shipped ``sklearn-mlp`` suite (``root`` is unused: the data is in the package)."""
    doc = _read_shipped("sklearn-mlp", MLP_SUITE_FILE, "scripts/make_mlp_suite.py")
    out = []
    for run in sorted(doc["runs"], key=lambda r: (r["task"], r["config"])):
        y = np.array([np.nan if v is None else v for v in run["y"]], dtype=np.float64)
        extra = {"seed": run["seed"], "hyperparameters": run["hyperparameters"]}
        x = np.asarray(run["x"], dtype=np.float64)
        out.append(_Record(run["task"], run["config"], x, y, extra))
    return out


LM_SUITE_FILE = "data/lm_suite.json.gz"
GBM_SUITE_FILE = "data/gbm_suite.json.gz"
RL_SUITE_FILE = "data/rl_suite.json.gz"
#: The extras each held-out suite's runs carry into ``meta`` (besides seed and hyperparameters).
_HELDOUT_EXTRAS = {"heldout-lm": ("schedule",), "heldout-gbm": ("loss",), "heldout-rl": ()}


def _read_heldout(suite: str, file: str, script: str) -> list[_Record]:
    """A shipped held-out suite's runs (a run's None values are NaN: the run diverged there)."""
    doc = _read_shipped(suite, file, script)
    out = []
    for run in sorted(doc["runs"], key=lambda r: (_natural_key(r["task"]), r["config"])):
        y = np.array([np.nan if v is None else v for v in run["y"]], dtype=np.float64)
        extra = {k: run[k] for k in _HELDOUT_EXTRAS[suite]}
        extra["seed"] = run["seed"]
        extra["hyperparameters"] = run["hyperparameters"]
        x = np.asarray(run["x"], dtype=np.float64)
        out.append(_Record(run["task"], run["config"], x, y, extra))
    return out


def _read_lm_suite(root: Path, limit: int | None, seed: int) -> list[_Record]:
    """The shipped ``heldout-lm`` suite (``root`` is unused: the data is in the package)."""
    return _read_heldout("heldout-lm", LM_SUITE_FILE, "scripts/make_lm_suite.py")


def _read_gbm_suite(root: Path, limit: int | None, seed: int) -> list[_Record]:
    """The shipped ``heldout-gbm`` suite (``root`` is unused: the data is in the package)."""
    return _read_heldout("heldout-gbm", GBM_SUITE_FILE, "scripts/make_gbm_suite.py")


def _read_rl_suite(root: Path, limit: int | None, seed: int) -> list[_Record]:
    """The shipped ``heldout-rl`` suite (``root`` is unused: the data is in the package)."""
    return _read_heldout("heldout-rl", RL_SUITE_FILE, "scripts/make_rl_suite.py")


@dataclass(frozen=True)
class _Spec:
    files: tuple[str, ...]
    read: Callable[[Path, int | None, int], list[_Record]]
    direction: str
    bounds: tuple[float | None, float | None]
    axis: str
    metric: str
    source: str
    #: reads only the named tasks, where that saves work (else ``read`` and a filter)
    read_some: Callable[[Path, int | None, int, frozenset[str]], list[_Record]] | None = None


_SPECS: dict[str, _Spec] = {
    "lcdb": _Spec(
        (_fetch.LCDB_FILE,), _read_lcdb, *_ACCURACY, "training-set size", "validation accuracy",
        "LCDB 1.0 (Mohr et al. 2022), PyPI lcdb==0.1.0, MIT",
    ),
    "lcbench-surrogate": _Spec(
        tuple(_fetch.YAHPO_FILES), _read_lcbench, *_ACCURACY, "epoch", "validation accuracy",
        "surrogate LCBench: YAHPO Gym ONNX model (slds-lmu/yahpo_data, lcbench/), Apache-2.0",
        _read_lcbench,
    ),
    "scanbench-vlm": _Spec(
        ("scan_bench/vlm_data.csv",), _read_vlm, *_LOSS, "epoch", "validation loss",
        "ScAn-Bench 0.2.3 OpenCLIP runs, PyPI scan-bench==0.2.3, MIT",
    ),
    "scanbench-llm": _Spec(
        ("scan_bench/llm_train_split.csv", "scan_bench/llm_test_split.csv"), _read_llm, *_LOSS,
        "tokens", "validation loss", "ScAn-Bench 0.2.3 LLM runs, PyPI scan-bench==0.2.3, MIT",
    ),
    "schedules": _Spec(
        (), _read_schedules, *_LOSS, "step", "validation loss",
        "curvecast schedules suite (scripts/make_schedule_suite.py), MIT",
    ),
    "sklearn-mlp": _Spec(
        (), _read_mlp_suite, *_ACCURACY, "epoch", "validation accuracy",
        "curvecast sklearn-mlp suite (scripts/make_mlp_suite.py), MIT",
    ),
    "heldout-lm": _Spec(
        (), _read_lm_suite, *_LOSS, "step", "validation loss",
        "curvecast heldout-lm suite (scripts/make_lm_suite.py), MIT; held out",
    ),
    "heldout-gbm": _Spec(
        (), _read_gbm_suite, *_LOSS, "boosting round", "validation loss",
        "curvecast heldout-gbm suite (scripts/make_gbm_suite.py), MIT; held out",
    ),
    "heldout-rl": _Spec(
        (), _read_rl_suite, *_RETURN, "environment step", "evaluation return",
        "curvecast heldout-rl suite (scripts/make_rl_suite.py), MIT; held out",
    ),
}  # fmt: skip
