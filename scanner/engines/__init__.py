"""Heavy back ends (OCR, torch models, face detection) behind protocols, built lazily per process.

Only modules under `scanner.engines` import torch, pytesseract, onnxruntime or rapidocr, and
only inside functions, so `leakscan --help` and metadata-only scans never pay for them.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from ..errors import ItemError, ScannerError


class EngineSet:
    """The engines one process uses, created on first use from the settings and then reused.

    Tests and the service may pass pre-built engines in (`EngineSet(settings, ocr=...)`).
    """

    def __init__(self, settings: Settings, **prebuilt: Any) -> None:
        self.settings = settings
        self._engines: dict[str, Any] = dict(prebuilt)
        self._failures: dict[str, ScannerError] = {}

    def get(self, name: str, factory: Any) -> Any:
        """The engine called `name`, built by `factory(settings)` the first time it is asked for.

        A factory that failed is not retried for every file: the same error is raised again. A file's time limit
        running out while an engine loads (ItemError: the file's own failure) is not the engine's: the next file
        builds it again.
        """
        if name in self._failures:
            raise self._failures[name]
        if name not in self._engines:
            try:
                self._engines[name] = factory(self.settings)
            except ItemError:
                raise
            except ScannerError as exc:
                self._failures[name] = exc
                raise
        return self._engines[name]
