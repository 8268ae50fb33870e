"""A PNG's EXIF read from its chunks (metadata/png.exif_chunk), not by decoding every pixel.

Pillow's getexif() on a PNG whose eXIf chunk is not before the image data (or that has none) decodes the whole
picture to look, and keeps the pixels on the header image. The walk must read exactly what Pillow reads, and
leave to Pillow every PNG it cannot vouch for (cut short, a damaged eXIf, an ImageMagick raw profile).
"""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from fixtures.metadata_fixtures import ROTTERDAM, gps_exif, scene
from scanner.errors import CorruptItem
from scanner.media import open_image
from scanner.metadata import exif, png


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(exif_where: str | None, extra: bytes = b"") -> bytes:
    """A PNG with GPS in an eXIf chunk before the image data, after it (where Pillow must decode to find it), or
    none; `extra` chunks go just before IEND."""
    buf = io.BytesIO()
    scene(320, 240, seed=3).save(buf, "PNG")
    data = buf.getvalue()
    iend = data.rindex(b"IEND") - 4
    idat = data.index(b"IDAT") - 4
    chunk = _chunk(b"eXIf", gps_exif(*ROTTERDAM)[6:])  # the chunk holds the TIFF block
    if exif_where == "before":
        data = data[:idat] + chunk + data[idat:]
        iend += len(chunk)
    elif exif_where == "after":
        data = data[:iend] + chunk + data[iend:]
        iend += len(chunk)
    return data[:iend] + extra + data[iend:]


def _pillow(data: bytes) -> exif.ExifBlock | None:
    return exif.read_exif(open_image(data, 10**8), 10**6)  # no bytes given: Pillow's own way


@pytest.mark.parametrize("where", ["before", "after", None])
def test_the_walk_reads_what_pillow_reads_without_decoding(where: str | None) -> None:
    data = _png(where)
    header = open_image(data, 10**8)
    walked = exif.read_exif(header, 10**6, data)
    assert header.tile  # no pixel decoded (Pillow decodes them all for "after" and None, then empties `tile`)
    expected = _pillow(data)
    if where is None:
        assert walked is None and expected is None
        return
    assert walked is not None and expected is not None
    assert (walked.tags, walked.gps, walked.gps_pointer) == (expected.tags, expected.gps, expected.gps_pointer)
    assert walked.gps and walked.raw == b"Exif\x00\x00" + gps_exif(*ROTTERDAM)[6:]
    # Pillow's way had no raw block for an eXIf after the image data (info["exif"] was read before getexif()
    # decoded the pixels and filled it), so an EXIF thumbnail there went unseen; the walk has it
    assert expected.raw == (b"" if where == "after" else walked.raw)


@pytest.mark.parametrize("damage", ["cut", "bad crc", "raw profile"])
def test_what_the_walk_cannot_vouch_for_is_left_to_pillow(damage: str) -> None:
    if damage == "raw profile":
        data = _png(None, _chunk(b"tEXt", b"Raw profile type exif\x00\nexif\n  4\n49492a00\n"))
        assert png.exif_chunk(data) == (False, None)
        return
    data = _png("after")
    if damage == "cut":
        data = data[: data.rindex(b"IEND") - 10]
    else:
        at = data.index(b"eXIf") + 8  # a byte of the TIFF block: the CRC no longer matches
        data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
    assert png.exif_chunk(data)[0] is False
    header = open_image(data, 10**8)
    try:
        expected: object = _pillow(data)
    except CorruptItem as exc:
        expected = type(exc)
    try:
        got: object = exif.read_exif(header, 10**6, data)
    except CorruptItem as exc:
        got = type(exc)
    same = (lambda b: (b.tags, b.gps) if isinstance(b, exif.ExifBlock) else b)  # noqa: E731
    assert same(got) == same(expected)


def test_an_oversized_exif_chunk_is_over_the_metadata_cap() -> None:
    data = _png("after")
    with pytest.raises(CorruptItem, match="over the metadata cap"):
        exif.read_exif(open_image(data, 10**8), 16, data)


def test_the_metadata_detector_leaves_a_png_header_undecoded() -> None:
    import hashlib

    from scanner.config import Settings
    from scanner.detectors.metadata import MetadataDetector
    from scanner.engines import EngineSet
    from scanner.model import Item
    from scanner.subject import Subject

    data = _png("after")
    settings = Settings()
    subject = Subject(Item("gps.png", data, hashlib.sha256(data).hexdigest(), "image/png"), settings)
    findings = MetadataDetector(settings, EngineSet(settings)).detect(subject)
    assert any(f.rule_id == "metadata.gps" for f in findings)
    assert subject.header().tile  # the header image holds no pixels after the metadata read
    assert isinstance(Image.open(io.BytesIO(data)).getexif(), Image.Exif)
