"""leakscan: checks an image or attachment before it is shared and answers approve, review or block.

The public names are loaded on first use (PEP 562), so `import scanner` stays cheap and the
command line can limit compute threads before numpy and the engines load.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "scan": "api", "scan_iter": "api", "scan_bytes": "api", "Scanner": "api",
    "Settings": "config", "build_settings": "config",
    "Decision": "model", "ErrorRecord": "model", "FileReport": "model", "Finding": "model", "Region": "model",
    "ScanReport": "model", "Severity": "model", "Verdict": "model",
}

__all__ = [
    "Decision", "ErrorRecord", "FileReport", "Finding", "Region", "ScanReport", "Scanner", "Settings", "Severity",
    "Verdict", "__version__", "build_settings", "scan", "scan_bytes", "scan_iter",
]

if TYPE_CHECKING:
    from .api import Scanner, scan, scan_bytes, scan_iter
    from .config import Settings, build_settings
    from .model import Decision, ErrorRecord, FileReport, Finding, Region, ScanReport, Severity, Verdict


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'scanner' has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)
