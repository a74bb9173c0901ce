"""Every registered forecaster passes the shared conformance suite."""

from __future__ import annotations

import pytest

import curvecast
from curvecast.testing import check_forecaster, forecaster_checks

FAST = [m for m in curvecast.available_methods() if m not in ("auto", "domhan_mcmc")]


@pytest.mark.parametrize("check", list(forecaster_checks()), ids=lambda c: c.__name__)
@pytest.mark.parametrize("method", FAST)
def test_conformance(method: str, check: object) -> None:
    check(curvecast.get_forecaster(method))  # type: ignore[operator]


@pytest.mark.slow
def test_conformance_domhan_mcmc() -> None:
    check_forecaster("domhan_mcmc")


def test_check_forecaster_names_the_failed_check() -> None:
    from curvecast.forecast.last_value import LastValueForecaster

    class Drifting(LastValueForecaster):
        """Ignores its rng: each call shifts the answer, which the suite must catch."""

        name = "drifting"
        calls = 0

        def forecast(self, curve, x_new, *, rng, context=()):  # type: ignore[no-untyped-def]
            out = super().forecast(curve, x_new, rng=rng, context=context)
            self.calls += 1
            return type(out)(x_new, out.grid_values + 1e-3 * self.calls, direction=out.direction)

    with pytest.raises(AssertionError, match="check_deterministic") as info:
        check_forecaster(Drifting())
    assert "drifting" in str(info.value)
