"""The learning-rate schedule of a run: known before the run starts, so a forecast can use it.

A :class:`Schedule` gives the learning rate along the curve's own axis (steps, epochs, tokens:
whatever ``Curve.x`` counts) from the start of the run to its end. It is built from

* arrays, ``{"x": [...], "lr": [...]}``: piecewise linear between the points, the first rate
  held before the first point;
* a named schedule with its parameters, each with an optional linear warm-up from 0 to
  ``peak_lr`` over ``warmup`` (axis units) and a required ``total`` (the end of the run):

  ===========  ==========================================================================
  name         after warm-up
  ===========  ==========================================================================
  constant     ``peak_lr``
  step         ``peak_lr * gamma ** (number of milestones <= x)``; ``milestones`` (list),
               ``gamma`` (default 0.1)
  cosine       ``final_lr + (peak_lr - final_lr) * (1 + cos(pi * p)) / 2``, ``p`` the
               fraction of ``[warmup, total]`` done; ``final_lr`` default 0
  linear       straight from ``peak_lr`` to ``final_lr`` (default 0) over ``[warmup, total]``
  wsd          warmup-stable-decay: ``peak_lr`` until ``total - decay``, then straight to
               ``final_lr`` (default 0) at ``total``; ``decay`` is the cool-down's length
  ===========  ==========================================================================

* a PyTorch ``LRScheduler`` and its optimizer: :func:`schedule_from_torch` steps a copy.

The quantities the loss-curve laws need are methods: :meth:`Schedule.forward_area` (``S1``, the
summed learning rate, Tissue et al. 2024) and :meth:`Schedule.annealing_area` (``S2``, the area
under the momentum of the rate's decrease, the same paper).
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from curvecast.curves import Curve, check_axis
from curvecast.exceptions import InvalidCurveError, InvalidParameterError, MissingDependencyError

__all__ = [
    "NAMED_SCHEDULES",
    "Schedule",
    "as_schedule",
    "attach_schedules",
    "schedule_from_torch",
]

_F = NDArray[np.float64]

#: The named schedules and their parameters: (required, optional with defaults).
NAMED_SCHEDULES: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "constant": (("peak_lr", "total"), {"warmup": 0.0}),
    "step": (("peak_lr", "total", "milestones"), {"warmup": 0.0, "gamma": 0.1}),
    "cosine": (("peak_lr", "total"), {"warmup": 0.0, "final_lr": 0.0}),
    "linear": (("peak_lr", "total"), {"warmup": 0.0, "final_lr": 0.0}),
    "wsd": (("peak_lr", "total", "decay"), {"warmup": 0.0, "final_lr": 0.0}),
}
_GRID_POINTS = 4097  # the fine grid the areas are integrated on


def _err(field: str, expected: str, got: object) -> InvalidParameterError:
    return InvalidParameterError(f"The schedule's {field!r} field must be {expected}. Got {got!r}.")


def _number(spec: Mapping[str, Any], field: str, *, positive: bool = False) -> float:
    v = spec[field]
    if isinstance(v, bool) or not isinstance(v, int | float | np.number) or not math.isfinite(v):
        raise _err(field, "a finite number", v)
    if v < 0 or (positive and v == 0):
        raise _err(field, "> 0" if positive else ">= 0 (a learning rate cannot be negative)", v)
    return float(v)


@dataclass(frozen=True, eq=False)
class Schedule:
    """A validated, immutable learning-rate schedule over a curve's axis.

    Build one with :meth:`from_spec` (a dict, as in JSON requests) or :func:`as_schedule`; the
    constructor takes the same dict. ``end`` is where the schedule stops: a forecast may not ask
    beyond it.

    Attributes:
        spec: the validated spec, JSON-ready (``to_dict()`` returns a copy).
        end: the last axis value the schedule covers.
        peak: the largest rate, > 0.

    Raises:
        InvalidParameterError: unknown name, missing or unknown parameter, a negative rate, a
            warm-up or decay longer than the run, arrays of unequal length or an axis that is not
            increasing; the message names the field.

    Example:
        >>> s = Schedule({"name": "cosine", "peak_lr": 3e-4, "warmup": 200, "total": 5000})
        >>> round(float(s.lr(2600)), 6), float(s.lr(5000))
        (0.00015, 0.0)
        >>> Schedule({"x": [0, 10], "lr": [1.0, 0.0]}).lr([5]).tolist()
        [0.5]
    """

    spec: Mapping[str, Any]
    end: float
    peak: float

    def __init__(self, spec: Mapping[str, Any]) -> None:
        clean, end, peak = _validate(spec)
        object.__setattr__(self, "spec", clean)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "peak", peak)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | Schedule) -> Schedule:
        """A Schedule from a dict (or the Schedule itself)."""
        return spec if isinstance(spec, Schedule) else cls(spec)

    @classmethod
    def from_torch(cls, scheduler: Any, steps: int, *, group: int = 0) -> Schedule:
        """The schedule a PyTorch ``LRScheduler`` will follow: see :func:`schedule_from_torch`."""
        return schedule_from_torch(scheduler, steps, group=group)

    @property
    def name(self) -> str:
        """The schedule's name; "arrays" for one given by points."""
        return str(self.spec.get("name", "arrays"))

    def to_dict(self) -> dict[str, Any]:
        """The spec as a JSON-ready dict (``Schedule(s.to_dict())`` is the same schedule)."""
        return json.loads(json.dumps(dict(self.spec)))

    def to_json(self) -> str:
        """The spec as compact JSON."""
        return json.dumps(dict(self.spec), separators=(",", ":"), sort_keys=True)

    def __repr__(self) -> str:
        return f"Schedule({self.name!r}, end={self.end:g}, peak={self.peak:g})"

    # -- values ----------------------------------------------------------------------------
    def lr(self, x: ArrayLike) -> _F:
        """The rate at ``x``, shape of ``x`` (at least 1-D); beyond ``end`` the last rate holds."""
        xs = np.atleast_1d(np.asarray(x, dtype=np.float64))
        return _evaluate(self.spec, xs)

    def check_covers(self, horizon: float, *, field: str = "x_new") -> None:
        """Raise InvalidParameterError when the schedule stops before ``horizon``."""
        if horizon > self.end * (1 + 1e-9) + 1e-12:
            fix = "raise its 'total'" if "name" in self.spec else "add points up to it"
            raise InvalidParameterError(
                f"The schedule stops at {self.end:g} but {field!r} reaches {horizon:g}: the "
                f"schedule must cover the run to the horizon ({fix})."
            )

    def grid(self, n: int = _GRID_POINTS) -> tuple[_F, _F]:
        """A fine grid over ``[0, end]`` with the rate on it, shapes ``(k,)`` and ``(k,)``
        (``k >= n``: the schedule's corners are added so that steps and kinks are exact)."""
        xs = np.linspace(0.0, self.end, n)
        corners = _corners(self.spec)
        if corners.size:
            eps = self.end * 1e-9
            xs = np.unique(np.concatenate([xs, corners, np.clip(corners - eps, 0, None)]))
        return xs, _evaluate(self.spec, xs)

    def forward_area(self, x: ArrayLike) -> _F:
        """``S1(x)``: the integral of the rate from 0 to ``x`` (the summed learning rate),
        shape of ``x``."""
        gx, glr = self.grid()
        cum = np.concatenate([[0.0], np.cumsum(np.diff(gx) * (glr[1:] + glr[:-1]) / 2)])
        return _interp_beyond(np.asarray(x, dtype=np.float64), gx, cum, glr[-1])

    def annealing_area(self, x: ArrayLike, tau: float) -> _F:
        """``S2(x)``: Tissue et al.'s annealing area, shape of ``x``.

        ``m(t) = integral_0^t exp(-(t - s) / tau) * (-dlr/ds)^+ ds`` is the momentum of the
        rate's decreases (warm-up increases are not annealing) and ``S2(x)`` its integral from 0
        to ``x``; ``tau`` (axis units, > 0) is the momentum's memory (Tissue's ``lambda`` per
        step is ``exp(-1 / tau)``).
        """
        if not tau > 0:
            raise _err("tau", "> 0", tau)
        gx, glr = self.grid()
        drops = np.clip(-np.diff(glr), 0.0, None)  # decrease over each cell
        decay = np.exp(-np.diff(gx) / tau)
        m = np.zeros(gx.size)
        for i in range(1, gx.size):  # exact recursion for a decrease spread over the cell
            m[i] = m[i - 1] * decay[i - 1] + drops[i - 1]
        cum = np.concatenate([[0.0], np.cumsum(np.diff(gx) * (m[1:] + m[:-1]) / 2)])
        xs = np.asarray(x, dtype=np.float64)
        beyond = np.clip(xs - gx[-1], 0.0, None)
        # after the end the momentum decays with no new drops: its integral is tau * m * (1 - e)
        tail = tau * m[-1] * (1 - np.exp(-beyond / tau))
        return np.interp(xs, gx, cum) + tail


