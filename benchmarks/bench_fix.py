"""`leakscan fix` over the dev corpus: copies approved, size, quality of untouched pixels, time; peers alongside.

1. A bounded, deterministic sample of the corpus (pictures and ZIP-based documents, round-robin over
   MANIFEST kinds) is scanned once (the baseline: seconds per file of a plain scan).
2. Every file with findings is fixed (`fix_paths`: scan, copy, re-scan) from a temporary copy of it:
   fraction of copies approved by their re-scan, median size ratio, PSNR and SSIM (numpy, 8x8 blocks, luma)
   of the pixels no box touched, seconds per file.
3. Peers on the same files: `exiftool -all=` and `mat2` (where installed): metadata tags left (ExifTool
   tag count outside the File/System/ExifTool/Composite groups), size ratio, share of pixels changed
   (a copy that lost its orientation counts as all pixels changed). With --peer-rescan their outputs are
   scanned too (fraction approved).

    python benchmarks/bench_fix.py [--corpus DIR] [--limit 24] [--detectors all] [--peer-rescan]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _corpus import corpus_dir, manifest

from scanner import api
from scanner.actions.safecopy import FixResult, fix_paths
from scanner.config import Settings
from scanner.errors import ItemError
from scanner.media import decode
from scanner.model import Decision

FORMATS = {"JPEG", "PNG", "HEIC", "Extended WEBP", "WEBP", "GIF", "TIFF", "DOCX", "XLSX", "PPTX", "ODT", "ZIP"}
PLAIN_GROUPS = {"ExifTool", "System", "File", "Composite", "SourceFile"}
MAX_PIXELS = 120_000_000
SENSITIVE = ("GPS", "Author", "Creator", "LastModifiedBy", "Company", "Artist", "Owner", "Serial", "Manager",
             "Comment", "Make", "Model", "Software", "DateTimeOriginal", "CreateDate", "ModifyDate", "Title")
CHANGED_LEVEL = 16  # a pixel counts as changed when a channel moved by more than this
BLOCK = 8


def sample(root: Path, limit: int) -> list[Path]:
    """Up to `limit` corpus files, taken in turn from each kind (sorted, so every run picks the same)."""
    by_kind: dict[str, list[Path]] = defaultdict(list)
    for row in sorted(manifest(root), key=lambda r: r["relpath"]):
        if row["format"] in FORMATS and (root / row["relpath"]).is_file():
            by_kind[row["kind"]].append(root / row["relpath"])
    out: list[Path] = []
    while len(out) < limit and any(by_kind.values()):
        for kind in sorted(by_kind):
            if by_kind[kind] and len(out) < limit:
                out.append(by_kind[kind].pop(0))
    return out


def pixels(path: Path) -> np.ndarray | None:
    try:
        return np.asarray(decode(path.read_bytes(), MAX_PIXELS), np.float64)
    except (ItemError, OSError):
        return None


def untouched_quality(orig: np.ndarray, copy: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """PSNR (dB) and mean block SSIM of the pixels where mask is True."""
    mse = float(((orig - copy) ** 2)[mask].mean()) if mask.any() else 0.0
    psnr = float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
    luma = np.array([0.299, 0.587, 0.114])
    a, b = orig @ luma, copy @ luma
    h, w = (a.shape[0] // BLOCK) * BLOCK, (a.shape[1] // BLOCK) * BLOCK
    shape = (h // BLOCK, BLOCK, w // BLOCK, BLOCK)
    ba, bb = a[:h, :w].reshape(shape), b[:h, :w].reshape(shape)
    keep = mask[:h, :w].reshape(shape).all(axis=(1, 3))
    mu_a, mu_b = ba.mean(axis=(1, 3)), bb.mean(axis=(1, 3))
    var_a, var_b = ba.var(axis=(1, 3)), bb.var(axis=(1, 3))
    cov = (ba * bb).mean(axis=(1, 3)) - mu_a * mu_b
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return psnr, float(ssim[keep].mean()) if keep.any() else float("nan")


def changed_share(orig: np.ndarray | None, other: Path) -> float | None:
    """Share of pixels that moved by more than CHANGED_LEVEL; 1.0 when the size differs (orientation lost)."""
    got = pixels(other)
    if orig is None or got is None:
        return None
    if got.shape != orig.shape:
        return 1.0
    return float((np.abs(got - orig).max(axis=2) > CHANGED_LEVEL).mean())


def tags_left(path: Path) -> tuple[int, int] | None:
    """(all metadata tags, sensitive ones: GPS, people, devices, dates, titles) that ExifTool reads."""
    done = subprocess.run(["exiftool", "-j", "-a", "-G1", "-ee", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        return None
    keys = [k for k in json.loads(done.stdout)[0] if k.split(":")[0] not in PLAIN_GROUPS]
    return len(keys), sum(1 for k in keys if any(s in k.split(":")[-1] for s in SENSITIVE))


def peer_exiftool(src: Path, out_dir: Path) -> Path | None:
    target = out_dir / f"{src.stem}.exiftool{src.suffix}"
    done = subprocess.run(["exiftool", "-q", "-q", "-all=", "-o", str(target), str(src)], capture_output=True)
    return target if done.returncode == 0 and target.is_file() else None


def peer_mat2(src: Path, out_dir: Path) -> Path | None:
    if shutil.which("mat2") is None:
        return None
    work = out_dir / f"{src.stem}.mat2in{src.suffix}"
    shutil.copy(src, work)
    subprocess.run(["mat2", str(work)], capture_output=True, timeout=120)
    target = work.with_name(f"{work.stem}.cleaned{work.suffix}")
    return target if target.is_file() else None


def region_mask(result: FixResult, shape: tuple[int, ...]) -> np.ndarray:
    mask = np.ones(shape[:2], bool)
    for c in result.changes:
        if c.region is not None and c.location == "":
            mask[c.region.y : c.region.y + c.region.h, c.region.x : c.region.x + c.region.w] = False
    return mask


def median(values: list[float]) -> str:
    finite = [v for v in values if v == v and v != float("inf")]
    return f"{statistics.median(finite):.3f}" if finite else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=24, help="files sampled from the corpus (default 24)")
    ap.add_argument("--detectors", default="all")
    ap.add_argument("--peer-rescan", action="store_true", help="also scan the peers' outputs")
    args = ap.parse_args()
    root = args.corpus or corpus_dir()
    if not (root / "MANIFEST.csv").is_file():
        print(f"SKIP: no corpus at {root}")
        return
    settings = Settings(jobs=1, detectors=tuple(args.detectors.split(",")), audit_db="off")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs = []
        for i, src in enumerate(sample(root, args.limit)):
            dst = work / "in" / f"{i:03d}_{src.name}"
            dst.parent.mkdir(exist_ok=True)
            shutil.copy(src, dst)
            inputs.append(dst)
        t0 = time.perf_counter()
        scanned = {Path(r.path): r for r in api.scan(inputs, settings).files}
        scan_s = (time.perf_counter() - t0) / max(1, len(inputs))
        flagged = [p for p in inputs if any(node.findings for node in scanned[p].walk())]
        print(f"sample: {len(inputs)} files, {len(flagged)} with findings; plain scan {scan_s:.2f} s/file "
              f"(1 worker, machine shared: timings are under contention)")
        t0 = time.perf_counter()
        results = list(fix_paths([str(p) for p in flagged], settings))
        fix_s = (time.perf_counter() - t0) / max(1, len(flagged))
        report(results, work, fix_s, scan_s, settings, args.peer_rescan)


def report(results: list[FixResult], work: Path, fix_s: float, scan_s: float, settings: Settings,
           peer_rescan: bool) -> None:
    peers_dir = work / "peers"
    peers_dir.mkdir()
    rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    peer_outputs: dict[str, list[Path]] = defaultdict(list)
    for r in results:
        src = Path(r.path)
        orig = pixels(src)
        outputs = {"original": src, "leakscan fix": Path(r.safe_path) if r.safe_path else None,
                   "exiftool -all=": peer_exiftool(src, peers_dir), "mat2": peer_mat2(src, peers_dir)}
        for tool, out in outputs.items():
            if out is None:
                rows[tool]["failed"].append(1.0)
                continue
            peer_outputs[tool].append(out)
            rows[tool]["size_ratio"].append(out.stat().st_size / src.stat().st_size)
            tags = tags_left(out)
            if tags is not None:
                rows[tool]["tags"].append(tags[0])
                rows[tool]["sensitive"].append(tags[1])
            share = changed_share(orig, out)
            if share is not None:
                rows[tool]["changed"].append(share)
        psnr = ssim = float("nan")
        if r.safe_path and orig is not None:
            copy = pixels(Path(r.safe_path))
            if copy is not None and copy.shape == orig.shape:
                psnr, ssim = untouched_quality(orig, copy, region_mask(r, orig.shape))
                rows["leakscan fix"]["psnr"].append(psnr)
                rows["leakscan fix"]["ssim"].append(ssim)
        boxes = sum(c.region is not None for c in r.changes)
        ratio = Path(r.safe_path).stat().st_size / src.stat().st_size if r.safe_path else float("nan")
        print(f"  {src.name[:48]:48} {r.before.decision.label:>7} -> {r.decision.label:7} boxes {boxes:3d} "
              f"size x{ratio:.2f} PSNR {psnr:.1f} SSIM {ssim:.3f}")
    approved = sum(r.decision == Decision.APPROVE for r in results)
    before = sum(r.before.decision == Decision.APPROVE for r in results)
    print(f"fixed {len(results)} files with findings: {approved} copies approved by their re-scan "
          f"({approved / max(1, len(results)):.0%}); originals approved before: {before}; "
          f"no copy made: {sum(r.safe_path is None for r in results)}")
    print(f"seconds per file: fix (scan + copy + re-scan) {fix_s:.2f}, plain scan {scan_s:.2f} (same run)")
    if peer_rescan:
        for tool in ("exiftool -all=", "mat2"):
            outs = peer_outputs[tool]
            ok = sum(f.decision == Decision.APPROVE for f in api.scan(outs, settings).files) if outs else 0
            rows[tool]["approved"].append(ok / max(1, len(outs)))
        rows["leakscan fix"]["approved"].append(approved / max(1, len(results)))
    print(f"{'tool':16} {'outputs':>7} {'failed':>6} {'tags left':>9} {'sensitive':>9} {'size ratio':>10} "
          f"{'px changed':>10} {'PSNR kept':>9} {'SSIM kept':>9} {'approved':>8}")
    for tool, m in rows.items():
        n = len(m["size_ratio"])
        print(f"{tool:16} {n:7d} {len(m['failed']):6d} {median(m['tags']):>9} {median(m['sensitive']):>9} "
              f"{median(m['size_ratio']):>10} "
              f"{median(m['changed']):>10} {median(m['psnr']):>9} {median(m['ssim']):>9} "
              f"{median(m['approved']):>8}")
    print("medians per file; tags left: ExifTool tags outside File/System/ExifTool/Composite (sensitive: GPS, people,"
          f" devices, dates, titles); px changed: share of pixels moved by > {CHANGED_LEVEL} against the upright"
          " original; PSNR/SSIM (dB, luma 8x8 blocks) over pixels no box touched; inf = identical")
    for r in results:
        if r.decision != Decision.APPROVE:
            print(f"  needs a human: {Path(r.path).name}: {'; '.join(r.needs_human)[:200]}")


if __name__ == "__main__":
    main()
