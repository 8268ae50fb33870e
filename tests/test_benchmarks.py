"""Every corpus benchmark skips cleanly (exit 0, says so) when the dev corpus is absent, as on a fresh clone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS_BENCHES = ["bench_metadata.py", "bench_ocr.py", "bench_visual.py", "bench_visual_features.py",
                  "bench_phash.py", "bench_cues.py", "bench_exiftool_diff.py", "bench_documents.py", "bench_store.py",
                  "bench_engines.py", "bench_fix.py", "bench_faces.py", "bench_ocr_backends.py", "bench_slips.py",
                  "bench_names.py", "bench_same_place.py", "bench_ocr_scan.py", "bench_visual_regions.py"]


@pytest.mark.parametrize("script", CORPUS_BENCHES)
def test_benchmark_skips_without_corpus(script: str, tmp_path: Path) -> None:
    env = {**os.environ, "LEAKSCAN_CORPUS": str(tmp_path / "no-corpus")}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "skip" in (done.stdout + done.stderr).lower()


def test_every_corpus_benchmark_is_covered() -> None:
    uses_corpus = {p.name for p in (ROOT / "benchmarks").glob("bench_*.py")
                   if "corpus" in p.read_text(encoding="utf-8")}
    fallbacks = {"bench_embed.py", "bench_throughput.py", "bench_service.py"}  # generate images without the corpus
    assert uses_corpus - fallbacks == set(CORPUS_BENCHES)
