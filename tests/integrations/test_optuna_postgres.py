"""ForecastPruner on a real PostgreSQL server, several worker processes, one killed mid-trial.

Needs PostgreSQL's server binaries (Debian: apt-get install postgresql) and psycopg2; .ci/run
installs both and sets CURVECAST_REQUIRE_POSTGRES=1 so that a missing server fails CI instead of
skipping.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ._postgres import find_pg_bin, postgres_server

optuna = pytest.importorskip("optuna")
WORKER = Path(__file__).with_name("_optuna_worker.py")


def _require() -> Path:
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
    return bin_dir


def _spawn(url: str, study: str, n: int, mode: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, study, str(n), mode], cwd=cwd, stderr=subprocess.PIPE
    )


@pytest.mark.slow
def test_two_workers_and_a_killed_one_lose_nothing(tmp_path: Path) -> None:
    bin_dir = _require()
    with postgres_server(bin_dir) as url:
        storage = optuna.storages.RDBStorage(url, heartbeat_interval=1, grace_period=3)
        optuna.create_study(study_name="s", storage=storage, direction="maximize")
        victim = _spawn(url, "s", 1, "victim", tmp_path)
        marker = tmp_path / "s.victim"
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), victim.stderr.read().decode() if victim.stderr else ""
        workers = [_spawn(url, "s", 8, "normal", tmp_path) for _ in range(2)]
        time.sleep(1.0)
        victim.send_signal(signal.SIGKILL)  # dies mid-trial, holding a RUNNING trial
        victim.wait(timeout=30)
        for w in workers:
            _, err = w.communicate(timeout=300)
            assert w.returncode == 0, err.decode()
        # A later worker starts after the grace period: Optuna's heartbeat fails the stale trial.
        time.sleep(4)
        late = _spawn(url, "s", 2, "normal", tmp_path)
        _, err = late.communicate(timeout=300)
        assert late.returncode == 0, err.decode()

        study = optuna.load_study(study_name="s", storage=storage)
        trials = study.get_trials(deepcopy=False)
        states = [t.state for t in trials]
        killed_number = int(marker.read_text().split()[1])
        killed = next(t for t in trials if t.number == killed_number)
        assert killed.state == optuna.trial.TrialState.FAIL
        assert len(killed.intermediate_values) == 10  # its reports up to the kill survive
        finished = [
            s
            for s in states
            if s in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        ]
        assert len(finished) == 18  # 2 workers x 8 + 2 later: no other trial lost
        from curvecast.integrations.optuna import final_forecast, verdicts

        for t in trials:
            if t.state == optuna.trial.TrialState.COMPLETE:
                assert t.value is not None and len(t.intermediate_values) == 20
                assert verdicts(t), "every completed trial carries its decisions"
            if t.state == optuna.trial.TrialState.PRUNED:
                v = final_forecast(t)
                assert v is not None and v.decision == "stop"
        assert any(s == optuna.trial.TrialState.PRUNED for s in states)
