"""Fuzz campaign for the metadata detector: seeded mutants of corpus files and fixtures, scanned through
the library API in worker processes with a hard per-mutant time limit, judged against ExifTool.

    .venv/bin/python benchmarks/fuzz_metadata.py [--seed 0] [--count 10000] [--jobs 1] [--out fuzz-out]
        [--timeout 10] [--sources DIR_OR_FILE ...] [--no-corpus] [--summary summary.json]

Mutations (benchmarks/_fuzz_mutators.py): bit flips, truncation, duplicated/removed JPEG segments and
PNG chunks, lying JPEG/PNG/RIFF/ISOBMFF length fields, lying IFD counts/offsets and IFD loops, a ZIP
holding a ZIP appended or placed in a COM/APP15 segment, a private PNG chunk or a RIFF chunk.
Mutant i depends only on (seed, i), so any mutant can be rebuilt. Failures, by class:

    crash   an exception escaped scanner.scan, a worker died, or the report has an `internal` error
    hang    the scan of one mutant ran past --timeout seconds (the worker is killed)
    unsafe  `approve` while ExifTool (-n -j -G1 -a -ee -fast, once per batch) reads a GPS coordinate,
            or while an archive is embedded (the ZIP placed there is still whole, or zipfile reads the file)

The first --keep failing mutants per class and mutation are copied to --out with index.jsonl
(source, mutation, what leakscan said, what ExifTool said). Sources: the project's metadata fixtures
(built into a temporary folder) and the corpus's images ($LEAKSCAN_CORPUS; left out when absent).
"""

from __future__ import annotations

import argparse
import collections
import importlib
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import _exiftool
import _fuzz_mutators as mut
from _corpus import default_corpus
from _fuzz_pool import Outcome, WatchdogPool

ROOT = Path(__file__).resolve().parents[1]
MAX_SOURCE_BYTES = 4_000_000   # bigger files make slow mutants without new structure
MIN_SOURCE_BYTES = 64
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"II*\x00", b"MM\x00*")
CLASSES = ("crash", "hang", "unsafe_gps", "unsafe_archive")


@dataclass(frozen=True, slots=True)
class Judged:
    """One mutant's outcome and the failure classes it falls in."""

    index: int
    source: str
    mutation: str
    coords: tuple[str, ...]
    exiftool_error: str
    archive: bool
    outcome: Outcome
    classes: tuple[str, ...]

    @property
    def seen(self) -> str:
        """What ExifTool (and the archive check) saw: the row this mutant counts under."""
        parts = (["coordinate"] if self.coords else []) + (["archive"] if self.archive else [])
        return "+".join(parts) or ("exiftool error" if self.exiftool_error else "nothing")


