"""Names and phone numbers (text.person_name, text.phone) over the corpus text, next to the old phone rule.

1. Ground-truth text (`<kind>/*.txt` beside receipts, whiteboards, sticky notes, POS and screen pictures),
   each line a field as in a document: phone numbers found / expected (hand-labelled lines below, counted
   per number), names found, false positives listed by file:line and masked evidence. The baseline is the
   rule as it was before scanner/text/phones.py (Leniency.VALID, a phone word on the line or +/00, severity
   low), re-implemented here and run on the same lines.
2. The PII text renders and the X-ray (presidio__*): the real OCR, then the old and new rules on the same
   OCR page, and whether the old text-presence gate (boxes over a fifth of the picture dropped) had let the
   picture through at all.
3. The corpus documents (document/*) through the Scanner (metadata + text): every text.phone and
   text.person_name finding is listed; the only one expected is a custom property "Telephone number"
   (their bodies hold no phone number and no labelled or signed name).
4. With --all: the text-presence gate over every corpus picture, old box filter next to the new one
   (line-shaped boxes kept): the pictures it now reads that it skipped before;
5. and every other corpus picture through the text detector; text.phone / text.person_name findings
   there are listed for review (slow: minutes per 10 pictures on a shared CPU).

    python benchmarks/bench_names.py [--corpus DIR] [--all]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _corpus import corpus_dir, manifest

from scanner import Scanner, Settings
from scanner.detectors.text import _text_like
from scanner.engines import EngineSet
from scanner.engines.ocr import build_locator, build_ocr
from scanner.text import Page, build_page, find_hits, load_rules
from scanner.text.fields import field_hits
from scanner.text.rules import TextRules, keyword_regex

RULES = ("text.phone", "text.person_name")
# hand-labelled: truth file -> {line index: phone numbers on that line} (shop and staff numbers on receipts)
PHONE_LINES: dict[str, dict[int, int]] = {
    "receipt/mmocr__wildreceipt_1.txt": {3: 1}, "receipt/sroie__046.txt": {4: 1},
    "receipt/sroie__049.txt": {5: 1, 58: 1}, "receipt/sroie__068.txt": {5: 1}, "receipt/sroie__103.txt": {5: 1},
    "receipt/sroie__115.txt": {5: 1}, "receipt/sroie__119.txt": {5: 1}, "receipt/sroie__164.txt": {4: 1},
    "receipt/sroie__171.txt": {4: 1}, "receipt/sroie__184.txt": {5: 1}, "receipt/sroie__188.txt": {4: 1},
    "receipt/sroie__191.txt": {6: 2, 11: 1, 12: 1}, "receipt/sroie__233.txt": {3: 1},
    "receipt/sroie__241.txt": {4: 1}, "receipt/sroie__245.txt": {3: 1}, "receipt/sroie__272.txt": {4: 1},
    "receipt/sroie__312.txt": {4: 1}, "receipt/sroie__324.txt": {7: 1}, "receipt/sroie__342.txt": {3: 1, 68: 1},
    "receipt/sroie__343.txt": {3: 1, 89: 1}, "receipt/sroie__348.txt": {3: 1, 68: 1},
    "receipt/sroie__364.txt": {3: 1, 70: 1}, "receipt/sroie__367.txt": {3: 1, 84: 1},
    "receipt/sroie__395.txt": {4: 1}, "receipt/sroie__408.txt": {6: 1}, "receipt/sroie__421.txt": {4: 1},
    "receipt/sroie__455.txt": {6: 2, 11: 1, 12: 1},
}
# the rendered PII pictures: what a reader sees (phone numbers; names, and whether a label/sign-off marks them)
IMAGES: dict[str, dict[str, int]] = {
    "screen/presidio__kwargs_test.jpg": {"text.phone": 1, "names": 1, "labelled names": 0},
    "screen/presidio__ocr_test.png": {"text.phone": 1, "names": 1, "labelled names": 0},
    "other/presidio__2_ORIGINAL.png": {"text.phone": 0, "names": 1, "labelled names": 0},
}
# the corpus documents: the one phone number they hold (a custom property named "Telephone number")
DOCUMENTS: dict[str, dict[str, int]] = {"exiftool__OOXML.docx": {"text.phone": 1}}
OLD_CONTEXT = ["tel", "tel.", "phone", "telefoon", "telefon", "mobile", "mobiel", "mobil", "handy", "fax", "call",
               "whatsapp", "gsm", "ruf"]
OLD_REGIONS = ("NL", "DE", "BE", "AT", "CH", "GB", "US", "FR")


def old_phones(page: Page) -> Iterator[int]:
    """The line index of every number the old rule reported (match._phones before phones.py)."""
    import phonenumbers

    context = keyword_regex(OLD_CONTEXT)
    for i, line in enumerate(page.lines):
        has_context = bool(context.search(line.text.lower()))
        if not has_context and "+" not in line.text and "00" not in line.text:
            continue
        seen: set[tuple[int, int]] = set()
        for region in OLD_REGIONS:
            for pm in phonenumbers.PhoneNumberMatcher(line.text, region, leniency=phonenumbers.Leniency.VALID):
                international = pm.raw_string.lstrip().startswith(("+", "00"))
                if (pm.start, pm.end) in seen or not (international or has_context):
                    continue
                seen.add((pm.start, pm.end))
                yield i


def truth_text(corpus: Path, rules: TextRules) -> None:
    files = sorted(corpus.glob("*/*.txt"))
    expected = sum(sum(v.values()) for v in PHONE_LINES.values())
    new_true = new_false = old_true = old_false = names = 0
    false_rows: list[str] = []
    start = time.perf_counter()
    for path in files:
        rel = path.relative_to(corpus).as_posix()
        lines = path.read_text("utf-8", errors="replace").splitlines()
        labels = PHONE_LINES.get(rel, {})
        new = Counter[int]()
        for fh in field_hits(lines, rules):
            if fh.hit.rule_id == "text.phone":
                new[fh.field] += 1
            elif fh.hit.rule_id == "text.person_name":
                names += 1
                false_rows.append(f"  {rel}:{fh.field} text.person_name {fh.hit.evidence.get('masked')}")
        for row, n in new.items():
            t = min(n, labels.get(row, 0))
            new_true, new_false = new_true + t, new_false + n - t
            false_rows += [f"  {rel}:{row} text.phone (unlabelled)"] * (n - t)
        old = Counter(old_phones(_typed_page(lines)))
        for row, n in old.items():
            t = min(n, labels.get(row, 0))
            old_true, old_false = old_true + t, old_false + n - t
    seconds = time.perf_counter() - start
    print(f"1. ground-truth text: {len(files)} files, {seconds:.2f} s for both rule sets")
    print(f"   text.phone      old rule: {old_true}/{expected} found, {old_false} false positives (severity low)")
    print(f"   text.phone      new rule: {new_true}/{expected} found, {new_false} false positives (severity medium)")
    print(f"   text.person_name new rule: {names} findings (no line of these texts is a labelled or signed name)")
    for shown in false_rows:
        print(shown)


def _typed_page(lines: list[str]) -> Page:
    from scanner.text.fields import _page

    return _page([ln for ln in lines if ln.split()])


def images(corpus: Path, rules: TextRules) -> None:
    from PIL import Image

    settings = Settings(detectors=("text",), jobs=1)
    engine = build_ocr(settings)[0]
    locator = build_locator(settings)
    print("\n2. PII renders through the real OCR (old rule | new rules on the same OCR page)")
    for rel, want in IMAGES.items():
        path = corpus / rel
        if not path.is_file():
            print(f"   {rel}: missing")
            continue
        picture = Image.open(path).convert("RGB")
        gate_old = gate_new = "n/a"
        if locator is not None:
            boxes = locator.locate(picture)
            limit = 0.2 * picture.size[0] * picture.size[1]
            gate_old = "pass" if [b for b in boxes if b.w * b.h < limit] else "SKIPPED"
            gate_new = "pass" if _text_like(boxes, picture.size) else "SKIPPED"
        result = engine.read(picture)
        page = build_page(result.words, result.size)
        hits = find_hits(page, rules)
        found = Counter(h.rule_id for h in hits if h.rule_id in RULES)
        conf = [h.confidence for h in hits if h.rule_id == "text.phone"]
        old = len(list(old_phones(page)))
        print(f"   {rel}: gate old {gate_old}, new {gate_new}; phone old {old}/{want['text.phone']}, "
              f"new {found['text.phone']}/{want['text.phone']} (confidence {conf}); person names "
              f"{found['text.person_name']} of {want['names']} shown ({want['labelled names']} labelled)")


def documents(corpus: Path) -> None:
    scanner = Scanner(Settings(detectors=("metadata", "text"), jobs=1))
    docs = sorted(p for p in (corpus / "document").glob("*") if p.is_file())
    rows, found, false = [], 0, 0
    expected = sum(sum(v.values()) for v in DOCUMENTS.values())
    start = time.perf_counter()
    for path in docs:
        report = scanner.scan_bytes(path.read_bytes(), path.name)
        got = Counter[str]()
        for node in report.walk():
            for f in node.findings:
                if f.rule_id in RULES:
                    got[f.rule_id] += 1
                    rows.append(f"  {path.name} {node.location or '.'} {f.location} {f.rule_id} "
                                f"{f.evidence.get('masked')}")
        for rule, n in got.items():
            want = DOCUMENTS.get(path.name, {}).get(rule, 0)
            found, false = found + min(n, want), false + max(0, n - want)
    print(f"\n3. corpus documents: {len(docs)} files in {time.perf_counter() - start:.1f} s; "
          f"{found}/{expected} found, {false} false positives (text.phone, text.person_name)")
    for row in rows:
        print(row)


def _pictures(corpus: Path) -> list[dict[str, str]]:
    return [r for r in manifest(corpus) if r["relpath"].rsplit(".", 1)[-1].lower() in ("jpg", "jpeg", "png", "webp")]


def gate(corpus: Path) -> None:
    """Which corpus pictures the text-presence gate lets through, with the old and the new box filter."""
    from scanner.model import Item
    from scanner.subject import Subject
    from scanner.text.reading import WORK_SIDE

    settings = Settings(detectors=("text",), jobs=1)
    locator = build_locator(settings)
    if locator is None:
        print("\n4. gate: no locator with this OCR engine")
        return
    changed: Counter[str] = Counter()
    passed_old = passed_new = 0
    rows = _pictures(corpus)
    start = time.perf_counter()
    for row in rows:
        data = (corpus / row["relpath"]).read_bytes()
        try:
            picture = Subject(Item(row["relpath"], data, "", "image/jpeg"), settings).picture(WORK_SIDE)
        except Exception as exc:  # a corpus file that does not decode: the scanner reviews it anyway
            print(f"  {row['relpath']}: {type(exc).__name__}")
            continue
        boxes = locator.locate(picture)
        limit = 0.2 * picture.size[0] * picture.size[1]
        old, new = bool([b for b in boxes if b.w * b.h < limit]), bool(_text_like(boxes, picture.size))
        passed_old, passed_new = passed_old + old, passed_new + new
        if old != new:
            changed[f"{row['kind']} {'now read' if new else 'now skipped'}"] += 1
            print(f"  {row['relpath']}: gate {'skipped -> read' if new else 'read -> skipped'}")
    print(f"\n4. text-presence gate over {len(rows)} corpus pictures ({time.perf_counter() - start:.0f} s): "
          f"old filter lets {passed_old} through, new {passed_new}; changed: {dict(sorted(changed.items()))}")


def everything(corpus: Path, rules: TextRules) -> None:
    from scanner.detectors.text import TextDetector
    from scanner.model import Item
    from scanner.subject import Subject

    settings = Settings(detectors=("text",), jobs=1)
    detector = TextDetector(settings, EngineSet(settings))
    rows = [r for r in _pictures(corpus) if r["relpath"] not in IMAGES]
    print(f"\n5. every other corpus picture ({len(rows)}) through the text detector")
    counts: Counter[str] = Counter()
    for row in rows:
        data = (corpus / row["relpath"]).read_bytes()
        item = Item(row["relpath"], data, "", "image/" + ("png" if row["relpath"].endswith(".png") else "jpeg"))
        try:
            findings = detector.detect(Subject(item, settings))
        except Exception as exc:  # a corpus file the detector cannot read: count it, go on
            print(f"  {row['relpath']}: {type(exc).__name__}")
            continue
        for f in findings:
            if f.rule_id in RULES:
                counts[f"{row['kind']} {f.rule_id}"] += 1
                print(f"  {row['relpath']} {f.rule_id} {f.confidence} {f.evidence.get('masked')}")
    print("  per kind:", dict(sorted(counts.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--all", action="store_true", help="also every other corpus picture (slow)")
    parser.add_argument("--skip-ocr", action="store_true", help="only the ground-truth text and documents")
    args = parser.parse_args()
    corpus = args.corpus or corpus_dir()
    if not (corpus / "MANIFEST.csv").is_file():
        print(f"SKIP: no corpus at {corpus}")
        return
    rules = load_rules()
    truth_text(corpus, rules)
    if not args.skip_ocr:
        images(corpus, rules)
    documents(corpus)
    if args.all:
        gate(corpus)
        everything(corpus, rules)


if __name__ == "__main__":
    main()
