"""Every Python block of the README runs as shown (issue 26: the "Forecast curves from Python"
block used four names it never defined, and the Optuna example's printed line could not be
reproduced).

A block whose optional dependency is missing skips and names the extra. A block that reads a
file the user brings (``sweep.csv``) runs in a temporary folder where one is written. A block
that is a fragment of the user's own program (a Lightning module, a Ray trainable) is listed
in ``FRAGMENTS`` with what it leaves undefined; it is skipped, and the list says so.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

#: first line of a block -> what it leaves to the user's program (it cannot run alone)
FRAGMENTS = {
    "from curvecast.integrations.lightning import ForecastEarlyStopping": (
        "a fragment: the user's LightningModule and data loaders"
    ),
    "from ray import tune": "a fragment: the user's trainable and search space",
}
#: top-level modules a block imports -> the extra that installs them
EXTRAS = {"optuna": "optuna", "sklearn": "demo", "ray": "ray", "lightning": "lightning"}


def _blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)


def _id(block: str) -> str:
    return block.splitlines()[0][:60]


BLOCKS = _blocks()


def test_the_readme_has_its_python_blocks() -> None:
    assert len(BLOCKS) >= 5
    assert any("forecast_many" in b for b in BLOCKS)


def _write_sweep(folder: Path) -> None:
    """A Chinchilla-like sweep (N, D, loss), as a user's ``sweep.csv``."""
    rng = np.random.default_rng(0)
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e9), 60))
    D = N * np.exp(rng.uniform(np.log(5), np.log(200), 60))
    loss = (1.69 + 406.4 / N**0.34 + 410.7 / D**0.28) * np.exp(rng.normal(0, 0.01, 60))
    rows = "\n".join(f"{n:.6g},{d:.6g},{v:.6f}" for n, d, v in zip(N, D, loss, strict=True))
    (folder / "sweep.csv").write_text("N,D,loss\n" + rows + "\n", encoding="utf-8")


def _write_samples(folder: Path) -> None:
    """Per-problem counts of two models, as a user's ``samples.csv`` (model, problem, n, c)."""
    rng = np.random.default_rng(0)
    rows = []
    for model, scale in (("small", 0.02), ("big", 0.1)):
        rates = np.where(rng.uniform(size=60) < 0.3, 0.0, rng.beta(0.5, 3.0, 60) * scale * 5)
        for i, p in enumerate(np.clip(rates, 0, 1)):
            rows.append(f"{model},p{i},100,{rng.binomial(100, p)}")
    (folder / "samples.csv").write_text("model,problem,n,c\n" + "\n".join(rows) + "\n")


def _write_models(folder: Path) -> None:
    """Three families of trained models with two benchmark scores, as a user's
    ``models.csv``."""
    rng = np.random.default_rng(0)
    rows = []
    for family, eff in (("Llama-2", 0.0), ("Pythia", -0.3), ("OPT", -0.5)):
        for params in (1e8, 4e8, 1.4e9, 7e9):
            tokens = 20 * params if family != "Llama-2" else 300 * params
            skill = 0.9 * (np.log10(6 * params * tokens) - 21) + eff
            mmlu = 0.25 + 0.7 / (1 + np.exp(-(skill - 1.5))) + rng.normal(0, 0.01)
            arc = 0.25 + 0.7 / (1 + np.exp(-(skill - 0.5))) + rng.normal(0, 0.01)
            rows.append(f"{family}-{params:.0e},{family},{params:g},{tokens:g},"
                        f"{min(mmlu, 1):.4f},{min(arc, 1):.4f}")  # fmt: skip
    text = "model,family,params,tokens,MMLU,ARC\n" + "\n".join(rows) + "\n"
    (folder / "models.csv").write_text(text)


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(b, id=_id(b), marks=[pytest.mark.slow] if "study.optimize" in b else [])
        for b in BLOCKS
    ],
)
def test_each_python_block_runs_as_shown(
    block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = block.splitlines()[0]
    for start, why in FRAGMENTS.items():
        if first.startswith(start):
            pytest.skip(why)
    imported = set(re.findall(r"^\s*(?:from|import) (\w+)", block, re.M))
    for module in sorted(imported & set(EXTRAS)):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"needs {module}: pip install '.[{EXTRAS[module]}]'")
    monkeypatch.chdir(tmp_path)
    if "sweep.csv" in block:
        _write_sweep(tmp_path)
    if "samples.csv" in block:
        _write_samples(tmp_path)
    if "models.csv" in block:
        _write_models(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, f"README block {_id(block)!r}", "exec"), {"__name__": "__readme__"})
    # a block that prints and ends on a comment shows there a line it prints: exactly that
    last = block.rstrip().splitlines()[-1]
    if "print(" in block and last.startswith("# "):
        printed = out.getvalue().splitlines()
        assert last[2:] in printed, (last[2:], printed)
