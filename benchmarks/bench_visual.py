"""Restricted-place matching on the real dev corpus: leave-one-out recall per label and false matches.

Enrols /work/shared/corpus/dev/{serverroom,lab,prototype} as restricted and .../indoor as allowed,
then scores every restricted photo against the gallery without it (thresholds recalibrated without
it too), every indoor photo the same way, and every photo/face item as an outsider. Prints one line
per variant (backbone, reference views, patch matching, margin, floor, k). Skips cleanly when the
corpus is absent.

    .venv/bin/python benchmarks/bench_visual.py [--corpus DIR] [--models lite0,lite2] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scanner import media
from scanner.config import Settings
from scanner.engines.embedder import build_embedder
from scanner.errors import ScannerError
from scanner.visual.gallery import IMAGE_SUFFIXES, Gallery, calibrate
from scanner.visual.options import VIEW_NAMES, VisualOptions

RESTRICTED = ("serverroom", "lab", "prototype")
ALLOWED = ("indoor",)
OUTSIDERS = ("photo", "face")


def link_refs(corpus: Path, root: Path) -> None:
    for kind, names in (("restricted", RESTRICTED), ("allowed", ALLOWED)):
        for name in names:
            target = root / kind / name
            target.mkdir(parents=True)
            for f in sorted((corpus / name).iterdir()):
                if f.suffix.lower() in IMAGE_SUFFIXES:
                    (target / f.name).symlink_to(f)


def outsider_embeddings(corpus: Path, embedder: object) -> tuple[list[str], np.ndarray, np.ndarray]:
    names, arrays = [], []
    for kind in OUTSIDERS:
        for f in sorted((corpus / kind).iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                pic = media.decode(f.read_bytes(), 200_000_000, 640)
            except ScannerError:
                continue
            names.append(f"{kind}/{f.name}")
            arrays.append(embedder.prepare(pic))  # type: ignore[attr-defined]
    emb = embedder.embed_arrays(np.stack(arrays))  # type: ignore[attr-defined]
    return names, emb.features, emb.patches


def evaluate(g: Gallery, out_feats: np.ndarray, out_cells: np.ndarray) -> dict[str, object]:
    recall: dict[str, list[int]] = {label: [0, 0] for label in g.labels}
    any_hits = 0
    for i, ref in enumerate(g.refs):
        if ref.kind != "restricted":
            continue
        m = g.decide(g.ref_sims[i], exclude=i, thresholds=calibrate(g, g.ref_sims, skip=i))
        recall[ref.label][1] += 1
        recall[ref.label][0] += int(m is not None and m.label == ref.label)
        any_hits += int(m is not None)
    indoor_fp = []
    for j in np.flatnonzero(g.allowed):
        m = g.decide(g.ref_sims[j], exclude=int(j), thresholds=calibrate(g, g.ref_sims, skip=int(j)))
        if m is not None:
            indoor_fp.append(f"{g.refs[j].path.name}->{m.label}")
    matches = g.match(out_feats, out_cells)
    outsider_fp = [i for i, m in enumerate(matches) if m is not None]
    return {"recall": recall, "any": any_hits, "indoor_fp": indoor_fp, "outsider_fp": outsider_fp}


def line(name: str, r: dict[str, object], names: list[str]) -> str:
    recall = r["recall"]
    assert isinstance(recall, dict)
    total = sum(v[0] for v in recall.values()), sum(v[1] for v in recall.values())
    per = "  ".join(f"{k} {v[0]}/{v[1]}" for k, v in recall.items())
    out_fp = r["outsider_fp"]
    in_fp = r["indoor_fp"]
    assert isinstance(out_fp, list) and isinstance(in_fp, list)
    return (
        f"{name:<44} {per}  | total {total[0]}/{total[1]} ({100 * total[0] / max(1, total[1]):.0f}%)"
        f" any-label {r['any']}  | false: indoor {len(in_fp)} photo/face {len(out_fp)}"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="/work/shared/corpus/dev")
    ap.add_argument("--models", default="lite0,lite2")
    ap.add_argument("--quick", action="store_true", help="only the default variant")
    ap.add_argument("--verbose", action="store_true", help="name the false matches")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not all((corpus / d).is_dir() for d in RESTRICTED + ALLOWED + OUTSIDERS):
        print(f"SKIP: corpus not found at {corpus}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        refs = Path(tmp) / "refs"
        link_refs(corpus, refs)
        for model in args.models.split(","):
            t0 = time.perf_counter()
            settings = Settings(device="cpu", sections={"visual": {"model": model}})
            embedder = build_embedder(settings)
            base = VisualOptions(refs=refs, model=model)
            gallery = Gallery.load(base, embedder, Path(tmp) / "cache")
            names, feats, cells = outsider_embeddings(corpus, embedder)
            full_views = np.concatenate([gallery.views], axis=0)
            print(f"\n== efficientnet-{model} ({embedder.runtime}): {len(gallery.refs)} refs, "
                  f"{len(names)} photo/face outsiders, embedded in {time.perf_counter() - t0:.1f} s")
            variants: list[tuple[str, VisualOptions]] = [("default", base)]
            if not args.quick:
                only = ("full",)
                flip = ("full", "flip")
                for views_name, views in (("views=full", only), ("views=full+flip", flip), ("views=all", VIEW_NAMES)):
                    for margin in (-1.0, 0.0, 0.03, 0.06):
                        for floor in (0.5, 0.55, 0.6, 0.65):
                            for patches in (False, True):
                                opts = replace(base, views=views, margin=margin, floor=floor, patches=patches)
                                variants.append((f"{views_name} m={margin} f={floor} p={int(patches)}", opts))
                variants.append(("views=all m=0.03 f=0.55 k=2", replace(base, k=2)))
            for name, opts in variants:
                g = Gallery(gallery.refs, full_views, gallery.cells, opts)
                result = evaluate(g, feats, cells)
                print(line(name, result, names))
                if args.verbose and name == "default":
                    fps = result["outsider_fp"]
                    assert isinstance(fps, list)
                    print("   indoor false:", result["indoor_fp"])
                    print("   outsider false:", [names[i] for i in fps])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
