"""PP-OCRv6-small through RapidOCR and ONNX Runtime: one intra-op thread, weights from the wheel only.

The model files are passed by explicit path, so RapidOCR's downloader is never reached; when a
file is missing the engine raises EngineUnavailable instead of fetching it. The angle
classifier is off: on embossed card digits it flipped whole lines to 180 degrees; the detector
tries whole-image rotations itself when text is found but unreadable.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EngineError, EngineUnavailable
from ..media import shrunk
from ..model import Region
from .ocr import OcrResult, Word
from .offline import offline_onnxruntime

if TYPE_CHECKING:
    from PIL import Image

DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
CLS_MODEL = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
LOCATE_SIDE = 512


def rapidocr_available() -> bool:
    return importlib.util.find_spec("rapidocr") is not None


def model_dir() -> Path:
    """The `models/` folder inside the installed rapidocr wheel."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        raise EngineUnavailable("rapidocr is not installed (pip install 'rapidocr==3.10.*')")
    return Path(spec.origin).parent / "models"


def _params(extra: dict[str, Any]) -> dict[str, Any]:
    root = model_dir()
    paths = {name: root / name for name in (DET_MODEL, REC_MODEL, CLS_MODEL)}
    missing = [n for n, p in paths.items() if not p.is_file()]
    if missing:
        raise EngineUnavailable(f"rapidocr model files missing from the wheel: {', '.join(missing)} (no download)")
    params: dict[str, Any] = {
        "Global.log_level": "error",
        "Global.use_cls": False,
        "EngineConfig.onnxruntime.intra_op_num_threads": 1,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        "Det.model_path": str(paths[DET_MODEL]),
        "Rec.model_path": str(paths[REC_MODEL]),
        "Cls.model_path": str(paths[CLS_MODEL]),
    }
    params.update(extra)
    return params


def _build(extra: dict[str, Any]) -> Any:
    offline_onnxruntime()  # rapidocr imports onnxruntime: its telemetry must be off before that
    try:
        from rapidocr import RapidOCR
    except ImportError as exc:
        raise EngineUnavailable(f"rapidocr cannot be imported: {exc}") from None
    try:
        return RapidOCR(params=_params(extra))
    except EngineUnavailable:
        raise
    except Exception as exc:
        raise EngineUnavailable(f"rapidocr failed to start: {type(exc).__name__}: {exc}") from None


def _bgr(image: Image.Image) -> Any:
    import numpy as np

    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])


def _region(points: Any) -> Region:
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    x0, y0 = int(min(xs)), int(min(ys))
    return Region(max(0, x0), max(0, y0), max(1, int(max(xs)) - x0), max(1, int(max(ys)) - y0))


class RapidOcrEngine:
    """Text lines with their boxes and scores from RapidOCR (detection + recognition)."""

    name = "rapidocr"

    def __init__(self, **params: Any) -> None:
        self._ocr = _build(params)

    def read(self, image: Image.Image) -> OcrResult:
        start = time.perf_counter()
        try:
            out = self._ocr(_bgr(image), use_cls=False)
        except Exception as exc:
            raise EngineError(f"rapidocr failed: {type(exc).__name__}") from None
        words: list[Word] = []
        if out.boxes is not None and out.txts is not None:
            for box, txt, score in zip(out.boxes, out.txts, out.scores or (), strict=False):
                if txt and txt.strip():
                    words.append(Word(str(txt), float(score), _region(box)))
        return OcrResult(self.name, tuple(words), image.size, time.perf_counter() - start)


class RapidTextLocator:
    """RapidOCR's detection network alone on a <=512 px copy: ~60 ms, the text-presence gate."""

    def __init__(self, side: int = LOCATE_SIDE) -> None:
        self.side = side
        self._ocr = _build({"Det.limit_type": "max", "Det.limit_side_len": side})

    def locate(self, image: Image.Image) -> list[Region]:
        small = shrunk(image, self.side)
        sx, sy = image.size[0] / small.size[0], image.size[1] / small.size[1]
        try:
            out = self._ocr(_bgr(small), use_det=True, use_cls=False, use_rec=False)
        except Exception as exc:
            raise EngineError(f"rapidocr text detection failed: {type(exc).__name__}") from None
        if out.boxes is None:
            return []
        regions = []
        for box in out.boxes:
            r = _region(box)
            regions.append(Region(int(r.x * sx), int(r.y * sy), max(1, int(r.w * sx)), max(1, int(r.h * sy))))
        return regions
