"""Seam tests of the redaction: findings fed straight into the image fixer (no detector runs here).

Faces (`faces.person`) arrive from another detector; until it is registered, these tests feed its
findings in directly. The end-to-end face case skips when no `faces` detector is registered.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from scanner.actions import FIXERS, Context, FixOptions
from scanner.actions.image import ImageFixer
from scanner.config import Settings
from scanner.containers.base import Budget
from scanner.model import Decision, FileReport, Finding, Region, Severity, Verdict

FACE = Region(100, 60, 80, 100)
CONSENTED = Region(300, 60, 80, 100)
TEXT = Region(40, 220, 200, 30)


def face_photo() -> bytes:
    """Two busy 'faces' (checkerboards: detail a pixelation must destroy) and a text line, as PNG."""
    rng = np.random.default_rng(7)
    arr = rng.integers(0, 255, (300, 480, 3), dtype=np.uint8)
    img = Image.fromarray(arr)
    d = ImageDraw.Draw(img)
    d.rectangle((TEXT.x, TEXT.y, TEXT.x + TEXT.w, TEXT.y + TEXT.h), fill="white")
    d.text((TEXT.x + 5, TEXT.y + 5), "4539 1488 0343 6467", fill="black")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def finding(rule: str, region: Region | None) -> Finding:
    return Finding(rule, "test", Severity.MEDIUM, 0.9, "seen", region=region)


def context(findings: list[Finding], options: FixOptions | None = None) -> Context:
    report = FileReport("x.png", None, "image/png", None, Verdict(Decision.REVIEW), tuple(findings))
    return Context(options or FixOptions(), 10_000_000, Budget(Settings().limits), {"": report}, FIXERS)


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.int16)


def crop(a: np.ndarray, r: Region) -> np.ndarray:
    return a[r.y : r.y + r.h, r.x : r.x + r.w]


def block_detail(a: np.ndarray) -> float:
    """Mean difference between neighbouring pixels: high for noise, low for large flat blocks."""
    return float(np.abs(np.diff(a, axis=1)).mean())


FINDINGS = [finding("faces.person", FACE), finding("faces.consented", CONSENTED), finding("text.payment_card", TEXT)]


@pytest.mark.parametrize("style", ["pixelate", "blur"])
def test_faces_are_hidden_consented_faces_and_the_rest_untouched(style: str) -> None:
    data = face_photo()
    fixed = ImageFixer().fix(data, "image/png", "", context(FINDINGS, FixOptions(faces=style)), keep_format=False)
    before, after = pixels(data), pixels(fixed.data)
    assert block_detail(crop(after, FACE)) < block_detail(crop(before, FACE)) / 4
    assert np.array_equal(crop(after, CONSENTED), crop(before, CONSENTED))
    assert crop(after, TEXT).max() == 0  # the text is under an opaque black fill, not blurred
    assert np.array_equal(after[:40, 400:], before[:40, 400:])  # far from every box: lossless PNG, same pixels
    actions = [(c.action, c.rule_id) for c in fixed.changes if c.region is not None]
    assert actions == [(style, "faces.person"), ("fill", "text.payment_card")]


def test_findings_without_a_region_paint_nothing() -> None:
    data = face_photo()
    ctx = context([finding("text.payment_card", None), finding("faces.person", None)])
    fixed = ImageFixer().fix(data, "image/png", "", ctx, keep_format=False)
    assert np.array_equal(pixels(fixed.data), pixels(data))
    assert not [c for c in fixed.changes if c.region is not None]


@pytest.mark.parametrize("rule", ["text.receipt", "text.whiteboard", "text.pos_screen", "text.sticky_notes"])
def test_scene_findings_are_not_blacked_out(rule: str) -> None:
    """A receipt or whiteboard finding spans the picture: a fill would return a black picture as approved."""
    data = face_photo()
    fixed = ImageFixer().fix(data, "image/png", "", context([finding(rule, Region(0, 0, 480, 300))]),
                             keep_format=False)
    assert np.array_equal(pixels(fixed.data), pixels(data))


def test_a_box_outside_the_picture_is_clipped() -> None:
    data = face_photo()
    ctx = context([finding("text.secret", Region(470, 290, 500, 500))])
    fixed = ImageFixer().fix(data, "image/png", "", ctx, keep_format=False)
    (change,) = [c for c in fixed.changes if c.region is not None]
    assert change.region is not None and change.region.x + change.region.w <= 480
    assert change.region.y + change.region.h <= 300


def test_fix_options_are_validated() -> None:
    from scanner.errors import ConfigError

    assert FixOptions.parse({"faces": "Blur", "heic": "png", "jpeg_quality": 85}) == FixOptions("blur", "png", 85)
    for bad in ({"faces": "smudge"}, {"heic": "gif"}, {"jpeg_quality": 0}, {"jpeg_quality": True}, {"face": "blur"}):
        with pytest.raises(ConfigError):
            FixOptions.parse(bad)


def test_a_face_a_card_and_gps_in_one_photo_fix_to_an_approved_copy_with_nothing_left(tmp_path: Path) -> None:
    """The issue's case: GPS + a face + a card number -> fix -> the copy's re-scan approves it; ExifTool finds no
    EXIF/XMP/GPS in it and nothing follows the end of the JPEG; the original is unchanged."""
    from fixtures.fix_fixtures import TRAILER, build
    from scanner.cli import main

    photo = build(tmp_path / "in")["face_card_gps.jpg"]
    before = photo.read_bytes()
    (tmp_path / "out").mkdir()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["fix", "--format", "json", "-j", "1", "--out", str(tmp_path / "out"), str(photo)])
    row = json.loads(out.getvalue())["files"][0]
    changed = {c["rule_id"] for c in row["changes"]}
    assert {"faces.person", "text.payment_card"} <= changed, row["changes"]
    assert row["rescan"]["decision"] == "approve" and code == 0, row
    assert not [f for p in _walk(row["rescan"]) for f in p["findings"] if f["rule_id"] == "faces.person"]
    copy = tmp_path / "out" / "face_card_gps.safe.jpg"
    data = copy.read_bytes()
    assert data.endswith(b"\xff\xd9") and TRAILER not in data
    assert photo.read_bytes() == before
    if shutil.which("exiftool"):
        tags = json.loads(subprocess.run(["exiftool", "-j", "-G1", "-a", str(copy)], capture_output=True,
                                         check=True, text=True).stdout)[0]
        left = [k for k in tags if k.split(":")[0] in ("IFD0", "ExifIFD", "GPS", "XMP-exif", "XMP-x", "IFD1")
                or "GPS" in k]
        assert left == [], left


def _walk(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [report, *(q for p in report["parts"] for q in _walk(p))]


def test_the_default_policy_file_holds_the_builtin_fix_options() -> None:
    from scanner.config import build_settings

    root = Path(__file__).resolve().parents[1]
    settings = build_settings(str(root / "scanner" / "default_policy.toml"), env={})
    assert FixOptions.parse(settings.sections.get("fix")) == FixOptions()


def _encoded(fmt: str, mode: str, frames: int = 1, **kw: Any) -> bytes:
    rng = np.random.default_rng(1)
    pics = [Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).convert(mode) for _ in range(frames)]
    exif = Image.Exif()
    exif[0x010F] = "Leakscan Test Camera"
    buf = io.BytesIO()
    extra: dict[str, Any] = {"save_all": True, "append_images": pics[1:]} if frames > 1 else {}
    if fmt in ("JPEG", "PNG", "WEBP", "TIFF", "MPO"):
        extra["exif"] = exif.tobytes()
    pics[0].save(buf, fmt, **extra, **kw)
    return buf.getvalue()


@pytest.mark.parametrize(("fmt", "mode", "frames", "kind", "out_fmt"), [
    ("JPEG", "CMYK", 1, "image/jpeg", "JPEG"),
    ("JPEG", "L", 1, "image/jpeg", "JPEG"),
    ("MPO", "RGB", 2, "image/jpeg", "JPEG"),
    ("PNG", "I;16", 1, "image/png", "PNG"),
    ("PNG", "P", 1, "image/png", "PNG"),
    ("PNG", "LA", 1, "image/png", "PNG"),
    ("GIF", "P", 3, "image/gif", "GIF"),
    ("TIFF", "RGB", 2, "image/tiff", "TIFF"),
    ("WEBP", "RGBA", 1, "image/webp", "WEBP"),
])
def test_every_mode_and_format_is_rewritten_as_one_picture_without_metadata(
        fmt: str, mode: str, frames: int, kind: str, out_fmt: str) -> None:
    data = _encoded(fmt, mode, frames)
    ctx = context([finding("text.secret", Region(5, 5, 20, 10)), finding("faces.person", Region(30, 10, 20, 20))])
    fixed = ImageFixer().fix(data, kind, "", ctx, keep_format=True)
    out = Image.open(io.BytesIO(fixed.data))
    assert out.format == out_fmt and out.size == (64, 48) and getattr(out, "n_frames", 1) == 1
    assert "exif" not in out.info and 0x010F not in out.getexif()  # no camera make (TIFF keeps layout tags)
    assert ("dropped" in {c.action for c in fixed.changes}) == (frames > 1)


@pytest.mark.parametrize("transparent", [False, True])
def test_a_palette_png_stays_a_palette_png_with_the_same_colours(transparent: bool) -> None:
    rng = np.random.default_rng(2)
    img = Image.fromarray(rng.integers(0, 16, (48, 64), dtype=np.uint8) * 16, "L").convert("P")
    buf = io.BytesIO()
    img.save(buf, "PNG", **({"transparency": 0} if transparent else {}))
    ctx = context([finding("text.secret", Region(5, 5, 20, 10))])
    fixed = ImageFixer().fix(buf.getvalue(), "image/png", "", ctx, keep_format=False)
    out = Image.open(io.BytesIO(fixed.data))
    assert out.mode == "P" and ("transparency" in out.info) == transparent
    want = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGBA"))
    got = np.asarray(out.convert("RGBA"))
    assert np.array_equal(got[30:, 40:], want[30:, 40:])  # outside the box: the very same colours
    assert (got[6:14, 6:24, :3] == 0).all()


def test_a_policy_with_a_fix_table_still_scans() -> None:
    """[fix] belongs to the fix action: the detector registry must not reject it as a stray table."""
    from scanner.detectors import build
    from scanner.engines import EngineSet

    settings = Settings(detectors=("metadata",), sections={"fix": {"faces": "blur"}})
    assert [d.id for d in build(settings, EngineSet(settings))] == ["metadata"]


def test_a_file_that_changed_after_its_scan_gets_no_copy(tmp_path: Path) -> None:
    from scanner.actions import Unfixable
    from scanner.actions.safecopy import make_copy

    photo = tmp_path / "p.png"
    photo.write_bytes(face_photo())
    report = FileReport(str(photo), "0" * 64, "image/png", None, Verdict(Decision.REVIEW))
    with pytest.raises(Unfixable, match="changed"):
        make_copy(str(photo), report, Settings(), FixOptions())


def test_a_worn_badge_is_covered_and_the_copy_shows_no_badge(tmp_path: Path) -> None:
    """faces.badge: the card's box is filled solid in the copy, and the copy's own scan finds no badge."""
    from fixtures.faces_fixtures import build
    from scanner.cli import main

    photo = build(tmp_path / "in")["badge_worn.jpg"]
    (tmp_path / "out").mkdir()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["fix", "--format", "json", "-j", "1", "--out", str(tmp_path / "out"), str(photo)])
    row = json.loads(out.getvalue())["files"][0]
    assert "faces.badge" in {c["rule_id"] for c in row["changes"]}, row["changes"]
    rescan_rules = {f["rule_id"] for p in _walk(row["rescan"]) for f in p["findings"]}
    assert "faces.badge" not in rescan_rules and "faces.person" not in rescan_rules
