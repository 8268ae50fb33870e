"""Engines compared on the same files in one run: local 1 worker, local 2 workers, and on a local Ray cluster
the Ray engine (one actor does every stage) and the split Ray engine (CPU tasks around a model actor pool).

Files: a bounded, evenly spread subset of the dev corpus (every k-th row of MANIFEST.csv, so every kind is
in it), scanned with all detectors and one Settings object (one evidence key), so the reports must agree.
Printed per engine: wall seconds end to end (worker start and model loading included), files/s, and for
each Ray engine the cluster start-up on its own (`ray.init`), which a long-lived cluster pays once; then how many
decisions and rule-id sets agree with local x1, and every file where they do not. The machine is shared:
compare the ratios within one run, not the numbers across runs.

    .venv/bin/python benchmarks/bench_engines.py [--files 40] [--workers 2] [--corpus DIR] [--manifest]

--manifest adds the Ray engine reading the same files from a manifest on the cluster (--files-from LIST).

Exits 0 with a note when the corpus or ray is absent.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _corpus import corpus_dir, manifest

from scanner.config import Settings
from scanner.execution import run
from scanner.model import FileReport
from scanner.threads import limit_threads

Outcome = dict[str, tuple[str, tuple[str, ...]]]  # path -> (decision, sorted rule ids of the reasons)


def pick(root: Path, n: int) -> list[str]:
    """`n` corpus files spread over the whole manifest (sorted by path, every k-th)."""
    rows = sorted(manifest(root), key=lambda r: r["relpath"])
    step = max(1, len(rows) // n)
    return [str(root / r["relpath"]) for r in rows[::step][:n] if (root / r["relpath"]).is_file()]


def outcome(reports: Iterable[FileReport]) -> Outcome:
    return {r.path: (r.decision.label, tuple(sorted({x.rule_id for x in r.verdict.reasons}))) for r in reports}


def local(paths: list[str], settings: Settings) -> tuple[float, Outcome]:
    t0 = time.perf_counter()
    result = outcome(run(paths, settings))
    return time.perf_counter() - t0, result


def on_ray(paths: list[str], settings: Settings, split: bool = False) -> tuple[float, float, Outcome]:
    """(start-up s, scan s, outcome): a local cluster of settings.jobs CPUs started here, then the scan."""
    from scanner.execution.ray_engine import RayEngine
    from scanner.execution.ray_split import SplitRayEngine

    t0 = time.perf_counter()
    with (SplitRayEngine if split else RayEngine)(settings) as engine:
        t1 = time.perf_counter()
        result = outcome(engine.scan(paths))
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1, result


def on_ray_manifest(paths: list[str], settings: Settings, folder: Path) -> tuple[float, float, Outcome]:
    """(start-up s, scan s, outcome): the same files as a manifest that the cluster reads (--files-from LIST)."""
    from scanner.execution.ray_engine import RayEngine

    listing = folder / "manifest.txt"
    listing.write_bytes(b"".join(os.fsencode(p) + b"\n" for p in paths))
    t0 = time.perf_counter()
    with RayEngine(settings) as engine:
        t1 = time.perf_counter()
        reports = [x.report for x in engine.scan_manifest(str(listing), cwd=os.getcwd()) if x.report is not None]
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1, outcome(reports)


def compare(name: str, base: Outcome, other: Outcome) -> None:
    same_decision = sum(base[p][0] == other.get(p, ("missing",))[0] for p in base)
    same_rules = sum(base[p] == other.get(p) for p in base)
    print(f"  {name}: {same_decision}/{len(base)} decisions and {same_rules}/{len(base)} rule sets as local x1")
    for p in sorted(base):
        if base[p] != other.get(p):
            print(f"    differs: {Path(p).name}: local x1 {base[p]} vs {other.get(p)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--manifest", action="store_true", help="also Ray reading a manifest of the same files")
    args = parser.parse_args()
    if importlib.util.find_spec("ray") is None:
        print('SKIP: ray is not installed (pip install "leakscan[ray]")')
        return
    limit_threads()
    root = args.corpus or corpus_dir()
    paths = pick(root, args.files)
    base = Settings(audit_db="off")
    one, many = dataclasses.replace(base, jobs=1), dataclasses.replace(base, jobs=args.workers)
    print(f"{len(paths)} files from {root}, all detectors, shared machine: compare ratios within this run")
    t_one, r_one = local(paths, one)
    t_many, r_many = local(paths, many)
    t_start, t_ray, r_ray = on_ray(paths, many)
    s_start, t_split, r_split = on_ray(paths, many, split=True)
    n, cpus = len(paths), args.workers
    rows = [("local x1", t_one), (f"local x{cpus}", t_many), (f"ray, {cpus} CPUs (scan)", t_ray),
            (f"ray, {cpus} CPUs (+start)", t_start + t_ray), (f"ray-split, {cpus} CPUs (scan)", t_split),
            (f"ray-split, {cpus} CPUs (+start)", s_start + t_split)]
    m_start = 0.0
    if args.manifest:
        with tempfile.TemporaryDirectory() as folder:
            m_start, t_manifest, r_manifest = on_ray_manifest(paths, many, Path(folder))
        rows += [(f"ray manifest, {cpus} CPUs (scan)", t_manifest),
                 (f"ray manifest, {cpus} CPUs (+start)", m_start + t_manifest)]
    print(f"{'engine':<34}{'seconds':>9}{'files/s':>9}{'vs local x1':>13}")
    for name, secs in rows:
        print(f"{name:<34}{secs:9.1f}{n / secs:9.2f}{t_one / secs:12.2f}x")
    starts = f"{t_start:.1f} s (ray), {s_start:.1f} s (ray-split)"
    starts += f", {m_start:.1f} s (ray manifest)" if args.manifest else ""
    print(f"ray cluster start-up alone: {starts}")
    compare(f"local x{args.workers}", r_one, r_many)
    compare("ray", r_one, r_ray)
    compare("ray-split", r_one, r_split)
    if args.manifest:
        compare("ray manifest", r_one, r_manifest)


if __name__ == "__main__":
    main()
