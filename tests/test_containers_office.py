"""OOXML, OpenDocument and EPUB expanders on generated files: children, text, fields, errors, limits."""

from __future__ import annotations

import dataclasses
import io
import time
import zipfile
from pathlib import Path

import pytest

from fixtures import office_fixtures as ofx
from fixtures.metadata_fixtures import AMSTERDAM
from scanner.config import Settings
from scanner.containers.base import FIELDS_KIND, TEXT_KIND, Budget, Limits, read_fields
from scanner.containers.epub import EpubExpander
from scanner.containers.odf import OdfExpander
from scanner.containers.office import OoxmlExpander
from scanner.errors import ItemTooLarge
from scanner.model import ErrorRecord, Item
from scanner.sources import item_from_bytes

EXPANDERS = (OoxmlExpander(Settings()), OdfExpander(Settings()), EpubExpander(Settings()))


@pytest.fixture(scope="module")
def ofiles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return ofx.build(tmp_path_factory.mktemp("office_fixtures"))


class Out:
    """What one expansion yielded, sorted by kind."""

    def __init__(self, results: list[Item | ErrorRecord]) -> None:
        self.errors = [r for r in results if isinstance(r, ErrorRecord)]
        items = [r for r in results if isinstance(r, Item)]
        self.fields = [f for i in items if i.kind == FIELDS_KIND for f in read_fields(i)]
        self.text = "\n".join(i.data.decode() for i in items if i.kind == TEXT_KIND)
        self.children = {i.location.split("!", 1)[-1]: i for i in items if i.kind not in (FIELDS_KIND, TEXT_KIND)}
        self.locations = [i.location for i in items]

    def values(self, category: str) -> set[str]:
        return {v for c, _, v in self.fields if c == category}

    def names(self, category: str) -> set[str]:
        return {n for c, n, _ in self.fields if c == category}


def expand(data: bytes, name: str = "doc", limits: Limits | None = None) -> Out:
    item = item_from_bytes(name, data)
    (expander,) = [e for e in EXPANDERS if item.kind in e.kinds]
    item = dataclasses.replace(item, location=name)
    return Out(list(expander.expand(item, Budget(limits or Limits()))))


def open_fixture(ofiles: dict[str, Path], name: str, limits: Limits | None = None) -> Out:
    return expand(ofiles[name].read_bytes(), name, limits)


def has_gps(jpeg: bytes) -> bool:
    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as im:
        gps = im.getexif().get_ifd(0x8825)
    return bool(gps) and gps.get(1) == ("N" if AMSTERDAM[0] >= 0 else "S")


CASES = [
    # fixture, identity values that must be present, history names, text that must be found, a GPS child
    ("dirty.docx", {ofx.AUTHOR, ofx.EDITOR, ofx.REVIEWER, ofx.COMMENTER, ofx.COMPANY, ofx.TEMPLATE},
     {"tracked changes", "comments"}, [ofx.CARD, "Please remove the card number", "Paid by card."],
     "word/media/image1.jpeg"),
    ("dirty.pptx", {ofx.AUTHOR, ofx.EDITOR, ofx.COMMENTER},
     {"hidden slide", "speaker notes", "comments", "app:HiddenSlides"},
     ["Slide 1", "Layoffs list", ofx.CARD, "Check slide 2"], "ppt/media/image1.jpeg"),
    ("hidden_sheet.xlsx", {ofx.AUTHOR}, {"hidden sheet"}, [ofx.IBAN, "Total", "42"], None),
    ("dirty.odt", {ofx.AUTHOR, ofx.EDITOR, ofx.REVIEWER, ofx.COMMENTER}, {"tracked changes", "annotations"},
     [ofx.CARD, "Hello world", "Is this final?"], "Pictures/10000000photo.jpg"),
    ("dirty.epub", {ofx.AUTHOR}, set(), ["Chapter one", ofx.IBAN], "OEBPS/images/cover.jpg"),
]


@pytest.mark.parametrize(("name", "people", "history", "texts", "photo"), CASES, ids=[c[0] for c in CASES])
def test_dirty_documents(ofiles: dict[str, Path], name: str, people: set[str], history: set[str],
                         texts: list[str], photo: str | None) -> None:
    out = open_fixture(ofiles, name)
    assert out.errors == []
    assert people <= out.values("identity"), out.fields
    assert history <= out.names("history"), out.fields
    for text in texts:
        assert text in out.text, (text, out.text)
    if photo:
        child = out.children[photo]
        assert child.kind == "image/jpeg" and child.depth == 1
        assert has_gps(child.data)  # the bytes as stored: EXIF GPS kept
        assert child.location == f"{name}!{photo}"


