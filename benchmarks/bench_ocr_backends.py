"""RapidOCR configurations side by side on shared/corpus/dev: images/s, recall and CER, baseline in the same run.

    .venv/bin/python benchmarks/bench_ocr_backends.py [--corpus DIR] [--limit N] [--variants a,b,...] [--json F]

Each variant is the real text detector (gate, notes, rotations, rules) over the items of
`bench_ocr.py` (receipts, cards, POS, sticky notes, whiteboards, pictures without text) with a
different RapidOCR set-up: inference back end (ONNX Runtime, OpenVINO), the longest side the
detection network sees (`det_side`, 0 = the picture as decoded, up to 2000 px), the number of text
lines per recognition call (`rec_batch`), and a variant that skips recognising lines no rule can
use (`skip_small`: boxes under 8 px high or under 1.5:1 wide). `adaptive*` (the default since
issue 12 part 4) add the second look of `ocr_det_recheck`: fewer than 4 lines read under the cap
and a board on >= 30% of the picture -> detection again on the whole picture. `baseline` is the
configuration of main before this benchmark (ONNX Runtime, det_side 0, rec_batch 6, recognition inputs
at least 320 px wide). `third_round` is the set-up of issue 12's third to fifth rounds (det_side 736,
the second look, inputs at least 160 px wide, screens at 320); `default`, shipped since the sixth round, adds
the recogniser narrowed to the scripts the rules read (`ocr_alphabet = "latin"`). The
`cuda*` variants run ONNX Runtime's CUDA provider (onnxruntime-gpu) and are skipped where it is
absent; on a GPU run `--variants cuda,cuda_rec64,det960` (the CPU time column then counts only the host side).

The machine is shared, so variants are interleaved per image (the order rotates per image) and
both wall and CPU seconds (`time.process_time`, one thread per engine) are reported, with ratios
to the baseline measured in the same run. Recall uses the metrics of bench_ocr.py; CER is that of
the detector's first full-picture read against `text_truth_file` of MANIFEST.csv (the same
lower-cased, whitespace-free Levenshtein ratio as bench_ocr.py). Skips when the
corpus is absent.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from _corpus import default_corpus  # noqa: E402
from bench_ocr import cer, load_items  # noqa: E402

if TYPE_CHECKING:
    from PIL import Image

    from scanner.engines.ocr import OcrEngine, OcrResult

SKIP_MIN_H = 8  # px: a line lower than this is not read by skip_small
SKIP_MIN_RATIO = 1.5  # width/height: under this a box holds one or two characters


@dataclass(frozen=True)
class Variant:
    backend: str = "onnxruntime"
    det_side: int = 0
    rec_batch: int = 6
    skip_small: bool = False
    device: str = "cpu"
    recheck: int = 0  # ocr_det_recheck: fewer lines read under the cap -> detection again on the whole picture
    rec_width: int = 320  # ocr_rec_width: RapidOCR's own narrowest recognition input before issue 12
    alphabet: str = "full"  # ocr_alphabet: every class of the recogniser (before issue 12's sixth round) or latin


VARIANTS: dict[str, Variant] = {
    "baseline": Variant(),
    "openvino": Variant(backend="openvino"),
    "det1280": Variant(det_side=1280),
    "det960": Variant(det_side=960),
    "det736": Variant(det_side=736),
    "adaptive960": Variant(det_side=960, recheck=4),  # the default since issue 12 part 4
    "adaptive736": Variant(det_side=736, recheck=4),
    "third_round": Variant(det_side=736, recheck=4, rec_width=160),  # issue 12's third to fifth rounds (screens at 320)
    "default": Variant(det_side=736, recheck=4, rec_width=160, alphabet="latin"),  # + the sixth round's alphabet
    "rec1": Variant(rec_batch=1),
    "rec16": Variant(rec_batch=16),
    "skip_small": Variant(skip_small=True),
    "ov_det960": Variant(backend="openvino", det_side=960),
    "det960_rec16": Variant(det_side=960, rec_batch=16),
    # ONNX Runtime on CUDA (onnxruntime-gpu), lines batched apart from the scan's chunk size; skipped without it
    "cuda": Variant(det_side=960, device="cuda"),
    "cuda_rec64": Variant(det_side=960, rec_batch=64, device="cuda"),
}


class Recording:
    """Wraps an engine: the first read of each image (the full pass) is kept for CER."""

    def __init__(self, engine: OcrEngine) -> None:
        self.engine = engine
        self.name = engine.name
        self._first: list[OcrResult | None] = [None]  # shared with the for_screens copy

    @property
    def first(self) -> OcrResult | None:
        return self._first[0]

    @first.setter
    def first(self, result: OcrResult | None) -> None:
        self._first[0] = result

    def read(self, image: Image.Image) -> OcrResult:
        result = self.engine.read(image)
        if self.first is None:
            self.first = result
        return result

    def capped(self, size: tuple[int, int]) -> bool:
        return bool(getattr(self.engine, "capped", lambda _: False)(size))

    def shrink(self, size: tuple[int, int]) -> float:
        return float(getattr(self.engine, "shrink", lambda _: 1.0)(size))

    def read_full(self, image: Image.Image) -> OcrResult:
        result: OcrResult = self.engine.read_full(image)  # type: ignore[attr-defined]
        if self.first is None:
            self.first = result
        return result

    def read_dense(self, image: Image.Image) -> OcrResult:
        result: OcrResult = self.engine.read_dense(image)  # type: ignore[attr-defined]
        if self.first is None:
            self.first = result
        return result

    def read_more(self, image: Image.Image, first: OcrResult) -> OcrResult:
        result: OcrResult = self.engine.read_more(image, first)  # type: ignore[attr-defined]
        if self.first is None:
            self.first = result
        return result

    def for_screens(self) -> Any:
        """A copy around the engine's screen reader, recording into the same `first`."""
        wide = copy.copy(self)
        wide.engine = self.engine.for_screens()  # type: ignore[attr-defined]
        return wide


