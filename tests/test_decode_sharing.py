"""One decode for the pictures that come from the same pixels (media.decode_group, Subject.expect).

The visual detector asks for 640 px, faces for 960 px and the text detector for 2000 px. A PNG, HEIC or WebP is
decoded whole for any of them, a JPEG at the draft scale each size asks for: before, each detector decoded on its
own (about 5% of a whole dev scan, docs/ocr.md "Fourth round"). The pictures must stay what `media.decode` gives
for each size alone, pixel for pixel. Decodes are counted at Pillow's own `ImageFile.load` (a real decode).
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from fixtures import png_bytes, text_fixtures
from scanner import media
from scanner.config import Settings
from scanner.detectors.faces import FacesDetector
from scanner.detectors.text import TextDetector
from scanner.detectors.visual import VisualDetector
from scanner.model import Item
from scanner.pipeline import Pipeline, expect_pictures
from scanner.subject import Subject

KEYS = [(640, True), (960, False), (2000, False)]  # visual, faces, text


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The format of every image whose pixels Pillow decodes for a picture from now on (inside media.decode_group:
    the metadata detector's own reads, such as Pillow's getexif() on a PNG, are not pictures)."""
    seen: list[str] = []
    load, group = ImageFile.ImageFile.load, media.decode_group
    inside = [False]

    def spy(self: ImageFile.ImageFile) -> object:
        if self.tile and inside[0]:  # pixels not decoded yet: this call decodes them
            seen.append(str(self.format))
        return load(self)

    def grouped(*args: object) -> object:
        inside[0] = True
        try:
            return group(*args)  # type: ignore[arg-type]
        finally:
            inside[0] = False

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    monkeypatch.setattr(media, "decode_group", grouped)
    return seen


def _photo(fmt: str, size: tuple[int, int] = (2400, 1800), orientation: int = 6) -> bytes:
    """A noisy picture with an EXIF orientation (the decode turns it), saved as `fmt`."""
    rng = np.random.default_rng(7)
    small = rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    picture = Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    picture.save(buf, fmt, exif=exif.tobytes(), **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and a.mode == b.mode and np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize(("fmt", "loads"), [("PNG", 1), ("JPEG", 2)])
def test_a_subject_decodes_pictures_of_one_draft_once(fmt: str, loads: int, decodes: list[str]) -> None:
    """A PNG: one decode for the three sizes. A 2400 x 1800 JPEG: 640 and 960 px come from the 1/2 draft, 2000 px
    from the whole picture, so two. Each picture is the one decode() gives for its size alone."""
    data = _photo(fmt)
    subject = Subject(Item(f"p.{fmt.lower()}", data, hashlib.sha256(data).hexdigest(), f"image/{fmt.lower()}"),
                      Settings())
    subject.expect(KEYS)
    pictures = [subject.picture(*key) for key in KEYS]
    assert len(decodes) == loads
    alone = [media.decode(data, 10**9, side, fast) for side, fast in KEYS]
    assert all(_same(p, a) for p, a in zip(pictures, alone, strict=True))
    assert pictures[2].size == (1500, 2000)  # EXIF orientation 6 applied to the shared decode too


def test_without_expectations_each_size_is_its_own_decode(decodes: list[str]) -> None:
    data = _photo("PNG")
    subject = Subject(Item("p.png", data, hashlib.sha256(data).hexdigest(), "image/png"), Settings())
    for key in KEYS:
        subject.picture(*key)
    assert len(decodes) == 3


def test_decode_group_leaves_out_sizes_of_another_draft() -> None:
    data = _photo("JPEG", orientation=1)
    got = media.decode_group(data, 10**9, [(960, False), (640, True), (None, False)])
    assert set(got) == {(960, False), (640, True)} and got[(640, True)].size == (640, 480)
    assert got[(960, False)].size == (960, 720)
    whole = media.decode_group(data, 10**9, [(None, False), (2000, False), (960, False)])
    assert set(whole) == {(None, False), (2000, False)} and whole[(None, False)].size == (2400, 1800)


def test_a_corrupt_picture_fails_alike_for_every_size() -> None:
    """The shared decode fails once; every detector asking after it gets the same error (fail closed: review)."""
    data = _photo("PNG")[:5000]
    subject = Subject(Item("cut.png", data, hashlib.sha256(data).hexdigest(), "image/png"), Settings())
    subject.expect(KEYS)
    errors = []
    for key in KEYS:
        with pytest.raises(Exception) as info:
            subject.picture(*key)
        errors.append(info.value)
    assert errors[0] is errors[1] is errors[2]


def test_the_image_detectors_declare_what_they_ask_for() -> None:
    assert [d.pictures for d in (VisualDetector, FacesDetector, TextDetector)] == [(k,) for k in KEYS]


def test_expect_pictures_tells_only_the_subjects_a_detector_accepts() -> None:
    class Pictures:
        id = "p"
        rules = ("p.x",)
        pictures = ((123, False),)

        def accepts(self, subject: Subject) -> bool:
            return subject.item.source.endswith(".png")

        def detect(self, subject: Subject) -> list[object]:
            return []

    subjects = [Subject(Item(n, b"x", "0" * 64, "image/png"), Settings()) for n in ("a.png", "b.jpg")]
    expect_pictures([Pictures()], subjects)  # type: ignore[list-item]
    assert [list(s._expected) for s in subjects] == [[(123, False)], []]


@pytest.mark.slow
def test_a_scan_with_every_detector_decodes_a_png_once(decodes: list[str]) -> None:
    """The real pipeline (visual, faces, text, metadata) over a rendered receipt saved as PNG: one pixel decode, and
    the same report as when each detector decodes on its own."""
    data = png_bytes(text_fixtures.receipt("en").resize((1400, 2100)))
    item = Item("receipt.png", data, hashlib.sha256(data).hexdigest(), "image/png")
    pipeline = Pipeline(Settings())
    shared = pipeline.scan_item(item)
    pixel_decodes = [f for f in decodes if f == "PNG"]
    assert len(pixel_decodes) == 1

    def each_alone(detectors: object, subjects: object) -> None:
        return None

    import scanner.pipeline as pipeline_module

    pipeline_module.expect_pictures, saved = each_alone, pipeline_module.expect_pictures  # type: ignore[assignment]
    try:
        decodes.clear()
        alone = pipeline.scan_item(item)
    finally:
        pipeline_module.expect_pictures = saved
    assert len([f for f in decodes if f == "PNG"]) == 3
    assert shared.decision == alone.decision and shared.decision.value != "approve"
    assert [(f.rule_id, f.region) for f in shared.findings] == [(f.rule_id, f.region) for f in alone.findings]
