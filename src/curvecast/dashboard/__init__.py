"""``curvecast dashboard``: a local web page over an Optuna storage.

It lists the studies of a storage (SQLite, PostgreSQL, MySQL: any Optuna RDB URL) and shows, per
study, every trial's learning curve, refreshed while a search runs; each trial's forecast band
(the stored forecast of a pruned trial, a fresh one for a running trial); the probability of
beating the incumbent; why and when each trial was pruned; and the compute saved. It only reads
the storage, listens on 127.0.0.1 unless told otherwise, and serves its chart library (uPlot, MIT)
from the package, so it works offline.

Run it with ``curvecast dashboard --storage sqlite:///study.db`` or
``python -m curvecast.dashboard --storage sqlite:///study.db``. Needs
the ``dashboard`` extra (``pip install ".[dashboard]"`` from a checkout).

>>> from curvecast.dashboard import create_app, open_storage
>>> app = create_app(open_storage("sqlite:///study.db"))  # doctest: +SKIP
"""

from __future__ import annotations

from curvecast.dashboard._app import create_app
from curvecast.dashboard._cli import add_dashboard_parser, run_dashboard
from curvecast.dashboard._storage import StorageError, open_storage

__all__ = ["StorageError", "add_dashboard_parser", "create_app", "open_storage", "run_dashboard"]
