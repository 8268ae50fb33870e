"""PP-OCRv6-small through RapidOCR on ONNX Runtime or OpenVINO: one thread, weights from the wheel only.

The model files are passed by explicit path, so RapidOCR's downloader is never reached; when a
file is missing the engine raises EngineUnavailable instead of fetching it. The angle
classifier is off: on embossed card digits it flipped whole lines to 180 degrees; the detector
tries whole-image rotations itself when text is found but unreadable.

Both inference back ends read the same ONNX files (OpenVINO compiles them in memory; its
telemetry lives only in the model-conversion tool, which is never imported). `det_side` caps the
longest side the detection network sees (0: RapidOCR's own default, the short side brought up to
736 px and the picture never shrunk); a picture that default would show the network at <= det_side
is still shown as before (small pictures and note crops are enlarged as they were), and
`read_full` shows the whole picture whatever the cap (the detector's second look, docs/ocr.md);
`rec_batch` is how many text lines one recognition call takes (docs/ocr.md has the measurements).
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EngineError, EngineUnavailable, ItemError
from ..media import shrunk
from ..model import Region, iou
from .ocr import OcrResult, Word
from .offline import offline_onnxruntime

if TYPE_CHECKING:
    from PIL import Image

DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
CLS_MODEL = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
LOCATE_SIDE = 512
BACKENDS = ("onnxruntime", "openvino")
REC_BATCH = 6  # RapidOCR's default
REC_HEIGHT = 48  # the recognition network's input height (PP-OCRv6)
REC_WIDTH = 320  # RapidOCR's default narrowest recognition input: every shorter line is padded to this width
NARROW_REC_WIDTH = 160  # the default (`ocr_rec_width`): short lines read from a 48 x 160 input (docs/ocr.md)
SAME_LINE = 0.7  # intersection over union at which a box of the second look is a line the first read already read
DET_MIN_SIDE = 736  # RapidOCR's default detection input: the short side brought up to this
DENSE_SIDE = 960  # the least cap for pictures the visual cues call a document or a screen (read_dense)
FULL_SIDE = 1600  # the whole-picture view (read_full, read_more) of a picture larger than this: 1.2x, the same rules


def rapidocr_available() -> bool:
    return importlib.util.find_spec("rapidocr") is not None


def backend_available(backend: str) -> bool:
    """Whether the inference library of `backend` is installed (OpenVINO is an optional extra)."""
    return importlib.util.find_spec(backend) is not None


def model_dir() -> Path:
    """The `models/` folder inside the installed rapidocr wheel."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        raise EngineUnavailable("rapidocr is not installed (pip install 'rapidocr==3.10.*')")
    return Path(spec.origin).parent / "models"


def cuda_ready(device: str) -> bool:
    """ONNX Runtime can run on CUDA (onnxruntime-gpu) and `device` allows it (auto or cuda).

    Without the CUDA provider OCR stays on the CPU even for `cuda`: the text it reads is the same.
    """
    if device not in ("auto", "cuda") or not backend_available("onnxruntime"):
        return False
    offline_onnxruntime()
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def engine_params(backend: str = "onnxruntime", det_side: int = 0, rec_batch: int = REC_BATCH,
                  cuda: bool = False, rec_width: int = NARROW_REC_WIDTH) -> dict[str, Any]:
    """RapidOCR parameters for one inference back end, detection size, recognition batch and narrowest
    recognition input (`rec_width`: a batch of short lines is padded to this width, not to 320 px), one CPU thread."""
    if backend not in BACKENDS:
        raise EngineUnavailable(f"unknown OCR back end {backend!r} (one of {', '.join(BACKENDS)})")
    if not backend_available(backend):
        raise EngineUnavailable(f"OCR back end {backend} is not installed (pip install 'leakscan[{backend}]')")
    params: dict[str, Any] = {f"{stage}.engine_type": backend for stage in ("Det", "Rec", "Cls")}
    if backend == "openvino":
        params["EngineConfig.openvino.inference_num_threads"] = 1
        params["EngineConfig.openvino.num_streams"] = 1
    if det_side:
        params.update({"Det.limit_type": "max", "Det.limit_side_len": det_side})
    if backend == "onnxruntime":  # reuse buffers between calls: 1.11x on OCR, the same text (docs/ocr.md)
        params["EngineConfig.onnxruntime.enable_cpu_mem_arena"] = True
    if cuda and backend == "onnxruntime":
        params["EngineConfig.onnxruntime.use_cuda"] = True
    params["Rec.rec_batch_num"] = rec_batch
    params["Rec.rec_img_shape"] = [3, REC_HEIGHT, rec_width]
    return params


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


