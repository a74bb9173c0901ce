"""A synthetic Optuna study shaped like a real pruned search, for load tests of the dashboard.

Real searches are slow to run; the dashboard only reads what they leave in the storage: trials
with intermediate values, parameters, and curvecast's verdict records. This writes exactly that,
trial by trial through Optuna's storage API (so the rows are what Optuna itself would write),
without training or forecasting anything.

>>> from curvecast.dashboard._synthetic import write_synthetic_study
>>> write_synthetic_study("sqlite:///load.db", n_trials=1000, n_steps=50, rng=0)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["write_synthetic_study"]

#: Steps at which the synthetic pruner "checks" (geometric, as ForecastRule's check_growth).
_CHECK_GROWTH = 1.25


#: Quantile levels of the recorded forecast and their standard normal scores.
_Z = ((0.05, -1.64), (0.25, -0.67), (0.5, 0.0), (0.75, 0.67), (0.95, 1.64))


def _check_steps(n_steps: int, first: int = 3) -> list[int]:
    out: list[int] = []
    s = float(first)
    while s < n_steps:
        if not out or int(s) != out[-1]:
            out.append(int(s))
        s *= _CHECK_GROWTH
    return out


def write_synthetic_study(
    url: str,
    *,
    n_trials: int = 1000,
    n_steps: int = 50,
    n_running: int = 4,
    n_broken: int = 3,
    shadow: bool = False,
    name: str = "synthetic search",
    rng: int | np.random.Generator = 0,
) -> int:
    """Write one maximising study of saturating accuracy curves to the storage at ``url``.

    About half the trials are pruned (many at the same step, as a real pruner does after its
    warm-up), ``n_running`` are left running, ``n_broken`` collapse to values far below the
    rest (the "broken trials" that squash a chart), the rest complete. Every trial carries
    verdict records under ``curvecast:step:<step>`` at geometric check steps. With ``shadow``,
    the pruner is a shadow one: would-be stops are recorded with ``"shadow": true`` and the
    trial runs on to completion.

    Args:
        url: an Optuna storage URL (the study is created; the name must be free).
        n_trials: number of trials (>= 1).
        n_steps: reports per finished trial (>= 4).
        n_running, n_broken: how many trials are left running / report broken values.
        shadow: record would-be stops instead of stopping.
        name: the study name.
        rng: a seed or a numpy Generator.

    Returns:
        The study id.
    """
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.trial import TrialState, create_trial

    from curvecast.pruning import Verdict

    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(url)
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize")
    study.set_user_attr("source", "curvecast.dashboard._synthetic")
    storage.set_study_system_attr(
        study._study_id,
        "curvecast:pruner",
        {"threshold": 0.05, "method": "pfn", "bounds": [0.0, 1.0], "shadow": shadow},
    )
    horizon = float(n_steps - 1)
    checks = _check_steps(n_steps)
    dists: dict[str, Any] = {
        "lr": FloatDistribution(1e-5, 0.3, log=True),
        "optimizer": CategoricalDistribution(["adam", "sgd", "rmsprop"]),
    }
    incumbent = 0.0
    running_from = n_trials - n_running
    broken = set(gen.choice(max(1, running_from), size=min(n_broken, running_from), replace=False))
    for number in range(n_trials):
        ceiling = float(gen.uniform(0.35, 0.97))
        rate = float(gen.uniform(3.0, 12.0))
        noise = 0.004
        values = [
            ceiling * (1.0 - math.exp(-(s + 1) / rate)) + float(gen.normal(0, noise))
            for s in range(n_steps)
        ]
        if number in broken:
            values = [v if s < 5 else -50.0 * (s - 4) for s, v in enumerate(values)]
        is_running = number >= running_from
        stop_at: int | None = None
        verdicts: dict[str, Any] = {}
        for s in checks:
            final = ceiling * (1.0 - math.exp(-n_steps / rate))
            spread = 0.25 * (1.0 - s / n_steps) + 0.01
            p = 0.5 if incumbent == 0 else float(1 / (1 + math.exp(-(final - incumbent) / spread)))
            stop = incumbent > 0 and p < 0.05 and stop_at is None
            v = Verdict(
                decision="stop" if stop else "continue",
                reason="hopeless" if stop else "promising" if incumbent else "no_incumbent",
                step=float(s),
                horizon=horizon,
                incumbent=incumbent or None,
                prob_better=p if incumbent else None,
                final_quantiles={q: final + spread * z for q, z in _Z},
                method="pfn",
            ).to_dict()
            if shadow:  # as ForecastPruner(shadow=True) records: every verdict, stops as "stop"
                v["shadow"] = True
            verdicts[f"curvecast:step:{s:010d}"] = v
            if stop:
                stop_at = s
                if not shadow:
                    break
        last = n_steps - 1
        if stop_at is not None and not shadow:
            last = stop_at
        if is_running:
            last = min(last, int(gen.integers(4, n_steps - 5)))
            verdicts = {k: v for k, v in verdicts.items() if v["step"] <= last}
        reported = {s: values[s] for s in range(last + 1)}
        state = (
            TrialState.RUNNING
            if is_running
            else TrialState.PRUNED
            if stop_at is not None and not shadow
            else TrialState.COMPLETE
        )
        params = {
            "lr": float(10 ** gen.uniform(-5, math.log10(0.3))),
            "optimizer": str(gen.choice(["adam", "sgd", "rmsprop"])),
        }
        frozen = create_trial(
            state=state,
            value=values[last] if state == TrialState.COMPLETE else None,
            params=params,
            distributions=dists,
            intermediate_values=reported,
            system_attrs=verdicts,
        )
        study.add_trial(frozen)
        if state == TrialState.COMPLETE and number not in broken:
            incumbent = max(incumbent, values[last])
    return int(study._study_id)
