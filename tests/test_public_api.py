from __future__ import annotations

import subprocess
import sys

import curvecast


def test_all_is_sorted_and_complete() -> None:
    names = curvecast.__all__
    assert list(names) == sorted(names)
    public = {n for n in vars(curvecast) if not n.startswith("_")} - {
        "curves",
        "exceptions",
        "forecast",
        "testing",
    }
    # submodules aside, everything public is exported and everything exported exists
    assert public <= set(names) | {"forecast"}
    for n in names:
        assert hasattr(curvecast, n), n


def test_import_is_light() -> None:
    code = (
        "import sys, curvecast; "
        "heavy = [m for m in ('torch', 'pandas', 'matplotlib', 'emcee', 'onnxruntime', 'optuna') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