def as_schedule(value: object, *, field: str = "schedule") -> Schedule | None:
    """None, a Schedule, or a dict spec (or its JSON text) as a Schedule.

    Raises:
        InvalidParameterError: anything else, or a bad spec; the message names ``field``.
    """
    if value is None or isinstance(value, Schedule):
        return value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InvalidParameterError(
                f"The {field!r} field must be a schedule object or its JSON text. Got {value!r}."
            ) from None
    if isinstance(value, Mapping):
        return Schedule(value)
    raise InvalidParameterError(
        f"The {field!r} field must be a Schedule, a dict such as "
        '{"name": "cosine", "peak_lr": 3e-4, "warmup": 200, "total": 5000} or '
        f'{{"x": [...], "lr": [...]}}, or null. Got {type(value).__name__} instead.'
    )


def attach_schedules(
    curve: Curve, x_new: _F, schedule: object, context: Sequence[Curve] = ()
) -> tuple[Curve, Sequence[Curve], bool]:
    """Validate the schedules of a forecast call and store them in the curves' meta.

    ``schedule`` (or, when None, ``curve.meta["schedule"]``) must cover the curve and ``x_new``
    (shape ``(m,)``, increasing); it is stored as a dict in the returned curve's
    ``meta["schedule"]``, and so is each context curve's own ``meta["schedule"]``.

    Returns:
        ``(curve, context, has_schedule)``; the inputs are returned unchanged where nothing
        needed storing.

    Raises:
        InvalidParameterError: a bad schedule, or one that stops before the last ``x_new``;
            the message names the field (``schedule``, ``context[3].meta['schedule']``).
    """
    sched = as_schedule(schedule)
    if sched is None and isinstance(curve, Curve):
        sched = as_schedule(curve.meta.get("schedule"), field="meta['schedule']")
    if sched is not None:
        sched.check_covers(float(np.max(x_new)), field="x_new")
        sched.check_covers(float(curve.x[-1]), field="x")
        curve = _with_meta_schedule(curve, sched)
    ctx = list(context)
    for i, c in enumerate(ctx):
        if isinstance(c, Curve) and c.meta.get("schedule") is not None:
            field = f"context[{i}].meta['schedule']"
            cs = as_schedule(c.meta["schedule"], field=field)
            if cs is not None:
                ctx[i] = _with_meta_schedule(c, cs)
    return curve, ctx, sched is not None