def _build(extra: dict[str, Any], load_rec: bool = False) -> Any:
    """A RapidOCR object; `load_rec`: its recogniser loaded now (its model file is a temporary one)."""
    offline_onnxruntime()  # rapidocr imports onnxruntime: its telemetry must be off before that
    try:
        from rapidocr import EngineType, RapidOCR
    except ImportError as exc:
        raise EngineUnavailable(f"rapidocr cannot be imported: {exc}") from None
    params = {k: EngineType(v) if k.endswith(".engine_type") else v for k, v in _params(extra).items()}
    try:
        ocr = RapidOCR(params=params)
        _single_precision_input(ocr._load_det_model())  # type: ignore[no-untyped-call]
        if load_rec:
            ocr._load_rec_model()  # type: ignore[no-untyped-call]
        return ocr
    except (EngineUnavailable, ItemError):
        raise
    except Exception as exc:
        raise EngineUnavailable(f"rapidocr failed to start: {type(exc).__name__}: {exc}") from None


@contextlib.contextmanager
def _recognition_model(alphabet: str) -> Iterator[dict[str, Any]]:
    """RapidOCR parameters for the recogniser of `alphabet`: none for `full` (the wheel's file), else `Rec.model_path`
    of a private temporary copy of the narrowed model (alphabet.py), removed once the engine has loaded it; {} as
    well for a model of another shape (it is used as it is)."""
    from .alphabet import narrowed

    if alphabet != "latin":
        yield {}
        return
    try:
        found = narrowed(model_dir() / REC_MODEL)
    except ItemError:  # the file's time limit ran out while the model loaded: the file's failure, not the engine's
        raise
    except Exception as exc:
        raise EngineUnavailable(f"rapidocr recognition could not be narrowed: {type(exc).__name__}: {exc}") from None
    if found is None:
        yield {}
        return
    fd, path = tempfile.mkstemp(prefix="leakscan-rec-", suffix=".onnx")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(found[0])
        yield {"Rec.model_path": path}
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _single_precision_input(det: Any) -> None:
    """Detection's input scaled in float32 in place of RapidOCR's float64 arithmetic (about 2% of a whole scan).

    RapidOCR computes (pixel / 255 - mean) / std with float64 mean and std, then casts to float32. With mean and
    std 0.5 (PP-OCR's, the only ones this applies to) that is the same float32 number for every byte value
    (subtracting 0.5 and halving are exact; tests/test_ocr_speed.py checks all 256); other values keep
    RapidOCR's own code. The detector object builds its preprocessor at every call (rapidocr 3.10, pinned).
    """
    from rapidocr.ch_ppocr_det.utils import DetPreProcess

    if list(det.mean or [0.5] * 3) != [0.5] * 3 or list(det.std or [0.5] * 3) != [0.5] * 3:
        return

    class HalfCentred(DetPreProcess):
        def normalize(self, img: Any) -> Any:
            import numpy as np

            x = img.astype(np.float32)
            x *= self.scale
            x -= np.float32(0.5)
            x /= np.float32(0.5)
            return x

    det.get_preprocess = lambda: HalfCentred(det.limit_side_len, det.limit_type, det.mean, det.std)


