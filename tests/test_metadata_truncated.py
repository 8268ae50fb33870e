"""GPS stored before the damage is reported even when the image header, the pixels or a secondary image
is cut; the cut itself is still an error (review), never a silent approve."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures import truncated_gps
from scanner import Decision, Settings, scan

META = Settings(detectors=("metadata",), jobs=1)


@pytest.fixture(scope="module")
def cut(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return truncated_gps.build(tmp_path_factory.mktemp("truncated_gps"))


@pytest.mark.parametrize("name", ["gps_cut60.jpg", "gps_mpo_cut_frame2.jpg", "gps_heic_cut_secondary.heic"])
def test_gps_kept_and_cut_reported(cut: dict[str, Path], name: str) -> None:
    report = scan([cut[name]], META).files[0]
    gps = [f for f in report.findings if f.rule_id == "metadata.gps"]
    assert gps and gps[0].evidence["lat"] == pytest.approx(51.9225, abs=1e-3)
    assert gps[0].evidence["lon"] == pytest.approx(4.47917, abs=1e-3)
    assert any(e.code == "corrupt" for e in report.errors)
    assert report.decision == Decision.REVIEW


def test_cut_jpeg_header_is_not_openable(cut: dict[str, Path]) -> None:
    """The 60% cut lies inside the header segments: Pillow cannot open it, so the GPS comes from the bytes."""
    from scanner import media
    from scanner.errors import CorruptItem

    with pytest.raises(CorruptItem):
        media.open_image(cut["gps_cut60.jpg"].read_bytes(), 10**8)
