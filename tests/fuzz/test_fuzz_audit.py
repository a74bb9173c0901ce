"""Issue 26's audit: hostile input to the API's edges raises curvecast's own error (a
:class:`curvecast.CurvecastError`, with the house message naming the field), and the command
line answers bad input with exit 2, never "internal error" (exit 1).

One table of the cases the audit found, then hypothesis over sweep files and Sweep columns.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from curvecast import Curve
from curvecast.cli import main
from curvecast.exceptions import CurvecastError

from ._strategies import CI, HOSTILE

_RNG = np.random.default_rng


def _curve() -> Curve:
    return Curve([1, 2, 3], [0.1, 0.2, 0.3])


def _fitted_law() -> Any:
    from curvecast.scaling import ChinchillaLaw, Sweep

    N = np.repeat([1e7, 3e7, 1e8, 3e8], 4)
    D = N * np.tile([5, 10, 20, 40], 4)
    sweep = Sweep(N=N, D=D, loss=1.7 + 400 / N**0.34 + 410 / D**0.28)
    return ChinchillaLaw(n_bootstrap=5, n_starts=200).fit(sweep, rng=0)


def _write(tmp: Path, name: str, data: bytes) -> str:
    path = tmp / name
    path.write_bytes(data)
    return str(path)


def _read_sweep(name: str, data: bytes) -> Callable[[Path], object]:
    def run(tmp: Path) -> object:
        from curvecast.scaling import read_sweep

        return read_sweep(_write(tmp, name, data))

    return run


def _holdout(**kw: Any) -> Callable[[Path], object]:
    def run(tmp: Path) -> object:
        from curvecast.stats import ReusableHoldout

        args = {"threshold": 0.04, "noise": 0.01, "budget": 5, "rng": _RNG(0), **kw}
        return ReusableHoldout(**args)

    return run


def _pfn_weights(data: bytes | None) -> Callable[[Path], object]:
    """A forecast with weights of ``data`` (None: a path where no file is)."""

    def run(tmp: Path) -> object:
        from curvecast.forecast.pfn import PFNForecaster

        path = str(tmp / "none") if data is None else _write(tmp, "w.safetensors", data)
        return PFNForecaster(weights=path).forecast(_curve(), np.array([9.0]), rng=_RNG(0))

    return run


def _wandb(name: str, data: bytes) -> Callable[[Path], object]:
    def run(tmp: Path) -> object:
        from curvecast.io import read_wandb

        return read_wandb(_write(tmp, name, data), "acc")

    return run


_NESTED = ("[" * 100_000 + "]" * 100_000).encode()

#: (label, call) pairs: each must raise a CurvecastError
CASES: list[tuple[str, Callable[[Path], object]]] = [
    ("Curve meta=5", lambda t: Curve([1, 2], [1, 2], meta=5)),  # type: ignore[arg-type]
    ("Curve.truncate(1.5)", lambda t: _curve().truncate(1.5)),  # type: ignore[arg-type]
    ("Curve.truncate('2')", lambda t: _curve().truncate("2")),  # type: ignore[arg-type]
    (
        "Sweep N=10**400",
        lambda t: __import__("curvecast.scaling", fromlist=["Sweep"]).Sweep(
            N=[10**400, 1e8, 1e9], D=[1e9] * 3, loss=[3.0] * 3
        ),
    ),
    ("predict N=10**400", lambda t: _fitted_law().predict(N=10**400, D=1e9)),
    ("predict D=-(10**400)", lambda t: _fitted_law().predict(N=1e9, D=-(10**400))),
    ("stats.iqm strings", lambda t: __import__("curvecast.stats").stats.iqm([["a", "b"]])),
    (
        "winner_estimate dict",
        lambda t: __import__("curvecast.stats").stats.winner_estimate(
            {"a": 1}, n_examples=10, rng=_RNG(0)
        ),
    ),
    (
        "winner_estimate selected='x'",
        lambda t: __import__("curvecast.stats").stats.winner_estimate(
            [0.5, 0.6], n_examples=10, selected="x", rng=_RNG(0)
        ),
    ),
    ("ReusableHoldout noise='x'", _holdout(noise="x")),
    ("ReusableHoldout threshold=None", _holdout(threshold=None)),
    ("read_sweep latin-1", _read_sweep("s.csv", "N,D,loss\n1e7,2e8,4.1\xe9\n".encode("latin-1"))),
    (
        "read_sweep csv field > 1 MB",
        _read_sweep("s.csv", b"N,D,loss\n" + b"1" * 1_100_000 + b",1,2\n"),
    ),
    ("read_sweep extra fields", _read_sweep("s.csv", b"N,D,loss\n1e7,2e8,4.1,9,9\n")),
    ("read_sweep nested JSON", _read_sweep("s.jsonl", b'{"N": ' + _NESTED + b"}\n")),
    (
        "read_sweep 401-digit JSON int",
        _read_sweep("s.jsonl", b'{"N": 1' + b"0" * 400 + b', "D": 1, "loss": 2}\n'),
    ),
    ("read_sweep 5000-digit JSON int", _read_sweep("s.jsonl", b'{"N": 1' + b"0" * 5000 + b"}\n")),
    ("read_sweep parquet", _read_sweep("s.parquet", b"PAR1")),
    (
        "read_sweep a number",
        lambda t: __import__("curvecast.scaling", fromlist=["x"]).read_sweep(5),
    ),
    ("read_wandb nested JSON", _wandb("h.json", _NESTED)),
    ("read_wandb latin-1 CSV", _wandb("h.csv", "_step,acc\n1,0.5\xe9\n".encode("latin-1"))),
    ("PFN weights garbage", _pfn_weights(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")),
    ("PFN weights empty", _pfn_weights(b"")),
    ("PFN weights missing", _pfn_weights(None)),
    ("read_wandb more cells than header", _wandb("h.csv", b"_step,acc\n1,0.5,9\n")),
]


@pytest.mark.parametrize(("label", "call"), CASES, ids=[c[0] for c in CASES])
def test_hostile_input_raises_curvecasts_own_error(
    label: str, call: Callable[[Path], object], tmp_path: Path
) -> None:
    with pytest.raises(CurvecastError) as info:
        call(tmp_path)
    message = str(info.value)
    assert 10 < len(message) < 2000, message  # said, and not a 1 MB field echoed back


def test_a_huge_loss_is_refused_and_no_query_gives_nan() -> None:
    from curvecast.scaling import ChinchillaLaw, Sweep

    law = _fitted_law()
    for query in ({"N": 1e-300, "D": 1e9}, {"N": 1e300, "D": 1e-300}, {"C": 1e-300}):
        q = law.predict(**query).quantiles
        assert not np.isnan(q).any() and np.all(np.diff(q, axis=0) >= 0), query
    N = np.repeat([1e7, 3e7, 1e8, 3e8], 4)
    D = N * np.tile([5, 10, 20, 40], 4)
    loss = 1.7 + 400 / N**0.34 + 410 / D**0.28
    loss[5] = 1e300
    with pytest.raises(CurvecastError, match=r"'loss' column .* at most .*run 5"):
        ChinchillaLaw(n_bootstrap=5, n_starts=200).fit(Sweep(N=N, D=D, loss=loss), rng=0)


# ------------------------------------------------------------------------------ command line


def _cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


def _results_csv(tmp: Path, scale: float = 1.0) -> str:
    rows = ["method,task,seed,score"] + [
        f"{m},{t},{s},{scale * (0.5 + 0.01 * s + 0.05 * (m == 'a'))}"
        for m in "ab"
        for t in ("t1", "t2")
        for s in range(3)
    ]
    return _write(tmp, "res.csv", ("\n".join(rows) + "\n").encode())


_GOOD_SWEEP = "N,D,loss\n" + "".join(
    f"{n:g},{n * m:g},{1.7 + 400 / n**0.34 + 410 / (n * m) ** 0.28}\n"
    for n in (1e7, 3e7, 1e8, 3e8)
    for m in (5, 10, 20, 40)
)

CLI_CASES: list[tuple[str, Callable[[Path], list[str]]]] = [
    (
        "scaling fit non-UTF-8",
        lambda t: ["scaling", "fit", _write(t, "s.csv", b"N,D,loss\n1,2,\xff\n")],
    ),
    (
        "scaling fit 401-digit int",
        lambda t: ["scaling", "fit", _write(t, "s.csv", b"N,D,loss\n" + b"1" * 401 + b",1,2\n")],
    ),
    (
        "scaling fit nested JSON",
        lambda t: ["scaling", "fit", _write(t, "s.jsonl", b'{"N": ' + _NESTED + b"}\n")],
    ),
    (
        "scaling fit field over 131 KB",
        lambda t: [
            "scaling",
            "fit",
            _write(t, "s.csv", b"N,D,loss\n" + b"7" * 140_000 + b",1,2\n"),
        ],
    ),
    (
        "scaling fit more fields than header",
        lambda t: ["scaling", "fit", _write(t, "s.csv", b"N,D,loss\n1e7,2e8,4,5\n")],
    ),
    (
        "scaling fit --out a file",
        lambda t: [
            "scaling",
            "fit",
            _write(t, "s.csv", _GOOD_SWEEP.encode()),
            "--n-bootstrap",
            "0",
            "--no-plots",
            "--out",
            _write(t, "taken", b"x"),
        ],
    ),
    ("compare --seed -1", lambda t: ["compare", _results_csv(t), "--seed", "-1"]),
    ("compare --plot x.txt", lambda t: ["compare", _results_csv(t), "--plot", str(t / "x.txt")]),
    (
        "compare 1e300 scores --json -",
        lambda t: ["compare", _results_csv(t, 1e300), "--json", "-", "--reps", "50"],
    ),
    (
        "compare missing sqlite storage",
        lambda t: ["compare", "--storage", f"sqlite:///{t / 'missing.db'}", "--study", "s"],
    ),
]


@pytest.mark.parametrize(("label", "argv"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_bad_input_on_the_command_line_is_exit_2(
    label: str, argv: Callable[[Path], list[str]], tmp_path: Path
) -> None:
    if label.startswith("compare missing"):
        pytest.importorskip("optuna")
    code, err = _cli(argv(tmp_path))
    assert code == 2, err
    assert "internal error" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "missing.db").exists()  # compare never creates a database


# ------------------------------------------------------------------------------ hypothesis

_cell = st.one_of(
    st.sampled_from(["1e7", "2e8", "nan", "-1", "", "1" * 401, "0x10", "inf", '"', "\x00"]),
    st.text(max_size=8),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@CI
@given(
    header=st.lists(st.sampled_from(["N", "D", "C", "loss", "params", "x", ""]), max_size=5),
    rows=st.lists(st.lists(_cell, max_size=6), max_size=6),
    tail=st.binary(max_size=8),
)
def test_read_sweep_on_any_csv_reads_or_refuses(
    header: list[str], rows: list[list[str]], tail: bytes
) -> None:
    from curvecast.scaling import read_sweep

    text = "\n".join(",".join(r) for r in [header, *rows]).encode("utf-8", "surrogatepass")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.csv"
        path.write_bytes(text + tail)
        try:
            read_sweep(path)
        except CurvecastError:
            pass


_json_value = st.recursive(
    st.one_of(st.sampled_from(HOSTILE[:9]), st.floats(), st.text(max_size=4)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@CI
@given(
    st.lists(
        st.dictionaries(st.sampled_from(["N", "D", "C", "loss", "name", "group"]), _json_value),
        max_size=5,
    )
)
def test_read_sweep_on_any_json_lines_reads_or_refuses(records: list[dict[str, Any]]) -> None:
    from curvecast.scaling import read_sweep

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        try:
            read_sweep(path)
        except CurvecastError:
            pass


@CI
@given(
    n=st.lists(st.sampled_from(HOSTILE) | st.floats(), min_size=1, max_size=4),
    loss=st.sampled_from(HOSTILE) | st.floats(),
)
def test_sweep_columns_build_or_refuse(n: list[Any], loss: Any) -> None:
    from curvecast.scaling import Sweep

    try:
        Sweep(N=n, D=[1e9] * len(n), loss=[loss] * len(n))
    except CurvecastError:
        pass
