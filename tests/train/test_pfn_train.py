"""Training the curvecast PFN: examples from the prior, NumPy/torch parity, the command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training the PFN needs torch (curvecast[train])")
pytest.importorskip("safetensors", reason="the weights are exported as safetensors")

from curvecast import Curve  # noqa: E402
from curvecast.cli import main as cli_main  # noqa: E402
from curvecast.forecast import pfn as inference  # noqa: E402
from curvecast.prior import PriorConfig, sample_task  # noqa: E402
from curvecast.train import pfn as T  # noqa: E402

TINY = T.ModelConfig(d_model=16, n_layers=2, n_heads=2, d_ff=24, n_bars=40)
TINY_ARGS = ["--d-model", "16", "--n-layers", "1", "--n-heads", "2", "--d-ff", "16"]
TINY_ARGS += ["--n-bars", "20", "--batch-size", "4", "--workers", "0"]


def test_examples_are_finite_and_always_ask_for_the_last_finite_point() -> None:
    rng = np.random.default_rng(0)
    cfg = PriorConfig(divergence_rate=0.5)
    seen = 0
    for _ in range(200):
        task = sample_task(rng, cfg)
        ex = T.make_example(task, np.random.default_rng(seen))
        if ex is None:
            continue
        enc, z = ex
        seen += 1
        assert z.shape == (enc.x_query.shape[0],) and 1 <= z.size <= T.MAX_QUERIES
        for a in (enc.x_obs, enc.v_obs, enc.x_query, enc.task, z):
            assert np.isfinite(a).all()
        # the last query is the last finite point of one of the task's curves
        assert enc.x_query[-1, 0] > 0.0  # later than the cut
        lasts = [
            enc.normalize(c.y[T._finite_len(c.y) - 1 : T._finite_len(c.y)])[0]
            for c in task
            if T._finite_len(c.y) >= 2
        ]
        assert np.isclose(lasts, z[-1]).any() or abs(z[-1]) == T._TARGET_CLIP
    assert seen > 150


def test_collate_pads_and_masks() -> None:
    batch = T.examples(np.random.default_rng(1), 5)
    b = T.collate(batch)
    for k, (enc, z) in enumerate(batch):
        n, m = enc.x_obs.shape[0], z.size
        assert b["obs_mask"][k].sum() == n and b["query_mask"][k].sum() == m
        np.testing.assert_allclose(b["target"][k, :m], z, rtol=1e-6)
        assert not b["obs_mask"][k, n:].any()


def test_a_few_steps_export_and_numpy_matches_torch(tmp_path: Path) -> None:
    model, summary = T.train(
        TINY, steps=3, batch_size=4, seed=0, log_every=1, workers=0, log=lambda s: None
    )
    assert summary["steps"] == 3 and summary["tasks_seen"] == 12
    assert 12 <= summary["curves_seen"] <= 12 * 16
    assert all(np.isfinite(r["val_nll"]) for r in summary["history"])
    with torch.no_grad():  # make the residual branches non-zero so that parity means something
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    path = tmp_path / "tiny.safetensors"
    sha = T.export(model, TINY, path)
    loaded = inference.load_model(path, sha256=sha)
    batch = T.examples(np.random.default_rng(3), 3)
    model.eval()
    with torch.no_grad():
        logits = model(T._to_torch(T.collate(batch), torch.device("cpu"))).numpy()
    for k, (enc, z) in enumerate(batch):
        np.testing.assert_allclose(loaded.logits(enc), logits[k, : z.size], atol=2e-4)


def test_the_command_writes_weights_and_a_model_card(tmp_path: Path) -> None:
    out = tmp_path / "mine.safetensors"
    assert cli_main(["train", "--steps", "2", "--seed", "5", "--out", str(out), *TINY_ARGS]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["steps"] == 2 and card["seed"] == 5 and card["tasks_seen"] == 8
    assert card["command"].startswith("curvecast train") and "--seed 5" in card["command"]
    assert card["config"]["d_model"] == 16
    f = inference.PFNForecaster(weights=out, sha256=card["sha256"])
    x = np.arange(1.0, 6.0)
    fc = f.forecast(Curve(x, 1.0 / x, direction="minimize"), np.array([10.0]), rng=None)
    assert np.isfinite(fc.quantiles).all()


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--steps", "0"], "--steps"),
        (["--d-model", "10", "--n-heads", "4"], "--d-model"),
        (["--workers", "-1"], "--workers"),
        (["--lr", "-1"], "--lr"),
        (["--seed", "-3"], "--seed"),
        (["--log-every", "0"], "--log-every"),
    ],
)
def test_bad_arguments_name_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], flag: str
) -> None:
    assert cli_main(["train", "--out", str(tmp_path / "w.safetensors"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("curvecast train: error: ") and flag in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("out", "says"),
    [
        ("nope/w.safetensors", "does not exist"),
        (".", "is a folder"),
        ("w.json", "not end in .json"),
    ],
)
def test_a_bad_output_path_is_refused_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], out: str, says: str
) -> None:
    assert cli_main(["train", "--out", str(tmp_path / out)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and says in err


def test_init_continues_from_the_given_weights_and_borders(tmp_path: Path) -> None:
    first = tmp_path / "first.safetensors"
    assert cli_main(["train", "--steps", "2", "--seed", "1", "--out", str(first), *TINY_ARGS]) == 0
    start = inference.load_model(first)
    # --lr 1e-9: the fine-tuned weights stay where --init put them, so any difference from the
    # first file would come from a fresh init or fresh borders
    tuned = tmp_path / "tuned.safetensors"
    args = ["--steps", "2", "--seed", "9", "--lr", "1e-9", "--init", str(first)]
    assert cli_main(["train", *args, "--out", str(tuned), *TINY_ARGS]) == 0
    after = inference.load_model(tuned)
    np.testing.assert_array_equal(after.borders, start.borders)
    x = np.arange(1.0, 6.0)
    c = Curve(x, 1.0 / x, direction="minimize")
    q0 = inference.PFNForecaster(weights=first).forecast(c, np.array([10.0]), rng=None).quantiles
    q1 = inference.PFNForecaster(weights=tuned).forecast(c, np.array([10.0]), rng=None).quantiles
    np.testing.assert_allclose(q1, q0, rtol=1e-4, atol=1e-6)
    card = json.loads(tuned.with_suffix(".json").read_text())
    assert card["init"] == "first.safetensors" and "--init" in card["command"]
    # and without --init the same seed starts elsewhere
    fresh = tmp_path / "fresh.safetensors"
    assert cli_main(["train", *args[:6], "--out", str(fresh), *TINY_ARGS]) == 0
    assert not np.array_equal(inference.load_model(fresh).borders, start.borders)


@pytest.mark.parametrize(("content", "says"), [(None, "is not a file"), (b"junk", "corrupt")])
def test_a_bad_init_file_is_refused_with_the_flag_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, says: str
) -> None:
    init = tmp_path / "init.safetensors"
    if content is not None:
        init.write_bytes(content)
    out = tmp_path / "w.safetensors"
    assert cli_main(["train", "--steps", "1", "--init", str(init), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--init" in err and says in err and "Traceback" not in err and not out.exists()


def test_init_of_other_sizes_says_which_flags_to_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "first.safetensors"
    assert cli_main(["train", "--steps", "1", "--out", str(first), *TINY_ARGS]) == 0
    out = tmp_path / "w.safetensors"
    wider = [a if a != "16" else "32" for a in TINY_ARGS[:2]] + TINY_ARGS[2:]
    assert cli_main(["train", "--steps", "1", "--init", str(first), "--out", str(out), *wider]) == 2
    err = capsys.readouterr().err
    assert "--init" in err and "--d-model" in err and not out.exists()
