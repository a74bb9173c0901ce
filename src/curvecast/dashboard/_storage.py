"""Open an Optuna storage for reading, or say in one line why it cannot be opened.

The dashboard never writes: it opens RDB storages with ``skip_table_creation=True``, refuses an
SQLite URL whose file does not exist (SQLAlchemy would create an empty one), and only calls the
storage's read methods.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from typing import TYPE_CHECKING
from urllib.parse import quote

from curvecast.exceptions import CurvecastError, MissingDependencyError, install_hint

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

__all__ = ["StorageError", "describe_error", "open_storage", "redact"]


class StorageError(CurvecastError):
    """An Optuna storage URL cannot be opened; the message says why and what to try."""


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***``, for messages and logs."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # any unparsable text: show nothing that could be a secret
        return "<unparsable URL>" if "@" in url else url


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception: Optuna wraps a refused connection in "error during commit"."""
    seen = {id(exc)}
    while True:
        nxt = exc.__cause__ or exc.__context__
        if nxt is None or id(nxt) in seen:
            return exc
        seen.add(id(nxt))
        exc = nxt


def describe_error(exc: BaseException) -> str:
    """One line naming the real cause of a storage error.

    Optuna wraps every SQLAlchemy error of a session in ``StorageInternalError("An exception is
    raised during the commit. This typically happens due to invalid data...")``, even for a read
    that found the pool exhausted or the database locked; the innermost exception says what
    happened, e.g. ``OperationalError: (sqlite3.OperationalError) database is locked``.
    """
    root = _root_cause(exc)
    return f"{type(root).__name__}: {_first_line(root)}"


def _check_sqlite(url: str, database: str | None) -> None:
    """Refuse an SQLite URL without a file, or whose file holds no Optuna tables."""
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        raise StorageError(
            f"cannot open storage {url!r}: an in-memory SQLite database holds no study; "
            "give the file the search writes to, e.g. sqlite:///study.db"
        )
    path = database[len("file:") :].split("?", 1)[0] if database.startswith("file:") else database
    if not os.path.exists(path):
        raise StorageError(
            f"cannot open storage {url!r}: no such SQLite file {os.path.abspath(path)!r} "
            "(the dashboard never creates one; sqlite:///study.db is relative to the current "
            "folder, sqlite:////abs/path/study.db is absolute)"
        )
    if not os.path.isfile(path):
        raise StorageError(f"cannot open storage {url!r}: {os.path.abspath(path)!r} is not a file")
    try:
        with closing(sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True)) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error as exc:
        raise StorageError(
            f"cannot open storage {url!r}: not a readable SQLite database ({exc})"
        ) from None
    if "studies" not in tables:
        raise StorageError(
            f"cannot open storage {url!r}: the SQLite file holds no Optuna study tables "
            "(is it the file your search writes to?)"
        )


def open_storage(url: str, *, pool_size: int | None = None) -> BaseStorage:
    """Open the Optuna storage at ``url`` (an RDB URL: SQLite, PostgreSQL, MySQL) for reading.

    Args:
        url: a SQLAlchemy URL as given to ``optuna.create_study(storage=...)``, e.g.
            ``sqlite:///study.db`` or ``postgresql+psycopg2://user:pw@host/db``.
        pool_size: connections to keep, sized to how many threads of the server read at once
            (the app's ``concurrency`` plus its background refreshes); None keeps SQLAlchemy's
            default (5, and 10 more on demand). Reads beyond it wait up to 30 s for a free
            connection rather than opening more.

    Returns:
        The storage; it has been read once (the list of studies) to prove it works.

    Raises:
        StorageError: the URL cannot be parsed, names a missing SQLite file, its driver is not
            installed, the server cannot be reached, or it holds no Optuna tables. The message is
            one line, with the password hidden.
        MissingDependencyError: Optuna is not installed.
    """
    if not isinstance(url, str) or not url.strip():
        raise StorageError("no storage URL given: pass e.g. --storage sqlite:///study.db")
    try:
        import optuna
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError
    except ImportError as exc:
        raise MissingDependencyError(
            "the dashboard needs Optuna: " + install_hint("dashboard")
        ) from exc
    shown = redact(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise StorageError(
            f"cannot open storage {shown!r}: not a database URL; expected e.g. "
            "sqlite:///study.db or postgresql+psycopg2://user:password@host/database"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        _check_sqlite(shown, parsed.database)
    if pool_size is not None and (
        isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1
    ):
        from curvecast.exceptions import parameter_error

        raise parameter_error("pool_size", "open_storage", "an int >= 1 or None", pool_size)
    engine_kwargs = (
        None
        if pool_size is None
        else {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": 30}
    )
    try:
        storage = optuna.storages.RDBStorage(
            url, engine_kwargs=engine_kwargs, skip_table_creation=True
        )
        storage.get_all_studies()
    except ImportError as exc:
        cause = exc.__cause__ or exc.__context__
        detail = f" ({_first_line(cause)})" if cause is not None else ""
        raise StorageError(
            f"cannot open storage {shown!r}: the database driver is not installed{detail}; "
            "for PostgreSQL install psycopg2 ("
            + install_hint("postgres")
            + ") and write postgresql+psycopg2://..., or install psycopg 3"
        ) from None
    except Exception as exc:  # SQLAlchemy, DB drivers and Optuna raise many unrelated types
        root = _root_cause(exc)
        raise StorageError(
            f"cannot open storage {shown!r}: {type(root).__name__}: {_first_line(root)}"
        ) from None
    return storage
