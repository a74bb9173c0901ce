"""The ``curvecast`` command.

Exit codes (all subcommands):
    0  success
    1  an unexpected internal error (please report it with the printed details)
    2  invalid input or usage: the message names the line, the field and the fix
    130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import IO, Any

from curvecast import __version__
from curvecast.exceptions import CurvecastError

__all__ = ["main"]

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

_EPILOG = """exit codes: 0 success, 1 internal error, 2 invalid input or usage, 130 interrupted"""


class _Parser(argparse.ArgumentParser):
    """argparse with our exit code for usage errors (2, as argparse) and a hint to --help."""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message}\nTry '{self.prog} --help'.\n")


def _levels(text: str) -> tuple[float, ...]:
    from curvecast.forecast._result import check_levels

    try:
        values = [float(v) for v in text.split(",") if v.strip()]
        return tuple(check_levels(values, owner="--quantiles").tolist())
    except (ValueError, CurvecastError) as exc:
        raise argparse.ArgumentTypeError(
            f"expected increasing levels in (0, 1) separated by commas, e.g. 0.05,0.5,0.95 ({exc})"
        ) from None


def _int_at_least(low: int, option: str) -> Any:
    """An argparse type: an int >= ``low``, refused in the house voice otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(
                f"The {option!r} option must be an int >= {low}. Got {text!r} instead."
            )
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    from curvecast.forecast import DEFAULT_LEVELS, available_methods
    from curvecast.jsonl import MAX_POINTS, MAX_X_NEW

    parser = _Parser(
        prog="curvecast",
        description="Calibrated forecasts of learning curves, and early stopping on them.",
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"curvecast {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    fc = sub.add_parser(
        "forecast",
        help="forecast curves given as JSON Lines",
        description="Read forecasting requests as JSON Lines from FILE (or stdin) and write one "
        "answer per request to stdout, in the same order. Request: "
        '{"id": ..., "x": [...], "y": [...], "x_new": [...], "direction": "maximize"|"minimize", '
        '"bounds": [lo, hi], "threshold": best, "schedule": {"name": "cosine", "peak_lr": 3e-4, '
        '"warmup": 200, "total": 5000}}. Answer: {"id", "x_new", "levels", "quantiles", '
        '"mean", "method", "diverged", and "prob_better" when a threshold was given}.',
        epilog=_EPILOG,
    )
    fc.add_argument("file", nargs="?", default="-", help="JSON Lines file (default: stdin)")
    fc.add_argument(
        "--quantiles",
        type=_levels,
        default=DEFAULT_LEVELS,
        metavar="LEVELS",
        help="comma-separated levels in (0, 1) (default: %(default)s)",
    )
    fc.add_argument(
        "--method",
        default="auto",
        choices=available_methods(),
        help="forecasting method (default: auto, the best available)",
    )
    fc.add_argument(
        "--seed",
        type=_int_at_least(0, "--seed"),
        default=0,
        help="random seed, an int >= 0 (default: 0); each request's answer depends on the seed "
        "and the request only, not on its position in the file",
    )
    fc.add_argument(
        "--skip-invalid",
        action="store_true",
        help='write {"id": ..., "error": "..."} for a bad line and go on, instead of stopping',
    )
    fc.add_argument(
        "--max-x-new",
        type=_int_at_least(1, "--max-x-new"),
        default=MAX_X_NEW,
        metavar="N",
        help="refuse a request with more query points than this (default: %(default)s)",
    )
    fc.add_argument(
        "--max-points",
        type=_int_at_least(1, "--max-points"),
        default=MAX_POINTS,
        metavar="N",
        help="refuse a request with more observed points than this (default: %(default)s)",
    )
    from curvecast.io._cli import add_from_arguments

    add_from_arguments(fc)

    demo = sub.add_parser(
        "demo",
        help="run a real hyperparameter search pruned by curvecast (or --curves)",
        description="Run a real hyperparameter search: an MLP on scikit-learn's bundled digits, "
        "trained epoch by epoch, tuned by Optuna and pruned by curvecast's ForecastPruner; the "
        "study is stored in SQLite and a report is written. With --curves, forecast the real "
        "curves that ship with curvecast and print the forecast against what happened.",
        epilog=_EPILOG,
    )
    demo.add_argument(
        "--trials", type=int, default=40, metavar="N", help="trials in the search (default: 40)"
    )
    demo.add_argument(
        "--seed", type=_int_at_least(0, "--seed"), default=0, help="random seed (default: 0)"
    )
    demo.add_argument(
        "--storage",
        default=None,
        metavar="URL",
        help="Optuna storage URL (default: sqlite:///OUT/demo.db)",
    )
    demo.add_argument(
        "--out",
        default="curvecast-demo",
        metavar="DIR",
        help="folder for the report and the default database (default: curvecast-demo)",
    )
    demo.add_argument(
        "--compare",
        action="store_true",
        help="also run every sampled configuration without pruning and compare",
    )
    demo.add_argument(
        "--method", default="auto", choices=available_methods(), help="forecasting method"
    )
    demo.add_argument(
        "--curves", action="store_true", help="instead of the search, forecast the shipped curves"
    )
    demo.add_argument(
        "--observed",
        type=float,
        default=0.2,
        metavar="FRACTION",
        help="with --curves: fraction of each curve's points observed (default: %(default)s)",
    )

    try:
        from curvecast.bench.cli import add_bench_parser
    except ImportError:  # the bench package is optional in a trimmed install
        pass
    else:
        add_bench_parser(sub)
    from curvecast.scaling.cli import add_scaling_parser

    add_scaling_parser(sub)
    from curvecast.sampling.cli import add_sampling_parser

    add_sampling_parser(sub)
    from curvecast.dashboard import add_dashboard_parser
    from curvecast.train.pfn import add_arguments as add_train_arguments

    train = sub.add_parser(
        "train",
        help="train the PFN forecaster on the synthetic prior (needs curvecast[train])",
        description="Train curvecast's PFN on tasks drawn from curvecast.prior, on the GPU when "
        "torch sees one, else on the CPU; write the weights (safetensors) and a model card "
        "(--out with .json). Use the file with PFNForecaster(weights=...).",
        epilog=_EPILOG,
    )
    add_train_arguments(train)

    add_dashboard_parser(sub)
    from curvecast.stats._cli import add_compare_parser

    add_compare_parser(sub)
    return parser