def _looks_like_image(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(12)
    return head.startswith(IMAGE_MAGIC) or head[4:8] == b"ftyp"


def sources(paths: Sequence[Path]) -> list[Path]:
    """Image files under `paths` (files or folders), of a size worth mutating, in a stable order."""
    found = [p for path in paths for p in ([path] if path.is_file() else sorted(path.rglob("*"))) if p.is_file()]
    return sorted({p for p in found if MIN_SOURCE_BYTES <= p.stat().st_size <= MAX_SOURCE_BYTES
                   and _looks_like_image(p)})


def default_sources(tmp: Path, use_corpus: bool) -> list[Path]:
    sys.path.insert(0, str(ROOT))
    importlib.import_module("fixtures.metadata_fixtures").build(tmp / "fixtures")
    roots = [tmp / "fixtures"]
    corpus = default_corpus()
    if use_corpus and (corpus / "MANIFEST.csv").is_file():
        roots.append(corpus)
    elif use_corpus:
        print(f"SKIP corpus: none at {corpus} (set LEAKSCAN_CORPUS); fixtures only")
    return sources(roots)


def make_mutant(seed: int, index: int, pool: Sequence[Path], cache: dict[Path, bytes]) -> tuple[Path, mut.Mutant]:
    rng = random.Random(f"{seed}:{index}")
    source = rng.choice(pool)
    if source not in cache:
        cache[source] = source.read_bytes()
    return source, mut.mutate(rng, cache[source])


def judge(index: int, source: Path, mutant: mut.Mutant, record: dict[str, object], outcome: Outcome) -> Judged:
    coords = tuple(c.describe() for c in _exiftool.parse_record(record))
    archive = mut.archive_inside(mutant)
    classes = []
    if outcome.crash or "internal" in outcome.error_codes:
        classes.append("crash")
    if outcome.hang:
        classes.append("hang")
    if outcome.decision == "approve" and coords:
        classes.append("unsafe_gps")
    if outcome.decision == "approve" and archive:
        classes.append("unsafe_archive")
    error = str(record.get("ExifTool:Error", ""))
    return Judged(index, source.name, mutant.mutation, coords, error, archive, outcome, tuple(classes))


class Campaign:
    """Runs the batches and keeps the counts and the first failing mutants."""

    def __init__(self, args: argparse.Namespace, pool: list[Path]) -> None:
        self.args, self.pool = args, pool
        self.cache: dict[Path, bytes] = {}
        self.results: list[Judged] = []
        self.kept: collections.Counter[tuple[str, str]] = collections.Counter()
        self.t0 = time.perf_counter()
        args.out.mkdir(parents=True, exist_ok=True)
        self.index = (args.out / "index.jsonl").open("w", encoding="utf-8")

    def run(self) -> None:
        with WatchdogPool(self.args.jobs, self.args.timeout) as workers, tempfile.TemporaryDirectory() as tmp:
            for start in range(0, self.args.count, self.args.batch):
                stop = min(self.args.count, start + self.args.batch)
                self._batch(workers, Path(tmp), range(start, stop))
                print(f"  {stop}/{self.args.count} mutants, {time.perf_counter() - self.t0:.0f} s", file=sys.stderr)
        self.index.close()

    def _batch(self, workers: WatchdogPool, tmp: Path, indices: range) -> None:
        batch_dir = tmp / f"batch{indices.start}"
        batch_dir.mkdir()
        made = {}
        for i in indices:
            source, mutant = make_mutant(self.args.seed, i, self.pool, self.cache)
            path = batch_dir / f"{i:06d}{source.suffix.lower()}"
            path.write_bytes(mutant.data)
            made[path] = (i, source, mutant)
        records = _exiftool.read_records(list(made), ("-fast", "-ExifTool:Error"))
        outcomes = workers.scan_all([str(p) for p in made])
        for path, (i, source, mutant) in made.items():
            judged = judge(i, source, mutant, records.get(path, {}), outcomes[str(path)])
            self.results.append(judged)
            self._keep(path, judged)
        shutil.rmtree(batch_dir)

    def _keep(self, path: Path, judged: Judged) -> None:
        for cls in judged.classes:
            key = (cls, judged.mutation.partition("+")[0])
            if self.kept[key] >= self.args.keep:
                continue
            self.kept[key] += 1
            target = self.args.out / cls / path.name.replace(".", f"_{judged.mutation}.", 1)
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(path, target)
            entry = {**asdict(judged), "class": cls, "file": str(target.relative_to(self.args.out)),
                     "seed": self.args.seed}
            self.index.write(json.dumps(entry, default=str) + "\n")


def _row(label: str, group: list[Judged]) -> str:
    c = collections.Counter(cls for j in group for cls in j.classes)
    approved = sum(1 for j in group if j.outcome.decision == "approve")
    return (f"{label:24} {len(group):7} {approved:7} {c['crash']:6} {c['hang']:5} {c['unsafe_gps']:10} "
            f"{c['unsafe_archive']:14}")


def report(results: list[Judged]) -> dict[str, int]:
    header = f"{'':24} {'mutants':>7} {'approve':>7} {'crash':>6} {'hang':>5} {'unsafe_gps':>10} {'unsafe_archive':>14}"
    for title, labels in (("by mutation", [j.mutation.partition("+")[0] for j in results]),
                          ("by what ExifTool saw", [j.seen for j in results])):
        groups: dict[str, list[Judged]] = collections.defaultdict(list)
        for label, j in zip(labels, results, strict=True):
            groups[label].append(j)
        print(f"\n{title}\n{header}")
        for label in sorted(groups):
            print(_row(label, groups[label]))
    print(_row("TOTAL", results))
    totals = collections.Counter(cls for j in results for cls in j.classes)
    summary = {"mutants": len(results), **{cls: totals[cls] for cls in CLASSES},
               "exiftool_coordinate": sum(1 for j in results if j.coords),
               "archive": sum(1 for j in results if j.archive),
               "approve": sum(1 for j in results if j.outcome.decision == "approve")}
    print("\n" + ", ".join(f"{k} {v}" for k, v in summary.items()))
    return summary


def examples(results: list[Judged], per_class: int = 3) -> None:
    for cls in CLASSES:
        for j in [j for j in results if cls in j.classes][:per_class]:
            o = j.outcome
            said = o.crash or ("hang" if o.hang else f"{o.decision} {list(o.rules)} {list(o.errors)}")
            print(f"  {cls:14} #{j.index} {j.source} [{j.mutation}]: leakscan {said}; "
                  f"exiftool {', '.join(j.coords) or j.exiftool_error or 'no coordinate'}; archive {j.archive}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--out", type=Path, default=Path("fuzz-out"), help="failing mutants and index.jsonl")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per mutant before it is a hang")
    parser.add_argument("--batch", type=int, default=200, help="mutants per ExifTool run")
    parser.add_argument("--keep", type=int, default=3, help="failing mutants kept per class and mutation")
    parser.add_argument("--sources", type=Path, nargs="*", help="files or folders to mutate (default: fixtures "
                        "and corpus)")
    parser.add_argument("--no-corpus", action="store_true", help="default sources: the fixtures only")
    parser.add_argument("--summary", type=Path, help="write the totals as JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not _exiftool.available():
        print("SKIP: exiftool not installed (apt-get install libimage-exiftool-perl)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        pool = sources(args.sources) if args.sources else default_sources(Path(tmp), not args.no_corpus)
        print(f"{len(pool)} source files, {args.count} mutants, seed {args.seed}, {args.jobs} jobs, "
              f"timeout {args.timeout:g} s")
        campaign = Campaign(args, pool)
        campaign.run()
    elapsed = time.perf_counter() - campaign.t0
    summary = report(campaign.results)
    print(f"{elapsed:.0f} s, {len(campaign.results) / max(elapsed, 1e-9):.1f} mutants/s; first examples:")
    examples(campaign.results)
    print(f"failing mutants (first {args.keep} per class and mutation): {args.out}/index.jsonl")
    if args.summary:
        args.summary.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
