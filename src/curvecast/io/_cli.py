"""``curvecast forecast --from SOURCE``: one row per run of a log directory or tracking store."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
import warnings
from collections import Counter
from typing import IO, TYPE_CHECKING

from curvecast.exceptions import InvalidParameterError

if TYPE_CHECKING:
    from curvecast.curves import Curve
    from curvecast.io._judge import RunForecast

__all__ = ["add_from_arguments", "run_from"]


def _bounds(text: str) -> tuple[float | None, float | None]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(
            "expected LO,HI with an empty side for open, e.g. 0,1 or 0,"
        )
    try:
        lo, hi = (float(p) if p else None for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers LO,HI, got {text!r}") from None
    return lo, hi


def _unit(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return v


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return v


def add_from_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--from`` and its options to the ``forecast`` subcommand's parser."""
    g = parser.add_argument_group(
        "runs from a log directory or tracking store (--from)",
        "Instead of JSON Lines, read every run's METRIC from SOURCE and print one row per run: "
        "last step, forecast final value with its 90% interval, P(beat the best run), and "
        "whether it is worth stopping.",
    )
    g.add_argument(
        "--from",
        dest="source",
        metavar="SOURCE",
        help="tensorboard:LOGDIR, mlflow:MLRUNS|DB|URI, wandb:EXPORT, csv:FILE or parquet:FILE",
    )
    g.add_argument("--metric", help="the metric to forecast, e.g. val/loss (with --from)")
    g.add_argument(
        "--mode",
        choices=("min", "max", "minimize", "maximize"),
        help="whether lower or higher is better (default: from the metric's name: loss, error "
        "-> min; acc, f1, score -> max)",
    )
    g.add_argument(
        "--bounds", type=_bounds, metavar="LO,HI", help="range of the metric, e.g. 0,1 or 0,"
    )
    g.add_argument(
        "--horizon",
        type=_positive,
        metavar="STEP",
        help="the final step of every run (default: the last step of the longest run)",
    )
    g.add_argument(
        "--threshold",
        type=_unit,
        default=0.1,
        help="a run is worth stopping when P(beat best) < THRESHOLD (default: %(default)s)",
    )
    g.add_argument("--json", action="store_true", help="JSON Lines, one object per run")
    g.add_argument(
        "--to-storage",
        metavar="URL",
        help="also keep the runs, their curves and verdicts as trials of an Optuna storage "
        "(e.g. sqlite:///runs.db) for `curvecast dashboard --storage URL`",
    )
    g.add_argument(
        "--study",
        metavar="NAME",
        help="with --to-storage: the study's name (default: 'METRIC from SOURCE')",
    )
    g.add_argument(
        "--watch",
        type=_positive,
        metavar="SECONDS",
        help="read the source again every SECONDS until interrupted (with --to-storage, the "
        "dashboard follows the runs as they go on)",
    )


