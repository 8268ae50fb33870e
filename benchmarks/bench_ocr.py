"""OCR benchmark over shared/corpus/dev: recall of sensitive text, false positives, CER, seconds/image.

    .venv/bin/python benchmarks/bench_ocr.py [--corpus DIR] [--engines rapidocr,tesseract,both] [--limit N] [--visual]

Per engine setting: receipt recall (text.receipt on the 38 receipts), card recall (text.payment_card
on the 4 card specimens), recall on pos / sticky / whiteboard items (any text finding of medium or
higher severity; the rule-specific count is shown too), false positives on pictures without text
(has_text=no: any text finding), CER of the bare engine against the *.txt truth on receipts and
whiteboards, and seconds per image for the full detector, the bare engine call (decode at 2000 px +
read) and plain `tesseract IMAGE stdout` on the same images in the same run. Skips when the corpus
is absent. One thread everywhere; run nothing else meanwhile. `--visual` runs the real VisualDetector
first, as the pipeline does, so the text detector sees `hints["visual.scenes"]` (its seconds are not
counted in the text detector's).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from _corpus import default_corpus  # noqa: E402

IMAGE_FORMATS = {"JPEG", "PNG", "WEBP", "EXTENDED WEBP",
                 "TIFF", "GIF", "HEIC", "HEIF", "AVIF", "MPO", "BMP"}


def cer(hyp: str, ref: str) -> float:
    """Levenshtein(hyp, ref) / len(ref), lower-cased, whitespace removed (the truths differ in spacing)."""
    import numpy as np

    a = re.sub(r"\s+", "", hyp.lower())
    b = re.sub(r"\s+", "", ref.lower())
    if not b:
        return 0.0
    bb = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    prev = np.arange(len(b) + 1, dtype=np.int32)
    idx = np.arange(len(b) + 1, dtype=np.int32)
    for ch in a:
        cur = np.empty_like(prev)
        cur[0] = prev[0] + 1
        cur[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (bb != ord(ch)))
        cur = np.minimum.accumulate(cur - idx) + idx
        prev = cur
    return float(prev[-1]) / len(b)


def load_items(corpus: Path) -> list[dict[str, str]]:
    rows = list(csv.DictReader((corpus / "MANIFEST.csv").open(encoding="utf-8")))
    items = []
    for r in rows:
        if r["format"].upper() not in IMAGE_FORMATS:
            continue
        group = None
        if r["kind"] == "receipt":
            group = "receipt"
        elif r["kind"] == "other" and "payment-card" in r["notes"]:
            group = "card"
        elif r["kind"] in ("pos", "sticky", "whiteboard") and r["has_text"] == "yes":
            group = r["kind"]
        elif r["has_text"] == "no":
            group = "textless"
        if group:
            items.append({**r, "group": group})
    return items


def plain_tesseract(path: Path) -> float | None:
    start = time.perf_counter()
    try:
        subprocess.run(
            ["tesseract", str(path), "stdout"],
            capture_output=True,
            check=True,
            timeout=120,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        )
    except (subprocess.SubprocessError, OSError):
        return None
    return time.perf_counter() - start


def run_engine(choice: str, items: list[dict[str, str]], corpus: Path, visual: bool = False) -> list[dict[str, object]]:
    from scanner.config import Settings
    from scanner.detectors.text import TextDetector
    from scanner.engines import EngineSet
    from scanner.engines.ocr import build_ocr
    from scanner.model import Item, Severity
    from scanner.subject import Subject
    from scanner.text.reading import WORK_SIDE

    settings = Settings(ocr_engine=choice)
    engines = EngineSet(settings)
    detector = TextDetector(settings, engines)
    bare_engines = build_ocr(settings)
    scenes = None
    if visual:
        from scanner.detectors.visual import VisualDetector

        scenes = VisualDetector(settings, engines)
    out = []
    for it in items:
        path = corpus / it["relpath"]
        data = path.read_bytes()
        item = Item(str(path), data, hashlib.sha256(data).hexdigest(), "image")
        rec: dict[str, object] = {"relpath": it["relpath"], "group": it["group"]}
        try:
            sub = Subject(item, settings)
            if scenes is not None:  # every item here is a picture (accepts() looks at the media kind)
                scenes.detect(sub)
                rec["scenes"] = list(sub.facts.scenes)
            start = time.perf_counter()
            findings = detector.detect(sub)
            rec["detector_s"] = time.perf_counter() - start  # the visual detector's seconds are not in here
            rec["rules"] = sorted({f.rule_id for f in findings})
            rec["medium"] = any(f.severity >= Severity.MEDIUM for f in findings)
            rec["timings"] = {k: v for k, v in sub.facts.timings.items() if k.startswith("text.")}
            start = time.perf_counter()
            pic = Subject(item, settings).picture(WORK_SIDE)
            texts = []
            for eng in bare_engines:
                result = eng.read(pic)
                texts.append("\n".join(w.text for w in result.words))  # engine order, as the truths are
            rec["bare_s"] = time.perf_counter() - start
            truth = path.with_suffix(".txt")
            if it["group"] in ("receipt", "whiteboard") and truth.is_file():
                rec["cer"] = min(cer(t, truth.read_text(encoding="utf-8", errors="replace")) for t in texts)
        except Exception as exc:  # a benchmark records errors and goes on
            rec["error"] = f"{type(exc).__name__}: {str(exc)[:80]}"
        out.append(rec)
        print(
            f"  {choice:9s} {it['group']:10s} {rec.get('detector_s', 0):6.2f}s {rec.get('rules', rec.get('error'))} "
            f"{it['relpath'][:60]}",
            file=sys.stderr,
            flush=True,
        )
    return out


def summarize(choice: str, recs: list[dict[str, object]], plain: dict[str, float | None]) -> dict[str, object]:
    def sel(group: str) -> list[dict[str, object]]:
        return [r for r in recs if r["group"] == group]

    def frac(rs: list[dict[str, object]], pred: Callable[[dict[str, object]], object]) -> str:
        return f"{sum(1 for r in rs if pred(r))}/{len(rs)}" if rs else "-"

    def has(rule: str) -> Callable[[dict[str, object]], bool]:
        return lambda r: rule in cast(list[str], r.get("rules", []))

    def mean(key: str, rs: list[dict[str, object]]) -> float:
        vals = [float(r[key]) for r in rs if key in r]  # type: ignore[arg-type]
        return statistics.mean(vals) if vals else float("nan")

    def pair(rs: list[dict[str, object]], rule: str) -> str:
        return f"{frac(rs, has(rule))} / {frac(rs, lambda r: r.get('medium'))}"

    ok = [r for r in recs if "detector_s" in r and "bare_s" in r]
    textless = [r for r in ok if r["group"] == "textless"]
    withtext = [r for r in ok if r["group"] != "textless"]
    plain_ok = [t for r in ok if (t := plain.get(str(r["relpath"]))) is not None]
    cers = {g: [float(r["cer"]) for r in sel(g) if "cer" in r] for g in ("receipt", "whiteboard")}  # type: ignore[arg-type]
    return {
        "engine": choice,
        "receipt recall": frac(sel("receipt"), has("text.receipt")),
        "card recall": frac(sel("card"), has("text.payment_card")),
        "pos (pos_screen / any>=medium)": pair(sel("pos"), "text.pos_screen"),
        "sticky (secret / any>=medium)": pair(sel("sticky"), "text.secret"),
        "whiteboard (whiteboard / any>=medium)": pair(sel("whiteboard"), "text.whiteboard"),
        "FP textless (any / >=medium)": f"{frac(sel('textless'), lambda r: bool(r.get('rules')))} / "
        f"{frac(sel('textless'), lambda r: r.get('medium'))}",
        "CER receipts": round(statistics.mean(cers["receipt"]), 3) if cers["receipt"] else None,
        "CER whiteboards": round(statistics.mean(cers["whiteboard"]), 3) if cers["whiteboard"] else None,
        "s/img detector (text imgs)": round(mean("detector_s", withtext), 3),
        "s/img bare engine (text imgs)": round(mean("bare_s", withtext), 3),
        "s/img detector (textless)": round(mean("detector_s", textless), 3),
        "s/img bare engine (textless)": round(mean("bare_s", textless), 3),
        "s/img plain tesseract (all)": round(statistics.mean(plain_ok), 3) if plain_ok else None,
        "errors": sum(1 for r in recs if "error" in r),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=default_corpus())
    ap.add_argument("--engines", default="rapidocr,tesseract,both")
    ap.add_argument("--limit", type=int, default=0, help="at most N items per group")
    ap.add_argument("--visual", action="store_true", help="run the visual detector first (scene hints)")
    ap.add_argument("--json", type=Path, help="write per-item records and the summary here")
    args = ap.parse_args(argv)
    if not (args.corpus / "MANIFEST.csv").is_file():
        print(f"corpus not found at {args.corpus}: skipping", file=sys.stderr)
        return 0
    items = load_items(args.corpus)
    if args.limit:
        per: dict[str, int] = {}
        kept = []
        for it in items:
            if per.get(it["group"], 0) < args.limit:
                per[it["group"]] = per.get(it["group"], 0) + 1
                kept.append(it)
        items = kept
    plain = {it["relpath"]: plain_tesseract(args.corpus / it["relpath"]) for it in items}
    summaries, records = [], {}
    for choice in args.engines.split(","):
        records[choice] = run_engine(choice, items, args.corpus, args.visual)
        summaries.append(summarize(choice, records[choice], plain))
    keys = list(summaries[0])
    width = max(len(k) for k in keys)
    print(f"\n{len(items)} images from {args.corpus}")
    print(f"| {'metric':{width}s} | " + " | ".join(f"{s['engine']!s:>12s}" for s in summaries) + " |")
    print(f"|{'-' * (width + 2)}|" + "|".join("-" * 14 for _ in summaries) + "|")
    for k in keys[1:]:
        print(f"| {k:{width}s} | " + " | ".join(f"{s[k]!s:>12s}" for s in summaries) + " |")
    if args.json:
        args.json.write_text(json.dumps({"summary": summaries, "records": records}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
