"""RTF documents -> their visible text, their \\info fields, their pictures and their embedded OLE objects.

Word and WordPad keep a dropped-in file as an OLE 1.0 object in hex (`{\\object\\objemb ... {\\*\\objdata ...}}`):
a Word 97 document, a spreadsheet, or any file packaged by the OLE Packager (a ZIP, a photo). Each becomes a child
item (named by its class or packaged file name), so it gets the checks it gets alone; one that cannot be decoded
is an error (review), never skipped. Pictures (`\\pict`) are children as in carried.py, the \\info group a fields
item (author, operator, company, manager; title, subject, keywords, comments; times), the text (hidden text and
field instructions included) a text item, and the text of groups a reader skips (document variables, shape
properties) another one. A truncated or unbalanced file is reviewed, with what was read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import CorruptItem
from ..formats import RTF_KIND, UNKNOWN_KIND, sniff
from ..model import Item
from .base import Budget, Expansion, child, error, fields_item, safe_name, text_item
from .ole1 import parse_ole1
from .rtf_reader import read_rtf

if TYPE_CHECKING:
    from ..config import Settings

FIELDS_NAME, TEXT_NAME, UNSHOWN_NAME = "info", "text", "unshown-text"


class RtfExpander:
    id = "rtf"
    kinds = frozenset({RTF_KIND})

    def __init__(self, settings: Settings | None = None) -> None:
        del settings  # nothing to keep: the expansion depends on the bytes and the budget alone

    def expand(self, item: Item, budget: Budget) -> Expansion:
        doc = read_rtf(item.data)
        links: list[tuple[str, str, str]] = []
        for k, (class_name, hexdata) in enumerate(doc.objects, 1):
            yield from _object(item, budget, k, class_name, hexdata, links)
        for k, hexdata in enumerate(doc.pictures, 1):
            yield from _picture(item, budget, k, hexdata)
        fields = fields_item(item, FIELDS_NAME, doc.fields + links)
        if fields is not None:
            yield fields
        for name, texts in ((TEXT_NAME, doc.text), (UNSHOWN_NAME, doc.unshown)):
            text = text_item(item, name, ["".join(texts)])
            if text is not None:
                yield text
        for problem in doc.problems:
            yield error(CorruptItem(problem), "expand")


def _hex(hexdata: bytearray, what: str, budget: Budget) -> bytes:
    digits = b"".join(bytes(hexdata).split())
    budget.admit(len(digits) // 2, what=what)
    try:
        return bytes.fromhex(digits.decode("ascii"))
    except ValueError:  # odd length, a character that is no hex digit (UnicodeDecodeError is one)
        raise CorruptItem(f"{what}: its hex data cannot be decoded") from None


def _object(item: Item, budget: Budget, k: int, class_name: str, hexdata: bytearray,
            links: list[tuple[str, str, str]]) -> Expansion:
    where = f"object[{k}]"
    if not hexdata.strip():
        return  # an \object with no \objdata (a link shown by its result picture): nothing is embedded
    try:
        obj = parse_ole1(_hex(hexdata, where, budget))
    except CorruptItem as exc:
        yield error(CorruptItem(f"embedded object {k} ({safe_name(class_name.strip()) or 'no class'}) "
                                f"not read: {exc}"), "expand", where)
        return
    if obj.data is None:
        links.append(("other", f"LinkedObject[{k}]", obj.link))
        return
    yield child(item, f"{where}:{safe_name(obj.name)}", obj.data)


def _picture(item: Item, budget: Budget, k: int, hexdata: bytearray) -> Expansion:
    where = f"rtf-picture[{k}]"
    try:
        data = _hex(hexdata, where, budget)
    except CorruptItem as exc:
        yield error(exc, "expand", where)
        return
    if data and sniff(data) != UNKNOWN_KIND:  # a Windows metafile: bytes no check here reads (as carried.py)
        yield child(item, where, data)
