"""The dashboard as a person sees it: a real server on loopback, driven by headless Chromium.

Needs Debian's Chromium (``apt-get install chromium``) and Playwright for Python, which drives the
system browser (``playwright install`` is never run: nothing is downloaded). Without them the
module skips, unless ``CURVECAST_REQUIRE_BROWSER=1`` (CI sets it), where it fails. Screenshots go
to ``$CURVECAST_ARTIFACTS`` (default: a pytest temporary folder).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "optuna", reason="the dashboard needs Optuna: pip install 'curvecast[dashboard]'"
)

from ._study import XSS_NAME, XSS_PARAM, Written, add_trial

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox",  # tests run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


def _chromium() -> str:
    """The system Chromium, or skip (fail when CURVECAST_REQUIRE_BROWSER=1)."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright for Python (pip install playwright; no `playwright install`)")
    exe = next((p for p in CHROMIUM_CANDIDATES if os.access(p, os.X_OK)), None)
    exe = exe or shutil.which("chromium")
    if exe is None:
        missing.append("Chromium (apt-get install chromium)")
    if missing:
        why = "browser test needs " + " and ".join(missing)
        if os.environ.get("CURVECAST_REQUIRE_BROWSER") == "1":
            pytest.fail(why + " (CURVECAST_REQUIRE_BROWSER=1)")
        pytest.skip(why)
    return str(exe)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("CURVECAST_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _serve(url: str, log: Path) -> Iterator[str]:
    """``python -m curvecast.dashboard`` over ``url`` on 127.0.0.1 and a free port; yields its
    base URL and stops it after."""
    with log.open("w") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "curvecast.dashboard",
                "--storage",
                url,
                "--port",
                "0",
                "--method",
                "last_value",
                "--poll",
                "0.5",
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 30
        base = None
        while base is None and time.monotonic() < deadline and proc.poll() is None:
            found = re.search(r"at (http://127\.0\.0\.1:\d+/)", log.read_text())
            base = found.group(1) if found else None
            time.sleep(0.1)
        if base is None:
            pytest.fail(f"dashboard did not start (exit {proc.poll()}): {log.read_text()}")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def server(written: Written, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard over the written storage; yields its base URL."""
    _chromium()  # skip before starting anything when there is no browser
    with _serve(written.url, tmp_path_factory.mktemp("server") / "stderr.txt") as base:
        yield base


@pytest.fixture(scope="module")
def browser_page(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=_chromium(),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.dialogs = []  # type: ignore[attr-defined]
        page.errors = []  # type: ignore[attr-defined]
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
        page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
        try:
            yield page
        finally:
            context.close()


def _ready(page: Any) -> None:
    page.wait_for_selector("body[data-ready='1']")


def test_study_list_shows_both_studies_names_as_text(
    browser_page: Any, server: str, written: Written, artifacts: Path
) -> None:
    page = browser_page
    page.goto(server)
    _ready(page)
    names = page.locator("#studies a.study-link").all_text_contents()
    assert sorted(names) == sorted([written.study, XSS_NAME])
    assert page.locator("main script").count() == 0  # the name did not become an element
    page.screenshot(path=str(artifacts / "dashboard-studies.png"), full_page=True)
    assert page.dialogs == [] and page.errors == []


def test_study_chart_counts_trials_and_pruned_rows_say_why(
    browser_page: Any, server: str, written: Written, artifacts: Path
) -> None:
    page = browser_page
    page.goto(server)
    _ready(page)
    page.get_by_role("link", name=written.study, exact=True).click()
    page.wait_for_selector("#study-chart canvas")
    _ready(page)
    chart = page.locator("#study-chart")
    assert chart.get_attribute("data-trial-count") == str(written.n_trials)
    assert page.locator("tr.trial-row").count() == written.n_trials
    pruned = page.locator("tr.trial-row[data-state='pruned']")
    assert pruned.count() == written.n_pruned
    why = pruned.first.locator("td.why").text_content() or ""
    assert re.search(r"stopped at step \d+: P\(final beats [\d.]+\) = [\d.]+", why), why
    assert page.locator("#study-name").text_content() == written.study
    # highlight a pruned trial, so its stored forecast is drawn too, and keep the picture
    pruned.first.click()
    page.wait_for_selector("tr.trial-row.selected")
    page.screenshot(path=str(artifacts / "dashboard-study.png"), full_page=True)
    assert page.dialogs == [] and page.errors == []


def test_chart_follows_a_running_search(browser_page: Any, written: Written) -> None:
    page = browser_page
    chart = page.locator("#study-chart")
    before = int(chart.get_attribute("data-trial-count") or 0)
    add_trial(written.url)
    page.wait_for_function(
        "n => document.querySelector('#study-chart').dataset.trialCount === String(n)",
        arg=before + 1,
    )
    assert page.locator("tr.trial-row").count() == before + 1


def test_trial_detail_shows_reason_and_decisions(
    browser_page: Any, written: Written, artifacts: Path
) -> None:
    page = browser_page
    row = page.locator("tr.trial-row[data-state='pruned']").first
    number = row.get_attribute("data-trial-number")
    row.locator("a.detail-link").click()
    page.wait_for_selector("#trial-chart canvas")
    _ready(page)
    assert page.locator("#trial-title").text_content() == f"Trial {number}"
    assert (page.locator("#trial-why").text_content() or "").startswith("stopped at step")
    decisions = page.locator("#verdicts tbody tr")
    assert decisions.count() >= 1
    assert decisions.first.locator("td").nth(1).text_content() == "stop"
    assert decisions.first.locator("td").nth(2).text_content() == "hopeless"
    # issue 26: the incumbent tile showed today's best, not the value the stop was judged against
    tile = page.locator(".card", has=page.locator(".label", has_text="incumbent when stopped"))
    judged = (decisions.first.locator("td").nth(5).text_content() or "").rstrip(" *")
    assert tile.locator(".value").text_content() == judged
    page.screenshot(path=str(artifacts / "dashboard-trial.png"), full_page=True)
    assert page.dialogs == [] and page.errors == []


def test_hostile_study_name_and_parameter_are_shown_as_text(
    browser_page: Any, server: str, artifacts: Path
) -> None:
    page = browser_page
    page.goto(server)
    _ready(page)
    page.get_by_role("link", name=XSS_NAME, exact=True).click()
    page.wait_for_selector("#study-chart")
    _ready(page)
    assert page.locator("#study-name").text_content() == XSS_NAME
    # its one trial reported no curve: the chart says so instead of drawing an empty frame
    assert page.locator("#study-chart").get_attribute("data-trial-count") == "0"
    assert "No trial has reported" in (page.locator("#study-chart").text_content() or "")
    assert page.locator("td.params").first.text_content() == f"opt={XSS_PARAM}"
    assert page.locator("main script, main img").count() == 0
    page.wait_for_timeout(600)  # one more refresh: still nothing ran
    page.screenshot(path=str(artifacts / "dashboard-xss.png"), full_page=True)
    assert page.dialogs == [] and page.errors == []


def _open_study(page: Any, server: str, written: Written) -> None:
    page.goto(server)
    _ready(page)
    page.get_by_role("link", name=written.study, exact=True).click()
    page.wait_for_selector("#study-chart canvas")
    _ready(page)


def _refreshes(page: Any) -> int:
    return int(page.evaluate("document.body.dataset.refreshes || '0'"))


def _wait_refreshes(page: Any, n: int) -> None:
    start = _refreshes(page)
    page.wait_for_function("n => Number(document.body.dataset.refreshes || 0) >= n", arg=start + n)


def test_every_stop_is_drawn_even_at_the_same_step(
    browser_page: Any, server: str, written: Written
) -> None:
    """Before: stops at one step overwrote each other in a shared x array (32 stops, 10 drawn)."""
    page = browser_page
    _open_study(page, server, written)
    steps = page.locator("tr.trial-row[data-state='pruned'] td:nth-child(4)").all_text_contents()
    assert len(set(steps)) < len(steps) == written.n_pruned  # several share a step
    chart = page.locator("#study-chart")
    page.wait_for_function("() => document.querySelector('#study-chart').dataset.stops")
    assert chart.get_attribute("data-stops") == str(written.n_pruned)
    assert chart.get_attribute("data-stops-drawn") == str(written.n_pruned)
    # issue 26: a stop at the first step was cut in half by the chart's edge: the default view
    # leaves room before the first step and after the last one
    first = min(float(s) for s in steps)
    lo, hi = (float(v) for v in (chart.get_attribute("data-x-range") or "").split(","))
    assert lo < first and lo < 0 < hi


def test_zoom_survives_refreshes_and_double_click_resets_it(
    browser_page: Any, server: str, written: Written, artifacts: Path
) -> None:
    """Before: the 2-second refresh undid a drag-zoom."""
    page = browser_page
    _open_study(page, server, written)
    chart = page.locator("#study-chart")
    full_x = chart.get_attribute("data-x-range")
    box = page.locator("#study-chart .u-over").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.1)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6, steps=6)
    page.mouse.up()
    page.wait_for_function("() => document.querySelector('#study-chart').dataset.zoomed === '1'")
    zoomed_x, zoomed_y = chart.get_attribute("data-x-range"), chart.get_attribute("data-y-range")
    assert zoomed_x != full_x
    _wait_refreshes(page, 3)
    assert chart.get_attribute("data-x-range") == zoomed_x
    assert chart.get_attribute("data-y-range") == zoomed_y
    page.screenshot(path=str(artifacts / "dashboard-zoomed.png"))
    page.mouse.dblclick(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    page.wait_for_function("() => document.querySelector('#study-chart').dataset.zoomed === '0'")
    assert chart.get_attribute("data-x-range") == full_x
    assert page.errors == []


def test_hover_names_the_trial_and_a_selected_trial_shows_its_band(
    browser_page: Any, server: str, written: Written, artifacts: Path
) -> None:
    page = browser_page
    _open_study(page, server, written)
    # hover the stop marker of a pruned trial: the tooltip names a trial and its value
    box = page.locator("#study-chart .u-over").bounding_box()
    assert box is not None
    found = None
    for fx in (0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9):
        for fy in (0.05, 0.15, 0.3, 0.5, 0.7, 0.9):
            page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
            tip = page.locator("#chart-tip")
            if tip.is_visible():
                found = tip.text_content() or ""
                break
        if found:
            break
    assert found is not None, "no tooltip anywhere over the chart"
    assert re.match(r"trial \d+ · (complete|pruned|running)step [\d.]+: ", found), found
    row = page.locator("tr.trial-row[data-state='pruned']").first
    row.click()
    page.wait_for_selector("#selected-band")
    band = page.locator("#selected-band").text_content() or ""
    assert band.startswith("forecast made when it was stopped: final value at step 19 between")
    page.screenshot(path=str(artifacts / "dashboard-selected.png"))
    assert page.errors == []


def test_p_column_has_the_precision_of_the_reason(
    browser_page: Any, server: str, written: Written
) -> None:
    page = browser_page
    _open_study(page, server, written)
    for row in page.locator("tr.trial-row[data-state='pruned']").all():
        p_cell = (row.locator("td").nth(4).text_content() or "").split()[0]
        why = row.locator("td.why").text_content() or ""
        found = re.search(r"\) = ([\d.]+)", why)
        assert found is not None, why
        assert p_cell == found.group(1)
    done = page.locator("tr.trial-row[data-state='complete'] td").nth(4)
    assert done.text_content() == "finished"  # not a stale forecast of a finished trial


def test_a_missing_study_does_not_keep_the_previous_breadcrumbs(
    browser_page: Any, server: str, written: Written
) -> None:
    page = browser_page
    _open_study(page, server, written)
    assert written.study in (page.locator("#crumbs").text_content() or "")
    page.goto(server + "#/study/999")
    page.wait_for_selector("#error")
    crumbs = page.locator("#crumbs").text_content() or ""
    assert written.study not in crumbs and "not found" in crumbs
    assert "no study with id 999" in (page.locator("#error").text_content() or "")


def test_a_finished_shadow_study_keeps_zoom_and_shows_would_have_pruned_trials(
    browser_page: Any, tmp_path: Path, artifacts: Path
) -> None:
    """A finished study (nothing changes between refreshes) also keeps the zoom; the trials a
    shadow pruner would have stopped are marked on the chart and listed by a filter."""
    from curvecast.dashboard._synthetic import write_synthetic_study

    url = f"sqlite:///{tmp_path / 'shadow.db'}"
    write_synthetic_study(url, n_trials=30, n_steps=20, n_running=0, shadow=True, rng=5)
    page = browser_page
    with _serve(url, tmp_path / "stderr.txt") as base:
        page.goto(base + "#/study/1")
        page.wait_for_selector("#study-chart canvas")
        _ready(page)
        chart = page.locator("#study-chart")
        page.wait_for_function("() => document.querySelector('#study-chart').dataset.shadowMarks")
        tab = page.locator("button[data-state='shadow']")
        n = int(re.search(r"\((\d+)\)", tab.text_content() or "").group(1))  # type: ignore[union-attr]
        assert n > 0 and chart.get_attribute("data-shadow-marks") == str(n)
        assert chart.get_attribute("data-stops") == "0"  # a shadow pruner pruned nothing
        box = page.locator("#study-chart .u-over").bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.1)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.4, steps=6)
        page.mouse.up()
        page.wait_for_function(
            "() => document.querySelector('#study-chart').dataset.zoomed === '1'"
        )
        zoomed = chart.get_attribute("data-x-range"), chart.get_attribute("data-y-range")
        _wait_refreshes(page, 3)
        assert (chart.get_attribute("data-x-range"), chart.get_attribute("data-y-range")) == zoomed
        tab.click()
        page.wait_for_function("n => document.querySelectorAll('tr.trial-row').length === n", arg=n)
        assert page.locator("tr.trial-row:not([data-shadow])").count() == 0
        why = page.locator("tr.trial-row td.why").first.text_content() or ""
        assert "shadow pruner: would have stopped at step" in why
        assert "the stop would have been" in why
        page.screenshot(path=str(artifacts / "dashboard-shadow.png"), full_page=True)
        assert page.errors == []


def test_a_selected_trials_schedule_is_drawn_under_its_curve_and_follows_the_zoom(
    browser_page: Any, tmp_path: Path, artifacts: Path
) -> None:
    """Issue 11: a trial searched with ``ForecastPruner(schedule=...)`` shows its learning rate
    in a short chart under the curves, on the same x range; a trial without one shows none."""
    from ._study import write_schedule_study

    url = f"sqlite:///{tmp_path / 'schedules.db'}"
    sid = write_schedule_study(url)
    page = browser_page
    with _serve(url, tmp_path / "stderr.txt") as base:
        page.goto(base + f"#/study/{sid}")
        page.wait_for_selector("#study-chart canvas")
        _ready(page)
        sched = page.locator("#schedule-chart")
        assert sched.is_hidden()  # nothing selected
        page.locator("tr.trial-row[data-trial-number='1']").click()
        page.wait_for_selector("#schedule-chart[data-trial-number='1'] canvas")
        assert sched.is_visible() and int(sched.get_attribute("data-points") or 0) > 50
        assert "learning rate" in (sched.text_content() or "")
        chart = page.locator("#study-chart")
        assert sched.get_attribute("data-x-range") == chart.get_attribute("data-x-range")
        page.screenshot(path=str(artifacts / "dashboard-schedule.png"), full_page=True)
        box = page.locator("#study-chart .u-over").bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.5, steps=6)
        page.mouse.up()
        page.wait_for_function(
            "() => document.querySelector('#study-chart').dataset.zoomed === '1'"
        )
        assert sched.get_attribute("data-x-range") == chart.get_attribute("data-x-range")
        page.screenshot(path=str(artifacts / "dashboard-schedule-zoomed.png"), full_page=True)
        page.locator("tr.trial-row[data-trial-number='2']").click()  # it has no schedule
        page.wait_for_selector("#schedule-chart", state="hidden")
        assert page.errors == []


def test_a_huge_or_bidi_study_name_neither_pushes_columns_off_screen_nor_shows_reversed(
    browser_page: Any, tmp_path: Path, artifacts: Path
) -> None:
    """Issue 26 (audit): a 100,000-character name pushed every column off-screen; a
    right-to-left override (U+202E) displayed a name reversed, which can spoof one."""
    import optuna

    url = f"sqlite:///{tmp_path / 'names.db'}"
    long_name = "a" * 100_000
    spoof = "invoice-\u202egpj.exe"
    for name in (long_name, spoof):
        study = optuna.create_study(storage=url, study_name=name, direction="maximize")
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    page = browser_page
    with _serve(url, tmp_path / "stderr.txt") as base:
        page.goto(base)
        _ready(page)
        links = page.locator("#studies a.study-link")
        texts = links.all_text_contents()
        assert "\u202e" not in "".join(texts)
        assert any(t.startswith("invoice-[U+202E]gpj.exe") for t in texts)
        huge = next(t for t in texts if t.startswith("aaa"))
        assert len(huge) < 200 and huge.endswith("…")
        assert (links.first.get_attribute("title") or "").startswith("aaa")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= page.viewport_size["width"]  # every column on screen
        page.screenshot(path=str(artifacts / "dashboard-long-names.png"), full_page=True)
        page.goto(base + "#/study/1")
        page.wait_for_function("() => (document.querySelector('h1') || {}).title")
        title = page.locator("h1").first.text_content() or ""
        assert len(title) <= 200 and title.endswith("…")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 1280
        assert page.errors == []
