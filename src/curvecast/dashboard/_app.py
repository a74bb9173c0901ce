"""The dashboard's ASGI app (Starlette): JSON endpoints and the static page that reads them.

Endpoints (all GET, JSON, never writing to the storage):

- ``/api/config``: poll interval, version, the storage URL with its password hidden.
- ``/api/studies``: ``{"studies": [summary, ...]}``; a study that cannot be read gets a row
  with a note, never an error for the whole list.
- ``/api/studies/{id}?offset=0&limit=50&state=all&sort=number``: ``{"study": summary,
  "page": {...}, "trials": [row, ...], "chart": {...}}``: one page of the trials table and the
  compact curves of every trial (thinned for large studies; ``chart=0`` leaves them out);
  404 for an unknown id, 400 for a bad parameter.
- ``/api/studies/{id}/chart``: the chart alone (what ``chart=0`` leaves out of the study
  answer), with an ETag: a page that has this snapshot's chart gets 304 Not Modified.
- ``/api/studies/{id}/trials/{number}``: ``{"study": summary, "trial": record}`` with the curve,
  the verdict history and the user attributes.

Under load
----------
Every answer comes from a snapshot of the study (see :mod:`curvecast.dashboard._snapshot`), read
at most once per refresh interval and only when the study changed; while a newer one is read in
the background, clients get the previous one at once. Answers are serialised and gzipped once
per snapshot. Storage reads run on at most ``concurrency`` threads (the connection pool is sized
to match by :func:`curvecast.dashboard._cli.run_dashboard`), and a client that disconnects while
waiting for one is dropped without reading anything for it. A storage error answers 503 with its
real cause.

User-chosen text (study names, parameter values) only ever leaves the server inside JSON, and
the page writes it with ``textContent``. A Content-Security-Policy forbids inline scripts, and
when the app serves loopback only, requests whose ``Host`` is not a loopback name are refused
(DNS rebinding).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import sys
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curvecast._version import __version__
from curvecast.dashboard._snapshot import REFRESH_THREADS, Snapshot, SnapshotStore
from curvecast.dashboard._storage import describe_error, redact
from curvecast.dashboard._summary import (
    SORT_KEYS,
    STATES,
    ForecastCache,
    failed_summary,
    page_rows,
    trial_detail,
)

if TYPE_CHECKING:
    from optuna.storages import BaseStorage
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["DEFAULT_CONCURRENCY", "LOOPBACK_HOSTS", "STATIC_DIR", "create_app", "pool_size_for"]

#: Folder of the page, its script and style, and the vendored uPlot (MIT, licence beside it).
STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Host names a loopback-only dashboard answers to.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
#: Threads that read the storage for requests at once.
DEFAULT_CONCURRENCY = 4
#: Largest page of the trials table.
MAX_LIMIT = 500

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'none'"
)


def pool_size_for(concurrency: int) -> int:
    """Connections the app can hold at once: one per reading thread and background refresh."""
    return concurrency + REFRESH_THREADS


class _BadQuery(Exception):
    pass


class _ClientGone(Exception):
    pass


def _int_arg(query: Any, name: str, default: int, lo: int, hi: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = lo - 1
    if not lo <= value <= hi:
        raise _BadQuery(
            f"The {name!r} parameter must be an integer in {lo}..{hi}. Got {text[:40]!r} instead."
        )
    return value


def _page_args(query: Any) -> tuple[int, int, str, str, bool]:
    offset = _int_arg(query, "offset", 0, 0, 10**9)
    limit = _int_arg(query, "limit", 50, 1, MAX_LIMIT)
    state = query.get("state", "all")
    if state not in STATES:
        raise _BadQuery(
            f"The 'state' parameter must be one of {', '.join(STATES)}. Got {state[:40]!r} instead."
        )
    sort = query.get("sort", "number")
    if sort.lstrip("-") not in SORT_KEYS or sort.count("-") > 1:
        raise _BadQuery(
            f"The 'sort' parameter must be one of {', '.join(SORT_KEYS)}, with a leading '-' "
            f"for descending. Got {sort[:40]!r} instead."
        )
    chart = query.get("chart", "1")
    if chart not in ("0", "1"):
        raise _BadQuery(f"The 'chart' parameter must be 0 or 1. Got {chart[:40]!r} instead.")
    return offset, limit, state, sort, chart == "1"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


def create_app(
    storage: BaseStorage,
    *,
    storage_url: str = "",
    method: str = "auto",
    poll_interval: float = 2.0,
    allowed_hosts: list[str] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> Starlette:
    """Build the dashboard app over an open Optuna storage.

    Args:
        storage: an Optuna storage (see :func:`curvecast.dashboard.open_storage`); only read.
            Open it with ``pool_size=pool_size_for(concurrency)`` so that no read waits for a
            connection.
        storage_url: the URL shown on the page (its password is hidden).
        method: forecasting method for the bands of running trials.
        poll_interval: seconds between the page's refreshes (> 0); a study is read from the
            storage at most once per interval, whatever the number of clients.
        allowed_hosts: ``Host`` header values to answer; None answers any (use
            :data:`LOOPBACK_HOSTS` when serving on loopback).
        concurrency: threads that read the storage for requests at once (>= 1).

    Returns:
        A Starlette app; serve it with uvicorn or test it with ``starlette.testclient``.
        ``app.state.snapshots`` is its :class:`~curvecast.dashboard._snapshot.SnapshotStore`.

    Raises:
        MissingDependencyError: Starlette is not installed.
        InvalidParameterError: ``concurrency`` is not an int >= 1.
    """
    from curvecast.dashboard._deps import require
    from curvecast.exceptions import parameter_error

    require()
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise parameter_error("concurrency", "create_app", "an int >= 1", concurrency)
    import anyio
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.responses import FileResponse, JSONResponse
    from starlette.responses import Response as RawResponse
    from starlette.routing import Mount, Route

    _register_id_convertor()
    from starlette.staticfiles import StaticFiles

    forecasts = ForecastCache(method)
    store = SnapshotStore(storage, forecasts, interval=float(poll_interval))
    config = {
        "poll_interval": float(poll_interval),
        "version": __version__,
        "storage": redact(storage_url) if storage_url else "",
        "method": method,
    }
    # one limiter per event loop: uvicorn runs one, but a test client may run a loop per request,
    # and a limiter released from another loop's thread never wakes its waiters
    limiters: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    def _error(status: int, message: str) -> Response:
        return JSONResponse({"error": message}, status_code=status)

    def _storage_error(exc: BaseException) -> Response:
        return _error(503, f"cannot read the storage: {describe_error(exc)}")

    def _log_refresh_error(study_id: int, exc: BaseException) -> None:
        print(
            f"curvecast dashboard: warning: reading study {study_id} failed: "
            f"{describe_error(exc)}; serving the previous read",
            file=sys.stderr,
            flush=True,
        )

    async def _blocking(request: Request, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` on a reading thread; raises _ClientGone (reading nothing) when the
        client disconnects while waiting for a thread."""
        loop = asyncio.get_running_loop()
        limiter = limiters.get(loop)
        if limiter is None:
            limiter = limiters[loop] = anyio.CapacityLimiter(concurrency)
        outcome: dict[str, Any] = {}
        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                while True:
                    message = await request.receive()
                    if message["type"] == "http.disconnect":
                        outcome["gone"] = True
                        tg.cancel_scope.cancel()
                        return

            tg.start_soon(watch)
            outcome["value"] = await anyio.to_thread.run_sync(fn, *args, limiter=limiter)
            tg.cancel_scope.cancel()
        if "value" not in outcome:
            raise _ClientGone
        return outcome["value"]

    async def _snapshot(request: Request, study_id: int) -> Snapshot | None:
        snap = store.fresh(study_id)
        if snap is not None:
            return snap
        stale = store.latest(study_id)
        if stale is not None:
            store.refresh_soon(study_id, _log_refresh_error)
            return stale
        return await _blocking(request, store.study, study_id)

    def _send(request: Request, pair: tuple[bytes, bytes]) -> Response:
        raw, gz = pair
        if "gzip" in request.headers.get("accept-encoding", ""):
            return RawResponse(
                gz,
                media_type="application/json",
                headers={"content-encoding": "gzip", "vary": "Accept-Encoding"},
            )
        return RawResponse(raw, media_type="application/json", headers={"vary": "Accept-Encoding"})

    def _when(snap: Snapshot) -> str:
        age = store.clock() - snap.read_at
        at = _dt.datetime.now(_dt.UTC) - _dt.timedelta(seconds=max(0.0, age))
        return at.isoformat(timespec="seconds")

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    async def api_config(request: Request) -> Response:
        return JSONResponse(config)

    def _read_all(studies: list[Any]) -> list[dict[str, Any]]:
        out = []
        for s in studies:
            try:
                snap = store.fresh(s._study_id) or store.latest(s._study_id)
                if snap is None:
                    snap = store.study(s._study_id)
                else:
                    store.refresh_soon(s._study_id, _log_refresh_error)
                out.append(snap.view.summary if snap is not None else failed_summary(s, None))
            except Exception as exc:  # one unreadable study: a row with a note
                out.append(failed_summary(s, exc))
        return out

    async def api_studies(request: Request) -> Response:
        try:
            studies = store.studies_fresh()
            if studies is None:
                studies = await _blocking(request, store.studies)
            if all(store.latest(s._study_id) is not None for s in studies):
                summaries = _read_all(studies)  # no storage read: stale ones refresh behind
            else:
                summaries = await _blocking(request, _read_all, studies)
        except _ClientGone:
            return RawResponse(b"", status_code=499)
        except Exception as exc:  # the database may vanish or lock while a search runs
            return _storage_error(exc)
        return RawResponse(_dumps({"studies": summaries}), media_type="application/json")

    async def api_study(request: Request) -> Response:
        study_id = request.path_params["study_id"]
        try:
            args = _page_args(request.query_params)
        except _BadQuery as exc:
            return _error(400, str(exc))
        try:
            snap = await _snapshot(request, study_id)
        except _ClientGone:
            return RawResponse(b"", status_code=499)
        except Exception as exc:
            return _storage_error(exc)
        if snap is None:
            return _error(404, f"no study with id {study_id}")
        offset, limit, state, sort, with_chart = args

        def make() -> bytes:
            rows, total = page_rows(
                snap.view.records, offset=offset, limit=limit, state=state, sort=sort
            )
            head = {
                "study": snap.view.summary,
                "read_at": _when(snap),
                "read_s": round(snap.read_s, 3),
                "page": {
                    "offset": offset,
                    "limit": limit,
                    "total": total,
                    "state": state,
                    "sort": sort,
                },
                "trials": rows,
            }
            if not with_chart:
                return _dumps(head)
            return _dumps(head)[:-1] + b',"chart":' + snap.view.chart_json.encode() + b"}"

        return _send(request, snap.body(("study", args), make))

    async def api_chart(request: Request) -> Response:
        study_id = request.path_params["study_id"]
        try:
            snap = await _snapshot(request, study_id)
        except _ClientGone:
            return RawResponse(b"", status_code=499)
        except Exception as exc:
            return _storage_error(exc)
        if snap is None:
            return _error(404, f"no study with id {study_id}")
        # the chart changes only with the snapshot: a page that has it already gets a 304
        etag = f'"{study_id}-{id(snap)}-{snap.read_at:.6f}"'
        headers = {"etag": etag, "cache-control": "no-cache"}
        if request.headers.get("if-none-match") == etag:
            return RawResponse(status_code=304, headers=headers)
        response = _send(request, snap.body(("chart",), snap.view.chart_json.encode))
        response.headers.update(headers)
        return response

    async def api_trial(request: Request) -> Response:
        study_id, number = request.path_params["study_id"], request.path_params["number"]
        try:
            snap = await _snapshot(request, study_id)
        except _ClientGone:
            return RawResponse(b"", status_code=499)
        except Exception as exc:
            return _storage_error(exc)
        if snap is None:
            return _error(404, f"no study with id {study_id}")
        if number not in snap.view.by_number:
            return _error(404, f"no trial {number} in study {study_id}")

        def make() -> bytes:
            rec = trial_detail(snap.view, number)
            return _dumps({"study": snap.view.summary, "read_at": _when(snap), "trial": rec})

        return _send(request, snap.body(("trial", number), make))

    async def not_found(request: Request) -> Response:
        return _error(404, "no such resource (ids are integers of at most 18 digits)")

    middleware = [
        Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or ["*"]),
        Middleware(_SecurityHeaders),
    ]
    routes = [
        Route("/", index),
        Route("/api/config", api_config),
        Route("/api/studies", api_studies),
        Route("/api/studies/{study_id:cc_id}", api_study),
        Route("/api/studies/{study_id:cc_id}/chart", api_chart),
        Route("/api/studies/{study_id:cc_id}/trials/{number:cc_id}", api_trial),
        Route("/api/{rest:path}", not_found),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.snapshots = store
    return app


class _IdConvertor:
    """A study or trial id in a path: at most 18 digits. A longer one (a 5,000-digit id) matches
    no route and gets a 404, where Starlette's "int" would raise past Python's limit on digits
    (a 500) or pass the storage a number it cannot hold."""

    regex = "[0-9]{1,18}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


def _register_id_convertor() -> None:
    from starlette.convertors import CONVERTOR_TYPES, Convertor, register_url_convertor

    if "cc_id" not in CONVERTOR_TYPES:
        register_url_convertor("cc_id", type("IdConvertor", (_IdConvertor, Convertor), {})())


class _SecurityHeaders:
    """ASGI middleware adding CSP, nosniff and no-referrer to every HTTP response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", _CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
