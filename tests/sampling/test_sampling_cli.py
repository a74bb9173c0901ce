"""`curvecast sampling forecast|needed|choose` end to end: tables, the JSON contract, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from curvecast.cli import main


@pytest.fixture
def counts_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    lines = ["model,problem,n,c"]
    for name, scale in (("big", 1.0), ("small", 0.1)):
        p = np.where(rng.random(60) < 0.4, 0.0, scale * 10 ** rng.uniform(-3, 0, 60))
        c = rng.binomial(50, p)
        lines += [f"{name},q{i},50,{ci}" for i, ci in enumerate(c)]
    path = tmp_path / "counts.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_forecast_json_contract(counts_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["sampling", "forecast", str(counts_csv), "--k", "10,100,1000", "--json",
               "--n-bootstrap", "20"])  # fmt: skip
    assert rc == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["model"] for r in rows] == ["big", "small"]
    for r in rows:
        assert list(r) == ["model", "k", "median", "lower", "upper", "level"]
        assert r["k"] == [10, 100, 1000] and r["level"] == 0.9
        trio = zip(r["lower"], r["median"], r["upper"], strict=True)
        assert all(lo <= m <= hi for lo, m, hi in trio)
    assert rows[0]["median"][-1] > rows[1]["median"][-1]


def test_forecast_table_and_plot(
    counts_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "band.png"
    rc = main(["sampling", "forecast", str(counts_csv), "--n-bootstrap", "10", "--plot", str(out)])
    assert rc == 0 and out.stat().st_size > 1000
    text = capsys.readouterr().out
    assert "model big: 60 problems" in text and "90% interval" in text


def test_needed_and_choose(counts_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sampling", "needed", str(counts_csv), "--target", "0.3", "--json",
                 "--n-bootstrap", "20"]) == 0  # fmt: skip
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["model"] for r in rows} == {"big", "small"}
    assert rows[0]["median"] is not None and rows[0]["median"] > 0
    assert main(["sampling", "choose", str(counts_csv), "--target", "0.3", "--n-bootstrap",
                 "20", "--cost", "big=3,small=1"]) == 0  # fmt: skip
    assert "cheapest for pass@k = 0.3: big" in capsys.readouterr().out


def test_needed_text_says_when_a_target_is_out_of_reach(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # half of 40 problems solved often, half never in 1,000 samples: pass@k tops out near 0.5
    path = tmp_path / "counts.csv"
    path.write_text("problem,n,c\n" + "".join(
        f"q{i},1000,{200 if i < 20 else 0}\n" for i in range(40)))  # fmt: skip
    for target, said in ((0.3, "pass@k reaches 0.3 at k = "), (0.99, "not forecast to reach")):
        rc = main(["sampling", "needed", str(path), "--target", str(target), "--n-bootstrap", "20"])
        out = capsys.readouterr().out
        assert rc == 0 and said in out, out
        assert "k = never" not in out and "never to never" not in out


@pytest.mark.parametrize(
    ("text", "args", "match"),
    [
        ("problem,n,c\np,3,5\n", [], "'c' column"),
        ("problem,attempt,correct\np,1,7\n", [], "'correct' column"),
        ("", [], "empty file"),
        ("model,problem,n,c\na,p,3,1\n", ["choose", "--cost", "b=1"], "--cost"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, args: list[str], match: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    command = args[:1] or ["forecast"]
    rc = main(["sampling", *command, str(path), *args[1:], "--n-bootstrap", "5"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and match in err and "Traceback" not in err


def test_bad_options_exit_2(counts_csv: Path) -> None:
    for bad in (["--k", "0,10"], ["--k", "ten"], ["--level", "1.5"]):
        with pytest.raises(SystemExit) as exc:
            main(["sampling", "forecast", str(counts_csv), *bad])
        assert exc.value.code == 2
    assert main(["sampling"]) == 2
