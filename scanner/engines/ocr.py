"""The OCR contract: read(image) -> words with boxes and confidences; engines chosen by settings.

Back ends live in `tesseract.py` and `rapid.py` and import their libraries only when built.
`build_ocr(settings)` returns the engines `ocr_engine` asks for (auto = the measured default,
see docs/ocr.md); `build_locator(settings)` returns the cheap text-presence gate, if any.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..config import Settings
from ..errors import ConfigError
from ..model import Region

if TYPE_CHECKING:
    from PIL import Image

#: Chosen by recall of sensitive strings on shared/corpus/dev (docs/ocr.md).
AUTO_ENGINES: tuple[str, ...] = ("rapidocr",)
#: Chosen by bench_ocr_backends.py on 2 shared cores (docs/ocr.md).
AUTO_BACKEND = "onnxruntime"


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised token or text line; `box` is in the pixels of the image that was read."""

    text: str
    conf: float
    box: Region

    def __repr__(self) -> str:  # text may be a secret: never in reprs, logs or tracebacks
        return f"Word(<{len(self.text)} chars>, conf={self.conf:.2f}, box={self.box})"


@dataclass(frozen=True, slots=True)
class OcrResult:
    """What one engine read from one image."""

    engine: str
    words: tuple[Word, ...]
    size: tuple[int, int]
    seconds: float = 0.0

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def mean_conf(self) -> float:
        chars = sum(len(w.text) for w in self.words)
        return sum(w.conf * len(w.text) for w in self.words) / chars if chars else 0.0

    def __repr__(self) -> str:
        return f"OcrResult({self.engine}, {len(self.words)} words, size={self.size}, {self.seconds:.3f}s)"


@runtime_checkable
class OcrEngine(Protocol):
    """Reads text from an RGB image. Raises EngineUnavailable / EngineError, never returns silently empty."""

    name: str

    def read(self, image: Image.Image) -> OcrResult: ...


@runtime_checkable
class CappedOcrEngine(OcrEngine, Protocol):
    """An engine whose text detection may see a shrunk copy (`ocr_det_side`) and can also look at the whole picture."""

    def capped(self, size: tuple[int, int]) -> bool: ...

    def shrink(self, size: tuple[int, int]) -> float:
        """How many times smaller than its whole-picture view detection sees a picture of `size` (1: not capped)."""
        ...

    def read_dense(self, image: Image.Image) -> OcrResult:
        """As `read`, for a page of small print: detection capped less tightly (rapid.DENSE_SIDE)."""
        ...

    def read_full(self, image: Image.Image) -> OcrResult: ...

    def read_more(self, image: Image.Image, first: OcrResult) -> OcrResult:
        """As `read_full`, but the lines `first` (a read of `image`) already read are taken from it, not read again."""
        ...

    def for_screens(self) -> CappedOcrEngine:
        """The engine to read a picture the visual cues call a screen: recognition at full width (docs/ocr.md)."""
        ...


def read_small_print(engine: OcrEngine, image: Image.Image) -> OcrResult:
    """A read of a page of small print (a document, a screen, an ID card enlarged to be read): an engine that caps
    its detection sees it at no less than rapid.DENSE_SIDE (the tighter default cap loses a card's number)."""
    return engine.read_dense(image) if isinstance(engine, CappedOcrEngine) else engine.read(image)


@runtime_checkable
class TextLocator(Protocol):
    """Cheap text-presence gate: boxes of probable text lines in `image` (no recognition), in the pixels of an
    image of `size` showing the same scene (a larger copy; default `image.size`)."""

    def locate(self, image: Image.Image, size: tuple[int, int] | None = None) -> list[Region]: ...


def ocr_backend(settings: Settings) -> str:
    """RapidOCR's inference library: `auto` is ONNX Runtime (OpenVINO was not faster here, docs/ocr.md)."""
    return AUTO_BACKEND if settings.ocr_backend == "auto" else settings.ocr_backend


def engine_names(settings: Settings) -> tuple[str, ...]:
    choice = settings.ocr_engine
    if choice == "auto":
        return AUTO_ENGINES
    if choice == "both":
        return ("rapidocr", "tesseract")
    if choice in ("rapidocr", "tesseract"):
        return (choice,)
    raise ConfigError(f"unknown OCR engine {choice!r}")


def build_engine(name: str, settings: Settings) -> OcrEngine:
    if name == "tesseract":
        from .tesseract import TesseractEngine

        return TesseractEngine(lang=settings.ocr_lang)
    if name == "rapidocr":
        from .rapid import RapidOcrEngine

        return RapidOcrEngine(backend=ocr_backend(settings), det_side=settings.ocr_det_side,
                              rec_batch=settings.ocr_rec_batch, device=settings.device,
                              rec_width=settings.ocr_rec_width, alphabet=settings.ocr_alphabet)
    raise ConfigError(f"unknown OCR engine {name!r}")


def build_ocr(settings: Settings) -> Sequence[OcrEngine]:
    """The engines `settings.ocr_engine` selects, in the order their results are merged."""
    return tuple(build_engine(n, settings) for n in engine_names(settings))


def build_locator(settings: Settings) -> TextLocator | None:
    """RapidOCR's detection stage alone at low resolution; None when rapidocr is not installed."""
    from .rapid import RapidTextLocator, rapidocr_available

    return RapidTextLocator(backend=ocr_backend(settings), device=settings.device) if rapidocr_available() else None
