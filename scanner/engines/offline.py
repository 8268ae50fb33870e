"""Keeps the heavy back ends offline: ONNX Runtime's telemetry is switched off before it loads.

ONNX Runtime's official Linux/macOS wheels (1DS telemetry) create, on `import onnxruntime`,
`$XDG_CACHE_HOME/Microsoft/DeveloperTools/.onnxruntime/deviceid` and an event queue
`onnxruntime.db` (SQLite) that an uploader later sends to Microsoft over HTTPS. The library reads
`ORT_DISABLE_TELEMETRY` once, when it loads; `disable_telemetry_events()` comes too late (the
files already exist after the import). So every path that may load onnxruntime (rapidocr, the ONNX
embedder, torch's ONNX export) calls `offline_onnxruntime()` first.
"""

from __future__ import annotations

import os
import sys

ORT_TELEMETRY_ENV = "ORT_DISABLE_TELEMETRY"


def offline_onnxruntime() -> None:
    """Switch ONNX Runtime's telemetry off for this process and its workers, before it loads.

    Setting the variable is deliberate process state (workers inherit it); it is idempotent and
    only ever tightens. When a host program imported onnxruntime first, the API call at least
    stops further events.
    """
    os.environ[ORT_TELEMETRY_ENV] = "1"
    ort = sys.modules.get("onnxruntime")
    disable = getattr(ort, "disable_telemetry_events", None)
    if callable(disable):
        disable()
