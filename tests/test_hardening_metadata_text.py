"""Issue 8, class 1: secrets in metadata values and keys are found by the text rules and never printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures import hardening_metadata_text as fx_text
from scanner import scan
from scanner.config import Settings

METADATA_ONLY = Settings(detectors=("metadata",), jobs=1)
SECRET_CASES = sorted([*fx_text.cases(), "png_pillow_itxt_card.png"])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return fx_text.build(tmp_path_factory.mktemp("metadata_text"))


def _expected_rule(name: str) -> str:
    return "text.payment_card" if "card" in name else "text.secret"


@pytest.mark.parametrize("name", SECRET_CASES)
def test_secret_in_metadata_blocks_and_is_masked(files: dict[str, Path], name: str) -> None:
    (report,) = scan(files[name], METADATA_ONLY).files
    rules = {f.rule_id for f in report.findings}
    assert report.decision.label == "block", (name, rules, [e.message for e in report.errors])
    assert _expected_rule(name) in rules
    dumped = json.dumps(report.to_dict())
    for secret in fx_text.SECRETS:
        assert secret not in dumped, f"{name}: {secret!r} in the JSON report"


@pytest.mark.parametrize("fmt", ["console", "json", "jsonl"])
def test_no_output_format_prints_a_metadata_secret(cli, files: dict[str, Path], fmt: str) -> None:
    paths = [str(files[n]) for n in SECRET_CASES]
    result = cli("scan", "-q", "-j", "1", "--detectors", "metadata", "--format", fmt, *paths)
    assert result.code == 1
    for secret in fx_text.SECRETS:
        assert secret not in result.out and secret not in result.err, (fmt, secret)


def test_secret_as_png_keyword_is_not_named(files: dict[str, Path]) -> None:
    (report,) = scan(files["png_text_keyword_password.png"], METADATA_ONLY).files
    text = json.dumps(report.to_dict())
    assert "password: Hunter" not in text and "field #1" in text


def test_identity_values_are_masked_by_default(files: dict[str, Path]) -> None:
    (report,) = scan(files["identity_name.jpg"], METADATA_ONLY).files
    identity = next(f for f in report.findings if f.rule_id == "metadata.identity")
    assert report.decision.label == "review"
    assert set(identity.evidence) == {"Artist", "Copyright"}
    assert "Jan Jansen" not in json.dumps(report.to_dict())
    assert not any(f.rule_id.startswith("text.") for f in report.findings)
