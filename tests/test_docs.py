"""Docs stay true: every detector, rule id, setting and CLI command is documented (datasette's test_docs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.cli import cli
from scanner.config import SETTINGS
from scanner.detectors import available

ROOT = Path(__file__).resolve().parents[1]
POLICY_DOC = (ROOT / "docs" / "policy.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
TEMPLATE = (ROOT / "scanner" / "default_policy.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("rule_id", sorted({r for d in available() for r in d.rules}))
def test_every_rule_id_is_documented(rule_id: str) -> None:
    assert f"`{rule_id}`" in POLICY_DOC or rule_id in _grouped_rows(), f"{rule_id} missing from docs/policy.md"
    assert rule_id in TEMPLATE, f"{rule_id} missing from the rule list in scanner/default_policy.toml"


def _grouped_rows() -> str:
    """Rows like | `text.receipt`, `text.pos_screen` | ... list several ids at once."""
    return " ".join(line for line in POLICY_DOC.splitlines() if line.startswith("|"))


@pytest.mark.parametrize("detector", sorted(d.id for d in available()))
def test_every_detector_is_named_where_detectors_are_chosen(detector: str) -> None:
    setting = next(s for s in SETTINGS if s.name == "detectors")
    assert detector in setting.help
    row = next(line for line in POLICY_DOC.splitlines() if line.startswith("| `detectors`"))
    assert detector in row


@pytest.mark.parametrize("setting", [s.name for s in SETTINGS])
def test_every_setting_is_documented(setting: str) -> None:
    env = next(s.env for s in SETTINGS if s.name == setting)
    assert f"`{setting}`" in POLICY_DOC and env in POLICY_DOC


@pytest.mark.parametrize("command", ["scan", "policy", "refs", "watch", "history"])
def test_every_command_is_in_the_readme(command: str) -> None:
    assert command in cli.commands
    assert f"leakscan {command}" in README


def test_detectors_help_is_generated_from_the_registry(cli) -> None:
    result = cli("scan", "--help")
    line = " ".join(result.out.split())
    assert all(f.id in line.split("--detectors", 1)[1].split("--device", 1)[0] for f in available())


def test_settings_defaults_are_declared_once() -> None:
    from scanner.config import Settings

    defaults = Settings()
    assert all(getattr(defaults, s.name) == s.default for s in SETTINGS)