def _bgr(image: Image.Image) -> Any:
    """The pixels as OpenCV's BGR array (no copy through convert() for a picture already RGB)."""
    import cv2
    import numpy as np

    return cv2.cvtColor(np.asarray(image if image.mode == "RGB" else image.convert("RGB")), cv2.COLOR_RGB2BGR)


def _region(points: Any) -> Region:
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    x0, y0 = int(min(xs)), int(min(ys))
    return Region(max(0, x0), max(0, y0), max(1, int(max(xs)) - x0), max(1, int(max(ys)) - y0))


class RapidOcrEngine:
    """Text lines with their boxes and scores from RapidOCR (detection + recognition)."""

    name = "rapidocr"

    def __init__(self, backend: str = "onnxruntime", det_side: int = 0, rec_batch: int = REC_BATCH,
                 device: str = "cpu", rec_width: int = NARROW_REC_WIDTH, alphabet: str = "latin",
                 **params: Any) -> None:
        self.backend = backend
        self.cuda = backend == "onnxruntime" and cuda_ready(device)
        self.det_side = det_side
        self.rec_width = rec_width
        with _recognition_model(alphabet) as rec:
            self._ocr = _build({**engine_params(backend, det_side, rec_batch, self.cuda, rec_width), **params, **rec},
                               load_rec=bool(rec))
        self.alphabet = "latin" if rec else "full"

    def for_screens(self) -> RapidOcrEngine:
        """This engine (the same RapidOCR objects) with recognition inputs at least REC_WIDTH wide.

        On-screen text is where a narrower input changed what the rules saw: a till screen's keypad lost a digit
        at 160 px and with it the till screen (docs/ocr.md); receipts, boards and photos read the same.
        """
        if self.rec_width >= REC_WIDTH:
            return self
        wide = copy.copy(self)
        wide.rec_width = REC_WIDTH
        return wide

    def _fit_recognition(self) -> None:
        """Recognition pads each call to at least `rec_width` (the recogniser reads its shape at every call and is
        shared with `for_screens`' copy)."""
        rec = self._ocr._load_rec_model()
        rec.rec_image_shape = [3, REC_HEIGHT, self.rec_width]

    def capped(self, size: tuple[int, int]) -> bool:
        """Whether `read` shows the detection network a smaller picture than RapidOCR's default would."""
        return self.shrink(size) > 1.0

    def shrink(self, size: tuple[int, int], side: int = 0) -> float:
        """How many times smaller than RapidOCR's default view `read` (capped at `side` when given, never
        below `det_side`) shows a picture of `size` to detection (>= 1)."""
        cap = max(side, self.det_side) if self.det_side else 0
        short, long = min(size), max(size)
        return max(1.0, long * max(1.0, DET_MIN_SIDE / max(short, 1)) / cap) if cap else 1.0

    def _fit_detection(self, size: tuple[int, int], full: bool, side: int = 0) -> None:
        """RapidOCR's default view of this picture when its long side stays <= the cap (or `full`), else the cap
        (`det_side`, or `side` when that is larger). `full`: the default view, at most FULL_SIDE (a 2000 px board is
        detected at 1600 px: 1.2x cheaper, the same rules on dev; at 1280 a board's writing was lost).

        The detector object reads `limit_type`/`limit_side_len` at every call (rapidocr 3.10, pinned).
        """
        det = self._ocr._load_det_model()
        if full and self.shrink(size, FULL_SIDE) > 1.0 and self.det_side:
            det.limit_type, det.limit_side_len = "max", FULL_SIDE
        elif full or self.shrink(size, side) <= 1.0:
            det.limit_type, det.limit_side_len = "min", DET_MIN_SIDE
        else:
            det.limit_type, det.limit_side_len = "max", max(side, self.det_side)

    def read(self, image: Image.Image) -> OcrResult:
        return self._read(image, full=False)

    def read_dense(self, image: Image.Image) -> OcrResult:
        """As `read`, with detection capped at no less than DENSE_SIDE: a page of small print (a receipt, a
        screen) keeps the view it had under the 960 px cap, where the cheaper cap misread a phone number."""
        return self._read(image, full=False, side=DENSE_SIDE)

    def read_full(self, image: Image.Image) -> OcrResult:
        """As `read`, but detection sees the whole picture (RapidOCR's default view, at most FULL_SIDE) whatever
        `det_side` says."""
        return self._read(image, full=True)

    def _read(self, image: Image.Image, full: bool, side: int = 0) -> OcrResult:
        start = time.perf_counter()
        try:
            if self.det_side:
                self._fit_detection(image.size, full, side)
            self._fit_recognition()
            out = self._ocr(_bgr(image), use_det=True, use_cls=False, use_rec=True)
        except Exception as exc:
            raise EngineError(f"rapidocr failed: {type(exc).__name__}") from None
        words: list[Word] = []
        if out.boxes is not None and out.txts is not None:
            for box, txt, score in zip(out.boxes, out.txts, out.scores or (), strict=False):
                if txt and txt.strip():
                    words.append(Word(str(txt), float(score), _region(box)))
        return OcrResult(self.name, tuple(words), image.size, time.perf_counter() - start)

    def read_more(self, image: Image.Image, first: OcrResult) -> OcrResult:
        """`read_full`, recognising only the lines `first` (a read of the same image) has not read already.

        Detection sees the whole picture; a line found there whose box matches one of `first`'s
        (intersection over union >= SAME_LINE, each of `first`'s words matched once) keeps the first read's
        word, the others are cut from `image` and recognised. The result holds both, as one read of the
        whole picture would. (Slanted writing has overlapping upright boxes: a looser match lost a line.)
        """
        start = time.perf_counter()
        try:
            self._fit_detection(image.size, True)
            self._fit_recognition()
            bgr = _bgr(image)
            det = self._ocr(bgr, use_det=True, use_cls=False, use_rec=False)
            boxes = [] if det.boxes is None else list(det.boxes)
            words: list[Word] = []
            new: list[Any] = []
            unused = list(first.words)
            for points in boxes:
                region = _region(points)
                old = max(unused, key=lambda w: iou(w.box, region), default=None)
                if old is not None and iou(old.box, region) >= SAME_LINE:
                    words.append(old)
                    unused.remove(old)
                else:
                    new.append(points)
            words += self._recognise(bgr, new)
        except Exception as exc:
            raise EngineError(f"rapidocr failed: {type(exc).__name__}") from None
        return OcrResult(self.name, tuple(words), image.size, time.perf_counter() - start)

    def _recognise(self, bgr: Any, boxes: list[Any]) -> list[Word]:
        """The lines at `boxes` (RapidOCR's four-point boxes in `bgr`), cut out straightened as RapidOCR cuts
        them and recognised; lines under RapidOCR's text score are dropped as its own pipeline drops them."""
        if not boxes:
            return []
        import numpy as np
        from rapidocr.ch_ppocr_rec import TextRecInput
        from rapidocr.utils.process_img import get_rotate_crop_image

        crops = [get_rotate_crop_image(bgr, np.array(b, dtype=np.float32)) for b in boxes]
        rec = self._ocr._load_rec_model()(TextRecInput(img=crops, return_word_box=False))
        floor = float(self._ocr.cfg.Global.text_score)
        read = zip(boxes, rec.txts, rec.scores, strict=True)
        return [Word(str(txt), float(score), _region(b)) for b, txt, score in read
                if txt and txt.strip() and score >= floor]


class RapidTextLocator:
    """RapidOCR's detection network alone on a <=512 px copy: ~60 ms, the text-presence gate."""

    def __init__(self, side: int = LOCATE_SIDE, backend: str = "onnxruntime", device: str = "cpu") -> None:
        self.side = side
        self._ocr = _build(engine_params(backend, side, cuda=backend == "onnxruntime" and cuda_ready(device)))

    def locate(self, image: Image.Image, size: tuple[int, int] | None = None) -> list[Region]:
        small = shrunk(image, self.side)
        width, height = size or image.size
        sx, sy = width / small.size[0], height / small.size[1]
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
