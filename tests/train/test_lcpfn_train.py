"""LC-PFN training: the prior, and parity of the exported weights with the NumPy inference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training LC-PFN needs torch (curvecast[train])")
pytest.importorskip("safetensors", reason="the weights are exported as safetensors")

from curvecast.forecast import lcpfn as inference  # noqa: E402
from curvecast.train import lcpfn as T  # noqa: E402

TINY = T.ModelConfig(d_model=16, n_layers=2, n_heads=2, d_ff=24, n_bars=40)


def test_prior_curves_have_the_right_shape_and_range() -> None:
    clean, noisy = T.sample_prior_curves(500, np.random.default_rng(0))
    assert clean.shape == noisy.shape == (500, 100)
    assert np.all((clean >= 0) & (clean <= 1))
    assert np.all(clean[:, -1] > clean[:, 0])
    noise = noisy - clean
    assert 0.0 < np.median(np.abs(noise)) < 0.1  # sd = exp(N(-4, 1)): about 0.02 typically


def test_prior_is_reproducible_from_its_generator() -> None:
    a = T.sample_prior_curves(20, np.random.default_rng(7))[1]
    b = T.sample_prior_curves(20, np.random.default_rng(7))[1]
    np.testing.assert_array_equal(a, b)


def test_bar_nll_matches_the_numpy_quantiles() -> None:
    """The density the loss uses integrates to the CDF the inference inverts."""
    borders = np.array([-1.0, 0.0, 0.3, 0.7, 1.0, 2.0])
    logits = np.array([[0.3, -0.2, 1.0, 0.1, -0.5]])
    q = inference.bar_quantiles(logits, borders, np.linspace(0.002, 0.998, 499))[0]
    ys = torch.linspace(-10.0, 11.0, 210_001, dtype=torch.float64)
    dens = torch.exp(
        -T.bar_nll(torch.tensor(logits).expand(ys.numel(), -1), ys, torch.tensor(borders))
    ).numpy()
    cdf = np.cumsum(dens) * float(ys[1] - ys[0])
    np.testing.assert_allclose(
        np.interp(q, ys.numpy(), cdf), np.linspace(0.002, 0.998, 499), atol=2e-3
    )


def test_three_steps_export_and_numpy_matches_torch(tmp_path: Path) -> None:
    model, summary = T.train(TINY, steps=3, batch_size=4, seed=0, log_every=1, log=lambda s: None)
    assert summary["steps"] == 3 and summary["curves_seen"] == 12
    assert all(np.isfinite(r["train_nll_ema"]) for r in summary["history"])
    with torch.no_grad():  # make the residual branches non-zero so that parity means something
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    path = tmp_path / "tiny.safetensors"
    T.export_safetensors(model, TINY, path)
    loaded = inference.load_model(path, sha256=None)
    _, noisy = T.sample_prior_curves(2, np.random.default_rng(3))
    t = torch.arange(1, 101, dtype=torch.float32)
    for k in (1, 37, 99):
        with torch.no_grad():
            expect = model(t.expand(2, -1), torch.as_tensor(noisy, dtype=torch.float32), k)
        for b in range(2):
            got = loaded.logits(np.arange(1.0, k + 1), noisy[b, :k], np.arange(k + 1.0, 101.0))
            np.testing.assert_allclose(got, expect[b].double().numpy(), atol=1e-4)


def test_main_writes_weights_and_a_model_card(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "w.safetensors"
    args = "--steps 2 --batch-size 3 --seed 1 --d-model 8 --n-layers 1 --n-heads 2 --d-ff 8"
    rc = T.main([*args.split(), "--n-bars", "30", "--log-every", "1", "--out", str(out)])
    assert rc == 0 and out.exists()
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["steps"] == 2 and card["curves_seen"] == 6 and card["seed"] == 1
    assert card["config"]["d_model"] == 8 and "--steps 2" in card["command"]
    assert "wall_time_s" in card and card["device"]
    assert '"step": 2' in capsys.readouterr().out
    assert inference.load_model(out, sha256=None).borders.shape == (31,)


def test_a_time_limit_stops_training_and_is_reported() -> None:
    logs: list[str] = []
    _, summary = T.train(TINY, steps=50, batch_size=2, seed=0, max_wall_s=1e-9, log=logs.append)
    assert summary["steps"] == 0 and summary["steps_planned"] == 50
    assert "stopped_early_at_step" in logs[0]
