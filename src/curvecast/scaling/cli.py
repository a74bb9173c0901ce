"""``curvecast scaling fit SWEEP``: fit a law to a sweep, print predictions and the optimal split.

The main CLI (:mod:`curvecast.cli`) calls :func:`add_scaling_parser` and :func:`run_scaling`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from curvecast.exceptions import InvalidParameterError

__all__ = ["add_scaling_parser", "parse_point", "run_scaling"]

_LEVELS = (0.05, 0.5, 0.95)
#: the names of curvecast.scaling.LAWS (not imported here: building the parser stays light)
_LAWS = ("chinchilla", "compute", "loglinear", "overtraining")


def parse_point(text: str) -> dict[str, float]:
    """``"N=7e9,D=1.4e12"`` -> ``{"N": 7e9, "D": 1.4e12}``.

    Raises:
        argparse.ArgumentTypeError: not ``KEY=NUMBER`` pairs of N, D, C, M.
    """
    out: dict[str, float] = {}
    for part in text.split(","):
        key, sep, val = part.partition("=")
        key = key.strip()
        if not sep or key not in ("N", "D", "C", "M"):
            raise argparse.ArgumentTypeError(
                "expected KEY=VALUE pairs with KEY in N, D, C, M, e.g. N=7e9,D=1.4e12; "
                f"got {text!r}"
            )
        try:
            out[key] = float(val)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{key}={val!r} is not a number") from None
    return out


def _budget(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a compute budget in FLOPs, e.g. 1e22; got {text!r}"
        ) from None
    if not np.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"the budget must be > 0; got {text!r}")
    return v


def add_scaling_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``scaling`` (with ``fit``) to ``subparsers``; returns the ``scaling`` parser."""
    sc = subparsers.add_parser(
        "scaling",
        help="fit a scaling law to a sweep of runs and forecast a bigger model",
        description="Scaling laws over model size, tokens and compute.",
    )
    sc.set_defaults(scaling_command=None)
    sub = sc.add_subparsers(dest="scaling_command", metavar="{fit,downstream}")
    fit = sub.add_parser(
        "fit",
        help="fit a law to SWEEP (CSV or JSON Lines) and predict",
        description="Fit a scaling law to the runs in SWEEP (one row per run: N, D or C, loss), "
        "print its parameters, predictions at --predict points and the compute-optimal split at "
        "--optimal-for budgets with 90% intervals (bootstrap over runs), and write fit.json "
        "and plots (iso-FLOP curves, frontier with its band, residuals) into --out.",
    )
    fit.add_argument("sweep", type=Path, help="CSV or JSON Lines file, one run per row")
    fit.add_argument("--law", choices=_LAWS, default="chinchilla")
    fit.add_argument(
        "--predict",
        type=parse_point,
        action="append",
        default=[],
        metavar="N=..,D=..",
        help="a point to predict, e.g. N=7e9,D=1.4e12 (repeatable)",
    )
    fit.add_argument(
        "--optimal-for",
        type=_budget,
        action="append",
        default=[],
        metavar="C",
        help="a compute budget in FLOPs for the optimal N*, D* (repeatable)",
    )
    fit.add_argument(
        "--group",
        default=None,
        metavar="LABEL",
        help="fit only the runs of this group (the sweep's group/dataset column)",
    )
    fit.add_argument(
        "--n-bootstrap",
        type=int,
        default=200,
        metavar="B",
        help="bootstrap replicates for intervals (default 200; 0: none)",
    )
    fit.add_argument(
        "--resample",
        choices=("runs", "sizes"),
        default="runs",
        help="bootstrap over runs (default) or over model sizes (wider)",
    )
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument(
        "--drop-diverged",
        action="store_true",
        help="drop runs whose loss is NaN or infinite instead of failing",
    )
    for col in ("n", "d", "c", "loss"):
        fit.add_argument(
            f"--{col}-col",
            default=None,
            metavar="NAME",
            help=f"column holding {col.upper() if col != 'loss' else 'the loss'}",
        )
    fit.add_argument(
        "--out",
        type=Path,
        default=Path("scaling-out"),
        metavar="DIR",
        help="where fit.json and the plots go (default scaling-out/)",
    )
    fit.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    from curvecast.scaling.downstream_cli import add_downstream_parser

    add_downstream_parser(sub)
    return sc


def _row(label: str, point: float, lo: float, hi: float) -> str:
    return f"  {label:<34} {point:>10.4f}   [{lo:.4f}, {hi:.4f}]"


