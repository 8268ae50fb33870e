"""RapidOCR's inference back ends and OCR settings: real engines on a rendered receipt, validation, fallback."""

from __future__ import annotations

import importlib.util
import io
from typing import Any

import pytest

from fixtures import text_fixtures
from scanner.api import scan_bytes
from scanner.config import Settings, build_settings
from scanner.engines.ocr import build_locator, build_ocr
from scanner.engines.rapid import BACKENDS, RapidOcrEngine, backend_available, engine_params
from scanner.errors import ConfigError, EngineUnavailable
from scanner.model import Decision

pytestmark = pytest.mark.slow
REAL_FIND_SPEC = importlib.util.find_spec


def _hide_openvino(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a machine without the `openvino` extra (the seam both config and engine ask)."""

    def find_spec(name: str, *args: Any) -> Any:
        return None if name.split(".")[0] == "openvino" else REAL_FIND_SPEC(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def _png(img: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("det_side", [0, 960])
def test_each_installed_backend_reads_the_rendered_receipt(backend: str, det_side: int) -> None:
    if not backend_available(backend):
        pytest.skip(f"{backend} is not installed")
    engine = RapidOcrEngine(backend=backend, det_side=det_side)
    text = engine.read(text_fixtures.receipt("de").convert("RGB")).text.upper()
    assert engine.backend == backend
    for word in ("SUMME", "KASSENBON", "7,70", "RÜCKGELD"):
        assert word in text


def test_settings_reach_the_engine() -> None:
    settings = Settings(ocr_engine="rapidocr", ocr_backend="onnxruntime", ocr_det_side=736, ocr_rec_batch=12)
    (engine,) = build_ocr(settings)
    cfg = engine._ocr.cfg  # type: ignore[attr-defined]
    assert (cfg.Det.limit_type, cfg.Det.limit_side_len, cfg.Rec.rec_batch_num) == ("max", 736, 12)
    assert cfg.Det.engine_type.value == cfg.Rec.engine_type.value == "onnxruntime"


def test_auto_is_onnxruntime_and_detection_is_capped_by_default() -> None:
    """736 px (960 on documents and screens) and the second look kept the whole-scan decisions (docs/ocr.md)."""
    (engine,) = build_ocr(Settings(ocr_engine="rapidocr"))
    assert isinstance(engine, RapidOcrEngine) and engine.backend == "onnxruntime"
    assert Settings().ocr_det_side == engine.det_side == 736
    assert (engine._ocr.cfg.Det.limit_type, engine._ocr.cfg.Det.limit_side_len) == ("max", 736)
    (uncapped,) = build_ocr(Settings(ocr_engine="rapidocr", ocr_det_side=0))
    assert (uncapped._ocr.cfg.Det.limit_type, uncapped._ocr.cfg.Det.limit_side_len) == ("min", 736)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("env", "match"),
    [({"LEAKSCAN_OCR_BACKEND": "tensorrt"}, "onnxruntime"), ({"LEAKSCAN_OCR_DET_SIDE": "100"}, "320"),
     ({"LEAKSCAN_OCR_DET_SIDE": "5000"}, "4000"), ({"LEAKSCAN_OCR_DET_SIDE": "960.5"}, "whole"),
     ({"LEAKSCAN_OCR_REC_BATCH": "0"}, ">= 1")],
)
def test_bad_ocr_settings_are_config_errors(env: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build_settings(None, env=env)


def test_good_ocr_settings_parse(tmp_path: Any) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text('[scan]\nocr_backend = "ONNXRuntime"\nocr_det_side = 0\nocr_rec_batch = 32\n')
    s = build_settings(str(policy), env={})
    assert (s.ocr_backend, s.ocr_det_side, s.ocr_rec_batch) == ("onnxruntime", 0, 32)


def test_openvino_asked_for_and_missing_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, cli: Any,
                                                          tmp_path: Any) -> None:
    _hide_openvino(monkeypatch)
    with pytest.raises(ConfigError, match="leakscan\\[openvino\\]"):
        build_settings(None, env={"LEAKSCAN_OCR_BACKEND": "openvino"})
    (tmp_path / "r.png").write_bytes(_png(text_fixtures.receipt("de")))
    result = cli("scan", "--ocr-backend", "openvino", str(tmp_path / "r.png"))
    assert result.code == 2 and "openvino" in result.err


def test_missing_backend_at_run_time_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings built in code skip the parser: the engine refuses, the file is reviewed, never approved."""
    _hide_openvino(monkeypatch)
    settings = Settings(ocr_engine="rapidocr", ocr_backend="openvino", detectors=("text",), jobs=1, audit_db="off")
    with pytest.raises(EngineUnavailable, match="openvino"):
        build_ocr(settings)
    with pytest.raises(EngineUnavailable, match="openvino"):
        build_locator(settings)
    report = scan_bytes(_png(text_fixtures.receipt("de")), "r.png", settings)
    assert report.decision == Decision.REVIEW


def test_engine_params_are_one_thread_and_never_cuda_on_openvino() -> None:
    if not backend_available("openvino"):
        pytest.skip("openvino is not installed")
    ov = engine_params("openvino", 960, 6, cuda=True)
    assert ov["EngineConfig.openvino.inference_num_threads"] == 1
    assert "EngineConfig.onnxruntime.use_cuda" not in ov
    assert engine_params("onnxruntime", cuda=True)["EngineConfig.onnxruntime.use_cuda"] is True


def test_detection_is_capped_only_where_the_default_would_exceed_det_side() -> None:
    """A small picture (or a note crop) is still enlarged for detection as before; a large one is shrunk."""
    engine = RapidOcrEngine(det_side=960)
    det = engine._ocr._load_det_model()  # type: ignore[attr-defined]
    small = text_fixtures.receipt("de").convert("RGB")  # 620 px wide: RapidOCR's default shows it at ~770 px
    assert "7,70" in engine.read(small).text
    assert (det.limit_type, det.limit_side_len) == ("min", 736)
    big = small.resize((small.width * 3, small.height * 3))
    assert "7,70" in engine.read(big).text
    assert (det.limit_type, det.limit_side_len) == ("max", 960)