class SkipSmall:
    """RapidOCR detection, then recognition of the lines a rule can use only (measured, not shipped)."""

    def __init__(self, inner: Any) -> None:
        self.name = inner.name
        self._ocr = inner._ocr  # the RapidOCR object of a RapidOcrEngine

    def read(self, image: Image.Image) -> OcrResult:
        from rapidocr.ch_ppocr_rec import TextRecInput
        from rapidocr.utils.process_img import get_rotate_crop_image

        from scanner.engines.ocr import OcrResult, Word
        from scanner.engines.rapid import _bgr, _region

        start = time.perf_counter()
        img = _bgr(image)
        det = self._ocr(img, use_det=True, use_cls=False, use_rec=False)
        words: list[Word] = []
        if det.boxes is not None:
            keep = [b for b in det.boxes if _usable(b)]
            if keep:
                crops = [get_rotate_crop_image(img, b.astype("float32").copy()) for b in keep]
                rec = self._ocr._load_rec_model()(TextRecInput(img=crops))
                for box, txt, score in zip(keep, rec.txts or (), rec.scores or (), strict=False):
                    if txt and txt.strip() and score >= 0.5:
                        words.append(Word(str(txt), float(score), _region(box)))
        return OcrResult(self.name, tuple(words), image.size, time.perf_counter() - start)


def _usable(box: Any) -> bool:
    w = max(float(box[1][0] - box[0][0]), 1.0)
    h = max(float(box[3][1] - box[0][1]), 1.0)
    return h >= SKIP_MIN_H and w / h >= SKIP_MIN_RATIO


