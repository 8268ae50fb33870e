"""Flat OpenDocument files (.fodt, .fods, .fodp, .fodg) -> embedded pictures, the document's text, its metadata.

A flat file is one XML document (root `office:document`) holding what a package keeps in members:
office:meta (read as meta.xml is), the styles and the body (read as content.xml is: text, attributes,
links, tracked changes, annotations, hidden parts), and embedded pictures and objects as base64
`office:binary-data`, each a child item with its decoded bytes (so a photo keeps its EXIF GPS).
Parsed in memory with defusedxml (no entities, no external fetches); office:settings is not read
(view settings, as settings.xml in a package).
"""

from __future__ import annotations

import binascii
from typing import TYPE_CHECKING

from ..errors import CorruptItem
from .base import Budget, Expansion, child, error
from .odf import OFFICE, content, meta
from .office_parts import Facts
from .zipparts import local, parse_xml

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from ..config import Settings
    from ..model import Item

ODF = "application/vnd.oasis.opendocument"
KINDS = frozenset(f"{ODF}.{kind}-flat-xml" for kind in ("text", "spreadsheet", "presentation", "graphics"))
FIELDS_NAME = "office:meta"
TEXT_NAME = "office:document"
BINARY = f"{OFFICE}binary-data"
NOT_READ = frozenset({f"{OFFICE}meta", f"{OFFICE}settings"})  # meta: read as fields; settings: view settings


class FlatOdfExpander:
    """Opens flat (single XML file) OpenDocument text, spreadsheets, presentations and drawings."""

    id = "odf-flat"
    kinds = KINDS

    def __init__(self, settings: Settings | None = None) -> None:
        del settings  # nothing to keep: the expansion depends on the bytes and the budget alone

    def expand(self, item: Item, budget: Budget) -> Expansion:
        root = parse_xml(item.data, "flat OpenDocument XML")
        facts = Facts()
        for part in [el for el in root if el.tag in NOT_READ]:
            if part.tag == f"{OFFICE}meta":
                meta(part, facts, FIELDS_NAME)
            root.remove(part)
        yield from _binaries(item, root, budget)
        content(root, facts, TEXT_NAME)
        yield from facts.items(item, FIELDS_NAME)


def _binaries(item: Item, root: Element, budget: Budget) -> Expansion:
    """Each office:binary-data (a picture, an embedded object's replacement image) as a child item with its decoded
    bytes, named by its place (`draw:image[2]`); its base64 text is then dropped so the text rules do not read it."""
    counts: dict[str, int] = {}
    for parent in root.iter():
        for el in parent:
            if el.tag != BINARY:
                continue
            owner = f"draw:{local(parent.tag)}" if "drawing" in parent.tag else local(parent.tag)
            counts[owner] = counts.get(owner, 0) + 1
            name = f"{owner}[{counts[owner]}]"
            try:
                data = binascii.a2b_base64("".join((el.text or "").split()).encode("ascii"), strict_mode=False)
            except (binascii.Error, UnicodeEncodeError, ValueError):
                yield error(CorruptItem("embedded binary data is not base64"), "expand", name)
                data = b""
            el.text = None
            if data:
                budget.admit(len(data), None, name)
                yield child(item, name, data)
