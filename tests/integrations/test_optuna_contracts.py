"""The contracts any Optuna pruner must keep, run against ForecastPruner.

Written after the parts of Optuna's own test suite that hold for every pruner (tests/study_tests,
tests/pruners_tests, tests/storages_tests, tests/visualization_tests): a study that uses the pruner
pickles and is told from another process; it works on every storage (in-memory, SQLite, the cached
SQLite storage, JournalStorage on a file, gRPC, Redis and PostgreSQL where installed), with
``n_jobs``, ``copy_study``, ``enqueue_trial``, inside ``PatientPruner``, and its pruned studies can
be drawn. Then the defects Optuna's suites found (issue 26): a shared pruner mixing studies, steps
of 1e10 and more out of order, a killed worker's forecast kept as the incumbent. These run on the
oldest and the newest Optuna that pyproject allows (.ci/optuna-oldest runs this file on 4.0).
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pytest

optuna = pytest.importorskip("optuna", reason='pip install ".[optuna]"')

from optuna.trial import TrialState  # noqa: E402

from curvecast.integrations.optuna import (  # noqa: E402
    ATTR_PREFIX,
    STALE_REPORTS,
    STUDY_ATTR,
    ForecastPruner,
    final_forecast,
    record_keys,
    verdicts,
)
from curvecast.pruning import Verdict  # noqa: E402

from ._postgres import find_pg_bin, postgres_server  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)
STEPS = 12


def _pruner(**kwargs: Any) -> ForecastPruner:
    """A fast pruner (the contracts are about the adapter, not the forecaster)."""
    return ForecastPruner(**{"method": "last_value", "bounds": (0, 1), **kwargs})


def _objective(trial: optuna.Trial) -> float:
    """A search in which a far-off x learns slowly and plateaus low: some trials get pruned."""
    x = trial.suggest_float("x", 0.0, 1.0)
    ceiling = 0.95 - 0.8 * abs(x - 0.7)
    acc = 0.0
    for step in range(1, STEPS + 1):
        acc = ceiling * (1 - math.exp(-0.6 * step))
        trial.report(acc, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return acc


def _check_study(study: optuna.Study) -> None:
    """What every study run with ForecastPruner must show: each finished trial carries readable
    verdicts in step order; each pruned one the verdict that stopped it, at its last step."""
    for t in study.get_trials(deepcopy=False):
        vs = verdicts(t)
        assert [v.step for v in vs] == sorted(v.step for v in vs)
        if t.state == TrialState.PRUNED:
            v = final_forecast(t)
            assert v is not None and v.decision == "stop" and v.step == t.last_step
        elif t.state == TrialState.COMPLETE:
            assert vs and final_forecast(t) is None


# -- storages ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _grpc(backend: Any) -> Iterator[Any]:
    if not hasattr(optuna.storages, "GrpcStorageProxy"):
        pytest.skip(f"optuna {optuna.__version__} has no gRPC storage proxy")
    pytest.importorskip("grpc", reason="pip install grpcio")
    try:
        from optuna.storages._grpc.server import make_server
    except ImportError as exc:
        pytest.skip(f"optuna's gRPC server cannot be imported: {exc}")
    port = _free_port()
    server = make_server(backend, "localhost", port)
    thread = threading.Thread(target=server.start)
    thread.start()
    proxy = optuna.storages.GrpcStorageProxy(host="localhost", port=port)
    try:
        proxy.wait_server_ready(timeout=60)
        yield proxy
    finally:
        proxy.close()
        server.stop(5).wait()
        thread.join()


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    bin_dir = find_pg_bin()
    missing = [] if bin_dir else ["PostgreSQL server (apt-get install postgresql)"]
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        missing.append("psycopg2 (pip install psycopg2-binary)")
    if missing:
        if os.environ.get("CURVECAST_REQUIRE_POSTGRES"):
            pytest.fail("missing: " + ", ".join(missing))
        pytest.skip("missing: " + ", ".join(missing))
    assert bin_dir is not None
    with postgres_server(bin_dir) as url:
        yield url


STORAGES = ["inmemory", "sqlite", "cached_sqlite", "journal", "journal_redis", "grpc", "postgres"]


@contextmanager
def _storage(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend

    if kind == "inmemory":
        yield optuna.storages.InMemoryStorage()
    elif kind in ("sqlite", "cached_sqlite"):
        rdb = RDBStorage(f"sqlite:///{tmp_path / 'study.db'}")
        yield optuna.storages._CachedStorage(rdb) if kind == "cached_sqlite" else rdb
        rdb.engine.dispose()
    elif kind == "journal":
        yield JournalStorage(JournalFileBackend(str(tmp_path / "journal.log")))
    elif kind == "journal_redis":
        fakeredis = pytest.importorskip("fakeredis", reason="pip install fakeredis")
        from optuna.storages.journal import JournalRedisBackend

        backend = JournalRedisBackend("redis://localhost")
        backend._redis = fakeredis.FakeStrictRedis()
        yield JournalStorage(backend)
    elif kind == "grpc":
        rdb = RDBStorage(f"sqlite:///{tmp_path / 'grpc.db'}")
        with _grpc(rdb) as proxy:
            yield proxy
        rdb.engine.dispose()
    elif kind == "postgres":
        url = request.getfixturevalue("postgres_url")
        rdb = RDBStorage(url)
        yield rdb
        rdb.engine.dispose()
    else:  # pragma: no cover
        raise AssertionError(kind)


@pytest.mark.parametrize("kind", STORAGES)
def test_every_storage_prunes_records_and_reloads(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with _storage(kind, tmp_path, request) as storage:
        study = optuna.create_study(
            storage=storage,
            direction="maximize",
            study_name=f"contract-{kind}",
            sampler=optuna.samplers.RandomSampler(seed=3),
            pruner=_pruner(),
        )
        study.optimize(_objective, n_trials=10)
        states = [t.state for t in study.trials]
        assert TrialState.PRUNED in states and TrialState.COMPLETE in states
        _check_study(study)
        assert storage.get_study_system_attrs(study._study_id)[STUDY_ATTR]["method"] == (
            "last_value"
        )
        # a second handle on the same storage (another worker) reads the same records
        again = optuna.load_study(study_name=f"contract-{kind}", storage=storage)
        for a, b in zip(study.trials, again.trials, strict=True):
            assert verdicts(a) == verdicts(b)


# -- pickling, and ask-and-tell from another process ---------------------------------------------


def test_pruner_pickles_and_the_copy_prunes_as_the_original() -> None:
    pruner = _pruner(max_resource=STEPS)
    copy = pickle.loads(pickle.dumps(pruner))
    assert copy.settings() == pruner.settings()
    runs = []
    for p in (pruner, copy):
        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.RandomSampler(seed=5), pruner=p
        )
        study.optimize(_objective, n_trials=8)
        runs.append([(t.state, [v.to_dict() for v in verdicts(t)]) for t in study.trials])
    assert runs[0] == runs[1]


def _epochs(trial: optuna.trial.FrozenTrial) -> int:
    return STEPS


def _cost(step: float) -> float:
    return float(step)


@pytest.mark.parametrize(
    "settings",
    [
        {"schedule": {"name": "cosine", "peak_lr": 0.1, "total": STEPS}},
        {"max_resource": _epochs, "step_cost": _cost, "max_overhead": 0.5},
        {"threshold": 0.05, "shadow": True, "incumbent": "completed", "step_cost": "step"},
    ],
)
def test_every_kind_of_setting_pickles(settings: dict[str, Any]) -> None:
    pruner = _pruner(**settings)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    study.optimize(_objective, n_trials=3)  # its caches filled, its lock held at times
    copy = pickle.loads(pickle.dumps(pruner))
    assert copy.settings() == pruner.settings()
    study.pruner = copy
    study.optimize(_objective, n_trials=2)
    assert len(study.trials) == 5
    for t in study.trials:  # shadow and max_overhead change what is recorded, not its order
        vs = verdicts(t)
        assert [v.step for v in vs] == sorted(v.step for v in vs)
        assert all(v.shadow == pruner.shadow for v in vs)


def test_study_with_the_pruner_pickles_and_goes_on_pruning() -> None:
    # Optuna's test_study_pickle, with ForecastPruner in place of the default pruner
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.RandomSampler(seed=7), pruner=_pruner()
    )
    study.optimize(_objective, n_trials=6)
    again = pickle.loads(pickle.dumps(study))
    assert isinstance(again.pruner, ForecastPruner)
    assert len(again.trials) == 6
    again.optimize(_objective, n_trials=6, n_jobs=2)  # the lock is made anew: threads work
    assert len(again.trials) == 12
    assert any(t.state == TrialState.PRUNED for t in again.trials)
    _check_study(again)


def _report_and_tell(study: optuna.Study, trial: optuna.Trial, values: list[float]) -> bool:
    """In another process: report ``values`` for ``trial``, ask the pruner, tell."""
    pruned = False
    for step, v in enumerate(values, start=1):
        trial.report(v, step)
        if trial.should_prune():
            pruned = True
            break
    if pruned:
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, values[-1])
    return pruned


def test_ask_and_tell_from_another_process(tmp_path: Path) -> None:
    # Optuna's test_tell_from_another_process: the study (and so the pruner) is pickled into a
    # worker process, which reports, asks the pruner and tells. (same_step=False: a stop after
    # three completed trials, where the default waits for five at the step.)
    study = optuna.create_study(
        storage=f"sqlite:///{tmp_path / 'study.db'}",
        direction="maximize",
        pruner=_pruner(same_step=False),
    )

    def curve(ceiling: float) -> list[float]:
        return [ceiling * (1 - math.exp(-0.6 * s)) for s in range(1, STEPS + 1)]

    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        for ceiling in (0.9, 0.9, 0.9, 0.1):
            trial = study.ask()
            pool.submit(_report_and_tell, study, trial, curve(ceiling)).result()
    states = [t.state for t in study.trials]
    assert states[0] == TrialState.COMPLETE and states[-1] == TrialState.PRUNED
    _check_study(study)
    v = final_forecast(study.trials[-1])
    assert v is not None and v.incumbent == pytest.approx(curve(0.9)[-1])


# -- n_jobs, copy_study, enqueue_trial, PatientPruner, plots -------------------------------------


def test_n_jobs_threads_share_one_pruner() -> None:
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.RandomSampler(seed=11), pruner=_pruner()
    )
    study.optimize(_objective, n_trials=12, n_jobs=3)
    assert len(study.trials) == 12
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in study.trials)
    _check_study(study)


@pytest.mark.parametrize("to", ["inmemory", "journal"])
def test_copy_study_keeps_the_records_and_the_copy_goes_on(tmp_path: Path, to: str) -> None:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    src = f"sqlite:///{tmp_path / 'src.db'}"
    study = optuna.create_study(
        storage=src,
        study_name="src",
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=13),
        pruner=_pruner(),
    )
    study.optimize(_objective, n_trials=8)
    dest: Any = (
        optuna.storages.InMemoryStorage()
        if to == "inmemory"
        else JournalStorage(JournalFileBackend(str(tmp_path / "copy.log")))
    )
    optuna.copy_study(from_study_name="src", from_storage=src, to_storage=dest)
    copy = optuna.load_study(study_name="src", storage=dest, pruner=_pruner())
    for a, b in zip(study.trials, copy.trials, strict=True):
        assert verdicts(a) == verdicts(b) and a.state == b.state
    assert dest.get_study_system_attrs(copy._study_id)[STUDY_ATTR] == _pruner().settings()
    copy.optimize(_objective, n_trials=4)
    assert len(copy.trials) == 12
    _check_study(copy)


def test_enqueued_trials_are_judged_and_waiting_ones_ignored() -> None:
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=17),
        pruner=_pruner(same_step=False),  # a stop after three completed trials
    )
    for x in (0.7, 0.68, 0.72, 0.0):  # three good ones, then one far off
        study.enqueue_trial({"x": x})
    study.optimize(_objective, n_trials=4)
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    study.enqueue_trial({"x": 0.1})  # left WAITING while the trial above runs
    assert [t.params["x"] for t in study.trials[:4]] == [0.7, 0.68, 0.72, 0.0]
    assert study.trials[3].state == TrialState.PRUNED
    for step in range(1, 4):
        trial.report(0.5, step)
        trial.should_prune()
    assert study.trials[5].state == TrialState.WAITING
    assert verdicts(study.trials[5]) == []  # a waiting trial is never judged
    assert verdicts(study.trials[4])
    _check_study(study)


def test_patient_pruner_wraps_it() -> None:
    pruner = optuna.pruners.PatientPruner(_pruner(check_growth=1.0), patience=1)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.RandomSampler(seed=19), pruner=pruner
    )

    def plateau(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        ceiling = 0.95 - 0.8 * abs(x - 0.7)
        acc = 0.0
        for step in range(1, STEPS + 1):  # rises to step 4, then falls: patience runs out
            acc = ceiling * min(step, 4) / 4 - 0.01 * max(step - 4, 0)
            trial.report(acc, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return acc

    study.optimize(plateau, n_trials=10)
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert pruned
    for t in pruned:
        v = final_forecast(t)
        # ForecastPruner is asked only once patience ran out (after the plateau began)
        assert v is not None and v.step > 4
        assert all(v.step > 4 for v in verdicts(t))


@pytest.mark.parametrize("backend", ["matplotlib", "plotly"])
def test_a_pruned_study_can_be_drawn(backend: str) -> None:
    pytest.importorskip(backend)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.RandomSampler(seed=23), pruner=_pruner()
    )
    study.optimize(_objective, n_trials=8)
    assert any(t.state == TrialState.PRUNED for t in study.trials)
    if backend == "matplotlib":
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from optuna.visualization import matplotlib as mvis

        ax = mvis.plot_intermediate_values(study)
        assert len(ax.get_lines()) == len(study.trials)
        mvis.plot_optimization_history(study)
        plt.close("all")
    else:
        from optuna import visualization as pvis

        fig = pvis.plot_intermediate_values(study)
        assert len(fig.data) == len(study.trials)
        pvis.plot_optimization_history(study)


# -- issue 26: the defects the ecosystems' suites found ------------------------------------------


def test_one_pruner_shared_by_two_in_memory_studies_keeps_them_apart() -> None:
    pruner = _pruner(max_resource=STEPS, min_points=2, warmup_fraction=0.0)
    high = optuna.create_study(direction="maximize", pruner=pruner)
    low = optuna.create_study(direction="maximize", pruner=pruner)
    assert high._study_id == low._study_id == 0  # two in-memory studies: the same id

    def run(study: optuna.Study, ceiling: float, n: int) -> None:
        for _ in range(n):
            t = study.ask()
            for step in range(1, STEPS + 1):
                t.report(ceiling * step / STEPS, step)
                t.should_prune()
            study.tell(t, ceiling)

    run(high, 0.9, 3)
    run(low, 0.3, 3)  # the same number of completed trials, the same last trial number
    t = low.ask()
    for step in range(1, 4):
        t.report(0.1 * step / 3, step)
        t.should_prune()
    vs = verdicts(low.trials[-1])
    judged = [v for v in vs if v.incumbent is not None]
    assert judged and all(v.incumbent == pytest.approx(0.3) for v in judged)
    assert low._storage.get_study_system_attrs(low._study_id)[STUDY_ATTR] == pruner.settings()


def _write(storage: Any, trial_id: int, step: int, verdict: Verdict) -> None:
    storage.set_trial_system_attr(trial_id, f"{ATTR_PREFIX}{step:010d}", verdict.to_dict())


def test_steps_of_1e10_and_more_come_back_in_step_order() -> None:
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    steps = [4_000_000_000, 9_000_000_000, 20_000_000_000, 300_000_000_000]
    for step in steps:  # written as every version of curvecast writes them
        _write(study._storage, trial._trial_id, step, Verdict("continue", "warmup", float(step)))
    frozen = study.trials[0]
    assert [v.step for v in verdicts(frozen)] == [float(s) for s in steps]
    assert [int(k[len(ATTR_PREFIX) :]) for k in record_keys(frozen)] == steps
    # and from a real pruner reporting at such steps (tokens as the axis)
    study = optuna.create_study(
        direction="maximize", pruner=_pruner(min_points=1, check_growth=1.0)
    )
    trial = study.ask()
    for k, step in enumerate(steps, start=1):
        trial.report(0.1 * k, step)
        trial.should_prune()
    assert [v.step for v in verdicts(study.trials[0])] == [float(s) for s in steps]


def _promising(step: float, q25: float) -> Verdict:
    return Verdict(
        "continue",
        "promising",
        step,
        horizon=1e12,
        incumbent=0.1,
        prob_better=0.9,
        final_quantiles={0.05: q25 - 0.1, 0.25: q25, 0.5: q25 + 0.05, 0.95: q25 + 0.1},
    )


def test_a_running_trials_latest_forecast_is_its_largest_step() -> None:
    pruner = _pruner(max_resource=1e12, min_points=2, warmup_fraction=0.0, check_growth=1.0)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    other = study.ask()
    # its record at 2e10 (the latest) says 0.4; the older one at 9e9 said 0.8
    _write(study._storage, other._trial_id, 9_000_000_000, _promising(9e9, 0.8))
    _write(study._storage, other._trial_id, 20_000_000_000, _promising(2e10, 0.4))
    trial = study.ask()
    for k, step in enumerate((1_000_000_000, 2_000_000_000, 3_000_000_000), start=1):
        trial.report(0.1 * k, step)
        trial.should_prune()
    v = verdicts(study.trials[1])[-1]
    assert v.incumbent_source == f"running trial {other.number}"
    assert v.incumbent == pytest.approx(0.4)


def test_a_running_trial_that_stopped_reporting_stops_setting_the_bar() -> None:
    # A worker killed without heartbeat leaves its trial RUNNING with a good forecast.
    pruner = _pruner(max_resource=1000, min_points=2, warmup_fraction=0.0, check_growth=1.0)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    dead = study.ask()
    dead.report(0.5, 1)
    _write(study._storage, dead._trial_id, 1, _promising(1.0, 0.8))
    trial = study.ask()
    n = 2 * STALE_REPORTS * 2 + 5  # two running trials: stale after 2 x STALE_REPORTS reports
    for step in range(1, n + 1):
        trial.report(0.1 + 0.001 * step, step)
        trial.should_prune()
    vs = [v for v in verdicts(study.trials[1]) if v.reason != "warmup"]
    assert vs[0].incumbent_source == f"running trial {dead.number}"
    assert vs[0].incumbent == pytest.approx(0.8)
    # aged out: it has not reported since; nothing completed, so there is nothing to beat
    assert vs[-1].incumbent_source is None and vs[-1].incumbent is None
    # once it reports again, its forecast counts again
    dead.report(0.55, 2)
    _write(study._storage, dead._trial_id, 2, _promising(2.0, 0.8))
    trial.report(0.2, n + 1)
    trial.should_prune()
    v = verdicts(study.trials[1])[-1]
    assert v.incumbent_source == f"running trial {dead.number}"


def test_a_malformed_record_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    pruner = _pruner(max_resource=100, min_points=2, warmup_fraction=0.0, check_growth=1.0)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    other = study.ask()
    study._storage.set_trial_system_attr(other._trial_id, f"{ATTR_PREFIX}{1:010d}", {"x": 1})
    trial = study.ask()
    with caplog.at_level(logging.WARNING, logger="curvecast.integrations.optuna"):
        for step in range(1, 11):
            trial.report(0.1 * step, step)
            trial.should_prune()
    logged = [r for r in caplog.records if "not a curvecast verdict" in r.getMessage()]
    assert len(logged) == 1


def test_a_storage_without_heartbeat_is_warned_about_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def run(storage: Any) -> int:
        caplog.clear()
        study = optuna.create_study(direction="maximize", storage=storage, pruner=_pruner())
        with caplog.at_level(logging.WARNING, logger="curvecast.integrations.optuna"):
            study.optimize(_objective, n_trials=3)
        return sum("heartbeat" in r.getMessage() for r in caplog.records)

    from optuna.storages import RDBStorage

    assert run(RDBStorage(f"sqlite:///{tmp_path / 'a.db'}")) == 1
    beating = RDBStorage(f"sqlite:///{tmp_path / 'b.db'}", heartbeat_interval=60)
    assert run(beating) == 0
    assert run(None) == 0  # in memory: one process, nothing to warn about
