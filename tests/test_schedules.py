"""Schedule: validation in one voice, values against closed forms, areas, the torch helper."""

from __future__ import annotations

import math

import numpy as np
import pytest

import curvecast
from curvecast import Curve, Schedule
from curvecast.exceptions import CurvecastError, InvalidParameterError
from curvecast.schedules import as_schedule, attach_schedules

COSINE = {"name": "cosine", "peak_lr": 3e-4, "warmup": 200, "total": 5000, "final_lr": 1e-5}


def test_cosine_equals_its_closed_form() -> None:
    s = Schedule(COSINE)
    x = np.linspace(0, 5000, 501)
    p = np.clip((x - 200) / 4800, 0, 1)
    want = 1e-5 + (3e-4 - 1e-5) * (1 + np.cos(np.pi * p)) / 2
    want = np.where(x < 200, 3e-4 * x / 200, want)
    np.testing.assert_allclose(s.lr(x), want, rtol=1e-12, atol=1e-18)
    assert s.end == 5000 and s.peak == 3e-4 and s.name == "cosine"


_CONST = {"name": "constant", "peak_lr": 0.1, "warmup": 10, "total": 100}
_LIN = {"name": "linear", "peak_lr": 1.0, "total": 100, "final_lr": 0.2}
_WSD = {"name": "wsd", "peak_lr": 1.0, "total": 100, "decay": 20}
_STEP = {"name": "step", "peak_lr": 1.0, "total": 100, "milestones": [30, 60], "gamma": 0.5}


@pytest.mark.parametrize(
    ("spec", "x", "want"),
    [
        (_CONST, [5, 10, 99], [0.05, 0.1, 0.1]),
        (_LIN, [0, 50, 100], [1.0, 0.6, 0.2]),
        (_WSD, [79, 80, 90, 100], [1.0, 1.0, 0.5, 0.0]),
        (_STEP, [29, 30, 59, 60, 100], [1.0, 0.5, 0.5, 0.25, 0.25]),
    ],
)
def test_named_schedules_take_their_documented_values(
    spec: dict[str, object], x: list[float], want: list[float]
) -> None:
    np.testing.assert_allclose(Schedule(spec).lr(x), want, rtol=1e-12)


def test_arrays_interpolate_linearly_and_hold_the_first_rate_before_the_first_point() -> None:
    s = Schedule({"x": [10, 20, 40], "lr": [1.0, 0.5, 0.0]})
    np.testing.assert_allclose(s.lr([0, 10, 15, 30, 40]), [1.0, 1.0, 0.75, 0.25, 0.0])
    assert s.end == 40 and s.name == "arrays"


def test_forward_area_is_the_integral_of_the_rate() -> None:
    s = Schedule({"name": "step", "peak_lr": 1.0, "total": 100, "milestones": [50, 75]})
    np.testing.assert_allclose(s.forward_area([50, 75, 100]), [50, 52.5, 52.75], rtol=1e-6)
    c = Schedule({"name": "cosine", "peak_lr": 2.0, "total": 10})
    np.testing.assert_allclose(c.forward_area([10]), [10.0], rtol=1e-6)  # mean rate = peak / 2


def test_annealing_area_is_zero_before_any_decay_and_counts_each_drop() -> None:
    s = Schedule({"name": "wsd", "peak_lr": 1.0, "warmup": 10, "total": 100, "decay": 20})
    assert s.annealing_area([80], tau=5.0)[0] == pytest.approx(0.0, abs=1e-9)  # warm-up is not
    step = Schedule({"name": "step", "peak_lr": 1.0, "total": 1000, "milestones": [100]})
    # a drop d at t0 gives m(t) = d exp(-(t - t0) / tau), whose integral tends to d * tau
    assert step.annealing_area([1000], tau=10.0)[0] == pytest.approx(0.9 * 10.0, rel=1e-3)
    assert step.annealing_area([110], tau=10.0)[0] == pytest.approx(9 * (1 - math.exp(-1)), 1e-2)


def test_spec_round_trips_through_json() -> None:
    s = Schedule(COSINE)
    again = Schedule(s.to_dict())
    np.testing.assert_array_equal(again.lr([0, 2600, 5000]), s.lr([0, 2600, 5000]))
    assert as_schedule(s.to_json()).to_dict() == s.to_dict()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"name": "cosin", "peak_lr": 1, "total": 10}, "'name'"),
        ({"name": "cosine", "total": 10}, "'peak_lr'"),
        ({"name": "wsd", "peak_lr": 1, "total": 10}, "'decay'"),
        ({"name": "cosine", "peak_lr": -1e-3, "total": 10}, "'peak_lr'"),
        ({"name": "cosine", "peak_lr": 1, "total": 10, "warmup": 10}, "'warmup'"),
        ({"name": "cosine", "peak_lr": 1, "total": 10, "final_lr": 2}, "'final_lr'"),
        ({"name": "cosine", "peak_lr": 1, "total": 10, "decay": 2}, "'decay'"),
        ({"name": "step", "peak_lr": 1, "total": 10, "milestones": [5, 3]}, "'milestones'"),
        ({"x": [0, 1], "lr": [0.1, -0.1]}, "'lr'"),
        ({"x": [0, 1, 2], "lr": [0.1, 0.1]}, "'lr'"),
        ({"x": [0, 2, 1], "lr": [0.1, 0.1, 0.1]}, "'x'"),
        ({"lr": [0.1]}, "'x'"),
        ({"steps": 3}, "'name'"),
    ],
)
def test_bad_specs_raise_one_error_that_names_the_field(
    spec: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidParameterError, match=field) as info:
        Schedule(spec)
    assert isinstance(info.value, CurvecastError)


