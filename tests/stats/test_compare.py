"""curvecast compare: verdicts against known truth, the seeds estimate, bad input, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from curvecast.cli import main
from curvecast.stats import (
    ResultsError,
    compare,
    format_comparison,
    results_from_rows,
    seeds_to_separate,
)


def _rows(effects: dict[str, float], seeds: int, rng: np.random.Generator, tasks: int = 3):
    return [
        {"method": m, "task": f"t{t}", "seed": s, "score": 0.7 + 0.05 * t + e + rng.normal(0, 0.02)}
        for m, e in effects.items()
        for t in range(tasks)
        for s in range(seeds)
    ]


def _write_csv(path: Path, rows: list[dict[str, object]], header: str = "method,task,seed,score"):
    cols = header.split(",")
    lines = [header] + [",".join(str(r.get(c, "")) for c in cols) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_real_difference_is_separated_and_no_difference_is_not() -> None:
    rng = np.random.default_rng(0)
    res = results_from_rows(_rows({"good": 0.05, "same1": 0.0, "same2": 0.0}, 6, rng))
    c = compare(res, rng=np.random.default_rng(1), n_boot=1000)
    assert c.ranking[0] == "good"
    by_pair = {frozenset((v.a, v.b)): v for v in c.verdicts}
    for other in ("same1", "same2"):
        v = by_pair[frozenset(("good", other))]
        assert v.separated and v.difference.low > 0 and v.p_improvement.low > 0.5
        assert "beats" in v.text


def test_identical_methods_are_rarely_separated() -> None:
    """The verdict's false-separation rate stays near its nominal 5% at 6 seeds on 3 tasks."""
    from curvecast.stats.calibration import false_separation_rate

    rate = false_separation_rate(6, 3, rng=np.random.default_rng(10), sims=60)
    assert rate <= 0.15


def test_seeds_estimate_separates_a_known_difference_most_of_the_time() -> None:
    """At 4 seeds a true difference of 0.01 against a seed SD of 0.02 hides; the verdict names a
    number of seeds; fresh experiments with that many separate the methods about 80% of the time
    (the estimate's promise), and experiments with 4 seeds rarely do."""
    z = np.array([-1.2, -0.3, 0.4, 1.1])
    z = (z - z.mean()) / z.std(ddof=1)  # exact sample moments: the observed difference is true
    rows = [
        {"method": m, "task": "t", "seed": s, "score": 0.8 + e + 0.02 * z[s]}
        for m, e in (("a", 0.01), ("b", 0.0))
        for s in range(4)
    ]
    c = compare(results_from_rows(rows), rng=np.random.default_rng(0), n_boot=1000, metric="mean")
    (v,) = c.verdicts
    assert not v.separated and v.seeds_needed is not None and v.difference.contains(0.0)
    assert "cannot be separated at 4 seeds" in v.text and f"about {v.seeds_needed} seeds" in v.text
    needed = v.seeds_needed
    assert 10 < needed < 200

    def separation_rate(n: int, sims: int = 40) -> float:
        rng = np.random.default_rng(n)
        hits = 0
        for _ in range(sims):
            rows = [
                {"method": m, "task": "t", "seed": s, "score": 0.8 + e + rng.normal(0, 0.02)}
                for m, e in (("a", 0.01), ("b", 0.0))
                for s in range(n)
            ]
            res = compare(results_from_rows(rows), rng=rng, n_boot=400, metric="mean")
            hits += res.verdicts[0].separated
        return hits / sims

    assert separation_rate(needed) >= 0.6
    assert separation_rate(4) <= 0.35


def test_seeds_to_separate_formula() -> None:
    # half-width twice the difference: (2)^2 * 2.04 * n
    assert seeds_to_separate(5, 0.01, -0.01, 0.03) == 41
    assert seeds_to_separate(5, -0.01, -0.03, 0.01) == 41
    assert seeds_to_separate(5, 0.0, -0.01, 0.01) is None


def test_minimize_flips_the_ranking_and_keeps_units() -> None:
    rng = np.random.default_rng(2)
    rows = _rows({"low": -0.1, "high": 0.0}, 5, rng)
    up = compare(results_from_rows(rows), rng=np.random.default_rng(3), n_boot=300)
    down = compare(
        results_from_rows(rows, direction="minimize"), rng=np.random.default_rng(3), n_boot=300
    )
    assert up.ranking == ["high", "low"] and down.ranking == ["low", "high"]
    iv = down.aggregates["low"]["iqm"]
    assert iv.low <= iv.estimate <= iv.high
    assert iv.estimate == pytest.approx(up.aggregates["low"]["iqm"].estimate)
    assert down.verdicts[0].difference.estimate > 0  # > 0 favours the better one


