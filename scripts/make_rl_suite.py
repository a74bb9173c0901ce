"""Generate the held-out ``heldout-rl`` suite: evaluation return of RL agents on classic control.

Every curve is one training run of a stable-baselines3 agent on a gymnasium classic-control task,
its evaluation return (mean over 4 deterministic episodes of at most 200 steps, CartPole-v0's
limit, on a separate environment seeded the same at every evaluation) recorded every 500
environment steps. The direction is maximize and the return has no
bound a forecast may use (CartPole's 500 cap is a property of the task, not of returns in
general). A task is one search: the same algorithm and environment, its runs differing in
hyperparameters drawn at random, each configuration trained with two seeds (so a search holds
seed noise as real ones do):

* ``cartpole-ppo``: PPO on ``CartPole-v1`` (evaluation return 8 to 200), 4 environments,
  10,000 steps;
* ``cartpole-a2c``: A2C on ``CartPole-v1``, 4 environments, 10,000 steps (slower, noisier
  learners: another algorithm's curves on the same task).

Hyperparameters (fixed seed, log-uniform where they span decades): learning rate 1e-4 to 1e-2,
entropy bonus 1e-4 to 3e-2, discount 0.95 to 0.995, policy width 32 or 64 (two hidden layers);
PPO also draws its rollout length (32 to 256 steps per environment), minibatch (64 or 128),
epochs (2 to 8), GAE lambda (0.8 to 0.98) and clip range (0.1 to 0.3); A2C its rollout length
(5 to 32), GAE lambda (0.9 to 1) and value-loss weight (0.25 or 0.5). Torch runs on one thread.

This suite is **held out**: it is for judging curvecast, never for tuning it (docs/benchmarks.md).

Needs ``pip install stable-baselines3 gymnasium`` (for this script only: curvecast does not
depend on them). Usage (about 6 minutes of CPU time on one core; the data ships with curvecast,
so this only reproduces it)::

    nice python scripts/make_rl_suite.py --out src/curvecast/data/rl_suite.json.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import pathlib
import platform
import time
from typing import Any

import numpy as np

SEED = 20261207
EVERY = 500
CONFIGS = 10
SEEDS = 2
N_ENVS = 4
EVAL_EPISODES = 4
EVAL_MAX_STEPS = 200  # evaluation episodes are cut here (CartPole-v0's limit): evals stay cheap
#: task -> (algorithm, gymnasium id, environment steps per run)
TASKS: dict[str, tuple[str, str, int]] = {
    "cartpole-ppo": ("PPO", "CartPole-v1", 10000),
    "cartpole-a2c": ("A2C", "CartPole-v1", 10000),
}


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(f"{math.exp(rng.uniform(math.log(lo), math.log(hi))):.4g}")


def draw(rng: np.random.Generator, algo: str) -> dict[str, Any]:
    """One configuration of ``algo`` (PPO or A2C; see the module docstring for the ranges)."""
    if algo == "PPO":
        return {
            "learning_rate": _loguniform(rng, 1e-4, 1e-2),
            "n_steps": int(rng.choice([32, 64, 128, 256])),
            "batch_size": int(rng.choice([64, 128])),
            "n_epochs": int(rng.choice([2, 4, 8])),
            "gamma": float(rng.choice([0.95, 0.98, 0.99, 0.995])),
            "gae_lambda": float(rng.choice([0.8, 0.9, 0.95, 0.98])),
            "clip_range": float(rng.choice([0.1, 0.2, 0.3])),
            "ent_coef": _loguniform(rng, 1e-4, 3e-2),
            "width": int(rng.choice([32, 64])),
        }
    return {
        "learning_rate": _loguniform(rng, 1e-4, 1e-2),
        "n_steps": int(rng.choice([5, 8, 16, 32])),
        "gamma": float(rng.choice([0.95, 0.98, 0.99, 0.995])),
        "gae_lambda": float(rng.choice([0.9, 0.95, 1.0])),
        "vf_coef": float(rng.choice([0.25, 0.5])),
        "ent_coef": _loguniform(rng, 1e-4, 3e-2),
        "width": int(rng.choice([32, 64])),
    }


def run_rl(algo: str, env_id: str, hp: dict[str, Any], seed: int, steps: int,
           every: int = EVERY) -> tuple[list[int], list[float | None]]:  # fmt: skip
    """Train one agent; (env steps, evaluation returns) every ``every`` env steps."""
    import torch
    from stable_baselines3 import A2C, PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    torch.set_num_threads(1)
    env = make_vec_env(env_id, n_envs=N_ENVS, seed=seed)
    eval_env = make_vec_env(
        env_id, n_envs=EVAL_EPISODES, seed=10_000 + seed,
        env_kwargs={"max_episode_steps": EVAL_MAX_STEPS},
    )  # fmt: skip
    xs: list[int] = []
    ys: list[float | None] = []

    class Every(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps // every > len(xs) and len(xs) < steps // every:
                eval_env.seed(10_000 + seed)  # the same start states at every evaluation
                mean, _ = evaluate_policy(
                    self.model, eval_env, n_eval_episodes=EVAL_EPISODES, deterministic=True
                )
                xs.append((len(xs) + 1) * every)
                ys.append(round(float(mean), 2) if math.isfinite(mean) else None)
            return True

    width = hp["width"]
    kw = {k: v for k, v in hp.items() if k != "width"}
    cls = PPO if algo == "PPO" else A2C
    model = cls(
        "MlpPolicy", env, seed=seed, device="cpu", verbose=0,
        policy_kwargs={"net_arch": [width, width]}, **kw,
    )  # fmt: skip
    model.learn(total_timesteps=steps, callback=Every())
    env.close()
    eval_env.close()
    return xs, ys


def _one(job: tuple[str, str, str, int, int, dict[str, Any], int, int]) -> dict[str, Any]:
    """One run, a JSON-ready dict (a top-level function, so that a pool can call it)."""
    task, algo, env_id, k, s, hp, steps, every = job
    seed = 100 * k + s
    xs, ys = run_rl(algo, env_id, hp, seed, steps, every)
    return {
        "task": task, "config": f"c{k:02d}-s{s}", "x": xs, "y": ys, "seed": seed,
        "hyperparameters": {"algo": algo, "env": env_id, "n_envs": N_ENVS, **hp},
    }  # fmt: skip


def make_runs(configs: int, tasks: dict[str, tuple[str, str, int]] | None = None, *,
              seeds: int = SEEDS, steps_scale: float = 1.0, every: int = EVERY,
              jobs: int = 1, log: Any = None) -> list[dict[str, Any]]:  # fmt: skip
    """The suite's runs: ``configs`` x ``seeds`` per task, JSON-ready dicts.

    Runs are independent (each is seeded), so ``jobs`` processes give the same runs as one.
    ``steps_scale`` and ``every`` shrink the runs (for tests); the defaults make the suite.
    """
    tasks = TASKS if tasks is None else tasks
    todo = []
    for t, (task, (algo, env_id, steps)) in enumerate(tasks.items()):
        rng = np.random.default_rng([SEED, t])
        n = max(int(steps * steps_scale), every)
        for k in range(configs):
            hp = draw(rng, algo)
            todo.extend((task, algo, env_id, k, s, hp, n, every) for s in range(seeds))
    t0 = time.time()
    runs: list[dict[str, Any]] = []
    if jobs > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(jobs) as pool:
            for run in pool.imap(_one, todo):
                runs.append(run)
                _log(log, run, t0)
    else:
        for job in todo:
            runs.append(_one(job))
            _log(log, runs[-1], t0)
    return runs


def _log(log: Any, run: dict[str, Any], t0: float) -> None:
    if log:
        ys = [v for v in run["y"] if v is not None]
        log(f"{time.time() - t0:7.1f}s {run['task']} {run['config']} "
            f"lr={run['hyperparameters']['learning_rate']} final={ys[-1] if ys else None} "
            f"best={max(ys, default=None)}")  # fmt: skip


def main() -> None:
    import gymnasium
    import stable_baselines3
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--out", type=pathlib.Path, default=None)
    ap.add_argument("--configs", type=int, default=CONFIGS, help="configurations per task")
    ap.add_argument("--jobs", type=int, default=1, help="processes (the runs are the same)")
    args = ap.parse_args()
    out = args.out or pathlib.Path("src/curvecast/data/rl_suite.json.gz")
    t0 = time.time()
    runs = make_runs(args.configs, jobs=args.jobs, log=lambda s: print(s, flush=True))
    doc = {
        "description": "curvecast 'heldout-rl' suite (held out: never tune on it): evaluation "
        "return every 500 environment steps of stable-baselines3 PPO and A2C on gymnasium classic "
        "control, random configurations, two seeds each (scripts/make_rl_suite.py)",
        "seed": SEED,
        "stable_baselines3": stable_baselines3.__version__,
        "gymnasium": gymnasium.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "runs": runs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
        fh.write(payload)  # mtime=0: the same runs give the same bytes
    print(f"wrote {len(runs)} runs to {out} in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
