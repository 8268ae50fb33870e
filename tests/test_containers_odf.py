"""OpenDocument beyond paragraphs: values kept in attributes, LibreOffice's version history (scan and fix), flat
(single XML file) documents. Each case was approved before (a reviewer's repro), the leak shown by LibreOffice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures import odf_fixtures as odx
from scanner import Settings, scan_bytes

SETTINGS = Settings(detectors=("metadata", "text"), jobs=1, audit_db="off")


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

