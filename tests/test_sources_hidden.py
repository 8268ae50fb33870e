"""Magic-byte sniffing, end-of-image parsing and trailing data, text safety helpers."""

from __future__ import annotations

import pytest

from scanner.errors import CorruptItem
from scanner.formats import sniff
from scanner.metadata import hidden, xmp
from scanner.text_safety import mask_tail, printable


@pytest.mark.parametrize(("head", "kind"), [
    (b"\xff\xd8\xff\xe0", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF89a", "image/gif"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"), (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"),
    (b"\x00\x00\x00\x18ftypheic", "image/heic"), (b"\x00\x00\x00\x18ftypavif", "image/avif"),
    (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "image/heif"), (b"%PDF-1.7", "application/pdf"),
    (b"PK\x03\x04", "application/zip"), (b"hello", "text/plain"),
    (b"\x00\x01\xff\xfe binary", "application/octet-stream"),
    (b"", "application/octet-stream")])
def test_sniff(head: bytes, kind: str) -> None:
    assert sniff(head) == kind


def test_jpeg_end_and_trailer(fx) -> None:
    data = fx["trailing_jpeg.jpg"].read_bytes()
    trailer = hidden.trailing_data(data, "JPEG")
    assert trailer is not None and trailer.size == 360
    assert hidden.trailing_data(fx["clean.jpg"].read_bytes(), "JPEG") is None
    assert hidden.trailing_data(fx["clean.jpg"].read_bytes() + b"\x00" * 100, "JPEG") is None


def test_truncation_is_an_error_not_a_clean_file(fx) -> None:
    with pytest.raises(CorruptItem):
        hidden.trailing_data(fx["truncated.jpg"].read_bytes(), "JPEG")


@pytest.mark.parametrize(("text", "value"), [
    ("51,55.35N", 51.9225), ("4,28.75W", -4.479166), ("52,22,23.16N", 52.3731), ("-33.8688", -33.8688),
    ("12.5", 12.5), ("north", None), ("", None)])
def test_xmp_coordinates(text: str, value: float | None) -> None:
    got = xmp.parse_coordinate(text)
    assert got == pytest.approx(value, abs=1e-4) if value is not None else got is None


def test_printable_and_mask() -> None:
    assert printable("a\x1b[31mb\x07c\u202ed\nx") == "a[31mbcd x"
    assert mask_tail("4111 1111 1111 1111") == "**** 1111"
    assert mask_tail("12") == "****"


@pytest.mark.parametrize("text", ["+52.3731", "52°22'23.1\"N", "52° 22′ 23″ N"])
def test_xmp_coordinates_with_signs_and_symbols(text: str) -> None:
    assert xmp.parse_coordinate(text) == pytest.approx(52.3731, abs=1e-3)


def test_thumbnail_bomb_is_not_decoded() -> None:
    from fixtures.metadata_fixtures import png_bomb
    from scanner.errors import ItemTooLarge

    with pytest.raises(ItemTooLarge):
        hidden.thumbnail_differs(png_bomb(4000, 4000), None)  # type: ignore[arg-type]


def test_png_text_chunks_read_without_decoding(fx) -> None:
    import io

    from PIL import Image, PngImagePlugin

    from scanner.metadata import png

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jan Jansen")
    info.add_text("Comment", "x" * 2000, zip=True)
    info.add_itxt("Title", "Übersicht", zip=True)
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG", pnginfo=info)
    chunks = dict(png.text_chunks(buf.getvalue(), 10_000))
    assert chunks == {"Author": "Jan Jansen", "Comment": "x" * 2000, "Title": "Übersicht"}
    with pytest.raises(CorruptItem):
        dict(png.text_chunks(buf.getvalue(), 100))  # inflating past the cap is an error, not a silent cut


@pytest.mark.parametrize("kinds", [
    ["Baseline MP Primary Image", "Large Thumbnail (Full HD Equivalent)"],  # declared a preview: not verified
    ["Baseline MP Primary Image", "Undefined"],                              # declared nothing
    ["Multi-Frame Image: (Disparity)", "Multi-Frame Image: (Disparity)"],    # a stereo pair
])
def test_mpo_frames_are_extra_content_unless_verified(kinds: list[str]) -> None:
    """The MP type alone proves nothing (issue 8): without frame bytes to verify, every frame counts."""
    from types import SimpleNamespace

    from scanner.frames import not_analysed

    entries = [{"Attribute": {"MPType": k}, "Size": 10, "DataOffset": 0} for k in kinds]
    im = SimpleNamespace(format="MPO", n_frames=len(kinds), mpinfo={0xB002: entries}, size=(64, 48))
    assert "frame 2 of 2" in (not_analysed(im, b"", 10**6) or "")  # type: ignore[arg-type]
