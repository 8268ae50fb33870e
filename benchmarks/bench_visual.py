"""Restricted-place matching on the real dev corpus: leave-one-out recall per label and false matches.

Enrols the corpus folders serverroom, lab, prototype as restricted and indoor as allowed,
then scores every restricted photo against the gallery without it (head refitted and thresholds
recalibrated without it too), every indoor photo the same way, and every photo/face item as an
outsider. Prints one line per variant: method (head / knn), calibration, features (lite2, lite0,
lite0+lite2, ImageNet log-probabilities), flip test-time augmentation. Skips cleanly when the corpus
is absent. Takes about 2 minutes on 2 CPU cores.

    .venv/bin/python benchmarks/bench_visual.py [--corpus DIR] [--quick] [--knn-grid] [--verbose]

--corpus defaults to $LEAKSCAN_CORPUS, else ../shared/corpus/dev beside the project. --verbose also
lists every restricted photo of the default variant with what it matched when left out.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _corpus import default_corpus

from scanner import media
from scanner.config import Settings
from scanner.engines.embedder import build_embedder
from scanner.errors import ScannerError
from scanner.threads import limit_threads
from scanner.visual.gallery import IMAGE_SUFFIXES, Gallery
from scanner.visual.options import VIEW_NAMES, VisualOptions
from scanner.visual.store import DECODE_SIDE, Reference, scan_references

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


def embed_all(paths: list[Path], embedder: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 2, D) features of the full image and its mirror, (N, 4, D) cells, (N, 1000) probabilities."""
    from PIL import ImageOps

    feats, cells, probs = [], [], []
    for f in paths:
        pic = media.decode(f.read_bytes(), 200_000_000, DECODE_SIDE, fast_resize=True)
        emb = embedder.embed_arrays(np.stack([embedder.prepare(v) for v in (pic, ImageOps.mirror(pic))]))  # type: ignore[attr-defined]
        feats.append(emb.features)
        cells.append(emb.patches[0])
        probs.append(emb.probs[0])
    return np.stack(feats), np.stack(cells), np.stack(probs)


