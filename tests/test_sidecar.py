"""XMP sidecar files: sniffed as their own kind, their GPS/identity reported like a photo's XMP, no pixel
checks (said, not an error); a cut packet is an error (review). ExifTool agrees on the coordinate."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fixtures import sidecar_fixtures
from scanner import Decision, Settings, scan
from scanner.formats import XMP_KIND, sniff

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import _exiftool  # noqa: E402

ALL = Settings(jobs=1)


@pytest.fixture(scope="module")
def side(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return sidecar_fixtures.build(tmp_path_factory.mktemp("sidecars"))


def test_sidecar_is_its_own_kind(side: dict[str, Path]) -> None:
    assert all(sniff(p.read_bytes()) == XMP_KIND for p in side.values())
    assert sniff(b"<?xml version='1.0'?>\n<note>not XMP</note>\n") != XMP_KIND
    odf_manifest = (b'<?xml version="1.0" encoding="utf-8"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-'
                    b'ns#"><rdf:Description rdf:about="content.xml"><rdf:type rdf:resource="http://docs.oasis-open.org/'
                    b'ns/office/1.2/meta/odf#ContentFile"/></rdf:Description></rdf:RDF>')
    assert sniff(odf_manifest) != XMP_KIND  # RDF, but not XMP


def test_sidecar_gps_and_creator(side: dict[str, Path]) -> None:
    report = scan([side["sidecar_gps.xmp"]], ALL).files[0]
    rules = {f.rule_id for f in report.findings}
    assert {"metadata.gps", "metadata.identity", "metadata.sidecar"} <= rules
    gps = next(f for f in report.findings if f.rule_id == "metadata.gps")
    assert gps.evidence["lat"] == pytest.approx(sidecar_fixtures.SIDECAR_GPS[0], abs=1e-4)
    assert gps.evidence["lon"] == pytest.approx(sidecar_fixtures.SIDECAR_GPS[1], abs=1e-4)
    assert not report.errors and report.decision == Decision.REVIEW


def test_clean_sidecar_is_not_an_error(side: dict[str, Path]) -> None:
    report = scan([side["sidecar_clean.xmp"]], ALL).files[0]
    assert not report.errors
    assert "metadata.gps" not in {f.rule_id for f in report.findings}
    assert report.decision == Decision.APPROVE


def test_cut_sidecar_is_reviewed(side: dict[str, Path]) -> None:
    report = scan([side["sidecar_cut.xmp"]], ALL).files[0]
    assert any(e.code == "corrupt" for e in report.errors)
    assert report.decision == Decision.REVIEW


@pytest.mark.skipif(not _exiftool.available(), reason="exiftool not installed")
def test_exiftool_agrees_on_the_coordinate(side: dict[str, Path]) -> None:
    path = side["sidecar_gps.xmp"]
    theirs = _exiftool.coordinates([path])[path]
    ours = next(f for f in scan([path], ALL).files[0].findings if f.rule_id == "metadata.gps")
    assert theirs and any(abs(c.lat - ours.evidence["lat"]) < 1e-4 and abs(c.lon - ours.evidence["lon"]) < 1e-4
                          for c in theirs)


_DESC = ('<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="51,54.0N" '
         'exif:GPSLongitude="4,28.2E"/>')
_RDF = f'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">{_DESC}</rdf:RDF>'
_META = f'<x:xmpmeta xmlns:x="adobe:ns:meta/">{_RDF}</x:xmpmeta>'


@pytest.mark.parametrize("text", [
    _RDF,  # a bare rdf:RDF (no x:xmpmeta), as darktable and `exiftool -o x.xmp` may write
    f'<?xml version="1.0"?>\n{_RDF}',  # the Adobe namespace only on rdf:Description
    f"<!-- sidecar -->\n{_META}",  # a comment first
    f'\ufeff<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>\n{_META}',  # UTF-16 with a byte-order mark
])
def test_sidecar_shapes_that_exiftool_reads_are_sidecars(tmp_path: Path, text: str) -> None:
    """Each was sniffed as plain text and approved, its position unread (ExifTool reads 51.9, 4.47 from each)."""
    data = text[1:].encode("utf-16") if text.startswith("\ufeff") else text.encode("utf-8")  # with its BOM
    path = tmp_path / "IMG_0001.xmp"
    path.write_bytes(data)
    assert sniff(data) == XMP_KIND
    report = scan([path], Settings(jobs=1, exiftool="off", audit_db="off")).files[0]
    gps = next(f for f in report.findings if f.rule_id == "metadata.gps")
    assert gps.evidence["lat"] == pytest.approx(51.9, abs=1e-4) and report.decision == Decision.REVIEW
