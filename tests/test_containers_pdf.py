"""The PDF expander over generated PDFs (fixtures/pdf_fixtures.py) and the corpus PDFs."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from fixtures import pdf_fixtures as pf
from fixtures.metadata_fixtures import AMSTERDAM, _jpeg, gps_exif, scene
from scanner.config import Settings
from scanner.containers.base import FIELDS_KIND, TEXT_KIND, Budget, Limits, read_fields
from scanner.containers.pdf import PdfExpander
from scanner.containers.pdf_pages import MAX_RENDER_DPI, TARGET_LONG_SIDE_PX
from scanner.errors import CorruptItem, UnsupportedItem
from scanner.formats import XMP_KIND
from scanner.model import ErrorRecord, Item
from scanner.sources import item_from_bytes

CORPUS = Path("/work/shared/corpus/dev/document")
GPS_IFD = 0x8825
NO_GPS_SECOND_READER = Settings(detectors=("metadata",), jobs=1, exiftool="off")


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return pf.build(tmp_path_factory.mktemp("pdf_fixtures"))


def expand(data: bytes, limits: Limits | None = None, location: str = "") -> list[Item | ErrorRecord]:
    item = item_from_bytes("f.pdf", data, location)
    return list(PdfExpander(Settings()).expand(item, Budget(limits or Limits())))


def children(out: list[Item | ErrorRecord]) -> dict[str, Item]:
    return {o.location.rsplit("!", 1)[-1]: o for o in out if isinstance(o, Item)}


def text(out: list[Item | ErrorRecord]) -> str:
    return "".join(o.data.decode() for o in out if isinstance(o, Item) and o.kind == TEXT_KIND)


def fields(out: list[Item | ErrorRecord]) -> list[tuple[str, str, str]]:
    return [f for o in out if isinstance(o, Item) and o.kind == FIELDS_KIND for f in read_fields(o)]


def errors(out: list[Item | ErrorRecord]) -> list[ErrorRecord]:
    return [o for o in out if isinstance(o, ErrorRecord)]


def has_gps(jpeg: bytes) -> bool:
    with Image.open(io.BytesIO(jpeg)) as im:
        return bool(im.getexif().get_ifd(GPS_IFD))


def test_raw_jpeg_keeps_its_gps(pdfs: dict[str, Path]) -> None:
    out = expand(pdfs["gps_jpeg.pdf"].read_bytes())
    kids = children(out)
    image = kids["page[1]/image[1]"]
    assert image.kind == "image/jpeg" and has_gps(image.data)
    assert image.data == _jpeg(scene(400, 300, seed=3), exif=gps_exif(*AMSTERDAM))  # the bytes as stored
    assert "Site photo" in text(out)
    assert "page[1]" not in kids and not errors(out)  # a page with text is not rendered


def test_clean_photo_is_only_its_picture(pdfs: dict[str, Path]) -> None:
    out = expand(pdfs["clean_photo.pdf"].read_bytes())
    assert [o.location for o in out if isinstance(o, Item)] == ["page[1]/image[1]"]
    assert len(out) == 1 and not has_gps(out[0].data)  # type: ignore[union-attr]


def test_scanned_receipt_is_rendered_for_ocr(pdfs: dict[str, Path]) -> None:
    out = expand(pdfs["receipt_scan.pdf"].read_bytes())
    kids = children(out)
    assert {"page[1]/image[1]", "page[1]/image[2]", "page[1]"} <= set(kids)
    assert pf.CARD not in text(out)  # the card number is only in pixels
    render = kids["page[1]"]
    assert render.kind == "image/png"
    with Image.open(io.BytesIO(render.data)) as im, Image.open(io.BytesIO(kids["page[1]/image[1]"].data)) as strip:
        assert abs(max(im.size) - strip.width * MAX_RENDER_DPI / pf.SCAN_DPI) <= 2  # a small page: at 300 dpi
        assert im.convert("L").getextrema()[0] < 64  # ink, not a blank page
    if shutil.which("tesseract"):
        ocr = subprocess.run(["tesseract", "stdin", "stdout"], input=render.data, capture_output=True, check=True)
        assert pf.CARD.replace(" ", "") in ocr.stdout.decode().replace(" ", "")


def test_a4_page_without_text_is_rendered_2000px_long() -> None:
    a4 = pf.page_pdf(pf.stream(b"0 0 0 RG 4 w 72 72 m 500 700 l S"), page=" /MediaBox [0 0 595 842]")
    out = expand(a4)
    with Image.open(io.BytesIO(children(out)["page[1]"].data)) as im:
        assert max(im.size) == TARGET_LONG_SIDE_PX


def test_one_image_scan_is_its_image(pdfs: dict[str, Path]) -> None:
    out = expand(pdfs["receipt_pillow.pdf"].read_bytes())
    kids = children(out)
    assert set(kids) >= {"page[1]/image[1]"} and "page[1]" not in kids
    assert kids["page[1]/image[1]"].kind == "image/jpeg"


def test_incremental_update_yields_the_old_revision(pdfs: dict[str, Path]) -> None:
    data = pdfs["incremental_password.pdf"].read_bytes()
    out = expand(data)
    assert pf.PASSWORD_LINE not in text(out)
    assert ("history", "incremental updates", "1") in fields(out)
    revision = children(out)["revision[1]"]
    assert revision.kind == "application/pdf" and data.startswith(revision.data) and revision.data != data
    old = list(PdfExpander(Settings()).expand(revision, Budget(Limits())))
    assert pf.PASSWORD_LINE in text(old)
    assert not any("revision[" in o.location.rsplit("!", 1)[-1] for o in old if isinstance(o, Item))


def test_embedded_file_is_a_child(pdfs: dict[str, Path]) -> None:
    out = expand(pdfs["attachment_gps.pdf"].read_bytes())
    attached = children(out)["attachment[1]:site.jpg"]
    assert attached.kind == "image/jpeg" and has_gps(attached.data)
    assert ("history", "embedded files", "1") in fields(out)


def test_info_fields_and_the_document_xmp_as_an_xmp_item(pdfs: dict[str, Path]) -> None:
    out = expand(pdfs["author_xmp.pdf"].read_bytes())
    got = fields(out)
    assert ("identity", "Author", pf.AUTHOR) in got
    assert ("device", "Producer", "Fixture PDF 1.0") in got
    assert ("time", "CreationDate", "D:20240312140200+01'00'") in got
    assert any(pf.CARD in value for _, name, value in got if name == "Expense")  # custom keys reach the text rules
    packet = children(out)["xmp"]  # read by the metadata detector like a photo's XMP (GPS included)
    assert packet.kind == XMP_KIND and packet.data == pf.XMP and not errors(out)


def test_billion_laughs_xmp_is_an_error_on_that_part(pdfs: dict[str, Path]) -> None:
    from scanner import scan

    (report,) = scan(pdfs["xmp_laughs.pdf"], NO_GPS_SECOND_READER).files
    assert report.decision.label == "block"  # the card number in the Info dictionary
    assert [(node.location.rsplit("!", 1)[-1], e.code) for node in report.walk() for e in node.errors] == [
        ("xmp", "corrupt")]
    assert any(f.rule_id == "metadata.identity" for node in report.walk() for f in node.findings)  # Info still read


@pytest.mark.parametrize("exiftool", ["off", "on"])
@pytest.mark.parametrize(("name", "where"), [("gps_catalog_xmp.pdf", "xmp"), ("gps_catalog_xmp_flate.pdf", "xmp"),
                                             ("gps_picture_xmp_untyped.pdf", "xmp[7]")])
def test_gps_in_a_pdf_xmp_stream_is_found(pdfs: dict[str, Path], name: str, where: str, exiftool: str) -> None:
    """The document's XMP (the catalog's /Metadata, as Photoshop's PDF writes GPS there) was read as text fields
    only, and a picture's XMP stream without /Type /Metadata or an xpacket wrapper was not read: approve, where
    ExifTool shows the document's position. Each is one metadata.gps, whichever reader saw it."""
    from scanner import scan

    if exiftool == "on" and shutil.which("exiftool") is None:
        pytest.skip("exiftool not installed")
    settings = Settings(detectors=("metadata",), jobs=1, exiftool=exiftool)
    (report,) = scan(pdfs[name], settings).files
    gps = [(node.location.rsplit("!", 1)[-1], f) for node in report.walk() for f in node.findings
           if f.rule_id.startswith("metadata.gps")]
    assert report.decision.label == "review" and not report.errors
    assert [(loc, f.rule_id) for loc, f in gps] == [(where, "metadata.gps")]
    assert (gps[0][1].evidence["lat"], gps[0][1].evidence["lon"]) == pytest.approx(pf.XMP_GPS, abs=1e-6)