def build(name: str, variant: Variant) -> tuple[Any, Recording]:
    from scanner.config import Settings
    from scanner.detectors.text import TextDetector
    from scanner.engines import EngineSet
    from scanner.engines.rapid import RapidOcrEngine, RapidTextLocator

    settings = Settings(ocr_engine="rapidocr", ocr_det_side=variant.det_side, ocr_det_recheck=variant.recheck,
                        ocr_rec_width=variant.rec_width, ocr_alphabet=variant.alphabet)
    inner: Any = RapidOcrEngine(backend=variant.backend, det_side=variant.det_side, rec_batch=variant.rec_batch,
                                device=variant.device, rec_width=variant.rec_width, alphabet=variant.alphabet)
    if variant.skip_small:
        inner = SkipSmall(inner)
    rec = Recording(inner)
    locator = RapidTextLocator(backend=variant.backend, device=variant.device)
    engines = EngineSet(settings, **{"ocr": (rec,), "ocr.locator": locator})
    return TextDetector(settings, engines), rec


def truth_text(corpus: Path, item: dict[str, str]) -> str | None:
    name = item.get("text_truth_file") or ""
    path = corpus / name
    return path.read_text(encoding="utf-8", errors="replace") if name and path.is_file() else None


Records = dict[str, list[dict[str, Any]]]  # variant -> one record per image


def run(names: list[str], items: list[dict[str, str]], corpus: Path,
        after_image: Callable[[Records], None] | None = None) -> Records:
    from scanner.config import Settings
    from scanner.model import Item, Severity
    from scanner.subject import Subject

    built = {n: build(n, VARIANTS[n]) for n in names}
    settings = Settings(ocr_engine="rapidocr")
    out: Records = {n: [] for n in names}
    for i, it in enumerate(items):
        data = (corpus / it["relpath"]).read_bytes()
        item = Item(it["relpath"], data, hashlib.sha256(data).hexdigest(), "image")
        truth = truth_text(corpus, it)
        order = names[i % len(names):] + names[: i % len(names)]  # contention hits every variant alike
        for n in order:
            detector, rec = built[n]
            rec.first = None
            rec_out: dict[str, Any] = {"relpath": it["relpath"], "group": it["group"]}
            try:
                wall, cpu = time.perf_counter(), time.process_time()
                findings = detector.detect(Subject(item, settings))
                rec_out["wall_s"] = time.perf_counter() - wall
                rec_out["cpu_s"] = time.process_time() - cpu
                rec_out["rules"] = sorted({f.rule_id for f in findings})
                rec_out["medium"] = any(f.severity >= Severity.MEDIUM for f in findings)
                if truth is not None and rec.first is not None:
                    rec_out["cer"] = cer("\n".join(w.text for w in rec.first.words), truth)
            except Exception as exc:  # a benchmark records errors and goes on
                rec_out["error"] = type(exc).__name__
            out[n].append(rec_out)
        line = " ".join(f"{n}={out[n][-1].get('cpu_s', float('nan')):.2f}" for n in names)
        print(f"  [{i + 1}/{len(items)}] {it['group']:10s} cpu s: {line}", file=sys.stderr, flush=True)
        if after_image is not None:
            after_image(out)
    return out


