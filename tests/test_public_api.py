from __future__ import annotations

import subprocess
import sys
import types

import curvecast


def test_all_is_sorted_and_complete() -> None:
    names = curvecast.__all__
    assert list(names) == sorted(names)
    # submodules aside (importing one makes it an attribute), everything public is exported
    public = {
        n
        for n, v in vars(curvecast).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType)
    }
    assert public <= set(names)
    for n in names:
        assert hasattr(curvecast, n), n


def test_import_is_light() -> None:
    code = (
        "import sys, curvecast; "
        "heavy = [m for m in ('torch', 'pandas', 'matplotlib', 'emcee', 'onnxruntime', 'optuna', "
        "'ray', 'starlette', 'sklearn') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
