"""Tesseract 5 through pytesseract: words with boxes and confidences, one OpenMP thread.

pytesseract spawns the `tesseract` binary with the parent's environment and takes no `env`
argument, so `OMP_THREAD_LIMIT=1` is set only around the call (when the caller has not chosen
a value) and restored right after it.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from ..errors import EngineError, EngineUnavailable
from ..model import Region
from .ocr import OcrResult, Word

if TYPE_CHECKING:
    from PIL import Image

DEFAULT_CONFIG = "--psm 6 --oem 1"


class TesseractEngine:
    """Words from `tesseract --psm 6` (a uniform block: keeps receipt columns on one line)."""

    name = "tesseract"

    def __init__(self, lang: str = "eng+nld+deu", config: str = DEFAULT_CONFIG, timeout_s: float = 60.0) -> None:
        try:
            import pytesseract
        except ImportError as exc:
            raise EngineUnavailable(f"pytesseract cannot be imported: {exc}") from None
        self._pt: Any = pytesseract
        try:
            available = set(pytesseract.get_languages(config=""))
        except (pytesseract.TesseractNotFoundError, OSError) as exc:
            raise EngineUnavailable(f"tesseract binary not found: {type(exc).__name__}") from None
        missing = [part for part in lang.split("+") if part and part not in available]
        if missing:
            raise EngineUnavailable(f"tesseract language data missing: {', '.join(missing)}")
        self.lang = lang
        self.config = config
        self.timeout_s = timeout_s

    def read(self, image: Image.Image) -> OcrResult:
        start = time.perf_counter()
        own_limit = "OMP_THREAD_LIMIT" not in os.environ
        if own_limit:
            os.environ["OMP_THREAD_LIMIT"] = "1"
        try:
            data = self._run(image)
        finally:
            if own_limit:
                os.environ.pop("OMP_THREAD_LIMIT", None)
        words: list[Word] = []
        for text, conf, x, y, w, h in zip(
            data["text"], data["conf"], data["left"], data["top"], data["width"], data["height"], strict=False
        ):
            text = str(text).strip()
            if text and float(conf) >= 0:
                words.append(Word(text, float(conf) / 100.0, Region(int(x), int(y), max(1, int(w)), max(1, int(h)))))
        return OcrResult(self.name, tuple(words), image.size, time.perf_counter() - start)

    def _run(self, image: Image.Image) -> dict[str, list[Any]]:
        pt = self._pt
        try:
            result: dict[str, list[Any]] = pt.image_to_data(
                image.convert("RGB"), lang=self.lang, config=self.config, output_type=pt.Output.DICT,
                timeout=self.timeout_s,
            )
        except pt.TesseractNotFoundError:
            raise EngineUnavailable("tesseract binary not found") from None
        except RuntimeError as exc:  # pytesseract raises RuntimeError on timeout
            raise EngineError(f"tesseract timed out or failed: {type(exc).__name__}") from None
        except (pt.TesseractError, OSError) as exc:
            raise EngineError(f"tesseract failed: {type(exc).__name__}") from None
        return result