def _forecast(args: argparse.Namespace, out: IO[str]) -> int:
    import time

    from curvecast.jsonl import RequestError, parse_line

    try:
        stream: Any = sys.stdin if args.file == "-" else open(args.file, "rb")
    except OSError as exc:
        print(
            f"curvecast forecast: error: cannot read {args.file!r}: {exc.strerror}.",
            file=sys.stderr,
        )
        return EXIT_INPUT
    if stream is sys.stdin and hasattr(sys.stdin, "buffer"):
        stream = sys.stdin.buffer  # bytes: a line that is not UTF-8 is that line's error only
    progress = _Progress(sys.stderr, time.monotonic)
    pending: list[Any] = []  # parsed requests waiting for one batched forecast

    def flush() -> int | None:
        """Forecast the pending requests in one batch and write their answers in order."""
        batch, pending[:] = list(pending), []
        answers = _answer_batch(batch, args)
        for req, fc in zip(batch, answers, strict=True):
            if isinstance(fc, RequestError):
                if not args.skip_invalid:
                    progress.done()
                    print(f"curvecast forecast: error: {fc}", file=sys.stderr)
                    return EXIT_INPUT
                _write(out, {"id": fc.request_id, "error": str(fc)})
            else:
                answer: dict[str, Any] = {"id": req.id, **fc.to_dict()}
                if req.threshold is not None:
                    answer["prob_better"] = fc.prob_better(req.threshold)
                _write(out, answer)
            progress.tick()
        return None

    with stream:
        for line_no, text in enumerate(stream, start=1):
            try:
                req = parse_line(
                    text, line_no, max_x_new=args.max_x_new, max_points=args.max_points
                )
            except RequestError as exc:
                if (rc := flush()) is not None:
                    return rc
                if not args.skip_invalid:
                    progress.done()
                    print(f"curvecast forecast: error: {exc}", file=sys.stderr)
                    return EXIT_INPUT
                _write(out, {"id": exc.request_id, "error": str(exc)})
                progress.tick()
                continue
            if req is not None:
                pending.append(req)
            # batch what is already there; never wait for input to fill a batch
            if len(pending) >= _BATCH or (pending and not _more_waiting(stream)):
                if (rc := flush()) is not None:
                    return rc
        if (rc := flush()) is not None:
            return rc
    progress.done()
    return EXIT_OK


