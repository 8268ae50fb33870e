"""Issue 8, classes 2 and 3: GPS that other readers see, and damaged EXIF read as "no data".

Every row fails on the code before the fix (each file was approved there); fixtures come from
fixtures/hardening_gps.py, and ExifTool is the reference for what "a reader shows".
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fixtures import hardening_gps
from fixtures.metadata_fixtures import AMSTERDAM
from scanner import Decision, Settings, scan
from scanner.metadata import tiff

META = Settings(detectors=("metadata",), jobs=1)
GPS = "metadata.gps"
PARTIAL = "metadata.gps.partial"
CORRUPT = "error.corrupt"


@pytest.fixture(scope="session")
def hard(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return hardening_gps.build(tmp_path_factory.mktemp("hardening_gps"))


CASES = [
    # fixture, rule ids / error codes that must be present, decision
    ("xmp_bare_rdf.jpg", {GPS}, Decision.REVIEW),
    ("xmp_xapmeta.jpg", {GPS}, Decision.REVIEW),
    ("xmp_other_prefix.jpg", {GPS}, Decision.REVIEW),
    ("xmp_in_com.jpg", {GPS}, Decision.REVIEW),
    ("exif_second_app1.jpg", {GPS}, Decision.REVIEW),
    ("gps_pointer_outside.jpg", {CORRUPT}, Decision.REVIEW),
    ("gps_value_outside.jpg", {CORRUPT}, Decision.REVIEW),
    ("ifd_loop.jpg", {CORRUPT}, Decision.REVIEW),
    ("ifd_count_past_end.jpg", {CORRUPT}, Decision.REVIEW),
    ("gps_lat_dest_lon.jpg", {PARTIAL}, Decision.REVIEW),
    ("png_raw_profile_xmp.png", {GPS}, Decision.REVIEW),
    # guards: already caught before the fix (Pillow reads these), kept so the walker does not lose them
    ("png_exif_after_idat.png", {GPS}, Decision.REVIEW),
    ("png_raw_profile_exif.png", {GPS}, Decision.REVIEW),
    ("gps_clean_control.jpg", {GPS}, Decision.REVIEW),
    ("no_gps_control.jpg", set(), Decision.APPROVE),
]


def _ids(report: Any) -> set[str]:
    return {f.rule_id for f in report.findings} | {f"error.{e.code}" for e in report.errors}


@pytest.mark.parametrize(("name", "present", "decision"), CASES, ids=[c[0] for c in CASES])
def test_hardening_table(hard: dict[str, Path], name: str, present: set[str], decision: Decision) -> None:
    (report,) = scan(hard[name], META).files
    assert present <= _ids(report), (report.findings, report.errors)
    assert report.verdict.decision == decision


@pytest.mark.parametrize("name", ["gps_clean_control.jpg", "no_gps_control.jpg", "exif_second_app1.jpg",
                                  "png_exif_after_idat.png", "png_raw_profile_exif.png"])
def test_well_formed_exif_is_not_an_error(hard: dict[str, Path], name: str) -> None:
    (report,) = scan(hard[name], META).files
    assert not report.errors


@pytest.mark.parametrize("name", ["xmp_bare_rdf.jpg", "xmp_other_prefix.jpg", "xmp_in_com.jpg",
                                  "exif_second_app1.jpg", "gps_pointer_outside.jpg", "gps_value_outside.jpg",
                                  "png_raw_profile_xmp.png", "png_raw_profile_exif.png"])
def test_recovered_position_is_the_written_one(hard: dict[str, Path], name: str) -> None:
    (report,) = scan(hard[name], META).files
    (gps,) = [f for f in report.findings if f.rule_id == GPS]
    assert (gps.evidence["lat"], gps.evidence["lon"]) == pytest.approx(AMSTERDAM, abs=1e-3)


def test_half_coordinates_are_shown_not_approved(hard: dict[str, Path]) -> None:
    (report,) = scan(hard["gps_lat_dest_lon.jpg"], META).files
    partial = {f.message for f in report.findings if f.rule_id == PARTIAL}
    assert any("latitude 52.3731" in m for m in partial) and any("longitude 4.8922" in m for m in partial)
    assert GPS not in _ids(report) and "metadata.gps.malformed" not in _ids(report)


def test_damage_is_named_in_the_error(hard: dict[str, Path]) -> None:
    expected = {"ifd_loop.jpg": "IFD loop", "ifd_count_past_end.jpg": "entry count 300",
                "gps_pointer_outside.jpg": "GPS directory", "gps_value_outside.jpg": "GPS tag 0x0002 value"}
    for name, words in expected.items():
        (report,) = scan(hard[name], META).files
        assert any(words in e.message for e in report.errors), (name, report.errors)


def test_walker_is_bounded_on_a_self_loop() -> None:
    # IFD0 whose next-IFD pointer is itself, and a GPS pointer to itself: the walk ends, with the loop named
    block = b"II*\x00" + (8).to_bytes(4, "little") + b"\x01\x00" + bytes.fromhex("2588 0400 01000000 08000000")
    walk = tiff.walk(block + (8).to_bytes(4, "little"))
    assert [ifd.name for ifd in walk.ifds] == ["IFD0"]
    assert sum("IFD loop" in p for p in walk.problems) == 2


def test_walker_caps_its_problem_list() -> None:
    entries = b"".join(b"\x01\x00" + bytes([99, 0]) + b"\x01\x00\x00\x00" + b"\x00" * 4 for _ in range(50))
    walk = tiff.walk(b"II*\x00" + (8).to_bytes(4, "little") + (50).to_bytes(2, "little") + entries + b"\x00" * 4)
    assert len(walk.problems) == tiff.MAX_PROBLEMS + 1 and walk.problems[-1] == "more problems not listed"


def _exiftool_coordinates(path: Path) -> dict[str, float]:
    out = subprocess.run(["exiftool", "-n", "-j", "-G1", "-a", "-ee", str(path)], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    (tags,) = json.loads(out)
    axes = ("GPSLatitude", "GPSLongitude", "GPSDestLatitude", "GPSDestLongitude")
    return {key.split(":")[-1]: float(v) for key, v in tags.items()
            if key.split(":")[-1] in axes and isinstance(v, (int, float))}


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed")
def test_what_exiftool_shows_leakscan_reports(hard: dict[str, Path]) -> None:
    """Where ExifTool prints a coordinate, leakscan reports metadata.gps (a full pair, same place) or at
    least metadata.gps.partial (half a pair); never approve."""
    shown_somewhere = 0
    for name, path in hard.items():
        coords = _exiftool_coordinates(path)
        if not coords:
            continue
        shown_somewhere += 1
        (report,) = scan(path, META).files
        assert report.verdict.decision != Decision.APPROVE, name
        pairs = [(coords[a], coords[b]) for a, b in (("GPSLatitude", "GPSLongitude"),
                                                     ("GPSDestLatitude", "GPSDestLongitude")) if {a, b} <= set(coords)]
        found = [(f.evidence["lat"], f.evidence["lon"]) for f in report.findings if f.rule_id == GPS]
        for lat, lon in pairs:
            assert any(pytest.approx((lat, lon), abs=1e-3) == pos for pos in found), (name, pairs, found)
        if not pairs:
            assert {GPS, PARTIAL} & _ids(report), name
    assert shown_somewhere >= 6  # the check ran on the fixtures it is meant for
