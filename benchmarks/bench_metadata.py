"""GPS recall/precision on the dev corpus against MANIFEST.csv, and metadata-pass speed vs exiftool.

    .venv/bin/python benchmarks/bench_metadata.py [--repeat 3]

Ground truth is exiftool 12.57's `-GPSLatitude -GPSLongitude` (see the corpus README). Every
disagreement is listed with what leakscan saw, so a label that misses (e.g. XMP-only GPS) is visible.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from _corpus import corpus_dir, manifest

from scanner import Settings, scan

ROOT = Path(__file__).resolve().parents[1]


def gps_quality(root: Path, rows: list[dict[str, str]]) -> None:
    settings = Settings(detectors=("metadata",), jobs=1)
    report = {r.path: r for r in scan([str(root / row["relpath"]) for row in rows], settings).files}
    per_format: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    problems = []
    for row in rows:
        rep = report[str(root / row["relpath"])]
        found = [f for f in rep.findings if f.rule_id == "metadata.gps"]
        truth = row["has_gps"] == "yes"
        c = per_format[row["format"]]
        if truth and found:
            c["tp"] += 1
            lat, lon = float(row["gps_lat"]), float(row["gps_lon"])
            if not any(abs(abs(float(f.evidence["lat"] or 0)) - abs(lat)) < 1e-3
                       and abs(abs(float(f.evidence["lon"] or 0)) - abs(lon)) < 1e-3 for f in found):
                problems.append(("position differs", row["relpath"], found[0].message))
        elif truth:
            c["fn"] += 1
            problems.append(("MISSED", row["relpath"], "; ".join(e.message for e in rep.errors)))
        elif found:
            c["fp"] += 1
            problems.append(("extra", row["relpath"], f"{found[0].message} [{found[0].location}]"))
        else:
            c["tn"] += 1
        if rep.errors:
            c["errors"] += 1
    total: collections.Counter[str] = collections.Counter()
    print(f"{'format':14} {'files':>5} {'gps':>4} {'tp':>3} {'fn':>3} {'fp':>3} {'errors':>6}")
    for fmt, c in sorted(per_format.items()):
        total.update(c)
        n = sum(c[k] for k in ("tp", "fn", "fp", "tn"))
        print(f"{fmt:14} {n:5} {c['tp'] + c['fn']:4} {c['tp']:3} {c['fn']:3} {c['fp']:3} {c['errors']:6}")
    recall = total["tp"] / max(1, total["tp"] + total["fn"])
    precision = total["tp"] / max(1, total["tp"] + total["fp"])
    print(f"GPS recall {recall:.1%} ({total['tp']}/{total['tp'] + total['fn']}), "
          f"precision {precision:.1%}, extra {total['fp']}")
    for kind, path, detail in problems:
        print(f"  {kind:16} {path}: {detail}")


IDENTITY_KEYS = {"SerialNumber", "InternalSerialNumber", "LensSerialNumber", "OwnerName", "Artist", "Creator",
                 "Copyright", "CopyrightNotice", "By-line", "Credit", "City", "Country-PrimaryLocationName",
                 "Province-State", "Sub-location", "Country", "Location", "XPAuthor", "ImageUniqueID", "CameraID",
                 "Rights", "Writer-Editor", "HostComputer", "LastModifiedBy", "Company", "Initial-creator", "Manager"}


def identity_quality(root: Path, rows: list[dict[str, str]]) -> None:
    """Recall of metadata.identity on files whose label lists an identity-bearing tag (exiftool -G1 -a -u)."""
    settings = Settings(detectors=("metadata",), jobs=1)
    labelled = {str(root / r["relpath"]): {p.split("=")[0] for p in r["other_sensitive_metadata"].split("; ")}
                for r in rows}
    hits = misses = extra = 0
    missed = []
    for rep in scan(list(labelled), settings).files:
        want = labelled[rep.path] & IDENTITY_KEYS
        got = any(f.rule_id == "metadata.identity" for f in rep.findings)
        if not rep.kind or not rep.kind.startswith("image/"):
            continue
        if want and got:
            hits += 1
        elif want:
            misses += 1
            missed.append(f"{Path(rep.path).name} ({', '.join(sorted(want))})")
        elif got:
            extra += 1
    print(f"\nidentity metadata (images): recall {hits / max(1, hits + misses):.1%} ({hits}/{hits + misses}), "
          f"flagged without a label: {extra}")
    for m in missed:
        print(f"  MISSED {m}")


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def speed(root: Path, n_files: int, repeat: int) -> None:
    leakscan = [str(ROOT / ".venv" / "bin" / "leakscan"), "scan", "--detectors", "metadata", "--format", "jsonl", "-q"]
    no_thumb = Path(tempfile.mkdtemp()) / "no-thumbnail.toml"
    no_thumb.write_text('[rules."metadata.thumbnail"]\nenabled = false\n')
    cores = os.cpu_count()
    runs = {
        "exiftool -n -j -r (1 process)": ["exiftool", "-n", "-j", "-r", str(root)],
        "leakscan metadata, --jobs 1": [*leakscan, "--jobs", "1", str(root)],
        f"leakscan metadata, --jobs {cores}": [*leakscan, "--jobs", "0", str(root)],
        "  same, thumbnail check off, --jobs 1": [*leakscan, "--policy", str(no_thumb), "-j", "1", str(root)],
        f"  same, thumbnail check off, --jobs {cores}": [*leakscan, "--policy", str(no_thumb), "-j", "0", str(root)],
    }
    if not shutil.which("exiftool"):
        print("exiftool not installed: apt-get install libimage-exiftool-perl")
        del runs["exiftool -n -j -r (1 process)"]
    best = {name: min(timed(cmd) for _ in range(repeat)) for name, cmd in runs.items()}
    base = best.get("exiftool -n -j -r (1 process)")
    print(f"\n{n_files} files, best of {repeat}, whole process including start-up:")
    for name, secs in best.items():
        ratio = f"{(n_files / secs) / (n_files / base):.2f}x exiftool" if base else ""
        print(f"  {name:42} {secs:6.2f} s  {n_files / secs:7.1f} files/s  {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = corpus_dir()
    rows = manifest(root)
    gps_quality(root, rows)
    identity_quality(root, rows)
    n_files = sum(1 for p in root.rglob("*") if p.is_file())
    speed(root, n_files, args.repeat)


if __name__ == "__main__":
    main()
