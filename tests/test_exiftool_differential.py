"""Differential test against ExifTool: wherever `exiftool -n` reads a GPS coordinate (EXIF, XMP, any
group), leakscan's metadata detector reports `metadata.gps` or at least does not approve the file.

Over every generated fixture (fixtures/*.py build()) and the dev corpus ($LEAKSCAN_CORPUS, skipped when
absent). ExifTool runs once per file set; leakscan through the library API.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fixtures import (
    c2pa_fixtures,
    gps_carriers,
    hardening_gps,
    hardening_metadata_text,
    hardening_payloads,
    metadata_fixtures,
    sidecar_fixtures,
    text_fixtures,
    truncated_gps,
    video_fixtures,
    visual_fixtures,
)
from scanner import Decision, FileReport, Settings, scan

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import _exiftool  # noqa: E402
from _corpus import default_corpus  # noqa: E402

pytestmark = pytest.mark.skipif(not _exiftool.available(), reason="exiftool not installed")
GENERATORS = (metadata_fixtures, gps_carriers, text_fixtures, visual_fixtures, hardening_gps, hardening_payloads,
              hardening_metadata_text, truncated_gps, sidecar_fixtures, video_fixtures, c2pa_fixtures)
META = Settings(detectors=("metadata",), jobs=1)
MIN_FIXTURE_COORDINATES = 15  # 9 GPS fixtures in metadata_fixtures (truncated.jpg too) + 9 carriers, today


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Every file every fixture generator writes."""
    out = tmp_path_factory.mktemp("differential")
    for module in GENERATORS:
        module.build(out / module.__name__.rpartition(".")[2])
    return sorted(p for p in out.rglob("*") if p.is_file())


def _has_gps(report: FileReport) -> bool:
    return any(f.rule_id == "metadata.gps" for f in report.findings)


def _unsafe(paths: list[Path]) -> tuple[int, list[str]]:
    """(files with an ExifTool coordinate, descriptions of those leakscan approves without metadata.gps)."""
    coords = _exiftool.coordinates(paths)
    reports = {r.path: r for r in scan([str(p) for p in paths], META).files}
    misses = []
    for path in paths:
        report = reports[str(path)]
        if coords[path] and not _has_gps(report) and report.decision == Decision.APPROVE:
            seen = ", ".join(c.describe() for c in coords[path])
            misses.append(f"{path.name}: approved; exiftool reads {seen}")
    return sum(1 for c in coords.values() if c), misses


def test_fixture_coordinates_are_never_approved(generated: list[Path]) -> None:
    with_coord, misses = _unsafe(generated)
    assert with_coord >= MIN_FIXTURE_COORDINATES  # the oracle is not empty
    assert not misses, "\n".join(misses)


def test_every_carrier_fixture_holds_an_exiftool_coordinate(generated: list[Path]) -> None:
    carriers = [p for p in generated if p.parent.name == "gps_carriers"]
    coords = _exiftool.coordinates(carriers)
    assert carriers and all(coords[p] for p in carriers), {p.name: coords[p] for p in carriers}


def test_corpus_coordinates_are_never_approved() -> None:
    corpus = default_corpus()
    if not (corpus / "MANIFEST.csv").is_file():
        pytest.skip(f"no corpus at {corpus} (set LEAKSCAN_CORPUS)")
    paths = sorted(p for p in corpus.rglob("*") if p.is_file() and p.name != "MANIFEST.csv")
    with_coord, misses = _unsafe(paths)
    assert with_coord > 0
    assert not misses, "\n".join(misses)
