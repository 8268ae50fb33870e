"""Set-up checks before any file is scanned: a wrong set-up is one ConfigError (exit 2), not a `review` per file.

- `--device cuda` where torch sees no CUDA device (only when a detector that runs a model is selected);
- an OCR language that Tesseract does not have (`tesseract --list-langs`), when Tesseract is used;
- a reference gallery too small to calibrate a threshold: a restricted label with fewer than
  MIN_PHOTOS_PER_LABEL photos (leave-one-out needs one left), or, for the head method, no photo of anything
  else (no allowed photo and a single label): its threshold would sit at the decision boundary and a head
  fitted on one class matches almost anything.

What the set-up deliberately leaves out is not checked here (scanner/coverage.py says it).
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

from .config import Settings
from .errors import ConfigError
from .text_safety import printable

MIN_PHOTOS_PER_LABEL = 2
MODEL_DETECTORS = ("visual", "faces")  # detectors whose models run on settings.device
LIST_LANGS_TIMEOUT_S = 30.0


def check_setup(settings: Settings) -> None:
    """Raise ConfigError naming the first set-up mistake; cheap when nothing needs checking."""
    if settings.device == "cuda" and any(settings.wants(d) for d in MODEL_DETECTORS):
        check_cuda()
    if settings.wants("text"):
        from .engines.ocr import engine_names

        if "tesseract" in engine_names(settings):
            check_ocr_languages(settings.ocr_lang)
    if settings.wants("visual"):
        from .visual.options import parse_options

        options = parse_options(settings)
        if options.refs is not None:
            check_gallery(options.refs, needs_negatives=options.method == "head")


def check_cuda() -> None:
    try:
        import torch
    except ImportError:
        raise ConfigError("--device cuda: torch is not installed; use --device cpu or auto") from None
    if not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is visible to torch; use --device cpu or auto")


def installed_languages() -> set[str]:
    """`tesseract --list-langs` (a ConfigError when the binary is missing or fails)."""
    binary = shutil.which("tesseract")
    if binary is None:
        raise ConfigError("the tesseract OCR engine is selected but the tesseract program is not installed")
    try:
        done = subprocess.run([binary, "--list-langs"], capture_output=True, text=True, timeout=LIST_LANGS_TIMEOUT_S,
                              check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigError(f"tesseract --list-langs failed ({type(exc).__name__})") from None
    lines = done.stdout.splitlines()
    return {line.strip() for line in lines[1:] if line.strip()}  # the first line is a heading


def check_ocr_languages(lang: str) -> None:
    wanted = [part for part in lang.split("+") if part]
    have = installed_languages()
    missing = [part for part in wanted if part not in have]
    if missing:
        shown = ", ".join(printable(m, 40) for m in missing)
        raise ConfigError(f"OCR language not installed: {shown} (installed: {', '.join(sorted(have)) or 'none'}); "
                          "install the tesseract language data or change --ocr-lang")


def check_gallery(refs: Path, needs_negatives: bool = True) -> None:
    """Enough reference photos to calibrate: counted by folder, without reading the photos. The head method
    (`needs_negatives`) also needs photos of something else: allowed ones, or a second label."""
    from .visual.store import IMAGE_SUFFIXES, holds_places

    def photos(folder: Path) -> int:
        return sum(1 for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                   and not p.name.startswith("."))

    counts: Counter[str] = Counter()
    restricted = refs / "restricted"
    if not holds_places(refs):
        return  # no places to calibrate, said in checks_skipped
    if restricted.is_dir():
        for label in sorted(p for p in restricted.iterdir() if p.is_dir()):
            counts[label.name] = photos(label)
    allowed = photos(refs / "allowed") if (refs / "allowed").is_dir() else 0
    shown = printable(str(refs), 300)
    labels = [name for name, n in counts.items() if n]
    if not labels:
        raise ConfigError(f"reference folder {shown} has no photos under restricted/<label>/")
    few = [f"'{printable(name, 60)}' ({counts[name]})" for name in labels if counts[name] < MIN_PHOTOS_PER_LABEL]
    if few:
        raise ConfigError(f"reference folder {shown}: too few photos to calibrate for {', '.join(few)}; add at "
                          f"least {MIN_PHOTOS_PER_LABEL} photos per label, then run `leakscan refs check`")
    if needs_negatives and allowed == 0 and len(labels) < 2:
        raise ConfigError(f"reference folder {shown}: nothing to calibrate against (one label and no allowed "
                          "photos); add photos of allowed places under allowed/<label>/, then run "
                          "`leakscan refs check`")