def outsiders(corpus: Path) -> list[Path]:
    out = []
    for kind in OUTSIDERS:
        for f in sorted((corpus / kind).iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                media.decode(f.read_bytes(), 200_000_000, 64)
            except ScannerError:
                continue
            out.append(f)
    return out


Labelled = tuple[list[Reference], list[Path], list[Image.Image], tuple[str, ...], np.ndarray]


def load_labelled(corpus: Path) -> Labelled | None:
    """The references as `leakscan refs` reads them, then the outsiders: (refs, paths, pictures at the decode
    side, restricted labels, each reference's label index or -1 when allowed); None (SKIP printed) without a corpus.
    Threads are limited to one, as in a worker."""
    if not all((corpus / d).is_dir() for d in RESTRICTED + ALLOWED + OUTSIDERS):
        print(f"SKIP: corpus not found at {corpus}")
        return None
    limit_threads()
    with tempfile.TemporaryDirectory() as tmp:
        link_refs(corpus, Path(tmp) / "refs")
        refs = scan_references(Path(tmp) / "refs")
        paths = [r.path for r in refs] + outsiders(corpus)
        pictures = [media.decode(p.read_bytes(), 200_000_000, DECODE_SIDE, fast_resize=True) for p in paths]
    labels = tuple(dict.fromkeys(r.label for r in refs if r.kind == "restricted"))
    label_of = np.array([labels.index(r.label) if r.kind == "restricted" else -1 for r in refs])
    return refs, paths, pictures, labels, label_of


def evaluate(g: Gallery, out_feats: np.ndarray, out_cells: np.ndarray) -> dict[str, object]:
    """Every reference left out in turn (head refitted, thresholds recalibrated); outsiders vs the full gallery."""
    recall: dict[str, list[int]] = {label: [0, 0] for label in g.labels}
    any_hits = 0
    indoor_fp, per_photo = [], []
    for i, ref in enumerate(g.refs):
        m = g.left_out(i)
        if ref.kind == "restricted":
            recall[ref.label][1] += 1
            recall[ref.label][0] += int(m is not None and m.label == ref.label)
            any_hits += int(m is not None)
            per_photo.append(f"{ref.label}/{ref.path.name} -> {m.label if m is not None else '-'}")
        elif m is not None:
            indoor_fp.append(f"{ref.path.name}->{m.label}")
    matches = g.match(out_feats, out_cells)
    outsider_fp = [i for i, m in enumerate(matches) if m is not None]
    return {"recall": recall, "any": any_hits, "indoor_fp": indoor_fp, "outsider_fp": outsider_fp,
            "per_photo": per_photo}


def unit(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)
    return out


def logprob(p: np.ndarray) -> np.ndarray:
    lp = np.log(p + 1e-6)
    return unit(lp - lp.mean(axis=-1, keepdims=True))


def line(name: str, r: dict[str, object]) -> str:
    recall = r["recall"]
    assert isinstance(recall, dict)
    total = sum(v[0] for v in recall.values()), sum(v[1] for v in recall.values())
    per = "  ".join(f"{k} {v[0]}/{v[1]}" for k, v in recall.items())
    out_fp = r["outsider_fp"]
    in_fp = r["indoor_fp"]
    assert isinstance(out_fp, list) and isinstance(in_fp, list)
    return (
        f"{name:<46} {per}  | total {total[0]}/{total[1]} ({100 * total[0] / max(1, total[1]):.0f}%)"
        f" any-label {r['any']}  | false: indoor {len(in_fp)} photo/face {len(out_fp)}"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(default_corpus()))
    ap.add_argument("--quick", action="store_true", help="only the default variant")
    ap.add_argument("--knn-grid", action="store_true", help="also the old k-NN margin/floor/views grid")
    ap.add_argument("--verbose", action="store_true", help="name the false matches")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not all((corpus / d).is_dir() for d in RESTRICTED + ALLOWED + OUTSIDERS):
        print(f"SKIP: corpus not found at {corpus}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        refs = Path(tmp) / "refs"
        link_refs(corpus, refs)
        out_paths = outsiders(corpus)
        data: dict[str, tuple[Gallery, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        for model in ("lite2",) if args.quick else ("lite0", "lite2"):
            t0 = time.perf_counter()
            embedder = build_embedder(Settings(device="cpu", sections={"visual": {"model": model}}))
            g = Gallery.load(VisualOptions(refs=refs, model=model, method="knn"), embedder, Path(tmp) / "cache")
            rf, _, rp = embed_all([r.path for r in g.refs], embedder)
            of, oc, op = embed_all(out_paths, embedder)
            data[model] = (g, rf, rp, of, oc, op)
            print(f"== efficientnet-{model} ({embedder.runtime}): {len(g.refs)} refs, {len(out_paths)} photo/face "
                  f"outsiders, embedded in {time.perf_counter() - t0:.1f} s")
        g2, rf2, rp2, of2, oc2, op2 = data["lite2"]
        cells_none = np.zeros((len(g2.refs), 4, 1), np.float32)

        def run(name: str, opts: VisualOptions, ref_x: np.ndarray | None = None, out_x: np.ndarray | None = None,
                out_c: np.ndarray | None = None) -> None:
            if ref_x is None:  # lite2 pooled features, full view (plus the cached augmented views)
                g = Gallery(g2.refs, np.concatenate([g2.views], axis=0), g2.cells, opts)
                assert out_x is None
                result = evaluate(g, of2[:, 0], oc2 if out_c is None else out_c)
            else:
                g = Gallery(g2.refs, ref_x[:, None, :], cells_none, opts)
                assert out_x is not None
                result = evaluate(g, out_x, np.zeros((len(out_x), 4, 1), np.float32))
            print(line(name, result))
            if args.verbose:
                print("   indoor false:", result["indoor_fp"])
                print("   outsider false:", [out_paths[i].name for i in result["outsider_fp"]])  # type: ignore[attr-defined]
                if name.startswith("default"):  # each restricted photo, left out, and what it matched
                    print("\n".join(f"   {line}" for line in result["per_photo"]))  # type: ignore[attr-defined]

        head = VisualOptions(refs=refs)
        run("default: head lite2 global", head)
        if args.quick:
            return 0
        knn = replace(head, method="knn")
        run("knn lite2 m=0.03 f=0.55 (previous default)", knn)
        run("(5) head lite2 per-label thresholds", replace(head, calibration="per-label"))
        for lam in (0.1, 0.3, 3.0):
            run(f"head lite2 global lambda={lam}", replace(head, head_lambda=lam))
        tta_r, tta_o = unit(rf2.mean(axis=1)), unit(of2.mean(axis=1))
        run("(3) head lite2 + flip TTA (refs and queries)", head, tta_r, tta_o)
        run("(3) knn lite2 + flip TTA", knn, tta_r, tta_o)
        both = [unit(np.concatenate([rf2[:, 0], logprob(rp2)], axis=1)),
                unit(np.concatenate([of2[:, 0], logprob(op2)], axis=1))]
        run("(2) head lite2 features + log-probs", head, both[0], both[1])
        run("(2) head lite2 log-probs only", head, logprob(rp2), logprob(op2))
        run("(2) knn lite2 log-probs only", knn, logprob(rp2), logprob(op2))
        _, rf0, _, of0, _, _ = data["lite0"]
        cat_r = unit(np.concatenate([rf0[:, 0], rf2[:, 0]], axis=1))
        cat_o = unit(np.concatenate([of0[:, 0], of2[:, 0]], axis=1))
        run("(4) head lite0+lite2 features", head, cat_r, cat_o)
        run("(4) head lite0+lite2 per-label", replace(head, calibration="per-label"), cat_r, cat_o)
        run("(4) knn lite0+lite2 features", knn, cat_r, cat_o)
        run("head lite0 features", head, rf0[:, 0], of0[:, 0])
        run("head lite0 per-label", replace(head, calibration="per-label"), rf0[:, 0], of0[:, 0])
        if args.knn_grid:
            for views_name, views in (("full", ("full",)), ("full+flip", ("full", "flip")), ("all", VIEW_NAMES)):
                for margin in (0.0, 0.03, 0.06):
                    for floor in (0.5, 0.55, 0.6):
                        opts = replace(knn, views=views, margin=margin, floor=floor)
                        run(f"knn views={views_name} m={margin} f={floor}", opts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
