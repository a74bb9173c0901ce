"""Validation at the door, in one voice, wherever a user hands curvecast a value (issues 16, 17)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

import curvecast
from curvecast import CurvecastError, InvalidParameterError
from curvecast.forecast._result import as_rng

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("bad", [-1, True, False, 1.5, "3", [1], np.int64(-2)])
def test_rng_refuses_what_is_not_a_seed(bad: object) -> None:
    with pytest.raises(InvalidParameterError, match="The 'rng' parameter of forecast must be"):
        as_rng(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'rng'"):
        curvecast.forecast([1, 2], [0.1, 0.2], [3], method="last_value", rng=bad)  # type: ignore[arg-type]


def test_rng_accepts_seeds_generators_and_none() -> None:
    g = np.random.default_rng(5)
    assert as_rng(g) is g
    assert as_rng(np.int64(3)).random() == np.random.default_rng(3).random()
    assert as_rng(None).random() == np.random.default_rng(0).random()


def test_huge_ints_in_the_api_are_curvecast_errors() -> None:
    for kwargs in (
        {"x": [1, 2, 10**400]},
        {"y": [0.1, 0.2, 10**400]},
        {"x_new": [10, 10**400]},
        {"bounds": (0, 10**400)},
    ):
        args = {"x": [1, 2, 3], "y": [0.1, 0.2, 0.3], "x_new": [10], **kwargs}
        with pytest.raises(CurvecastError, match="beyond the float range"):
            curvecast.forecast(args.pop("x"), args.pop("y"), args.pop("x_new"), **args)  # type: ignore[arg-type]


def test_a_method_that_is_not_a_name_is_a_clear_error() -> None:
    with pytest.raises(CurvecastError, match="'method'"):
        curvecast.forecast([1, 2], [0.1, 0.2], [3], method=["auto"])  # type: ignore[arg-type]


def test_absurd_x_new_is_refused_by_the_api() -> None:
    with pytest.raises(CurvecastError, match="x_new"):
        curvecast.forecast([1, 2, 3], [0.5, 0.6, 0.62], [1e308], method="last_value")


# Missing-extra messages: curvecast is not on PyPI, so ``pip install 'curvecast[x]'`` alone fails.
# Files owned by another engineer at the time of writing (the dashboard); the lead empties this.
_ELSEWHERE: set[str] = set()


def test_install_hints_work_from_a_checkout() -> None:
    bare = re.compile(r"pip install ['\"]curvecast\[")
    offenders = []
    for path in sorted((ROOT / "src" / "curvecast").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in _ELSEWHERE or rel == "src/curvecast/exceptions.py":  # the helper itself
            continue
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if bare.search(line) and "from the curvecast checkout" not in line:
                offenders.append(f"{rel}:{no}: {line.strip()}")
    assert not offenders, "use curvecast.exceptions.install_hint:\n" + "\n".join(offenders)


def test_install_hint_names_the_checkout_and_the_published_form() -> None:
    from curvecast.exceptions import install_hint

    hint = install_hint("ray")
    assert 'pip install ".[ray]"' in hint and "curvecast[ray]" in hint


def test_demo_extra_holds_what_the_demos_next_step_needs() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]

    def names(extra: str) -> set[str]:
        return {re.split(r"[<>=\[ ]", req)[0] for req in extras[extra]}

    assert names("dashboard") <= names("demo")  # the demo prints `curvecast dashboard ...`
