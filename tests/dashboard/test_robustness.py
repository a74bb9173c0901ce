"""The dashboard under bad records, shadow pruners, storage errors and many clients.

Each test here failed on the dashboard before its fix (issues 16 and 17): a study attribute of
10**400 or one malformed verdict turned the studies list into a 503; stops at the same step were
one chart point; every request read the whole study; a storage error said "raised during the
commit"; a client that had gone still had its study read; corrupted weights hid bands silently.
"""

from __future__ import annotations

import math
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from curvecast.dashboard import create_app, open_storage
from curvecast.dashboard._snapshot import SnapshotStore
from curvecast.dashboard._summary import ForecastCache, chart_payload, robust_range
from curvecast.dashboard._synthetic import write_synthetic_study

optuna = pytest.importorskip(
    "optuna", reason="the dashboard needs Optuna: pip install 'curvecast[dashboard]'"
)
try:
    from starlette.testclient import TestClient
except (ImportError, RuntimeError):  # RuntimeError: Starlette without httpx2 (or httpx)
    pytest.skip("needs Starlette and httpx2", allow_module_level=True)

from ._study import Written  # noqa: E402


def _client(url: str, **kw: Any) -> TestClient:
    app = create_app(open_storage(url), method="last_value", **kw)
    return TestClient(app, base_url="http://127.0.0.1:8080")


def _bad_study(tmp_path: Path) -> tuple[str, int]:
    """A small study: one user attribute of 10**400 and, on trial 1, three malformed verdict
    records (a text horizon, a 400-digit step, a list); trial 0 is clean."""
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    study = optuna.create_study(storage=url, study_name="bad records", direction="maximize")
    study.set_user_attr("huge", 10**400)
    storage = study._storage
    for number in range(2):
        t = study.ask()
        for step in range(5):
            t.report(0.1 * (step + 1), step)
        if number == 1:
            sid = t._trial_id
            good = {"decision": "continue", "reason": "warmup", "step": 1.0}
            storage.set_trial_system_attr(sid, "curvecast:step:0000000001", good)
            bad_horizon = {"decision": "continue", "reason": "warmup", "step": 2, "horizon": "x"}
            storage.set_trial_system_attr(sid, "curvecast:step:0000000002", bad_horizon)
            huge_step = {"decision": "stop", "reason": "hopeless", "step": 10**400}
            storage.set_trial_system_attr(sid, "curvecast:step:0000000003", huge_step)
            storage.set_trial_system_attr(sid, "curvecast:step:0000000004", [1, 2])
        study.tell(t, 0.5)
    return url, study._study_id


def test_bad_records_degrade_their_own_row_never_the_list(tmp_path: Path) -> None:
    url, sid = _bad_study(tmp_path)
    client = _client(url)
    r = client.get("/api/studies")
    assert r.status_code == 200, r.text
    (summary,) = r.json()["studies"]
    assert summary["user_attrs"]["huge"] == "an integer of 401 digits"
    assert any("'huge'" in n for n in summary["notes"])
    view = client.get(f"/api/studies/{sid}").json()
    clean, bad = view["trials"]
    assert clean["notes"] == []
    (note,) = bad["notes"]
    assert "3 verdict records (steps 2, 3, 4) could not be read" in note
    assert view["study"]["trials_with_notes"] == 1
    detail = client.get(f"/api/studies/{sid}/trials/1").json()["trial"]
    assert [v["step"] for v in detail["verdicts"]] == [1.0]  # the one readable record
    noted = client.get(f"/api/studies/{sid}?state=notes").json()
    assert [t["number"] for t in noted["trials"]] == [1]


def test_a_study_that_cannot_be_read_is_a_row_with_a_note(written: Written) -> None:
    storage = open_storage(written.url)

    class Flaky:
        def __getattr__(self, name: str) -> Any:
            return getattr(storage, name)

        def get_all_trials(self, study_id: int, deepcopy: bool = True) -> Any:
            if study_id == 1:
                raise RuntimeError("row 7 is corrupt")
            return storage.get_all_trials(study_id, deepcopy=deepcopy)

    app = create_app(Flaky(), method="last_value")  # type: ignore[arg-type]
    studies = TestClient(app, base_url="http://127.0.0.1").get("/api/studies").json()["studies"]
    assert len(studies) == 2
    broken = next(s for s in studies if s["id"] == 1)
    assert "row 7 is corrupt" in broken["notes"][0]
    assert next(s for s in studies if s["id"] != 1)["n_trials"] == 1


