"""ZIP-based documents read in memory: members under the budget, XML parts only through defusedxml.

Shared by the OOXML, OpenDocument and EPUB expanders. A member that cannot be read (encrypted,
damaged, over a per-member limit, XML with entities) becomes an `ErrorRecord` on that part and the
rest of the document is still read; crossing the whole file's budget raises `ItemTooLarge`.
Nothing is written to disk; member names are only ever used as display names (`safe_name`).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import CorruptItem, ItemError, ItemTooLarge, UnsupportedItem
from ..model import ErrorRecord, Item
from .base import Budget, error, safe_name

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

ENCRYPTED_FLAG = 0x1  # general-purpose bit 0 of a ZIP entry: traditional or strong encryption
STAGE = "expand"
# a path that names a user: C:\Users\jan\..., /home/jan/..., /Users/jan/..., C:\Documents and Settings\jan\...
USER_PATH = re.compile(r"(?i)(?:^|[\\/:])(?:users|home|documents and settings)[\\/]+(?!public\b|shared\b)[^\\/]+")
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, RuntimeError)


def local(tag: object) -> str:
    """The local name of an element or attribute tag (`{ns}name` -> `name`)."""
    return str(tag).rsplit("}", 1)[-1]


def identity_or_other(value: str) -> str:
    """`identity` when a path or URL names a user's folder, else `other` (only the text rules read it)."""
    return "identity" if USER_PATH.search(value) else "other"


class ZipDoc:
    """One ZIP container being expanded; collects the errors of the parts it could not read."""

    def __init__(self, item: Item, budget: Budget) -> None:
        self.item = item
        self.budget = budget
        self.errors: list[ErrorRecord] = []
        try:
            self.zf = zipfile.ZipFile(io.BytesIO(item.data))
            self.infos = [i for i in self.zf.infolist() if not i.is_dir()]
        except (*_ZIP_ERRORS, NotImplementedError) as exc:
            raise CorruptItem(f"not a readable ZIP container ({type(exc).__name__})") from None
        self.by_name: dict[str, zipfile.ZipInfo] = {}
        for info in self.infos:
            if info.filename in self.by_name:
                self.fail(CorruptItem("duplicate member name (readers may disagree on which one counts)"),
                          info.filename)
            self.by_name.setdefault(info.filename, info)

    def fail(self, exc: ItemError, member: str) -> None:
        self.errors.append(error(exc, STAGE, safe_name(member)))

    def drain(self) -> Iterator[ErrorRecord]:
        """The errors recorded so far (each once)."""
        errors, self.errors = self.errors, []
        yield from errors

    def get(self, name: str) -> zipfile.ZipInfo | None:
        return self.by_name.get(name)

    def read(self, info: zipfile.ZipInfo) -> bytes | None:
        """A member's bytes as stored, after the budget admitted its declared size; None (and an error) if not."""
        name = info.filename
        if info.flag_bits & ENCRYPTED_FLAG:
            self.fail(UnsupportedItem("member is encrypted (password-protected)"), name)
            return None
        if not self._admit(info):
            return None
        cap = self.budget.limits.max_member_bytes
        try:
            # zipfile stops at the declared size and checks the CRC, so the real size cannot exceed what was admitted
            with self.zf.open(info) as fh:
                data = fh.read(cap + 1)
        except NotImplementedError as exc:
            self.fail(UnsupportedItem(f"member uses an unsupported compression ({type(exc).__name__})"), name)
            return None
        except Exception as exc:  # zlib, bz2, lzma and zipfile errors: a damaged member, not a crash
            self.fail(CorruptItem(f"member could not be read ({type(exc).__name__})"), name)
            return None
        if len(data) > cap:
            self.fail(ItemTooLarge(f"member is over the {cap / 1e6:.0f} MB cap"), name)
            return None
        return data

    def head(self, info: zipfile.ZipInfo, size: int = 4096) -> bytes | None:
        """The first `size` bytes of a member (to tell what it is); None when they cannot be read (`read` says why)."""
        if info.flag_bits & ENCRYPTED_FLAG:
            return None
        try:
            with self.zf.open(info) as fh:
                return fh.read(size)
        except Exception:  # zlib, bz2, lzma and zipfile errors: `read` turns them into an error on the member
            return None

    def _admit(self, info: zipfile.ZipInfo) -> bool:
        """Count the member; a per-member limit is an error on it, the whole file's budget raises."""
        before = (self.budget.members, self.budget.bytes)
        try:
            self.budget.admit(info.file_size, max(info.compress_size, 1), safe_name(info.filename))
        except ItemTooLarge as exc:
            if (self.budget.members, self.budget.bytes) != before:
                raise
            self.fail(exc, info.filename)
            return False
        return True

    def xml(self, info: zipfile.ZipInfo | None) -> Element | None:
        """A member parsed with defusedxml (no entities, no external fetches); None (and an error) if not."""
        if info is None:
            return None
        data = self.read(info)
        return None if data is None else self.parse(data, info.filename)

    def parse(self, data: bytes, name: str) -> Element | None:
        try:
            return parse_xml(data, "XML part")
        except CorruptItem as exc:
            self.fail(exc, name)
        return None


