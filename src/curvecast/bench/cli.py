"""``curvecast bench``: the forecast and speed benchmarks from the command line.

The main CLI (:mod:`curvecast.cli`) calls :func:`add_bench_parser` with its subparsers and hands
the parsed arguments to :func:`run_bench` (also set as the parser's ``func`` default)::

    curvecast bench forecast --suite fixture --methods last_value,parametric --out bench-out
    curvecast bench forecast --suite lcdb --data-dir DIR --limit 50 --mcmc-limit 10
    curvecast bench speed --methods last_value,domhan_mcmc --repeats 20

Progress goes to stderr, the final markdown tables to stdout, and the report files to ``--out``.
A bad flag exits with status 2 and a one-line message, never a traceback. This module can also
run on its own: ``python -m curvecast.bench.cli forecast --suite fixture``.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from curvecast.bench.prune import PRUNERS as _PRUNERS
from curvecast.exceptions import DataSourceError, InvalidParameterError, MissingDependencyError

__all__ = ["add_bench_parser", "main", "run_bench"]

#: Suites of curvecast.bench.sources, listed here so that --help works before it is imported.
_SOURCE_SUITES: tuple[str, ...] = (
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
_DEFAULT_METHODS = "last_value,pow4,mmf4,parametric,domhan_mcmc,lcpfn,pfn"
_DEFAULT_CUTOFFS = "0.1,0.2,0.4,0.6,0.8"


def _known_suites() -> tuple[str, ...]:
    try:
        sources = importlib.import_module("curvecast.bench.sources")
        names = tuple(getattr(sources, "SUITES", _SOURCE_SUITES))
    except ImportError:
        names = _SOURCE_SUITES
    return (*names, "fixture")


def _suites(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    known = _known_suites()
    bad = [n for n in names if n not in known]
    if not names or bad:
        raise argparse.ArgumentTypeError(
            f"must be a comma-separated list of {', '.join(known)}; got {text!r}"
        )
    return names


def _methods(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"must name at least one method; got {text!r}")
    return names


def _cutoffs(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(s) for s in text.split(","))
    except ValueError:
        values = ()
    if not values or any(not 0 < v < 1 for v in values) or list(values) != sorted(set(values)):
        raise argparse.ArgumentTypeError(
            f"must be increasing fractions in (0, 1), e.g. {_DEFAULT_CUTOFFS}; got {text!r}"
        )
    return values


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}; got {text!r}")
        return value

    return parse


def _sizes_at_least(low: int) -> Callable[[str], tuple[int, ...]]:
    def parse(text: str) -> tuple[int, ...]:
        try:
            values = tuple(int(s) for s in text.split(","))
        except ValueError:
            values = ()
        if not values or any(v < low for v in values) or len(set(values)) < len(values):
            raise argparse.ArgumentTypeError(
                f"must be distinct integers >= {low}, comma-separated, e.g. {low},{low * 10}; "
                f"got {text!r}"
            )
        return values

    return parse


def _sizes(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(s) for s in text.split(","))
    except ValueError:
        values = ()
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(
            f"must be positive integers, e.g. 10,100,1000; got {text!r}"
        )
    return values


def _add_data_args(parser: argparse.ArgumentParser) -> None:
    """--suite and --data-dir, the same for every benchmark that reads suites."""
    parser.add_argument(
        "--suite",
        type=_suites,
        required=True,
        metavar="NAME[,NAME]",
        help=f"suites to run: {', '.join(_known_suites())}",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="a local copy of the suites, one folder per source as the cache holds them "
        "(lcdb/, yahpo_lcbench/, scan_bench/, ...); default: the cache, filled on first use "
        "from PyPI and GitHub ($CURVECAST_CACHE or ~/.cache/curvecast)",
    )


def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``bench`` command (with ``forecast`` and ``speed``) to ``subparsers``.

    Args:
        subparsers: what ``ArgumentParser.add_subparsers()`` returned.

    Returns:
        The ``bench`` parser; its ``func`` default is :func:`run_bench`.
    """
    bench = subparsers.add_parser(
        "bench",
        help="benchmark forecasts on real curves, or time the methods",
        description="Benchmark the forecasting methods: accuracy (forecast) or speed (speed); "
        "the pruners on replayed real searches (prune) and against compute with pauses "
        "(anytime); scaling laws on public sweeps (scaling).",
    )
    bench.set_defaults(func=run_bench, bench_command=None)
    sub = bench.add_subparsers(
        dest="bench_command", metavar="{forecast,speed,prune,scaling,anytime}"
    )

    fc = sub.add_parser(
        "forecast",
        help="score every method's forecasts on benchmark suites",
        description="Cut each curve at several fractions, forecast the rest with every method, "
        "and report CRPS, error, log-likelihood, coverage and rank correlation with bootstrap "
        "intervals.",
    )
    _add_data_args(fc)
    fc.add_argument(
        "--limit",
        type=_int_at_least(1),
        default=None,
        metavar="N",
        help="at most N curves per suite, sampled across datasets",
    )
    fc.add_argument("--seed", type=_int_at_least(0), default=0, metavar="S")
    fc.add_argument(
        "--methods",
        type=_methods,
        default=_methods(_DEFAULT_METHODS),
        metavar="M[,M]",
        help=f"methods to compare (default {_DEFAULT_METHODS}); "
        "those that cannot be imported are skipped with a note",
    )
    fc.add_argument(
        "--cutoffs",
        type=_cutoffs,
        default=_cutoffs(_DEFAULT_CUTOFFS),
        metavar="F[,F]",
        help=f"observed fractions (default {_DEFAULT_CUTOFFS})",
    )
    fc.add_argument(
        "--out",
        type=Path,
        default=Path("bench-out"),
        metavar="DIR",
        help="where report.md, results.json and the plots go (default bench-out/)",
    )
    fc.add_argument(
        "--mcmc-limit",
        type=_int_at_least(1),
        default=None,
        metavar="N",
        help="run domhan_mcmc on a stratified subset of N curves per suite",
    )
    fc.add_argument(
        "--jobs",
        type=_int_at_least(1),
        default=1,
        metavar="K",
        help="processes over curves (default 1)",
    )
    fc.add_argument(
        "--n-boot",
        type=_int_at_least(1),
        default=2000,
        metavar="B",
        help="bootstrap replicates per interval (default 2000)",
    )
    fc.add_argument(
        "--tasks",
        type=_int_at_least(1),
        default=None,
        metavar="N",
        help="at most N tasks per suite (drawn with --seed) before --limit is spread over them, "
        "so each task keeps several configurations to rank (Spearman)",
    )
    fc.add_argument(
        "--context",
        type=_int_at_least(0),
        default=0,
        metavar="K",
        help="offer each method up to K other curves of the same task, fully observed, as a "
        "search's completed trials (default 0: none)",
    )
    fc.add_argument("--no-plots", action="store_true", help="skip the PNG plots")

    sp = sub.add_parser(
        "speed",
        help="time each method on one CPU core",
        description="Latency (p50, p95) of one forecast with 10, 100 and 1,000 observed points "
        "and 50 query points, and batched throughput, relative to domhan_mcmc.",
    )
    sp.add_argument(
        "--methods",
        type=_methods,
        default=_methods(_DEFAULT_METHODS),
        metavar="M[,M]",
        help=f"methods to time (default {_DEFAULT_METHODS})",
    )
    sp.add_argument(
        "--repeats",
        type=_int_at_least(1),
        default=20,
        metavar="R",
        help="timed calls per method and size (default 20)",
    )
    sp.add_argument(
        "--sizes",
        type=_sizes,
        default=(10, 100, 1000),
        metavar="N[,N]",
        help="observed points per latency curve (default 10,100,1000)",
    )
    sp.add_argument("--n-query", type=_int_at_least(1), default=50, metavar="M")
    sp.add_argument(
        "--batch",
        type=_int_at_least(1),
        default=32,
        metavar="B",
        help="curves per throughput batch (default 32)",
    )
    sp.add_argument("--seed", type=_int_at_least(0), default=0, metavar="S")
    sp.add_argument("--out", type=Path, default=Path("bench-out"), metavar="DIR")

    pr = sub.add_parser(
        "prune",
        help="replay real searches through Optuna's pruners, ASHA and curvecast",
        description="Replay each task's configurations as one search, in several random orders, "
        "through every pruner; report speedup and regret with bootstrap intervals.",
    )
    _add_data_args(pr)
    pr.add_argument(
        "--pruners",
        type=_pruners,
        default=None,
        metavar="P[,P]",
        help="pruners to compare (default: all): " + ", ".join(_PRUNERS) + "; a curvecast "
        "pruner can also be named curvecast[:METHOD][@THRESHOLD], e.g. curvecast:pfn@0.05 "
        "(ForecastPruner with that forecasting method and threshold; default method auto, "
        "without a threshold: the pruner's default rule)",
    )
    pr.add_argument(
        "--configs",
        type=_sizes_at_least(4),
        default=(100, 1000),
        metavar="N[,N]",
        help="search sizes: at most N configurations per search, each size replayed "
        "(default 100,1000; a suite whose searches are smaller uses all its runs and the "
        "report says so)",
    )
    pr.add_argument(
        "--tasks",
        type=_int_at_least(1),
        default=None,
        metavar="N",
        help="at most N searches (tasks) per suite, drawn with --seed",
    )
    pr.add_argument(
        "--orders",
        type=_int_at_least(1),
        default=3,
        metavar="K",
        help="random orders per search (default 3)",
    )
    pr.add_argument(
        "--workers",
        type=_sizes_at_least(1),
        default=(1, 4),
        metavar="W[,W]",
        help="settings: trials in flight in the simulated search, each replayed (default 1,4: "
        "sequential, as Optuna's n_jobs=1, and 4 in parallel)",
    )
    pr.add_argument("--seed", type=_int_at_least(0), default=0, metavar="S")
    pr.add_argument(
        "--jobs",
        type=_int_at_least(1),
        default=1,
        metavar="K",
        help="processes over replay units (search x order x setting x size; default 1); the "
        "wall time falls about K-fold up to the number of free cores",
    )
    pr.add_argument("--n-boot", type=_int_at_least(1), default=1000, metavar="B")
    pr.add_argument("--out", type=Path, default=Path("bench-out"), metavar="DIR")
    pr.add_argument("--no-plots", action="store_true", help="skip the PNG plot")
    from curvecast.bench.scaling_cli import add_scaling_bench_parser

    add_scaling_bench_parser(sub)
    from curvecast.bench.sampling_cli import add_sampling_bench_parser

    add_sampling_bench_parser(sub)
    from curvecast.bench.downstream_cli import add_downstream_bench_parser

    add_downstream_bench_parser(sub)
    _add_anytime_parser(sub)
    return bench


