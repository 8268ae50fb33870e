"""Same place, new photo: restricted-place recall with and without local features (SIFT + RANSAC), same run.

Enrols the corpus folders serverroom, lab, prototype as restricted and indoor as allowed (as
bench_visual.py does), then measures, once with `local_features = false` (the embedding alone, the
baseline) and once with it on:

  leave-one-out   every restricted photo scored by a gallery without it (the `refs check` table)
  scenes          the corpus's multi-photo scenes (one photo left out, the rest of its scene enrolled)
  views           generated new photos of each enrolled reference: a 55% crop, a 15-degree rotation,
                  relit (darker, flatter), a perspective change, and all of them at once (hard)
  false matches   indoor photos left out, generated views of the indoor photos, photo/face outsiders

Same-place recall = scenes + views. `--sides 640,480,400` measures local features with SIFT run at each
of those longest sides (queries and references alike) in the same run; the default is local.SIDE.
Skips cleanly when the corpus is absent. Timings are measured in this run (shared CPUs: compare the
ratios, not the seconds).

    .venv/bin/python benchmarks/bench_same_place.py [--corpus DIR] [--sides 640,480] [--verbose]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _corpus import default_corpus
from bench_visual import ALLOWED, OUTSIDERS, RESTRICTED, link_refs, outsiders
from PIL import Image, ImageEnhance

from scanner import media
from scanner.config import Settings
from scanner.engines.embedder import build_embedder
from scanner.visual.gallery import Gallery, Match
from scanner.visual.local import SIDE, KeypointCache, Keypoints, extract, inliers, reference_keypoints
from scanner.visual.options import VisualOptions
from scanner.visual.store import DECODE_SIDE

# photos of one scene (same device, same cabling run), by file-name prefix within a corpus folder
SCENES = ("serverroom/sysnet__cabling-", "prototype/uniremote__", "prototype/schmor__prototype", "lab/rusimova__",
          "lab/chemlab__")


def perspective(pic: Image.Image, strength: float) -> Image.Image:
    import cv2

    w, h = pic.size
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    s = strength
    dst = np.array([[w * s, h * s * 0.5], [w * (1 - s * 0.3), 0], [w, h], [w * s * 0.4, h * (1 - s * 0.6)]], np.float32)
    warped = cv2.warpPerspective(np.asarray(pic), cv2.getPerspectiveTransform(src, dst), (w, h),
                                 borderMode=cv2.BORDER_REFLECT)
    return Image.fromarray(warped)


def crop(pic: Image.Image, frac: float, x: float, y: float) -> Image.Image:
    w, h = pic.size
    cw, ch = int(w * frac), int(h * frac)
    box = (int((w - cw) * x), int((h - ch) * y))
    out = pic.crop((box[0], box[1], box[0] + cw, box[1] + ch))
    return out.resize((w, h), Image.Resampling.BICUBIC)  # the same scene, closer


def relight(pic: Image.Image) -> Image.Image:
    return ImageEnhance.Contrast(ImageEnhance.Brightness(pic).enhance(0.55)).enhance(0.7)


VIEWS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "crop55": lambda p: crop(p, 0.55, 0.3, 0.6),
    "rotate15": lambda p: p.rotate(15, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(0, 0, 0)),
    "relit": relight,
    "perspective": lambda p: perspective(p, 0.18),
    "hard": lambda p: relight(perspective(crop(p, 0.6, 0.8, 0.2), 0.12).rotate(
        -12, resample=Image.Resampling.BICUBIC, fillcolor=(0, 0, 0))),
}


class Queries:
    """Pictures -> embeddings and keypoints, timed."""

    def __init__(self, embedder: object, max_keypoints: int, sides: list[int]) -> None:
        self.embedder, self.max_keypoints, self.sides = embedder, max_keypoints, sides
        self.embed_s = 0.0
        self.local_s = dict.fromkeys(sides, 0.0)
        self.count = 0

    def run(self, pictures: list[Image.Image]) -> tuple[np.ndarray, np.ndarray, dict[int, list[Keypoints]]]:
        e = self.embedder
        t0 = time.perf_counter()
        emb = e.embed_arrays(np.stack([e.prepare(p) for p in pictures]))  # type: ignore[attr-defined]
        self.embed_s += time.perf_counter() - t0
        kps: dict[int, list[Keypoints]] = {}
        for side in self.sides:
            t1 = time.perf_counter()
            kps[side] = [extract(p, self.max_keypoints, side) for p in pictures]
            self.local_s[side] += time.perf_counter() - t1
        self.count += len(pictures)
        return emb.features, emb.patches, kps


def label_of(m: Match | None) -> str:
    if m is None:
        return "-"
    return m.label + (f" ({m.inliers} inliers)" if m.inliers is not None else "")


def most_inliers(g: Gallery, feats: np.ndarray, kps: list[Keypoints], exclude: list[int] | None = None) -> int:
    assert g.keypoints is not None
    sims = g.similarities(feats[:, None, :])
    best = 0
    for n, kp in enumerate(kps):
        row = sims[n].copy()
        if exclude is not None:
            row[exclude[n]] = -np.inf
        for i in np.argsort(-row)[: g.options.local_top_k]:
            if g.label_of[i] >= 0:
                best = max(best, inliers(kp, g.keypoints[int(i)]))
    return best


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(default_corpus()))
    ap.add_argument("--verbose", action="store_true", help="list every query and what it matched")
    ap.add_argument("--sides", default=str(SIDE), help="longest sides to run SIFT at, comma-separated")
    args = ap.parse_args()
    sides = [int(x) for x in args.sides.split(",")]
    corpus = Path(args.corpus)
    if not all((corpus / d).is_dir() for d in RESTRICTED + ALLOWED + OUTSIDERS):
        print(f"SKIP: corpus not found at {corpus}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        refs = Path(tmp) / "refs"
        link_refs(corpus, refs)
        embedder = build_embedder(Settings(device="cpu", sections={"visual": {"model": "lite2"}}))
        local = VisualOptions(refs=refs, local_features=True)
        t0 = time.perf_counter()
        g_local = Gallery.load(local, embedder, Path(tmp) / "cache")
        load_s = time.perf_counter() - t0
        assert g_local.keypoints is not None
        g_plain = Gallery(g_local.refs, g_local.views[:, :, :], g_local.cells, replace(local, local_features=False))
        galleries: dict[str, tuple[Gallery, int]] = {"embedding only": (g_plain, 0)}
        for side in sides:
            g = g_local if side == SIDE else Gallery(
                g_local.refs, g_local.views, g_local.cells, local,
                reference_keypoints(g_local.refs, KeypointCache(None), local.max_keypoints, side))
            galleries[f"embedding + local features, SIFT at {side} px"] = (g, side)
        print(f"{len(g_local.refs)} references ({sum(g_local.label_of >= 0)} restricted), gallery with keypoints "
              f"loaded in {load_s:.1f} s; local features: min_inliers={local.min_inliers} "
              f"top_k={local.local_top_k} max_keypoints={local.max_keypoints}")

        queries = Queries(embedder, local.max_keypoints, sides)
        pics = {i: media.decode(r.path.read_bytes(), 200_000_000, DECODE_SIDE, fast_resize=True).convert("RGB")
                for i, r in enumerate(g_local.refs)}
        view_sets: dict[str, list[tuple[int, Image.Image]]] = {}
        for name, fn in VIEWS.items():
            view_sets[name] = [(i, fn(p)) for i, p in pics.items()]
        view_q = {name: queries.run([p for _, p in items]) for name, items in view_sets.items()}
        out_paths = outsiders(corpus)
        out_pics = [media.decode(f.read_bytes(), 200_000_000, DECODE_SIDE, fast_resize=True).convert("RGB")
                    for f in out_paths]
        out_q = queries.run(out_pics)

        rel = {i: f"{r.path.parent.name}/{r.path.name}" for i, r in enumerate(g_local.refs)}
        plain_loo: dict[int, Match | None] = {}
        scene_of = {i: next((s for s in SCENES if rel[i].startswith(s)), None) for i in rel}
        restricted = [i for i in rel if g_local.label_of[i] >= 0]
        allowed = [i for i in rel if g_local.label_of[i] < 0]
        for name, (g, side) in galleries.items():
            t_match = time.perf_counter()
            if g.keypoints is None:
                plain_loo = loo = {i: g.left_out(i) for i in rel}
            else:  # Gallery.left_out with local features: the verified match, else the same head decision
                loo = {i: g.verified(g.keypoints[i], g.ref_sims[i], exclude=i) or plain_loo[i] for i in rel}
            hit = {i: m is not None and m.label == g_local.refs[i].label for i, m in loo.items()}
            per_label = "  ".join(
                f"{lab} {sum(hit[i] for i in restricted if g.refs[i].label == lab)}/"
                f"{sum(1 for i in restricted if g.refs[i].label == lab)}" for lab in g.labels)
            loo_total = sum(hit[i] for i in restricted)
            scenes = [i for i in restricted if scene_of[i] is not None]
            scene_hits = sum(hit[i] for i in scenes)
            view_rows: list[str] = []
            view_hits = view_total = view_false = 0
            per_view: dict[str, str] = {}
            for vname, items in view_sets.items():
                feats, cells, kps = view_q[vname]
                ms = g.match(feats, cells, kps.get(side))
                ok = [m is not None and m.label == g.refs[i].label for (i, _), m in zip(items, ms, strict=True)
                      if g.label_of[i] >= 0]
                fp = [(rel[i], m.label) for (i, _), m in zip(items, ms, strict=True) if g.label_of[i] < 0 and m]
                view_hits += sum(ok)
                view_total += len(ok)
                view_false += len(fp)
                per_view[vname] = f"{sum(ok)}/{len(ok)}"
                view_rows.extend(f"   view {vname} {rel[i]} -> {label_of(m)}"
                                 for (i, _), m in zip(items, ms, strict=True))
            out_m = g.match(out_q[0], out_q[1], out_q[2].get(side))
            out_fp = [(out_paths[k].parent.name + "/" + out_paths[k].name, m) for k, m in enumerate(out_m) if m]
            indoor_fp = [(rel[i], loo[i]) for i in allowed if loo[i] is not None]
            match_s = time.perf_counter() - t_match
            same = scene_hits + view_hits
            same_n = len(scenes) + view_total
            print(f"\n== {name} (matching {match_s:.1f} s)")
            print(f"leave-one-out: {per_label}  | total {loo_total}/{len(restricted)}")
            print(f"same place: {same}/{same_n} ({100 * same / max(1, same_n):.0f}%)  = scenes {scene_hits}/"
                  f"{len(scenes)} + views {view_hits}/{view_total} ("
                  + ", ".join(f"{k} {v}" for k, v in per_view.items()) + ")")
            print(f"false matches: indoor left out {len(indoor_fp)}, indoor views {view_false}, "
                  f"photo/face {len(out_fp)} of {len(out_paths)}")
            for what, m in indoor_fp + out_fp:
                print(f"   false: {what} -> {label_of(m)}")
            if g.keypoints is not None:  # how close the unrelated pictures came: the margin under min_inliers
                print(f"most inliers with a restricted reference in the shortlist: photo/face "
                      f"{most_inliers(g, out_q[0], out_q[2][side])}, indoor left out "
                      f"{most_inliers(g, g.features[allowed], [g.keypoints[i] for i in allowed], allowed)}")
            if args.verbose:
                for i in restricted:
                    print(f"   loo {rel[i]}{' [scene]' if scene_of[i] else ''} -> {label_of(loo[i])}")
                print("\n".join(view_rows))
        n = max(1, queries.count)
        print(f"\nper query picture ({queries.count}): embedding {1000 * queries.embed_s / n:.0f} ms, keypoints "
              + ", ".join(f"{1000 * t / n:.0f} ms at {side} px" for side, t in queries.local_s.items())
              + " (same run)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
