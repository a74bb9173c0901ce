"""``curvecast scaling downstream MODELS.csv --predict-above FLOPS``: benchmark scores from scale.

Fits :class:`~curvecast.scaling.DownstreamScaling` on the models of MODELS.csv at or below
FLOPS and predicts every model above it (and each ``--predict MODEL=FAMILY:PARAMS:TOKENS``).
With ``--json`` it prints one JSON object per line and (model, benchmark)::

    {"model": ..., "benchmark": ..., "median": ..., "lower": ..., "upper": ..., "level": 0.9}

Exit codes: 0 ok, 2 bad input (one line naming the field and the fix).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["add_downstream_parser", "parse_model_spec", "run_downstream"]


def parse_model_spec(text: str) -> tuple[str, str, float, float]:
    """``"big=llama:7e10:2e12"`` -> ``("big", "llama", 7e10, 2e12)``.

    Raises:
        argparse.ArgumentTypeError: not ``MODEL=FAMILY:PARAMS:TOKENS`` with numbers > 0.
    """
    name, sep, rest = text.partition("=")
    parts = rest.rsplit(":", 2)
    if not sep or not name.strip() or len(parts) != 3 or not parts[0].strip():
        raise argparse.ArgumentTypeError(
            f"expected MODEL=FAMILY:PARAMS:TOKENS, e.g. big=llama:7e10:2e12; got {text!r}"
        )
    try:
        n, d = float(parts[1]), float(parts[2])
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"PARAMS and TOKENS must be numbers in {text!r}, e.g. big=llama:7e10:2e12"
        ) from None
    if not (np.isfinite(n) and np.isfinite(d) and n > 0 and d > 0):
        raise argparse.ArgumentTypeError(f"PARAMS and TOKENS must be > 0 in {text!r}")
    return name.strip(), parts[0].strip(), n, d


def _flops(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected FLOPs, e.g. 1e23; got {text!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"FLOPs must be > 0; got {text!r}")
    return v


def _chance(text: str) -> tuple[str, float]:
    name, sep, val = text.rpartition("=")
    try:
        p = float(val)
    except ValueError:
        p = float("nan")
    if not sep or not name or not (0.0 <= p < 1.0):
        raise argparse.ArgumentTypeError(
            f"expected BENCHMARK=CHANCE with CHANCE in [0, 1), e.g. MMLU=0.25; got {text!r}"
        )
    return name, p


def _level(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not 0.0 < v < 1.0:
        raise argparse.ArgumentTypeError(f"the level must be in (0, 1), e.g. 0.9; got {text!r}")
    return v


def add_downstream_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``downstream`` to the ``scaling`` subparsers."""
    p = sub.add_parser(
        "downstream",
        help="predict benchmark scores of bigger models from a table of trained ones",
        description="Fit capability dimensions of the benchmark scores, each a line in log "
        "compute per family, on the models of MODELS.csv at or below --predict-above FLOPS, "
        "and predict each benchmark's score (median and interval) for every model above it "
        "and for each --predict model. MODELS.csv: columns model, family, params, tokens "
        "(optionally flops), then one column per benchmark with scores in [0, 1].",
    )
    p.add_argument("models", type=Path, help="CSV file, one model per row")
    p.add_argument(
        "--predict-above",
        type=_flops,
        required=True,
        metavar="FLOPS",
        help="fit on the models at or below this compute, predict those above",
    )
    p.add_argument(
        "--predict",
        type=parse_model_spec,
        action="append",
        default=[],
        metavar="MODEL=FAMILY:PARAMS:TOKENS",
        help="a model not in the file (repeatable); a family not in the file is a new family",
    )
    p.add_argument("--json", action="store_true", help="one JSON line per (model, benchmark)")
    p.add_argument("--level", type=_level, default=0.9, help="interval level (default 0.9)")
    p.add_argument(
        "--chance",
        type=_chance,
        action="append",
        default=[],
        metavar="BENCH=P",
        help="a benchmark's chance level (repeatable; default: 0.02 below its lowest score)",
    )
    p.add_argument(
        "--allow-single",
        action="store_true",
        help="accept families with one fitted model (shrunk towards the others)",
    )
    p.add_argument("--seed", type=int, default=0)
    return p


def run_downstream(args: argparse.Namespace) -> int:
    """Run ``scaling downstream``; returns the exit status (0 ok, 2 bad input).

    Raises:
        InvalidParameterError: the table or a flag cannot be used (the main CLI prints it as
            one line and exits 2).
    """
    from curvecast.exceptions import InvalidParameterError
    from curvecast.scaling.downstream_scaling import DownstreamScaling
    from curvecast.scaling.downstream_table import read_models

    try:
        table = read_models(args.models)
    except FileNotFoundError as exc:
        print(f"curvecast scaling downstream: error: {exc}", file=sys.stderr)
        return 2
    C = np.asarray(table.flops)
    below = C <= args.predict_above
    if not below.any():
        raise InvalidParameterError(
            f"No model in {args.models} is at or below --predict-above {args.predict_above:g} "
            f"FLOPs (the smallest has {C.min():.3g}): raise --predict-above."
        )
    model = DownstreamScaling(chance=dict(args.chance) or None, allow_single=args.allow_single)
    model.fit(table.select(below), rng=args.seed)
    fcs = []
    if (~below).any():
        fcs.append(model.predict_table(table.select(~below)))
    if args.predict:
        names, fams, N, D = zip(*args.predict, strict=True)
        fcs.append(model.predict(list(fams), list(N), list(D), model=list(names)))
    if not fcs:
        print(
            f"curvecast scaling downstream: no model above {args.predict_above:g} FLOPs and no "
            "--predict: nothing to predict",
            file=sys.stderr,
        )
    truth = {m: i for i, m in enumerate(table.model)}
    S = np.asarray(table.scores)
    for fc in fcs:
        recs = fc.records(args.level)
        if args.json:
            for r in recs:
                print(json.dumps(r))
            continue
        for i, m in enumerate(fc.model):
            kind = "" if fc.known_family[i] else ", new family"
            print(f"{m} ({fc.family[i]}{kind}, {fc.flops[i]:.3g} FLOPs)")
            for r in recs[i * len(fc.benchmarks) : (i + 1) * len(fc.benchmarks)]:
                j = fc.benchmarks.index(r["benchmark"])
                seen = S[truth[m], j] if m in truth else float("nan")
                obs = f"   observed {seen:.3f}" if np.isfinite(seen) else ""
                print(
                    f"  {r['benchmark']:<28} {r['median']:.3f}   "
                    f"{100 * args.level:g}%: [{r['lower']:.3f}, {r['upper']:.3f}]{obs}"
                )
    if not args.json:
        print("\nemergence (leaves chance at floor + 10% of the range, for a mean family)")
        for e in model.emergence():
            extra = (
                f" at {e.flops:.3g} FLOPs [{e.lower:.3g}, {e.upper:.3g}]"
                if e.status == "forecast"
                else (f": {e.reason}" if e.reason else "")
            )
            print(f"  {e.benchmark:<28} {e.status}{extra} (t = {e.t:.1f})")
    return 0
