from __future__ import annotations

import math

import numpy as np
import pytest

from curvecast import InvalidParameterError
from curvecast.pruning import FreezeThaw


def _curve(final: float, n: int = 20, rate: float = 0.6) -> list[float]:
    """A saturating accuracy curve that ends at ``final``."""
    return [final - 0.4 * rate**e for e in range(1, n + 1)]


def _run(ft: FreezeThaw, curves: dict[str, list[float]], budget: int) -> list[tuple[str, str]]:
    """Follow the advice for ``budget`` reports; the log of (trial, action)."""
    log = []
    for _ in range(budget):
        choice = ft.next()
        if choice is None:
            break
        assert choice.trial_id is not None
        k = ft.n_reports(choice.trial_id)
        ft.report(choice.trial_id, k + 1, curves[choice.trial_id][k])
        log.append((choice.trial_id, choice.action))
    return log


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"direction": "up"}, "direction"),
        ({"horizon": 0}, "horizon"),
        ({"horizon": math.inf}, "horizon"),
        ({"step_cost": -1}, "step_cost"),
        ({"step_cost": "epochs"}, "step_cost"),
        ({"min_points": 0}, "min_points"),
        ({"n_startup": -1}, "n_startup"),
        ({"check_growth": 0.5}, "check_growth"),
        ({"max_context": -1}, "max_context"),
        ({"seed": -1}, "seed"),
        ({"seed": True}, "seed"),
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        FreezeThaw(**kwargs)  # type: ignore[arg-type]
    assert f"The {name!r} parameter of FreezeThaw must be" in str(info.value)


def test_trial_errors_say_what_is_wrong() -> None:
    ft = FreezeThaw(horizon=3, method="last_value")
    ft.add("a")
    with pytest.raises(InvalidParameterError, match=r"registered with FreezeThaw\.add"):
        ft.report("b", 1, 0.5)
    with pytest.raises(InvalidParameterError, match="an id not added before"):
        ft.add("a")
    with pytest.raises(InvalidParameterError, match="horizon"):
        FreezeThaw(method="last_value").add("x")  # no horizon anywhere
    with pytest.raises(InvalidParameterError, match="a started trial"):
        ft.complete("a")
    ft.report("a", 1, 0.5)
    with pytest.raises(InvalidParameterError, match="above the last step 1"):
        ft.report("a", 1, 0.6)
    with pytest.raises(InvalidParameterError, match="'value'"):
        ft.report("a", 2, "0.6")  # type: ignore[arg-type]
    ft.report("a", 2, 0.6)
    ft.report("a", 3, 0.7)  # reaches its horizon: completed
    assert ft.state("a") == "completed"
    with pytest.raises(InvalidParameterError, match="is completed; add a new trial"):
        ft.report("a", 4, 0.8)


def test_a_diverged_trial_ends_and_is_never_chosen() -> None:
    ft = FreezeThaw(horizon=10, method="last_value")
    ft.add("a")
    ft.report("a", 1, math.nan)
    assert ft.state("a") == "diverged"
    assert ft.next() is None  # nothing left, and no new trial allowed
    choice = ft.next(allow_new=True)
    assert choice is not None and (choice.trial_id, choice.action) == (None, "new")


def test_the_promising_paused_trial_is_resumed() -> None:
    """A is the best trial; the user advanced the others past it: it is A that comes back."""
    ft = FreezeThaw(horizon=20, bounds=(0, 1), method="last_value")
    for tid in "abc":
        ft.add(tid)
    for e in range(1, 4):
        ft.report("a", e, 0.7 + 0.03 * e)
    for e in range(1, 21):
        ft.report("b", e, 0.70)  # completed: the incumbent is 0.70
    for e in range(1, 4):
        ft.report("c", e, 0.3)  # far below the incumbent
    choice = ft.next()
    assert choice is not None and (choice.trial_id, choice.action) == ("a", "resume")
    assert choice.expected_improvement > 0 and ft.state("c") == "paused"


