"""SARIF 2.1.0 from a result store: one result per reason of every flagged file, for code review and CI.

A result names its file by a file: URI; a reason about a part inside a container names the part in a
logical location. SARIF regions are text or byte ranges, so a pixel box (an OCR or face finding) is given
the way SARIF describes areas of an image: an attachment of the file with rectangles (top, left, bottom,
right in pixels of the oriented image).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any, TextIO
from urllib.parse import quote

from .. import __version__
from .stored import FileView, Line, real_path

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"block": "error", "review": "warning"}


def file_uri(name: str) -> str:
    """A file: URI of the stored (absolute, display) name; bytes of a non-UTF-8 name percent-encoded."""
    raw = os.fsencode(real_path(name))
    return "file://" + quote(raw if raw.startswith(b"/") else b"/" + raw, safe=b"/")


def _result(view: FileView, line: Line, uri: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": line.rule_id,
        "level": LEVEL.get(line.decision, "note"),
        "message": {"text": line.message},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}],
        "properties": {"decision": line.decision, "evidence": dict(line.evidence)},
    }
    if line.location:
        result["locations"][0]["logicalLocations"] = [{"fullyQualifiedName": line.location, "kind": "member"}]
    if line.fixes:
        result["properties"]["fix"] = list(line.fixes)
    if line.boxes and not line.location:
        result["attachments"] = [{
            "artifactLocation": {"uri": uri},
            "description": {"text": "where the evidence is in the picture"},
            "rectangles": [{"left": b["x"], "top": b["y"], "right": b["x"] + b["w"], "bottom": b["y"] + b["h"]}
                           for b in line.boxes]}]
    if view.body.get("sha256"):
        result["partialFingerprints"] = {"sha256/v1": view.body["sha256"]}
    return result


def write_sarif(out: TextIO, files: Iterable[FileView]) -> None:
    """One run; the rules are the rule ids that occur, in order."""
    results: list[dict[str, Any]] = []
    rules: dict[str, int] = {}
    for view in files:
        uri = file_uri(view.name)
        for line in view.lines:
            rules.setdefault(line.rule_id, len(rules))
            results.append({**_result(view, line, uri), "ruleIndex": rules[line.rule_id]})
    driver = {
        "name": "leakscan", "version": __version__, "semanticVersion": __version__,
        "rules": [{"id": rule, "name": rule, "shortDescription": {"text": f"leakscan rule {rule} (docs/policy.md)"}}
                  for rule in rules],
    }
    doc = {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [{"tool": {"driver": driver},
                                                                        "results": results}]}
    json.dump(doc, out, ensure_ascii=True, indent=1)
    out.write("\n")
