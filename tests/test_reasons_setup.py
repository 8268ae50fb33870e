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


def _batch_args(mode: str, tmp_path: Path, files: list[Path]) -> list[str]:
    """The same files given plainly, with a result store (the streamed batch path), or as a --files-from list."""
    if mode == "store":
        return ["--store", str(tmp_path / "results.sqlite"), *map(str, files)]
    if mode == "files-from":
        listing = tmp_path / "list.txt"
        listing.write_text("".join(f"{f}\n" for f in files))
        return ["--files-from", str(listing)]
    return list(map(str, files))


@pytest.mark.skipif(not _no_cuda(), reason="this machine has CUDA")
@pytest.mark.parametrize("mode", ["plain", "store", "files-from"])
def test_device_cuda_without_cuda(fx, tmp_path: Path, mode: str) -> None:
    """Also on the batch path (--store, --files-from), which scanned every file to `review` before."""
    files = [fx["clean.jpg"], fx["gps_dirty.jpg"]]
    result = _scan("--device", "cuda", "--detectors", "visual", *_batch_args(mode, tmp_path, files))
    _said_once(result, "--device cuda")
    assert not (tmp_path / "results.sqlite").exists()  # nothing stored, not even an empty store
    assert _scan("--device", "cuda", "--detectors", "metadata", str(fx["clean.jpg"])).returncode == 0  # no model


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed")
@pytest.mark.parametrize("mode", ["plain", "store", "files-from"])
def test_ocr_language_not_installed(fx, tmp_path: Path, mode: str) -> None:
    result = _scan("--detectors", "text", "--ocr-engine", "tesseract", "--ocr-lang", "eng+xqz",
                   *_batch_args(mode, tmp_path, [fx["clean.jpg"], fx["clean.png"]]))
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


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed")
def test_fix_checks_the_set_up_before_writing_a_copy(fx, tmp_path: Path) -> None:
    """`leakscan fix` said "needs a human" for every file (exit 1) when the set-up was wrong; now exit 2 at once."""
    import os

    env = {**os.environ, "LEAKSCAN_OCR_ENGINE": "tesseract", "LEAKSCAN_OCR_LANG": "eng+xqz"}
    out = tmp_path / "safe"
    result = subprocess.run([sys.executable, "-m", "scanner", "fix", "--out", str(out), str(fx["clean.jpg"])],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False, env=env)
    _said_once(result, "OCR language not installed: xqz")
    assert not out.exists()  # nothing written