def test_a_hopeless_paused_trial_never_beats_a_fresh_one() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        ft = FreezeThaw(horizon=20, bounds=(0, 1), method="last_value", n_startup=0)
        for tid in ("best", "hopeless", "fresh"):
            ft.add(tid)
        final = float(rng.uniform(0.8, 0.95))
        for e, v in enumerate(_curve(final), 1):
            ft.report("best", e, v)
        # stopped at a random point, far below the incumbent
        for e in range(1, int(rng.integers(2, 19)) + 1):
            ft.report("hopeless", e, float(rng.uniform(0.1, 0.3)))
        choice = ft.next()
        assert choice is not None and (choice.trial_id, choice.action) == ("fresh", "start")


def test_compute_is_counted_in_step_cost_units() -> None:
    ft = FreezeThaw(horizon=100, step_cost="step", method="last_value")
    ft.add("a")
    for s in (10, 20, 30):
        ft.report("a", s, 0.5)
    assert ft.compute_used == 30 and ft.compute_left("a") == 70
    # each step trains from scratch on s examples, the steps double: 16, 32, 64 -> 128, 256
    ft = FreezeThaw(horizon=256, step_cost=lambda s: s, method="last_value")
    ft.add("b")
    for s in (16, 32, 64):
        ft.report("b", s, 0.5)
    assert ft.compute_used == 112 and ft.compute_left("b") == 128 + 256
    ft = FreezeThaw(horizon=10, step_cost=2.5, method="last_value")  # a fixed cost per report
    ft.add("c", horizon=4)
    ft.report("c", 1, 0.5)
    assert ft.compute_used == 2.5 and ft.compute_left("c") == 7.5


def test_the_trial_started_last_runs_min_points_reports_first() -> None:
    ft = FreezeThaw(horizon=20, bounds=(0, 1), min_points=3, method="last_value")
    for tid in "ab":
        ft.add(tid)
    log = _run(ft, {t: _curve(0.8) for t in "ab"}, 3)
    assert log == [("a", "start"), ("a", "continue"), ("a", "continue")]


def test_choosing_among_many_paused_trials_is_one_batch() -> None:
    ft = FreezeThaw(horizon=20, bounds=(0, 1), method="last_value")
    rng = np.random.default_rng(1)
    for i in range(100):
        ft.add(i)
        for e in range(1, 4):
            ft.report(i, e, float(rng.uniform(0.2, 0.8)))
    before = ft.n_batches
    choice = ft.next()
    assert choice is not None and ft.n_batches == before + 1 and ft.n_forecasts == 100
    ft.next()  # nothing changed: the forecasts are reused
    assert ft.n_batches == before + 1


def test_choices_are_repeatable() -> None:
    curves = {f"t{i}": _curve(0.6 + 0.03 * ((7 * i) % 10)) for i in range(8)}

    def once() -> list[tuple[str, str]]:
        ft = FreezeThaw(horizon=20, bounds=(0, 1), seed=3)
        for tid in curves:
            ft.add(tid)
        return _run(ft, curves, 60)

    assert once() == once()


def test_on_a_known_search_the_best_trial_is_found_with_half_the_compute() -> None:
    """Ten runs at known finals, the best one met last: run in order without pruning, it would
    complete only with all the compute; with half of it, freeze-thaw has completed it."""
    finals = np.linspace(0.6, 0.9, 10)
    order = [*np.random.default_rng(4).permutation(9).tolist(), 9]
    curves = {f"t{i}": _curve(float(finals[i])) for i in order}
    ft = FreezeThaw(horizon=20, bounds=(0, 1))
    for tid in curves:
        ft.add(tid)
    _run(ft, curves, 100)
    assert ft.best_completed is not None and ft.best_completed[0] == "t9"
    assert ft.compute_used == 100


def test_before_any_completion_the_leading_run_is_finished_first() -> None:
    """A has settled at the best value seen; nothing has completed, so nothing can be deployed:
    A is the run to finish, not a fresh one (A shows no gain over its own best value)."""
    ft = FreezeThaw(horizon=20, bounds=(0, 1), method="last_value", n_startup=0)
    for tid in ("a", "b", "fresh"):
        ft.add(tid)
    for e in range(1, 6):
        ft.report("a", e, 0.92)
    for e in range(1, 6):
        ft.report("b", e, 0.5 + 0.02 * e)
    assert ft.incumbent is None
    choice = ft.next()
    assert choice is not None and (choice.trial_id, choice.action) == ("a", "resume")
    assert choice.incumbent is not None and choice.incumbent < 0.92
