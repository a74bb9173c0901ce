"""The ``curvecast bench scaling`` command: arguments and the run (see :mod:`.scaling`)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_scaling_bench_parser", "run_scaling_bench_cli"]

_PROTOCOLS = ("gadre", "mlf_cutoff", "formll", "scan_llm", "scan_vlm", "obsscaling")


def _protocols(text: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in names if p not in _PROTOCOLS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown protocol(s) {bad or text!r}; choose from {', '.join(_PROTOCOLS)}"
        )
    return names


def _nonneg(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0; got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0; got {text!r}")
    return v


def add_scaling_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``scaling`` to the ``bench`` subparsers."""
    sp = subparsers.add_parser(
        "scaling",
        help="fit scaling laws below a compute cutoff on public sweeps, predict the runs above",
        description="On each public sweep, fit every law on the runs at or below a compute "
        "cutoff and predict the held-out runs above it: relative error at the largest runs, "
        "90% interval coverage, error of the predicted N*; against each paper's own procedure "
        "and a log-log line.",
    )
    sp.add_argument(
        "--protocols",
        type=_protocols,
        default=_PROTOCOLS,
        metavar="P[,P]",
        help=f"protocols to run (default all: {','.join(_PROTOCOLS)})",
    )
    sp.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="a local copy of the sweeps, one folder per source as the cache holds them "
        "(formll_isoflop/, mlfoundations_scaling/, ...); default: the cache, filled on first "
        "use from GitHub ($CURVECAST_CACHE or ~/.cache/curvecast)",
    )
    sp.add_argument("--n-bootstrap", type=_nonneg, default=200, metavar="B")
    sp.add_argument("--seed", type=_nonneg, default=0, metavar="S")
    sp.add_argument(
        "--time-fit",
        type=_nonneg,
        default=0,
        metavar="N",
        help="only time a ChinchillaLaw fit with bootstrap on N synthetic runs (run it under "
        "`taskset -c 0` for one core) and print the median of 3",
    )
    sp.add_argument(
        "--out",
        type=Path,
        default=Path("bench-out/scaling"),
        metavar="DIR",
        help="where report.md and results.json go (default bench-out/scaling/)",
    )
    return sp


def run_scaling_bench_cli(args: argparse.Namespace) -> int:
    """Run the benchmark from parsed arguments, print the table; returns 0."""
    from curvecast.bench.scaling import (
        ScalingBenchConfig,
        run_scaling_bench,
        time_fit,
        write_scaling_report,
    )

    if args.time_fit:
        t = time_fit(args.time_fit, n_bootstrap=args.n_bootstrap, seed=args.seed)
        print(
            f"ChinchillaLaw fit, {t['n_runs']} runs, {t['n_bootstrap']} bootstrap replicates: "
            f"{t['wall_s']:.2f} s wall, {t['cpu_s']:.2f} s CPU (median of 3)"
        )
        return 0

    config = ScalingBenchConfig(
        protocols=tuple(args.protocols),
        data_dir=None if args.data_dir is None else str(args.data_dir),
        n_bootstrap=args.n_bootstrap,
        seed=args.seed,
    )
    result = run_scaling_bench(config, progress=lambda m: print(m, file=sys.stderr))
    line = getattr(args, "command_line", None) or shlex.join(["curvecast", *sys.argv[1:]])
    table, paths = write_scaling_report(result, args.out, command_line=line)
    print(table)
    print(f"wrote {', '.join(str(p) for p in paths.values())}", file=sys.stderr)
    return 0
