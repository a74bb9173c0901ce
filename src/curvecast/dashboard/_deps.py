"""The dashboard's optional dependencies, checked once with an install hint."""

from __future__ import annotations

import importlib.util

from curvecast.exceptions import MissingDependencyError, install_hint

__all__ = ["require"]

_NEEDED = ("optuna", "starlette", "uvicorn")


def require(*modules: str) -> None:
    """Raise :class:`MissingDependencyError` naming the extra if a module is missing.

    Args:
        modules: module names to check; none means Optuna, Starlette and uvicorn.
    """
    missing = [m for m in modules or _NEEDED if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingDependencyError(
            f"the dashboard needs {', '.join(missing)}: {install_hint('dashboard')}"
        )