def test_same_seed_same_report() -> None:
    res = results_from_rows(_rows({"a": 0.0, "b": 0.01}, 3, np.random.default_rng(4)))
    one = compare(res, rng=np.random.default_rng(5), n_boot=200).to_dict()
    two = compare(res, rng=np.random.default_rng(5), n_boot=200).to_dict()
    assert one == two
    json.dumps(one, allow_nan=False)


def test_cli_writes_table_json_and_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = _write_csv(
        tmp_path / "runs.csv", _rows({"a": 0.03, "b": 0.0}, 5, np.random.default_rng(6))
    )
    pytest.importorskip("matplotlib")
    out_json, out_png = tmp_path / "c.json", tmp_path / "c.png"
    code = main(
        ["compare", str(csv_path), "--seeds", "--reps", "300",
         "--json", str(out_json), "--plot", str(out_png)]
    )  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0
    assert "P(row beats column)" in text and "verdict" in text and "seed SD" in text
    data = json.loads(out_json.read_text())
    assert set(data["aggregates"]["a"]) == {"iqm", "mean", "median", "optimality_gap"}
    assert data["ranking"] == ["a", "b"]
    assert out_png.read_bytes()[:4] == b"\x89PNG"


BAD = [
    ("method,task,score\na,t,1\n", "no column 'seed'"),
    ("method,task,seed,score\na,t,0,0.5\na,t,1,zero\n", "score 'zero' is not a number"),
    ("method,task,seed,score\na,t,0,0.5\na,t,1,nan\n", "is not finite"),
    ("method,task,seed,score\na,t,0,0.5\na,t,1,\n", "'score' field is empty"),
    ("method,task,seed,score\na,t,0,0.5\na,t,0,0.6\n", "appears twice"),
    ("method,task,seed,score\na,t,0,0.5\nb,t,0,0.6\na,t,1,0.5\nb,t,1,0.7\n", None),
    ("method,task,seed,score\na,t,0,0.5\na,t,1,0.6\nb,t,0,0.5\n", "one seed on task 't'"),
    ("method,task,seed,score\na,t,0,0.5\na,t,1,0.6\n", "one method"),
    ("method,task,seed,score\n", "holds no rows"),
    (
        "method,task,seed,score\na,t,0,0.5\na,t,1,0.6\nb,u,0,0.5\nb,u,1,0.6\n",
        "has no runs on task",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_input_is_a_clear_error_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str | None
) -> None:
    path = tmp_path / "runs.csv"
    path.write_text(text, encoding="utf-8")
    code = main(["compare", str(path), "--reps", "50"])
    err = capsys.readouterr().err
    if message is None:
        assert code == 0
        return
    assert code == 2
    assert message in err and "Traceback" not in err


def test_missing_file_and_no_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(tmp_path / "none.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["compare"]) == 2
    assert "give a CSV file" in capsys.readouterr().err


def test_unwritable_outputs_are_input_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = _write_csv(
        tmp_path / "runs.csv", _rows({"a": 0.0, "b": 0.0}, 3, np.random.default_rng(0))
    )
    code = main(["compare", str(csv_path), "--reps", "50", "--json", str(tmp_path / "no/x.json")])
    assert code == 2 and "cannot write" in capsys.readouterr().err


def test_results_from_rows_raises_the_library_error() -> None:
    with pytest.raises(ResultsError, match="one seed"):
        results_from_rows([{"method": m, "task": "t", "seed": 0, "score": 1.0} for m in ("a", "b")])


def test_optuna_studies_as_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{tmp_path / 's.db'}"
    rng = np.random.default_rng(7)
    for method, base in (("tpe", 0.9), ("random", 0.8)):
        for seed in range(4):
            study = optuna.create_study(
                study_name=f"{method}-{seed}", storage=url, direction="maximize"
            )
            study.set_user_attr("method", method)
            study.set_user_attr("seed", seed)
            for _ in range(3):
                study.add_trial(optuna.trial.create_trial(value=float(base + rng.normal(0, 0.01))))
    names = [f"{m}-{s}" for m in ("tpe", "random") for s in range(4)]
    argv = ["compare", "--storage", url, "--unit", "study", "--reps", "200"]
    for n in names:
        argv += ["--study", n]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "tpe beats random" in out and "4 seeds per task" in out
    assert main(["compare", "--storage", url, "--study", "nope"]) == 2
    assert "no study 'nope'" in capsys.readouterr().err


def test_text_report_names_every_method() -> None:
    res = results_from_rows(_rows({"x": 0.0, "y": 0.0, "z": 0.0}, 3, np.random.default_rng(8)))
    text = format_comparison(compare(res, rng=np.random.default_rng(9), n_boot=100), seeds=True)
    for m in ("x", "y", "z"):
        assert f"\n{m} " in text
