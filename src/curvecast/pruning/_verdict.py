"""The Verdict: a stop/continue/pause decision with its reason and evidence."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Decision", "Reason", "Verdict"]

Decision = Literal["continue", "stop", "pause"]
#: Why a decision was taken.
#: "diverged": the run reported NaN, inf or an exploding value; "hopeless": the forecast gives it
#: less than ``threshold`` chance of beating the incumbent; "promising": it has at least that
#: chance; "warmup": too little of the curve is seen to judge; "no_incumbent": nothing to beat
#: yet; "no_horizon": the final step is unknown; "finished": the run reached the horizon;
#: "between_checks": no forecast is due at this report (see ``ForecastRule.check_growth``).
Reason = Literal[
    "diverged",
    "hopeless",
    "promising",
    "warmup",
    "no_incumbent",
    "no_horizon",
    "finished",
    "between_checks",
]


@dataclass(frozen=True)
class Verdict:
    """One decision about one trial at one step.

    Attributes:
        decision: "continue", "stop" or "pause".
        reason: see :data:`Reason`.
        step: the last observed x when the decision was taken.
        horizon: the x whose value decides the search (the final step), if known.
        incumbent: the value to beat, if any.
        prob_better: forecast probability that the value at ``horizon`` beats ``incumbent``.
        final_quantiles: forecast quantiles of the value at ``horizon`` as {level: value}.
        method: the forecasting method used.
        incumbent_source: where ``incumbent`` came from when it was not the best completed
            trial, e.g. "running trial 7" (the lower quartile of its forecast); None otherwise.
    """

    decision: Decision
    reason: Reason
    step: float
    horizon: float | None = None
    incumbent: float | None = None
    prob_better: float | None = None
    final_quantiles: dict[float, float] = field(default_factory=dict)
    method: str | None = None
    incumbent_source: str | None = None

    @property
    def should_stop(self) -> bool:
        return self.decision == "stop"

    @property
    def forecast_median(self) -> float | None:
        """The forecast median of the final value, when a forecast was made."""
        return self.final_quantiles.get(0.5)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: non-finite numbers become None, levels become strings."""
        return {
            "decision": self.decision,
            "reason": self.reason,
            "step": _num(self.step),
            "horizon": _num(self.horizon),
            "incumbent": _num(self.incumbent),
            "prob_better": _num(self.prob_better),
            "final_quantiles": {f"{k:g}": _num(v) for k, v in self.final_quantiles.items()},
            "method": self.method,
            "incumbent_source": self.incumbent_source,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        """Inverse of :meth:`to_dict` (None stays None)."""
        return cls(
            decision=d["decision"],
            reason=d["reason"],
            step=float(d["step"]) if d.get("step") is not None else math.nan,
            horizon=d.get("horizon"),
            incumbent=d.get("incumbent"),
            prob_better=d.get("prob_better"),
            final_quantiles={
                float(k): (math.nan if v is None else float(v))
                for k, v in (d.get("final_quantiles") or {}).items()
            },
            method=d.get("method"),
            incumbent_source=d.get("incumbent_source"),
        )

    def explain(self) -> str:
        """One line a person can read: what was decided and why."""
        if self.reason == "diverged":
            return (
                f"stopped at step {self.step:g}: the run diverged (non-finite or exploding value)"
            )
        if self.reason in ("hopeless", "promising") and self.prob_better is not None:
            med = self.forecast_median
            verb = "stopped" if self.decision == "stop" else "continued"
            source = f", the forecast of {self.incumbent_source}" if self.incumbent_source else ""
            return (
                f"{verb} at step {self.step:g}: P(final beats {self.incumbent:.4g}{source}) = "
                f"{self.prob_better:.3f}; forecast median at step {self.horizon:g} is "
                f"{med:.4g}"
                if med is not None
                else f"{verb} at step {self.step:g}"
            )
        return f"{self.decision} at step {self.step:g}: {self.reason.replace('_', ' ')}"


def _num(v: float | None) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None
