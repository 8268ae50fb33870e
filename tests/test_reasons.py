"""Reasons a person understands: a plain message and a fix for every rule id, in the JSON and on the console;
checks that did not run are said; glyphs that a plain terminal shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures import office_fixtures
from scanner import errors
from scanner.detectors import available
from scanner.hints import HINTS, hint_for
from scanner.model import Decision, ErrorRecord, Finding, Reason, Severity
from scanner.policy import Policy

ROOT = Path(__file__).resolve().parents[1]
FACES_RULES = ("faces.person", "faces.consented", "faces.badge")  # the faces detector is built separately
ERROR_CODES = sorted({cls.code for cls in vars(errors).values()
                      if isinstance(cls, type) and issubclass(cls, (errors.ItemError, errors.EngineError))
                      and cls not in (errors.ItemError,)} | {"internal"})
KNOWN_RULES = sorted({r for d in available() for r in d.rules} | set(FACES_RULES) | {f"error.{c}" for c in ERROR_CODES})


@pytest.mark.parametrize("rule_id", KNOWN_RULES)
def test_every_known_rule_id_has_its_own_message_and_fix(rule_id: str) -> None:
    hint = HINTS.get(rule_id)
    assert hint is not None, f"{rule_id} has no entry in scanner/hints.py"
    assert hint.summary.strip().endswith(".") and hint.fix.strip(), rule_id


def test_a_rule_without_an_entry_takes_its_family_hint() -> None:
    assert hint_for("text.acme_codename") == HINTS["text"]  # a policy's own [[text.patterns]] id
    assert hint_for("metadata.gps.site.extra") == HINTS["metadata.gps.site"]
    assert hint_for("plugin.thing").fix  # an unknown family still says what to do


def test_finding_and_reason_carry_the_fix() -> None:
    gps = Finding("metadata.gps", "metadata", Severity.MEDIUM, 1.0, "GPS position 52.3731 N, 4.8922 E")
    own = Finding("metadata.gps", "metadata", Severity.MEDIUM, 1.0, "m", fix="Crop it.")
    assert gps.fix == HINTS["metadata.gps"].fix and "leakscan fix" in gps.fix
    assert own.fix == "Crop it." and own.to_dict()["fix"] == "Crop it."
    verdict = Policy().decide([own], [ErrorRecord("timeout", "analysis took longer than 1 s", "execution")])
    fixes = {r.rule_id: r.fix for r in verdict.reasons}
    assert fixes == {"metadata.gps": "Crop it.", "error.timeout": HINTS["error.timeout"].fix}
    assert Reason("error.corrupt", Decision.REVIEW, "x").to_dict()["fix"] == HINTS["error.corrupt"].fix


def test_fix_in_json_and_under_the_reason_on_the_console(cli, fx) -> None:
    (row,) = cli("scan", "-j", "1", "--format", "jsonl", "--detectors", "metadata", str(fx["gps_dirty.jpg"])).jsonl()
    gps = next(f for f in row["findings"] if f["rule_id"] == "metadata.gps")
    assert gps["fix"] == HINTS["metadata.gps"].fix
    assert next(r for r in row["reasons"] if r["rule_id"] == "metadata.gps")["fix"] == gps["fix"]
    lines = cli("scan", "-j", "1", "--detectors", "metadata", str(fx["gps_dirty.jpg"])).out.splitlines()
    at = next(i for i, line in enumerate(lines) if "GPS position" in line)
    assert lines[at + 1].strip() == "fix: " + HINTS["metadata.gps"].fix


def _skipped(row: dict) -> dict[str, str]:
    return {c["check"]: c["reason"] for node in _walk(row) for c in node["checks_skipped"]}


def _walk(row: dict):
    yield row
    for part in row["parts"]:
        yield from _walk(part)


def test_unselected_detectors_are_said_not_reviewed(cli, tmp_path) -> None:
    """A document's text under `--detectors metadata` was left out on purpose: a note, not an error."""
    docx = office_fixtures.build(tmp_path)["clean.docx"]
    (row,) = cli("scan", "-j", "1", "--format", "jsonl", "--detectors", "metadata", str(docx)).jsonl()
    assert row["decision"] == "approve", row["reasons"]
    assert not any(node["errors"] for node in _walk(row))
    skipped = _skipped(row)
    assert skipped["visual"].startswith("pixels not checked") and skipped["text"].startswith("text not read")
    text_part = next(p for p in _walk(row) if p["kind"] == "text/plain")
    assert [c["check"] for c in text_part["checks_skipped"]] == ["text"]


def test_no_references_is_said_once_on_the_console(cli, fx) -> None:
    result = cli("scan", "-j", "1", "--detectors", "visual", str(fx["clean.jpg"]), str(fx["clean.png"]))
    said = [line for line in result.out.splitlines() if "not checked" in line]
    assert len(said) == 1 and "restricted places not checked" in said[0]
    (row, _) = cli("scan", "-j", "1", "--format", "jsonl", "--detectors", "visual", str(fx["clean.jpg"]),
                   str(fx["clean.png"])).jsonl()
    assert "visual.restricted" in _skipped(row) and "text" in _skipped(row)


def test_a_file_no_detector_handles_is_still_reviewed(cli, tmp_path) -> None:
    """Fail closed: only a check that was deliberately left out is a note; an unknown kind stays review."""
    blob = tmp_path / "blob.dat"
    blob.write_bytes(bytes(range(256)) * 4)
    for chosen in ("all", "metadata"):
        (row,) = cli("scan", "-j", "1", "--format", "jsonl", "--detectors", chosen, str(blob)).jsonl()
        assert row["decision"] == "review" and row["errors"][0]["code"] == "unsupported"
    notes = tmp_path / "notes.txt"  # a whole file that no selected detector reads: nothing about it was checked
    notes.write_text("wifi password: Hunter2Secret!\n")
    (row,) = cli("scan", "-j", "1", "--format", "jsonl", "--detectors", "metadata", str(notes)).jsonl()
    assert row["decision"] == "review" and "not selected: text" in row["errors"][0]["message"]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "LC_ALL")}
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "scanner", *args], cwd=ROOT, capture_output=True, text=True,
                          encoding="utf-8", errors="strict", env=environment, timeout=300, check=False)


@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"}, {"LANG": "C"}, {"TERM": "dumb"}])
def test_plain_terminal_gets_ascii_glyphs(fx, env: dict[str, str]) -> None:
    args = ["scan", "-q", "-j", "1", "--detectors", "metadata", str(fx["clean.jpg"]), str(fx["gps_dirty.jpg"])]
    result = _run(args, **env)
    assert result.returncode == 1, result.stderr
    assert result.stdout.isascii()
    assert any(line.startswith("+ APPROVE") for line in result.stdout.splitlines())
    assert any(line.startswith("! REVIEW") for line in result.stdout.splitlines())


def test_utf8_terminal_gets_glyphs_that_are_not_a_question_mark(fx) -> None:
    result = _run(["scan", "-q", "-j", "1", "--detectors", "metadata", str(fx["gps_dirty.jpg"])],
                  PYTHONIOENCODING="utf-8", LANG="C.UTF-8", TERM="xterm")
    assert "⚠ REVIEW" in result.stdout and "? REVIEW" not in result.stdout


def test_json_reports_say_what_was_skipped(cli, fx) -> None:
    doc = json.loads(cli("scan", "-j", "1", "--format", "json", "--detectors", "metadata", str(fx["clean.jpg"])).out)
    (file,) = doc["files"]
    assert {c["check"] for c in file["checks_skipped"]} >= {"visual", "text"}
