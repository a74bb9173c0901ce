"""``curvecast demo``: a real hyperparameter search, pruned by curvecast, on data that ships
with scikit-learn (no network).

Each trial trains scikit-learn's ``MLPClassifier`` epoch by epoch with ``partial_fit`` on the
bundled digits dataset (its training split augmented with one-pixel shifts) and reports the
validation accuracy after every epoch to Optuna; the
:class:`~curvecast.integrations.optuna.ForecastPruner` stops trials whose forecast says they
will not beat the best finished one. The study lives in SQLite by default, so the dashboard
(``curvecast dashboard --storage URL``) can show it while it runs and after.
"""

from __future__ import annotations

import datetime as _dt
import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from curvecast.exceptions import MissingDependencyError, install_hint, parameter_error

__all__ = ["DemoResult", "run_search_demo"]

EPOCHS = 30


def _require() -> tuple[Any, Any]:
    try:
        import optuna
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            f"curvecast demo needs {exc.name}: {install_hint('demo')}"
        ) from exc
    from curvecast.integrations.optuna import ForecastPruner

    return optuna, ForecastPruner


def _data(seed: int) -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
    Xtr, ytr = _shifted(Xtr, ytr)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xva), ytr, yva


def _shifted(X: Any, y: Any) -> tuple[Any, Any]:
    """The training images plus copies shifted by one pixel up, down, left and right (the
    classic augmentation of this dataset): five times the data, so that an epoch costs what a
    small real one does and not less than the forecast that judges it."""
    imgs = X.reshape(-1, 8, 8)
    out = [imgs]
    for axis, shift in ((1, 1), (1, -1), (2, 1), (2, -1)):
        moved = np.roll(imgs, shift, axis=axis)
        edge = 0 if shift == 1 else -1
        if axis == 1:
            moved[:, edge, :] = 0.0
        else:
            moved[:, :, edge] = 0.0
        out.append(moved)
    return np.concatenate(out).reshape(-1, 64), np.tile(y, 5)


@dataclass
class DemoResult:
    """What the search did, for the summary and the report."""

    study_name: str
    storage: str
    n_trials: int
    n_complete: int
    n_pruned: int
    best_value: float
    best_params: dict[str, Any]
    epochs_used: int
    epochs_full: int
    seconds: float
    compare: dict[str, Any] | None = None
    report: Path | None = None
    pruned_reasons: list[tuple[int, str]] = field(default_factory=list)

    @property
    def saved(self) -> float:
        return 1.0 - self.epochs_used / max(self.epochs_full, 1)


