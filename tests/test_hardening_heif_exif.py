"""Issue 8 (found by the fuzz campaign): a HEIC whose Exif item libheif no longer attaches still has its GPS read."""

from __future__ import annotations

from pathlib import Path

from scanner import scan
from scanner.config import Settings


def _unreferenced_exif(heic: bytes) -> bytes:
    """The same file with its `iref` box renamed: the Exif item stays in iinf/iloc (ExifTool reads it),
    but libheif no longer links it to the picture."""
    at = heic.index(b"iref")
    return heic[:at] + b"xref" + heic[at + 4 :]


def test_gps_of_an_unreferenced_exif_item_is_reported(fx: dict[str, Path], tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "unreferenced_exif.heic"
    path.write_bytes(_unreferenced_exif(fx["gps_dirty.heic"].read_bytes()))
    with Image.open(path) as im:
        assert not im.info.get("exif"), "precondition: Pillow/libheif sees no EXIF in this file"
    (report,) = scan(path, Settings(detectors=("metadata",), jobs=1)).files
    assert "metadata.gps" in {f.rule_id for f in report.findings}
    assert report.decision.label != "approve"
