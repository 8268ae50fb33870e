"""PDF -> page images (JPEGs as stored), renders of pages without text, attachments, earlier revisions,
every XMP stream (the document's, a page's, a picture's) as an XMP item, the text layer and annotations as
text, and Info/history metadata as fields.

pypdf (strict=False) reads the structure; pypdfium2 reads text and pixels. An encrypted PDF that
opens with the empty user password is read and says so in a field; any other is an error. Earlier
revisions kept by incremental updates are yielded as `revision[k]` so removed content is scanned.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import CorruptItem, ItemError, ItemTooLarge, UnsupportedItem
from ..formats import TEXT_KIND, UNKNOWN_KIND, XMP_KIND, sniff
from ..metadata.tags import OTHER
from ..model import ErrorRecord, Item
from .base import Budget, Expansion, child, error, fields_item, text_item
from .pdf_meta import (
    Field,
    Structure,
    annotation_parts,
    catalog_parts,
    form_values,
    info_fields,
    metadata_streams,
    stream_bytes,
)
from .pdf_pages import PageReader

if TYPE_CHECKING:
    from ..config import Settings

PDF_KIND = "application/pdf"
EOF_SECTION = re.compile(rb"startxref\s+(\d+)(?:\s|%[^\r\n]*[\r\n])*?%%EOF")  # comments may come between
XREF_AT = re.compile(rb"\s*(?:xref|\d+\s+\d+\s+obj)")
REVISION_NAME = re.compile(r"revision\[\d+\]$")
LINEARIZED = re.compile(rb"/Linearized\b[^>]*?/E\s+(\d+)", re.DOTALL)
LINEARIZED_HEAD = 1024  # the linearization dictionary is the first object
EOF_TAIL = 1024  # a complete PDF has %%EOF this close to its end
AFTER_EOF_MIN = 64  # bytes after the last %%EOF (beyond whitespace) worth scanning as a part
MAX_UNDRAWN = 500  # JPEG streams read besides those the pages draw
CATALOG_OBJ = re.compile(rb"(\d+)\s+(\d+)\s+obj\s*<<\s*/Type\s*/Catalog\b")
INFO_OBJ = re.compile(rb"(\d+)\s+(\d+)\s+obj\s*<<(?:(?!endobj).){0,2000}?/(?:Author|Producer|Creator)\s*\(", re.DOTALL)


def revision_ends(data: bytes) -> list[int]:
    """End offsets of the file's revisions: `startxref N %%EOF` sections whose N points at a cross-reference
    in this file, less the first-page section of a linearized file (it ends before the linearized part /E)."""
    head = LINEARIZED.search(data[:LINEARIZED_HEAD])
    first_page_end = int(head.group(1)) if head else -1
    ends = []
    for m in EOF_SECTION.finditer(data):
        offset = int(m.group(1))
        if offset < m.start() and XREF_AT.match(data, offset) and m.end() > first_page_end:
            ends.append(m.end())
    return ends


class PdfExpander:
    """application/pdf -> children, text, fields (see the module docstring)."""

    id = "pdf"
    kinds = frozenset({PDF_KIND})

    def __init__(self, settings: Settings) -> None:
        import logging

        self.max_pixels = int(settings.max_megapixels * 1_000_000)
        # pypdf's warnings quote bytes of the file (a secret may be among them): never let them reach a log
        logging.getLogger("pypdf").setLevel(logging.CRITICAL)

    def expand(self, item: Item, budget: Budget) -> Expansion:
        repaired = _with_trailer(item.data)
        reader, failure = _open_reader(item.data)
        if reader is None and repaired is not None:
            reader, failure = _open_reader(repaired)
        extra: list[Field] = []
        if reader is not None and _is_encrypted(reader):
            if not _opens_with_empty_password(reader):
                raise UnsupportedItem("PDF is encrypted with a password: its content cannot be read")
            extra.append((OTHER, "encryption", "encrypted, opens with the empty user password"))
        structure = _structure(reader) if reader is not None else Structure()
        pages, page_failure = _pages(item, item.data, budget, self.max_pixels)
        if pages is None and repaired is not None:
            pages, page_failure = _pages(item, repaired, budget, self.max_pixels)
        if reader is None and pages is None:
            raise CorruptItem(f"PDF unreadable ({failure or page_failure})")
        if pages is not None:
            yield from pages.expand()
        elif reader is not None:
            _guarded("text", lambda: structure.texts.extend(p.extract_text() for p in reader.pages), structure)
        yield from _streams(item, structure.xmp, budget, "XMP stream", xmp=True)
        yield from _streams(item, structure.attachments + structure.streams, budget)
        # the JPEG streams no page drew as a picture (a pattern's, a soft mask, an annotation's, none): readers
        # that extract images still get them
        yield from _streams(item, structure.jpegs, budget, "JPEG stream", pages.seen if pages is not None else set())
        yield from _polyglot(item, structure, budget)
        extra.extend(_revision_fields(item.data))
        yield from _earlier_parts(item, budget)
        texts = structure.texts + (pages.texts if pages is not None else [])
        for part in (text_item(item, "text", texts), fields_item(item, "fields", structure.fields + extra)):
            if part is not None:
                yield part
        yield from _errors(structure, failure, page_failure, item.data)


def _open_reader(data: bytes) -> tuple[Any, str]:
    from pypdf import PdfReader

    try:
        return PdfReader(io.BytesIO(data), strict=False), ""
    except Exception as exc:  # pypdf raises many types (PdfReadError, ValueError, KeyError...)
        return None, type(exc).__name__


def _is_encrypted(reader: Any) -> bool:
    try:
        return bool(reader.is_encrypted)
    except Exception:  # a damaged trailer: not known to be encrypted, pdfium will say more
        return False


def _opens_with_empty_password(reader: Any) -> bool:
    try:
        return bool(reader.decrypt(""))
    except Exception:  # unsupported crypto, damaged encryption dictionary
        return False


def _structure(reader: Any) -> Structure:
    out = Structure()
    steps = [("info", lambda: out.fields.extend(info_fields(reader.trailer))),
             ("xmp", lambda: _catalog_xmp(reader, out)),
             ("catalog", lambda: catalog_parts(reader.trailer["/Root"].get_object(), out)),
             ("form", lambda: form_values(reader, out)),
             ("page and picture metadata", lambda: metadata_streams(reader, out))]
    for what, step in steps:
        _guarded(what, step, out)
    _guarded("annotations", lambda: _annotations(reader, out), out)
    if out.attachments:
        out.fields.append(("history", "embedded files", str(len(out.attachments))))
    return out


def _annotations(reader: Any, out: Structure) -> None:
    for n, page in enumerate(reader.pages, 1):
        _guarded(f"page[{n}] annotations", lambda p=page, n=n: annotation_parts(n, p.get("/Annots"), out), out)


def _guarded(what: str, step: Any, out: Structure) -> None:
    try:
        step()
    except ItemError as exc:
        out.errors.append((exc, what))
    except Exception as exc:  # a damaged part must not stop the others
        out.errors.append((CorruptItem(f"{what} unreadable ({type(exc).__name__})"), what))


def _catalog_xmp(reader: Any, out: Structure) -> None:
    """The document's XMP (the catalog's /Metadata), first among the XMP streams, named `xmp`."""
    from pypdf.generic import StreamObject

    ref = reader.trailer["/Root"].get_object().get("/Metadata")
    if ref is None:
        return
    stream = ref.get_object()
    if not isinstance(stream, StreamObject):
        raise CorruptItem("the catalog's /Metadata is not a stream: its XMP cannot be read")
    out.xmp.insert(0, ("xmp", stream))


def _with_trailer(data: bytes) -> bytes | None:
    """A truncated PDF (no %%EOF at its end) with a trailer naming its catalog and Info appended, so both
    readers rebuild the cross-reference by scanning; None when not truncated or no catalog is left."""
    if b"%%EOF" in data[-EOF_TAIL:]:
        return None
    catalog = CATALOG_OBJ.search(data)
    if catalog is None:
        return None
    info = INFO_OBJ.search(data)
    info_key = b" /Info %s %s R" % (info.group(1), info.group(2)) if info else b""
    return data + b"\ntrailer\n<< /Root %s %s R%s >>\nstartxref\n0\n%%%%EOF\n" % (
        catalog.group(1), catalog.group(2), info_key)


def _pages(item: Item, data: bytes, budget: Budget, max_pixels: int) -> tuple[PageReader | None, str]:
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data, password="")
    except (pdfium.PdfiumError, OSError, ValueError) as exc:
        return None, type(exc).__name__
    return PageReader(doc, item, budget, max_pixels), ""


def _streams(item: Item, streams: list[tuple[str, Any]], budget: Budget, what: str = "attachment",
             seen: set[str] | None = None, xmp: bool = False) -> Iterator[Item | ErrorRecord]:
    """Each stream's bytes as a child; with `seen` (sha256 of the parts already yielded), each content once; with
    `xmp`, an XMP item unless its bytes are a file of a known format (a packet need not start as a sidecar does)."""
    for count, (name, stream) in enumerate(streams, 1):
        if seen is not None and count > MAX_UNDRAWN:
            yield error(ItemTooLarge(f"more than {MAX_UNDRAWN} {what}s: the rest not read"), "expand")
            return
        try:
            data = stream_bytes(stream, budget, name)
        except ItemError as exc:
            yield error(exc, "expand", name)
            continue
        except Exception as exc:  # pypdf and zlib errors on a damaged stream
            yield error(CorruptItem(f"{what} unreadable ({type(exc).__name__})"), "expand", name)
            continue
        digest = hashlib.sha256(data).hexdigest() if seen is not None else ""
        if seen is None or digest not in seen:
            if seen is not None:
                seen.add(digest)
            yield child(item, name, data, _xmp_kind(data) if xmp else None)


def _xmp_kind(data: bytes) -> str:
    kind = sniff(data)
    return XMP_KIND if kind in (TEXT_KIND, UNKNOWN_KIND) else kind


def _polyglot(item: Item, structure: Structure, budget: Budget) -> Iterator[Item | ErrorRecord]:
    """An archive or document that starts inside the PDF's bytes outside any file it embeds (a PDF that is also a
    ZIP: `unzip` lists what no PDF reader shows): scanned as a part, and the PDF reviewed."""
    from ..metadata import payload

    stored = structure.attachments + structure.streams + structure.xmp + structure.jpegs
    embedded = {bytes(stream._data[:64]) for _, stream in stored if isinstance(getattr(stream, "_data", None), bytes)}
    try:
        found = payload.find(item.data)
    except ItemTooLarge as exc:
        yield error(exc, "expand")
        return
    for hit in found:
        if item.data[hit.offset : hit.offset + 64] in embedded:
            continue  # an attachment stored as it is: already a part
        name = f"hidden[{hit.offset}]"
        budget.admit(len(item.data) - hit.offset, what=name)
        yield child(item, name, item.data[hit.offset :])
        yield error(CorruptItem(f"{hit.detail[:80]} starts inside the PDF at offset {hit.offset}: other tools open "
                                "the file as that"), "expand", name)


def _revision_fields(data: bytes) -> list[Field]:
    updates = len(revision_ends(data)) - 1
    return [("history", "incremental updates", str(updates))] if updates > 0 else []


def _earlier_parts(item: Item, budget: Budget) -> Iterator[Item]:
    """Each earlier revision (the file up to an earlier %%EOF) and any data after the last %%EOF."""
    ends = revision_ends(item.data)
    if not ends:
        return
    tail = item.data[ends[-1]:].lstrip(b"\r\n\t \x00")
    if len(tail) >= AFTER_EOF_MIN:
        budget.admit(len(tail), None, "after-eof")
        yield child(item, "after-eof", tail)
    if REVISION_NAME.search(item.location):
        return  # the file this revision came from has yielded all the others
    for k, end in enumerate(ends[:-1], 1):
        budget.admit(end, None, f"revision[{k}]")
        yield child(item, f"revision[{k}]", item.data[:end])


def _errors(structure: Structure, failure: str, page_failure: str, data: bytes) -> Iterator[ErrorRecord]:
    if failure:
        yield error(CorruptItem(f"PDF structure unreadable ({failure}); pages read by pdfium"), "expand")
    if page_failure:
        yield error(CorruptItem(f"PDF pages unreadable ({page_failure}); structure read by pypdf"), "expand")
    if b"%%EOF" not in data[-EOF_TAIL:]:
        yield error(CorruptItem("PDF has no valid end-of-file section (truncated or damaged): read as repaired"),
                    "expand")
    for exc, where in structure.errors:
        yield error(exc, "expand", where)
