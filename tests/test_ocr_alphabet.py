"""The recogniser narrowed to the scripts the rules read (`ocr_alphabet`, docs/ocr.md "Sixth round").

Real RapidOCR and the wheel's own model: the narrowed network must give, for every kept class, exactly the full
network's probability renormalised over the kept classes (the slice changes nothing else), keep every
character a rule can match, and read project-made pictures as the full alphabet does.
"""

from __future__ import annotations

import string
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fixtures import text_fixtures
from scanner.config import Settings, build_settings
from scanner.engines.alphabet import foreign, narrowed
from scanner.engines.ocr import build_engine
from scanner.engines.rapid import REC_MODEL, RapidOcrEngine, model_dir
from scanner.errors import ConfigError

pytestmark = pytest.mark.slow


def _full_characters() -> list[str]:
    import onnx

    model = onnx.load(str(model_dir() / REC_MODEL), load_external_data=False)
    return next(p.value for p in model.metadata_props if p.key == "character").splitlines()


def _session(model: bytes) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def test_only_han_kana_and_hangul_are_left_out() -> None:
    found = narrowed(model_dir() / REC_MODEL)
    assert found is not None
    _, kept = found
    full = _full_characters()
    dropped = [ch for ch in full if ch not in set(kept)]
    assert len(full) > 18_000 and 2_000 < len(kept) < 3_000
    assert all(foreign(ch) for ch in dropped) and not any(foreign(ch) for ch in kept)
    assert kept == tuple(ch for ch in full if not foreign(ch))  # the model's own order
    needed = set(string.ascii_letters + string.digits + string.punctuation) | set("€£äöüßéèëïÄÖÜ")
    assert needed & set(full) == needed & set(kept)
    assert needed - set(full) <= {" "}  # the space is the model's last class, added by the decoder


def test_each_kept_class_gets_the_full_probability_renormalised() -> None:
    found = narrowed(model_dir() / REC_MODEL)
    assert found is not None
    model, kept = found
    full = _full_characters()
    keep = [0] + [i + 1 for i, ch in enumerate(full) if not foreign(ch)] + [len(full) + 1]
    engine = RapidOcrEngine(alphabet="full")
    rec = engine._ocr._load_rec_model()
    receipt = np.asarray(text_fixtures.receipt("nl").convert("RGB"))[:, :, ::-1]
    lines = np.concatenate([rec.resize_norm_img(receipt[y:y + 48, 20:600], 600 / 48)[None]
                            for y in (40, 120, 200)]).astype(np.float32)
    whole = _session((model_dir() / REC_MODEL).read_bytes()).run(None, {"x": lines})[0]
    narrow = _session(model).run(None, {"x": lines})[0]
    assert whole.shape[-1] == len(full) + 2 and narrow.shape[-1] == len(kept) + 2
    expected = whole[:, :, keep] / whole[:, :, keep].sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(narrow, expected, atol=2e-5)


@pytest.mark.parametrize("picture", ["receipt", "pos_screen", "payment_card", "whiteboard"])
def test_project_pictures_read_the_same(picture: str) -> None:
    image = text_fixtures.receipt("de") if picture == "receipt" else getattr(text_fixtures, picture)()
    latin, full = RapidOcrEngine(det_side=736), RapidOcrEngine(det_side=736, alphabet="full")
    assert (latin.alphabet, full.alphabet) == ("latin", "full")
    read = [w.text for w in latin.read(image).words]
    assert read and read == [w.text for w in full.read(image).words]


def test_the_setting_reaches_the_engine() -> None:
    assert Settings().ocr_alphabet == "latin"
    settings = build_settings(None, env={"LEAKSCAN_OCR_ALPHABET": "full"})
    engine = build_engine("rapidocr", settings)
    assert isinstance(engine, RapidOcrEngine) and engine.alphabet == "full"
    assert len(engine._ocr._load_rec_model().postprocess_op.character) == len(_full_characters()) + 2
    latin = build_engine("rapidocr", Settings())
    assert isinstance(latin, RapidOcrEngine) and latin.alphabet == "latin"
    with pytest.raises(ConfigError, match="ocr_alphabet"):
        build_settings(None, env={"LEAKSCAN_OCR_ALPHABET": "cjk"})


def test_openvino_reads_with_the_same_classes() -> None:
    pytest.importorskip("openvino")
    image = text_fixtures.receipt("en")
    ov, ort = RapidOcrEngine(backend="openvino", det_side=736), RapidOcrEngine(det_side=736)
    assert ov.alphabet == "latin"
    assert len(ov._ocr._load_rec_model().postprocess_op.character) == len(
        ort._ocr._load_rec_model().postprocess_op.character) < 3_000
    assert [w.text for w in ov.read(image).words] == [w.text for w in ort.read(image).words]


def test_the_narrowed_model_file_is_gone_once_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    tempfile.tempdir = None  # read TMPDIR again
    try:
        engine = RapidOcrEngine(det_side=736)
    finally:
        tempfile.tempdir = None
    assert engine.alphabet == "latin" and list(tmp_path.iterdir()) == []
    assert [w.text for w in engine.read(text_fixtures.receipt("nl")).words]  # read after the file is gone
