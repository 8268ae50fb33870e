"""The recognition network narrowed to the scripts the rules read: no Han, Kana or Hangul classes.

PP-OCRv6's recogniser ends in one linear layer and a softmax over 18,710 classes, 15,908 of them Han
ideographs and 179 Kana; the rules read Latin letters, digits, punctuation and symbols (docs/ocr.md,
"Sixth round"). Keeping only the columns of that layer the rules can use (2,564 classes with the CTC blank and
the space) makes the network 1.15-1.19x faster on this CPU and the decoding of its output lighter. The weights
are the wheel's own, sliced when the engine starts and handed to the runtime as a private temporary file that is
removed once loaded (rapid.py): nothing is downloaded or kept.

What changes: where a foreign character was the most likely class, the most likely kept class is read
instead (often the Latin look-alike: `口` -> `0`), and each score is renormalised over the kept classes.
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path
from typing import Any

FOREIGN = ("CJK ", "KATAKANA", "HIRAGANA", "HALFWIDTH KATAKANA", "HANGUL")  # Unicode name prefixes of scripts dropped


def foreign(ch: str) -> bool:
    """A class the rules never read: a Han ideograph, Kana or Hangul."""
    return len(ch) == 1 and unicodedata.name(ch, "").startswith(FOREIGN)


@functools.lru_cache(maxsize=2)
def narrowed(path: Path) -> tuple[bytes, tuple[str, ...]] | None:
    """The recognition model at `path` with only the classes the rules read, and its character list (without the
    blank and the space, as the model's own `character` metadata lists them). None when the model does not end in
    the linear layer and softmax this expects (another model: it is used as it is)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    found = _output_layer(model)
    meta = {p.key: p for p in model.metadata_props}
    if found is None or "character" not in meta:
        return None
    weight, bias = found
    characters = meta["character"].value.splitlines()
    if numpy_helper.to_array(weight).shape[1] != len(characters) + 2:  # the blank first, the space last
        return None
    keep = [0] + [i + 1 for i, ch in enumerate(characters) if not foreign(ch)] + [len(characters) + 1]
    kept = tuple(ch for ch in characters if not foreign(ch))
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight)[:, keep], weight.name))
    bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias)[keep], bias.name))
    meta["character"].value = "\n".join(kept)
    graph = model.graph
    for out in graph.output:
        out.type.tensor_type.shape.dim[-1].dim_value = len(keep)
    del graph.value_info[:]  # shapes inferred from the full model: the runtime infers them again
    return model.SerializeToString(), kept


def _output_layer(model: Any) -> tuple[Any, Any] | None:
    """The weight [features, classes] and bias [classes] initialisers of the MatMul + Add feeding the model's only
    output through a Softmax (Identity nodes skipped), or None."""
    graph = model.graph
    if len(graph.output) != 1:
        return None
    made = {out: node for node in graph.node for out in node.output}
    inits = {i.name: i for i in graph.initializer}

    def producer(name: str) -> Any:
        node = made.get(name)
        while node is not None and node.op_type == "Identity":
            node = made.get(node.input[0])
        return node

    softmax = producer(graph.output[0].name)
    if softmax is None or softmax.op_type != "Softmax" or any(a.name == "axis" and a.i not in (-1, 2)
                                                             for a in softmax.attribute):
        return None  # a softmax over the last axis of [batch, steps, classes] only
    add = producer(softmax.input[0])
    if add is None or add.op_type != "Add":
        return None
    matmul_out, bias_name = (add.input[0], add.input[1]) if add.input[1] in inits else (add.input[1], add.input[0])
    matmul = producer(matmul_out)
    if matmul is None or matmul.op_type != "MatMul" or matmul.input[1] not in inits or bias_name not in inits:
        return None
    return inits[matmul.input[1]], inits[bias_name]
