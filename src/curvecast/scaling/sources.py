"""The public scaling sweeps, read from a data root laid out like the project's shared folder.

=================  ==========================================================================
name               what one run is
=================  ==========================================================================
``mlfoundations``  Gadre et al.: one of 104 models (11M-6.9B params x 0.25-32x Chinchilla
                   tokens x 3 data sets; group = data set); loss on C4 eval (``val``); extras
                   ``err_avg`` (46 tasks), ``err_avg_subset`` (17 tasks), ``cc_mult``
``formll``         Porian et al.: one iso-FLOP point (12 budgets 1.25e16-2.56e19); group = one
                   of their 15 settings (data set, warmup, decay, hparams, parameter count)
``scan_llm``       ScAn-Bench LLM: one of 1,194 configs (16M-1B params, random hyperparameters)
                   at its last checkpoint; ``curves`` also gives every checkpoint
``scan_vlm``       ScAn-Bench OpenCLIP: one of 1,500 configs at its final epoch (D = samples)
``obsscaling``     Ruan et al.: one public base LLM (group = family); ``loss`` is the mean
                   error over six benchmarks (MMLU, ARC-C, HellaSwag, Winograd, TruthfulQA,
                   GSM8K), each also an extra ``err_<name>``
=================  ==========================================================================

:func:`load_public_sweep` finds or fetches the files (see :mod:`curvecast.bench._fetch`): with
``data_dir`` it reads that folder and downloads nothing; without it it fills a cache the way a
user would (PyPI for ScAn-Bench, the authors' GitHub repositories for the others, each file
checked against a pinned sha256). Runs without a usable loss (diverged, unfinished, unknown
size) are dropped and counted in :attr:`PublicSweep.dropped`.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from curvecast.exceptions import DataSourceError, UnknownMethodError
from curvecast.scaling.sweep import Sweep

__all__ = ["PUBLIC_SWEEPS", "PublicSweep", "load_public_sweep", "with_checkpoints"]

#: Gadre et al.'s 17-task split (scaling/constants.py, SUBSET).
MLF_SUBSET = (
    "bigbench_operators",
    "pubmed_qa_labeled",
    "hellaswag_zeroshot",
    "boolq",
    "arc_easy",
    "coqa",
    "bigbench_dyck_languages",
    "lambada_openai",
    "bigbench_novel_concepts",
    "winograd",
    "bigbench_cs_algorithms",
    "commonsense_qa",
    "bigbench_qa_wikidata",
    "hellaswag",
    "copa",
    "squad",
    "piqa",
)
OBS_BENCHMARKS = ("MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "GSM8K")

#: data-root files each sweep needs (what the fetchers produce).
PUBLIC_FILES: dict[str, tuple[str, ...]] = {
    "mlfoundations": ("mlfoundations_scaling/exp_data/eval_metadata.csv",),
    "formll": ("formll_isoflop/isoflop_points.csv", "formll_isoflop/optimal_pairs.csv"),
    "scan_llm": ("scan_bench/llm_train_split.csv", "scan_bench/llm_test_split.csv"),
    "scan_vlm": ("scan_bench/vlm_data.csv",),
    "obsscaling": ("obsscaling/eval_results/base_llm_benchmark_eval.csv",),
}
PUBLIC_SWEEPS = tuple(PUBLIC_FILES)


@dataclass(frozen=True)
class PublicSweep:
    """A public sweep: the runs, how many were dropped and why, and source-specific tables.

    ``tables`` holds what a benchmark needs beyond the runs: for ``formll`` the authors'
    per-budget optima (``optimal``: list of dicts with group, flops, n, loss); for ``scan_llm``
    every checkpoint (``curves``: config -> (tokens (k,), loss (k,))).
    """

    name: str
    sweep: Sweep
    dropped: int
    tables: dict[str, Any]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _num(v: Any) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return math.nan
    return x


def _mlfoundations(root: Path, val: str = "c4_val") -> PublicSweep:
    base = root / "mlfoundations_scaling" / "exp_data"
    models = sorted((base / "models").glob("*.json"))
    if not models:
        raise DataSourceError(
            f"No model files under {base / 'models'}: the folder must hold exp_data/models/*.json "
            "and exp_data/evals/*.json of github.com/mlfoundations/scaling."
        )
    recs, dropped = [], 0
    for path in models:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        hp = data["hyperparameters"]
        loss = math.nan
        for res in data["results"]:
            suffix = res["val_data"][0].split("/")[-2]
            if suffix == val:
                loss = float(res["loss"])
        ev_path = base / "evals" / f"evaluation_{path.stem}_heavy.json"
        err_avg = err_sub = math.nan
        if ev_path.is_file():
            with open(ev_path, encoding="utf-8") as f:
                icl = json.load(f)["eval_metrics"]["icl"]
            errs = {k: 1.0 - float(v) for k, v in icl.items()}
            err_avg = float(np.mean(list(errs.values())))
            sub = [errs[k] for k in MLF_SUBSET if k in errs]
            err_sub = float(np.mean(sub)) if len(sub) == len(MLF_SUBSET) else math.nan
        if not (math.isfinite(loss) and loss > 0):
            dropped += 1
            continue
        recs.append(
            {
                "name": data["name"],
                "group": data["dataset_name"],
                "N": float(hp["params"]),
                "D": float(hp["tokens"]),
                "loss": loss,
                "err_avg": err_avg,
                "err_avg_subset": err_sub,
                "cc_mult": float(hp["chinchilla_multiplier"]),
            }
        )
    return PublicSweep(
        "mlfoundations", _to_sweep(recs, ("err_avg", "err_avg_subset", "cc_mult")), dropped, {}
    )


def _to_sweep(recs: list[dict[str, Any]], extras: tuple[str, ...], with_c: bool = False) -> Sweep:
    def col(k: str) -> np.ndarray:
        return np.array([r[k] for r in recs], dtype=np.float64)

    return Sweep(
        N=col("N"),
        D=col("D"),
        C=col("C") if with_c else None,  # type: ignore[arg-type]  # None means 6ND
        loss=col("loss"),
        name=tuple(r["name"] for r in recs),
        group=tuple(r["group"] for r in recs),
        extra={k: col(k) for k in extras},
    )


_FORMLL_KEYS = ("source", "dataset", "hparams", "warmup", "decay", "param_count", "val")


def _formll(root: Path) -> PublicSweep:
    rows = _read_csv(root / "formll_isoflop" / "isoflop_points.csv")
    recs, dropped = [], 0
    for i, r in enumerate(rows):
        loss = _num(r["loss"])
        n, t, c = _num(r["n_params"]), _num(r["tokens"]), _num(r["flops"])
        if not all(math.isfinite(v) and v > 0 for v in (loss, n, t, c)):
            dropped += 1
            continue
        group = "/".join(r[k] for k in _FORMLL_KEYS)
        recs.append({"name": f"{group}#{i}", "group": group, "N": n, "D": t, "C": c, "loss": loss})
    optimal = []
    for r in _read_csv(root / "formll_isoflop" / "optimal_pairs.csv"):
        n, c, loss = _num(r["n"]), _num(r["flops"]), _num(r["loss"])
        if all(math.isfinite(v) and v > 0 for v in (n, c, loss)):
            optimal.append(
                {"group": "/".join(r[k] for k in _FORMLL_KEYS), "flops": c, "n": n, "loss": loss}
            )
    return PublicSweep("formll", _to_sweep(recs, (), with_c=True), dropped, {"optimal": optimal})


def _scan_llm(root: Path) -> PublicSweep:
    rows = _read_csv(root / "scan_bench" / "llm_train_split.csv")
    rows += _read_csv(root / "scan_bench" / "llm_test_split.csv")
    by_cfg: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        by_cfg[r["config_id"]].append(r)
    recs, dropped = [], 0
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for cfg, rs in by_cfg.items():
        rs.sort(key=lambda r: _num(r["tokens_so_far"]))
        last = rs[-1]
        loss = _num(last["valid_loss"])
        n, c = _num(last["n_param"]), _num(last["total_compute"])
        d = _num(last["tokens_so_far"])
        finished = _num(last["eval_step"]) >= _num(last["final_step"])
        if not (finished and all(math.isfinite(v) and v > 0 for v in (loss, n, c, d))):
            dropped += 1
            continue
        recs.append({"name": cfg, "group": "", "N": n, "D": d, "C": c, "loss": loss})
        curves[cfg] = (
            np.array([_num(r["tokens_so_far"]) for r in rs]),
            np.array([_num(r["valid_loss"]) for r in rs]),
        )
    return PublicSweep("scan_llm", _to_sweep(recs, (), with_c=True), dropped, {"curves": curves})


def _scan_vlm(root: Path) -> PublicSweep:
    rows = _read_csv(root / "scan_bench" / "vlm_data.csv")
    by_cfg: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        by_cfg[r["config_id"]].append(r)
    recs, dropped = [], 0
    for cfg, rs in by_cfg.items():
        rs.sort(key=lambda r: _num(r["epoch"]))
        last = rs[-1]
        loss = _num(last["val_loss"])
        n = _num(last["mparams"]) * 1e6
        d = _num(last["samples_seen"])
        c = _num(last["compute_seen"]) * 1e9
        diverged = any(r.get("epoch_diverged", "False") == "True" for r in rs)
        finished = _num(last["epoch"]) >= _num(last["total_epochs"])
        if diverged or not finished or not all(math.isfinite(v) and v > 0 for v in (loss, n, d, c)):
            dropped += 1
            continue
        recs.append({"name": f"config_{cfg}", "group": "", "N": n, "D": d, "C": c, "loss": loss})
    return PublicSweep("scan_vlm", _to_sweep(recs, (), with_c=True), dropped, {})


def _obsscaling(root: Path) -> PublicSweep:
    rows = _read_csv(root / "obsscaling" / "eval_results" / "base_llm_benchmark_eval.csv")
    recs, dropped = [], 0
    for r in rows:
        n = _num(r["Model Size (B)"]) * 1e9
        d = _num(r["Pretraining Data Size (T)"]) * 1e12
        c = _num(r["FLOPs (1E21)"]) * 1e21
        errs = {f"err_{b}": 1.0 - _num(r[b]) for b in OBS_BENCHMARKS}
        vals = (n, d, c, *errs.values())
        if not all(math.isfinite(v) and v > 0 for v in vals):
            dropped += 1
            continue
        recs.append(
            {
                "name": r["Model"],
                "group": r["Model Family"],
                "N": n,
                "D": d,
                "C": c,
                "loss": float(np.mean(list(errs.values()))),
                **errs,
            }
        )
    extras = tuple(f"err_{b}" for b in OBS_BENCHMARKS)
    return PublicSweep("obsscaling", _to_sweep(recs, extras, with_c=True), dropped, {})


_LOADERS = {
    "mlfoundations": _mlfoundations,
    "formll": _formll,
    "scan_llm": _scan_llm,
    "scan_vlm": _scan_vlm,
    "obsscaling": _obsscaling,
}


def load_public_sweep(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> PublicSweep:
    """One public sweep by name (one of :data:`PUBLIC_SWEEPS`).

    Args:
        data_dir: a folder laid out like the shared data folder; nothing is downloaded.
        cache_dir: where to download to when ``data_dir`` is None (default
            ``$CURVECAST_CACHE`` or ``~/.cache/curvecast``).

    Raises:
        UnknownMethodError: no sweep of that name.
        DataSourceError: a file is missing under ``data_dir``, or cannot be fetched.
    """
    if name not in _LOADERS:
        raise UnknownMethodError(
            f"No public sweep is named {name!r}. Choose one of: {', '.join(PUBLIC_SWEEPS)}."
        )
    from curvecast.bench._fetch import resolve_root

    root = resolve_root(PUBLIC_FILES[name], data_dir=data_dir, cache_dir=cache_dir)
    return _LOADERS[name](root)


def with_checkpoints(sweep: Sweep, curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> Sweep:
    """``sweep`` with every checkpoint of each run's curve as an extra run (same N, its tokens).

    ``curves`` maps a run's name to ``(tokens (k,), loss (k,))``; runs without a curve stay as
    they are, and checkpoints with a non-finite loss are skipped. A checkpoint taken before the
    learning rate has decayed overstates the loss a run of that length would reach, so this
    trades that bias for more points per size.
    """
    rows: list[tuple[float, float, float, str, str]] = []
    for i, name in enumerate(sweep.name):
        if name not in curves:
            rows.append((sweep.N[i], sweep.D[i], sweep.loss[i], name, sweep.group[i]))
            continue
        tokens, loss = curves[name]
        for k, (t, v) in enumerate(zip(tokens, loss, strict=True)):
            if np.isfinite(t) and np.isfinite(v) and t > 0 and v > 0:
                rows.append((sweep.N[i], float(t), float(v), f"{name}@{k}", sweep.group[i]))
    n, d, loss_, names, groups = zip(*rows, strict=True)
    return Sweep(N=np.array(n), D=np.array(d), loss=np.array(loss_), name=names, group=groups)
