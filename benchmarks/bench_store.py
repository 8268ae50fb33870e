"""The result store: a first `leakscan scan --store` over corpus files, then a re-run over the same unchanged files.

Both runs are the real CLI in a fresh process (start-up included), over the same manifest (`--files-from`),
in the same run of this script: the first run is the baseline. Printed: wall time and files/s of each, the
speed-up, how many files the re-run answered from the store (the rest had an error in the first run, so
they are scanned again by design), and whether every decision is the same. A third run over copies of the
files in a temporary folder (new paths and stat, same bytes) measures the sha256 path; the corpus itself is
never modified. Goal: re-run >= 5x faster than the first.

    .venv/bin/python benchmarks/bench_store.py [--files 40] [--jobs 1] [--detectors all]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _corpus import corpus_dir, manifest

ROOT = Path(__file__).resolve().parents[1]
GOAL = 5.0


def pick(corpus: Path, n: int) -> list[Path]:
    """`n` corpus files spread over the whole manifest (every kind), in manifest order."""
    rows = manifest(corpus)
    step = max(1, len(rows) // max(1, n))
    return [corpus / r["relpath"] for r in rows[::step]][:n]


def run(tmp: Path, label: str, args: list[str]) -> tuple[float, dict[str, str], str]:
    """Wall seconds, path -> decision, and the progress line of one CLI run."""
    out = tmp / f"{label}.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEAKSCAN_AUDIT_DB": "off"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "scanner", "scan", *args, "--format", "jsonl", "-o", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"{label}: exit {done.returncode}: {done.stderr[-2000:]}")
    decisions = {r["path"]: r["decision"] for r in map(json.loads, out.read_text("utf-8").splitlines())}
    progress = [line for line in done.stderr.splitlines() if "files/s" in line]
    return wall, decisions, progress[-1] if progress else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--detectors", default="all")
    opts = ap.parse_args()
    corpus = corpus_dir()
    files = pick(corpus, opts.files)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        listing = tmp / "list.txt"
        listing.write_text("".join(f"{p}\n" for p in files), "utf-8")
        args = ["--files-from", str(listing), "--store", str(tmp / "store.sqlite"), "-j", str(opts.jobs),
                "--detectors", opts.detectors]
        first, d1, p1 = run(tmp, "first", args)
        second, d2, p2 = run(tmp, "rerun", args)
        (tmp / "copies").mkdir()
        copies = {str(tmp / "copies" / f"{i:04}{p.suffix}"): str(p) for i, p in enumerate(files)}
        for copy, original in copies.items():  # new path and stat, same bytes: answered by sha256
            shutil.copyfile(original, copy)
        listing.write_text("".join(f"{c}\n" for c in copies), "utf-8")
        third, copied, p3 = run(tmp, "copies", args)
        d3 = {copies.get(path, path): d for path, d in copied.items()}
    n = len(d1)
    print(f"files: {n} from {corpus} (--jobs {opts.jobs}, --detectors {opts.detectors}); 2 shared cores")
    for label, wall, line in (("first run (baseline)", first, p1), ("re-run, unchanged", second, p2),
                              ("copies (by sha256)", third, p3)):
        print(f"  {label:22} {wall:7.2f} s  {n / wall:7.2f} files/s   [{line.removeprefix('leakscan: ')}]")
    speedup = first / second
    print(f"re-run speed-up: {speedup:.1f}x (goal >= {GOAL:g}x: {'met' if speedup >= GOAL else 'NOT met'}); "
          f"copies: {first / third:.1f}x")
    same = d1 == d2 == d3
    print(f"same decisions in all three runs: {same}")
    if not same:
        print("  differ:", sorted(p for p in d1 if not d1[p] == d2.get(p) == d3.get(p))[:10])


if __name__ == "__main__":
    main()
