"""The dashboard over a real PostgreSQL server: the same endpoints as over SQLite.

Needs PostgreSQL's server binaries and psycopg2, like tests/integrations/test_optuna_postgres.py;
skips without them unless CURVECAST_REQUIRE_POSTGRES=1 (CI sets it).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip(
    "optuna", reason="the dashboard needs Optuna: pip install 'curvecast[dashboard]'"
)
try:
    from starlette.testclient import TestClient
except (ImportError, RuntimeError):  # RuntimeError: Starlette without httpx2 (or httpx)
    pytest.skip(
        "needs Starlette and httpx2: pip install 'curvecast[dashboard]' httpx2",
        allow_module_level=True,
    )

from curvecast.dashboard import StorageError, create_app, open_storage

from ._study import XSS_NAME, Written, write_search


def _pg_helpers() -> ModuleType:
    """tests/integrations/_postgres.py, loaded by path (the test folders are not one package)."""
    path = Path(__file__).resolve().parents[1] / "integrations" / "_postgres.py"
    spec = importlib.util.spec_from_file_location("_curvecast_pg_helpers", path)
    if spec is None or spec.loader is None:  # pragma: no cover - the file ships with the tests
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pg_written() -> Iterator[Written]:
    helpers = _pg_helpers()
    bin_dir = helpers.find_pg_bin()
    missing = [] if bin_dir else ["PostgreSQL server (apt-get install postgresql)"]
    if importlib.util.find_spec("psycopg2") is None:
        missing.append("psycopg2 (pip install 'curvecast[postgres]')")
    if missing:
        why = "needs " + " and ".join(missing)
        if os.environ.get("CURVECAST_REQUIRE_POSTGRES"):
            pytest.fail(why)
        pytest.skip(why)
    with helpers.postgres_server(bin_dir) as url:
        yield write_search(url)


def test_dashboard_reads_a_postgresql_search(pg_written: Written) -> None:
    client = TestClient(create_app(open_storage(pg_written.url), method="last_value"))
    studies = {s["name"]: s for s in client.get("/api/studies").json()["studies"]}
    assert set(studies) == {pg_written.study, XSS_NAME}
    view = client.get(f"/api/studies/{studies[pg_written.study]['id']}").json()
    states = [t["state"] for t in view["trials"]]
    assert len(states) == pg_written.n_trials
    assert states.count("pruned") == pg_written.n_pruned and states.count("running") == 1
    pruned = next(t for t in view["trials"] if t["state"] == "pruned")
    assert pruned["why"].startswith("stopped at step") and pruned["band"]["source"] == "verdict"


def test_unreachable_postgresql_is_one_line(pg_written: Written) -> None:
    # the server is up, but this database does not exist; the password must not leak
    url = pg_written.url.replace("postgres@", "postgres:hunter2@").rsplit("/", 1)[0] + "/nodb"
    with pytest.raises(StorageError, match="cannot open storage") as info:
        open_storage(url)
    assert "\n" not in str(info.value) and "hunter2" not in str(info.value)
