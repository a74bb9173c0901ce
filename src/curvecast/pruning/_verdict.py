"""The Verdict: a stop/continue/pause decision with its reason and evidence."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["CONFIDENT_STOP_PROBABILITY", "Decision", "Reason", "Verdict"]

#: A run *ahead* of the median of the completed runs at its step is stopped only when its
#: forecast gives it less than this chance of beating the incumbent (and its expected gain is
#: within the allowance): a run can lead the median and still be hopeless against the best, which
#: MedianPruner never stops. Compared with 0.2 (the same bar as behind the median) and with no
#: such stop on the three held-out suites of ``docs/context.md``: 0.01 kept the regret at most
#: MedianPruner's on all three, where a looser bar did not on boosting. Defined here, where the
#: verdict's explanation quotes it; :class:`~curvecast.pruning.ForecastRule` applies it.
CONFIDENT_STOP_PROBABILITY = 0.01

Decision = Literal["continue", "stop", "pause"]
#: Why a decision was taken.
#: "diverged": the run reported NaN, inf or an exploding value; "hopeless": what the forecast
#: expects it to gain over the incumbent is not worth the compute it still needs (or, with an
#: explicit ``threshold``, it has less than that chance of beating the incumbent); "promising":
#: the opposite; "warmup": too little of the curve is seen to judge; "no_incumbent": nothing to beat
#: yet; "no_horizon": the final step is unknown; "finished": the run reached the horizon;
#: "between_checks": no forecast is due at this report (see ``ForecastRule.check_growth``);
#: "out_of_bounds": a report lies outside the bounds the pruner was given, so the run is not judged;
#: "resumed": a paused run was resumed (freeze-thaw) and reports again.
Reason = Literal[
    "diverged",
    "hopeless",
    "promising",
    "warmup",
    "no_incumbent",
    "no_horizon",
    "finished",
    "between_checks",
    "out_of_bounds",
    "resumed",
]

_DECISIONS = ("continue", "stop", "pause")
_REASONS = (
    "diverged",
    "hopeless",
    "promising",
    "warmup",
    "no_incumbent",
    "no_horizon",
    "finished",
    "between_checks",
    "out_of_bounds",
    "resumed",
)

#: What each reason that is not a forecast means, as the end of a sentence a user can read.
_SENTENCES = {
    "warmup": "too little of the curve is seen yet to judge it (the warm-up: min_points reports "
    "and warmup_fraction of the final step)",
    "no_horizon": "the final step is not known yet (no trial has completed and none was given), "
    "so there is no point to forecast at",
    "no_incumbent": "there is no result to beat yet (no trial has completed)",
    "finished": "the run reached its final step",
    "between_checks": "no forecast is due at this report (forecasts are spaced out, see "
    "check_growth)",
    "out_of_bounds": "a reported value lies outside the bounds the pruner was given, so the run "
    "is not judged; fix the bounds (e.g. (0, 100) for a percentage)",
    "resumed": "the run was paused and is resumed (freeze-thaw): it was the most promising one "
    "waiting for a slot",
}


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
        shadow: True when taken in shadow mode (``ForecastPruner(shadow=True)``): the decision
            is what the pruner would have done; the trial was not stopped.
        expected_gain: the forecast expected improvement over ``incumbent``,
            E[(final - incumbent)+] (``incumbent - final`` when minimising): the regret a stop
            risks.
        allowance: the expected gain below which the default rule stops: ``regret_rate`` x the
            search's spread x the share of the run's compute still to come (None under an
            explicit ``threshold``).
        same_step: the median of the completed runs' values at this step (at the same stage of
            their runs where budgets differ), which the default rule needs a run to be behind
            before it stops it (the same-step comparison of MedianPruner); None when it was
            not consulted.
        behind: whether the run's best value so far was behind ``same_step`` (None when that
            was not consulted). Behind it, the default rule stops a run whose forecast says it
            is not worth its compute; ahead of it, only one seen twice or more whose forecast
            gives it less than :data:`CONFIDENT_STOP_PROBABILITY`.
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
    shadow: bool = False
    expected_gain: float | None = None
    allowance: float | None = None
    same_step: float | None = None
    behind: bool | None = None

    @property
    def should_stop(self) -> bool:
        """Whether the decision is "stop" (in shadow mode: whether it would have stopped)."""
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
            "shadow": self.shadow,
            "expected_gain": _num(self.expected_gain),
            "allowance": _num(self.allowance),
            "same_step": _num(self.same_step),
            "behind": self.behind,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        """Inverse of :meth:`to_dict` (None stays None).

        Raises:
            ValueError: ``d`` is not a verdict record (a wrong type, an unknown decision or
                reason, a number that is not a number); callers reading records written by
                others skip it.
        """
        if not isinstance(d, dict):
            raise ValueError(f"a verdict record must be a dict; got {type(d).__name__}")
        if d.get("decision") not in _DECISIONS or d.get("reason") not in _REASONS:
            raise ValueError(
                f"a verdict record needs a decision in {_DECISIONS} and a known reason; got "
                f"{d.get('decision')!r} and {d.get('reason')!r}"
            )
        quantiles = d.get("final_quantiles") or {}
        if not isinstance(quantiles, dict):
            raise ValueError("a verdict record's final_quantiles must be a dict")
        source, method = d.get("incumbent_source"), d.get("method")
        if not (source is None or isinstance(source, str)) or not (
            method is None or isinstance(method, str)
        ):
            raise ValueError("a verdict record's method and incumbent_source must be strings")
        return cls(
            decision=d["decision"],
            reason=d["reason"],
            step=_field(d, "step", math.nan),  # type: ignore[arg-type]
            horizon=_field(d, "horizon"),
            incumbent=_field(d, "incumbent"),
            prob_better=_field(d, "prob_better"),
            final_quantiles={
                _number(k, "a final_quantiles level"): (
                    math.nan if v is None else _number(v, "a final quantile")
                )
                for k, v in quantiles.items()
            },
            method=method,
            incumbent_source=source,
            shadow=d.get("shadow") is True,
            expected_gain=_field(d, "expected_gain"),
            allowance=_field(d, "allowance"),
            same_step=_field(d, "same_step"),
            behind=d["behind"] if isinstance(d.get("behind"), bool) else None,
        )

    def explain(self) -> str:
        """One line a person can read: what was decided, why, and the forecast behind it (its
        median and 90% interval of the final value) when one was made."""
        verb = {"stop": "stopped", "continue": "continued", "pause": "paused"}[self.decision]
        head = f"{verb} at step {self.step:g}"
        if self.shadow and self.decision != "continue":  # shadow mode: nothing was stopped
            head = f"would have {head} (shadow mode)"
        if self.reason == "diverged":
            return f"{head}: the run diverged (non-finite or exploding value)"
        forecast = self._forecast_text()
        if self.reason in ("hopeless", "promising") and self.prob_better is not None:
            source = f", the forecast of {self.incumbent_source}" if self.incumbent_source else ""
            inc = "nan" if self.incumbent is None else f"{self.incumbent:.4g}"
            pb = self.prob_better
            # three significant digits below the confident stop's bar, so that 0.00998 is not
            # shown as "0.010"
            chance = f"{pb:.3g}" if 0 < pb < CONFIDENT_STOP_PROBABILITY else f"{pb:.3f}"
            text = f"{head}: P(final beats {inc}{source}) = {chance}"
            if self.expected_gain is not None and self.allowance is not None:
                cmp = "<=" if self.expected_gain <= self.allowance else ">"
                text += (
                    f", expected gain {self.expected_gain:.3g} {cmp} allowance {self.allowance:.3g}"
                )
            if self.same_step is not None:
                text += self._same_step_text(self.same_step)
            return f"{text}; {forecast}" if forecast else text
        sentence = _SENTENCES.get(self.reason, self.reason.replace("_", " "))
        return f"{head}: {sentence}" + (f"; {forecast}" if forecast else "")

    def _same_step_text(self, median: float) -> str:
        """The same-step comparison's part of :meth:`explain` (``median``: :attr:`same_step`)."""
        where = f"the median of completed runs at this step ({median:.4g})"
        if self.decision == "stop":
            if self.behind is False:
                return f", below {CONFIDENT_STOP_PROBABILITY:.0%} although ahead of {where}"
            return f", behind {where}"
        gain, allowance = self.expected_gain, self.allowance
        if gain is not None and allowance is not None and gain > allowance:
            return ""
        if self.behind:  # behind, but its forecast gives it too good a chance to stop it
            return ""
        return f", but it is not behind {where}, so it goes on"

    def _forecast_text(self) -> str:
        """The forecast behind the verdict, "forecast at step H: median M, 90% interval [a, b]"."""
        q = self.final_quantiles
        med, lo, hi = q.get(0.5), q.get(0.05), q.get(0.95)
        if med is None or self.horizon is None or not math.isfinite(med):
            return ""
        text = f"forecast at step {self.horizon:g}: median {med:.4g}"
        if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi):
            text += f", 90% interval [{lo:.4g}, {hi:.4g}]"
        return text


def _number(v: object, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise ValueError(f"{what} must be a number; got {v!r}")
    try:
        out = float(v)  # levels are stored as strings ("0.05"), values as numbers
    except (ValueError, OverflowError):
        raise ValueError(f"{what} must be a number; got {v!r}") from None
    return out


def _field(d: dict[str, Any], name: str, default: float | None = None) -> float | None:
    v = d.get(name)
    if v is None:
        return default
    if isinstance(v, str):
        raise ValueError(f"a verdict record's {name} must be a number; got {v!r}")
    return _number(v, f"a verdict record's {name}")


def _num(v: float | None) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None
