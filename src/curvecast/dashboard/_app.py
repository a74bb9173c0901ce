"""The dashboard's ASGI app (Starlette): JSON endpoints and the static page that reads them.

Endpoints (all GET, JSON, never writing to the storage):

- ``/api/config``: poll interval, version, the storage URL with its password hidden.
- ``/api/studies``: ``{"studies": [summary, ...]}``.
- ``/api/studies/{id}``: ``{"study": summary, "trials": [record, ...]}`` (curves, verdicts,
  forecast bands, compute saved); 404 for an unknown id.
- ``/api/studies/{id}/trials/{number}``: ``{"study": summary, "trial": record}`` with the verdict
  history.

User-chosen text (study names, parameter values) only ever leaves the server inside JSON, and
the page writes it with ``textContent``. A Content-Security-Policy forbids inline scripts, and
when the app serves loopback only, requests whose ``Host`` is not a loopback name are refused
(DNS rebinding).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from curvecast._version import __version__
from curvecast.dashboard._storage import redact
from curvecast.dashboard._summary import ForecastCache, list_studies, study_view, trial_view

if TYPE_CHECKING:
    from optuna.storages import BaseStorage
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["LOOPBACK_HOSTS", "STATIC_DIR", "create_app"]

#: Folder of the page, its script and style, and the vendored uPlot (MIT, licence beside it).
STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Host names a loopback-only dashboard answers to.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'none'"
)


def create_app(
    storage: BaseStorage,
    *,
    storage_url: str = "",
    method: str = "auto",
    poll_interval: float = 2.0,
    allowed_hosts: list[str] | None = None,
) -> Starlette:
    """Build the dashboard app over an open Optuna storage.

    Args:
        storage: an Optuna storage (see :func:`curvecast.dashboard.open_storage`); only read.
        storage_url: the URL shown on the page (its password is hidden).
        method: forecasting method for the bands of running trials.
        poll_interval: seconds between the page's refreshes (> 0).
        allowed_hosts: ``Host`` header values to answer; None answers any (use
            :data:`LOOPBACK_HOSTS` when serving on loopback).

    Returns:
        A Starlette app; serve it with uvicorn or test it with ``starlette.testclient``.

    Raises:
        MissingDependencyError: Starlette is not installed.
    """
    from curvecast.dashboard._deps import require

    require()
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    cache = ForecastCache(method)
    config = {
        "poll_interval": float(poll_interval),
        "version": __version__,
        "storage": redact(storage_url) if storage_url else "",
        "method": method,
    }

    def _error(status: int, message: str) -> Response:
        return JSONResponse({"error": message}, status_code=status)

    async def _read(fn: Any, *args: Any) -> Any:
        """Run a blocking storage read in a thread; a failing storage becomes a 503."""
        try:
            return await run_in_threadpool(fn, *args), None
        except Exception as exc:  # the database may vanish or lock while a search runs
            return None, _error(503, f"cannot read the storage: {type(exc).__name__}: {exc}")

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    async def api_config(request: Request) -> Response:
        return JSONResponse(config)

    async def api_studies(request: Request) -> Response:
        studies, err = await _read(list_studies, storage)
        return err or JSONResponse({"studies": studies})

    async def api_study(request: Request) -> Response:
        study_id = request.path_params["study_id"]
        view, err = await _read(study_view, storage, study_id, cache)
        if err is not None:
            return err
        if view is None:
            return _error(404, f"no study with id {study_id}")
        return JSONResponse(view)

    async def api_trial(request: Request) -> Response:
        study_id, number = request.path_params["study_id"], request.path_params["number"]
        view, err = await _read(trial_view, storage, study_id, number, cache)
        if err is not None:
            return err
        if view is None:
            return _error(404, f"no trial {number} in study {study_id}")
        return JSONResponse(view)

    middleware = [
        Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or ["*"]),
        Middleware(_SecurityHeaders),
    ]
    routes = [
        Route("/", index),
        Route("/api/config", api_config),
        Route("/api/studies", api_studies),
        Route("/api/studies/{study_id:int}", api_study),
        Route("/api/studies/{study_id:int}/trials/{number:int}", api_trial),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    return Starlette(routes=routes, middleware=middleware)


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
                    (b"cache-control", b"no-store"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
