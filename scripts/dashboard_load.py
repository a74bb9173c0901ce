"""Load the dashboard on loopback and print what clients saw: errors and latency percentiles.

Bounded by design: it talks only to a dashboard it starts itself on 127.0.0.1 (a free port), sends
a fixed number of requests, gives each a timeout, stops the whole run after ``--max-seconds``, and
stops the server when it ends. Nothing leaves the machine.

What it does:

1. writes a synthetic study of ``--trials`` x ``--steps`` (curvecast.dashboard._synthetic; about
   a minute for 1,000 x 50) to an SQLite file, unless the file exists;
2. starts ``python -m curvecast.dashboard`` on it and reads the study page once (the cold read);
3. burst: ``--burst`` requests for the study page at once (fresh connections);
4. mixed: ``--mixed`` requests with ``--in-flight`` at a time: study pages (several pages and
   sorts), trial details, the studies list, the config and a static file;
5. right after: the studies list, the study page and the config once more, and the server is
   still running.

With ``--live``, another process reports to a running trial of the study every 0.2 s during
steps 3-5, as a running search does, so snapshots go stale and are re-read while clients poll.

The machine it runs on matters: on a shared 2-core machine the client, the server and the other
users compete for the same cores; the load average is printed before and after.

    python scripts/dashboard_load.py                       # 1,000 x 50, burst 200, mixed 1,000
    python scripts/dashboard_load.py --live --db /tmp/load.db
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"


@dataclass
class Result:
    path: str
    status: int
    seconds: float
    nbytes: int
    error: str = ""


@dataclass
class Phase:
    name: str
    results: list[Result] = field(default_factory=list)
    wall: float = 0.0

    def report(self) -> str:
        ok = [r for r in self.results if r.status == 200]
        bad = [r for r in self.results if r.status != 200]
        lat = sorted(r.seconds for r in self.results)

        def q(p: float) -> float:
            return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")

        kinds: dict[str, int] = {}
        for r in bad:
            key = f"{r.status} {r.error}".strip()
            kinds[key] = kinds.get(key, 0) + 1
        lines = [
            f"{self.name}: {len(self.results)} requests in {self.wall:.2f} s "
            f"({len(self.results) / max(self.wall, 1e-9):.0f}/s), {len(bad)} errors"
            + (f" {kinds}" if kinds else ""),
            f"  latency p50 {q(0.50) * 1000:.0f} ms, p90 {q(0.90) * 1000:.0f} ms, "
            f"p99 {q(0.99) * 1000:.0f} ms, max {lat[-1] * 1000 if lat else float('nan'):.0f} ms",
        ]
        if ok:
            median = statistics.median(r.nbytes for r in ok)
            lines.append(f"  bytes per answer (gzip): median {median:.0f}")
        return "\n".join(lines)


async def fetch(port: int, path: str, timeout: float, gzip: bool = True) -> Result:
    """One GET on a fresh connection (HTTP/1.1, Connection: close)."""
    started = time.perf_counter()
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(HOST, port)
            enc = "Accept-Encoding: gzip\r\n" if gzip else ""
            head = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n{enc}Connection: close\r\n\r\n"
            writer.write(head.encode())
            await writer.drain()
            data = await reader.read(-1)
        head, _, body = data.partition(b"\r\n\r\n")
        m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
        status = int(m.group(1)) if m else 0
        return Result(path, status, time.perf_counter() - started, len(body))
    except TimeoutError:
        return Result(path, 0, time.perf_counter() - started, 0, "timeout")
    except OSError as exc:
        return Result(path, 0, time.perf_counter() - started, 0, type(exc).__name__)
    finally:
        if writer is not None:
            writer.close()


async def burst(port: int, path: str, n: int, timeout: float) -> Phase:
    phase = Phase(f"burst: {n} x {path} at once")
    t = time.perf_counter()
    phase.results = list(await asyncio.gather(*(fetch(port, path, timeout) for _ in range(n))))
    phase.wall = time.perf_counter() - t
    return phase


def mixed_paths(study: int, n_trials: int, n: int, rng: random.Random) -> list[str]:
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.10:
            out.append(f"/api/studies/{study}")  # an API client: rows and chart in one
        elif r < 0.30:
            out.append(f"/api/studies/{study}/chart")  # the page: the chart ...
        elif r < 0.50:
            offset = 50 * rng.randrange(max(1, n_trials // 50))  # ... and a page of rows
            sort = rng.choice(["number", "-value", "p", "-last_step"])
            out.append(f"/api/studies/{study}?offset={offset}&sort={sort}&chart=0")
        elif r < 0.75:
            out.append(f"/api/studies/{study}/trials/{rng.randrange(n_trials)}")
        elif r < 0.90:
            out.append("/api/studies")
        elif r < 0.95:
            out.append("/api/config")
        else:
            out.append("/static/app.js")
    return out


async def mixed(port: int, paths: list[str], in_flight: int, timeout: float) -> Phase:
    phase = Phase(f"mixed: {len(paths)} requests, {in_flight} in flight")
    gate = asyncio.Semaphore(in_flight)

    async def one(path: str) -> Result:
        async with gate:
            return await fetch(port, path, timeout)

    t = time.perf_counter()
    phase.results = list(await asyncio.gather(*(one(p) for p in paths)))
    phase.wall = time.perf_counter() - t
    return phase


LIVE_WRITER = """
import math, sys, time, optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.load_study(study_name=sys.argv[2], storage=sys.argv[1])
trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-5, 0.3, log=True)})
end = time.monotonic() + float(sys.argv[3])
step = 0
while time.monotonic() < end:
    trial.report(0.9 * (1 - math.exp(-(step + 1) / 8)), step)
    step += 1
    time.sleep(0.2)
