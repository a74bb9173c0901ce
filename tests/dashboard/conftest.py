from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ._study import Written


@pytest.fixture(scope="session")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """An SQLite file with a pruned search, a running trial and a hostile study name."""
    pytest.importorskip(
        "optuna", reason="the dashboard needs Optuna: pip install 'curvecast[dashboard]'"
    )
    from ._study import write_storage

    path: Path = tmp_path_factory.mktemp("dashboard") / "study.db"
    return write_storage(path)