def _with_meta_schedule(curve: Curve, sched: Schedule) -> Curve:
    spec = sched.to_dict()
    if curve.meta.get("schedule") == spec:
        return curve
    meta = {**curve.meta, "schedule": spec}
    return Curve(curve.x, curve.y, curve.direction, curve.bounds, meta)


def schedule_from_torch(scheduler: Any, steps: int, *, group: int = 0) -> Schedule:
    """The schedule a PyTorch ``LRScheduler`` will follow for the next ``steps`` steps.

    A copy of the scheduler (with stand-ins for the model's parameters and optimizer state, so
    nothing large is copied) is stepped ``steps`` times; the scheduler itself is not touched.
    The axis counts scheduler steps from the scheduler's current ``last_epoch``, so call it
    before training and step the scheduler once per point of your curve's axis.

    Args:
        scheduler: a ``torch.optim.lr_scheduler.LRScheduler`` (LambdaLR, CosineAnnealingLR,
            SequentialLR, OneCycleLR, ...).
        steps: how many steps to record, the run's length (>= 1).
        group: which parameter group's rate to read.

    Returns:
        A Schedule of arrays with ``steps + 1`` points, ``x = last_epoch .. last_epoch + steps``.

    Raises:
        MissingDependencyError: torch is not installed.
        InvalidParameterError: bad ``steps`` or ``group``, or not a scheduler.

    Example:
        >>> import torch  # doctest: +SKIP
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # doctest: +SKIP
        >>> sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)  # doctest: +SKIP
        >>> schedule_from_torch(sch, 100).lr(50).round(3).tolist()  # doctest: +SKIP
        [0.05]
    """
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(
            "schedule_from_torch needs torch: pip install torch (CPU build: "
            "pip install torch --index-url https://download.pytorch.org/whl/cpu)"
        ) from None
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise InvalidParameterError(
            f"The 'steps' parameter of schedule_from_torch must be a positive int. Got {steps!r}."
        )
    optimizer = getattr(scheduler, "optimizer", None)
    if optimizer is None or not hasattr(scheduler, "step"):
        raise InvalidParameterError(
            "The 'scheduler' parameter of schedule_from_torch must be a torch LRScheduler bound "
            f"to an optimizer. Got {type(scheduler).__name__} instead."
        )
    n_groups = len(optimizer.param_groups)
    if isinstance(group, bool) or not isinstance(group, int) or not 0 <= group < n_groups:
        raise InvalidParameterError(
            f"The 'group' parameter of schedule_from_torch must be an int in [0, {n_groups}). "
            f"Got {group!r} instead."
        )
    memo: dict[int, Any] = {}
    for g in optimizer.param_groups:
        for p in g["params"]:
            memo[id(p)] = torch.zeros(1, requires_grad=True)
    for state in optimizer.state.values():
        for v in state.values():
            if isinstance(v, torch.Tensor) and v.numel() > 1:
                memo[id(v)] = torch.zeros(1)
    twin = copy.deepcopy(scheduler, memo)
    start = int(getattr(twin, "last_epoch", 0))
    lrs = [float(twin.optimizer.param_groups[group]["lr"])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "step() before optimizer.step()": wanted here
        for _ in range(int(steps)):
            twin.step()
            lrs.append(float(twin.optimizer.param_groups[group]["lr"]))
    x = np.arange(start, start + int(steps) + 1, dtype=np.float64)
    return Schedule({"x": x.tolist(), "lr": lrs})


# ---------------------------------------------------------------------------------------------


def _validate(spec: Mapping[str, Any]) -> tuple[dict[str, Any], float, float]:
    if not isinstance(spec, Mapping):
        raise InvalidParameterError(
            f"A schedule must be a dict with 'name' or with 'x' and 'lr'. Got {spec!r} instead."
        )
    if "name" in spec:
        return _validate_named(spec)
    if "x" in spec or "lr" in spec:
        return _validate_arrays(spec)
    raise InvalidParameterError(
        "A schedule needs a 'name' (one of "
        f"{', '.join(NAMED_SCHEDULES)}) or the arrays 'x' and 'lr'. Got the fields "
        f"{sorted(spec)!r}."
    )


def _validate_arrays(spec: Mapping[str, Any]) -> tuple[dict[str, Any], float, float]:
    unknown = sorted(set(spec) - {"x", "lr"})
    if unknown:
        raise InvalidParameterError(
            f"The schedule has an unknown field {unknown[0]!r}; a schedule of points has only "
            "'x' and 'lr'."
        )
    for f in ("x", "lr"):
        if f not in spec:
            raise InvalidParameterError(f"The schedule's {f!r} field is missing.")
    try:
        x = check_axis(spec["x"], "x")
    except InvalidCurveError as exc:
        raise InvalidParameterError(f"The schedule's {str(exc)[4:]}") from None
    try:
        lr = np.asarray(spec["lr"], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise _err("lr", "a list of numbers", spec["lr"]) from None
    if lr.size != x.size:
        raise InvalidParameterError(
            f"The schedule's 'x' and 'lr' fields must have the same length. Got {x.size} and "
            f"{lr.size}."
        )
    bad = np.flatnonzero(~np.isfinite(lr) | (lr < 0))
    if bad.size:
        i = int(bad[0])
        raise _err(
            "lr", "finite and >= 0 (a learning rate cannot be negative)", f"entry {i}: {lr[i]}"
        )
    if not np.any(lr > 0):
        raise _err("lr", "positive somewhere", "all zeros")
    return {"x": x.tolist(), "lr": lr.tolist()}, float(x[-1]), float(lr.max())


def _validate_named(spec: Mapping[str, Any]) -> tuple[dict[str, Any], float, float]:
    name = spec["name"]
    if name not in NAMED_SCHEDULES:
        raise _err("name", f"one of {', '.join(NAMED_SCHEDULES)} (or give 'x' and 'lr')", name)
    required, optional = NAMED_SCHEDULES[name]
    unknown = sorted(set(spec) - {"name", *required, *optional})
    if unknown:
        allowed = ", ".join([*required, *optional])
        raise InvalidParameterError(
            f"The schedule has an unknown field {unknown[0]!r}; {name!r} takes {allowed}."
        )
    missing = [f for f in required if f not in spec]
    if missing:
        raise InvalidParameterError(
            f"The schedule's {missing[0]!r} field is missing: a {name!r} schedule needs "
            f"{', '.join(required)}."
        )
    clean: dict[str, Any] = {"name": name}
    for f in (*required, *optional):
        if f == "milestones":
            continue
        if f not in spec:
            clean[f] = float(optional[f])
            continue
        clean[f] = _number(spec, f, positive=f in ("peak_lr", "total"))
    total, warmup = clean["total"], clean["warmup"]
    if warmup >= total:
        raise _err("warmup", f"shorter than 'total' ({total:g})", warmup)
    if "final_lr" in clean and clean["final_lr"] > clean["peak_lr"]:
        raise _err("final_lr", f"<= 'peak_lr' ({clean['peak_lr']:g})", clean["final_lr"])
    if name == "wsd" and not 0 < clean["decay"] <= total - warmup:
        raise _err("decay", f"in (0, total - warmup] = (0, {total - warmup:g}]", clean["decay"])
    if name == "step":
        ms = spec["milestones"]
        if isinstance(ms, str) or not isinstance(ms, Sequence):
            raise _err("milestones", "a list of axis values", ms)
        vals = [_number({"milestones": m}, "milestones") for m in ms]
        if any(b <= a for a, b in itertools.pairwise(vals)):
            raise _err("milestones", "strictly increasing", list(ms))
        clean["milestones"] = vals
        if clean["gamma"] > 1:
            raise _err(
                "gamma", "in [0, 1] (each milestone multiplies the rate by it)", spec["gamma"]
            )
    return clean, total, clean["peak_lr"]


def _corners(spec: Mapping[str, Any]) -> _F:
    if "x" in spec:
        return np.asarray(spec["x"], dtype=np.float64)
    pts = [spec["warmup"], spec["total"]]
    if spec["name"] == "wsd":
        pts.append(spec["total"] - spec["decay"])
    if spec["name"] == "step":
        pts.extend(spec["milestones"])
    return np.asarray([p for p in pts if 0 < p <= spec["total"]], dtype=np.float64)


def _evaluate(spec: Mapping[str, Any], xs: _F) -> _F:
    if "x" in spec:
        return np.interp(xs, np.asarray(spec["x"]), np.asarray(spec["lr"]))
    name, peak = spec["name"], spec["peak_lr"]
    warm, total = spec["warmup"], spec["total"]
    t = np.clip(xs, 0.0, total)
    final = spec.get("final_lr", 0.0)
    frac = np.clip((t - warm) / (total - warm), 0.0, 1.0)
    if name == "constant":
        out = np.full_like(t, peak)
    elif name == "step":
        k = np.searchsorted(np.asarray(spec["milestones"]), t, side="right")
        out = peak * spec["gamma"] ** k
    elif name == "cosine":
        out = final + (peak - final) * (1 + np.cos(np.pi * frac)) / 2
    elif name == "linear":
        out = peak + (final - peak) * frac
    else:  # wsd
        start = total - spec["decay"]
        out = np.where(t <= start, peak, peak + (final - peak) * (t - start) / spec["decay"])
    if warm > 0:
        out = np.where(t < warm, peak * t / warm, out)
    return np.asarray(out, dtype=np.float64)


def _interp_beyond(xs: _F, gx: _F, cum: _F, last: float) -> _F:
    return np.interp(xs, gx, cum) + np.clip(xs - gx[-1], 0.0, None) * last
