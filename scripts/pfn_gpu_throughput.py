"""How many curves per second the curvecast PFN forecasts on a CUDA GPU, batched.

Usage::

    OMP_NUM_THREADS=1 python scripts/pfn_gpu_throughput.py [--weights FILE] \
        [--batch-sizes 1,64,1024,8192] [--n-obs 32] [--n-query 32] [--context 0] [--bf16]

Loads the PFN weights (default: the bundled ``weights/pfn.safetensors``) into the torch model of
:mod:`curvecast.train.pfn`, checks that its logits match the NumPy forward pass of
:mod:`curvecast.forecast.pfn` on a few curves, then times the batched forward pass on CUDA
(bar logits for every query, float32 and, with ``--bf16``, bfloat16 autocast): ``--warmup``
untimed passes, then ``--repeats`` timed ones between ``torch.cuda.synchronize()`` calls; the
inputs are already on the GPU, so host-to-device copies, the encoding of curves and the bar
quantiles are not counted. Every curve has ``--n-obs`` observed points, ``--n-query`` query
points and ``--context`` context curves (each thinned to at most 12 points, as the encoding
does). For comparison it times, on this machine's CPU, the NumPy forward pass of one curve
(``PFNModel.logits``) and a whole ``PFNForecaster.forecast`` of one curve (encoding and
quantiles included). Prints a markdown table.

Needs torch with CUDA and a CUDA device; exits with status 2 and a message when there is none.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def _curves(n: int, n_obs: int, n_query: int, n_context: int, seed: int) -> list[Any]:
    """``n`` encoded synthetic accuracy curves of the requested shape (saturating power laws)."""
    from curvecast.forecast._pfn_input import context_ids, encode

    rng = np.random.default_rng(seed)
    x = np.arange(1.0, n_obs + n_query + 1.0)
    out = []
    for _ in range(n):
        curves = []
        for _ in range(1 + n_context):
            top, start, rate = rng.uniform(0.6, 0.95), rng.uniform(0.1, 0.45), rng.uniform(0.3, 1)
            y = top - (top - start) * x**-rate + rng.normal(0.0, 0.005, x.size)
            curves.append(np.clip(y, 0.0, 1.0))
        ctx = [(x, c) for c in curves[1:]]
        out.append(
            encode(
                x[:n_obs],
                curves[0][:n_obs],
                x[n_obs:],
                direction="maximize",
                bounds=(0.0, 1.0),
                context=ctx,
                ids=context_ids(len(ctx), rng),
            )
        )
    return out


def _torch_model(path: Path | None, device: Any) -> tuple[Any, Any]:
    """The torch PFN with the weights of ``path`` (None: bundled) and the NumPy model."""
    import json

    import torch

    from curvecast.forecast.pfn import load_model
    from curvecast.train.pfn import ModelConfig, build_model

    np_model = load_model(path)  # the bundled file is checked against its sha256
    cfg = ModelConfig(**json.loads(np_model.meta["config"]))
    model = build_model(cfg, np.array(np_model.borders))
    state = {
        k: torch.as_tensor(np.array(v), dtype=torch.float32) for k, v in np_model.params.items()
    }
    state["borders"] = torch.as_tensor(np.array(np_model.borders), dtype=torch.float32)
    model.load_state_dict(state, strict=True)
    return model.to(device).eval(), np_model


def _batch(encs: list[Any], size: int, device: Any) -> dict[str, Any]:
    """``size`` curves (``encs`` repeated) collated and moved to ``device``."""
    import torch

    from curvecast.train.pfn import collate

    reps = [(e, np.zeros(e.x_query.shape[0])) for e in encs]
    base = collate(reps)
    idx = np.arange(size) % len(encs)
    return {k: torch.as_tensor(v[idx], device=device) for k, v in base.items()}


def _time_gpu(model: Any, batch: dict[str, Any], warmup: int, repeats: int, bf16: bool) -> float:
    """Median seconds of one batched forward pass."""
    import torch

    def once() -> None:
        with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16, enabled=bf16):
            model(batch)

    for _ in range(warmup):
        once()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        once()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _time_cpu(fn: Any, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--weights", type=Path, default=None, help="PFN safetensors (default: bundled)")
    p.add_argument("--batch-sizes", default="1,64,1024,8192", help="comma-separated curve counts")
    p.add_argument("--n-obs", type=int, default=32, help="observed points per curve (default 32)")
    p.add_argument("--n-query", type=int, default=32, help="query points per curve (default 32)")
    p.add_argument("--context", type=int, default=0, help="context curves per curve (default 0)")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--cpu-repeats", type=int, default=200, help="NumPy single-curve repeats")
    p.add_argument("--bf16", action="store_true", help="also time bfloat16 autocast")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]
    if not sizes or min(sizes) < 1 or min(args.n_obs, args.n_query) < 1 or args.context < 0:
        p.error("batch sizes, --n-obs and --n-query must be positive; --context 0 or more")

    try:
        import torch
    except ImportError:
        print("pfn_gpu_throughput: torch is not installed; this script needs torch with CUDA.")
        return 2
    if not torch.cuda.is_available():
        print("pfn_gpu_throughput: no CUDA device found (torch.cuda.is_available() is False).")
        return 2
    device = torch.device("cuda")
    model, np_model = _torch_model(args.weights, device)
    encs = _curves(64, args.n_obs, args.n_query, args.context, seed=0)

    check = _batch(encs[:8], 8, device)  # torch on the GPU vs the NumPy forward pass
    with torch.inference_mode():
        logits = model(check).float().cpu().numpy()
    diff = max(float(np.abs(logits[k] - np_model.logits(e)).max()) for k, e in enumerate(encs[:8]))

    rows = []
    for size in sizes:
        batch = _batch(encs, size, device)
        t32 = _time_gpu(model, batch, args.warmup, args.repeats, bf16=False)
        t16 = _time_gpu(model, batch, args.warmup, args.repeats, bf16=True) if args.bf16 else None
        rows.append((size, t32, t16))
        del batch
    torch.cuda.empty_cache()

    from curvecast.curves import Curve
    from curvecast.forecast.pfn import PFNForecaster

    enc0 = encs[0]
    t_np = _time_cpu(lambda: np_model.logits(enc0), args.cpu_repeats)
    x = np.arange(1.0, args.n_obs + args.n_query + 1.0)
    y = 0.9 - 0.6 * x**-0.5
    curve = Curve(x[: args.n_obs], y[: args.n_obs], bounds=(0.0, 1.0))
    ctx = [Curve(x, y - 0.01 * (i + 1), bounds=(0.0, 1.0)) for i in range(args.context)]
    fc = PFNForecaster(weights=args.weights)
    rng = np.random.default_rng(0)
    t_fc = _time_cpu(
        lambda: fc.forecast(curve, x[args.n_obs :], rng=rng, context=ctx), args.cpu_repeats
    )

    name = str(args.weights) if args.weights else "bundled pfn.safetensors"
    print(
        f"PFN forward throughput: {torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    )
    print(
        f"weights {name}; {args.n_obs} observed points, {args.n_query} queries, "
        f"{args.context} context curves per curve; median of {args.repeats} timed passes after "
        f"{args.warmup} warm-up; torch-vs-NumPy max |logit diff| {diff:.2e}\n"
    )
    head = "| batch (curves) | fp32 ms/batch | fp32 curves/s |"
    sep = "| ---: | ---: | ---: |"
    if args.bf16:
        head += " bf16 ms/batch | bf16 curves/s |"
        sep += " ---: | ---: |"
    print(head)
    print(sep)
    for size, t32, t16 in rows:
        line = f"| {size} | {t32 * 1e3:.3f} | {size / t32:,.0f} |"
        if t16 is not None:
            line += f" {t16 * 1e3:.3f} | {size / t16:,.0f} |"
        print(line)
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(
        f"\nCPU (NumPy, one curve, OMP_NUM_THREADS={threads}): forward pass "
        f"{t_np * 1e3:.3f} ms ({1 / t_np:,.0f} curves/s); whole PFNForecaster.forecast "
        f"{t_fc * 1e3:.3f} ms ({1 / t_fc:,.0f} curves/s); median of {args.cpu_repeats}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
