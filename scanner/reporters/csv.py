"""CSV from a result store, for spreadsheets: one row per reason of a flagged file, one row per approved file.

Safe to open in a spreadsheet: a cell that starts with = + - @ (or a tab or carriage return) is prefixed
with ' so it is never read as a formula (file names, EXIF and OCR text are attacker-controlled).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

from .stored import view

COLUMNS = ("file", "decision", "rule_id", "reason_decision", "location", "message", "evidence", "fix", "sha256")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(out: TextIO, rows: Iterable[tuple[str, dict[str, Any]]]) -> int:
    """Write every stored file; the number of rows written (the header aside)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    written = 0
    for name, body in rows:
        v = view(name, body)
        records: list[tuple[object, ...]] = [
            (name, v.decision, line.rule_id, line.decision, line.location, line.message,
             "; ".join(f"{k}: {val}" for k, val in line.evidence), " | ".join(line.fixes), body.get("sha256"))
            for line in v.lines] or [(name, v.decision, "", "", "", "", "", "", body.get("sha256"))]
        for record in records:
            writer.writerow([cell(x) for x in record])
            written += 1
    return written
