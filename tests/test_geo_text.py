"""Location files written as text (a Google Takeout sidecar, GPX, KML): each is `metadata.gps` with its first
coordinate (KML's lon,lat order read right) and never approved, alone or in a ZIP; Takeout's 0/0 is no position,
its tagged people are identifying (masked); a cut file is review; out-of-range numbers are no position; a plain
JSON or XML file is not a location file; the metadata cap bounds the work and is review."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fixtures import geotext_fixtures as gf
from scanner import Decision, Settings, scan
from scanner.config import build_settings
from scanner.metadata import geotext
from scanner.model import Finding

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import _exiftool

ALL = Settings(jobs=1, exiftool="off")
LAT, LON = gf.AMSTERDAM


@pytest.fixture(scope="module")
def geo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return gf.build(tmp_path_factory.mktemp("geotext"))


def _gps(findings: tuple[Finding, ...]) -> list[Finding]:
    return [f for f in findings if f.rule_id == "metadata.gps"]


@pytest.mark.parametrize(("name", "where", "points"), [
    ("IMG_1234.jpg.json", "Google Takeout geoData", 1),
    ("track.gpx", "GPX trkpt", 2),
    ("place.kml", "KML coordinates", 1),
    ("place_long_prolog.kml", "KML coordinates", 1),
    ("places.geojson", "GeoJSON coordinates", 3),
    ("Records.json", "Google Location History", 2),
    ("location-history.json", "Google Location History latLng", 1),
    ("logger.nmea", "NMEA sentences", 2),
])
def test_location_file_is_gps(geo: dict[str, Path], name: str, where: str, points: int) -> None:
    report = scan([geo[name]], ALL).files[0]
    (gps,) = _gps(report.findings)
    assert gps.location == where and gps.evidence["points"] == points
    assert gps.evidence["lat"] == pytest.approx(LAT) and gps.evidence["lon"] == pytest.approx(LON)
    assert not report.errors and report.decision != Decision.APPROVE


def test_location_files_in_a_zip(geo: dict[str, Path]) -> None:
    report = scan([geo["locations.zip"]], ALL).files[0]
    assert report.decision != Decision.APPROVE
    parts = {p.location.rsplit("/", 1)[-1]: p for p in report.parts}
    assert set(parts) == {"IMG_1234.jpg.json", "track.gpx", "place.kml"}
    for part in parts.values():
        (gps,) = _gps(part.findings)
        assert gps.evidence["lat"] == pytest.approx(LAT) and part.decision != Decision.APPROVE


def test_takeout_people_are_identifying_and_masked(geo: dict[str, Path]) -> None:
    report = scan([geo["IMG_1234.jpg.json"]], ALL).files[0]
    (identity,) = [f for f in report.findings if f.rule_id == "metadata.identity"]
    assert identity.evidence == {"person 1": identity.evidence["person 1"]}
    assert gf.PERSON not in repr([f.to_dict() for f in report.findings])


def test_takeout_zero_zero_is_no_position(geo: dict[str, Path]) -> None:
    report = scan([geo["takeout_no_position.json"]], ALL).files[0]
    assert not [f for f in report.findings if f.rule_id.startswith("metadata.gps")]
    assert not report.errors
    assert "metadata.identity" in {f.rule_id for f in report.findings}  # the tagged person is still there


def test_cut_gpx_is_review(geo: dict[str, Path]) -> None:
    report = scan([geo["track_cut.gpx"]], ALL).files[0]
    assert any(e.code == "corrupt" for e in report.errors)
    assert report.decision == Decision.REVIEW
    (gps,) = _gps(report.findings)  # the point read before the cut is kept
    assert gps.evidence["lat"] == pytest.approx(LAT)


def test_out_of_range_is_no_position(geo: dict[str, Path]) -> None:
    report = scan([geo["track_out_of_range.gpx"]], ALL).files[0]
    assert not _gps(report.findings)
    assert "metadata.gps.partial" in {f.rule_id for f in report.findings}
    assert report.decision != Decision.APPROVE


@pytest.mark.parametrize("name", ["package.json", "plain.xml", "maps_config.json"])
def test_plain_json_and_xml_are_not_location_files(geo: dict[str, Path], name: str) -> None:
    assert geotext.shape(geo[name].read_bytes(), 1 << 20) is None
    report = scan([geo[name]], ALL).files[0]
    assert not report.findings and not report.errors and report.decision == Decision.APPROVE


def test_over_the_metadata_cap_is_review(tmp_path: Path) -> None:
    """A long track: only the first `max_metadata_kb` is parsed; its first point is still reported."""
    path = tmp_path / "long.gpx"
    path.write_bytes(gf.gpx((gf.AMSTERDAM,) * 200))
    settings = Settings(jobs=1, exiftool="off", max_metadata_kb=4.0)
    report = scan([path], settings).files[0]
    assert any("metadata cap" in e.message for e in report.errors)
    assert report.decision == Decision.REVIEW
    (gps,) = _gps(report.findings)
    assert 1 <= gps.evidence["points"] < 200


def test_a_track_through_a_site_blocks(tmp_path: Path) -> None:
    """The first point is outside the site, a later one inside: the track still shows the site."""
    policy = tmp_path / "leakscan.toml"
    policy.write_text(f'[[sites]]\nname = "HQ"\nlat = {gf.SECOND[0]}\nlon = {gf.SECOND[1]}\nradius_m = 50\n')
    path = tmp_path / "track.gpx"
    path.write_bytes(gf.gpx())
    settings = build_settings(str(policy), {"detectors": "metadata", "jobs": 1, "exiftool": "off"}, env={})
    report = scan([path], settings).files[0]
    (site,) = [f for f in report.findings if f.rule_id == "metadata.gps.site"]
    assert site.evidence["lat"] == pytest.approx(gf.SECOND[0]) and report.decision == Decision.BLOCK


@pytest.mark.parametrize("data", [
    b"<gpx", b'<?xml version="1.0"?><gpx><trkpt lat="x" lon="4"/></gpx>', b"<kml><coordinates>a,b c</coordinates>",
    b'{"geoData": [1, 2]}', b'{"geoData": {"latitude": "north"}}', b'{"geoData": {}}', b'{"geoData": ' + b"[" * 100_000,
    b'{"geoData": {"latitude": NaN, "longitude": 1}}', b'<!DOCTYPE gpx [<!ENTITY a "b">]><gpx>&a;</gpx>',
])
def test_malformed_never_crashes(data: bytes) -> None:
    """Damaged or hostile input: a problem or an unreadable coordinate (review), never an exception."""
    found = geotext.read(data, 1 << 20)
    assert found is not None
    assert found.problems or found.odd


@pytest.mark.skipif(not _exiftool.available(), reason="exiftool not installed")
def test_exiftool_reads_no_gpx_or_kml_position(geo: dict[str, Path]) -> None:
    """Why these files have no second reader: ExifTool takes a GPX or KML for plain XML (no point of a GPX at
    all, a KML's coordinates as one text value) and a Takeout sidecar's geoData as plain JSON numbers."""
    paths = [geo["track.gpx"], geo["place.kml"], geo["IMG_1234.jpg.json"]]
    records = _exiftool.read_records(paths, ["-*Latitude*", "-*Longitude*", "-*Coordinates*"])
    assert not any("lat" in key.lower() for key in records.get(geo["track.gpx"], {}))
    assert all(isinstance(v, str) for k, v in records.get(geo["place.kml"], {}).items() if "Coordinates" in k)
    assert all(not c for c in _exiftool.coordinates(paths).values())


def test_a_cut_geojson_is_review(geo: dict[str, Path]) -> None:
    report = scan([geo["geojson_cut.geojson"]], ALL).files[0]
    assert report.errors and report.decision != Decision.APPROVE
