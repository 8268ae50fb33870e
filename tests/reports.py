"""Comparing reports from two runs: everything but the timings (they differ run to run)."""

from __future__ import annotations

import json
from typing import Any

from scanner.model import FileReport


def without_timings(report: FileReport) -> Any:
    """The report's JSON with every `timings` key dropped, at every level of the tree."""
    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "timings"}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(json.loads(json.dumps(report.to_dict())))
