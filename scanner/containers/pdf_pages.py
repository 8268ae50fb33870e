"""A PDF's pages read with pypdfium2: the text layer, every image on them, renders of pages without text.

A JPEG image (DCTDecode) is yielded as stored, so its EXIF/GPS survives; other images become PNG.
A page with no text layer (a scanned receipt, a photographed whiteboard, text turned to outlines)
is rendered so its long side is about TARGET_LONG_SIDE_PX (at most MAX_RENDER_DPI), for OCR, unless
it only draws one upright image (a photo or a one-image scan): that image is a child already.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import Any

from ..errors import CorruptItem, ItemError, ItemTooLarge
from ..model import ErrorRecord, Item
from .base import Budget, child, error

TARGET_LONG_SIDE_PX = 2000  # renders of pages without text, for OCR
MAX_RENDER_DPI = 300  # a small page (a receipt) is not blown up past this: OCR reads ~300 dpi text best
POINTS_PER_INCH = 72
MAX_PAGES = 2000  # pages whose text and images are read
MAX_RENDERED_PAGES = 50  # pages without a text layer rendered for OCR
MAX_IMAGES = 1000  # images taken from the pages of one PDF
MAX_FORM_DEPTH = 8  # form XObjects nested in form XObjects
JPEG_START = b"\xff\xd8"
SIMPLE_FILTERS = frozenset({"ASCIIHexDecode", "ASCII85Decode", "FlateDecode", "LZWDecode", "RunLengthDecode"})


class PageReader:
    """Walks the pages of one open pdfium document; collects their text in `texts`."""

    def __init__(self, doc: Any, parent: Item, budget: Budget, max_pixels: int) -> None:
        self.doc = doc
        self.parent = parent
        self.budget = budget
        self.max_pixels = max_pixels
        self.texts: list[str] = []
        self.seen: set[str] = set()
        self.images = 0
        self.rendered = 0

    def expand(self) -> Iterator[Item | ErrorRecord]:
        count = len(self.doc)
        for index in range(min(count, MAX_PAGES)):
            yield from self._page(index + 1)
        if count > MAX_PAGES:
            yield error(ItemTooLarge(f"{count} pages: pages after {MAX_PAGES} not read"), "expand")

    def _page(self, n: int) -> Iterator[Item | ErrorRecord]:
        import pypdfium2 as pdfium
        import pypdfium2.raw as pdfium_c

        try:
            page = self.doc[n - 1]
            textpage = page.get_textpage()
            text = str(textpage.get_text_range())
            found = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_FORM],
                                          max_depth=MAX_FORM_DEPTH))
            images = [o for o in found if o.type == pdfium_c.FPDF_PAGEOBJ_IMAGE]
            cut = any(o.type == pdfium_c.FPDF_PAGEOBJ_FORM and o.level == MAX_FORM_DEPTH - 1
                      and pdfium_c.FPDFFormObj_CountObjects(o) > 0 for o in found)  # not descended into
            drawn = int(pdfium_c.FPDFPage_CountObjects(page))
        except (pdfium.PdfiumError, OSError, ValueError) as exc:
            yield error(CorruptItem(f"page {n} unreadable ({type(exc).__name__})"), "expand", f"page[{n}]")
            return
        self.texts.append(text)
        if cut:
            yield error(ItemTooLarge(f"forms nested more than {MAX_FORM_DEPTH} levels deep: what they draw was not "
                                     "read"), "expand", f"page[{n}]")
        for m, image in enumerate(images, 1):
            yield from self._image(image, f"page[{n}]/image[{m}]")
        if not text.strip() and drawn and not _is_one_picture(page, drawn, len(images)):
            yield from self._render(page, n)

    def _image(self, image: Any, name: str) -> Iterator[Item | ErrorRecord]:
        import pypdfium2 as pdfium

        if self.images >= MAX_IMAGES:
            if self.images == MAX_IMAGES:
                yield error(ItemTooLarge(f"more than {MAX_IMAGES} images: the rest not read"), "expand", name)
            self.images += 1
            return
        self.images += 1
        try:
            data = self._image_bytes(image, name)
        except ItemTooLarge as exc:
            yield error(exc, "expand", name)
            return
        except (pdfium.PdfiumError, OSError, ValueError) as exc:
            yield error(CorruptItem(f"image unreadable ({type(exc).__name__})"), "expand", name)
            return
        digest = hashlib.sha256(data).hexdigest()
        if digest not in self.seen:  # the same XObject drawn on every page is one child
            self.seen.add(digest)
            yield child(self.parent, name, data)

    def _image_bytes(self, image: Any, name: str) -> bytes:
        filters = list(image.get_filters())
        if filters and filters[-1] == "DCTDecode" and SIMPLE_FILTERS.issuperset(filters[:-1]):
            data = bytes(image.get_data(decode_simple=len(filters) > 1))
            if data.startswith(JPEG_START):
                self.budget.admit(len(data), None, name)
                return data
        width, height = image.get_px_size()
        if width * height > self.max_pixels:
            raise ItemTooLarge(f"image of {width}x{height} pixels is over the pixel cap")
        self.budget.admit(width * height * 4, None, name)
        return _png(image.get_bitmap(render=False).to_pil())

    def _render(self, page: Any, n: int) -> Iterator[Item | ErrorRecord]:
        import pypdfium2 as pdfium

        name = f"page[{n}]"
        if self.rendered >= MAX_RENDERED_PAGES:
            if self.rendered == MAX_RENDERED_PAGES:
                msg = f"more than {MAX_RENDERED_PAGES} pages without text: the rest not rendered for OCR"
                yield error(ItemTooLarge(msg), "expand", name)
            self.rendered += 1
            return
        self.rendered += 1
        try:
            width, height = page.get_size()
            scale = min(TARGET_LONG_SIDE_PX / max(width, height, 1.0), MAX_RENDER_DPI / POINTS_PER_INCH)
            self.budget.admit(int(width * scale) * int(height * scale) * 3, None, name)
            data = _png(page.render(scale=scale).to_pil())
        except ItemError as exc:
            yield error(exc, "expand", name)
            return
        except (pdfium.PdfiumError, OSError, ValueError) as exc:
            yield error(CorruptItem(f"page {n} could not be rendered ({type(exc).__name__})"), "expand", name)
            return
        yield child(self.parent, name, data, generated=True)


def _is_one_picture(page: Any, drawn: int, images: int) -> bool:
    """A page that only draws one upright image: that image is already a child, so no render is needed."""
    return drawn == 1 and images == 1 and int(page.get_rotation()) == 0


def _png(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()
