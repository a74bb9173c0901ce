"""The ``curvecast bench downstream`` command: arguments and the run (see :mod:`.downstream`)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_downstream_bench_parser", "run_downstream_bench_cli"]

_TABLES = ("obsscaling", "emergent", "mlfoundations", "pythia", "leaderboard")


def _tables(text: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in names if p not in _TABLES]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown table(s) {bad or text!r}; choose from {', '.join(_TABLES)}"
        )
    return names


def add_downstream_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``downstream`` to the ``bench`` subparsers."""
    sp = subparsers.add_parser(
        "downstream",
        help="predict benchmark scores above a compute cutoff on public model tables",
        description="On each public model table, fit below a compute cutoff and predict every "
        "model's benchmark scores above it: mean absolute error, per-benchmark error and 90% "
        "interval coverage of DownstreamScaling against a log-linear fit, Ruan et al.'s "
        "observational procedure and Gadre et al.'s loss-to-error link; and the emergence "
        "check on the emergent-capability tasks.",
    )
    sp.add_argument(
        "--tables",
        type=_tables,
        default=_TABLES,
        metavar="T[,T]",
        help=f"tables to run (default all: {','.join(_TABLES)})",
    )
    sp.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder holding the public model tables (obsscaling/, mlfoundations_scaling/, "
        "pythia_evals/; required)",
    )
    sp.add_argument("--no-emergence", action="store_true", help="skip the emergence check")
    sp.add_argument(
        "--drift",
        action="store_true",
        help="instead, measure the extrapolation drift on the tuning tables by rolling origins "
        "(the prior behind DownstreamScaling's drift term; leaderboard is never measured)",
    )
    sp.add_argument("--seed", type=int, default=0, metavar="S")
    sp.add_argument(
        "--out",
        type=Path,
        default=Path("bench-out/downstream"),
        metavar="DIR",
        help="where report.md and results.json go (default bench-out/downstream/)",
    )
    return sp


def run_downstream_bench_cli(args: argparse.Namespace) -> int:
    """Run the benchmark from parsed arguments, print the tables; returns 0."""
    from curvecast.bench.downstream import run_downstream_bench, write_downstream_report

    if args.drift:
        from curvecast.bench.downstream_drift import drift_rows, format_drift

        print(format_drift(drift_rows(args.data_dir, tuple(args.tables), seed=args.seed)))
        return 0
    result = run_downstream_bench(
        args.data_dir,
        tables=tuple(args.tables),
        seed=args.seed,
        emergence=not args.no_emergence,
    )
    line = shlex.join(["curvecast", *sys.argv[1:]])
    table, paths = write_downstream_report(result, args.out, command_line=line)
    print(table)
    print(f"wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    return 0