def _g(v: float | None) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:.4g}"


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders the numbers inside run names by value: trial-2 before trial-10.

    >>> sorted(["trial-10", "trial-2", "trial-1"], key=natural_key)
    ['trial-1', 'trial-2', 'trial-10']
    """
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.lower())
        for part in re.split(r"(\d+)", name)
        if part
    )


def reference_run(rows: list[RunForecast]) -> str | None:
    """The run that P(beat best) was computed against: the incumbent most rows were judged
    against (a running run's forecast can beat the best finished run), else the best finished
    run, else None."""
    judged = Counter(r.best_run for r in rows if r.best_run and r.verdict.prob_better is not None)
    if judged:
        return judged.most_common(1)[0][0]
    return next((r.best_run for r in rows if r.verdict.reason == "finished" and r.best_run), None)


def _table(rows: list[RunForecast], threshold: float) -> list[str]:
    head = ["run", "points", "last step", "last value", "forecast final [90%]", "P(beat best)"]
    head.append("verdict")
    from curvecast.io._judge import _MIN_POINTS

    best = reference_run(rows)
    body = []
    for r in rows:
        v = r.verdict
        q = v.final_quantiles
        fc = "-" if not q else f"{_g(q.get(0.5))} [{_g(q.get(0.05))}, {_g(q.get(0.95))}]"
        if v.reason == "hopeless":
            verdict = f"STOP (P < {threshold:g})"
        elif v.reason == "diverged":
            verdict = "STOP (diverged)"
        elif v.reason == "finished":
            verdict = "finished"
        elif v.reason == "promising":
            verdict = "continue"
        elif v.reason == "warmup":
            verdict = f"warm-up (< {_MIN_POINTS} points)"
        else:
            verdict = v.reason.replace("_", " ")
        if r.run == best:
            verdict = "best" if v.reason == "finished" else f"{verdict} (best)"
        body.append(
            [
                r.run,
                str(r.points),
                f"{r.last_step:g}",
                _g(r.last_value),
                fc,
                _g(v.prob_better),
                verdict,
            ]
        )
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    return [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [head, *body]
    ]


def run_from(args: argparse.Namespace, out: IO[str]) -> int:
    """Run ``curvecast forecast --from``; returns the exit code (0)."""
    from curvecast.io import infer_direction, judge_runs, parse_source

    parse_source(args.source)  # a bad KIND says so before anything else
    if args.file != "-":
        raise InvalidParameterError(
            f"give either a JSON Lines FILE or --from SOURCE, not both (got {args.file!r} and "
            f"--from {args.source})"
        )
    if not args.metric:
        raise InvalidParameterError(
            f"--from {args.source} needs --metric NAME, the metric to forecast (e.g. "
            "--metric val/loss)"
        )
    mode = args.mode
    direction = None if mode is None else ("maximize" if mode.startswith("max") else "minimize")
    direction = direction or infer_direction(args.metric)
    if direction is None:
        raise InvalidParameterError(
            f"cannot tell from its name whether {args.metric!r} is better high or low: add "
            "--mode max or --mode min"
        )
    study = args.study or f"{args.metric} from {args.source}"
    while True:
        curves = _read_saying_losses(args, direction)
        rows = judge_runs(
            curves,
            horizon=args.horizon,
            threshold=args.threshold,
            method=args.method,
            seed=args.seed,
        )
        rows.sort(key=lambda r: natural_key(r.run))  # trial-2 before trial-10
        _print(args, direction, rows, out)
        if args.to_storage:
            from curvecast.io._mirror import mirror_runs

            n = mirror_runs(
                curves, rows, args.to_storage, study, method=args.method, threshold=args.threshold
            )
            if not args.json:
                out.write(
                    f"stored in {args.to_storage} (study {study!r}): {n['created']} new runs, "
                    f"{n['updated']} updated, {n['complete']} complete; see them with: curvecast "
                    f"dashboard --storage {args.to_storage}\n"
                )
                out.flush()
        if args.watch is None:
            return 0
        try:
            time.sleep(args.watch)
        except KeyboardInterrupt:
            return 0


def _read_saying_losses(args: argparse.Namespace, direction: str) -> dict[str, Curve]:
    """``read_curves``, with each :class:`DataLossWarning` printed as one line on stderr."""
    from curvecast.io import DataLossWarning, read_curves

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataLossWarning)
        curves = read_curves(args.source, args.metric, direction=direction, bounds=args.bounds)
    for w in caught:
        if issubclass(w.category, DataLossWarning):
            print(f"curvecast forecast: warning: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return curves


def _print(args: argparse.Namespace, direction: str, rows: list[RunForecast], out: IO[str]) -> None:
    if args.json:
        for r in rows:
            out.write(json.dumps(r.to_dict(), allow_nan=False) + "\n")
        out.flush()
        return
    horizon = rows[0].verdict.horizon
    stop = [r.run for r in rows if r.worth_stopping]
    lines = [
        f"{args.metric} ({direction}) of {len(rows)} runs from {args.source}; forecast at step "
        f"{_g(horizon)}{'' if args.horizon else ' (the longest run)'}",
        *_table(rows, args.threshold),
    ]
    from curvecast.io._judge import _MIN_POINTS

    best = reference_run(rows)
    if best is not None:
        row = next(r for r in rows if r.run == best)
        against = next(
            (r.verdict.incumbent for r in rows if r.best_run == best and r.run != best), None
        )
        if row.verdict.reason == "finished":
            what = f"its final value {_g(row.last_value)}"
        else:
            what = f"{_g(against)}, the cautious quartile of its forecast (it is still running)"
        lines.append(f"best: {best}; P(beat best) is the chance to beat {what}")
    if any(r.verdict.reason == "warmup" for r in rows):
        lines.append(f"warm-up: a run with fewer than {_MIN_POINTS} points is not forecast yet")
    lines.append("worth stopping: " + (", ".join(stop) if stop else "none"))
    out.write("\n".join(lines) + "\n")
    out.flush()
