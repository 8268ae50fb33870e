"""A wrong set-up is one usage error (exit 2) before any file is scanned, not a `review` per file.

Real processes: `python -m scanner`, the real tesseract (`--list-langs`), the real torch CUDA check.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures import visual_fixtures
from scanner import api
from scanner.config import Settings
from scanner.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def vfx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return visual_fixtures.build(tmp_path_factory.mktemp("visual"))


def _scan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scanner", "scan", "-q", "-j", "1", "--format", "jsonl", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def _said_once(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout[:500], result.stderr)
    assert result.stdout == ""  # no file was scanned, no report was started
    assert result.stderr.count(words) == 1, result.stderr


def _no_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return True
    return not torch.cuda.is_available()


@pytest.mark.skipif(not _no_cuda(), reason="this machine has CUDA")
def test_device_cuda_without_cuda(fx) -> None:
    result = _scan("--device", "cuda", "--detectors", "visual", str(fx["clean.jpg"]), str(fx["gps_dirty.jpg"]))
    _said_once(result, "--device cuda")
    assert _scan("--device", "cuda", "--detectors", "metadata", str(fx["clean.jpg"])).returncode == 0  # no model


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed")
def test_ocr_language_not_installed(fx) -> None:
    result = _scan("--detectors", "text", "--ocr-engine", "tesseract", "--ocr-lang", "eng+xqz",
                   str(fx["clean.jpg"]), str(fx["clean.png"]))
    _said_once(result, "OCR language not installed: xqz")


def _gallery(vfx: dict[str, Path], tmp_path: Path, restricted: int, allowed: int) -> Path:
    source = vfx["refs/known/roadmap.png"].parents[1]
    refs = tmp_path / "refs"
    for kind, keep in (("restricted", restricted), ("allowed", allowed)):
        for label_dir in sorted((source / kind).iterdir()):
            photos = sorted(label_dir.iterdir())[:keep]
            (refs / kind / label_dir.name).mkdir(parents=True, exist_ok=True)
            for photo in photos:
                shutil.copy(photo, refs / kind / label_dir.name / photo.name)
    return refs


def test_gallery_with_one_photo_per_label_cannot_calibrate(vfx, tmp_path) -> None:
    refs = _gallery(vfx, tmp_path, restricted=1, allowed=2)
    queries = (str(vfx["query_rack.jpg"]), str(vfx["query_lobby.jpg"]))
    result = _scan("--detectors", "visual", "--refs", str(refs), *queries)
    _said_once(result, "too few photos to calibrate")
    with pytest.raises(ConfigError, match="too few photos"):
        api.scan([vfx["query_rack.jpg"]], Settings(refs=refs, detectors=("visual",), device="cpu"))


def test_gallery_with_nothing_to_calibrate_against(vfx, tmp_path) -> None:
    refs = _gallery(vfx, tmp_path, restricted=4, allowed=0)
    result = _scan("--detectors", "visual", "--refs", str(refs), str(vfx["query_rack.jpg"]))
    _said_once(result, "nothing to calibrate against")
