"""The metadata detector on generated fixtures: one row per fixture, positive, negative and corrupt."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner import Decision, Settings, scan
from scanner.config import build_settings

META = Settings(detectors=("metadata",), jobs=1)

CASES = [
    # fixture, rule ids that must be present, rule ids that must be absent, decision
    ("clean.jpg", set(), {"metadata.gps", "metadata.identity"}, Decision.APPROVE),
    ("clean.png", set(), {"metadata.gps"}, Decision.APPROVE),
    ("gps_dirty.jpg", {"metadata.gps"}, set(), Decision.REVIEW),
    ("gps_dirty.png", {"metadata.gps"}, set(), Decision.REVIEW),
    ("gps_dirty.webp", {"metadata.gps"}, set(), Decision.REVIEW),
    ("gps_dirty.tiff", {"metadata.gps"}, set(), Decision.REVIEW),
    ("gps_dirty.heic", {"metadata.gps"}, set(), Decision.REVIEW),
    ("gps_xmp_only.jpg", {"metadata.gps", "metadata.identity"}, set(), Decision.REVIEW),
    ("gps_southwest.jpg", {"metadata.gps"}, set(), Decision.REVIEW),
    ("gps_malformed_empty.jpg", {"metadata.gps.malformed"}, {"metadata.gps"}, Decision.APPROVE),
    ("gps_malformed_range.jpg", {"metadata.gps.partial"}, {"metadata.gps"}, Decision.REVIEW),  # a reader shows 95 N
    ("identity_dirty.jpg", {"metadata.identity", "metadata.device", "metadata.capture_time"}, set(), Decision.REVIEW),
    ("makernote_nikon.jpg", {"metadata.identity"}, set(), Decision.REVIEW),
    ("makernote_canon.jpg", {"metadata.identity"}, set(), Decision.REVIEW),
    ("thumbnail_stale.jpg", {"metadata.thumbnail"}, set(), Decision.REVIEW),
    ("thumbnail_ok.jpg", set(), {"metadata.thumbnail"}, Decision.APPROVE),
    ("trailing_acropalypse.png", {"metadata.trailing_data"}, set(), Decision.REVIEW),
    ("trailing_jpeg.jpg", {"metadata.trailing_data"}, set(), Decision.REVIEW),
    ("png_named.jpg", {"metadata.gps"}, set(), Decision.REVIEW),
]


@pytest.mark.parametrize(("name", "present", "absent", "decision"), CASES, ids=[c[0] for c in CASES])
def test_fixture_findings(fx: dict[str, Path], name: str, present: set[str], absent: set[str],
                          decision: Decision) -> None:
    (report,) = scan(fx[name], META).files
    rules = {f.rule_id for f in report.findings}
    assert present <= rules, report.findings
    assert not (absent & rules), report.findings
    assert report.errors == ()
    assert report.decision == decision


BROKEN = [
    ("truncated.jpg", "corrupt"),
    ("corrupt_header.png", "corrupt"),
    ("empty.jpg", "unsupported"),
    ("bomb.png", "too_large"),
    ("huge_exif.png", "corrupt"),
    ("not_an_image.jpg", "unsupported"),
    ("multiframe.gif", "unsupported"),   # only the first frame is analysed: not a silent approve
    ("multipage.tiff", "unsupported"),
]


@pytest.mark.parametrize(("name", "code"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_files_fail_closed(fx: dict[str, Path], name: str, code: str) -> None:
    (report,) = scan(fx[name], META).files
    assert report.decision == Decision.REVIEW
    assert code in {e.code for e in report.errors}


def test_truncated_file_keeps_what_was_readable(fx: dict[str, Path]) -> None:
    (report,) = scan(fx["truncated.jpg"], META).files
    assert "metadata.gps" in {f.rule_id for f in report.findings}


def test_gps_position_and_place(fx: dict[str, Path]) -> None:
    (report,) = scan(fx["gps_dirty.jpg"], META).files
    (gps,) = [f for f in report.findings if f.rule_id == "metadata.gps"]
    assert gps.evidence["lat"] == pytest.approx(51.9225, abs=1e-3)
    assert gps.evidence["lon"] == pytest.approx(4.4792, abs=1e-3)
    assert "Rotterdam" in gps.message and "51.9225 N, 4.4792 E" in gps.message


def test_southern_western_hemispheres_are_negative(fx: dict[str, Path]) -> None:
    (report,) = scan(fx["gps_southwest.jpg"], META).files
    (gps,) = [f for f in report.findings if f.rule_id == "metadata.gps"]
    assert gps.evidence["lat"] < 0 and gps.evidence["lon"] < 0


def test_gps_inside_a_site_blocks(fx: dict[str, Path], tmp_path: Path) -> None:
    policy = tmp_path / "leakscan.toml"
    policy.write_text('[[sites]]\nname = "HQ Amsterdam"\nlat = 52.3731\nlon = 4.8922\nradius_m = 250\n')
    settings = build_settings(str(policy), {"detectors": "metadata", "jobs": 1}, env={})
    inside, outside = scan([fx["gps_site.jpg"], fx["gps_dirty.jpg"]], settings).files
    assert inside.decision == Decision.BLOCK
    (site,) = [f for f in inside.findings if f.rule_id == "metadata.gps.site"]
    assert "HQ Amsterdam" in site.message and site.evidence["distance_m"] < 100
    assert outside.decision == Decision.REVIEW


def test_serial_numbers_are_masked(fx: dict[str, Path]) -> None:
    (report,) = scan(fx["identity_dirty.jpg"], META).files
    text = repr([f.to_dict() for f in report.findings])
    assert "SN-0042-1337-9876" not in text
    assert "9876" in text


def test_free_text_metadata_is_not_copied_into_reports(tmp_path: Path) -> None:
    from PIL import Image

    exif = Image.Exif()
    exif[0x010E] = "wifi password: Hunter2Secret!"
    path = tmp_path / "described.jpg"
    Image.new("RGB", (32, 32)).save(path, exif=exif.tobytes())
    (report,) = scan(path, META).files
    text = repr([f.to_dict() for f in report.findings])
    assert "metadata.text" in {f.rule_id for f in report.findings}
    assert "Hunter2Secret" not in text and "29 characters" in text
