"""The targets section of the forecast report, on hand-made summaries."""

from __future__ import annotations

from typing import Any

from curvecast.bench.aggregate import Interval
from curvecast.bench.report import forecast_targets


def _s(method: str, cutoff: float, crps: float, cov90: float, rho: float) -> dict[str, Any]:
    return {
        "suite": "s",
        "method": method,
        "cutoff": cutoff,
        "crps_iqm": Interval(crps, crps, crps),
        "cover90": Interval(cov90, cov90, cov90),
        "spearman": Interval(rho, rho, rho),
    }


def test_targets_met_are_all_yes() -> None:
    rows = [
        _s("last_value", 0.2, 0.10, 0.8, 0.5),
        _s("parametric", 0.2, 0.06, 0.7, 0.6),
        _s("pfn", 0.2, 0.05, 0.9, 0.7),
        _s("last_value", 0.6, 0.04, 0.8, 0.6),
        _s("parametric", 0.6, 0.03, 0.7, 0.7),
        _s("pfn", 0.6, 0.03, 0.9, 0.8),
    ]
    (line,) = forecast_targets(rows)
    assert "NO" not in line and line.count("yes") == 4
    assert "CRPS 38% below last_value" in line  # mean of 50% and 25%


def test_each_missed_target_says_by_how_much() -> None:
    rows = [
        _s("last_value", 0.2, 0.10, 0.8, 0.5),
        _s("pfn", 0.2, 0.12, 0.99, 0.4),
    ]
    (line,) = forecast_targets(rows)
    assert "NO (@0.2 0.12 vs last_value 0.1)" in line
    assert "-20% below last_value" in line and "coverage 0.99" in line
    assert "Spearman 0.40 vs best baseline last_value 0.50: NO" in line


def test_the_other_candidate_is_not_a_baseline() -> None:
    rows = [
        _s("last_value", 0.2, 0.10, 0.9, 0.5),
        _s("pfn", 0.2, 0.08, 0.9, 0.6),
        _s("ensemble", 0.2, 0.05, 0.9, 0.7),
    ]
    (pfn,) = forecast_targets(rows, "pfn")
    (ens,) = forecast_targets(rows, "ensemble")
    assert "against last_value)" in pfn and "every cutoff: yes" in pfn
    assert "(ensemble against last_value)" in ens


def test_no_candidate_no_targets() -> None:
    assert forecast_targets([_s("last_value", 0.2, 0.1, 0.9, 0.5)]) == []
