"""Shared helpers for benchmarks over ../shared/corpus/dev (skipped cleanly when it is absent)."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "dev"


def default_corpus() -> Path:
    """$LEAKSCAN_CORPUS, else ../shared/corpus/dev beside the project (the --corpus default of every bench)."""
    return Path(os.environ.get("LEAKSCAN_CORPUS", DEFAULT))


def corpus_jpegs(corpus: Path) -> list[Path]:
    """The corpus's camera photos (photo/*.jpg), sorted; empty when the corpus is absent."""
    return sorted(p for p in (corpus / "photo").glob("*") if p.suffix.lower() in (".jpg", ".jpeg"))


def corpus_dir() -> Path:
    """The corpus folder ($LEAKSCAN_CORPUS or ../shared/corpus/dev); exits 0 with a note if absent."""
    path = default_corpus()
    if not (path / "MANIFEST.csv").is_file():
        print(f"SKIP: no corpus at {path} (set LEAKSCAN_CORPUS)")
        sys.exit(0)
    return path


def manifest(root: Path) -> list[dict[str, str]]:
    with (root / "MANIFEST.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