def test_docx_fields_are_categorised(ofiles: dict[str, Path]) -> None:
    fields = set(open_fixture(ofiles, "dirty.docx").fields)
    assert ("identity", "dc:creator", ofx.AUTHOR) in fields
    assert ("identity", "cp:lastModifiedBy", ofx.EDITOR) in fields
    assert ("identity", "app:Template", ofx.TEMPLATE) in fields  # a path naming the user
    assert ("identity", "tracked change author", ofx.REVIEWER) in fields
    assert ("text", "PaymentCard", ofx.CARD) in fields  # custom property: the text rules read it
    assert ("text", "dc:title", "Quarterly plan") in fields
    assert ("time", "dcterms:created", "2024-03-01T09:00:00Z") in fields
    assert ("other", "external target", "https://intranet.acme.example/wiki?token=abc") in fields
    assert ("history", "tracked changes", "2") in fields


def test_deleted_text_is_in_the_text_item_of_its_part(ofiles: dict[str, Path]) -> None:
    out = open_fixture(ofiles, "dirty.docx")
    assert "dirty.docx!word/document.xml#text" in out.locations
    assert f"Card {ofx.CARD}" in out.text


def test_xlsx_text_skips_shared_string_indices(ofiles: dict[str, Path]) -> None:
    out = open_fixture(ofiles, "hidden_sheet.xlsx")
    assert ("history", "hidden sheet", "Salaries") in set(out.fields)
    assert "\n0\n" not in f"\n{out.text}\n" and "\n1\n" not in f"\n{out.text}\n"


def test_clean_docx_has_no_identity_or_history(ofiles: dict[str, Path]) -> None:
    out = open_fixture(ofiles, "clean.docx")
    assert out.errors == [] and out.children == {}
    assert not out.names("identity") and not out.names("history")
    assert out.text == "Meeting notes for the plan."


def test_billion_laughs_is_an_error_on_that_part_only(ofiles: dict[str, Path]) -> None:
    out = open_fixture(ofiles, "billion_laughs.docx")
    assert [(e.code, e.location) for e in out.errors] == [("corrupt", "docProps/core.xml")]
    assert "EntitiesForbidden" in out.errors[0].message
    assert ofx.CARD in out.text and ofx.COMMENTER in out.values("identity")  # the rest is still read


def test_encrypted_odf_entry_is_an_error_and_the_rest_is_read(ofiles: dict[str, Path]) -> None:
    out = open_fixture(ofiles, "encrypted.odt")
    assert [(e.code, e.location) for e in out.errors] == [("unsupported", "content.xml")]
    assert "encrypted" in out.errors[0].message
    assert ofx.AUTHOR in out.values("identity") and "Pictures/10000000photo.jpg" in out.children


def test_zip_bomb_member_is_refused_before_decompression(ofiles: dict[str, Path]) -> None:
    out = open_fixture(ofiles, "zip_bomb.docx")
    assert [(e.code, e.location) for e in out.errors] == [("too_large", "word/media/zeros.bin")]
    assert "word/media/zeros.bin" not in out.children
    assert out.text == "Meeting notes for the plan."


def test_member_cap_is_an_error_on_that_member(ofiles: dict[str, Path]) -> None:
    out = open_fixture(ofiles, "dirty.docx", Limits(max_member_bytes=1_000))
    assert ("too_large", "word/media/image1.jpeg") in [(e.code, e.location) for e in out.errors]
    assert "word/media/image1.jpeg" not in out.children
    assert ofx.AUTHOR in out.values("identity")


def test_whole_file_budget_raises(ofiles: dict[str, Path]) -> None:
    item = item_from_bytes("dirty.pptx", ofiles["dirty.pptx"].read_bytes())
    with pytest.raises(ItemTooLarge):
        list(OoxmlExpander(Settings()).expand(item, Budget(Limits(max_members=3))))


def test_encrypted_zip_entry_and_duplicate_name(ofiles: dict[str, Path]) -> None:
    data = bytearray(ofiles["clean.docx"].read_bytes())
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("word/media/secret.png", b"\x89PNG....")
        with pytest.warns(UserWarning):
            dst.writestr("word/document.xml", "<w:document/>")
    raw = bytearray(buf.getvalue())
    # set the encryption bit of secret.png in its local header and in the central directory
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        pos = raw.find(sig, 0)
        while pos != -1:
            start = pos + (30 if sig == b"PK\x03\x04" else 46)
            name_len = int.from_bytes(raw[pos + (26 if sig == b"PK\x03\x04" else 28):][:2], "little")
            if raw[start:start + name_len] == b"word/media/secret.png":
                flag = pos + (6 if sig == b"PK\x03\x04" else 8)
                raw[flag] |= 1
            pos = raw.find(sig, pos + 4)
    out = expand(bytes(raw), "odd.docx")
    found = {(e.code, e.location) for e in out.errors}
    assert ("unsupported", "word/media/secret.png") in found
    assert ("corrupt", "word/document.xml") in found  # duplicate member name
    assert "word/media/secret.png" not in out.children


