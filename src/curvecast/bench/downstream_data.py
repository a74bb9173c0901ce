"""The public model tables of ``curvecast bench downstream``, read from a shared-data folder.

=================  ===========================================================================
table              models, benchmarks, cutoff (fit at or below, predict above)
=================  ===========================================================================
``obsscaling``     Ruan et al.'s base LLMs with known size and tokens (123 of 148), 8
                   benchmarks (MMLU, ARC-C, HellaSwag, Winograd, TruthfulQA, GSM8K, XWinograd,
                   HumanEval); cutoff 1e23 FLOPs
``emergent``       the same models on Ruan et al.'s emergent-capability tasks (BIG-bench
                   arithmetic, word unscrambling, IPA transliteration, ParsiNLU QA; the BLEU
                   column is not a score in [0, 1] and is left out); cutoff 1e23
``mlfoundations``  Gadre et al.'s 104 models, 3 data sets (families), 46 downstream tasks, with
                   each model's C4 validation loss; compute 6ND (the file's ``flops`` column
                   overflowed int64 for the largest runs); cutoff 1e20
``pythia``         Pythia (standard and deduplicated: 2 families) at checkpoints 1,000-143,000,
                   8 sizes, 8 zero-shot tasks; tokens = step x 2,097,152; cutoff 1e21
``leaderboard``    **kept out of every tuning loop**: the same base models on the Open LLM
                   Leaderboard v2 (BBH, GPQA, IFEval, MATH hard, MMLU-Pro, MuSR), 72 models
                   with size and tokens from Ruan et al.'s table; cutoff 1e23
=================  ===========================================================================
"""

from __future__ import annotations

import csv
import gzip
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from curvecast.exceptions import DataSourceError
from curvecast.scaling.downstream_table import ModelTable

__all__ = ["TABLES", "TUNING_TABLES", "PublicTable", "load_tables"]

TABLES = ("obsscaling", "emergent", "mlfoundations", "pythia", "leaderboard")
TUNING_TABLES = ("obsscaling", "emergent", "mlfoundations", "pythia")

_FILES = {
    "obsscaling": "obsscaling/eval_results/base_llm_benchmark_eval.csv",
    "emergent": "obsscaling/eval_results/base_llm_emergent_capability_eval.csv",
    "leaderboard": "obsscaling/eval_results/base_llm_leaderboard_v2_eval.csv",
    "mlf_evals": "mlfoundations_scaling/downstream_evals_tidy.csv",
    "mlf_losses": "mlfoundations_scaling/model_losses_tidy.csv",
    "pythia": "pythia_evals/pythia_v1_evals_tidy.csv.gz",
}
#: chance levels of the multiple-choice benchmarks whose number of options is known; the other
#: benchmarks get DownstreamScaling's estimated floor.
CHANCE = {
    "MMLU": 0.25,
    "ARC-C": 0.25,
    "HellaSwag": 0.25,
    "Winograd": 0.5,
    "XWinograd": 0.5,
    "GSM8K": 0.0,
    "HumanEval": 0.0,
    "parsinlu_qa_2_acc": 0.25,
    "word_unscrambling_2_exact_match": 0.0,
    "ipa_transliterate_2_exact_match": 0.0,
    "arithmetic_3ds_2_acc": 0.0,
    "arithmetic_3da_2_acc": 0.0,
    "arithmetic_2dm_2_acc": 0.0,
    "arithmetic_2da_2_acc": 0.0,
    "arc_challenge": 0.25,
    "arc_easy": 0.25,
    "piqa": 0.5,
    "winogrande": 0.5,
    "wsc": 0.5,
    "logiqa": 0.25,
    "sciq": 0.25,
    "lambada_openai": 0.0,
}
_PYTHIA_SIZES = {
    "70m": 7.0e7,
    "160m": 1.6e8,
    "410m": 4.1e8,
    "1b": 1.0e9,
    "1.4b": 1.4e9,
    "2.8b": 2.8e9,
    "6.9b": 6.9e9,
    "12b": 1.2e10,
}
_PYTHIA_TASKS = (
    "arc_challenge",
    "arc_easy",
    "lambada_openai",
    "logiqa",
    "piqa",
    "sciq",
    "winogrande",
    "wsc",
)


@dataclass(frozen=True)
class PublicTable:
    """One public table: the models, the compute cutoff, the chance levels it knows."""

    name: str
    table: ModelTable
    cutoff: float
    chance: dict[str, float]


def _rows(path: Path) -> list[dict[str, str]]:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _obs_meta(root: Path) -> dict[str, tuple[str, float, float, float]]:
    out = {}
    for r in _rows(root / _FILES["obsscaling"]):
        n = _num(r["Model Size (B)"]) * 1e9
        d = _num(r["Pretraining Data Size (T)"]) * 1e12
        c = _num(r["FLOPs (1E21)"]) * 1e21
        if all(math.isfinite(v) and v > 0 for v in (n, d, c)):
            out[r["Model"]] = (r["Model Family"], n, d, c)
    return out


