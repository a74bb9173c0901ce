"""A metric that moves in steps gets intervals no narrower than a step (issue 24)."""

from __future__ import annotations

import numpy as np
import pytest

import curvecast
from curvecast import Curve, InvalidParameterError
from curvecast.forecast._resolution import infer_resolution

# the demo's case: an accuracy on 540 validation examples that has settled
CORRECT = np.array([486, 513, 524, 528, 529, 530, 530, 531, 531, 531, 531, 531])
X = np.arange(1.0, CORRECT.size + 1)


def test_the_step_of_an_accuracy_on_n_examples_is_inferred() -> None:
    assert infer_resolution(CORRECT / 540) == pytest.approx(1 / 540)
    # float32 scores, as frameworks log them
    assert infer_resolution((CORRECT / 540).astype(np.float32).astype(float)) == pytest.approx(
        1 / 540
    )
    assert infer_resolution(CORRECT / 5.4, top=100.0) == pytest.approx(100 / 540)


@pytest.mark.parametrize(
    "y",
    [
        np.random.default_rng(0).uniform(0.5, 0.9, 20),  # a continuous score
        np.array([0.5, 0.75]),  # two values say nothing yet
        np.array([0.91, 0.93, 0.93]),  # two distinct values
    ],
)
def test_no_step_is_inferred_without_evidence(y: np.ndarray) -> None:
    assert infer_resolution(y) is None


def test_an_accuracy_on_540_examples_gets_an_interval_at_least_one_example_wide() -> None:
    """The demo got [0.98349, 0.98384] from a run already at 0.98333."""
    y = CORRECT / 540
    context = [
        Curve(np.arange(1.0, 31.0), np.minimum(531 + k, 540 * np.ones(30)) / 540, bounds=(0, 1))
        for k in range(-2, 3)
    ]
    for ctx in ((), context):
        f = curvecast.forecast(X, y, [30], context=ctx)
        lo, hi = f.quantiles[0, 0], f.quantiles[0, -1]
        assert hi - lo >= 1 / 540 - 1e-12, (ctx and "context", lo, hi)


def test_a_given_resolution_widens_a_loss_too() -> None:
    y = np.full(10, 2.0)
    f = curvecast.forecast(np.arange(1.0, 11.0), y, [12], direction="minimize",
                           method="last_value", resolution=0.5)  # fmt: skip
    assert f.quantiles[0, -1] - f.quantiles[0, 0] >= 0.5 - 1e-12
    assert f.info["resolution"] == 0.5


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "1/540", True])
def test_a_bad_resolution_is_refused_in_the_house_voice(bad: object) -> None:
    with pytest.raises(InvalidParameterError, match="'resolution' parameter of forecast"):
        curvecast.forecast([1, 2, 3], [0.5, 0.6, 0.7], [10], resolution=bad)  # type: ignore[arg-type]
