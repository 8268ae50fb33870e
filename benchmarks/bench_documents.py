"""Documents and containers: identity recall on the corpus documents next to ExifTool, and container overhead.

1. Every author / creator / last-modified-by / company / manager name that `MANIFEST.csv` lists for a file
   under `document/` must be reported by leakscan (found as the masked value of a metadata finding somewhere
   in the file's report tree); the same names are looked up in `exiftool -ee -a -G1 -j` output.
2. files/s over the corpus documents (metadata + text detectors, one process).
3. A container's overhead over scanning its members directly (both in-process, same Scanner, same detectors):
   a 50-picture PPTX and a 200-member ZIP of photos. The goal is at most 10%.

    python benchmarks/bench_documents.py [--corpus DIR] [--repeat 3] [--overhead-only]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _corpus import default_corpus

from fixtures import archive_fixtures, office_fixtures
from scanner import Scanner, Settings
from scanner.model import FileReport
from scanner.text.mask import secret
from scanner.text_safety import printable

NAME_KEYS = ("Creator", "LastModifiedBy", "Company", "Manager", "Initial-creator", "Author")
SETTINGS = Settings(detectors=("metadata", "text"), jobs=1)


def expected_names(corpus: Path) -> dict[Path, list[str]]:
    out: dict[Path, list[str]] = {}
    with (corpus / "MANIFEST.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if not row["relpath"].startswith("document/"):
                continue
            names = []
            for part in (row.get("other_sensitive_metadata") or "").split(";"):
                key, _, value = part.strip().partition("=")
                if key in NAME_KEYS and value.strip(" '\""):
                    names.append(value.strip(" '\"").removesuffix("..."))
            out[corpus / row["relpath"]] = names
    return out


def reported_values(report: FileReport) -> set[str]:
    """The masked values of every metadata finding in the tree (identity, device, text ...)."""
    return {str(v) for node in report.walk() for f in node.findings if f.rule_id.startswith("metadata.")
            for v in f.evidence.values()}


def exiftool_values(paths: list[Path]) -> dict[str, str]:
    if not shutil.which("exiftool"):
        return {}
    out = subprocess.run(["exiftool", "-ee", "-a", "-G1", "-j", *map(str, paths)], capture_output=True, text=True,
                         check=False).stdout
    return {row["SourceFile"]: json.dumps(row, ensure_ascii=False) for row in json.loads(out or "[]")}


def mat2_values(paths: list[Path]) -> dict[str, str]:
    """`mat2 --show` per file, where mat2 is installed (Debian's `mat2` package; a peer, not a dependency)."""
    if not shutil.which("mat2"):
        return {}
    return {str(p): subprocess.run(["mat2", "--show", str(p)], capture_output=True, text=True, check=False).stdout
            for p in paths}


def recall(corpus: Path, scanner: Scanner) -> None:
    expected = expected_names(corpus)
    tool = exiftool_values(list(expected))
    peer = mat2_values(list(expected))
    total = ours = theirs = by_mat2 = 0
    t0 = time.perf_counter()
    for path, names in sorted(expected.items()):
        report = scanner.scan_bytes(path.read_bytes(), path.name)
        values = reported_values(report)
        for name in names:
            total += 1
            hit = any(printable(secret(v), 80) in values for v in (name, name.lstrip(">"), f"'{name}'"))
            ours += hit
            theirs += name[:40] in tool.get(str(path), "")
            by_mat2 += name[:40] in peer.get(str(path), "")
            if not hit:
                print(f"  missed by leakscan: {path.name}: {name!r}")
        print(f"  {path.name:36} {report.decision.label:7} parts={sum(1 for _ in report.walk()) - 1:3} "
              f"names={len(names)}")
    seconds = time.perf_counter() - t0
    print(f"names listed in MANIFEST.csv: {total}; reported by leakscan: {ours}; in exiftool -ee output: {theirs}; "
          f"in mat2 --show output: {by_mat2 if peer else 'mat2 not installed'}")
    print(f"corpus documents: {len(expected)} files in {seconds:.2f} s = {len(expected) / seconds:.1f} files/s")


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def overhead(scanner: Scanner, repeat: int) -> None:
    cases = {"pptx, 50 pictures": office_fixtures.pptx(images=50),
             "zip, 200 photos": archive_fixtures.zip_bytes([(f"p/{i}.jpg", d)
                                                             for i, d in enumerate(archive_fixtures.photo_set(200))])}
    for label, data in cases.items():
        with zipfile.ZipFile(io.BytesIO(data)) as zf:  # what unzip would extract: every member
            members = [(n, zf.read(n)) for n in zf.namelist() if not n.endswith("/")]
        scanner.scan_bytes(data, label)  # warm-up (engines, caches)
        whole, parts = [], []
        for _ in range(repeat):  # interleaved, so a busy moment of the machine hits both sides
            whole.append(_timed(lambda d=data, n=label: scanner.scan_bytes(d, n)))  # type: ignore[misc]
            parts.append(_timed(lambda m=members: [scanner.scan_bytes(b, n) for n, b in m]))  # type: ignore[misc]
        w, p = min(whole), min(parts)
        print(f"{label:20} container {w:.3f} s (median {statistics.median(whole):.3f}), its {len(members)} members "
              f"directly {p:.3f} s (median {statistics.median(parts):.3f}), overhead {100 * (w / p - 1):+.1f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--overhead-only", action="store_true", help="only the container overhead (no corpus needed)")
    args = ap.parse_args()
    scanner = Scanner(SETTINGS)
    corpus = args.corpus or default_corpus()
    if not args.overhead_only:
        if not (corpus / "MANIFEST.csv").is_file():
            print(f"SKIP: no corpus at {corpus} (set LEAKSCAN_CORPUS; --overhead-only runs without it)")
            return
        recall(corpus, scanner)
    overhead(scanner, args.repeat)


if __name__ == "__main__":
    main()
