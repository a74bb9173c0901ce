"""The dashboard's JSON endpoints, its headers and its storage errors, through the ASGI client."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

try:
    from starlette.testclient import TestClient
except (ImportError, RuntimeError):  # RuntimeError: Starlette without httpx2 (or httpx)
    pytest.skip(
        "needs Starlette and httpx2: pip install 'curvecast[dashboard]' httpx2",
        allow_module_level=True,
    )

from curvecast.dashboard import (
    StorageError,
    add_dashboard_parser,
    create_app,
    open_storage,
    run_dashboard,
)
from curvecast.dashboard._app import LOOPBACK_HOSTS, STATIC_DIR

pytest.importorskip(
    "optuna", reason="the dashboard needs Optuna: pip install 'curvecast[dashboard]'"
)

from ._study import XSS_NAME, XSS_PARAM, Written


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def client(written: Written) -> TestClient:
    app = create_app(
        open_storage(written.url),
        storage_url=written.url,
        method="last_value",
        allowed_hosts=list(LOOPBACK_HOSTS),
    )
    return TestClient(app, base_url="http://127.0.0.1:8080")


def _study_id(client: TestClient, name: str) -> int:
    studies = client.get("/api/studies").json()["studies"]
    return next(s["id"] for s in studies if s["name"] == name)


def test_studies_lists_both_with_counts(client: TestClient, written: Written) -> None:
    r = client.get("/api/studies")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    studies = {s["name"]: s for s in r.json()["studies"]}
    assert set(studies) == {written.study, XSS_NAME}
    s = studies[written.study]
    assert s["n_trials"] == written.n_trials
    assert s["states"] == {
        "complete": written.n_complete,
        "pruned": written.n_pruned,
        "running": 1,
    }
    assert s["direction"] == "maximize" and s["horizon"] == 19.0
    assert 0.0 < s["compute"]["fraction_saved"] < 1.0


def test_study_has_curves_verdicts_bands_and_compute_saved(
    client: TestClient, written: Written
) -> None:
    sid = _study_id(client, written.study)
    view = client.get(f"/api/studies/{sid}").json()
    trials = view["trials"]
    assert [t["number"] for t in trials] == list(range(written.n_trials))
    study = view["study"]
    horizon = study["horizon"]
    saved = run = 0.0
    chart = view["chart"]
    assert chart["x"] == sorted(chart["x"]) and chart["thinned"] is False
    curves = {c["n"]: c for c in chart["curves"]}
    assert sorted(curves) == list(range(written.n_trials))
    for t in trials:
        curve = curves[t["number"]]
        assert curve["s"] == t["state"]
        assert 0 < len(curve["y"]) <= len(chart["x"])
        assert chart["x"][len(curve["y"]) - 1] == t["last_step"]
        if t["state"] == "pruned":
            assert curve["stop"] == [t["last_step"], pytest.approx(t["last_value"], rel=1e-3)]
            stop = t["stop"]
            assert stop["decision"] == "stop" and stop["step"] == t["last_step"]
            assert t["why"] == stop["explain"] and t["why"].startswith("stopped at step")
            assert t["steps_saved"] == horizon - t["last_step"]
            band = t["band"]
            assert band["source"] == "verdict" and band["x"] == [t["last_step"], horizon]
            assert band["q05"][1] <= band["q50"][1] <= band["q95"][1]
            saved += t["steps_saved"]
        elif t["state"] == "complete":
            assert t["band"] is None and t["stop"] is None
            assert t["why"].startswith("completed at step 19")
            assert t["prob_better"] is None and t["p_when"] == "finished"
        if t["state"] in ("complete", "pruned"):
            run += t["last_step"]
    running = trials[written.running_number]
    assert running["state"] == "running"
    band = running["band"]
    assert band["source"] == "forecast" and band["method"] == "last_value"
    assert band["x"][0] == running["last_step"] and band["x"][-1] == horizon
    assert all(lo <= hi for lo, hi in zip(band["q05"], band["q95"], strict=True))
    # no pruner has judged it yet: the dashboard's own forecast gives the chance to win
    assert 0.0 <= running["prob_better"] <= 1.0 and running["prob_better"] == band["prob_better"]
    assert running["why"].startswith("running at step 5: P(final beats")
    assert study["compute"]["steps_saved"] == pytest.approx(saved)
    assert study["compute"]["fraction_saved"] == pytest.approx(saved / (saved + run))
    assert study["incumbent"] == pytest.approx(max(t["value"] for t in trials if t["value"]))


def test_forecast_cache_needs_three_points_and_computes_once() -> None:
    from curvecast.dashboard._summary import ForecastCache

    cache = ForecastCache("last_value")
    assert cache.band(1, [0.0, 1.0], [0.2, 0.3], "maximize", 9.0, 0.5) is None
    steps, values = [0.0, 1.0, 2.0], [0.2, 0.3, 0.35]
    band = cache.band(1, steps, values, "maximize", 9.0, 0.5)
    assert band is not None and band["x"][0] == 2.0 and band["x"][-1] == 9.0
    assert all(len(band[k]) == len(band["x"]) for k in ("q05", "q25", "q50", "q75", "q95"))
    assert 0.0 <= band["prob_better"] <= 1.0
    assert cache.band(1, steps, values, "maximize", 9.0, 0.5) is band  # cached
    assert cache.band(1, steps, values, "maximize", 2.0, 0.5) is None  # at the horizon
    diverged = cache.band(2, steps, [0.2, float("nan"), 0.3], "maximize", 9.0, 0.5)
    assert diverged is None


def test_trial_detail_has_the_verdict_history(client: TestClient, written: Written) -> None:
    sid = _study_id(client, written.study)
    trials = client.get(f"/api/studies/{sid}").json()["trials"]
    pruned = next(t for t in trials if t["state"] == "pruned")
    r = client.get(f"/api/studies/{sid}/trials/{pruned['number']}")
    assert r.status_code == 200
    trial = r.json()["trial"]
    steps = [v["step"] for v in trial["verdicts"]]
    assert steps == sorted(steps) and steps[-1] == pruned["last_step"]
    assert trial["verdicts"][-1]["decision"] == "stop"
    assert all(isinstance(v["explain"], str) for v in trial["verdicts"])
    assert set(trial["params"]) == {"ceiling", "optimizer"}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/studies/999", "no study with id 999"),
        ("/api/studies/1/trials/999", "no trial 999 in study 1"),
    ],
)
def test_unknown_ids_are_404_with_a_message(client: TestClient, path: str, message: str) -> None:
    r = client.get(path)
    assert r.status_code == 404 and r.json() == {"error": message}


def test_hostile_names_stay_data(client: TestClient) -> None:
    sid = _study_id(client, XSS_NAME)
    view = client.get(f"/api/studies/{sid}").json()
    assert view["study"]["name"] == XSS_NAME
    assert view["trials"][0]["params"] == {"opt": XSS_PARAM}
    page = client.get("/")
    assert page.headers["content-type"].startswith("text/html")
    # the page is static: no user data is ever rendered into HTML on the server
    assert "alert" not in page.text and "<script>" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"


def test_page_and_assets_are_served_without_a_cdn(client: TestClient) -> None:
    page = client.get("/").text
    for asset in ("static/uPlot.iife.min.js", "static/uPlot.min.css", "static/app.js"):
        assert asset in page
        assert client.get("/" + asset).status_code == 200
    for text in (page, (STATIC_DIR / "app.js").read_text(encoding="utf-8")):
        assert "http://" not in text and "https://" not in text and "//cdn" not in text
    assert "MIT" in (STATIC_DIR / "uPlot.LICENSE").read_text(encoding="utf-8")
    config = client.get("/api/config").json()
    assert config["poll_interval"] == 2.0 and config["method"] == "last_value"


def test_foreign_host_header_is_refused(client: TestClient) -> None:
    """A page elsewhere that rebinds its DNS name to 127.0.0.1 cannot read the studies."""
    r = client.get("/api/studies", headers={"host": "evil.example:8080"})
    assert r.status_code == 400


def test_reading_never_writes_the_file(written: Written, client: TestClient) -> None:
    assert written.path is not None
    before = _sha(written.path)
    sid = _study_id(client, written.study)
    client.get(f"/api/studies/{sid}")
    client.get(f"/api/studies/{sid}/trials/0")
    open_storage(written.url).get_all_studies()
    assert _sha(written.path) == before


# -- storages that cannot be opened ------------------------------------------------------------


def _not_optuna(tmp_path: Path) -> str:
    import sqlite3

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE x (a)")
    conn.close()
    return f"sqlite:///{path}"


@pytest.mark.parametrize(
    ("make_url", "message"),
    [
        (lambda p: f"sqlite:///{p / 'missing.db'}", "no such SQLite file"),
        (lambda p: "sqlite://", "in-memory SQLite database holds no study"),
        (lambda p: "sqlite:///:memory:", "in-memory SQLite database holds no study"),
        (lambda p: f"sqlite:///{p}", "is not a file"),
        (lambda p: "not a url", "not a database URL"),
        (lambda p: "nosuchdialect://host/db", "NoSuchModuleError"),
        (lambda p: "", "no storage URL given"),
        (_not_optuna, "holds no Optuna study tables"),
    ],
)
def test_bad_storage_gives_one_clear_line(tmp_path: Path, make_url: Any, message: str) -> None:
    url = make_url(tmp_path)
    with pytest.raises(StorageError, match=message) as info:
        open_storage(url)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "missing.db").exists()  # nothing was created


def test_password_is_hidden_in_messages() -> None:
    with pytest.raises(StorageError) as info:
        open_storage("nosuchdialect://user:s3cret@host/db")
    assert "s3cret" not in str(info.value) and "***" in str(info.value)


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="curvecast")
    add_dashboard_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["dashboard", *argv])


def test_parser_defaults_to_loopback() -> None:
    args = _parse("--storage", "sqlite:///x.db")
    assert (args.host, args.port, args.method, args.poll) == ("127.0.0.1", 8080, "auto", 2.0)
    assert args.func is run_dashboard


def test_run_dashboard_bad_storage_exits_2(tmp_path: Path) -> None:
    err = io.StringIO()
    rc = run_dashboard(_parse("--storage", f"sqlite:///{tmp_path / 'nope.db'}"), err=err)
    assert rc == 2
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("curvecast dashboard: error: cannot open")
    assert not (tmp_path / "nope.db").exists()


def test_run_dashboard_busy_port_exits_2(written: Written) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        err = io.StringIO()
        rc = run_dashboard(_parse("--storage", written.url, "--port", str(port)), err=err)
    assert rc == 2
    assert f"cannot listen on 127.0.0.1:{port}" in err.getvalue()


def test_module_entry_point_reports_a_missing_file_without_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nope.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "curvecast.dashboard", "--storage", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("curvecast dashboard: error: cannot open storage")
    assert "no such SQLite file" in done.stderr
    assert not (tmp_path / "nope.db").exists()


def test_study_json_is_strict(client: TestClient, written: Written) -> None:
    """No NaN or Infinity in the JSON: browsers' JSON.parse rejects them."""
    sid = _study_id(client, written.study)
    text = client.get(f"/api/studies/{sid}").text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))


