"""The forecast benchmark end to end on the built-in fixture suite (no data needed)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from curvecast import Curve
from curvecast.bench import runner
from curvecast.bench.cli import main
from curvecast.bench.runner import (
    BenchConfig,
    check_methods,
    cutoff_index,
    evaluate_curve,
    fixture_curves,
    run_forecast_bench,
    stratified_subset,
)
from curvecast.exceptions import InvalidParameterError, UnknownMethodError
from curvecast.forecast import _base, get_forecaster


def _methods() -> list[str]:
    try:
        get_forecaster("parametric")
    except (UnknownMethodError, ImportError):
        return ["last_value"]
    return ["last_value", "parametric"]


@pytest.mark.parametrize(
    "n, frac, k", [(14, 0.1, 1), (14, 0.8, 11), (20, 0.4, 8), (2, 0.8, 1), (10, 0.6, 6)]
)
def test_cutoff_keeps_at_least_one_point_and_leaves_one_to_forecast(
    n: int, frac: float, k: int
) -> None:
    assert cutoff_index(n, frac) == k


def test_fixture_is_seeded_and_realistic() -> None:
    a, b = fixture_curves(0), fixture_curves(0)
    assert len(a) == 15
    assert all(np.array_equal(x.y, y.y, equal_nan=True) for x, y in zip(a, b, strict=True))
    assert sum(c.diverged for c in a) == 2
    assert {c.meta["task"] for c in a} == {"fixture-epochs", "fixture-samples", "fixture-overfit"}
    assert all({"suite", "task", "config", "axis", "metric"} <= set(c.meta) for c in a)
    assert all(np.all(c.observed_y >= 0) and np.all(c.observed_y <= 1) for c in a)


def test_stratified_subset_spreads_over_tasks() -> None:
    curves = fixture_curves(0)
    picked = stratified_subset(curves, 3, np.random.default_rng(0))
    assert len(picked) == 3
    assert len({curves[i].meta["task"] for i in picked}) == 3
    assert stratified_subset(curves, 100, np.random.default_rng(0)) == list(range(15))


def test_diverged_truth_is_counted_not_scored() -> None:
    late, early = fixture_curves(0)[13], fixture_curves(0)[4]
    assert late.diverged and early.diverged
    rows, _ = evaluate_curve(late, 13, ["last_value"], (0.2, 0.8), seed=0)
    assert [r["truth_diverged"] for r in rows] == [True, True]
    assert [r["forecast_diverged"] for r in rows] == [False, True]  # NaN from point 14 of 20
    assert all(math.isnan(r["crps"]) and r["error"] is None for r in rows)
    rows, _ = evaluate_curve(early, 4, ["last_value"], (0.1,), seed=0)
    assert rows[0]["forecast_diverged"] and math.isnan(rows[0]["crps"])


def test_rows_are_scored_and_reproducible() -> None:
    curve = fixture_curves(0)[0]
    rows, example = evaluate_curve(curve, 0, ["last_value"], (0.4,), seed=3, example_cutoff=0.4)
    again, _ = evaluate_curve(curve, 0, ["last_value"], (0.4,), seed=3)
    row = rows[0]
    assert row["n_obs"] == 8 and row["n_query"] == 12
    assert row["crps"] > 0 and row["abs_error"] >= 0 and row["cover90"] in (0.0, 1.0)
    assert row["median"] == pytest.approx(curve.y[7])  # last_value: the last observed point
    assert {k: v for k, v in row.items() if k != "seconds"} == {
        k: v for k, v in again[0].items() if k != "seconds"
    }
    assert example is not None and len(example["methods"]["last_value"]["q05"]) == 12


class _Broken:
    name = "broken"

    def forecast(self, curve: Curve, x_new: np.ndarray, **kwargs: object) -> object:
        if curve.x.size > 6:
            raise RuntimeError("boom")
        return get_forecaster("last_value").forecast(curve, x_new, **kwargs)  # type: ignore[arg-type]


def test_unknown_methods_are_skipped_and_failures_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_base._REGISTRY, "broken", _Broken)
    ok, skipped = check_methods(["last_value", "nope", "broken"])
    assert ok == ("last_value", "broken") and set(skipped) == {"nope"}
    cfg = BenchConfig(suites=("fixture",), methods=("broken", "nope"), cutoffs=(0.2, 0.6))
    result = run_forecast_bench(cfg, progress=None)
    assert result.skipped.keys() == {"nope"}
    failed = [r for r in result.rows if r["error"] is not None]
    assert failed and all("boom" in r["error"] for r in failed)
    with pytest.raises(InvalidParameterError, match="methods"):
        run_forecast_bench(BenchConfig(suites=("fixture",), methods=("nope",)), progress=None)


def test_slow_methods_run_on_a_stratified_subset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "SLOW_METHODS", ("last_value",))
    cfg = BenchConfig(suites=("fixture",), methods=("last_value",), cutoffs=(0.5,), mcmc_limit=4)
    result = run_forecast_bench(cfg, progress=None)
    assert len(result.suites["fixture"]["subsets"]["last_value"]) == 4
    assert len(result.rows) == 4


def test_named_suites_come_from_load_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    from curvecast.bench import sources

    seen = {}

    def fake(name: str, **kwargs: object) -> list[Curve]:
        seen.update(kwargs, name=name)
        return [c for c in fixture_curves(1) if not c.diverged][:4]

    monkeypatch.setattr(sources, "load_suite", fake)
    cfg = BenchConfig(suites=("lcdb",), methods=("last_value",), cutoffs=(0.5,), limit=4)
    result = run_forecast_bench(cfg, progress=None)
    assert seen["name"] == "lcdb" and seen["limit"] == 4
    assert len(result.rows) == 4


def test_jobs_do_not_change_the_results() -> None:
    base = BenchConfig(suites=("fixture",), methods=("last_value",), cutoffs=(0.3,))
    one = run_forecast_bench(base, progress=None)
    two = run_forecast_bench(
        BenchConfig(suites=("fixture",), methods=("last_value",), cutoffs=(0.3,), jobs=2),
        progress=None,
    )

    def strip(rows: list[dict[str, object]]) -> list[str]:
        return [json.dumps({k: v for k, v in r.items() if k != "seconds"}) for r in rows]

    assert strip(one.rows) == strip(two.rows)


@pytest.mark.slow
def test_full_pipeline_on_the_fixture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    methods = _methods()
    out = tmp_path / "out"
    argv = ["forecast", "--suite", "fixture", "--methods", ",".join(methods), "--out", str(out)]
    assert main([*argv, "--n-boot", "200"]) == 0
    printed = capsys.readouterr()
    assert "## Suite `fixture`" in printed.out and "CRPS IQM" in printed.out
    assert "[fixture] 15/15 curves" in printed.err
    md = (out / "report.md").read_text()
    assert "curvecast bench forecast --suite fixture" in md
    assert "git commit:" in md and "numpy" in md
    for cut in ("0.1", "0.2", "0.4", "0.6", "0.8"):
        for m in methods:
            assert f"| {cut} | {m} | 15 | 13 | 2 |" in md
    if len(methods) > 1:
        assert "P(row beats column)" in md
    data = json.loads((out / "results.json").read_text())
    assert len(data["rows"]) == 15 * 5 * len(methods)
    assert len(data["summaries"]) == 5 * len(methods)
    assert data["summaries"][0]["crps_iqm"]["low"] <= data["summaries"][0]["crps_iqm"]["high"]
    for png in ("crps_vs_cutoff_fixture.png", "examples_fixture.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["forecast"], "--suite"),
        (["forecast", "--suite", "nosuch"], "--suite"),
        (["forecast", "--suite", "fixture", "--cutoffs", "0.5,1.2"], "--cutoffs"),
        (["forecast", "--suite", "fixture", "--limit", "0"], "--limit"),
        (["forecast", "--suite", "fixture", "--jobs", "x"], "--jobs"),
        (["speed", "--repeats", "-1"], "--repeats"),
    ],
)
def test_bad_flags_exit_2_without_a_traceback(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_no_runnable_method_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["forecast", "--suite", "fixture", "--methods", "nope", "--out", str(tmp_path)]) == 2
    )
    assert "nope" in capsys.readouterr().err
    assert main([]) == 2