#: Requests forecast together (one forward pass of the network) by ``curvecast forecast``.
_BATCH = 64


def _more_waiting(stream: Any) -> bool:
    """Whether more input can be read from ``stream`` right now (a file: always; a pipe or a
    terminal: only when data is waiting), so an interactive caller never waits on a batch."""
    import select

    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return True  # an in-memory stream: all of it is there
    try:
        if os.path.isfile(f"/proc/self/fd/{fd}") or (not os.isatty(fd) and _is_regular(fd)):
            return True
        ready, _, _ = select.select([fd], [], [], 0)
    except (OSError, ValueError):
        return False
    return bool(ready)


def _is_regular(fd: int) -> bool:
    import stat

    try:
        return stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        return False


def _answer_batch(batch: list[Any], args: argparse.Namespace) -> list[Any]:
    """One Forecast (or the RequestError of its line) per request, in order: requests with a
    schedule one by one, the others in one :func:`curvecast.forecast_many` call, retried one by
    one when some request in the batch is refused."""
    from curvecast.forecast import forecast_curve, forecast_many
    from curvecast.jsonl import RequestError, request_rng

    def one(req: Any) -> Any:
        try:
            return forecast_curve(
                req.curve, req.x_new, method=args.method, quantiles=args.quantiles,
                rng=request_rng(req.curve, req.x_new, args.seed), schedule=req.schedule,
            )  # fmt: skip
        except CurvecastError as exc:
            return RequestError(req.line_no, str(exc), req.id)

    plain = [r for r in batch if r.schedule is None]
    done: dict[int, Any] = {}
    if len(plain) > 1:
        try:
            fcs = forecast_many(
                [r.curve for r in plain], [r.x_new for r in plain], method=args.method,
                quantiles=args.quantiles,
                rng=[request_rng(r.curve, r.x_new, args.seed) for r in plain],
            )  # fmt: skip
            done = {id(r): fc for r, fc in zip(plain, fcs, strict=True)}
        except CurvecastError:
            done = {}
    return [done[id(r)] if id(r) in done else one(r) for r in batch]


class _Progress:
    """``N requests answered (R/s)`` on stderr, at most twice a second, only on a terminal."""

    def __init__(self, err: IO[str], clock: Any) -> None:
        self._err, self._clock = err, clock
        self._on = bool(getattr(err, "isatty", lambda: False)())
        self._n, self._start, self._last = 0, clock(), -1.0
        self._shown = False

    def tick(self) -> None:
        self._n += 1
        if not self._on:
            return
        now = self._clock()
        if now - self._last >= 0.5:
            self._last, self._shown = now, True
            rate = self._n / max(now - self._start, 1e-9)
            self._err.write(f"\rcurvecast forecast: {self._n} requests answered ({rate:.1f}/s)")
            self._err.flush()

    def done(self) -> None:
        if self._on and self._shown:
            self._err.write(f"\rcurvecast forecast: {self._n} requests answered.          \n")
            self._err.flush()