class _Progress:
    """One status line on stderr: trials done, pruned, best so far, compute saved."""

    def __init__(self, total: int, stream: IO[str]) -> None:
        self.total, self.stream = total, stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.started = time.perf_counter()

    def __call__(self, study: Any, _trial: Any) -> None:
        import optuna

        trials = study.get_trials(deepcopy=False)
        done = [t for t in trials if t.state.is_finished()]
        pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in done)
        used = sum(len(t.intermediate_values) for t in done)
        saved = 1 - used / max(EPOCHS * len(done), 1)
        complete = [t.value for t in done if t.state == optuna.trial.TrialState.COMPLETE]
        best = f"{max(complete):.4f}" if complete else "-"
        width = 24
        filled = int(width * len(done) / max(self.total, 1))
        bar = "#" * filled + "." * (width - filled)
        line = (
            f"[{bar}] {len(done)}/{self.total} trials | pruned {pruned} | best {best} | "
            f"compute saved {saved:.0%} | {time.perf_counter() - self.started:.0f}s"
        )
        if self.tty:
            self.stream.write("\r" + line)
            if len(done) >= self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _classifier(trial: Any, seed: int) -> Any:
    """The search space: an MLP with one hidden layer, its width, learning rate, L2 penalty and
    batch size drawn by ``trial`` (also used by ``curvecast compare --demo``)."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=(trial.suggest_int("hidden_units", 8, 256, log=True),),
        learning_rate_init=trial.suggest_float("learning_rate_init", 1e-5, 0.3, log=True),
        alpha=trial.suggest_float("alpha", 1e-6, 1.0, log=True),
        batch_size=trial.suggest_categorical("batch_size", [32, 64, 128, 256]),
        random_state=seed + trial.number,
    )


def _objective(data: tuple[Any, Any, Any, Any], seed: int, prune: bool) -> Any:
    import optuna
    from sklearn.exceptions import ConvergenceWarning

    Xtr, Xva, ytr, yva = data
    classes = np.unique(ytr)

    def objective(trial: optuna.Trial) -> float:
        import warnings

        clf = _classifier(trial, seed)
        acc = 0.0
        for epoch in range(1, EPOCHS + 1):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.partial_fit(Xtr, ytr, classes=classes)
            acc = float(clf.score(Xva, yva))
            trial.report(acc, epoch)
            if prune and trial.should_prune():
                raise optuna.TrialPruned()
        return acc

    return objective


def run_search_demo(
    *,
    trials: int = 40,
    seed: int = 0,
    storage: str | None = None,
    out: str | Path = "curvecast-demo",
    compare: bool = False,
    method: str = "auto",
    stream: IO[str] | None = None,
) -> DemoResult:
    """Run the demo search and write its report; see the module docstring.

    Args:
        trials: number of trials (>= 2).
        seed: seeds the sampler, the data split and the networks.
        storage: an Optuna storage URL; None: ``sqlite:///<out>/demo.db``.
        out: folder for the database (by default) and the report.
        compare: also run every sampled configuration to the end without pruning, to show
            whether the best one was kept and what the pruning saved.
        method: the forecasting method of the pruner.
        stream: where the progress and summary go (default stderr / stdout).

    Raises:
        InvalidParameterError: ``trials`` < 2. MissingDependencyError: Optuna or scikit-learn
        is missing.
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 2:
        raise parameter_error("trials", "curvecast demo", "an int >= 2", trials)
    optuna, ForecastPruner = _require()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    url = storage or f"sqlite:///{(out_dir / 'demo.db').resolve()}"
    name = "digits-mlp-" + _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")
    data = _data(seed)
    # with a heartbeat, as a search shared by several workers should have one (a killed
    # worker's trial is then failed, not left RUNNING): the demo shows the setup to copy, and
    # Optuna's note that the argument is experimental is not the user's concern here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        rdb = optuna.storages.RDBStorage(url, heartbeat_interval=60)
    study = optuna.create_study(
        study_name=name, storage=rdb, direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=ForecastPruner(bounds=(0, 1), max_resource=EPOCHS, method=method),
    )  # fmt: skip
    study.set_user_attr("curvecast_demo", {"epochs": EPOCHS, "dataset": "sklearn digits"})
    progress = _Progress(trials, stream if stream is not None else sys.stderr)
    started = time.perf_counter()
    study.optimize(_objective(data, seed, prune=True), n_trials=trials, callbacks=[progress])
    seconds = time.perf_counter() - started
    done = study.get_trials(deepcopy=False)
    pruned = [t for t in done if t.state == optuna.trial.TrialState.PRUNED]
    from curvecast.integrations.optuna import final_forecast

    reasons = []
    for t in pruned:
        v = final_forecast(t)
        reasons.append((t.number, v.explain() if v is not None else "pruned"))
    result = DemoResult(
        study_name=name, storage=url, n_trials=len(done),
        n_complete=sum(t.state == optuna.trial.TrialState.COMPLETE for t in done),
        n_pruned=len(pruned), best_value=float(study.best_value), best_params=study.best_params,
        epochs_used=sum(len(t.intermediate_values) for t in done),
        epochs_full=EPOCHS * len(done), seconds=seconds, pruned_reasons=reasons,
    )  # fmt: skip
    if compare:
        result.compare = _compare(study, data, seed, result, stream)
    result.report = _write_report(study, result, out_dir)
    return result


def _compare(
    study: Any, data: tuple[Any, Any, Any, Any], seed: int, result: DemoResult,
    stream: IO[str] | None,
) -> dict[str, Any]:  # fmt: skip
    """Run the same configurations without pruning; was the best kept, and at what cost?"""
    import optuna

    # the same storage as the pruned search, so that both pay the same database costs
    full = optuna.create_study(
        study_name=result.study_name + "-no-pruning", storage=result.storage,
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
    )  # fmt: skip
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        full.enqueue_trial(t.params)
    started = time.perf_counter()
    progress = _Progress(result.n_trials, stream if stream is not None else sys.stderr)
    full.optimize(
        _objective(data, seed, prune=False), n_trials=result.n_trials, callbacks=[progress]
    )
    seconds = time.perf_counter() - started
    best = full.best_trial
    return {
        "best_value": float(best.value) if best.value is not None else math.nan,
        "best_trial": best.number,
        "best_kept": best.number in {
            t.number for t in study.get_trials(deepcopy=False)
            if t.state == optuna.trial.TrialState.COMPLETE
        },
        "regret": float(best.value) - result.best_value if best.value is not None else math.nan,
        "seconds": seconds,
        "speedup_time": seconds / max(result.seconds, 1e-9),
    }  # fmt: skip


