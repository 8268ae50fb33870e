"""Visual stage throughput end to end, on the GPU when there is one, else on CPU.

Three numbers from the same run and the same files, so the limit shows:
  1. model only: the embedder on ready uint8 batches (fp16 + channels-last on CUDA, ONNX on CPU);
  2. decode only: P processes reading each JPEG, draft-decoding it to ~640 px (box filter, as the visual
     detector does; and with the Lanczos filter used before, as a baseline) and resizing it to the
     model input (the ceiling for anything that decodes on P cores);
  3. the product path: `scanner.scan_iter` with only the visual detector, --jobs P, --batch-size B:
     files/s (steady state between 10% and 90% of the reports, and whole run with start-up), the
     decode/model split from each report's `timings` (`visual.embed` is the model call per file), and
     GPU utilisation sampled by nvidia-smi every 200 ms when it exists.

Files: the dev corpus photos (JPEG), symlinked over and over into a temporary folder up to --files;
generated 12 MP JPEGs when the corpus is absent.

    .venv/bin/python benchmarks/bench_throughput.py [--files 2000] [--jobs P] [--batch-size 64]
        [--model lite2] [--device auto|cpu|cuda]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _corpus import corpus_jpegs, default_corpus

from scanner import media
from scanner.api import scan_iter
from scanner.config import Settings
from scanner.engines.embedder import MODELS, EmbedderBase, build_embedder, resolve_device
from scanner.threads import limit_threads
from scanner.visual.store import DECODE_SIDE

MAX_PIXELS = 120_000_000


def source_jpegs(corpus: Path, tmp: Path) -> list[Path]:
    photos = corpus_jpegs(corpus)
    if photos:
        return photos
    from PIL import Image

    out = []
    rng = np.random.default_rng(0)
    for i in range(16):
        y, x = np.mgrid[0:3000, 0:4000]
        base = ((x // (40 + i) + y // (30 + i)) % 2 * 120 + 60).astype(np.uint8)
        rgb = np.stack([base, np.roll(base, i * 7, axis=1), base[::-1]], axis=2)
        rgb = np.clip(rgb + rng.integers(-20, 20, rgb.shape), 0, 255).astype(np.uint8)
        path = tmp / f"gen{i}.jpg"
        Image.fromarray(rgb).save(path, "JPEG", quality=90)
        out.append(path)
    return out


def populate(sources: list[Path], folder: Path, n: int) -> list[Path]:
    folder.mkdir()
    links = []
    for i in range(n):
        link = folder / f"{i:06d}{sources[i % len(sources)].suffix.lower()}"
        link.symlink_to(sources[i % len(sources)].resolve())
        links.append(link)
    return links


def model_only(settings: Settings, seconds: float) -> dict[int, float]:
    embedder = build_embedder(settings)
    side = embedder.input_size
    rates = {}
    for batch in (32, 128, 256) if embedder.device == "cuda" else (1, 8, 32):
        x = np.random.default_rng(0).integers(0, 255, (batch, side, side, 3), dtype=np.uint8)
        embedder.embed_arrays(x)  # warm-up (cuDNN autotune, ONNX session)
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            embedder.embed_arrays(x)  # returns host arrays, so every call ends synchronised
            done += batch
        rates[batch] = done / (time.perf_counter() - start)
    return rates


_PREP, _FAST = EmbedderBase(), True  # the embedders' own preprocessing, without a model


def _init_decoder(side: int, fast: bool) -> None:
    global _FAST
    limit_threads()
    _PREP.input_size, _FAST = side, fast


def _decode_one(path: str) -> int:
    pic = media.decode(Path(path).read_bytes(), MAX_PIXELS, DECODE_SIDE, fast_resize=_FAST)
    return int(_PREP.prepare(pic).shape[0])


def decode_only(paths: list[Path], jobs: int, side: int, fast: bool) -> float:
    ctx = multiprocessing.get_context("spawn")  # never fork a process that has touched CUDA
    with ctx.Pool(jobs, initializer=_init_decoder, initargs=(side, fast)) as pool:
        pool.map(_decode_one, [str(p) for p in paths[: jobs * 2]])  # warm the workers and the page cache
        start = time.perf_counter()
        for _ in pool.imap_unordered(_decode_one, [str(p) for p in paths], chunksize=8):
            pass
        return len(paths) / (time.perf_counter() - start)


class GpuSampler:
    """nvidia-smi utilisation samples every 200 ms while the product path runs (none without nvidia-smi)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._proc: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> GpuSampler:
        exe = shutil.which("nvidia-smi")
        if exe:
            cmd = [exe, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-lms", "200"]
            self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
            self._thread = threading.Thread(target=self._read, daemon=True)
            self._thread.start()
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for row in self._proc.stdout:
            try:
                self.samples.append(float(row.split(",")[0]))
            except ValueError:
                continue

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait()

    def summary(self) -> str:
        if not self.samples:
            return "n/a (no nvidia-smi)"
        s = np.array(self.samples)
        return f"mean {s.mean():.0f}%, median {np.median(s):.0f}%, max {s.max():.0f}% ({len(s)} samples)"


def product_path(folder: Path, settings: Settings, n: int) -> dict[str, float | str]:
    stamps: list[float] = []
    split = {"read": 0.0, "visual": 0.0, "embed": 0.0}
    errors = 0
    with GpuSampler() as gpu:
        start = time.perf_counter()
        for report in scan_iter([folder], settings):
            stamps.append(time.perf_counter())
            errors += int(bool(report.errors))
            split["read"] += report.timings.get("read", 0.0)
            split["visual"] += report.timings.get("visual", 0.0)
            split["embed"] += report.timings.get("visual.embed", 0.0)
    if not stamps:
        raise SystemExit("the scan returned no reports")
    wall = stamps[-1] - start
    lo, hi = int(0.1 * len(stamps)), int(0.9 * len(stamps)) - 1
    steady = (hi - lo) / (stamps[hi] - stamps[lo]) if hi > lo and stamps[hi] > stamps[lo] else float("nan")
    cpu_side = split["read"] + split["visual"] - split["embed"]
    total = cpu_side + split["embed"]
    return {
        "files": float(len(stamps)), "errors": float(errors), "wall": wall, "whole": len(stamps) / wall,
        "steady": steady, "cpu_share": cpu_side / total if total else float("nan"),
        "model_share": split["embed"] / total if total else float("nan"), "gpu": gpu.summary(),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=0, help="default: 2000 on CUDA, 300 on CPU")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--model", default="lite2", choices=sorted(MODELS))
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--seconds", type=float, default=3.0, help="per model-only cell")
    ap.add_argument("--corpus", default=str(default_corpus()))
    args = ap.parse_args()
    device = resolve_device(args.device)
    n = args.files or (2000 if device == "cuda" else 300)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(detectors=("visual",), device=device, jobs=args.jobs, batch_size=args.batch_size,
                            cache_dir=Path(tmp) / "cache", sections={"visual": {"model": args.model}})
        sources = source_jpegs(Path(args.corpus), Path(tmp))
        paths = populate(sources, Path(tmp) / "files", n)
        print(f"{n} files ({len(sources)} distinct JPEGs), efficientnet-{args.model} on {device}, "
              f"--jobs {args.jobs}, --batch-size {args.batch_size}, {os.cpu_count()} cores")
        side = MODELS[args.model][2]
        lanczos = decode_only(paths, args.jobs, side, fast=False)
        dec = decode_only(paths, args.jobs, side, fast=True)
        print(f"decode only ({args.jobs} processes, draft JPEG -> {DECODE_SIDE} px -> {side}x{side}): {dec:8.1f} img/s "
              f"(box filter, as scanned; {lanczos:.1f} img/s with Lanczos, {dec / lanczos:.2f}x)")
        product = product_path(Path(tmp) / "files", settings, n)
        print(f"scan, visual only: {product['steady']:8.1f} files/s steady ({product['whole']:.1f} whole run, "
              f"{product['wall']:.1f} s incl. start-up), {int(product['files'])} reports, "
              f"{int(product['errors'])} with errors")
        print(f"  time split over all workers: CPU side (read, decode, resize, hash, cues) "
              f"{100 * float(product['cpu_share']):.0f}%, model call {100 * float(product['model_share']):.0f}%")
        print(f"  GPU utilisation: {product['gpu']}")
        print(f"  steady scan / decode only: {float(product['steady']) / dec:.2f}x")
        # model last: on CPU it would otherwise warm caches for the others; on CUDA its context is separate
        for batch, rate in model_only(settings, args.seconds).items():
            print(f"model only, batch {batch:>3} ({device}): {rate:8.1f} img/s "
                  f"({rate / float(product['steady']):.1f}x the steady scan)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