def test_importing_the_dashboard_is_light() -> None:
    """The main CLI imports it to add the subcommand: no web framework or Optuna until used."""
    code = (
        "import sys, curvecast.dashboard; "
        "print(','.join(m for m in ('optuna', 'starlette', 'uvicorn', 'sqlalchemy') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_running_band_respects_the_pruners_bounds(tmp_path: Path) -> None:
    """The dashboard reads the bounds the ForecastPruner stored on the study."""
    optuna = pytest.importorskip("optuna")
    from curvecast.dashboard._storage import open_storage
    from curvecast.dashboard._summary import ForecastCache, study_view
    from curvecast.integrations.optuna import ForecastPruner

    url = f"sqlite:///{tmp_path / 'b.db'}"
    study = optuna.create_study(
        storage=url, direction="maximize", pruner=ForecastPruner(method="last_value", bounds=(0, 1))
    )
    done = study.ask()
    for step in range(1, 21):
        done.report(0.9 + 0.004 * step, step)
        done.should_prune()
    study.tell(done, 0.98)
    running = study.ask()
    for step in range(1, 4):  # a steep, noisy start whose raw band would leave [0, 1]
        running.report([0.2, 0.9, 0.5][step - 1], step)
    view = study_view(open_storage(url), study._study_id, ForecastCache(method="last_value"))
    assert view is not None
    band = next(t["band"] for t in view["trials"] if t["state"] == "running")
    assert band is not None
    assert all(0.0 <= v <= 1.0 for key in ("q05", "q95") for v in band[key] if v is not None)


@pytest.mark.parametrize(
    "path",
    [
        "/api/studies/" + "9" * 5000,
        "/api/studies/" + "9" * 5000 + "/chart",
        "/api/studies/1/trials/" + "9" * 5000,
        "/api/studies/" + "9" * 30,
        "/api/nothing",
    ],
)
def test_an_id_of_thousands_of_digits_is_a_404_not_a_500(client: TestClient, path: str) -> None:
    """Issue 26 (audit): a 5,000-digit id passed Python's limit on integer digits: a 500."""
    response = client.get(path)
    assert response.status_code == 404
    assert "error" in response.json()