def _search_demo(args: argparse.Namespace) -> int:
    from curvecast.demo_search import EPOCHS, run_search_demo

    r = run_search_demo(
        trials=args.trials, seed=args.seed, storage=args.storage, out=args.out,
        compare=args.compare, method=args.method,
    )  # fmt: skip
    lines = [
        "",
        f"curvecast demo: {r.n_trials} trials of an MLP on digits ({EPOCHS} epochs each), "
        f"{r.seconds:.0f}s",
        f"  completed {r.n_complete}, pruned {r.n_pruned}; epochs trained {r.epochs_used} of "
        f"{r.epochs_full}: compute saved {r.saved:.0%}",
        f"  best validation accuracy {r.best_value:.4f} with {r.best_params}",
    ]
    if r.compare is not None:
        c = r.compare
        lines.append(
            f"  without pruning: best {c['best_value']:.4f} (trial {c['best_trial']}), "
            f"best kept: {'yes' if c['best_kept'] else 'NO'}, regret {c['regret']:.4f}, "
            f"{c['seconds']:.0f}s against {r.seconds:.0f}s ({c['speedup_time']:.1f}x faster with "
            "pruning)"
        )
    for number, reason in r.pruned_reasons[:3]:
        lines.append(f"  trial {number}: {reason}")
    if len(r.pruned_reasons) > 3:
        lines.append(f"  ... and {len(r.pruned_reasons) - 3} more pruned trials in the report")
    lines += [
        f"  report: {r.report}",
        f"  dashboard: curvecast dashboard --storage {r.storage}",
        "  your own search: optuna.create_study(..., pruner="
        "curvecast.integrations.optuna.ForecastPruner())",
    ]
    print("\n".join(lines))
    return EXIT_OK


def _subparser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Any:
    """The deepest parser the command line reached (``bench prune`` included)."""
    current: Any = parser
    for dest in ("command", "bench_command"):
        actions = [
            a
            for a in current._actions  # argparse keeps its subparsers there only
            if isinstance(a, argparse._SubParsersAction) and a.dest == dest
        ]
        name = getattr(args, dest, None)
        if not actions or name is None or name not in actions[0].choices:
            break
        current = actions[0].choices[name]
    return current


def _write(out: IO[str], obj: dict[str, Any]) -> None:
    out.write(json.dumps(obj, allow_nan=False) + "\n")
    out.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # name the subcommand's usage, not the top-level one
        _subparser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        return EXIT_INPUT
    try:
        if args.command == "forecast" and args.source is not None:
            from curvecast.io._cli import run_from

            return run_from(args, sys.stdout)
        if args.command == "forecast":
            return _forecast(args, sys.stdout)
        if args.command == "demo":
            if args.curves:
                from curvecast.demo import run_demo

                return run_demo(method=args.method, observed=args.observed, out=sys.stdout)
            return _search_demo(args)
        if args.command == "bench":
            from curvecast.bench.cli import run_bench

            return int(run_bench(args))
        if args.command == "scaling":
            from curvecast.scaling.cli import run_scaling

            return run_scaling(args)
        if args.command == "sampling":
            from curvecast.sampling.cli import run_sampling

            return run_sampling(args)
        if args.command == "train":
            from curvecast.train.pfn import run as run_train

            return run_train(args, "curvecast " + " ".join(sys.argv[1:] if argv is None else argv))
        if args.command == "compare":
            from curvecast.stats._cli import run_compare

            return run_compare(args)
        if args.command == "dashboard":
            from curvecast.dashboard import run_dashboard

            return int(run_dashboard(args))
    except CurvecastError as exc:
        print(f"curvecast {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `curvecast forecast big.jsonl | head`
        sys.stderr.close()
        return EXIT_OK
    except Exception as exc:
        if os.environ.get("CURVECAST_DEBUG"):
            raise
        print(
            f"curvecast {args.command}: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in curvecast; please report it with the command you ran "
            "(set CURVECAST_DEBUG=1 to see the traceback).",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    parser.error(f"unknown command {args.command!r}")
    return EXIT_INPUT


if __name__ == "__main__":
    sys.exit(main())