@pytest.mark.parametrize(("name", "why"), [("catalog_xmp_cut.pdf", "has no end"),
                                           ("catalog_xmp_not_xmp.pdf", "no XMP packet")])
def test_a_damaged_document_xmp_is_reviewed(pdfs: dict[str, Path], name: str, why: str) -> None:
    from scanner import scan

    (report,) = scan(pdfs[name], NO_GPS_SECOND_READER).files
    errors = [(node.location.rsplit("!", 1)[-1], e.message) for node in report.walk() for e in node.errors]
    assert report.decision.label == "review" and any(loc == "xmp" and why in m for loc, m in errors), errors


def test_comments_and_actions(pdfs: dict[str, Path]) -> None:
    out = expand(pdfs["commented.pdf"].read_bytes())
    assert pf.PASSWORD_LINE in text(out)
    got = fields(out)
    assert ("identity", "annotation author", pf.COMMENT_AUTHOR) in got
    assert ("history", "open action", "JavaScript") in got
    assert ("history", "page 1 annotations", "1") in got


def test_encrypted_with_a_password_is_an_error(pdfs: dict[str, Path]) -> None:
    with pytest.raises(UnsupportedItem, match="encrypted"):
        expand(pdfs["encrypted.pdf"].read_bytes())


def test_encrypted_with_empty_password_is_read(pdfs: dict[str, Path]) -> None:
    out = expand(pdfs["encrypted_empty.pdf"].read_bytes())
    got = fields(out)
    assert ("identity", "Author", pf.AUTHOR) in got
    assert any(name == "encryption" and "empty user password" in value for _, name, value in got)
    assert "Quarterly report" in text(out)


