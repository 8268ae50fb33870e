"""Embedding throughput (images/s) on CPU, one thread: torch vs ONNX Runtime, batch 1/8/32, decode in or out.

"with decode" includes reading a real JPEG (draft-mode decode to ~640 px, EXIF orientation) and the
resize to the model input; "model only" feeds ready uint8 arrays. Uses the dev corpus photos when
present, otherwise generated images. Numbers vary with machine load: run it twice.

    .venv/bin/python benchmarks/bench_embed.py [--seconds 2] [--models lite0,lite2]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _corpus import corpus_jpegs, default_corpus

from scanner import media
from scanner.engines.embedder import TorchEmbedder
from scanner.engines.embedder_onnx import OnnxEmbedder, onnx_file
from scanner.visual.store import DECODE_SIDE


def sample_jpegs(corpus: Path, n: int = 32) -> list[bytes]:
    files = corpus_jpegs(corpus)[:n]
    if files:
        return [p.read_bytes() for p in files]
    from PIL import Image

    out = []
    rng = np.random.default_rng(0)
    for _ in range(n):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (1500, 2000, 3), dtype=np.uint8)).save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def decoded(jpeg: bytes) -> Image.Image:
    """As the visual detector decodes a scanned file: draft JPEG to ~DECODE_SIDE px, box filter."""
    return media.decode(jpeg, 200_000_000, DECODE_SIDE, fast_resize=True)


def rate(fn: object, batch: int, seconds: float) -> float:
    fn(batch)  # type: ignore[operator]
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn(batch)  # type: ignore[operator]
        done += batch
    return done / (time.perf_counter() - start)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--models", default="lite0,lite2")
    ap.add_argument("--corpus", default=str(default_corpus()))
    args = ap.parse_args()
    jpegs = sample_jpegs(Path(args.corpus))
    print(f"{len(jpegs)} JPEGs, 1 thread per runtime, {args.seconds:.0f} s per cell; images/s")
    print(f"{'model':<6} {'runtime':<8} {'batch':>5} {'model only':>11} {'with decode':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            engines = [TorchEmbedder(model, "cpu"), OnnxEmbedder(model, onnx_file(model, Path(tmp)))]
            for engine in engines:
                ready = np.stack([engine.prepare(decoded(j)) for j in jpegs])

                def model_only(b: int, engine: object = engine, ready: np.ndarray = ready) -> None:
                    engine.embed_arrays(ready[:b])  # type: ignore[attr-defined]

                def with_decode(b: int, engine: object = engine) -> None:
                    arrays = [engine.prepare(decoded(j)) for j in jpegs[:b]]  # type: ignore[attr-defined]
                    engine.embed_arrays(np.stack(arrays))  # type: ignore[attr-defined]

                for batch in (1, 8, 32):
                    a, b = rate(model_only, batch, args.seconds), rate(with_decode, batch, args.seconds)
                    print(f"{model:<6} {engine.runtime:<8} {batch:>5} {a:>11.1f} {b:>12.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
