"""Policy parsing and decisions; settings precedence; every setting documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.config import build_settings
from scanner.errors import ConfigError
from scanner.model import Decision, ErrorRecord, Finding, Severity
from scanner.policy import Policy, parse_policy

ROOT = Path(__file__).resolve().parents[1]


def finding(rule: str, severity: Severity) -> Finding:
    return Finding(rule, "test", severity, 1.0, f"{rule} seen")


@pytest.mark.parametrize(("severity", "decision"), [
    (Severity.INFO, Decision.APPROVE), (Severity.LOW, Decision.APPROVE), (Severity.MEDIUM, Decision.REVIEW),
    (Severity.HIGH, Decision.BLOCK), (Severity.CRITICAL, Decision.BLOCK)])
def test_default_severity_map(severity: Severity, decision: Decision) -> None:
    assert Policy().decide([finding("x", severity)], []).decision == decision


def test_errors_fail_closed() -> None:
    verdict = Policy().decide([], [ErrorRecord("corrupt", "bad", "read")])
    assert verdict.decision == Decision.REVIEW
    assert verdict.reasons[0].rule_id == "error.corrupt"


def test_on_error_cannot_approve() -> None:
    with pytest.raises(ConfigError, match="on_error"):
        parse_policy({"decisions": {"on_error": "approve"}})


def test_rule_override_by_prefix_and_exact_id() -> None:
    policy = parse_policy({"rules": {"metadata": {"severity": "high"}, "metadata.device": {"enabled": False}}})
    assert policy.apply(finding("metadata.gps", Severity.MEDIUM)).severity == Severity.HIGH
    assert policy.apply(finding("metadata.device", Severity.LOW)) is None
    assert policy.apply(finding("text.email", Severity.LOW)).severity == Severity.LOW


@pytest.mark.parametrize("bad", [
    {"decisions": {"medium": "maybe"}}, {"rules": {"x": {"severity": "huge"}}}, {"rules": {"x": {"colour": 1}}},
    {"sites": [{"name": "a", "lat": 95, "lon": 0}]}, {"sites": [{"name": "a"}]}, {"sites": {"name": "a"}}])
def test_invalid_policies_are_rejected(bad: dict) -> None:
    with pytest.raises(ConfigError):
        parse_policy(bad)


def test_precedence_file_env_flag(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("[scan]\njobs = 3\nbatch_size = 4\n[limits]\ntimeout_s = 9\n")
    s = build_settings(str(path), {"jobs": 5}, env={"LEAKSCAN_BATCH_SIZE": "7"})
    assert (s.jobs, s.batch_size, s.timeout_s) == (5, 7, 9.0)


@pytest.mark.parametrize(("text", "match"), [
    ("[scan]\njobz = 1\n", "unknown keys"), ("[scan]\njobs = -1\n", "jobs"), ("not = [toml", "not valid TOML")])
def test_config_errors(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        build_settings(str(path), env={})


def test_default_policy_file_is_the_builtin_default(tmp_path: Path) -> None:
    s = build_settings(str(ROOT / "scanner" / "default_policy.toml"), env={})
    assert s.policy.decisions == Policy().decisions and s.policy.on_error == Decision.REVIEW
    assert s.max_file_mb == 200 and s.jobs == 0