def test_a_schedule_that_stops_before_the_horizon_is_refused_with_the_fix() -> None:
    spec = {"name": "cosine", "peak_lr": 1e-3, "total": 100}
    with pytest.raises(InvalidParameterError, match=r"stops at 100 .*'x_new' reaches 200.*total"):
        curvecast.forecast([10, 20, 30], [3, 2.5, 2.3], [200], direction="minimize", schedule=spec)


def test_as_schedule_refuses_what_is_not_a_schedule() -> None:
    with pytest.raises(InvalidParameterError, match="'schedule' field must be a Schedule"):
        as_schedule(3)
    with pytest.raises(InvalidParameterError, match="JSON text"):
        as_schedule("{not json")
    assert as_schedule(None) is None


def test_attach_schedules_stores_specs_and_names_the_bad_context_curve() -> None:
    x = np.arange(1.0, 6.0)
    curve = Curve(x, 3 - 0.1 * x, direction="minimize")
    spec = {"name": "linear", "peak_lr": 0.1, "total": 10}
    out, ctx, has = attach_schedules(curve, np.array([10.0]), spec, [curve])
    assert has and out.meta["schedule"]["name"] == "linear" and "schedule" not in curve.meta
    assert list(ctx) == [curve]  # a context curve without a schedule is passed as it is
    bad = Curve(x, 3 - 0.1 * x, direction="minimize", meta={"schedule": {"name": "nope"}})
    with pytest.raises(InvalidParameterError, match=r"'name'"):
        attach_schedules(curve, np.array([10.0]), spec, [curve, bad])


# -- the PyTorch helper -----------------------------------------------------------------------


def _opt(torch, lr: float = 0.1):  # type: ignore[no-untyped-def]
    model = torch.nn.Linear(4, 2)
    return torch.optim.AdamW(model.parameters(), lr=lr)


@pytest.mark.parametrize("kind", ["cosine", "step", "lambda_warmup", "sequential", "onecycle"])
def test_schedule_from_torch_matches_the_scheduler_step_by_step(kind: str) -> None:
    torch = pytest.importorskip("torch")
    lrs = torch.optim.lr_scheduler
    opt = _opt(torch)
    if kind == "cosine":
        sch = lrs.CosineAnnealingLR(opt, T_max=50, eta_min=0.01)
    elif kind == "step":
        sch = lrs.MultiStepLR(opt, milestones=[10, 30], gamma=0.3)
    elif kind == "lambda_warmup":
        sch = lrs.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10))
    elif kind == "sequential":
        warm = lrs.LinearLR(opt, start_factor=0.01, total_iters=5)
        cos = lrs.CosineAnnealingLR(opt, T_max=45)
        sch = lrs.SequentialLR(opt, [warm, cos], milestones=[5])
    else:
        sch = lrs.OneCycleLR(opt, max_lr=0.5, total_steps=51)
    s = Schedule.from_torch(sch, 50)
    assert sch.last_epoch == 0  # the scheduler itself did not move
    want = []
    for _ in range(50):
        want.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    want.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(s.lr(np.arange(51)), want, rtol=1e-9)
    assert s.end == 50


def test_schedule_from_torch_validates_its_arguments() -> None:
    torch = pytest.importorskip("torch")
    sch = torch.optim.lr_scheduler.StepLR(_opt(torch), step_size=3)
    with pytest.raises(InvalidParameterError, match="'steps'"):
        Schedule.from_torch(sch, 0)
    with pytest.raises(InvalidParameterError, match="'group'"):
        Schedule.from_torch(sch, 5, group=3)
    with pytest.raises(InvalidParameterError, match="'scheduler'"):
        Schedule.from_torch(object(), 5)


def test_the_shipped_schedules_suite_loads_without_the_network_and_covers_every_curve() -> None:
    from curvecast.bench.sources import describe_suite, load_suite

    curves = load_suite("schedules", limit=12)
    assert len(curves) == 12 and len({c.meta["task"] for c in curves}) == 4
    for c in curves:
        s = Schedule(c.meta["schedule"])
        assert c.direction == "minimize" and s.end >= c.x[-1]
    summary = describe_suite("schedules")
    assert summary.curves == 300 and summary.tasks == 4
