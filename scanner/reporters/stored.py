"""What the batch reports (`leakscan report`) show, read from a result store: a summary and one view per file.

Everything here comes from stored report JSON, which is masked already (evidence is `**** 4242` or a keyed
hash). File names, EXIF values and OCR text in it are attacker-controlled: the renderers escape them.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..audit import nodes
from ..model import Decision

TOP_FOLDERS = 50
_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


def real_path(display: str) -> str:
    """The file name behind a display name (sources.display_path is bijective: this is its inverse)."""

    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        if code == "\\":
            return "\\"
        if code[0] == "x":
            return chr(0xDC00 + int(code[1:], 16))  # the undecodable byte, as surrogateescape holds it
        return chr(int(code[1:], 16))

    return _ESCAPE.sub(one, display)


@dataclass(frozen=True, slots=True)
class Line:
    """One reason of a verdict, with what the findings of its rule at that place add: boxes, evidence, fix hints."""

    rule_id: str
    decision: str
    message: str
    location: str
    boxes: tuple[dict[str, int], ...]
    evidence: tuple[tuple[str, str], ...]
    fixes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FileView:
    name: str  # the stored display name (absolute path, escaped)
    body: dict[str, Any]
    lines: tuple[Line, ...]

    @property
    def decision(self) -> str:
        return str(self.body["decision"])

    @property
    def boxes(self) -> list[dict[str, int]]:
        """Evidence boxes on the file itself (a part's boxes are on a picture inside it: listed, not drawn)."""
        return [b for line in self.lines if not line.location for b in line.boxes]


def view(name: str, body: dict[str, Any]) -> FileView:
    """The top report's reasons (the policy lifts a part's reasons to the top with the part's location),
    each with the boxes, evidence and fix hints of the findings of its rule in that part."""
    by_place: dict[str, list[dict[str, Any]]] = {}
    for node in nodes(body):
        by_place.setdefault(node.get("location", ""), []).extend(node.get("findings", ()))
    lines = []
    for reason in body.get("reasons", ()):
        place = reason.get("location", "")
        own = [f for f in by_place.get(place, ()) if f.get("rule_id") == reason["rule_id"]]
        lines.append(Line(
            reason["rule_id"], reason["decision"], reason["message"], place,
            tuple(f["region"] for f in own if f.get("region")),
            tuple((str(k), str(v)) for f in own for k, v in (f.get("evidence") or {}).items()),
            tuple(dict.fromkeys(str(f["fix"]) for f in own if f.get("fix")))))
    return FileView(name, body, tuple(lines))


@dataclass
class Summary:
    """Decisions over the whole store: per decision, per rule (files), per folder."""

    files: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    rules: dict[str, Counter[str]] = field(default_factory=dict)
    folders: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, name: str, body: dict[str, Any]) -> None:
        decision = str(body["decision"])
        self.files += 1
        self.decisions[decision] += 1
        for rule in {r["rule_id"] for node in nodes(body) for r in node.get("reasons", ())}:
            self.rules.setdefault(rule, Counter())[decision] += 1
        self.folders.setdefault(os.path.dirname(name), Counter())[decision] += 1

    @property
    def flagged(self) -> int:
        return self.files - self.decisions[Decision.APPROVE.label]

    def top_folders(self) -> list[tuple[str, Counter[str]]]:
        """The folders with the most flagged files first (at most TOP_FOLDERS)."""
        ranked = sorted(self.folders.items(), key=lambda kv: (-(sum(kv[1].values()) - kv[1]["approve"]), kv[0]))
        return ranked[:TOP_FOLDERS]


def summarise(rows: Iterable[tuple[str, dict[str, Any]]]) -> Summary:
    summary = Summary()
    for name, body in rows:
        summary.add(name, body)
    return summary


def flagged(rows: Iterable[tuple[str, dict[str, Any]]], limit: int) -> Iterator[FileView]:
    """The views of files that were not approved, in name order, at most `limit`."""
    shown = 0
    for name, body in rows:
        if body["decision"] == Decision.APPROVE.label:
            continue
        if shown >= limit:
            return
        shown += 1
        yield view(name, body)
