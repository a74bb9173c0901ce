"""``curvecast compare``: which method really won, with intervals and a verdict in plain words."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_compare_parser", "run_compare"]

#: the image formats --plot writes (matplotlib's, by file name)
_PLOT_FORMATS = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".eps", ".webp")
_EPILOG = "exit codes: 0 success, 1 internal error, 2 invalid input or usage, 130 interrupted"


def add_compare_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``compare`` on the ``curvecast`` subparsers."""
    p = sub.add_parser(
        "compare",
        help="compare methods over tasks and seeds, with intervals and a verdict",
        description="Compare methods from a CSV file with the columns method, task, seed, score "
        "(one row per run), or from Optuna studies (--storage with --study): per method the IQM, "
        "mean, median and optimality gap with stratified bootstrap intervals, the probability "
        "of improvement of every pair, performance profiles, and a verdict that says when the "
        "data cannot separate two methods and about how many seeds would. With --demo, run the "
        "digits search of `curvecast demo` on a split with a held-out test set and print the "
        "winner's naive and corrected validation estimates against its test score.",
        epilog=_EPILOG,
    )
    p.add_argument("results", nargs="?", help="CSV file: method, task, seed, score")
    p.add_argument("--storage", metavar="URL", help="Optuna storage URL (with --study)")
    p.add_argument(
        "--study", action="append", default=[], metavar="NAME", help="a study (repeat for more)"
    )
    p.add_argument(
        "--unit",
        choices=("trial", "study"),
        default="trial",
        help="with --storage: a run is a complete trial (default) or a whole study (its best "
        "value; method, task and seed from the study's user attributes)",
    )
    p.add_argument(
        "--direction",
        choices=("maximize", "minimize"),
        default=None,
        help="which way a score is better (default: maximize; a study's own direction)",
    )
    p.add_argument(
        "--metric",
        choices=("iqm", "mean", "median", "optimality_gap"),
        default="iqm",
        help="the aggregate the ranking and verdicts rest on (default: %(default)s)",
    )
    p.add_argument(
        "--gamma",
        type=float,
        default=None,
        help="optimality gap target (default: 1, or 0 to minimize, for scores in [0, 1]; "
        "else the best score of any run)",
    )
    p.add_argument("--reps", type=int, default=2000, help="bootstrap draws (default: %(default)s)")
    p.add_argument(
        "--confidence", type=float, default=0.95, help="interval coverage (default: %(default)s)"
    )
    p.add_argument(
        "--plain-bootstrap",
        action="store_true",
        help="rliable's percentile intervals, without the widening for few seeds",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument(
        "--seeds",
        action="store_true",
        help="also report each method's seed-to-seed spread next to the differences",
    )
    p.add_argument("--json", metavar="FILE", help="write the full comparison as JSON ('-': stdout)")
    p.add_argument("--plot", metavar="FILE", help="write the plot of the intervals (PNG)")
    p.add_argument(
        "--demo",
        action="store_true",
        help="run the digits search with a held-out test split: naive vs corrected winner estimate",
    )
    p.add_argument(
        "--trials", type=int, default=60, metavar="N", help="with --demo: trials (default: 60)"
    )
    return p


def run_compare(args: argparse.Namespace) -> int:
    """Run ``curvecast compare``; raises CurvecastError on bad input (exit code 2 in main)."""
    import numpy as np

    from curvecast.exceptions import parameter_error
    from curvecast.stats._compare import compare
    from curvecast.stats._report import format_comparison, plot_comparison
    from curvecast.stats._results import ResultsError, read_csv, read_optuna

    if args.seed < 0:
        raise parameter_error("--seed", "curvecast compare", "an int >= 0", args.seed)
    if args.plot and Path(args.plot).suffix.lower() not in _PLOT_FORMATS:
        raise parameter_error(
            "--plot",
            "curvecast compare",
            f"a file ending in {', '.join(_PLOT_FORMATS)}",
            args.plot,
        )
    if args.demo:
        from curvecast.stats._demo import format_selection_demo, run_selection_demo

        print(
            format_selection_demo(
                run_selection_demo(trials=args.trials, seed=args.seed, progress=True)
            )
        )
        return 0
    if args.reps < 1:
        raise parameter_error("--reps", "curvecast compare", "a positive int", args.reps)
    if not 0 < args.confidence < 1:
        raise parameter_error("--confidence", "curvecast compare", "in (0, 1)", args.confidence)
    if args.storage and args.results:
        raise ResultsError("give either a CSV file or --storage with --study, not both.")
    if args.storage:
        results = read_optuna(args.storage, args.study, unit=args.unit)
        if args.direction is not None and args.direction != results.direction:
            raise ResultsError(
                f"--direction {args.direction} contradicts the studies' own direction "
                f"({results.direction}); leave it out."
            )
    elif args.results:
        results = read_csv(args.results, direction=args.direction or "maximize")
    else:
        raise ResultsError(
            "give a CSV file (method, task, seed, score) or --storage URL --study NAME ..."
        )
    c = compare(
        results,
        rng=np.random.default_rng(args.seed),
        metric=args.metric,
        gamma=args.gamma,
        n_boot=args.reps,
        confidence=args.confidence,
        small_sample=not args.plain_bootstrap,
    )
    text = format_comparison(c, seeds=args.seeds)
    if args.json == "-":
        print(json.dumps(c.to_dict(), indent=1, allow_nan=False))
        print(text, file=sys.stderr)
    else:
        print(text)
    try:
        if args.json and args.json != "-":
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump(c.to_dict(), fh, indent=1, allow_nan=False)
            print(f"json: {args.json}")
        if args.plot:
            plot_comparison(c, args.plot)
            print(f"plot: {args.plot}")
    except OSError as exc:
        raise ResultsError(
            f"cannot write {exc.filename or args.plot!r}: {exc.strerror or exc}; give a path in "
            "a folder that exists and is writable."
        ) from None
    return 0
