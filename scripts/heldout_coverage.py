"""Coverage and CRPS of the default forecast on curves no curvecast method was tuned on.

Usage: python scripts/heldout_coverage.py --data-dir ../shared/data [--curves 100] [--seed 0]

Two public sources the benchmark suites do not hold (fetched by hand from their repositories,
laid out as the shared data folder's README says): the validation loss of modded-nanogpt
speedrun records (KellerJordan/modded-nanogpt, ``records/`` logs, parsed to
``modded_nanogpt/nanogpt_curves.csv.gz``) and the zero-shot accuracy of the Pythia models over
training (EleutherAI/pythia, ``evals/pythia-v1``, ``pythia_evals/pythia_v1_evals_tidy.csv.gz``).
Each curve is cut at 20, 40 and 60% of its points and its final value forecast by
``curvecast.forecast`` with its defaults and no bounds, as a new user would call it: alone, and
with up to 16 other curves of the same group (the nanogpt track, the Pythia task) as context.
Prints the 90% coverage, the mean CRPS and last_value's mean absolute error per cutoff.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import curvecast
from curvecast import Curve


def _crps(fc: curvecast.Forecast, y: float) -> float:
    from curvecast.forecast import GRID

    q = fc.grid_values[-1]  # CRPS as twice the mean pinball loss over the quantile grid
    return float(np.mean(2 * (GRID - np.asarray(y < q, float)) * (y - q)))


def _nanogpt(root: Path, k: int, rng: np.random.Generator) -> dict[str, list[Curve]]:
    import pandas as pd

    df = pd.read_csv(root / "modded_nanogpt" / "nanogpt_curves.csv.gz")
    df = df[df.metric == "val_loss"]
    groups: dict[str, list[Curve]] = {}
    for (track, _file), g in df.groupby(["track", "file"]):
        g = g.sort_values("step").drop_duplicates("step")
        if len(g) >= 8 and g.step.iloc[0] >= 0:
            x = g.step.to_numpy(float) + 1.0
            groups.setdefault(str(track), []).append(Curve(x, g.value.to_numpy(), "minimize"))
    return _sample(groups, k, rng)


def _pythia(root: Path, k: int, rng: np.random.Generator) -> dict[str, list[Curve]]:
    import pandas as pd

    df = pd.read_csv(root / "pythia_evals" / "pythia_v1_evals_tidy.csv.gz")
    df = df[(df.variant == "zero-shot") & (df.metric == "acc")]
    groups: dict[str, list[Curve]] = {}
    for (task, _model), g in df.groupby(["task", "model"]):
        g = g.sort_values("step").drop_duplicates("step")
        g = g[g.step > 0]
        if len(g) >= 8:
            groups.setdefault(str(task), []).append(
                Curve(g.step.to_numpy(float), g.value.to_numpy(), "maximize")
            )
    return _sample(groups, k, rng)


def _sample(groups: dict[str, list[Curve]], k: int, rng: np.random.Generator) -> dict:
    names = sorted(groups)
    picks: dict[str, list[Curve]] = {}
    order = rng.permutation(len(names))
    n = 0
    while n < k and any(groups[names[i]] for i in order):
        for i in order:
            if groups[names[i]] and n < k:
                picks.setdefault(names[i], []).append(
                    groups[names[i]].pop(int(rng.integers(len(groups[names[i]]))))
                )
                n += 1
    return {name: (picks[name], groups[name]) for name in picks}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--curves", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    root = Path(args.data_dir)
    for name, load in (("modded-nanogpt val loss", _nanogpt), ("Pythia zero-shot acc", _pythia)):
        sets = load(root, args.curves, np.random.default_rng(args.seed))
        print(f"{name}: {sum(len(a) for a, _ in sets.values())} curves")
        for setting in ("alone", "context"):
            for cut in (0.2, 0.4, 0.6):
                hit, crps, lv = [], [], []
                for chosen, rest in sets.values():
                    for c in chosen:
                        n = max(2, round(cut * c.x.size))
                        others = [o for o in chosen + rest if o is not c][:16]
                        ctx = others if setting == "context" else ()
                        f = curvecast.forecast(
                            c.x[:n], c.y[:n], [c.x[-1]], direction=c.direction, context=ctx
                        )
                        lo, hi = f.quantile([0.05, 0.95])[0]
                        hit.append(lo <= c.y[-1] <= hi)
                        crps.append(_crps(f, float(c.y[-1])))
                        lv.append(abs(float(c.y[n - 1] - c.y[-1])))
                print(
                    f"  {setting:7s} @{cut:.1f}: 90% coverage {np.mean(hit):.2f}, "
                    f"CRPS {np.mean(crps):.4g} (last_value abs error {np.mean(lv):.4g})"
                )


if __name__ == "__main__":
    main()
