"""What still slips through (issue 13): per corpus folder, how many pictures a default scan does not approve
through a finding of the kind the folder is about, and the false positives that kind gives elsewhere.

A default `leakscan scan` (all detectors, no references) over ../shared/corpus/dev. A folder's file counts as
caught when it gets a finding of severity above info whose rule id names one of the folder's kinds (a POS
screen caught only through its GPS does not count; text rules that fire on metadata fields are left out).
False positives: the same rule families on the photos the manifest says are textless (has_text=no) and
people-free (has_faces=no). Files whose analysis failed are shown
apart (they are `review`, but not caught by what they show). Skips cleanly when the corpus is absent.

    .venv/bin/python benchmarks/bench_slips.py [--jobs 2] [--verbose] [--only pos,sticky]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _corpus import corpus_dir, manifest

from scanner.api import scan_iter
from scanner.config import Settings
from scanner.model import FileReport, Severity

# folder -> words that a caught file's rule id contains (text.pos_screen, visual.terminal, faces.badge ...)
KINDS: dict[str, tuple[str, ...]] = {
    "pos": ("pos", "till", "terminal", "receipt", "payment"),
    "whiteboard": ("whiteboard", "board", "notes"),
    "sticky": ("sticky", "notes", "whiteboard", "secret"),
    "badge": ("badge",),
    "face": ("faces.",),
    "screen": ("pos", "till", "screen", "name", "phone", "person"),
}
TEXT_FAMILIES = ("text.",)  # any text rule on a textless photo is a false positive
FACE_FAMILIES = ("faces.",)


def rules(report: FileReport) -> set[str]:
    """Rule ids above info, from what the picture shows: the metadata detector's own text.* findings (an
    e-mail address in an EXIF field) are neither a catch nor a false positive of the picture's content."""
    return {f.rule_id for part in report.walk() for f in part.findings
            if f.severity > Severity.INFO and (f.detector != "metadata" or f.rule_id.startswith("metadata."))}


def caught(found: Iterable[str], words: tuple[str, ...]) -> list[str]:
    return sorted(r for r in found if any(w in r for w in words))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--verbose", action="store_true", help="list each file with the rules it got")
    ap.add_argument("--only", default="", help="comma-separated folders (default: all of them)")
    args = ap.parse_args()
    root = corpus_dir()
    rows = [r for r in manifest(root) if r["kind"] not in ("document",)]
    by_path = {r["relpath"]: r for r in rows}
    folders = [f for f in (args.only.split(",") if args.only else KINDS) if f]
    textless = sorted(p for p, r in by_path.items() if r["has_text"] == "no")
    faceless = sorted(p for p, r in by_path.items() if r["has_faces"] == "no" and r["kind"] not in ("face", "badge"))
    wanted = sorted({p for p, r in by_path.items() if r["relpath"].split("/")[0] in folders}
                    | (set(textless) | set(faceless) if not args.only else set()))
    settings = Settings(device="cpu", jobs=args.jobs)
    started = time.perf_counter()
    got: dict[str, tuple[set[str], bool, str]] = {}
    for report in scan_iter([root / p for p in wanted], settings):
        rel = Path(report.path).resolve().relative_to(root.resolve()).as_posix()
        got[rel] = (rules(report), bool(report.errors), report.decision.name.lower())
    elapsed = time.perf_counter() - started
    print(f"{len(got)} files scanned in {elapsed:.0f} s ({len(got) / elapsed:.2f} files/s, jobs={args.jobs})")
    print(f"{'folder':<11} {'files':>5} {'caught':>7} {'not approved':>13} {'failed':>7}")
    for folder in folders:
        mine = [p for p in sorted(got) if p.split("/")[0] == folder]
        hit = [p for p in mine if caught(got[p][0], KINDS[folder])]
        held = [p for p in mine if got[p][2] != "approve"]
        failed = [p for p in mine if got[p][1]]
        print(f"{folder:<11} {len(mine):>5} {len(hit):>3}/{len(mine):<3} {len(held):>9}/{len(mine):<3} "
              f"{len(failed):>7}")
        if args.verbose:
            for p in mine:
                found, _, decision = got[p]
                mark = "+" if p in hit else "-"
                print(f"   {mark} {decision:<7} {Path(p).name[:56]:<56} {sorted(found)}")
    if not args.only:
        for label, paths, families in (("textless photos, text.* rules", textless, TEXT_FAMILIES),
                                       ("people-free photos, faces.* rules", faceless, FACE_FAMILIES)):
            fps = [p for p in paths if p in got and caught(got[p][0], families)]
            print(f"false positives on {label}: {len(fps)}/{sum(p in got for p in paths)}")
            if args.verbose:
                for p in fps:
                    print(f"   ! {p} {caught(got[p][0], families)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
