"""``curvecast sampling forecast|needed|choose FILE``: pass@k forecasts from a table of samples.

FILE is CSV or Parquet with columns ``model, problem, attempt, correct`` (one row per sample) or
``model, problem, n, c`` (one row per problem); ``model`` is optional. The main CLI
(:mod:`curvecast.cli`) calls :func:`add_sampling_parser` and :func:`run_sampling`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from curvecast.sampling import SamplesNeeded

__all__ = ["add_sampling_parser", "run_sampling"]


def _k_list(text: str) -> list[int]:
    try:
        ks = [int(float(x)) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated sample counts, e.g. 100,1000,10000; got {text!r}"
        ) from None
    if not ks or min(ks) < 1:
        raise argparse.ArgumentTypeError(f"every k must be an integer >= 1; got {text!r}")
    return ks


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1); got {text!r}") from None
    if not 0.0 < v < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1); got {text!r}")
    return v


def _costs(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in text.split(","):
        name, sep, val = part.rpartition("=")
        try:
            cost = float(val)
        except ValueError:
            cost = float("nan")
        if not sep or not name.strip() or not cost > 0:
            raise argparse.ArgumentTypeError(
                f"expected MODEL=COST pairs with COST > 0, e.g. 'Gemma 2B=2.5e9,Llama 8B=8e9'; "
                f"got {text!r}"
            )
        out[name.strip()] = cost
    return out


def _nonneg(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0; got {text!r}")
    return v


def add_sampling_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``sampling`` (forecast, needed, choose) to ``subparsers``."""
    sp = subparsers.add_parser(
        "sampling",
        help="forecast pass@k at large k from the first samples per problem",
        description="Test-time compute: forecast pass@k (coverage) with intervals, the samples "
        "needed for a target coverage, and the cheapest model, from per-sample outcomes or "
        "per-problem counts.",
    )
    sp.set_defaults(sampling_command=None)
    sub = sp.add_subparsers(dest="sampling_command", metavar="{forecast,needed,choose}")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "file",
            type=Path,
            metavar="FILE",
            help="CSV or Parquet: model, problem, attempt, correct (or model, problem, n, c)",
        )
        p.add_argument("--json", action="store_true", help="one JSON object per model")
        p.add_argument("--level", type=_fraction, default=0.9, help="interval level (0.9)")
        p.add_argument("--n-bootstrap", type=_nonneg, default=200, metavar="B")
        p.add_argument("--seed", type=_nonneg, default=0, metavar="S")

    fc = sub.add_parser(
        "forecast",
        help="pass@k with its interval at each --k",
        description="Fit each model's distribution of per-problem success rates and print "
        "pass@k with its interval at each --k (one table, or one JSON object, per model).",
    )
    common(fc)
    fc.add_argument("--k", type=_k_list, default=[100, 1000, 10000], metavar="K,K,...")
    fc.add_argument("--plot", type=Path, default=None, metavar="OUT.png")
    nd = sub.add_parser(
        "needed",
        help="samples per problem to reach a target coverage",
        description="Samples per problem at which pass@k reaches --target, with its interval.",
    )
    common(nd)
    nd.add_argument("--target", type=_fraction, required=True, metavar="COVERAGE")
    ch = sub.add_parser(
        "choose",
        help="the cheapest model and samples for a target coverage",
        description="For each model, the samples needed for --target times its cost per "
        "sample; the cheapest, and the share of bootstrap replicates in which it is cheapest.",
    )
    common(ch)
    ch.add_argument("--cost", type=_costs, required=True, metavar="MODEL=COST,...")
    ch.add_argument("--target", type=_fraction, default=0.5, metavar="COVERAGE")
    return sp


def _fmt_k(k: float) -> str:
    return "never" if k == float("inf") else f"{k:,.0f}"