def test_member_names_are_display_names_only(ofiles: dict[str, Path], tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
        zf.writestr("word/media/../../evil!\x1b[31m.jpg", ofx.gps_jpeg())
    out = expand(buf.getvalue(), "names.docx")
    (name,) = out.children
    assert "!" not in name and "\x1b" not in name
    assert list(tmp_path.iterdir()) == []  # nothing written anywhere we can see


def test_corrupt_zip_raises_item_error() -> None:
    from scanner.errors import CorruptItem

    data = ofx.docx()
    item = dataclasses.replace(item_from_bytes("x.docx", data), data=data[:200] + b"\x00" * 100)
    with pytest.raises(CorruptItem):
        list(OoxmlExpander(Settings()).expand(item, Budget(Limits())))


def test_fifty_image_deck_expands_at_about_the_cost_of_reading_its_images() -> None:
    data = ofx.pptx(images=50, dirty=False)
    item = item_from_bytes("deck.pptx", data)
    start = time.perf_counter()
    out = Out(list(OoxmlExpander(Settings()).expand(item, Budget(Limits()))))
    expand_s = time.perf_counter() - start
    start = time.perf_counter()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        direct = [zf.read(n) for n in zf.namelist() if n.startswith("ppt/media/")]
    direct_s = time.perf_counter() - start
    assert len([c for c in out.children if c.startswith("ppt/media/")]) == len(direct) == 50
    assert all(out.children[f"ppt/media/image{i}.jpeg"].data == direct[i - 1] for i in range(1, 51))
    print(f"50-image deck: expand {expand_s * 1000:.1f} ms, reading the images directly {direct_s * 1000:.1f} ms")
    assert expand_s < 2.0


_SML_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_HIDDEN_CARD = "4532 0151 1283 0366"  # Luhn-valid


@pytest.mark.parametrize(("part", "xml"), [
    # a pivot cache keeps the rows of a sheet deleted since: its values are attributes
    ("xl/pivotCache/pivotCacheRecords1.xml", f'<pivotCacheRecords {_SML_NS}><r><s v="{_HIDDEN_CARD}"/><x v="0"/></r>'
                                             "</pivotCacheRecords>"),
    ("xl/worksheets/sheet1.xml", f'<worksheet {_SML_NS}><sheetData/><dataValidations><dataValidation type="list">'
                                 f'<formula1>"{_HIDDEN_CARD},other"</formula1></dataValidation></dataValidations>'
                                 "</worksheet>"),
    ("xl/workbook.xml", f'<workbook {_SML_NS}><definedNames><definedName name="card">"{_HIDDEN_CARD}"</definedName>'
                        "</definedNames></workbook>"),
    ("xl/worksheets/sheet2.xml", f'<worksheet {_SML_NS}><hyperlinks><hyperlink ref="A1" tooltip="{_HIDDEN_CARD}"/>'
                                 "</hyperlinks></worksheet>"),
    ("word/settings.xml", f'<w:settings {ofx.W_NS}><w:docVars><w:docVar w:name="cc" w:val="{_HIDDEN_CARD}"/>'
                          "</w:docVars></w:settings>"),
    ("word/document.xml", f'<w:document {ofx.W_NS}><w:body><w:sdt><w:sdtPr><w:dropDownList><w:listItem '
                          f'w:displayText="{_HIDDEN_CARD}" w:value="1"/></w:dropDownList></w:sdtPr></w:sdt></w:body>'
                          "</w:document>"),
    ("word/footer1.xml", f'<w:ftr {ofx.W_NS}><w:p><w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:textInput>'
                         f'<w:default w:val="{_HIDDEN_CARD}"/></w:textInput></w:ffData></w:fldChar></w:r></w:p>'
                         "</w:ftr>"),
    # the main part where its relationships say, not at word/document.xml; a VML part
    ("content/main.xml", f'<w:document {ofx.W_NS}><w:body><w:p><w:r><w:t>Card {_HIDDEN_CARD}</w:t></w:r></w:p>'
                         "</w:body></w:document>"),
    ("word/document.vml", f'<w:document {ofx.W_NS}><w:body><w:p><w:r><w:t>Card {_HIDDEN_CARD}</w:t></w:r></w:p>'
                          "</w:body></w:document>"),
])
def test_text_kept_in_attributes_and_unusual_parts_is_read(part: str, xml: str) -> None:
    """A reviewer found each of these approved (and `fix` approving a copy that still carried the number)."""
    data = ofx._zip({"[Content_Types].xml": ofx._ct("word/document.xml"), part: xml})
    out = expand(data, "doc.docx" if part.startswith(("word", "content")) else "book.xlsx")
    assert _HIDDEN_CARD in out.text and not out.errors
