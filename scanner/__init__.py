"""leakscan: checks an image or attachment before it is shared and answers approve, review or block."""

from __future__ import annotations

__version__ = "0.1.0"

from .api import scan, scan_iter
from .config import Settings, build_settings
from .model import Decision, ErrorRecord, FileReport, Finding, Region, ScanReport, Severity, Verdict

__all__ = [
    "Decision",
    "ErrorRecord",
    "FileReport",
    "Finding",
    "Region",
    "ScanReport",
    "Settings",
    "Severity",
    "Verdict",
    "__version__",
    "build_settings",
    "scan",
    "scan_iter",
]
