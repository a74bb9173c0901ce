"""Errors raised by curvecast.

Every error curvecast raises on purpose derives from one root, so that callers can catch them all::

    CurvecastError
    ├── InvalidCurveError       (ValueError)  a curve's x, y, direction or bounds are unusable
    ├── InvalidParameterError   (ValueError)  an argument of a public function or class is wrong
    ├── UnknownMethodError      (KeyError)    no forecaster is registered under that name
    ├── MissingDependencyError  (ImportError) an optional extra is needed; the message names it
    └── DataSourceError                       a benchmark source cannot be found or fetched

Messages follow one template: they name the field, what it must be, and what was given, e.g.
"The 'threshold' parameter of ForecastPruner must be a float in (0, 1). Got 1.5 instead."
"""

from __future__ import annotations

__all__ = [
    "CurvecastError",
    "DataSourceError",
    "InvalidCurveError",
    "InvalidParameterError",
    "MissingDependencyError",
    "UnknownMethodError",
    "install_hint",
    "parameter_error",
]


class CurvecastError(Exception):
    """Root of every error that curvecast raises on purpose."""


class InvalidCurveError(CurvecastError, ValueError):
    """A curve's ``x``, ``y``, ``direction`` or ``bounds`` cannot be used."""


class InvalidParameterError(CurvecastError, ValueError):
    """An argument of a public function or class is out of its documented range."""


class UnknownMethodError(CurvecastError, KeyError):
    """No forecaster is registered under the requested name."""

    def __str__(self) -> str:  # KeyError would repr() the message, quotes and all
        return str(self.args[0]) if self.args else ""


class MissingDependencyError(CurvecastError, ImportError):
    """An optional dependency is missing; the message names the extra that provides it."""


class DataSourceError(CurvecastError):
    """A benchmark data source is missing, unreachable or fails its checksum."""


def parameter_error(name: str, owner: str, expected: str, got: object) -> InvalidParameterError:
    """Build the one-voice parameter error.

    >>> str(parameter_error("threshold", "ForecastPruner", "a float in (0, 1)", 1.5))
    "The 'threshold' parameter of ForecastPruner must be a float in (0, 1). Got 1.5 instead."
    """
    return InvalidParameterError(
        f"The {name!r} parameter of {owner} must be {expected}. Got {_shown(got)} instead."
    )


def _shown(value: object, limit: int = 200) -> str:
    """``repr(value)``, cut to ``limit`` characters; an int too long for ``repr`` (over 4,300
    digits) is described instead."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 1000:
        return f"an int of about {int(value.bit_length() * 0.30103) + 1} digits"
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def install_hint(extra: str) -> str:
    """The command that installs an optional extra, true where curvecast was installed from a
    checkout (it is not on PyPI) and worded so that it stays true once it is.

    >>> install_hint("dashboard").startswith('pip install ".[dashboard]" from the curvecast')
    True
    """
    return (
        f'pip install ".[{extra}]" from the curvecast checkout '
        f'(or pip install "curvecast[{extra}]" once curvecast is published)'
    )