print(step)
"""


def start_server(url: str, poll: float, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    err = log.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "curvecast.dashboard", "--storage", url, "--port", "0",
         "--poll", str(poll), "--method", "last_value"],
        stdout=subprocess.DEVNULL,
        stderr=err,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        found = re.search(r"at http://127\.0\.0\.1:(\d+)/", log.read_text())
        if found:
            return proc, int(found.group(1))
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the dashboard did not start: {log.read_text()}")


async def run(args: argparse.Namespace, port: int, study: int, url: str) -> list[Phase]:
    phases = []
    cold = await fetch(port, f"/api/studies/{study}", timeout=120)
    print(
        f"cold read of the study page: {cold.seconds:.2f} s, status {cold.status}, "
        f"{cold.nbytes} bytes gzip"
    )
    raw = await fetch(port, f"/api/studies/{study}", timeout=60, gzip=False)
    print(f"study page without gzip: {raw.nbytes} bytes (before this work: about 2.4 MB)")
    writer = None
    if args.live:
        writer = subprocess.Popen(
            [sys.executable, "-c", LIVE_WRITER, url, "synthetic search", str(args.max_seconds)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await asyncio.sleep(1.0)
    try:
        phases.append(await burst(port, f"/api/studies/{study}", args.burst, args.timeout))
        print(phases[-1].report(), flush=True)
        paths = mixed_paths(study, args.trials, args.mixed, random.Random(0))
        phases.append(await mixed(port, paths, args.in_flight, args.timeout))
        print(phases[-1].report(), flush=True)
        after = Phase("right after")
        t = time.perf_counter()
        for p in ("/api/config", "/api/studies", f"/api/studies/{study}"):
            after.results.append(await fetch(port, p, timeout=10))
        after.wall = time.perf_counter() - t
        phases.append(after)
        print(after.report())
        for r in after.results:
            print(f"  {r.path}: {r.status} in {r.seconds * 1000:.0f} ms")
    finally:
        if writer is not None:
            writer.terminate()
            writer.wait(timeout=10)
    return phases


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=1000)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--db", type=Path, default=None, help="SQLite file (made if missing)")
    p.add_argument("--burst", type=int, default=200)
    p.add_argument("--mixed", type=int, default=1000)
    p.add_argument("--in-flight", type=int, default=200)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    p.add_argument("--poll", type=float, default=2.0, help="the server's refresh interval")
    p.add_argument("--max-seconds", type=float, default=600.0, help="stop the run after this")
    p.add_argument("--live", action="store_true", help="a search reports while clients poll")
    args = p.parse_args(argv)
    for name in ("trials", "steps", "burst", "mixed", "in_flight"):
        if not 1 <= getattr(args, name) <= 100_000:
            p.error(f"--{name.replace('_', '-')} must be in 1..100000")
    if not 1 <= args.max_seconds <= 3600:
        p.error("--max-seconds must be in 1..3600")

    tmp = Path(tempfile.mkdtemp(prefix="curvecast-load-"))
    db = args.db or tmp / "load.db"
    url = f"sqlite:///{db.resolve()}"
    if not db.exists():
        from curvecast.dashboard._synthetic import write_synthetic_study

        t = time.perf_counter()
        write_synthetic_study(url, n_trials=args.trials, n_steps=args.steps, rng=0)
        took = time.perf_counter() - t
        print(f"wrote {args.trials} trials x {args.steps} steps to {db} in {took:.0f} s")
    study = 1
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} CPUs, load average before "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    proc, port = start_server(url, args.poll, tmp / "server.log")
    try:
        phases = asyncio.run(asyncio.wait_for(run(args, port, study, url), args.max_seconds))
        alive = proc.poll() is None
    except TimeoutError:
        print(f"stopped after --max-seconds {args.max_seconds:.0f}")
        return 1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    load = os.getloadavg()
    print(f"server still running after the load: {'yes' if alive else 'NO'}")
    print(f"load average after {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    errors = sum(1 for ph in phases for r in ph.results if r.status != 200)
    log = (tmp / "server.log").read_text()
    warnings = [line for line in log.splitlines() if "warning" in line or "Traceback" in line]
    if warnings:
        print("server log:", *warnings[:10], sep="\n  ")
    return 0 if errors == 0 and alive else 1


if __name__ == "__main__":
    sys.exit(main())
