"""Differential GPS check against ExifTool: every file where `exiftool -n` reads a coordinate must get
`metadata.gps` from leakscan (or at least not `approve`). Over the dev corpus and every generated fixture.

    .venv/bin/python benchmarks/bench_exiftool_diff.py [--corpus DIR] [--verbose]

Prints, per source (corpus, fixtures) and per mode: files, files with an ExifTool coordinate, found by
leakscan (metadata.gps), missed (and of those, approved: the unsafe ones), and coordinates only leakscan
reports. Mode `python` is our own readers alone (setting exiftool = "off": the readers' GPS recall against
ExifTool); mode `+exiftool` adds ExifTool as the second reader (exiftool = "auto", one -stay_open process),
and the time per file of both modes, measured in the same run, gives the second reader's cost.
The oracle runs once over all files (`exiftool -n -j -G1 -a -ee -GPS*`). Fixtures include the videos,
XMP sidecars and truncated photos. Without the corpus only the fixtures are checked (and it says so);
without ExifTool it skips.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import _exiftool
from _corpus import default_corpus

from scanner import Decision, FileReport, Settings, scan

ROOT = Path(__file__).resolve().parents[1]
GENERATORS = ("metadata_fixtures", "gps_carriers", "text_fixtures", "visual_fixtures", "hardening_gps",
              "hardening_payloads", "hardening_metadata_text", "truncated_gps", "sidecar_fixtures",
              "video_fixtures", "c2pa_fixtures")  # fixtures/*.py build()
MODES = {"python": "off", "+exiftool": "auto"}  # our readers alone; with ExifTool as the second reader


@dataclass(frozen=True, slots=True)
class Row:
    """One file: what ExifTool read and what leakscan said."""

    path: Path
    coords: tuple[_exiftool.Coordinate, ...]
    report: FileReport

    @property
    def found(self) -> bool:
        return any(f.rule_id == "metadata.gps" for f in self.report.findings)

    @property
    def unsafe(self) -> bool:
        """ExifTool reads a position, leakscan neither reports it nor holds the file back."""
        return bool(self.coords) and not self.found and self.report.decision == Decision.APPROVE

    def describe(self) -> str:
        errors = "; ".join(f"{e.code}: {e.message}" for e in self.report.errors) or "no errors"
        seen = ", ".join(c.describe() for c in self.coords) or "no coordinate"
        return f"{self.path.name}: leakscan {self.report.decision.label} ({errors}); exiftool {seen}"


def fixture_files(out: Path) -> list[Path]:
    """Every file the project's fixture generators write (metadata, GPS carriers, text, visual)."""
    sys.path.insert(0, str(ROOT))
    for name in GENERATORS:  # by name: the generators are not part of the typed benchmark code
        importlib.import_module(f"fixtures.{name}").build(out / name)
    return sorted(p for p in out.rglob("*") if p.is_file())


def corpus_files(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.rglob("*") if p.is_file() and p.name != "MANIFEST.csv")


def differential(paths: Sequence[Path], coords: dict[Path, list[_exiftool.Coordinate]],
                 mode: str) -> tuple[list[Row], float]:
    """Rows for `paths` scanned with exiftool = `mode`, and the scan's wall time (s)."""
    t0 = time.perf_counter()
    settings = Settings(detectors=("metadata",), jobs=1, exiftool=mode)
    reports = {r.path: r for r in scan([str(p) for p in paths], settings).files}
    elapsed = time.perf_counter() - t0
    return [Row(p, tuple(coords[p]), reports[str(p)]) for p in paths], elapsed


def summary(name: str, rows: list[Row], verbose: bool, elapsed: float) -> None:
    with_coord = [r for r in rows if r.coords]
    found = [r for r in with_coord if r.found]
    missed = [r for r in with_coord if not r.found]
    unsafe = [r for r in missed if r.unsafe]
    only_leakscan = [r for r in rows if r.found and not r.coords]
    print(f"{name:19} {len(rows):5} {len(with_coord):14} {len(found):6} {len(missed):6} {len(unsafe):8} "
          f"{len(only_leakscan):14} {1000 * elapsed / max(1, len(rows)):9.1f}")
    for title, group in (("MISSED+APPROVED", unsafe), ("missed (review)", [r for r in missed if not r.unsafe]),
                         ("leakscan only", only_leakscan if verbose else [])):
        for row in group:
            print(f"    {title:16} {row.describe()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=default_corpus())
    parser.add_argument("--verbose", action="store_true", help="also list coordinates only leakscan reports")
    args = parser.parse_args(argv)
    if not _exiftool.available():
        print("SKIP: exiftool not installed (apt-get install libimage-exiftool-perl)")
        return 0
    sources: dict[str, list[Path]] = {}
    if (args.corpus / "MANIFEST.csv").is_file():
        sources["corpus"] = corpus_files(args.corpus)
    else:
        print(f"SKIP corpus: none at {args.corpus} (set LEAKSCAN_CORPUS); fixtures only")
    with tempfile.TemporaryDirectory() as tmp:
        sources["fixtures"] = fixture_files(Path(tmp))
        print(f"{'source, mode':19} {'files':>5} {'exiftool coord':>14} {'found':>6} {'missed':>6} {'approved':>8} "
              f"{'leakscan only':>14} {'ms/file':>9}")
        for name, paths in sources.items():
            coords = _exiftool.coordinates(paths)
            times = {}
            for label, mode in MODES.items():
                rows, times[label] = differential(paths, coords, mode)
                summary(f"{name} {label}", rows, args.verbose, times[label])
            cost = (times["+exiftool"] - times["python"]) / max(1, len(paths))
            print(f"    second reader's cost on {name}: {1000 * cost:+.1f} ms per file "
                  f"({times['+exiftool'] / max(times['python'], 1e-9):.2f}x the metadata scan without it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
