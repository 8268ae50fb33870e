"""Technical detail stays out of the headline: no scores, hash distances, model labels, absolute paths or
object reprs in any message a scan of the project's fixtures produces (JSON and console), timeouts included."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures import metadata_fixtures, text_fixtures, visual_fixtures

ROOT = Path(__file__).resolve().parents[1]
TECHNICAL = {
    "a number after score/similarity/distance": re.compile(r"\b(score|similarity|distance)\b[^.;]{0,12}\d", re.I),
    "a model label": re.compile(r"\b(imagenet|stats):"),
    "an absolute path": re.compile(r"(^|[\s'\"(=])/[\w.-]+/"),
    "an object repr": re.compile(r"\b(Options|Settings|Limits)\(|\b[A-Z][A-Za-z]+\((\w+=|\))"),
}
VISUAL = ("query_rack.jpg", "query_lobby.jpg", "known_screenshot.png", "known_resized.jpg", "unrelated_slide.png")
TEXT = ("card_pan", "receipt_nl", "whiteboard_codename", "sticky_wifi")  # text_fixtures names have no suffix
METADATA = ("gps_dirty.jpg", "gps_site.jpg", "trailing_jpeg.jpg", "thumbnail_stale.jpg", "truncated.jpg")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("reasons")
    out = {**visual_fixtures.build(root / "visual"), **text_fixtures.build(root / "text")}
    out.update(metadata_fixtures.build(root / "metadata"))
    return out


def _scan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scanner", "scan", "-q", "-j", "1", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)


def _messages(row: dict) -> Iterator[tuple[str, str]]:
    for r in row["reasons"]:
        yield r["rule_id"], r["message"]
        yield r["rule_id"] + " fix", r["fix"]
    for f in row["findings"]:
        yield f["rule_id"], f["message"]
    for e in row["errors"]:
        yield "error." + e["code"], e["message"]
    for c in row["checks_skipped"]:
        yield "skipped " + c["check"], c["reason"]
    for part in row["parts"]:
        yield from _messages(part)


def _bad(text: str, tmp_root: str) -> list[str]:
    found = [what for what, pattern in TECHNICAL.items() if pattern.search(text)]
    return found + (["the temp folder"] if tmp_root in text else [])


@pytest.fixture(scope="module")
def produced(built: dict[str, Path]) -> list[tuple[str, str]]:
    """(rule, message) of every message of a full scan (references enrolled) and of a scan that times out."""
    refs = built["refs/known/roadmap.png"].parents[1]
    files = [str(built[n]) for n in (*VISUAL, *TEXT, *METADATA)]
    out: list[tuple[str, str]] = []
    for args in (["--refs", str(refs), *files], ["--timeout", "0.1", *files[:3]]):
        jsonl = _scan("--format", "jsonl", *args)
        assert jsonl.returncode == 1, jsonl.stderr
        for line in jsonl.stdout.splitlines():
            out.extend(_messages(json.loads(line)))
    console = _scan("--refs", str(refs), *files[: len(VISUAL)]).stdout.splitlines()  # where the detail used to be
    out.extend(("console", line) for line in console if line.startswith("    "))  # reasons, fixes, notes
    return out


def test_the_scans_produce_the_messages_that_used_to_carry_detail(produced) -> None:
    rules = {rule for rule, _ in produced}
    assert {"visual.restricted", "visual.known_image", "visual.screen", "error.timeout"} <= rules, sorted(rules)


def test_no_message_carries_technical_detail(produced, built) -> None:
    tmp_root = str(built["card_pan"].parents[1])
    bad = [(rule, message, _bad(message, tmp_root)) for rule, message in produced if _bad(message, tmp_root)]
    assert not bad, bad[:10]


def test_the_detail_is_in_the_evidence(built) -> None:
    refs = built["refs/known/roadmap.png"].parents[1]
    (row,) = [json.loads(line) for line in _scan("--format", "jsonl", "--refs", str(refs), "--detectors", "visual",
                                                 str(built["query_rack.jpg"])).stdout.splitlines()]
    restricted = next(f for f in row["findings"] if f["rule_id"] == "visual.restricted")
    assert {"similarity", "threshold", "nearest_reference"} <= set(restricted["evidence"])
    assert restricted["evidence"]["nearest_reference"].startswith("restricted/server-room/")
    assert "restricted/server-room/" in restricted["message"]
