"""Paths given to a Ray engine with --store: handed over in slices (the old way) against listed on the cluster.

    .venv/bin/python benchmarks/bench_ray_given.py [--files 640] [--workers 2] [--folder DIR] [--repeats 2]

`leakscan scan --engine ray --store DB FOLDER` used to walk FOLDER on the driver and hand the Ray engine slices of
64 files a worker, one Ray Data job each (actors and models started again every slice). Now the paths given go
into a list the driver keeps and travel with the shards (`inline`), so the cluster walks FOLDER and everything is
one job. The old way is still the code path of a given path that holds a newline (BatchScan.run with a Ray
engine), so both run here in one process on one local cluster, alternating (slices, listed, listed, slices, ...):
wall seconds each, files/s, the ratio, the number of slices, and whether the decisions agree file by file.

FOLDER defaults to `--files` generated pictures (small noise JPEGs, distinct so no file is answered by another's
sha256): the per-job cost then dominates, as it does over 500,000 files; give `--folder` for real files. No
store is used (nothing is answered from one), so both ways scan every file. Exits 0 with a note without ray.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scanner.batch import SLICE_PER_WORKER, BatchScan, entries
from scanner.config import Settings
from scanner.threads import limit_threads

Outcome = dict[str, str]  # path -> decision


def make_pictures(folder: Path, n: int) -> None:
    """`n` distinct 96 x 72 noise JPEGs."""
    from PIL import Image

    rnd = random.Random(7)
    for i in range(n):
        im = Image.effect_noise((96, 72), 40 + i % 50).convert("RGB")
        im.putpixel((i % 96, (i // 96) % 72), (rnd.randrange(256), 0, 0))
        im.save(folder / f"img{i:05d}.jpg", quality=85)


def slices(engine: object, settings: Settings, folder: Path) -> tuple[float, Outcome]:
    scan = BatchScan(settings, None, engine=engine)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    out = {o.report.path: o.report.decision.label for o in scan.run(entries([str(folder)]))}
    return time.perf_counter() - t0, out


def listed(engine: object, settings: Settings, folder: Path, spool: Path) -> tuple[float, Outcome]:
    listing = spool / "paths.txt"
    listing.write_bytes(os.fsencode(folder) + b"\n")
    scan = BatchScan(settings, None, engine=engine)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    rows = engine.scan_manifest(str(listing), cwd=os.getcwd(), inline=True)  # type: ignore[attr-defined]
    out = {o.report.path: o.report.decision.label for o in scan.run_listed(rows)}
    return time.perf_counter() - t0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=640)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if importlib.util.find_spec("ray") is None:
        print('SKIP: ray is not installed (pip install "leakscan[ray]")')
        return
    limit_threads()
    from scanner.execution.ray_engine import RayEngine

    settings = Settings(audit_db="off", jobs=args.workers)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder.resolve() if args.folder else Path(tmp) / "given"
        if args.folder is None:
            folder.mkdir()
            make_pictures(folder, args.files)
        n = sum(1 for _ in entries([str(folder)]))
        per_slice = max(1, settings.worker_count) * SLICE_PER_WORKER
        print(f"{n} files under {folder}, all detectors, {args.workers} CPUs on a local Ray cluster; "
              f"the old way hands over {math.ceil(n / per_slice)} slices of <= {per_slice} files (a job each)")
        times: dict[str, list[float]] = {"slices": [], "listed": []}
        seen: dict[str, Outcome] = {}
        with RayEngine(settings) as engine:
            for i in range(args.repeats):
                for way in (("slices", "listed") if i % 2 == 0 else ("listed", "slices")):
                    secs, out = slices(engine, settings, folder) if way == "slices" else \
                        listed(engine, settings, folder, Path(tmp))
                    times[way].append(secs)
                    seen.setdefault(way, out)
                    print(f"  {way:<7} {secs:7.1f} s  {len(out) / secs:6.1f} files/s", flush=True)
        best = {way: min(t) for way, t in times.items()}
        print(f"best of {args.repeats}: slices {best['slices']:.1f} s, listed {best['listed']:.1f} s: "
              f"{best['slices'] / best['listed']:.2f}x")
        a, b = seen["slices"], seen["listed"]
        same = sum(a[p] == b.get(p) for p in a)
        print(f"decisions: {same}/{len(a)} the same; {len(b)} reports listed, {len(a)} in slices")


if __name__ == "__main__":
    main()