def parse_xml(data: bytes, what: str) -> Element:
    """`data` parsed with defusedxml (no entities, no external fetches); CorruptItem naming `what` if it cannot be."""
    import defusedxml
    import defusedxml.ElementTree as DET

    try:
        root: Element = DET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise CorruptItem(f"{what} refused: {type(exc).__name__} (entity expansion or external reference)") from None
    except Exception as exc:  # ParseError, ValueError from expat: a damaged part
        raise CorruptItem(f"{what} is not well-formed ({type(exc).__name__})") from None
    return root


SPACERS = {"tab": "\t", "s": " ", "line-break": "\n", "br": "\n", "cr": "\n"}


def flatten(root: Element, leaves: frozenset[str] | None, skip: frozenset[str] = frozenset(),
            breaks: frozenset[str] = frozenset()) -> str:
    """The text under `root` in document order, without recursion (deep XML cannot exhaust the stack).

    `leaves`: only the text of elements with these local names counts (OOXML keeps text in w:t/a:t);
    None: all mixed content counts, text and tails (OpenDocument, XHTML). Elements named in `skip`
    are left out with everything under them (their tail still counts in mixed mode); those named in
    `breaks` start a new line (XHTML paragraphs, headings, list items, cells).
    """
    parts: list[str] = []
    stack: list[tuple[Element, bool]] = [(root, False)]
    while stack:
        el, is_tail = stack.pop()
        if is_tail:
            parts.append(el.tail or "")
            continue
        name = local(el.tag)
        if name in skip:
            continue
        if name in SPACERS and (leaves is None or el.text is None):
            parts.append(SPACERS[name])
        elif name in breaks:
            parts.append("\n")
        if leaves is None or name in leaves:
            parts.append(el.text or "")
        for sub in reversed(el):
            if leaves is None:
                stack.append((sub, True))
            stack.append((sub, False))
    return "".join(parts)


def blocks(root: Element, block_names: frozenset[str], leaves: frozenset[str] | None,
           skip: frozenset[str] = frozenset()) -> list[str]:
    """One string per block element (paragraph, cell, shared string...) in document order."""
    out: list[str] = []
    stack = [root]
    while stack:
        el = stack.pop()
        name = local(el.tag)
        if name in skip:
            continue
        if name in block_names:  # a block inside it (a text box's paragraph in a paragraph) is a line of its own
            out.append(flatten(el, leaves, skip, breaks=block_names).removeprefix("\n"))  # the block's own break
            continue
        if leaves is not None and name in leaves and el.text:
            out.append(el.text)
        stack.extend(reversed(el))
    return out
