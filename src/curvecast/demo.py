"""``curvecast demo``: forecast real curves shipped with the package and compare with the truth."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import IO, Any

import numpy as np

from curvecast.curves import Curve

__all__ = ["SampleCurve", "load_samples", "run_demo"]


@dataclass(frozen=True)
class SampleCurve:
    """A real curve shipped with curvecast, with its provenance."""

    name: str
    source: str
    license: str
    axis: str
    metric: str
    curve: Curve


def load_samples() -> list[SampleCurve]:
    """The real curves in ``curvecast/data/sample_curves.json`` (see NOTICE.md there)."""
    text = resources.files("curvecast").joinpath("data/sample_curves.json").read_text("utf-8")
    out = []
    for c in json.loads(text)["curves"]:
        curve = Curve(c["x"], c["y"], c["direction"], c["bounds"], meta={"name": c["name"]})
        out.append(SampleCurve(c["name"], c["source"], c["license"], c["axis"], c["metric"], curve))
    return out


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return str(v)
    a = abs(v)
    return f"{v:.3g}" if a < 1e-3 or a >= 1e4 else f"{v:.4f}"[:6]


def run_demo(method: str = "auto", observed: float = 0.2, out: IO[str] | None = None) -> int:
    """Forecast every sample curve from its first ``observed`` fraction of points and print the
    forecast of the final value against the truth. Returns 0."""
    import sys

    from curvecast.exceptions import parameter_error
    from curvecast.forecast import forecast_curve

    if isinstance(observed, bool) or not isinstance(observed, int | float) or not 0 < observed < 1:
        raise parameter_error("observed", "curvecast demo", "a fraction in (0, 1)", observed)
    stream = out if out is not None else sys.stdout
    samples = load_samples()
    stream.write(
        f"curvecast demo: {len(samples)} real curves, each observed up to {observed:.0%} of its "
        f"points, forecast to its last point with method={method!r}.\n\n"
    )
    header = f"{'curve':<58} {'seen':>9} {'truth':>8} {'median':>8} {'90% interval':>19}  in?"
    stream.write(header + "\n" + "-" * len(header) + "\n")
    hits = 0
    rows: list[dict[str, Any]] = []
    for s in samples:
        c = s.curve
        k = max(1, round(observed * c.x.size))
        fc = forecast_curve(c.truncate(k), c.x[k:], method=method, quantiles=(0.05, 0.5, 0.95))
        lo, med, hi = fc.quantiles[-1]
        truth = float(c.y[-1])
        inside = bool(lo <= truth <= hi)
        hits += inside
        rows.append({"name": s.name, "truth": truth, "median": med})
        name = s.name if len(s.name) <= 58 else s.name[:55] + "..."
        stream.write(
            f"{name:<58} {k:>3}/{c.x.size:<5} {_fmt(truth):>8} {_fmt(med):>8} "
            f"[{_fmt(lo):>8}, {_fmt(hi):>8}]  {'yes' if inside else 'NO'}\n"
        )
    err = np.mean([abs(r["truth"] - r["median"]) / max(abs(r["truth"]), 1e-12) for r in rows])
    stream.write(
        f"\n{hits} of {len(samples)} true final values fall inside the 90% interval; "
        f"mean relative error of the median {err:.1%}.\n"
        f"Method used: {fc.method}. Sources and licences: curvecast/data/NOTICE.md.\n\n"
        "Forecast your own curves: write one JSON object per line, e.g.\n"
        '  {"id": "run-1", "x": [1, 2, 3, 4], "y": [0.52, 0.61, 0.66, 0.69], '
        '"x_new": [10, 20, 50], "direction": "maximize", "bounds": [0, 1]}\n'
        "then run:  curvecast forecast runs.jsonl > forecasts.jsonl\n"
        "From Python:  curvecast.forecast(x, y, x_new, direction=..., bounds=...).quantiles\n"
    )
    return 0