def _pruned_rows(study: Any) -> list[dict[str, Any]]:
    """Each pruned trial for the report: its parameters, where it stopped, and the forecast it
    was stopped on (P of beating the incumbent, the median and 90% interval of its final value).
    A trial without a readable verdict keeps its parameters and says so."""
    import optuna

    from curvecast.integrations.optuna import final_forecast

    rows = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        if t.state != optuna.trial.TrialState.PRUNED:
            continue
        try:
            v = final_forecast(t)
        except Exception:  # a malformed verdict record: the row says so, the report goes on
            v = None
        steps = sorted(t.intermediate_values)
        q = v.final_quantiles if v is not None else {}
        rows.append(
            {
                "number": t.number,
                "params": dict(t.params),
                "step": steps[-1] if steps else None,
                "value": t.intermediate_values[steps[-1]] if steps else None,
                "prob": v.prob_better if v is not None else None,
                "median": q.get(0.5),
                "low": q.get(0.05),
                "high": q.get(0.95),
                "horizon": v.horizon if v is not None else None,
                "why": v.explain() if v is not None else "pruned (no curvecast verdict recorded)",
            }
        )
    return rows


def _num(v: Any, spec: str = ".4g") -> str:
    return "–" if v is None or not math.isfinite(float(v)) else format(float(v), spec)


def _write_report(study: Any, result: DemoResult, out_dir: Path) -> Path:
    """An HTML page with the curves plot (with the forecast band each pruned trial was stopped
    on) and, per pruned trial, its parameters, the forecast and the reason."""
    import base64
    import html
    import io

    img = ""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from curvecast.plot import plot_study

        fig, ax = plt.subplots(figsize=(9.0, 5.0))
        plot_study(study, ax=ax, show_forecasts=True, xlabel="epoch", ylabel="validation accuracy")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        fig.savefig(out_dir / "curves.png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        img = (
            '<img alt="learning curves of every trial, with the forecast each pruned trial was '
            'stopped on" src="data:image/png;base64,'
            + base64.b64encode(buf.getvalue()).decode()
            + '">'
            "<p class=note>Red bands: the forecast each pruned trial was stopped on, from its "
            "last value to the 50% (darker) and 90% intervals of its final value.</p>"
        )
    except ImportError:  # matplotlib is optional: the report keeps its tables
        img = f"<p>(install matplotlib for the plot: {html.escape(install_hint('plot'))})</p>"
    pruned = _pruned_rows(study)
    rows = "\n".join(
        "<tr>"
        f"<td>{r['number']}</td>"
        f"<td>{_num(r['step'], 'g')}</td>"
        f"<td>{_num(r['value'])}</td>"
        f"<td>{_num(r['prob'], '.3f')}</td>"
        f"<td>{_num(r['median'])} [{_num(r['low'])}, {_num(r['high'])}]</td>"
        f"<td class=params>{html.escape(_params_text(r['params']))}</td>"
        f"<td>{html.escape(_in_epochs(r['why']))}</td>"
        "</tr>"
        for r in pruned
    )
    cmp = ""
    if result.compare:
        c = result.compare
        cmp = (
            f"<h2>Against no pruning</h2><p>The same {result.n_trials} configurations run to the "
            f"end: best {c['best_value']:.4f} (trial {c['best_trial']}); best kept: "
            f"<b>{'yes' if c['best_kept'] else 'no'}</b>; regret {c['regret']:.4f}; "
            f"wall time {c['seconds']:.0f}s without pruning against {result.seconds:.0f}s with "
            f"({c['speedup_time']:.1f}x).</p>"
        )
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>curvecast demo: {html.escape(result.study_name)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
img{{max-width:100%}} td{{padding:3px 8px;vertical-align:top;border-bottom:1px solid #eee}}
th{{text-align:left;padding:3px 8px;color:#555}} table{{border-collapse:collapse;font-size:14px}}
td.params{{color:#555;font-size:13px}} .note{{color:#555;font-size:13px}}</style>
</head><body>
<h1>curvecast demo: {html.escape(result.study_name)}</h1>
<p>{result.n_trials} trials of an MLP on scikit-learn's digits, {EPOCHS} epochs each:
{result.n_complete} completed, {result.n_pruned} pruned by curvecast's ForecastPruner.
Best validation accuracy {result.best_value:.4f} with {html.escape(str(result.best_params))}.
Epochs trained {result.epochs_used} of {result.epochs_full}: compute saved {result.saved:.0%}.</p>
{cmp}
{img}
<h2>Why each pruned trial was stopped</h2>
<p class=note>P: the forecast probability, when it was stopped, that its final value would beat
the incumbent. Forecast: the median and 90% interval of its final value at the last epoch.</p>
<table><tr><th>trial</th><th>stopped at epoch</th><th>accuracy then</th><th>P(beat incumbent)</th>
<th>forecast final [90%]</th><th>parameters</th><th>reason</th></tr>
{rows}
</table>
<p>Open the live view of this study: <code>curvecast dashboard --storage
{html.escape(result.storage)}</code></p>
</body></html>
"""
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def _in_epochs(text: str) -> str:
    """A verdict's sentence in the report's unit: this search's steps are its epochs, and one
    table says "epoch" throughout."""
    return text.replace("at step ", "at epoch ").replace(" step ", " epoch ")


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )
