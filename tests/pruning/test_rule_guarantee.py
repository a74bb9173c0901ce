"""The default rule's guarantee, checked on synthetic searches where the truth is known.

Each trial is a random walk with its own drift (its hyperparameters): y_t = y_{t-1} + mu + sigma e.
A test forecaster that knows each trial's drift returns the exact distribution of its final
value, so the forecasts are calibrated by construction and the guarantee of ForecastRule must
hold: every stop risks an expected gain of at most its allowance (regret_rate x spread x share of
compute left), and the search's regret is bounded by what the stopped trials could have gained.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats

from curvecast import Curve
from curvecast.forecast import Forecast, register, unregister
from curvecast.forecast._result import GRID
from curvecast.pruning import ForecastRule, search_spread

T = 20  # steps per trial
SIGMA = 0.005
START = 10.0  # away from [0, 1], so that no accuracy bounds are inferred


class _Truth:
    """The exact forecast of a random walk whose drift is in the curve's meta."""

    name = "_truth"

    def forecast(
        self,
        curve: Curve,
        x_new: NDArray[np.float64],
        *,
        quantiles: Sequence[float] = (),
        rng: object = None,
        context: Sequence[Curve] = (),
    ) -> Forecast:
        t, y = float(curve.observed_x[-1]), float(curve.observed_y[-1])
        ahead = np.maximum(np.asarray(x_new, dtype=np.float64) - t, 1e-9)
        mu = float(curve.meta["drift"])
        grid = stats.norm.ppf(GRID)[None, :] * SIGMA * np.sqrt(ahead)[:, None]
        return Forecast(x_new, y + mu * ahead[:, None] + grid, method=self.name)


@pytest.fixture(autouse=True, scope="module")
def _truth_method() -> Iterator[None]:
    register("_truth", _Truth)  # type: ignore[arg-type]
    yield
    unregister("_truth")


def _search(rng: np.random.Generator, n: int) -> list[tuple[float, NDArray[np.float64]]]:
    drifts = rng.normal(0.02, 0.01, size=n)
    walks = START + np.cumsum(drifts[:, None] + SIGMA * rng.standard_normal((n, T)), axis=1)
    return list(zip(drifts.tolist(), walks, strict=True))


def _run(rule: ForecastRule, search: list[tuple[float, NDArray[np.float64]]]) -> dict[str, float]:
    """Run the search trial after trial (n_jobs=1) against the best completed trial."""
    finals: list[float] = []
    context: list[Curve] = []
    gains = realised = allowed = saved = 0.0
    worst_excess = -np.inf
    for drift, walk in search:
        inc = max(finals) if finals else None
        for k in range(1, T + 1):
            curve = Curve(np.arange(1.0, k + 1), walk[:k], meta={"drift": drift})
            v = rule.decide(
                curve,
                horizon=T,
                incumbent=inc,
                context=context,
                spread=search_spread(finals, "maximize"),
            )
            if v.should_stop:
                assert v.expected_gain is not None
                gains += v.expected_gain
                if v.allowance is None:  # fewer than 3 completed: P < 0.1 stopped it
                    assert v.prob_better is not None and v.prob_better < 0.1
                    allowed += v.expected_gain
                else:
                    worst_excess = max(worst_excess, v.expected_gain - v.allowance)
                    allowed += v.allowance
                realised += max(float(walk[-1]) - inc, 0.0)  # type: ignore[operator]
                saved += (T - k) / T
                break
        else:
            finals.append(float(walk[-1]))
            context.append(Curve(np.arange(1.0, T + 1), walk, meta={"drift": drift}))
    best_all = max(float(w[-1]) for _, w in search)
    return {
        "regret": best_all - max(finals),
        "gains": gains,
        "realised": realised,
        "allowed": allowed,
        "saved": saved,
        "worst_excess": worst_excess,
    }


def _runs(
    rate: float, n_searches: int = 40, n_trials: int = 20, *, same_step: bool = True
) -> list[dict[str, float]]:
    rng = np.random.default_rng(7)
    rule = ForecastRule(method="_truth", regret_rate=rate, check_growth=1.5, same_step=same_step)
    return [_run(rule, _search(rng, n_trials)) for _ in range(n_searches)]


def test_every_stop_risks_at_most_its_allowance_and_regret_is_bounded_by_the_stops() -> None:
    runs = _runs(0.05)
    assert max(r["worst_excess"] for r in runs) <= 1e-12
    for r in runs:  # pathwise: the regret comes from a stopped trial, which beat its incumbent
        assert r["regret"] <= r["realised"] + 1e-12
    mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
    assert mean["saved"] > 2.0  # the rule does prune: over two full trials saved per search
    # the forecasts are exact, so the realised gains of stopped trials average their expected
    # gains (Monte Carlo error allowed), and those stay within the allowances
    assert mean["realised"] <= 1.5 * mean["gains"] + 1e-3
    assert mean["regret"] <= 1.5 * mean["allowed"] + 1e-3


def test_a_smaller_regret_rate_is_safer_and_saves_less() -> None:
    # the forecast's own rule: with the same-step comparison, which trials are behind the median
    # decides most stops here, and the rate hardly moves what is saved
    bold, careful = _runs(0.2, same_step=False), _runs(0.01, same_step=False)
    assert np.mean([r["saved"] for r in careful]) < np.mean([r["saved"] for r in bold])
    assert np.mean([r["allowed"] for r in careful]) < np.mean([r["allowed"] for r in bold])
    assert np.mean([r["regret"] for r in careful]) <= np.mean([r["regret"] for r in bold])
