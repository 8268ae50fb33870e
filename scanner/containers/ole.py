"""OLE compound files that are not Outlook messages: legacy Office (.doc, .xls, .ppt) and password-protected
OOXML (an `EncryptedPackage` stream). Their summary properties (author, last saved by, company...) are read
with olefile; their body is not parsed, so the file is always `review` ("not fully analysed"), never a silent
approve. An encrypted document says so.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from ..errors import CorruptItem, UnsupportedItem
from ..model import Item
from .base import Budget, Expansion, error, fields_item

if TYPE_CHECKING:
    from ..config import Settings

# olefile's summary attribute -> (category, field name)
_PROPERTIES = {
    "author": ("identity", "Author"), "last_saved_by": ("identity", "LastSavedBy"),
    "company": ("identity", "Company"), "manager": ("identity", "Manager"),
    "title": ("text", "Title"), "subject": ("text", "Subject"), "keywords": ("text", "Keywords"),
    "comments": ("text", "Comments"), "category": ("text", "Category"), "template": ("other", "Template"),
    "creating_application": ("device", "Application"), "create_time": ("time", "Created"),
    "last_saved_time": ("time", "LastSaved"), "last_printed": ("time", "LastPrinted"),
}
_BODY_STREAMS = {"WordDocument": "Word", "Workbook": "Excel", "Book": "Excel", "PowerPoint Document": "PowerPoint"}


class OleExpander:
    id = "ole"
    kinds = frozenset({"application/x-ole-storage"})

    def __init__(self, settings: Settings | None = None) -> None:
        pass

    def expand(self, item: Item, budget: Budget) -> Expansion:
        import olefile

        try:
            ole = olefile.OleFileIO(io.BytesIO(item.data))
        except Exception as exc:  # olefile raises what its parser meets: map it here
            raise CorruptItem(f"OLE compound file unreadable ({type(exc).__name__})") from None
        with ole:
            streams = {"/".join(path) for path in ole.listdir()}
            if "EncryptedPackage" in streams:
                raise UnsupportedItem("password-protected Office document: content not analysed")
            fields = self._properties(ole)
            found = fields_item(item, "properties", fields)
            if found is not None:
                budget.admit(found.size, what="properties")
                yield found
        kind = next((name for stream, name in _BODY_STREAMS.items() if stream in streams), "OLE")
        yield error(UnsupportedItem(f"legacy {kind} binary document: its text and pictures are not read"), "expand")

    @staticmethod
    def _properties(ole: object) -> list[tuple[str, str, str]]:
        try:
            meta = ole.get_metadata()  # type: ignore[attr-defined]
        except Exception:  # a damaged property stream: the body is not read either way
            return []
        out = []
        for attr, (category, name) in _PROPERTIES.items():
            value = getattr(meta, attr, None)
            if isinstance(value, bytes):
                value = value.decode("cp1252", "replace")
            if value not in (None, "", b""):
                out.append((category, name, str(value).strip("\x00 ")))
        return out
