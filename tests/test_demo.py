from __future__ import annotations

import numpy as np

from curvecast.demo import load_samples


def test_sample_curves_are_real_and_attributed() -> None:
    samples = load_samples()
    assert len(samples) >= 6
    for s in samples:
        assert s.license in {"MIT", "Apache-2.0"} and s.source
        assert s.curve.x.size >= 10 and not s.curve.diverged
        assert np.all(np.diff(s.curve.x) > 0)
    assert {s.curve.direction for s in samples} == {"maximize", "minimize"}
