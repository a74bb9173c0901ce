"""Read each study at most once per refresh interval, and serve every client from that read.

A 1,000-trial study takes seconds to read and summarise; a page polls every two seconds; many
pages (or one page open in many tabs) poll at once. So the app never reads a study per request:
:class:`SnapshotStore` keeps one :class:`~curvecast.dashboard._summary.StudyView` per study,
keyed by the study and a *change token* (a few cheap aggregate queries over the study's rows: how
many trials in each state, how many reports, verdicts, parameters and values, and their largest
row ids). When a snapshot is older than the refresh interval, the token is read again (a few
milliseconds); only when it changed is the study read again. A finished study is read once.
Serialised answers (and their gzip) are kept on the snapshot, so a hot request costs no
storage read and no JSON encoding.

Thread safety: :meth:`SnapshotStore.study` and :meth:`SnapshotStore.studies` are called from
the app's worker threads; one lock per study makes concurrent callers wait for the one read in
progress instead of starting their own.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from curvecast.dashboard._summary import ForecastCache, StudyView, build_view

if TYPE_CHECKING:
    from optuna.storages import BaseStorage
    from optuna.study._frozen import FrozenStudy

__all__ = ["Snapshot", "SnapshotStore", "change_token"]

#: Rebuild a snapshot at least this often even when its token is unchanged (an attribute
#: rewritten in place keeps the row counts and ids).
MAX_AGE_S = 300.0
_BODIES_PER_SNAPSHOT = 32
#: Background refreshes that may read the storage at once (each holds one connection).
REFRESH_THREADS = 2

_TRIAL_TABLES = (
    ("trial_intermediate_values", "trial_intermediate_value_id"),
    ("trial_system_attributes", "trial_system_attribute_id"),
    ("trial_user_attributes", "trial_user_attribute_id"),
    ("trial_params", "param_id"),
    ("trial_values", "trial_value_id"),
)
_STUDY_TABLES = (
    ("study_user_attributes", "study_user_attribute_id"),
    ("study_system_attributes", "study_system_attribute_id"),
)


def change_token(storage: BaseStorage, study_id: int | None) -> tuple[Any, ...] | None:
    """A value that changes whenever a row of study ``study_id`` (or, for None, the list of
    studies) is added, removed or changes state; None for a storage that is not an Optuna
    RDBStorage (then snapshots are rebuilt every interval)."""
    engine = getattr(storage, "engine", None)
    if engine is None or not hasattr(engine, "connect"):
        return None
    from sqlalchemy import text

    with engine.connect() as conn:
        if study_id is None:
            rows = [conn.execute(text("SELECT COUNT(*), MAX(study_id) FROM studies")).all()]
            for table, pk in _STUDY_TABLES:
                q = f"SELECT COUNT(*), MAX({pk}) FROM {table}"
                rows.append(conn.execute(text(q)).all())
            return tuple(tuple(tuple(r) for r in rs) for rs in rows)
        p = {"s": study_id}
        q = "SELECT state, COUNT(*), MAX(trial_id) FROM trials WHERE study_id = :s GROUP BY state"
        rows = [sorted(tuple(r) for r in conn.execute(text(q), p).all())]
        for table, pk in _TRIAL_TABLES:
            q = (
                f"SELECT COUNT(*), MAX(x.{pk}) FROM {table} x JOIN trials t "
                "ON x.trial_id = t.trial_id WHERE t.study_id = :s"
            )
            rows.append([tuple(r) for r in conn.execute(text(q), p).all()])
        for table, pk in _STUDY_TABLES:
            q = f"SELECT COUNT(*), MAX({pk}) FROM {table} WHERE study_id = :s"
            rows.append([tuple(r) for r in conn.execute(text(q), p).all()])
    return tuple(tuple(rs) for rs in rows)


@dataclass
class Snapshot:
    """One read of one study, with the answers already serialised from it.

    Attributes:
        study: the study as read.
        view: what the page shows of it.
        token: the change token it was read at (None: unknown).
        read_at, checked_at: ``time.monotonic()`` of the read and of the last token check.
        read_s: seconds the read and summary took.
    """

    study: FrozenStudy
    view: StudyView
    token: tuple[Any, ...] | None
    read_at: float
    checked_at: float
    read_s: float
    full_read_at: float = 0.0
    _bodies: OrderedDict[Any, tuple[bytes, bytes]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def body(self, key: Any, make: Any) -> tuple[bytes, bytes]:
        """``(json, gzip of json)`` for the answer ``key``, made once by ``make() -> bytes``."""
        with self._lock:
            hit = self._bodies.get(key)
            if hit is not None:
                self._bodies.move_to_end(key)
                return hit
        raw = make()
        pair = (raw, gzip.compress(raw, compresslevel=5, mtime=0))
        with self._lock:
            self._bodies[key] = pair
            while len(self._bodies) > _BODIES_PER_SNAPSHOT:
                self._bodies.popitem(last=False)
        return pair


class SnapshotStore:
    """Snapshots of the studies of one storage, refreshed at most once per ``interval``.

    Args:
        storage: the Optuna storage (only read).
        forecasts: bands of running trials.
        interval: seconds a snapshot is served before its change token is checked again
            (the page's refresh interval).
        clock: ``time.monotonic`` (tests pass a fake one).
    """

    def __init__(
        self,
        storage: BaseStorage,
        forecasts: ForecastCache,
        interval: float = 2.0,
        clock: Any = time.monotonic,
    ) -> None:
        self.storage = storage
        self.forecasts = forecasts
        self.interval = float(interval)
        self.clock = clock
        self.reads = 0  # full study reads, for tests and the load script
        self._snaps: dict[int, Snapshot] = {}
        self._locks: dict[int | None, threading.Lock] = {}
        self._guard = threading.Lock()
        self._studies: tuple[list[FrozenStudy], tuple[Any, ...] | None, float] | None = None
        self._refreshing: set[int] = set()
        self._refreshers = threading.BoundedSemaphore(REFRESH_THREADS)
        #: the last error of a background refresh per study (None once one succeeds)
        self.errors: dict[int, str] = {}

    def latest(self, study_id: int) -> Snapshot | None:
        """The last snapshot of ``study_id``, however old (None: never read)."""
        return self._snaps.get(study_id)

    def refresh_soon(self, study_id: int, on_error: Any = None) -> None:
        """Bring the snapshot of ``study_id`` up to date in a background thread (at most one per
        study, at most :data:`REFRESH_THREADS` at once), so that clients are served the stale
        snapshot meanwhile instead of waiting for a read of seconds. ``on_error(study_id, exc)``
        hears about a failed read."""
        with self._guard:
            if study_id in self._refreshing:
                return
            self._refreshing.add(study_id)

        def run() -> None:
            try:
                with self._refreshers:
                    self.study(study_id)
                self.errors.pop(study_id, None)
            except Exception as exc:  # the storage may be locked or gone for a while
                from curvecast.dashboard._storage import describe_error

                self.errors[study_id] = describe_error(exc)
                if on_error is not None:
                    on_error(study_id, exc)
            finally:
                with self._guard:
                    self._refreshing.discard(study_id)

        threading.Thread(target=run, name=f"curvecast-refresh-{study_id}", daemon=True).start()

    def _read_trials(
        self, study_id: int, old: Snapshot | None, now: float
    ) -> tuple[list[Any], dict[int, Any]]:
        """The study's trials and, from ``old``, the already-read facts of finished trials.

        A finished trial (complete, pruned, failed) never changes in Optuna, so after the first
        read only the trials that were unfinished and the new ones are read (through the
        RDBStorage's incremental query, the one Optuna's own cache uses); everything is read
        again every :data:`MAX_AGE_S`, or when the storage has no such query.
        """
        get_some = getattr(self.storage, "_get_trials", None)
        if old is None or get_some is None or now - old.full_read_at >= MAX_AGE_S:
            return self.storage.get_all_trials(study_id, deepcopy=False), {}
        done = [f for f in old.view.facts if f.state in ("complete", "pruned", "fail")]
        if not old.view.facts:
            return self.storage.get_all_trials(study_id, deepcopy=False), {}
        open_ids = {f.trial._trial_id for f in old.view.facts} - {f.trial._trial_id for f in done}
        last_id = max(f.trial._trial_id for f in old.view.facts)
        fresh = get_some(study_id, None, open_ids, last_id)
        fresh_ids = {t._trial_id for t in fresh}
        trials = [f.trial for f in done if f.trial._trial_id not in fresh_ids] + list(fresh)
        return trials, {f.trial._trial_id: f for f in done}

    def _lock(self, key: int | None) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def fresh(self, study_id: int) -> Snapshot | None:
        """The snapshot of ``study_id`` if it may be served without any storage access."""
        snap = self._snaps.get(study_id)
        if snap is not None and self.clock() - snap.checked_at < self.interval:
            return snap
        return None

    def studies_fresh(self) -> list[FrozenStudy] | None:
        """The list of studies if it may be served without any storage access."""
        s = self._studies
        return s[0] if s is not None and self.clock() - s[2] < self.interval else None

    def studies(self) -> list[FrozenStudy]:
        """Every study of the storage, ordered by id (read at most once per interval)."""
        with self._lock(None):
            now = self.clock()
            s = self._studies
            if s is not None and now - s[2] < self.interval:
                return s[0]
            token = change_token(self.storage, None)
            if s is not None and token is not None and token == s[1]:
                self._studies = (s[0], token, now)
                return s[0]
            found = sorted(self.storage.get_all_studies(), key=lambda x: x._study_id)
            self._studies = (found, token, self.clock())
            return found

    def study(self, study_id: int) -> Snapshot | None:
        """The snapshot of ``study_id`` (None: no such study), read again only when its change
        token moved or it is older than :data:`MAX_AGE_S`."""
        snap = self.fresh(study_id)
        if snap is not None:
            return snap
        with self._lock(study_id):
            snap = self.fresh(study_id)  # another thread may have read it while we waited
            if snap is not None:
                return snap
            study = next((s for s in self.studies() if s._study_id == study_id), None)
            if study is None:
                self._snaps.pop(study_id, None)
                return None
            now = self.clock()
            token = change_token(self.storage, study_id)
            old = self._snaps.get(study_id)
            if (
                old is not None
                and token is not None
                and token == old.token
                and now - old.full_read_at < MAX_AGE_S
                and old.study.study_name == study.study_name
            ):
                old.checked_at = now
                return old
            started = time.perf_counter()
            trials, known = self._read_trials(study_id, old, now)
            view = build_view(
                study, trials, self.forecasts, known, old.view if known and old else None
            )
            self.reads += 1
            snap = Snapshot(
                study=study,
                view=view,
                token=token,
                read_at=now,
                checked_at=self.clock(),
                read_s=time.perf_counter() - started,
                full_read_at=old.full_read_at if known and old is not None else now,
            )
            self._snaps[study_id] = snap
            return snap
