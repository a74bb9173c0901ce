"""The per-benchmark line blend of DownstreamScaling, and bands that reach the floor or ceiling."""

from __future__ import annotations

import numpy as np
from _downstream_oracle import FLOORS, skill_table

from curvecast.scaling import DownstreamScaling, ModelTable
from curvecast.scaling.downstream_lines import blend, choose_weights, fit_lines, line_scores


def test_choose_weights_needs_a_consistent_gain() -> None:
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.3, 0.7, (200, 2))
    run = np.repeat(np.arange(8), 25)
    line = truth + rng.normal(0, 0.01, truth.shape)  # the line is right on both
    skills = truth + 0.1
    # benchmark 1: the skills model is right except in one run, where it is far off
    skills[:, 1] = truth[:, 1] + rng.normal(0, 0.005, 200)
    skills[run == 3, 1] += 0.9
    w = choose_weights(skills, line, truth, run)
    assert w[0] == 1.0  # better in every run
    assert w[1] == 0.0  # better pooled (one bad run), not consistently: kept on the skills
    assert np.all(choose_weights(skills, line, truth, np.zeros(200, dtype=np.intp)) == 0.0)


def test_lines_and_blend_shapes() -> None:
    x = np.linspace(20, 23, 10)
    S = np.column_stack([0.1 * (x - 20), np.full(10, np.nan)])
    lines = fit_lines(x, S)
    assert lines.shape == (2, 2) and np.allclose(lines[0], [-2.0, 0.1])
    assert np.all(np.isnan(lines[1]))  # no scores, no line
    s = line_scores(lines, np.array([40.0]), np.zeros(2), np.ones(2))
    assert s[0, 0] == 1.0  # clipped at the ceiling
    out = blend(np.full((1, 2), 0.5), s, np.array([0.5, 1.0]))
    assert np.allclose(out, [[0.75, 0.5]])  # no line: the skills model's


def _with_linear(seed: int) -> ModelTable:
    """The oracle's four benchmarks and a fifth that is a straight line in log compute, the
    same for every family (no family efficiency, no sigmoid): the skills cannot follow it."""
    t, _ = skill_table(seed, n_fam=8)
    rng = np.random.default_rng(seed)
    x = np.log10(np.asarray(t.flops))
    lin = np.clip(0.3 + 0.08 * (x - x.min()) + rng.normal(0, 0.005, x.size), 0, 1)
    if seed % 2:
        lin = lin[::-1].copy()  # unrelated to the skill
    scores = {b: np.asarray(t.scores)[:, j] for j, b in enumerate(t.benchmarks)}
    scores["linear"] = lin
    return ModelTable(t.model, t.family, t.params, t.tokens, scores)


def test_a_benchmark_on_a_line_gets_the_line() -> None:
    t = _with_linear(2)
    model = DownstreamScaling(chance=FLOORS).fit(t, rng=0)
    w = dict(zip(model.benchmarks_, model.line_weight_, strict=True))
    assert w["linear"] > 0
    assert all(w[b] < 1 for b in FLOORS)  # the oracle's own benchmarks keep the skills
    w_new = dict(zip(model.benchmarks_, model.line_weight_new_, strict=True))
    assert w_new["linear"] > 0  # and so does a new family's forecast
    off = DownstreamScaling(chance=FLOORS, line_blend=False).fit(t, rng=0)
    assert not off.line_weight_.any() and not off.line_weight_new_.any()


def test_known_and_new_families_use_their_own_line_weights() -> None:
    t = _with_linear(2)
    model = DownstreamScaling(chance=FLOORS).fit(t, rng=0)
    B = len(model.benchmarks_)
    i = t.family.index("f0")
    args = (["f0", "unseen"], t.params[i] * 10, t.tokens[i] * 10)
    model.line_weight_, model.line_weight_new_ = np.zeros(B), np.zeros(B)
    skills = model.predict(*args).median
    model.line_weight_new_ = np.ones(B)  # a new family: the line alone; a known one: skills
    both = model.predict(*args).median
    x = np.log10(np.asarray(model.predict(*args).flops))
    line = line_scores(model.line_, x, model.floor_, model.ceiling_)
    assert np.allclose(both[0], skills[0])
    assert np.allclose(both[1], line[1], atol=1e-6)
    assert not np.allclose(both[1], skills[1])


def test_a_band_past_the_logit_clip_reaches_the_ceiling() -> None:
    t, _ = skill_table(3)
    model = DownstreamScaling(chance=FLOORS).fit(t, rng=0)
    fc = model.predict("f0", 1e13, 1e14)  # far beyond: every benchmark near its ceiling
    lo, hi = fc.interval(0.9)
    assert np.any(hi[0] == 1.0)
    assert np.all(lo <= fc.median) and np.all(fc.median <= hi)
