"""``curvecast bench downstream --drift``: the extrapolation drift of the tuning tables.

The band of :class:`~curvecast.scaling.DownstreamScaling` is calibrated by backtests inside the
fitted table; a shift shared by the models above a table's cutoff (newer model families trained
better, a benchmark that later models saturate) is invisible to them. This measures it on the
tuning tables with rolling origins: each table is fitted below its benchmark cutoff and below
its 50%, 60%, 70% and 80% compute quantiles, and every model above is predicted. A held-out
model's error is its mean over benchmarks of ``(logit(truth) - centre) / sd`` (``sd`` each
benchmark's logit spread), its distance the decades of compute above its family's (or, for a
new family, the table's) largest fitted model. A run's drift is the slope through the origin of
the errors on the distances; a table's, the mean over its runs. The drift of a table not yet
seen is taken as a draw of unknown sign: its standard deviation, the root mean square of the
tables' drifts, is :data:`~curvecast.scaling.downstream_scaling.DRIFT_PER_DECADE`.
``leaderboard`` is never measured here (it is kept out of every tuning loop).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from curvecast.bench.downstream_data import TUNING_TABLES, load_tables
from curvecast.exceptions import InvalidParameterError
from curvecast.scaling.downstream_core import to_unit
from curvecast.scaling.downstream_scaling import DownstreamScaling

__all__ = ["drift_rows", "format_drift"]

_QUANTILES = (0.5, 0.6, 0.7, 0.8)


def drift_rows(
    root: str | Path | None, tables: tuple[str, ...] = TUNING_TABLES, seed: int = 0
) -> dict[str, Any]:
    """Per (table, cutoff) run: models fitted and held out, the drift per decade; per table the
    mean over runs; ``rms``: their root mean square. Only tuning tables are measured.

    Raises:
        InvalidParameterError: ``tables`` names no tuning table.
        DataSourceError: no ``root``, or a table missing under it.
    """
    names = tuple(t for t in tables if t in TUNING_TABLES)
    if not names:
        raise InvalidParameterError(
            "The drift is measured on the tuning tables only (leaderboard is kept out of every "
            f"tuning loop): pass --tables with one or more of {', '.join(TUNING_TABLES)}."
        )
    loaded = load_tables(root, names)
    runs: list[dict[str, Any]] = []
    per_table: dict[str, float] = {}
    for name in names:
        pt = loaded[name]
        x = np.log10(np.asarray(pt.table.flops))
        cuts = sorted({float(np.log10(pt.cutoff))} | {float(np.quantile(x, q)) for q in _QUANTILES})
        slopes = []
        for c in cuts:
            below = x <= c + 1e-9
            fit, held = pt.table.select(below), pt.table.select(~below)
            if len(held) == 0 or len(set(fit.family)) < 2:
                continue
            model = DownstreamScaling(chance=pt.chance, allow_single=True).fit(fit, rng=seed)
            fc = model.predict_table(held)
            zt = to_unit(np.asarray(held.scores), model.floor_, model.ceiling_, model.link)
            err = (zt - fc.centre) / model.core_.sd[None, :]
            dist = model.decades_above(np.log10(np.asarray(held.flops)), held.family)
            ok = np.isfinite(err)
            cnt = ok.sum(axis=1)
            e = np.where(ok, err, 0.0).sum(axis=1) / np.maximum(cnt, 1)
            use = cnt > 0
            dd = float(dist[use] @ dist[use])
            if dd <= 0:
                continue
            slope = float(dist[use] @ e[use]) / dd
            slopes.append(slope)
            runs.append(
                {
                    "table": name,
                    "cutoff": 10**c,
                    "n_fit": len(fit),
                    "n_held": len(held),
                    "mean_distance": float(dist[use].mean()),
                    "drift": slope,
                }
            )
        if slopes:
            per_table[name] = float(np.mean(slopes))
    vals = np.array(list(per_table.values()))
    rms = float(np.sqrt(np.mean(vals**2))) if vals.size else float("nan")
    return {"runs": runs, "tables": per_table, "rms": rms}


def format_drift(result: dict[str, Any]) -> str:
    """Markdown: the runs, each table's drift and their root mean square."""
    lines = [
        "| table | cutoff | fit models | held-out models | mean distance (decades) "
        "| drift per decade |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['table']} | {r['cutoff']:.3g} | {r['n_fit']} | {r['n_held']} | "
            f"{r['mean_distance']:.2f} | {r['drift']:+.3f} |"
        )
    lines += ["", "| table | drift per decade (mean over cutoffs) |", "|---|---|"]
    lines += [f"| {t} | {v:+.3f} |" for t, v in result["tables"].items()]
    lines += ["", f"root mean square over tables: {result['rms']:.3f} logit sd per decade"]
    return "\n".join(lines)
