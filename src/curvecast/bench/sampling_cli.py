"""The ``curvecast bench sampling`` command: arguments and the run (see :mod:`.sampling`).

Kept apart from :mod:`curvecast.bench.sampling` so that building the CLI parser stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["add_sampling_bench_parser", "run_sampling_bench_cli"]

HOW_TO_GET = (
    "Get it from the Hugging Face dataset ScalingIntelligence/monkey_business (MIT licence), or "
    "the processed export data/processed_data/code_contests_outcomes.parquet in the GitHub "
    "repository SullivanC19/monkeys_revisited, into DIR/monkeys/, and pass --data-dir DIR."
)


def add_sampling_bench_parser(subparsers: Any) -> Any:
    """Add ``sampling`` to the ``bench`` subparsers."""
    import argparse

    def ms(text: str) -> tuple[int, ...]:
        try:
            vals = tuple(int(v) for v in text.split(",") if v.strip())
        except ValueError:
            vals = ()
        if not vals or min(vals) < 1 or max(vals) >= 10_000:
            raise argparse.ArgumentTypeError(
                f"expected integers in [1, 9999], e.g. 10,100; got {text!r}"
            )
        return vals

    sp = subparsers.add_parser(
        "sampling",
        help="forecast pass@k from the first m samples per problem (Large Language Monkeys)",
        description="Forecast pass@k up to k = 10,000 from the first m samples of each "
        "CodeContests problem, against the anchors; interval coverage, adaptive allocation, "
        "samples needed, compute-optimal choice. " + HOW_TO_GET,
    )
    sp.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="folder holding monkeys/code_contests_outcomes.parquet (default: a data folder "
        "beside the checkout, then $CURVECAST_CACHE or ~/.cache/curvecast)",
    )
    sp.add_argument("--ms", type=ms, default=(10, 100, 1000), metavar="M,M")
    sp.add_argument("--n-bootstrap", type=int, default=200, metavar="B")
    sp.add_argument("--seed", type=int, default=0, metavar="S")
    sp.add_argument("--out", type=Path, default=Path("bench-out/sampling"), metavar="DIR")
    sp.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    return sp


def run_sampling_bench_cli(args: Any) -> int:
    """Run the benchmark from parsed arguments; print the report, write it and the plots."""
    import shlex
    import sys

    import numpy as np

    from curvecast.bench.sampling import (
        SamplingBenchConfig,
        _truth,
        format_report,
        load_monkeys,
        run_sampling_bench,
    )
    from curvecast.sampling import PassAtKModel, SampleCounts

    config = SamplingBenchConfig(
        ms=tuple(args.ms), n_bootstrap=args.n_bootstrap, seed=args.seed, data_dir=args.data_dir
    )
    res = run_sampling_bench(config, progress=lambda m: print(m, file=sys.stderr, flush=True))
    line = getattr(args, "command_line", None) or shlex.join(["curvecast", *sys.argv[1:]])
    text = format_report(res, command_line=line)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.md").write_text(text, encoding="utf-8")
    if not args.no_plots:
        from curvecast.sampling.plots import plot_forecasts

        data = load_monkeys(args.data_dir)
        dense = np.unique(np.round(np.logspace(0, 4, 60)))
        truth = {n: (dense, _truth(x, dense)) for n, x in data.items()}
        for m_ in config.ms:
            models = {
                n: PassAtKModel(n_bootstrap=config.n_bootstrap).fit(
                    SampleCounts.from_outcomes(x[:, :m_], model=n), rng=config.seed
                )
                for n, x in data.items()
            }
            path = plot_forecasts(models, args.out / f"forecast_m{m_}.png", truth=truth)
            print(f"wrote {path}", file=sys.stderr)
    print(f"wrote {args.out / 'report.md'}", file=sys.stderr)
    return 0
