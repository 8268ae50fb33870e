"""Subject: one Item plus what detectors share about it (decoded pixels, hints), decoded lazily once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import media
from .config import Settings
from .errors import ItemError, ScannerError, UnsupportedItem
from .model import ErrorRecord, Item

if TYPE_CHECKING:
    from PIL import Image


class Subject:
    """What a detector looks at. Decodes happen on first use and are cached per size.

    `hints` carries facts one detector leaves for the ones after it (e.g. the visual
    detector's scene cue "document" makes the text detector look harder); detectors run in
    registry order.
    """

    def __init__(self, item: Item, settings: Settings) -> None:
        self.item = item
        self.settings = settings
        self.hints: dict[str, Any] = {}
        self.errors: list[ErrorRecord] = []
        self._pictures: dict[int | None, Image.Image] = {}
        self._decode_error: ItemError | None = None
        self._header: Image.Image | None = None

    @property
    def max_pixels(self) -> int:
        return int(self.settings.max_megapixels * 1_000_000)

    def note_error(self, exc: ScannerError, stage: str) -> None:
        """Record a part that could not be analysed (once: detectors sharing a failed decode agree)."""
        if any(e.code == exc.code and e.message == str(exc) for e in self.errors):
            return
        self.errors.append(ErrorRecord(exc.code, str(exc), stage, self.item.location))

    def header(self) -> Image.Image:
        """The image opened without decoding pixels (format, size, info, EXIF).

        Detectors look at the first frame only, so an image with more frames (animated GIF or
        WebP, multi-page TIFF, MPO, HEIC with several images) is recorded as not fully analysed.
        """
        if self._header is None:
            self._header = media.open_image(self.item.data, self.max_pixels)
            frames = getattr(self._header, "n_frames", 1)
            if frames > 1:
                self.note_error(UnsupportedItem(f"{frames} frames or pages: only the first was analysed"), "decode")
        return self._header

    def picture(self, max_side: int | None = None) -> Image.Image:
        """RGB pixels, EXIF orientation applied, longest side at most `max_side` (None: full size).

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
        if max_side not in self._pictures:
            full = self._pictures.get(None)
            if full is not None and max_side is not None:
                small = full.copy()
                small.thumbnail((max_side, max_side))
                self._pictures[max_side] = small
            else:
                try:
                    self._pictures[max_side] = media.decode(self.item.data, self.max_pixels, max_side)
                except ItemError as exc:
                    self._decode_error = exc
                    raise
        return self._pictures[max_side]