def _needed_line(name: str, nd: SamplesNeeded, target: float) -> str:
    """One line of ``sampling needed``: where the median never reaches the target (within the
    largest k the model searches) it says so rather than "at k = never"."""
    from curvecast.sampling._model import _NEEDED_K

    band = f"{nd.level:.0%} interval {_fmt_k(nd.lower)} to {_fmt_k(nd.upper)}"
    if nd.median == float("inf"):
        if nd.lower == float("inf"):
            band = f"nor within its {nd.level:.0%} interval"
        return (
            f"{name}: pass@k is not forecast to reach {target:g} at any number of samples per "
            f"problem up to {_NEEDED_K[-1]:,.0f} ({band}): too many of its problems are forecast "
            "never to be solved"
        )
    return (
        f"{name}: pass@k reaches {target:g} at k = {_fmt_k(nd.median)} samples per problem ({band})"
    )


def run_sampling(args: argparse.Namespace) -> int:
    """Run a ``sampling`` command; returns the exit status (0 ok, 2 bad input: raised as a
    CurvecastError, which the main CLI prints as one line)."""
    command = getattr(args, "sampling_command", None)
    if command is None:
        print(
            "curvecast sampling: error: choose a command: forecast, needed or choose (see --help)",
            file=sys.stderr,
        )
        return 2
    from curvecast.exceptions import InvalidParameterError
    from curvecast.sampling import PassAtKModel, choose_model, read_samples

    data = read_samples(args.file)
    models = {
        name: PassAtKModel(n_bootstrap=args.n_bootstrap).fit(counts, rng=args.seed)
        for name, counts in data.items()
    }
    out = sys.stdout
    if command == "forecast":
        for name, model in models.items():
            fcast = model.forecast(args.k)
            if args.json:
                print(json.dumps(fcast.to_json(args.level)), file=out)
                continue
            lo, hi = fcast.interval(args.level)
            counts = data[name]
            print(
                f"model {name or '(one model)'}: {len(counts)} problems, "
                f"{int(counts.n.sum()):,} samples",
                file=out,
            )
            print(f"{'k':>10}  {'pass@k':>7}  {args.level:.0%} interval", file=out)
            for k, med, a, b in zip(args.k, fcast.median, lo, hi, strict=True):
                print(f"{k:>10,}  {med:7.3f}  [{a:.3f}, {b:.3f}]", file=out)
        if args.plot is not None:
            from curvecast.sampling.plots import plot_forecasts

            path = plot_forecasts(models, args.plot, k_max=max(args.k), level=args.level)
            print(f"wrote {path}", file=sys.stderr)
        return 0
    if command == "needed":
        for name, model in models.items():
            nd = model.samples_needed(args.target, level=args.level)
            if args.json:
                row = {
                    "model": name,
                    "target": nd.target,
                    "median": nd.median,
                    "lower": nd.lower,
                    "upper": nd.upper,
                    "level": nd.level,
                }
                print(json.dumps(row).replace("Infinity", "null"), file=out)
            else:
                print(_needed_line(name or "(one model)", nd, args.target), file=out)
        return 0
    missing = [m for m in models if m not in args.cost]
    if missing:
        raise InvalidParameterError(
            f"The '--cost' option must give a cost per sample for every model in the file. "
            f"Got none for {missing}; add MODEL=COST for each."
        )
    choice = choose_model(models, args.cost, args.target)
    if args.json:
        summary: dict[str, Any] = {
            "model": choice.model,
            "samples": choice.samples,
            "cost": choice.cost,
            "probability": choice.probability,
            "target": args.target,
            "per_model": {
                m: {"samples": nd.median, "cost": nd.median * args.cost[m]}
                for m, nd in choice.needed.items()
            },
        }
        print(json.dumps(summary).replace("Infinity", "null"), file=out)
        return 0
    print(f"{'model':<24} {'samples':>12} {'cost':>12}", file=out)
    for m, nd in choice.needed.items():
        print(f"{m:<24} {_fmt_k(nd.median):>12} {nd.median * args.cost[m]:>12.3g}", file=out)
    if choice.model:
        print(
            f"cheapest for pass@k = {args.target:g}: {choice.model} with {_fmt_k(choice.samples)} "
            f"samples per problem (right with probability {choice.probability:.2f})",
            file=out,
        )
    else:
        print(f"no model is forecast to reach pass@k = {args.target:g}", file=out)
    return 0
