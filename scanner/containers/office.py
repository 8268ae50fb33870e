"""OOXML packages (docx, xlsx, pptx) -> pictures and embedded files, the document's text, its metadata fields.

The package is read in memory (zipfile + defusedxml, see zipparts.py). Every member that is not an
XML part (word/media/*, ppt/media/*, xl/media/*, */embeddings/*, docProps/thumbnail.*, macros,
ActiveX) becomes a child item with its bytes as stored, so a photo keeps its EXIF GPS. The XML parts
give the text (body, headers, footers, notes, comments, slides, speaker notes, cells, deleted text)
and the fields (core/app/custom properties, comment and tracked-change authors, hidden sheets and
slides, external targets). An encrypted Office file is an OLE container, not a ZIP: not read here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..formats import XMP_KIND, sniff
from ..text.markup import html_to_text
from .base import safe_name
from .office_parts import Facts, attribute_texts, data_part, reader_for, rels
from .package import PackageExpander
from .zipparts import ZipDoc

if TYPE_CHECKING:
    from zipfile import ZipInfo


OOXML = "application/vnd.openxmlformats-officedocument"
KINDS = frozenset({OOXML, f"{OOXML}.wordprocessingml.document", f"{OOXML}.presentationml.presentation",
                   f"{OOXML}.spreadsheetml.sheet"})
XML_PART = re.compile(r".*\.(?:xml|rels)", re.IGNORECASE | re.DOTALL)
VML_PART = re.compile(r".*\.vml", re.IGNORECASE | re.DOTALL)
# binaries with nothing of the author's in them: obfuscated fonts, printer set-ups, VML shapes (not well-formed XML)
SKIPPED = re.compile(r".*(?:\.odttf|/fonts/.*|/printerSettings/.*|\.vml|\.xml|\.rels)", re.IGNORECASE | re.DOTALL)
EMBEDDED = re.compile(r"(?:word|ppt|xl)/(?:embeddings|activeX)/.*", re.IGNORECASE | re.DOTALL)
FIELDS_NAME = "docProps"


class OoxmlExpander(PackageExpander):
    """Opens Word, Excel and PowerPoint packages (not the encrypted ones: those are OLE files)."""

    id = "office"
    kinds = KINDS
    fields_name = FIELDS_NAME
    skipped = SKIPPED

    def part(self, doc: ZipDoc, info: ZipInfo, facts: Facts, context: object) -> bool:
        if VML_PART.fullmatch(info.filename):  # legacy drawings: text boxes; often not well-formed, so read leniently
            data = doc.read(info)
            if data:
                facts.add_texts(safe_name(info.filename), html_to_text(data.decode("utf-8", "replace")).splitlines())
            return True
        reader = reader_for(info.filename) if XML_PART.fullmatch(info.filename) else None
        if reader is None:
            return False  # XML without a reader of its own (themes) is skipped unless it hides something
        if reader is data_part and sniff(doc.head(info) or b"") == XMP_KIND:  # a custom XML item that is XMP
            return False
        root = doc.xml(info)
        if root is not None:
            name = safe_name(info.filename)
            reader(root, facts, name)
            if reader is not rels:  # relationships' targets are fields already
                facts.add_texts(name, attribute_texts(root))  # tooltips, pivot caches, document variables...
        return True

    def member(self, name: str, facts: Facts) -> None:
        facts.count("embedded files", bool(EMBEDDED.fullmatch(name)))