def test_storage_errors_name_their_real_cause(written: Written) -> None:
    import sqlalchemy.exc

    storage = open_storage(written.url)

    class Locked:
        def __getattr__(self, name: str) -> Any:
            return getattr(storage, name)

        def get_all_trials(self, study_id: int, deepcopy: bool = True) -> Any:
            try:
                raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("database is locked"))
            except sqlalchemy.exc.OperationalError as e:
                raise optuna.exceptions.StorageInternalError(
                    "An exception is raised during the commit."
                ) from e

    client = TestClient(create_app(Locked()), base_url="http://127.0.0.1")  # type: ignore[arg-type]
    r = client.get("/api/studies/1")
    assert r.status_code == 503
    assert "database is locked" in r.json()["error"]
    assert "during the commit" not in r.json()["error"]


def test_connection_pool_is_sized_to_the_server() -> None:
    from curvecast.dashboard._app import DEFAULT_CONCURRENCY, pool_size_for

    assert pool_size_for(DEFAULT_CONCURRENCY) > DEFAULT_CONCURRENCY  # + background refreshes


def test_open_storage_sizes_its_pool(written: Written) -> None:
    from curvecast.exceptions import InvalidParameterError

    storage: Any = open_storage(written.url, pool_size=6)
    assert storage.engine.pool.size() == 6
    with pytest.raises(InvalidParameterError, match="'pool_size'"):
        open_storage(written.url, pool_size=0)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_study_is_read_once_per_interval_and_only_when_it_changed(
    written: Written, tmp_path: Path
) -> None:
    from ._study import add_trial

    assert written.path is not None
    shutil.copyfile(written.path, tmp_path / "copy.db")  # the shared file stays as it is
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    clock = _Clock()
    store = SnapshotStore(open_storage(url), ForecastCache("last_value"), 2.0, clock)
    sid = 1
    first = store.study(sid)
    for _ in range(50):
        assert store.study(sid) is first
    assert store.reads == 1
    clock.now += 5  # older than the interval, but nothing changed: one cheap check, no read
    assert store.study(sid) is first and store.reads == 1
    add_trial(url, n_reports=1)
    assert store.study(sid) is first  # within the interval: not even checked
    clock.now += 5
    again = store.study(sid)
    assert again is not first and store.reads == 2
    assert again is not None and first is not None
    assert again.view.summary["n_trials"] == first.view.summary["n_trials"] + 1
    # finished trials never change: their facts are reused, only open and new trials re-read
    done = [i for i, f in enumerate(first.view.facts) if f.state in ("complete", "pruned")]
    assert done and all(again.view.facts[i] is first.view.facts[i] for i in done)
    same = first.view.context == again.view.context
    assert all((again.view.records[i] is first.view.records[i]) == same for i in done)
    running = next(i for i, f in enumerate(first.view.facts) if f.state == "running")
    assert again.view.facts[running] is not first.view.facts[running]
    assert [f.number for f in again.view.facts] == list(range(len(again.view.facts)))


def test_many_clients_share_one_read(written: Written) -> None:
    app = create_app(open_storage(written.url), method="last_value")
    client = TestClient(app, base_url="http://127.0.0.1")
    errors: list[str] = []

    def get() -> None:
        r = client.get("/api/studies/1")
        if r.status_code != 200:
            errors.append(r.text)

    threads = [threading.Thread(target=get) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert app.state.snapshots.reads == 1


def test_a_client_that_left_gets_no_read(written: Written) -> None:
    """With every reading thread busy, a client that disconnects while it waits has nothing
    read for it (before: its study was read anyway, for nobody)."""
    import anyio

    storage = open_storage(written.url)
    started, release = threading.Event(), threading.Event()
    read: list[int] = []

    class Slow:
        def __getattr__(self, name: str) -> Any:
            return getattr(storage, name)

        def get_all_trials(self, study_id: int, deepcopy: bool = True) -> Any:
            read.append(study_id)
            started.set()
            release.wait(10)
            return storage.get_all_trials(study_id, deepcopy=deepcopy)

    app = create_app(Slow(), method="last_value", concurrency=1)  # type: ignore[arg-type]

    async def request(path: str, leave: bool) -> int:
        status: list[int] = []
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            if leave:
                return {"type": "http.disconnect"}
            await anyio.sleep(60)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [(b"host", b"127.0.0.1")],
            "scheme": "http",
            "server": ("127.0.0.1", 80),
            "client": ("127.0.0.1", 5000),
            "http_version": "1.1",
            "root_path": "",
        }
        await app(scope, receive, send)
        return status[0] if status else 0

    async def main() -> tuple[int, int]:
        results: dict[str, int] = {}
        async with anyio.create_task_group() as tg:

            async def first() -> None:
                results["a"] = await request("/api/studies/1", leave=False)

            tg.start_soon(first)
            await anyio.to_thread.run_sync(started.wait, 10)
            results["b"] = await request("/api/studies/2", leave=True)
            release.set()
        return results["a"], results["b"]

    a, b = anyio.run(main)
    assert a == 200
    assert b == 499
    assert read == [1]  # study 2 was never read for the client that left