def run_scaling(args: argparse.Namespace) -> int:
    """Run ``scaling fit`` or ``scaling downstream``; returns the exit status (0 ok, 2 bad
    input)."""
    if getattr(args, "scaling_command", None) == "downstream":
        from curvecast.scaling.downstream_cli import run_downstream

        return run_downstream(args)
    if getattr(args, "scaling_command", None) != "fit":
        print(
            "curvecast scaling: error: choose a command: fit or downstream (see --help)",
            file=sys.stderr,
        )
        return 2
    from curvecast.scaling import get_law, read_sweep

    if args.out.exists() and not args.out.is_dir():
        raise InvalidParameterError(
            f"--out {args.out} is a file; it must be a folder (fit.json and the plots go into "
            "it). Give another path, e.g. --out scaling-out/."
        )
    try:
        sweep = read_sweep(
            args.sweep,
            N=args.n_col,
            D=args.d_col,
            C=args.c_col,
            loss=args.loss_col,
            drop_nonfinite=args.drop_diverged,
        )
    except FileNotFoundError as exc:
        print(f"curvecast scaling fit: error: {exc}", file=sys.stderr)
        return 2
    if args.group is not None:
        if args.group not in sweep.groups:
            raise InvalidParameterError(
                f"The sweep has no group {args.group!r}. Its groups are: {', '.join(sweep.groups)}."
            )
        sweep = sweep.select(np.asarray(sweep.group) == args.group)
    elif len(sweep.groups) > 1:
        raise InvalidParameterError(
            f"The sweep holds {len(sweep.groups)} groups ({', '.join(sweep.groups[:5])}...): a law "
            "is fitted to one. Pick one with --group LABEL."
        )
    for pt in args.predict:
        if len(pt) < 2 and not (set(pt) == {"C"} and args.law in ("chinchilla", "compute")):
            raise InvalidParameterError(
                f"--predict {','.join(f'{k}={v:g}' for k, v in pt.items())} needs two of N, D, C, "
                "M (e.g. N=7e9,D=1.4e12), or C alone with --law chinchilla or compute."
            )
    kwargs: dict[str, Any] = {}
    if args.law != "loglinear":
        if args.n_bootstrap < 0:
            raise InvalidParameterError(f"--n-bootstrap must be >= 0. Got {args.n_bootstrap}.")
        kwargs = {"n_bootstrap": args.n_bootstrap, "resample": args.resample}
    law = get_law(args.law, **kwargs)
    t0 = time.process_time()
    law.fit(sweep, rng=args.seed)
    fit_s = time.process_time() - t0
    out: dict[str, Any] = {
        "sweep": str(args.sweep),
        "n_runs": len(sweep),
        "fit_cpu_s": fit_s,
        **law.to_dict(),
        "predictions": [],
        "optimal": [],
    }
    print(f"{law.name} law fitted to {len(sweep)} runs in {fit_s:.2f} s CPU")
    intervals = law.param_intervals(0.9) if hasattr(law, "param_intervals") else {}
    for k, v in law.params.items():
        iv = intervals.get(k)
        print(f"  {k:<8} {v:.6g}" + (f"   90%: [{iv[0]:.4g}, {iv[1]:.4g}]" if iv else ""))
    if args.predict:
        print("\npredicted loss                          median     90% interval")
    for pt in args.predict:
        fc = law.predict(levels=_LEVELS, **pt)
        label = ", ".join(f"{k}={v:.3g}" for k, v in pt.items())
        print(
            _row(
                label,
                float(fc.quantiles[1, 0]),
                float(fc.quantiles[0, 0]),
                float(fc.quantiles[2, 0]),
            )
        )
        out["predictions"].append({"query": pt, **fc.to_dict()})
    if args.optimal_for:
        if not hasattr(law, "optimal"):
            raise InvalidParameterError(
                f"--optimal-for needs a law with a compute frontier (chinchilla or compute); "
                f"{args.law} has none."
            )
        split = law.optimal(args.optimal_for, levels=_LEVELS)
        print(
            "\ncompute-optimal split                  N*            D*          tokens/param  loss"
        )
        for i, c in enumerate(split.C):
            print(
                f"  C={c:<10.3g} N*={split.N[i]:.3g} [{split.N_quantiles[0, i]:.3g}, "
                f"{split.N_quantiles[2, i]:.3g}]  D*={split.D[i]:.3g} "
                f"[{split.D_quantiles[0, i]:.3g}, "
                f"{split.D_quantiles[2, i]:.3g}]  {split.tokens_per_param[i]:.1f}  "
                f"{split.loss[i]:.4f} [{split.loss_quantiles[0, i]:.4f}, "
                f"{split.loss_quantiles[2, i]:.4f}]"
            )
        out["optimal"] = split.to_dict()
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidParameterError(
            f"cannot create the folder --out {args.out} ({exc.strerror or exc}); give a path "
            "you can write to."
        ) from None
    paths = [args.out / "fit.json"]
    paths[0].write_text(json.dumps(out, indent=1, default=float), encoding="utf-8")
    if not args.no_plots:
        from curvecast.scaling import plots

        if args.law in ("chinchilla", "overtraining"):
            paths.append(plots.plot_isoflop(law, sweep, args.out / "isoflop.png"))
            paths.append(plots.plot_residuals(law, sweep, args.out / "residuals.png"))
        if hasattr(law, "optimal"):
            up_to = max(args.optimal_for) if args.optimal_for else None
            paths.append(plots.plot_frontier(law, sweep, args.out / "frontier.png", up_to=up_to))
    print(f"\nwrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    return 0