def _add_anytime_parser(sub: Any) -> None:
    """``bench anytime``: regret against compute, with pauses (curvecast.bench.anytime)."""
    from curvecast.bench.anytime import METHODS

    def methods(text: str) -> tuple[str, ...]:
        names = tuple(s.strip() for s in text.split(",") if s.strip())
        if not names or any(n not in (*METHODS, "median") for n in names):
            raise argparse.ArgumentTypeError(
                f"must be a comma-separated list of {', '.join(METHODS)}, median; got {text!r}"
            )
        return names

    def budget(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not 0 < value <= 1:
            raise argparse.ArgumentTypeError(f"must be a number in (0, 1]; got {text!r}")
        return value

    an = sub.add_parser(
        "anytime",
        help="regret against compute: freeze-thaw, Hyperband, ASHA, random search",
        description="Replay each task's configurations as one search with one worker and a "
        "compute budget, through FreezeThaw, Ray's HyperBand and curvecast's freeze-thaw "
        "scheduler (they pause and resume), ASHA, Optuna's pruners and random search; report "
        "the regret of the best completed final (and of the best value seen) against compute.",
    )
    _add_data_args(an)
    an.add_argument(
        "--methods",
        type=methods,
        default=METHODS,
        metavar="M[,M]",
        help=f"methods to compare (default: {','.join(METHODS)})",
    )
    an.add_argument("--configs", type=_int_at_least(4), default=100, metavar="N",
                    help="configurations per search (default 100)")  # fmt: skip
    an.add_argument("--tasks", type=_int_at_least(1), default=None, metavar="N",
                    help="at most N searches (tasks) per suite, drawn with --seed")  # fmt: skip
    an.add_argument("--orders", type=_int_at_least(1), default=3, metavar="K",
                    help="random orders per search (default 3)")  # fmt: skip
    an.add_argument("--budget", type=budget, default=0.5, metavar="F",
                    help="compute budget, a fraction of the search without pruning (default "
                    "0.5)")  # fmt: skip
    an.add_argument("--seed", type=_int_at_least(0), default=0, metavar="S")
    an.add_argument("--jobs", type=_int_at_least(1), default=1, metavar="K",
                    help="processes over searches (default 1)")  # fmt: skip
    an.add_argument("--n-boot", type=_int_at_least(1), default=1000, metavar="B")
    an.add_argument("--out", type=Path, default=Path("bench-out"), metavar="DIR")
    an.add_argument("--no-plots", action="store_true", help="skip the PNG plot")


def _run_anytime(args: argparse.Namespace) -> int:
    from curvecast.bench.anytime import AnytimeConfig, run_anytime_bench
    from curvecast.bench.anytime_report import write_anytime_report

    config = AnytimeConfig(
        suites=tuple(args.suite),
        methods=tuple(args.methods),
        data_dir=None if args.data_dir is None else str(args.data_dir),
        configs=args.configs,
        tasks=args.tasks,
        orders=args.orders,
        budget=args.budget,
        seed=args.seed,
        n_boot=args.n_boot,
        jobs=args.jobs,
    )
    return _replay_bench(
        args, "anytime", "methods", partial(run_anytime_bench, config), write_anytime_report
    )


def _pruners(text: str) -> tuple[str, ...]:
    from curvecast.bench.prune import curvecast_spec
    from curvecast.forecast import available_methods

    def known(name: str) -> bool:
        if name in _PRUNERS:
            return True
        try:
            spec = curvecast_spec(name)
        except ValueError:
            return False
        return spec is not None and spec[0] in {"auto", *available_methods()}

    names = tuple(s.strip() for s in text.split(",") if s.strip())
    if not names or not all(known(n) for n in names):
        raise argparse.ArgumentTypeError(
            f"must be a comma-separated list of {', '.join(_PRUNERS)} or "
            "curvecast:METHOD@THRESHOLD (both parts optional; METHOD one of "
            f"{', '.join(available_methods())}, THRESHOLD in (0, 1)); got {text!r}"
        )
    return names


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _command_line(args: argparse.Namespace) -> str:
    given = getattr(args, "command_line", None)
    return str(given) if given else shlex.join(["curvecast", *sys.argv[1:]])


def run_bench(args: argparse.Namespace) -> int:
    """Run ``bench forecast`` or ``bench speed`` from parsed arguments.

    Returns:
        The exit status: 0 on success, 2 for unusable input (unknown suite data, no method
        that can run), 1 for a missing optional dependency.
    """
    command = getattr(args, "bench_command", None)
    if command not in (
        "forecast",
        "speed",
        "prune",
        "scaling",
        "anytime",
        "sampling",
        "downstream",
    ):
        _stderr(
            "curvecast bench: error: choose a benchmark: forecast, speed, prune, scaling, "
            "anytime, sampling or downstream (see --help)"
        )
        return 2
    try:
        if command == "scaling":
            from curvecast.bench.scaling_cli import run_scaling_bench_cli

            return run_scaling_bench_cli(args)
        if command == "sampling":
            from curvecast.bench.sampling_cli import run_sampling_bench_cli

            return run_sampling_bench_cli(args)
        if command == "downstream":
            from curvecast.bench.downstream_cli import run_downstream_bench_cli

            return run_downstream_bench_cli(args)
        if command == "forecast":
            return _run_forecast(args)
        if command == "prune":
            return _run_prune(args)
        if command == "anytime":
            return _run_anytime(args)
        return _run_speed(args)
    except (DataSourceError, InvalidParameterError) as exc:
        _stderr(f"curvecast bench {command}: error: {exc}")
        return 2
    except MissingDependencyError as exc:
        _stderr(f"curvecast bench {command}: error: {exc}")
        return 1


def _run_forecast(args: argparse.Namespace) -> int:
    from curvecast.bench.report import write_forecast_report
    from curvecast.bench.runner import BenchConfig, run_forecast_bench

    config = BenchConfig(
        suites=tuple(args.suite),
        methods=tuple(args.methods),
        cutoffs=tuple(args.cutoffs),
        seed=args.seed,
        limit=args.limit,
        data_dir=args.data_dir,
        mcmc_limit=args.mcmc_limit,
        jobs=args.jobs,
        n_boot=args.n_boot,
        context=args.context,
        tasks=args.tasks,
    )
    result = run_forecast_bench(config, progress=_stderr)
    if result.skipped:
        _stderr("skipped methods: " + ", ".join(result.skipped))
    tables, paths = write_forecast_report(
        result, args.out, command_line=_command_line(args), plots=not args.no_plots
    )
    print(tables)
    _stderr(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def _run_prune(args: argparse.Namespace) -> int:
    from curvecast.bench.prune_report import write_prune_report
    from curvecast.bench.prune_run import PruneConfig, run_prune_bench

    config = PruneConfig(
        suites=tuple(args.suite),
        pruners=tuple(args.pruners or _PRUNERS),
        data_dir=None if args.data_dir is None else str(args.data_dir),
        configs=tuple(args.configs),
        tasks=args.tasks,
        orders=args.orders,
        workers=tuple(args.workers),
        seed=args.seed,
        jobs=args.jobs,
        n_boot=args.n_boot,
    )
    return _replay_bench(
        args, "prune", "pruners", partial(run_prune_bench, config), write_prune_report
    )


def _replay_bench(
    args: argparse.Namespace,
    command: str,
    what: str,
    run: Callable[..., Any],
    write: Callable[..., tuple[str, dict[str, Path]]],
) -> int:
    """What ``bench prune`` and ``bench anytime`` share once their config is built: the fixture
    suite runs alone, ``run(progress=, fixture=)`` replays, the ``what`` it skipped are named,
    ``write`` writes the report and its tables are printed."""
    from curvecast.bench.runner import FIXTURE_SUITE, fixture_curves

    fixture = {FIXTURE_SUITE: fixture_curves(args.seed)} if FIXTURE_SUITE in args.suite else None
    if fixture is not None and len(args.suite) > 1:
        _stderr(f"curvecast bench {command}: error: run the fixture suite on its own")
        return 2
    result = run(progress=_stderr, fixture=fixture)
    if result.skipped:
        _stderr(f"skipped {what}: " + "; ".join(f"{k} ({v})" for k, v in result.skipped.items()))
    tables, paths = write(
        result, args.out, command_line=_command_line(args), plots=not args.no_plots
    )
    print(tables)
    _stderr(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def _run_speed(args: argparse.Namespace) -> int:
    from curvecast.bench.report import write_speed_report
    from curvecast.bench.speed import run_speed

    result = run_speed(
        args.methods,
        repeats=args.repeats,
        sizes=args.sizes,
        n_query=args.n_query,
        batch=args.batch,
        seed=args.seed,
        progress=_stderr,
    )
    if result.skipped:
        _stderr("skipped methods: " + ", ".join(result.skipped))
    if not result.methods:
        _stderr("curvecast bench speed: error: no requested method can run")
        return 2
    tables, paths = write_speed_report(result, args.out, command_line=_command_line(args))
    print(tables)
    _stderr(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``curvecast bench ...`` on its own: ``argv`` without the leading "bench"."""
    parser = argparse.ArgumentParser(prog="curvecast")
    subparsers = parser.add_subparsers(dest="command")
    add_bench_parser(subparsers)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(["bench", *argv])
    args.command_line = shlex.join(["curvecast", "bench", *argv])
    return run_bench(args)


if __name__ == "__main__":
    sys.exit(main())
