"""The speed benchmark: what it times and reports (no timing assertions)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from curvecast import Curve
from curvecast.bench import speed
from curvecast.bench.cli import main
from curvecast.bench.speed import run_speed, single_core, speed_tables, synthetic_curve
from curvecast.forecast import _base, get_forecaster


def test_synthetic_curve_is_seeded_and_bounded() -> None:
    a = synthetic_curve(100, np.random.default_rng(0))
    b = synthetic_curve(100, np.random.default_rng(0))
    assert np.array_equal(a.y, b.y) and a.x.size == 100
    assert np.all((a.y >= 0) & (a.y <= 1))


def test_single_core_says_what_it_did_and_restores_affinity() -> None:
    import os

    before = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    with single_core() as note:
        if before is not None:
            assert len(os.sched_getaffinity(0)) == 1
            assert "pinned to CPU" in note
        assert "thread" in note
    if before is not None:
        assert os.sched_getaffinity(0) == before


class _Batched:
    name = "batched"
    calls = 0

    def forecast(self, curve: Curve, x_new: np.ndarray, **kwargs: object) -> object:
        return get_forecaster("last_value").forecast(curve, x_new, **kwargs)  # type: ignore[arg-type]

    def forecast_batch(
        self,
        curves: list[Curve],
        x_news: list[np.ndarray],
        *,
        rngs: list[np.random.Generator],
        context: object = (),
    ) -> list[object]:
        type(self).calls += 1
        return [self.forecast(c, x, rng=g) for c, x, g in zip(curves, x_news, rngs, strict=True)]


def test_speed_times_every_method_and_uses_forecast_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(_base._REGISTRY, "batched", _Batched)
    result = run_speed(
        ["last_value", "batched", "nope"], repeats=3, sizes=(10, 100), batch=4, n_query=5
    )
    assert result.methods == ("last_value", "batched")
    assert set(result.skipped) == {"nope"}
    for m in result.methods:
        assert set(result.latency[m]) == {10, 100}
        lat = result.latency[m][10]
        assert 0 < lat["p50"] <= lat["p95"] and lat["repeats"] == 3
        assert result.throughput[m]["curves_per_s"] > 0
    assert result.throughput["batched"]["batched"] is True
    assert result.throughput["last_value"]["batched"] is False
    assert _Batched.calls >= 2
    table = speed_tables(result)
    assert "n=10 p50 ms" in table and "n/a" in table  # no domhan_mcmc in this run


def test_speed_up_is_relative_to_domhan_mcmc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speed, "REFERENCE", "last_value")
    result = run_speed(["last_value"], repeats=2, sizes=(10,), batch=2, n_query=3)
    assert "| last_value |" in speed_tables(result)
    assert "1x" in speed_tables(result)


def test_speed_cli_writes_markdown_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["speed", "--methods", "last_value", "--repeats", "2", "--sizes", "10,100"]
    assert main([*argv, "--batch", "2", "--out", str(tmp_path)]) == 0
    assert "| last_value |" in capsys.readouterr().out
    md = (tmp_path / "speed.md").read_text()
    assert "curvecast bench speed --methods last_value" in md and "Threads:" in md
    data = json.loads((tmp_path / "speed.json").read_text())
    assert set(data["latency"]["last_value"]) == {"10", "100"}
