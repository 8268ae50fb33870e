"""The shape shared by ZIP-based document packages (OOXML, ODF, EPUB): each member is either one of the
package's own parts, read into Facts (its text and metadata fields), or a child item with its bytes as stored.
A subclass says which members are its parts and how to read them, and which members hold nothing."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..errors import CorruptItem
from ..formats import TEXT_KIND, UNKNOWN_KIND, sniff
from .archive_zip import listed_spans, walk_local_headers
from .base import Budget, Expansion, child, error, safe_name
from .office_parts import Facts
from .zipparts import ZipDoc

if TYPE_CHECKING:
    from zipfile import ZipInfo

    from ..config import Settings
    from ..model import Item


class PackageExpander:
    id: str
    kinds: frozenset[str]
    fields_name: str  # the location of the package's fields item (docProps, meta.xml, package.opf)
    skipped: re.Pattern[str]  # members with nothing of the author's in them (fonts, manifests, settings)

    def __init__(self, settings: Settings | None = None) -> None:
        del settings  # nothing to keep: the expansion depends on the bytes and the budget alone

    def expand(self, item: Item, budget: Budget) -> Expansion:
        doc = ZipDoc(item, budget)
        facts = Facts()
        context = self.survey(doc)
        yield from doc.drain()
        for info in doc.infos:
            if not self.part(doc, info, facts, context) and (not self.skipped.fullmatch(info.filename)
                                                             or _not_what_its_name_says(doc, info)):
                data = doc.read(info)
                if data:
                    self.member(info.filename, facts)
                    yield child(item, safe_name(info.filename), data)
            yield from doc.drain()
        unlisted = yield from walk_local_headers(item, budget, listed_spans(item.data, doc.zf))
        if unlisted:  # readers that stream local headers show members this listing hides
            yield error(CorruptItem(f"{unlisted} member(s) outside the package's central directory (read by their "
                                    "local headers): other tools may show a different content"), "expand")
        yield from facts.items(item, self.fields_name)

    def survey(self, doc: ZipDoc) -> Any:
        """What the package says about its members before they are read (its manifest, encrypted members)."""
        return None

    def part(self, doc: ZipDoc, info: ZipInfo, facts: Facts, context: Any) -> bool:
        """Read `info` into `facts` if it is one of the package's own parts (or refuse it); True when handled."""
        raise NotImplementedError

    def member(self, name: str, facts: Facts) -> None:
        """A member about to be yielded as a child (e.g. to count embedded files)."""


def _not_what_its_name_says(doc: ZipDoc, info: ZipInfo) -> bool:
    """A member skipped by its name (a font, printer settings, a manifest) whose bytes are a picture, an archive,
    a document or an XMP packet: it is scanned like any other (a reader opening the package can get at it). One
    that cannot be read is read in full, which reports why (fail closed)."""
    if info.is_dir():
        return False
    head = doc.head(info)
    return head is None or sniff(head) not in (TEXT_KIND, UNKNOWN_KIND)
