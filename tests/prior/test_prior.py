"""The synthetic prior: coverage of shapes, metrics and grids; shared structure in a task;
divergence; determinism; config validation; the shapes that must turn down or step up."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from scipy.stats import spearmanr

from curvecast.curves import Curve
from curvecast.exceptions import InvalidParameterError
from curvecast.prior import (
    GRID_KINDS,
    METRIC_KINDS,
    SHAPE_NAMES,
    PriorConfig,
    sample_task,
    sample_tasks,
)
from curvecast.prior._shapes import draw_params, quality


@pytest.fixture(scope="module")
def tasks() -> list[list[Curve]]:
    return sample_tasks(600, np.random.default_rng(0))


def _curves(tasks: list[list[Curve]]) -> list[Curve]:
    return [c for task in tasks for c in task]


def _better(c: Curve) -> np.ndarray:
    """The clean values with better up, shape (n,)."""
    return (1.0 if c.direction == "maximize" else -1.0) * np.asarray(c.meta["clean"])


def test_every_shape_metric_and_grid_appears(tasks: list[list[Curve]]) -> None:
    curves = _curves(tasks)
    assert {c.meta["shape"] for c in curves} == set(SHAPE_NAMES)
    assert {c.meta["metric"] for c in curves} == set(METRIC_KINDS)
    assert {c.meta["grid"] for c in curves} == set(GRID_KINDS)
    assert {c.direction for c in curves} == {"maximize", "minimize"}
    kinds = {c.bounds is not None and math.isfinite(c.bounds[1]) for c in curves}
    assert kinds == {True, False}  # bounded (accuracy, error rate) and unbounded above


def test_grids_are_increasing_and_sizes_span_2_to_1000(tasks: list[list[Curve]]) -> None:
    # two points at least: one to observe and one to predict
    sizes = [task[0].x.size for task in tasks]
    assert 2 == min(sizes) and 500 <= max(sizes) <= 1000
    for c in _curves(tasks):
        assert np.all(np.diff(c.x) > 0) and c.x[0] > 0
        assert len(c.meta["clean"]) == c.x.size
        assert c.meta["n_context"] >= 1 and c.meta["n_context"] <= c.x.size


def test_values_respect_bounds(tasks: list[list[Curve]]) -> None:
    for c in _curves(tasks):
        assert c.bounds is not None
        lo, hi = c.bounds
        clean = np.asarray(c.meta["clean"])
        assert np.all((clean >= lo) & (clean <= hi)), c.meta["shape"]
        y = c.observed_y
        assert np.all((y >= lo) & (y <= hi)), c.meta["shape"]


def test_curves_of_a_task_share_structure(tasks: list[list[Curve]]) -> None:
    rhos = []
    for task in tasks:
        first = task[0]
        for c in task:
            assert (c.direction, c.bounds) == (first.direction, first.bounds)
            assert c.meta["grid"] == first.meta["grid"]
            assert c.meta["shape"] == first.meta["shape"]
            assert c.meta["metric"] == first.meta["metric"]
            np.testing.assert_array_equal(c.x, first.x)
        if len(task) >= 4:
            z = [c.meta["config_quality"] for c in task]
            rho = spearmanr(z, [_better(c)[-1] for c in task])[0]
            if np.isfinite(rho):
                rhos.append(rho)
    assert len(rhos) > 100
    assert np.mean(rhos) > 0.5


def test_divergence_fraction_and_flag() -> None:
    cfg = PriorConfig(divergence_rate=0.2, n_points=(1, 100))
    curves = _curves(sample_tasks(300, np.random.default_rng(1), cfg))
    flags = np.array([c.diverged for c in curves])
    assert abs(flags.mean() - 0.2) < 0.04
    for c in curves:
        assert c.diverged == (c.meta["diverged_at"] is not None)
        if c.diverged:
            assert c.x[c.n_observed] == c.meta["diverged_at"]
    none = PriorConfig(divergence_rate=0.0, n_points=(1, 100))
    assert not any(c.diverged for c in _curves(sample_tasks(100, np.random.default_rng(2), none)))


def test_same_seed_same_tasks() -> None:
    def dump(seed: int) -> list[list[dict[str, Any]]]:
        return [[c.to_dict() for c in t] for t in sample_tasks(30, np.random.default_rng(seed))]

    assert dump(7) == dump(7)
    assert dump(7) != dump(8)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("shape_weights", {"nope": 1.0}),
        ("shape_weights", {"pow3": 0.0}),
        ("shape_weights", {"pow3": -1.0}),
        ("metric_weights", {}),
        ("grid_weights", {"linear": float("nan")}),
        ("n_points", (0, 10)),
        ("n_points", (10, 5)),
        ("n_points", (1.5, 5)),
        ("curves_per_task", (1,)),
        ("horizon_ratio", (1.0, 10.0)),
        ("horizon_ratio", (2.0, float("inf"))),
        ("noise", (0.0, 0.1)),
        ("heavy_tail_prob", 1.5),
        ("outlier_rate", -0.1),
        ("divergence_rate", "0.1"),
        ("jitter", True),
    ],
)
def test_invalid_config_names_the_field(field: str, value: object) -> None:
    with pytest.raises(InvalidParameterError, match=f"The '{field}' parameter of PriorConfig"):
        PriorConfig(**{field: value})  # type: ignore[arg-type]


def test_invalid_arguments_of_the_samplers() -> None:
    with pytest.raises(InvalidParameterError, match="'n' parameter of sample_tasks"):
        sample_tasks(-1, np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match="'config' parameter of sample_task"):
        sample_task(np.random.default_rng(0), {"jitter": 0.1})  # type: ignore[arg-type]


def test_overfitting_curves_turn_down() -> None:
    cfg = PriorConfig(shape_weights={"overfitting": 1.0}, n_points=(50, 300))
    curves = _curves(sample_tasks(40, np.random.default_rng(3), cfg))
    checked = 0
    for c in curves:
        v = _better(c)
        if v.max() - v[0] < 1e-3 * np.abs(v).max():  # a config that barely learns
            continue
        peak = int(np.argmax(v))
        assert peak < v.size - 1 and v[-1] < v[peak], c.meta
        checked += 1
    assert checked > 50


def test_plateau_drop_steps_up_late() -> None:
    params = draw_params("plateau_drop", np.random.default_rng(4), 200, 0.5)
    td = params["td"]
    t = np.linspace(0.001, 1.0, 4001)
    q = quality("plateau_drop", t, params, np.full((200, 1), 0.0005))

    def at(s: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(t, s[:, 0])
        return q[np.arange(200), idx]

    jump, before = at(td + 0.1) - at(td - 0.01), at(td - 0.01) - at(td - 0.1)
    assert np.all(td >= 0.4)
    assert np.all(jump > 0.1) and np.all(jump > 2 * before)


@pytest.mark.parametrize("name", SHAPE_NAMES)
def test_each_shape_is_a_quality_in_unit_interval(name: str) -> None:
    params = draw_params(name, np.random.default_rng(5), 8, 0.15)
    q = quality(name, np.linspace(0.01, 1.0, 100), params, np.full((8, 1), 0.005))
    assert q.shape == (8, 100)
    assert np.all((q >= 0) & (q <= 1)) and np.all(np.isfinite(q))


def test_import_curvecast_does_not_import_the_prior() -> None:
    code = "import sys, curvecast; print('curvecast.prior' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
