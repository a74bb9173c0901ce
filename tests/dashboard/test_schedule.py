"""The selected trial's learning-rate schedule, as the dashboard sends it (issue 11)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from curvecast.dashboard import create_app, open_storage
from curvecast.dashboard._records import SCHEDULE_POINTS
from curvecast.schedules import Schedule

optuna = pytest.importorskip(
    "optuna", reason="the dashboard needs Optuna: pip install 'curvecast[dashboard]'"
)
try:
    from starlette.testclient import TestClient
except (ImportError, RuntimeError):  # RuntimeError: Starlette without httpx2 (or httpx)
    pytest.skip("needs Starlette and httpx2", allow_module_level=True)

from ._study import N_STEPS, SCHEDULES, write_schedule_study  # noqa: E402


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestClient, int]:
    url = f"sqlite:///{tmp_path_factory.mktemp('schedules') / 'schedules.db'}"
    sid = write_schedule_study(url)
    app = create_app(open_storage(url), method="last_value")
    return TestClient(app, base_url="http://127.0.0.1:8080"), sid


def _trial(study: tuple[TestClient, int], number: int) -> dict[str, Any]:
    client, sid = study
    r = client.get(f"/api/studies/{sid}/trials/{number}")
    assert r.status_code == 200, r.text
    return r.json()["trial"]


@pytest.mark.parametrize("number", [0, 1])
def test_a_stored_schedule_is_sent_sampled_over_the_horizon(
    study: tuple[TestClient, int], number: int
) -> None:
    trial = _trial(study, number)
    s = trial["schedule"]
    spec = SCHEDULES[number]
    assert s["name"] == spec["name"] and s["end"] == spec["total"]
    x, lr = np.array(s["x"]), np.array(s["lr"])
    assert 50 <= x.size <= SCHEDULE_POINTS and lr.shape == x.shape
    assert x[0] == 0.0 and x[-1] == N_STEPS - 1 and np.all(np.diff(x) > 0)
    np.testing.assert_allclose(lr, Schedule(spec).lr(x), rtol=1e-3)
    assert trial["notes"] == []


def test_a_step_schedule_drops_at_its_milestones_not_a_grid_cell_later(
    study: tuple[TestClient, int],
) -> None:
    s = _trial(study, 1)["schedule"]
    x, lr = np.array(s["x"]), np.array(s["lr"])
    assert lr[x < 8].max() == pytest.approx(0.1) and lr[x >= 8][0] == pytest.approx(0.03)
    assert x[x < 8][-1] > 8 - 1e-6  # the last point before the drop is at the milestone


def test_a_malformed_schedule_is_no_schedule_and_a_note(study: tuple[TestClient, int]) -> None:
    client, sid = study
    trial = _trial(study, 3)
    assert trial["schedule"] is None
    (note,) = trial["notes"]
    assert "learning-rate schedule record could not be read" in note and "peak_lr" in note
    rows = client.get(f"/api/studies/{sid}").json()
    assert rows["study"]["trials_with_notes"] == 1
    assert [t["number"] for t in rows["trials"] if t["notes"]] == [3]


def test_a_trial_without_a_schedule_has_none_and_the_study_answer_carries_none(
    study: tuple[TestClient, int],
) -> None:
    client, sid = study
    assert _trial(study, 2)["schedule"] is None
    body = client.get(f"/api/studies/{sid}").json()
    assert all("schedule" not in t for t in body["trials"])  # only the selected trial's detail
    assert "lr" not in client.get(f"/api/studies/{sid}/chart").text