def test_truncated_is_read_as_repaired_with_an_error(pdfs: dict[str, Path]) -> None:
    out = expand(pdfs["truncated.pdf"].read_bytes())
    assert any(e.code == "corrupt" and "truncated" in e.message for e in errors(out))
    assert "Quarterly report" in text(out)


def test_garbage_is_corrupt() -> None:
    with pytest.raises(CorruptItem):
        expand(b"%PDF-1.4\n" + b"\x00garbage" * 10)


def test_data_after_eof_is_a_child(pdfs: dict[str, Path]) -> None:
    tail = children(expand(pdfs["after_eof.pdf"].read_bytes()))["after-eof"]
    assert tail.kind == "image/jpeg" and has_gps(tail.data)


def test_member_cap_and_bomb_ratio(pdfs: dict[str, Path]) -> None:
    small = expand(pdfs["attachment_gps.pdf"].read_bytes(), Limits(max_member_bytes=1000))
    assert "attachment[1]:site.jpg" not in children(small)
    assert [e.code for e in errors(small)] == ["too_large"]
    bomb = expand(pf.attachment(b"\x00" * 5_000_000))
    assert [e.code for e in errors(bomb)] == ["too_large"] and "attachment[1]:site.jpg" not in children(bomb)


def test_member_count_cap(pdfs: dict[str, Path]) -> None:
    out = expand(pdfs["receipt_scan.pdf"].read_bytes(), Limits(max_members=1))
    assert len([o for o in out if isinstance(o, Item) and o.kind.startswith("image/")]) == 1
    assert {e.code for e in errors(out)} == {"too_large"}


@pytest.mark.skipif(not CORPUS.is_dir(), reason="no corpus")
@pytest.mark.parametrize("name", ["exiftool__PDF2.pdf", "mat2__dirty.pdf"])
def test_corpus_pdfs(name: str) -> None:
    out = expand((CORPUS / name).read_bytes())
    assert not errors(out)
    if name == "mat2__dirty.pdf":
        assert "revision[1]" in children(out) and ("device", "Producer", "pdfTeX-1.40.14") in fields(out)
        assert any(n == "Creator" and "IEEE PDFeXpress" in v for _, n, v in fields(out))
    else:
        assert children(out)["page[1]/image[1]"].kind == "image/jpeg"


def test_a_long_info_value_is_read_whole() -> None:
    """A secret behind 150,000 characters of padding in /Subject still reaches the text rules."""
    import io

    from pypdf import PdfWriter

    from scanner import Settings, scan_bytes

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata({"/Subject": "x " * 75_000 + "card 4539 1488 0343 6467"})
    buf = io.BytesIO()
    writer.write(buf)
    report = scan_bytes(buf.getvalue(), "long.pdf", Settings(detectors=("metadata", "text"), jobs=1))
    assert "text.payment_card" in {f.rule_id for node in report.walk() for f in node.findings}


def test_the_document_xmp_is_left_unread_on_purpose_when_metadata_is_not_selected(pdfs: dict[str, Path]) -> None:
    """Its XMP item is the metadata detector's, like the Info fields: not a kind no detector reads (review)."""
    from scanner import scan

    (report,) = scan(pdfs["gps_catalog_xmp.pdf"], Settings(detectors=("text",), jobs=1)).files
    assert not [e for node in report.walk() for e in node.errors] and report.decision.label == "approve"
