"""``curvecast dashboard``: the argument parser and the runner that serves the app."""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
from typing import IO, Any

from curvecast.exceptions import CurvecastError

__all__ = ["DEFAULT_PORT", "add_arguments", "add_dashboard_parser", "run_dashboard"]

#: Port the dashboard listens on unless told otherwise.
DEFAULT_PORT = 8080
_EXIT_OK, _EXIT_INPUT = 0, 2
#: Pending connections the kernel keeps (capped by net.core.somaxconn): a burst of a few
#: hundred page loads must queue, not be refused and retried a second later.
_BACKLOG = 2048


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"expected a port number in 0..65535 (0 picks a free one), got {text!r}"
        )
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.2 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"expected seconds in [0.2, 3600], got {text!r}")
    return value


def add_dashboard_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``dashboard`` command to ``subparsers``.

    Args:
        subparsers: what ``ArgumentParser.add_subparsers()`` returned.

    Returns:
        The ``dashboard`` parser; its ``func`` default is :func:`run_dashboard`.
    """
    p = subparsers.add_parser(
        "dashboard",
        help="serve a local web page over an Optuna storage: curves, forecasts, pruning",
        description=DESCRIPTION,
        epilog=EPILOG,
    )
    add_arguments(p)
    p.set_defaults(func=run_dashboard)
    return p


#: What the command does, for ``--help``.
DESCRIPTION = (
    "Serve a web page that lists the studies in an Optuna storage and shows, per "
    "study, every trial's learning curve with its forecast band, the probability of beating "
    "the incumbent, why and when it was pruned, and the compute saved. The page refreshes "
    "itself while a search runs. The storage is only read."
)
EPILOG = "exit codes: 0 stopped normally, 2 the storage or the address cannot be used"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the dashboard's options (--storage, --host, --port, --method, --poll) to ``p``."""
    from curvecast.forecast import available_methods

    p.add_argument(
        "--storage",
        required=True,
        metavar="URL",
        help="Optuna storage URL, e.g. sqlite:///study.db or "
        "postgresql+psycopg2://user:password@host/database",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s, this machine only; the page has no "
        "login, so think twice before 0.0.0.0)",
    )
    p.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help="port to listen on (default: %(default)s; 0 picks a free one)",
    )
    p.add_argument(
        "--method",
        default="auto",
        choices=available_methods(),
        help="forecasting method for the bands of running trials (default: auto)",
    )
    p.add_argument(
        "--poll",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="how often the page refreshes (default: %(default)s)",
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); OSError when the address cannot be used."""
    infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(_BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def run_dashboard(args: argparse.Namespace, err: IO[str] | None = None) -> int:
    """Serve the dashboard until interrupted (Ctrl-C or SIGTERM).

    Args:
        args: parsed arguments of the ``dashboard`` parser (``storage``, ``host``, ``port``,
            ``method``, ``poll``).
        err: where messages go (default: stderr).

    Returns:
        0 after a normal stop; 2 when the storage cannot be opened, a dependency is missing or
        the address cannot be bound, after one line on ``err`` saying why.
    """
    out = err if err is not None else sys.stderr
    from curvecast.dashboard._app import DEFAULT_CONCURRENCY, pool_size_for
    from curvecast.dashboard._deps import require
    from curvecast.dashboard._storage import open_storage, redact

    try:
        require()
        storage = open_storage(args.storage, pool_size=pool_size_for(DEFAULT_CONCURRENCY))
    except CurvecastError as exc:
        print(f"curvecast dashboard: error: {exc}", file=out)
        return _EXIT_INPUT
    host = str(args.host)
    try:
        sock = _bind(host, int(args.port))
    except OSError as exc:
        print(
            f"curvecast dashboard: error: cannot listen on {host}:{args.port}: "
            f"{exc.strerror or exc}; pick another --port (0 picks a free one)",
            file=out,
        )
        return _EXIT_INPUT
    import uvicorn

    from curvecast.dashboard._app import LOOPBACK_HOSTS, create_app

    loopback = _is_loopback(host)
    app = create_app(
        storage,
        storage_url=args.storage,
        method=args.method,
        poll_interval=args.poll,
        allowed_hosts=list(LOOPBACK_HOSTS) if loopback else None,
        concurrency=DEFAULT_CONCURRENCY,
    )
    port = sock.getsockname()[1]
    shown_host = f"[{host.strip('[]')}]" if ":" in host else host
    print(
        f"curvecast dashboard: serving {redact(args.storage)} at http://{shown_host}:{port}/ "
        "(Ctrl-C to stop)",
        file=out,
        flush=True,
    )
    if not loopback:
        print(
            f"curvecast dashboard: warning: listening on {host}, beyond this machine; the page "
            "has no login, so anyone who reaches it can read these studies",
            file=out,
            flush=True,
        )
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return _EXIT_OK
