"""Safe copy of a PDF (pypdf): page images replaced by their safe copies, Info and XMP dropped, one revision.

Every image XObject is rewritten from its safe copy (JPEGs as DCT without their EXIF/XMP, other
images as 8-bit Flate), matched to the scanner's report of it by content hash (JPEG) or by place
(`page[n]/image[m]`). The document information dictionary and the XMP packet are removed; the copy is
written whole, so earlier revisions, bytes after %%EOF and unused objects do not survive. Text,
annotations, form values and attachments are content: kept, and the re-scan reports them. An encrypted
PDF, an inline or JPEG 2000 image is unfixable (fail closed).
"""

from __future__ import annotations

import hashlib
import io
import zlib
from typing import Any

from ..containers.base import LOCATION_SEP
from ..formats import sniff
from .base import Change, Context, Fixed, Unfixable

PDF_KIND = "application/pdf"
COLOUR_SPACES = {"RGB": "/DeviceRGB", "L": "/DeviceGray", "CMYK": "/DeviceCMYK"}
DROPPED_KEYS = ("/DecodeParms", "/Decode", "/Filter", "/JPXDecode", "/Intent")


def _join(location: str, name: str) -> str:
    return f"{location}{LOCATION_SEP}{name}" if location else name


class PdfFixer:
    """PDF documents."""

    id = "pdf"

    def accepts(self, kind: str) -> bool:
        return kind == PDF_KIND

    def fix(self, data: bytes, kind: str, location: str, ctx: Context, keep_format: bool) -> Fixed:
        from pypdf import PdfReader, PdfWriter
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise Unfixable("an encrypted PDF cannot be rewritten")
            writer = PdfWriter(clone_from=reader)
        except Unfixable:
            raise
        except Exception as exc:  # pypdf raises many types on damaged files
            raise Unfixable(f"PDF cannot be read ({type(exc).__name__})") from None
        by_hash = {r.sha256: loc for loc, r in ctx.reports.items() if r.sha256}
        changes: list[Change] = []
        done: set[int] = set()
        try:
            for n, page in enumerate(writer.pages, 1):
                for m, image in enumerate(page.images, 1):
                    changes += self._image(image, _join(location, f"page[{n}]/image[{m}]"), by_hash, done, ctx)
        except Unfixable:
            raise
        except Exception as exc:
            raise Unfixable(f"PDF image cannot be rewritten ({type(exc).__name__})") from None
        removed = _strip_metadata(writer)
        if removed:
            changes.append(Change("removed", "", location, None, f"{removed} XMP packet(s), page thumbnail(s) or "
                                  "application data dictionaries"))
        writer._info = None  # no document information dictionary (author, title, dates, producer)
        changes.append(Change("removed", "", location, None, "document information, earlier revisions"))
        writer.compress_identical_objects(remove_duplicates=False, remove_unreferenced=True)  # what was cut loose
        out = io.BytesIO()
        writer.write(out)
        return Fixed(out.getvalue(), "pdf", changes)

    @staticmethod
    def _image(image: Any, where: str, by_hash: dict[str, str], done: set[int], ctx: Context) -> list[Change]:
        from PIL import Image

        ref = image.indirect_reference
        if ref is None:
            raise Unfixable(f"{where}: an inline image cannot be rewritten")
        if ref.idnum in done:  # one XObject drawn on several pages: rewritten once
            return []
        done.add(ref.idnum)
        raw = bytes(image.data)
        kind = sniff(raw)
        fixer = ctx.fixer_for(kind)
        if fixer is None or fixer.id != "image":
            raise Unfixable(f"{where}: a {kind} image cannot be rewritten")
        location = by_hash.get(hashlib.sha256(raw).hexdigest(), where)
        fixed = fixer.fix(raw, kind, location, ctx, keep_format=kind == "image/jpeg")
        pixels = Image.open(io.BytesIO(fixed.data))
        _store(ref.get_object(), fixed.data, pixels)
        return fixed.changes


def _strip_metadata(writer: Any) -> int:
    """Remove /Metadata (XMP: the catalog's, a page's, a picture's), /PieceInfo (application data) and a page's
    /Thumb from every dictionary of the document; returns how many were removed."""
    from pypdf.generic import DictionaryObject, NameObject

    removed = 0
    for obj in list(writer._objects):
        target = obj.get_object() if obj is not None else None
        if not isinstance(target, DictionaryObject):
            continue
        for key in ("/Metadata", "/PieceInfo", "/Thumb"):
            if key in target:
                del target[NameObject(key)]
                removed += 1
    return removed


def _store(stream: Any, data: bytes, pixels: Any) -> None:
    """Put the safe copy into the XObject: a JPEG as DCT as it is, anything else as 8-bit Flate."""
    from pypdf.generic import NameObject, NumberObject

    for key in DROPPED_KEYS:
        if key in stream:
            del stream[NameObject(key)]
    if pixels.format == "JPEG" and pixels.mode in COLOUR_SPACES:
        stream._data = data
        stream[NameObject("/Filter")] = NameObject("/DCTDecode")
        mode = pixels.mode
    else:
        mode = "RGB" if pixels.mode not in ("L", "CMYK") else pixels.mode
        stream._data = zlib.compress(pixels.convert(mode).tobytes())
        stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    stream[NameObject("/Width")] = NumberObject(pixels.width)
    stream[NameObject("/Height")] = NumberObject(pixels.height)
    stream[NameObject("/ColorSpace")] = NameObject(COLOUR_SPACES[mode])
    stream[NameObject("/BitsPerComponent")] = NumberObject(8)
