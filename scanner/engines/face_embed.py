"""Face embeddings for the consent list: dlib's ResNet (128-d) from the `face-recognition-models` wheel.

`dlib` (wheel `dlib-bin`) is imported only when the engine is built. The weights are the wheel's
files, found without importing its package (its `__init__` needs setuptools' pkg_resources):
`shape_predictor_5_face_landmarks.dat` aligns a face box, `dlib_face_recognition_resnet_model_v1.dat`
embeds it. Two photos of one person are typically nearer than 0.6 (Euclidean); see docs/people.md.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import EngineError, EngineUnavailable

if TYPE_CHECKING:
    import numpy as np

    from ..config import Settings
    from .faces import FaceBox

WEIGHTS_PACKAGE = "face_recognition_models"
LANDMARKS = "shape_predictor_5_face_landmarks.dat"
RESNET = "dlib_face_recognition_resnet_model_v1.dat"
DIMENSIONS = 128


@runtime_checkable
class FaceEmbedder(Protocol):
    """Turns face boxes of one RGB uint8 image into vectors; same person = small Euclidean distance."""

    model_id: str

    def embed(self, image: np.ndarray, boxes: Sequence[FaceBox]) -> np.ndarray: ...


def weights_folder() -> Path:
    """`face_recognition_models/models/` of the installed wheel (its package is not imported)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        folder = Path(location) / "models"
        if (folder / RESNET).is_file() and (folder / LANDMARKS).is_file():
            return folder
    raise EngineUnavailable("face embedding weights not installed (pip install face-recognition-models)")


class DlibFaceEmbedder:
    """dlib: 5-point alignment, then the ResNet descriptor of a 150x150 chip."""

    model_id = "dlib-resnet-v1"

    def __init__(self) -> None:
        folder = weights_folder()
        try:
            import dlib
        except ImportError as exc:
            raise EngineUnavailable(f"dlib not installed (pip install dlib-bin): {exc}") from None
        self._dlib: Any = dlib
        self._landmarks = dlib.shape_predictor(str(folder / LANDMARKS))
        self._resnet = dlib.face_recognition_model_v1(str(folder / RESNET))

    def embed(self, image: np.ndarray, boxes: Sequence[FaceBox]) -> np.ndarray:
        import numpy as np

        if not boxes:
            return np.zeros((0, DIMENSIONS), np.float32)
        pixels = np.ascontiguousarray(image)
        vectors = []
        try:
            for b in boxes:
                rect = self._dlib.rectangle(b.x, b.y, b.x + b.w, b.y + b.h)
                shape = self._landmarks(pixels, rect)
                vectors.append(np.asarray(self._resnet.compute_face_descriptor(pixels, shape), np.float32))
        except RuntimeError as exc:
            raise EngineError(f"face embedding failed: {exc}") from None
        return np.stack(vectors)


def build_face_embedder(settings: Settings) -> FaceEmbedder:
    del settings
    return DlibFaceEmbedder()