def _obs_table(root: Path, key: str, skip: tuple[str, ...] = ()) -> ModelTable:
    meta = _obs_meta(root)
    rows = [r for r in _rows(root / _FILES[key]) if r["Model"] in meta]
    bench = [
        c
        for c in rows[0]
        if c not in ("Model", "Model Family", "Model Size (B)", "Pretraining Data Size (T)")
        and c != "FLOPs (1E21)"
        and c not in skip
    ]
    return ModelTable(
        model=[r["Model"] for r in rows],
        family=[meta[r["Model"]][0] for r in rows],
        params=[meta[r["Model"]][1] for r in rows],
        tokens=[meta[r["Model"]][2] for r in rows],
        flops=[meta[r["Model"]][3] for r in rows],
        scores={b: [_num(r[b]) for r in rows] for b in bench},
    )


def _mlf_table(root: Path) -> ModelTable:
    info: dict[str, dict[str, Any]] = {}
    for r in _rows(root / _FILES["mlf_losses"]):
        if r["val_data"] == "c4_val":
            info[r["name"]] = {
                "family": r["dataset"],
                "N": _num(r["params"]),
                "D": _num(r["tokens"]),
                "loss": _num(r["loss"]),
            }
    acc: dict[str, dict[str, float]] = defaultdict(dict)
    for r in _rows(root / _FILES["mlf_evals"]):
        acc[r["name"]][r["task"]] = _num(r["acc"])
    names = sorted(n for n in info if n in acc)
    tasks = sorted({t for n in names for t in acc[n]})
    return ModelTable(
        model=names,
        family=[info[n]["family"] for n in names],
        params=[info[n]["N"] for n in names],
        tokens=[info[n]["D"] for n in names],
        loss=[info[n]["loss"] for n in names],
        scores={t: [acc[n].get(t, math.nan) for n in names] for t in tasks},
    )


def _pythia_table(root: Path) -> ModelTable:
    vals: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    for r in _rows(root / _FILES["pythia"]):
        if r["variant"] != "zero-shot" or r["metric"] != "acc" or r["task"] not in _PYTHIA_TASKS:
            continue
        parts = r["model"].split("-")
        if len(parts) not in (2, 3) or parts[1] not in _PYTHIA_SIZES:
            continue
        if len(parts) == 3 and parts[2] != "deduped":
            continue
        step = int(float(r["step"]))
        if step < 1000:
            continue
        vals[(r["model"], step)][r["task"]] = _num(r["value"])
    keys = sorted(vals)
    return ModelTable(
        model=[f"{m}@{s}" for m, s in keys],
        family=["pythia-deduped" if m.endswith("deduped") else "pythia" for m, _ in keys],
        params=[_PYTHIA_SIZES[m.split("-")[1]] for m, _ in keys],
        tokens=[s * 2_097_152.0 for _, s in keys],
        scores={t: [vals[k].get(t, math.nan) for k in keys] for t in _PYTHIA_TASKS},
    )


def load_tables(
    data_dir: str | Path | None, names: tuple[str, ...] = TABLES
) -> dict[str, PublicTable]:
    """The tables in ``names`` from ``data_dir`` (laid out like ``../shared/data``).

    Raises:
        DataSourceError: no ``data_dir``, or a file missing under it.
    """
    if data_dir is None:
        raise DataSourceError(
            "curvecast bench downstream reads the public tables from a folder laid out like the "
            "shared data folder: pass --data-dir ../shared/data (obsscaling/eval_results from "
            "github.com/ryoungj/ObsScaling, mlfoundations_scaling/ from "
            "github.com/mlfoundations/scaling, pythia_evals/ from github.com/EleutherAI/pythia)."
        )
    root = Path(data_dir).expanduser()
    need = {
        "obsscaling": ("obsscaling",),
        "emergent": ("obsscaling", "emergent"),
        "leaderboard": ("obsscaling", "leaderboard"),
        "mlfoundations": ("mlf_evals", "mlf_losses"),
        "pythia": ("pythia",),
    }
    for n in names:
        for key in need[n]:
            if not (root / _FILES[key]).is_file():
                raise DataSourceError(
                    f"{root / _FILES[key]} does not exist: --data-dir must be laid out like the "
                    f"shared data folder ({_FILES[key]} under it)."
                )
    out: dict[str, PublicTable] = {}
    for n in names:
        if n == "obsscaling":
            t = _obs_table(root, "obsscaling")
            cut = 1e23
        elif n == "emergent":
            t = _obs_table(root, "emergent", skip=("ipa_transliterate_2_bleu",))
            cut = 1e23
        elif n == "leaderboard":
            t = _obs_table(root, "leaderboard")
            cut = 1e23
        elif n == "mlfoundations":
            t = _mlf_table(root)
            cut = 1e20
        else:
            t = _pythia_table(root)
            cut = 1e21
        chance = {b: CHANCE[b] for b in t.benchmarks if b in CHANCE}
        out[n] = PublicTable(n, t, cut, chance)
    return out


def split(pt: PublicTable) -> tuple[ModelTable, ModelTable]:
    """``(fit, held)``: the models at or below the cutoff, and those above it."""
    C = np.asarray(pt.table.flops)
    return pt.table.select(C <= pt.cutoff), pt.table.select(C > pt.cutoff)