def summarize(recs: list[dict[str, Any]], base: list[dict[str, Any]]) -> dict[str, str]:
    def sel(group: str) -> list[dict[str, Any]]:
        return [r for r in recs if r["group"] == group]

    def frac(rs: list[dict[str, Any]], pred: Callable[[dict[str, Any]], object]) -> str:
        return f"{sum(1 for r in rs if pred(r))}/{len(rs)}" if rs else "-"

    def has(rule: str) -> Callable[[dict[str, Any]], bool]:
        return lambda r: rule in r.get("rules", [])

    def total(rs: list[dict[str, Any]], key: str) -> float:
        return sum(float(r.get(key, 0.0)) for r in rs)

    def cer_of(group: str | None) -> str:
        vals = [float(r["cer"]) for r in (sel(group) if group else recs) if "cer" in r]
        return f"{statistics.mean(vals):.3f}" if vals else "-"

    text = [r for r in recs if r["group"] != "textless"]
    base_text = [r for r in base if r["group"] != "textless"]
    same = sum(1 for a, b in zip(recs, base, strict=True) if a.get("rules") == b.get("rules"))
    return {
        "images/s (wall)": f"{len(recs) / max(total(recs, 'wall_s'), 1e-9):.3f}",
        "images/s (cpu)": f"{len(recs) / max(total(recs, 'cpu_s'), 1e-9):.3f}",
        "speed-up vs baseline, cpu (all)": f"{total(base, 'cpu_s') / max(total(recs, 'cpu_s'), 1e-9):.2f}x",
        "speed-up vs baseline, cpu (text)": f"{total(base_text, 'cpu_s') / max(total(text, 'cpu_s'), 1e-9):.2f}x",
        "speed-up vs baseline, wall (all)": f"{total(base, 'wall_s') / max(total(recs, 'wall_s'), 1e-9):.2f}x",
        "cpu s/img (text imgs)": f"{total(text, 'cpu_s') / max(len(text), 1):.2f}",
        "receipt recall": frac(sel("receipt"), has("text.receipt")),
        "card recall": frac(sel("card"), has("text.payment_card")),
        "pos any>=medium": frac(sel("pos"), lambda r: r.get("medium")),
        "sticky any>=medium": frac(sel("sticky"), lambda r: r.get("medium")),
        "whiteboard any>=medium": frac(sel("whiteboard"), lambda r: r.get("medium")),
        "FP textless (any)": frac(sel("textless"), lambda r: bool(r.get("rules"))),
        "CER receipts": cer_of("receipt"),
        "CER whiteboards": cer_of("whiteboard"),
        "CER all with truth": cer_of(None),
        "same rules as baseline": f"{same}/{len(recs)}",
        "errors": str(sum(1 for r in recs if "error" in r)),
    }


def limited(items: list[dict[str, str]], limit: int) -> list[dict[str, str]]:
    if not limit:
        return items
    per: dict[str, int] = {}
    kept = []
    for it in items:
        if per.get(it["group"], 0) < limit:
            per[it["group"]] = per.get(it["group"], 0) + 1
            kept.append(it)
    return kept


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=default_corpus())
    ap.add_argument("--limit", type=int, default=4, help="at most N items per group (0 = all)")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"from {', '.join(VARIANTS)}")
    ap.add_argument("--groups", default="", help="only these groups (receipt,card,pos,sticky,whiteboard,textless)")
    ap.add_argument("--json", type=Path, help="per-item records (rewritten after every image) and the summary")
    args = ap.parse_args(argv)
    if not (args.corpus / "MANIFEST.csv").is_file():
        print(f"corpus not found at {args.corpus}: skipping", file=sys.stderr)
        return 0
    names = ["baseline"] + [n for n in args.variants.split(",") if n and n != "baseline"]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        ap.error(f"unknown variants: {', '.join(unknown)}")
    from scanner.engines.rapid import backend_available, cuda_ready

    skipped = [n for n in names if not backend_available(VARIANTS[n].backend)
               or (VARIANTS[n].device == "cuda" and not cuda_ready("cuda"))]
    names = [n for n in names if n not in skipped]
    groups = {g for g in args.groups.split(",") if g}
    items = limited([it for it in load_items(args.corpus) if not groups or it["group"] in groups], args.limit)
    variants = {n: VARIANTS[n].__dict__ for n in names}

    def save(records: Records, summary: object = None) -> None:
        if args.json:  # after every image too: a run stopped early still leaves its records
            args.json.write_text(json.dumps({"variants": variants, "summary": summary, "records": records}, indent=1))

    records = run(names, items, args.corpus, save)
    summaries = {n: summarize(records[n], records["baseline"]) for n in names}
    keys = list(summaries["baseline"])
    width = max(len(k) for k in keys)
    print(f"\n{len(items)} images from {args.corpus}, variants interleaved per image; not run: {skipped or 'none'}")
    print(f"| {'metric':{width}s} | " + " | ".join(f"{n:>15s}" for n in names) + " |")
    print(f"|{'-' * (width + 2)}|" + "|".join("-" * 17 for _ in names) + "|")
    for k in keys:
        print(f"| {k:{width}s} | " + " | ".join(f"{summaries[n][k]:>15s}" for n in names) + " |")
    save(records, summaries)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