def test_every_stop_has_its_own_chart_point_even_at_the_same_step(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'many.db'}"
    sid = write_synthetic_study(url, n_trials=60, n_steps=20, n_running=2, rng=3)
    view = _client(url).get(f"/api/studies/{sid}?limit=500").json()
    pruned = [t for t in view["trials"] if t["state"] == "pruned"]
    stops = [c["stop"] for c in view["chart"]["curves"] if "stop" in c]
    assert len(stops) == len(pruned) > 5
    steps = [s[0] for s in stops]
    assert len(set(steps)) < len(steps)  # several stops share a step, each kept
    assert sorted(steps) == sorted(t["last_step"] for t in pruned)
    # the tooltip's P is against the incumbent of the decision, not today's
    by_n = {c["n"]: c for c in view["chart"]["curves"]}
    for t in pruned:
        assert by_n[t["number"]]["i"] == pytest.approx(t["stop"]["incumbent"], rel=1e-3)


def test_shadow_verdicts_show_would_have_pruned_trials(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shadow.db'}"
    sid = write_synthetic_study(url, n_trials=40, n_steps=20, n_running=2, shadow=True, rng=5)
    client = _client(url)
    view = client.get(f"/api/studies/{sid}?state=shadow&limit=500").json()
    rows = view["trials"]
    assert rows and all(t["shadow"] is not None for t in rows)
    assert view["study"]["states"].get("pruned", 0) == 0  # a shadow pruner prunes nothing
    for t in rows:
        assert t["stop"] is None  # a shadow record is never the trial's stop
        assert t["shadow"]["explain"].startswith("would have stopped at step")
        if t["state"] == "complete":
            assert t["shadow"]["outcome"] in ("right", "wrong")
            assert "would have been" in t["why"]
        else:
            assert t["shadow"]["outcome"] == "pending"
    s = view["study"]["shadow"]
    assert s["would_prune"] == view["page"]["total"] == len(rows)
    assert s["right"] + s["wrong"] + s["pending"] == s["would_prune"]
    marked = [c for c in view["chart"]["curves"] if "shadow" in c]
    assert len(marked) == len(rows)
    # absent field: ordinary verdicts (no "shadow" key) are untouched
    plain = f"sqlite:///{tmp_path / 'plain.db'}"
    pid = write_synthetic_study(plain, n_trials=20, n_steps=20, n_running=0, rng=5)
    assert _client(plain).get(f"/api/studies/{pid}").json()["study"]["shadow"] is None


def test_the_trials_table_is_paged_sorted_and_filtered(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pages.db'}"
    sid = write_synthetic_study(url, n_trials=30, n_steps=10, n_running=1, rng=1)
    client = _client(url)
    page = client.get(f"/api/studies/{sid}?offset=3&limit=4").json()
    assert [t["number"] for t in page["trials"]] == [3, 4, 5, 6]
    assert page["page"]["total"] == 30
    assert len(page["chart"]["curves"]) == 30  # the chart still draws every trial
    best = client.get(f"/api/studies/{sid}?sort=-value&limit=500&state=complete").json()
    values = [t["value"] for t in best["trials"]]
    assert values == sorted(values, reverse=True)
    for query, field in [
        ("limit=0", "'limit'"),
        ("limit=abc", "'limit'"),
        ("offset=-1", "'offset'"),
        ("state=nope", "'state'"),
        ("sort=--value", "'sort'"),
    ]:
        r = client.get(f"/api/studies/{sid}?{query}")
        assert r.status_code == 400 and field in r.json()["error"], query


def test_a_large_study_sends_what_the_page_shows(tmp_path: Path) -> None:
    """Before: every trial in full (2.4 MB for 1,000 x 50); now a page of rows and compact
    curves, thinned when they would pass the budget."""
    from optuna.trial import TrialState, create_trial

    trials = [
        create_trial(
            state=TrialState.COMPLETE,
            value=0.5,
            intermediate_values={s: 0.5 * (1 - math.exp(-s / 50)) + n / 1000 for s in range(600)},
        )
        for n in range(150)
    ]
    from curvecast.dashboard._records import read_trial

    facts = [read_trial(t) for t in trials]
    records = [{"prob_better": None, "shadow": None, "notes": [], "band": None} for _ in facts]
    chart = chart_payload(facts, records)
    assert chart["thinned"] is True
    n_numbers = sum(len(c["y"]) for c in chart["curves"])
    assert n_numbers <= 60_000 and len(chart["x"]) < 600
    assert chart["x"][-1] == 599.0  # the last step is kept
    for f, c in zip(facts, chart["curves"], strict=True):
        assert c["y"][-1] == pytest.approx(f.values[-1], rel=1e-3)


def test_robust_range_ignores_a_few_broken_trials() -> None:
    good = [[0.1 + 0.8 * (1 - math.exp(-s / 5)) + i / 100 for s in range(30)] for i in range(20)]
    broken = [[0.2, 0.3, -50.0, -500.0, -2000.0], [1e6, 1e7]]
    r = robust_range(good + broken, keep=[0.95])
    lo, hi = r["robust"]
    assert lo < 0.1 and 0.95 < hi < 1.2 and lo > -0.2
    assert r["outside"] == 2 and r["full"] == [-2000.0, 1e7]
    assert robust_range([[None]])["robust"] is None


def test_corrupted_weights_say_so_instead_of_hiding_bands(written: Written, tmp_path: Path) -> None:
    from curvecast.forecast import register, unregister
    from curvecast.forecast.pfn import WEIGHTS_SHA256, PFNForecaster, _bundled_path

    bad = tmp_path / "pfn.safetensors"
    shutil.copyfile(_bundled_path(), bad)
    with bad.open("r+b") as fh:
        fh.seek(-8, 2)
        fh.write(b"\x00" * 8)
    register("pfn-corrupt", lambda: PFNForecaster(weights=bad, sha256=WEIGHTS_SHA256))
    try:
        app = create_app(open_storage(written.url), method="pfn-corrupt")
        view = TestClient(app, base_url="http://127.0.0.1").get("/api/studies/1").json()
    finally:
        unregister("pfn-corrupt")
    running = next(t for t in view["trials"] if t["state"] == "running")
    assert running["band"] is None
    notes = " ".join(view["study"]["notes"])
    assert "no forecast bands" in notes and "sha256" in notes


def test_bands_of_an_accuracy_stay_in_range_without_bounds(written: Written) -> None:
    """The fixture's pruner has no bounds; the issue saw its stored bands of an accuracy reach
    [-0.30, 1.19]. The forecasts now infer (0, 1) from the values, so every band stays inside
    and the page needs no note about unknown bounds."""
    view = _client(written.url).get("/api/studies/1").json()
    bands = [t["band"] for t in view["trials"] if t["band"]]
    assert bands
    for band in bands:
        for key in ("q05", "q95"):
            assert all(0.0 <= v <= 1.0 for v in band[key] if v is not None), band
    assert not any("bounds=(0, 1)" in n for n in view["study"]["notes"])


def test_a_real_shadow_search_shows_what_the_pruner_recorded(tmp_path: Path) -> None:
    """Issue 26: the dashboard turned every shadow verdict, "continue" ones included, into a
    would-be prune: 16 of 16 trials, all marked at their first check, a running trial at
    P = 0.99 listed. Only the pruner's stops are "would have pruned", at their own step."""
    from curvecast.integrations.optuna import final_forecast, verdicts

    from ._study import write_shadow_search

    url = f"sqlite:///{tmp_path / 'shadow.db'}"
    sid = write_shadow_search(url)
    trials = optuna.load_study(study_name="shadow", storage=url).get_trials()
    # what the pruner itself says it would have stopped
    first_stop = {t.number: v for t in trials if (v := final_forecast(t)) is not None}
    running = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
    assert 0 < len(first_stop) < len(trials) - 1
    assert len(running) == 1 and running[0].number not in first_stop
    judged = [v for v in verdicts(running[0]) if v.prob_better is not None]
    assert judged and judged[-1].shadow and judged[-1].prob_better > 0.5

    view = _client(url).get(f"/api/studies/{sid}?state=shadow&limit=500").json()
    assert sorted(t["number"] for t in view["trials"]) == sorted(first_stop)
    for t in view["trials"]:
        assert t["shadow"]["step"] == first_stop[t["number"]].step
        assert t["stop"] is None
    s = view["study"]["shadow"]
    assert s["would_prune"] == len(first_stop)
    right = wrong = 0
    saved = 0.0
    for t in trials:
        v = first_stop.get(t.number)
        if v is None:
            continue
        final = t.intermediate_values[max(t.intermediate_values)]
        assert v.incumbent is not None and v.horizon is not None
        wrong += final > v.incumbent
        right += final <= v.incumbent
        saved += max(0.0, v.horizon - v.step)
    assert (s["right"], s["wrong"], s["pending"]) == (right, wrong, 0)
    assert s["steps_would_save"] == pytest.approx(saved)
    assert s["lost_best"] is False
    marks = {c["n"]: c["shadow"][0] for c in view["chart"]["curves"] if "shadow" in c}
    assert marks == {n: v.step for n, v in first_stop.items()}
    # the running trial: not "would prune", its P is the pruner's latest forecast
    row = _client(url).get(f"/api/studies/{sid}/trials/{running[0].number}").json()["trial"]
    assert row["shadow"] is None
    assert row["prob_better"] == pytest.approx(judged[-1].prob_better)
    shadow_rows = [v for v in row["verdicts"] if v["shadow"]]
    assert shadow_rows == []  # its "continue" verdicts are not would-be prunes
