"""Scene cues out of the box (`visual.screen`, `visual.whiteboard`, `visual.document`) on the dev corpus.

Scans every image of the corpus folders below with only the visual detector and no references, the way
`leakscan scan --detectors visual` does, and counts per folder how many files get each cue. The cue a
folder should get is on its row; photo, face and indoor should get none. Skips cleanly when the
corpus is absent. About half a minute on 2 cores.

    .venv/bin/python benchmarks/bench_cues.py [--jobs 2] [--verbose]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _corpus import corpus_dir

from scanner.api import scan_iter
from scanner.config import Settings

EXPECTED = {  # folder -> the cue its images should get ("" = none)
    "screen": "screen", "pos": "screen", "whiteboard": "whiteboard", "receipt": "document",
    "sticky": "", "photo": "", "face": "", "indoor": "",
}
CUES = ("screen", "whiteboard", "document")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--verbose", action="store_true", help="list each file's cues")
    args = ap.parse_args()
    root = corpus_dir()
    settings = Settings(detectors=("visual",), device="cpu", jobs=args.jobs)
    print(f"{'folder':<11} {'files':>5} {'expected':<11} {'hit':>7}  " + "  ".join(f"{c:>10}" for c in CUES)
          + f"  {'no cue':>6}  {'errors':>6}")
    for folder, expected in EXPECTED.items():
        counts: Counter[str] = Counter()
        files = errors = hits = 0
        for report in scan_iter([root / folder], settings):
            if report.kind is None or not report.kind.startswith("image/"):
                continue
            files += 1
            if report.errors:  # not analysed (review): neither a hit nor a correct "no cue"
                errors += 1
                continue
            scenes = {f.rule_id.split(".", 1)[1] for f in report.findings if f.rule_id.split(".", 1)[1] in CUES}
            counts.update(scenes)
            counts["none"] += int(not scenes)
            hits += int(expected in scenes) if expected else int(not scenes)
            if args.verbose:
                print(f"   {Path(report.path).name:<48} {sorted(scenes)}")
        print(f"{folder:<11} {files:>5} {expected or 'none':<11} {hits:>3}/{files:<3}  "
              + "  ".join(f"{counts[c]:>10}" for c in CUES) + f"  {counts['none']:>6}  {errors:>6}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
