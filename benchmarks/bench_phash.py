"""Known-image matching (`visual.known_image`) on the real dev corpus.

Enrols every 6th corpus image (sorted; JPEG, PNG and WebP from all folders) as a known confidential
file, then queries an edited copy of each one: 50% resize, JPEG quality 70 and 5% cut from one side
(the side rotates), decoded the way the visual detector decodes a scanned file (`media.decode` to
DECODE_SIDE, or to each --sides value to compare). Prints how many are found again (own file nearest,
distance <= the limit), the distance spread, how many of the other, never enrolled corpus images hit
some known file within the limit (false matches), and their nearest distance. Skips cleanly when the
corpus is absent. About a minute on 2 cores.

    .venv/bin/python benchmarks/bench_phash.py [--sides 640,400] [--limit 40]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _corpus import corpus_dir

from scanner import media
from scanner.errors import ScannerError
from scanner.visual.phash import KnownImages
from scanner.visual.store import DECODE_SIDE

SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
MAX_PIXELS = 120_000_000


def edited(image: Image.Image, side: int) -> bytes:
    """50% resize, 5% cut from one side (0 left, 1 top, 2 right, 3 bottom), JPEG q70."""
    w, h = image.width // 2, image.height // 2
    small = image.resize((w, h), Image.Resampling.BILINEAR)
    dx, dy = int(w * 0.05), int(h * 0.05)
    box = [(dx, 0, w, h), (0, dy, w, h), (0, 0, w - dx, h), (0, 0, w, h - dy)][side % 4]
    buf = io.BytesIO()
    small.crop(box).save(buf, "JPEG", quality=70)
    return buf.getvalue()


def corpus_images(root: Path) -> list[Path]:
    out = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in SUFFIXES:
            continue
        try:
            media.decode(path.read_bytes(), MAX_PIXELS, 64)
        except ScannerError:
            continue
        out.append(path)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sides", default=str(DECODE_SIDE), help="decode sides of the query, comma-separated")
    ap.add_argument("--limit", type=int, default=40, help="[visual] known_distance")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning, module="PIL")  # palette transparency notes
    root = corpus_dir()
    images = corpus_images(root)
    known_paths = images[::6]
    others = [p for i, p in enumerate(images) if i % 6]
    with tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(known_paths):
            (Path(tmp) / f"{i:03d}_{path.name}").symlink_to(path)
        known = KnownImages.load(Path(tmp))
        print(f"{len(known)} known images enrolled ({len(known.skipped)} too flat to hash), "
              f"{len(others)} other corpus images; limit {args.limit}/256")
        skipped = {p.resolve() for p in known.skipped}
        for side in (int(s) for s in args.sides.split(",")):
            found, dists, decode_s = 0, [], 0.0
            for i, path in enumerate(known_paths):
                if (Path(tmp) / f"{i:03d}_{path.name}").resolve() in skipped:
                    continue
                source = media.decode(path.read_bytes(), MAX_PIXELS, None)
                data = edited(source, i)
                t0 = time.perf_counter()
                query = media.decode(data, MAX_PIXELS, side, fast_resize=True)
                decode_s += time.perf_counter() - t0
                hit = known.best(query)
                own = hit is not None and hit.path.name.startswith(f"{i:03d}_")
                dists.append(hit.distance if hit is not None and own else 256)
                found += int(own and hit is not None and hit.distance <= args.limit)
            false, nearest = 0, 256
            for path in others:
                data = path.read_bytes()
                t0 = time.perf_counter()
                picture = media.decode(data, MAX_PIXELS, side, fast_resize=True)
                decode_s += time.perf_counter() - t0
                hit = known.best(picture)
                if hit is not None:
                    nearest = min(nearest, hit.distance)
                    false += int(hit.distance <= args.limit)
            d = np.array(dists)
            print(f"query decoded to {side:>4} px: found {found}/{len(d)} (distance median {np.median(d):.0f}, "
                  f"max {d.max()}), false matches {false}/{len(others)} (nearest other {nearest}); "
                  f"decode {1000 * decode_s / (len(d) + len(others)):.1f} ms per image", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
