"""OpenDocument beyond paragraphs: values kept in attributes, LibreOffice's version history (scan and fix), flat
(single XML file) documents. Each case was approved before (a reviewer's repro), the leak shown by LibreOffice."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from fixtures import odf_fixtures as odx
from scanner import Settings, scan_bytes
from scanner.cli import main
from scanner.formats import sniff

SETTINGS = Settings(detectors=("metadata", "text"), jobs=1, audit_db="off")
METADATA_TEXT = '[scan]\ndetectors = ["metadata", "text"]\n'


@pytest.fixture(scope="module")
def odfiles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return odx.build(tmp_path_factory.mktemp("odf_fixtures"))


def _scan(path: Path) -> tuple[str, set[str], str]:
    """The decision, the rule ids of the reasons, the whole report as JSON."""
    report = scan_bytes(path.read_bytes(), path.name, SETTINGS)
    rules = {r.rule_id for r in report.verdict.reasons}
    return report.decision.label, rules, json.dumps(report.to_dict())


@pytest.mark.parametrize("name", sorted(odx.ATTRIBUTE_CASES))
def test_a_value_kept_in_an_attribute_blocks_and_is_masked(odfiles: dict[str, Path], name: str) -> None:
    decision, rules, doc = _scan(odfiles[name])
    assert decision == "block", (name, rules)
    assert rules & {"text.payment_card", "text.secret"}, rules
    assert odx.CARD not in doc and odx.DB_PASSWORD not in doc  # the report names it, never shows it


def test_a_plain_odt_has_nothing_to_find_in_its_styles_ids_and_sizes(odfiles: dict[str, Path]) -> None:
    decision, rules, _ = _scan(odfiles["plain.odt"])
    assert decision == "approve" and not rules


def test_version_history_is_reported_as_identity_and_earlier_content(odfiles: dict[str, Path]) -> None:
    report = scan_bytes(odfiles["versions.odt"].read_bytes(), "versions.odt", SETTINGS)
    reasons = [(r.rule_id, r.message, r.location) for r in report.verdict.reasons]
    assert any(rule == "metadata.history" and "stored earlier versions" in msg for rule, msg, _ in reasons), reasons
    assert any(rule == "metadata.identity" and "version author" in msg for rule, msg, _ in reasons), reasons
    assert any(loc.startswith("Versions/Version1") for _, _, loc in reasons), reasons  # the earlier version is read


def _fix(path: Path, policy: Path) -> dict[str, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main(["fix", "--policy", str(policy), "--format", "json", "-j", "1", str(path)])
    row: dict[str, Any] = json.loads(out.getvalue())["files"][0]
    return row


def _fix_fixture(tmp_path: Path, odfiles: dict[str, Path], name: str,
                 monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """`leakscan fix` (metadata and text detectors) on a copy of the fixture `name`: its JSON row."""
    monkeypatch.setenv("LEAKSCAN_AUDIT_DB", "off")
    policy = tmp_path / "policy.toml"
    policy.write_text(METADATA_TEXT)
    src = tmp_path / name
    src.write_bytes(odfiles[name].read_bytes())
    return _fix(src, policy)


def test_fix_drops_the_version_history_and_its_manifest_entries(tmp_path: Path, odfiles: dict[str, Path],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    row = _fix_fixture(tmp_path, odfiles, "versions.odt", monkeypatch)
    with zipfile.ZipFile(row["safe_copy"]) as zf:
        names = zf.namelist()
        manifest = zf.read("META-INF/manifest.xml").decode()
        everything = b"".join(zf.read(n) for n in names)
    assert "VersionList.xml" not in names and not [n for n in names if n.startswith("Versions/")], names
    assert "Versions/" not in manifest and "VersionList" not in manifest and "Pictures/gps.jpg" in manifest
    assert odx.AUTHOR.encode() not in everything
    dropped = {c["location"] for c in row["changes"] if c["action"] == "dropped"}
    assert dropped == {"VersionList.xml", "Versions/Version1"}
    # the copy's own re-scan decides, and it is clean of all of it
    assert row["original_decision"] == "review" and row["decision"] == "approve", row["needs_human"]
    assert row["rescan"]["decision"] == "approve"


def test_fix_does_not_approve_a_copy_whose_links_still_leak(tmp_path: Path, odfiles: dict[str, Path],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A link's target is content: kept in the copy, and the re-scan says so (a person decides)."""
    row = _fix_fixture(tmp_path, odfiles, "attr_hyperlink.odt", monkeypatch)
    assert row["decision"] == "block" and row["needs_human"]


@pytest.mark.parametrize(("name", "kind"), [("flat_author.fodt", "text"), ("flat_gps.fodp", "presentation")])
def test_a_flat_odf_is_sniffed_by_its_content(odfiles: dict[str, Path], name: str, kind: str) -> None:
    assert sniff(odfiles[name].read_bytes()) == f"application/vnd.oasis.opendocument.{kind}-flat-xml"


def test_a_flat_odf_author_is_identity(odfiles: dict[str, Path]) -> None:
    report = scan_bytes(odfiles["flat_author.fodt"].read_bytes(), "flat_author.fodt", SETTINGS)
    assert report.decision.label == "review"
    assert any(r.rule_id == "metadata.identity" and r.location == "office:meta" for r in report.verdict.reasons)


def test_a_flat_odf_embedded_picture_is_read_for_gps(odfiles: dict[str, Path]) -> None:
    report = scan_bytes(odfiles["flat_gps.fodp"].read_bytes(), "flat_gps.fodp", SETTINGS)
    gps = [r for r in report.verdict.reasons if r.rule_id == "metadata.gps"]
    assert gps and gps[0].location == "draw:image[1]", [r.rule_id for r in report.verdict.reasons]


def test_a_flat_odf_attribute_value_blocks_and_its_base64_is_not_read_as_text() -> None:
    body = (f'<office:text><text:p>Connect to <text:a xlink:href="{odx.DB_URL}">the database</text:a>'
            '<draw:frame><draw:image><office:binary-data>QUJD</office:binary-data></draw:image></draw:frame></text:p>'
            f'<text:user-field-decls><text:user-field-decl office:string-value="{odx.CARD}" text:name="cc"/>'
            "</text:user-field-decls></office:text>")
    report = scan_bytes(odx.flat("odt", body), "form.fodt", SETTINGS)
    rules = {r.rule_id for r in report.verdict.reasons}
    assert report.decision.label == "block" and {"text.payment_card", "text.secret"} <= rules, rules
    assert odx.CARD not in json.dumps(report.to_dict())


@pytest.mark.parametrize("data", [
    b'<?xml version="1.0"?><document><p>Not OpenDocument.</p></document>',
    b'<office:document><x xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"/></office:document>',
])
def test_other_xml_named_document_stays_text(data: bytes) -> None:
    assert sniff(data) == "text/plain"


def test_a_broken_flat_odf_is_reviewed_not_approved() -> None:
    data = odx.flat("odt", "<office:text><text:p>cut")[:-40]
    report = scan_bytes(data, "cut.fodt", SETTINGS)
    assert report.decision.label == "review" and report.errors
