"""The approval service under a bounded loopback load, next to the CLI on the same images in the same run.

Starts `python -m scanner serve --no-auth` on a free 127.0.0.1 port and prints how long it took until
/healthz said ok and how long the first request then took (the workers load their models at start, so
the first request should cost about what later ones do). Then posts every other image once (no cache
hits) from N concurrent clients, and prints throughput, p50/p95/p99 latency, the batches the service
formed, the peak RSS of the server and its workers, and whether every request got a decision. Then
`leakscan scan` over the same files with the same settings, and the ratio of the two per-image costs
(goal: the service adds under 10%).

    python benchmarks/bench_service.py [--clients 4] [--count 40] [--jobs 2] [--detectors metadata,text]
                                       [--max-batch 8] [--max-wait-ms 20] [--unbatched-baseline]

Images: the corpus photos ($LEAKSCAN_CORPUS or ../shared/corpus/dev), else generated fixtures.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from _corpus import corpus_jpegs, default_corpus

ROOT = Path(__file__).resolve().parents[1]


def images(count: int) -> list[Path]:
    found = corpus_jpegs(default_corpus())
    if not found:  # no corpus: generated photos
        sys.path.insert(0, str(ROOT))
        from fixtures import archive_fixtures

        out = Path(tempfile.mkdtemp(prefix="bench-service-"))
        for i, data in enumerate(archive_fixtures.photo_set(count)):
            (out / f"p{i}.jpg").write_bytes(data)
        found = sorted(out.glob("*.jpg"))
    return found[:count]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    """VmHWM of the process and its children (the workers), in MB."""
    total = 0
    pids = [pid]
    for children in Path(f"/proc/{pid}/task").glob("*/children"):  # workers are started by the pool's thread
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def serve(port: int, args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], float]:
    """The server process and the seconds until /healthz said 200."""
    cmd = [sys.executable, "-m", "scanner", "serve", "--no-auth", "--port", str(port), *args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the service did not start")


def batches(port: int) -> str:
    """The batches the service formed, from its /metrics (absent before batching existed)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    count = re.search(r"^leakscan_batch_size_count ([0-9.e+]+)", text, re.M)
    total = re.search(r"^leakscan_batch_size_sum ([0-9.e+]+)", text, re.M)
    if not count or not total or not float(count.group(1)):
        return "batches: not reported"
    n, uploads = float(count.group(1)), float(total.group(1))
    return f"batches: {n:.0f} for {uploads:.0f} uploads (mean {uploads / n:.2f} per batch)"


def post(port: int, path: Path) -> tuple[float, str | None]:
    t0 = time.perf_counter()
    with path.open("rb") as fh:
        r = httpx.post(f"http://127.0.0.1:{port}/v1/scan", files={"file": (path.name, fh)}, timeout=600)
    decision = r.json().get("decision") if r.status_code == 200 else None
    return time.perf_counter() - t0, decision


def run_service(label: str, files: list[Path], flags: list[str], env: dict[str, str], clients: int) -> float:
    """Start a server with `flags`, time its start and first requests, then the load; print; the load's wall time."""
    port = free_port()
    server, ready = serve(port, flags, env)
    try:
        first, _ = post(port, files[0])  # the first request after /healthz said ok (not counted below)
        second, _ = post(port, files[1])  # and a second one, alone too: what a warm worker costs
        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(lambda p: post(port, p), files[2:]))
        wall = time.perf_counter() - t0
        rss = peak_rss_mb(server.pid)
        formed = batches(port)
    finally:
        server.terminate()
        server.wait(30)
    latencies = sorted(t for t, _ in results)
    decided = sum(1 for _, d in results if d in ("approve", "review", "block"))
    q = statistics.quantiles(latencies, n=100)
    n = len(results)
    print(f"{label}: start: /healthz ok after {ready:.1f} s; the first request then took {first:.2f} s, "
          f"a second one alone {second:.2f} s")
    print(f"{label}: {n} images, {clients} clients: {wall:.1f} s = {n / wall:.2f} images/s; "
          f"latency p50 {q[49]:.2f} s, p95 {q[94]:.2f} s, p99 {q[98]:.2f} s; peak RSS {rss:.0f} MB; "
          f"answered with a decision {decided}/{n}; {formed}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--detectors", default="metadata,text")
    ap.add_argument("--max-batch", type=int, help="passed to leakscan serve (default: its own)")
    ap.add_argument("--max-wait-ms", type=float, help="passed to leakscan serve (default: its own)")
    ap.add_argument("--unbatched-baseline", action="store_true",
                    help="also run the same load against a server with --max-batch 1, in this run")
    args = ap.parse_args()
    files = images(args.count)
    # no audit trail: an earlier run's answers would otherwise be served again from it (no scan measured)
    env = {**os.environ, "LEAKSCAN_DETECTORS": args.detectors, "PYTHONPATH": str(ROOT), "LEAKSCAN_AUDIT_DB": "off"}
    flags = ["-j", str(args.jobs)]
    flags += ["--max-batch", str(args.max_batch)] if args.max_batch else []
    flags += ["--max-wait-ms", str(args.max_wait_ms)] if args.max_wait_ms is not None else []
    wall = run_service("service", files, flags, env, args.clients)
    if args.unbatched_baseline:
        alone = run_service("service, --max-batch 1", files, [*flags, "--max-batch", "1"], env, args.clients)
        print(f"batched / unbatched time: {wall / alone:.2f}x")
    n = len(files[2:])
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "scanner", "scan", "-q", "-j", str(args.jobs), "--format", "jsonl",
                    *map(str, files[2:])], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=False)
    cli = time.perf_counter() - t0
    print(f"cli:     {n} images, {args.jobs} workers: {cli:.1f} s = {n / cli:.2f} images/s (start-up included)")
    print(f"service / cli time per image: {wall / cli:.2f}x ({100 * (wall / cli - 1):+.0f}%)")


if __name__ == "__main__":
    main()
