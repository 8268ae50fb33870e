"""Subject: one Item plus what detectors share about it (decoded pixels, typed facts), decoded lazily once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from . import frames, media
from .config import Settings
from .errors import ItemError, ScannerError, UnsupportedItem
from .facts import Facts
from .model import ErrorRecord, Item

if TYPE_CHECKING:
    from PIL import Image


class Subject:
    """What a detector looks at. Decodes happen on first use and are cached per size.

    `facts` carries what one detector learns for the ones after it (e.g. the visual detector's
    scene cue "document" makes the text detector look harder); the order comes from what each
    detector declares it provides and needs (scanner/facts.py).
    """

    def __init__(self, item: Item, settings: Settings) -> None:
        self.item = item
        self.settings = settings
        self.facts = Facts()
        self.errors: list[ErrorRecord] = []
        self._pictures: dict[media.PictureKey, Image.Image] = {}
        self._expected: dict[media.PictureKey, None] = {}  # the pictures the detectors that take it will ask for
        self._decode_error: ItemError | None = None
        self._header: Image.Image | None = None

    @property
    def max_pixels(self) -> int:
        return int(self.settings.max_megapixels * 1_000_000)

    def note_error(self, exc: ScannerError, stage: str) -> None:
        """Record a part that could not be analysed (once: detectors sharing a failed decode agree)."""
        if any(e.code == exc.code and e.message == str(exc) for e in self.errors):
            return
        self.errors.append(ErrorRecord(exc.code, str(exc), stage))  # the report node says where the item is

    def header(self) -> Image.Image:
        """The image opened without decoding pixels (format, size, info, EXIF).

        Detectors look at the first frame only, so an image with more frames (animated GIF or
        WebP, multi-page TIFF, MPO, HEIC with several images) is recorded as not fully analysed,
        unless each extra frame is verified derived from the first (frames.not_analysed).
        """
        if self._header is None:
            self._header = media.open_image(self.item.data, self.max_pixels)
            skipped = frames.not_analysed(self._header, self.item.data, self.max_pixels)
            if skipped:
                self.note_error(UnsupportedItem(skipped), "decode")
        return self._header

    def oriented_size(self) -> tuple[int, int]:
        """Full-resolution (width, height) after EXIF orientation, from the header (no decode)."""
        w, h = self.header().size
        try:
            orientation = int(self.header().getexif().get(0x0112, 1))
        except (OSError, ValueError, SyntaxError, KeyError, TypeError):  # broken EXIF: decode ignores it too
            orientation = 1
        return (h, w) if orientation in (5, 6, 7, 8) else (w, h)

    def picture(self, max_side: int | None = None, fast_resize: bool = False) -> Image.Image:
        """RGB pixels, EXIF orientation applied, longest side at most `max_side` (None: full size).

        `fast_resize`: box-filter the last downscale (see media.decode); for model inputs, not OCR.
        Callers must not modify the returned image (copy it first).
        """
        if self._decode_error is not None:  # decoded once and failed: every detector gets the same error
            raise self._decode_error
        if self._header is None:
            try:
                self.header()
            except ItemError as exc:
                self._decode_error = exc
                raise
        key = _key(max_side, fast_resize)
        if key not in self._pictures:
            keys = [key] + [k for k in self._expected if k != key and k not in self._pictures]
            try:
                self._pictures.update(media.decode_group(self.item.data, self.max_pixels, keys))
            except ItemError as exc:
                self._decode_error = exc
                raise
        return self._pictures[key]

    def expect(self, keys: Iterable[media.PictureKey]) -> None:
        """Say which pictures (max_side, fast_resize) will be asked for: those that decode from the same pixels
        as the first one asked for come from that one decode (the pipeline tells each Subject what the
        detectors taking it declare in `pictures`)."""
        self._expected.update((_key(*k), None) for k in keys)


def _key(max_side: int | None, fast_resize: bool) -> media.PictureKey:
    return (max_side, fast_resize and max_side is not None)  # no downscale: no filter to pick
