"""Issue 8, classes 8 and 9: configuration is validated (never a traceback, never silently ignored),
a policy file that weakens the scan says so, and nothing is written for ONNX Runtime's telemetry."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from fixtures import config_fixtures
from scanner.config import build_settings, policy_notice
from scanner.detectors import available, check_rule_ids, known_rule_ids
from scanner.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SCAN_TIMEOUT_S = 300


@pytest.fixture(scope="session")
def cfx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> path of every configuration fixture (bad_*.toml, weakening.toml, gps_photo.jpg, ...)."""
    return config_fixtures.build(tmp_path_factory.mktemp("config_fixtures"))


@pytest.mark.parametrize("name", sorted(config_fixtures.BAD_POLICIES))
def test_malformed_policy_exits_2_naming_the_key(cli: Callable[..., Any], cfx: dict[str, Path],
                                                 name: str) -> None:
    key = config_fixtures.BAD_POLICIES[name][1]
    r = cli("scan", "-q", "--policy", str(cfx[f"bad_{name}.toml"]), str(cfx["gps_photo.jpg"]))
    assert r.code == 2, r.err
    assert "configuration error" in r.err and key in r.err
    assert "Traceback" not in r.err and r.out == ""


@pytest.mark.parametrize(("var", "value"), [
    ("LEAKSCAN_MAX_FILE_MB", "nan"), ("LEAKSCAN_MAX_MEGAPIXELS", "1e999"), ("LEAKSCAN_TIMEOUT_S", "-1"),
    ("LEAKSCAN_TIMEOUT_S", "inf"), ("LEAKSCAN_MAX_METADATA_KB", "4MB"), ("LEAKSCAN_JOBS", "inf"),
    ("LEAKSCAN_JOBS", "1.5"), ("LEAKSCAN_BATCH_SIZE", "0"), ("LEAKSCAN_DETECTORS", " , "),
    ("LEAKSCAN_OCR_LANG", "eng;rm -rf"), ("LEAKSCAN_DEVICE", "gpu")])
def test_malformed_environment_exits_2_naming_the_variable(cli: Callable[..., Any], cfx: dict[str, Path],
                                                           monkeypatch: pytest.MonkeyPatch, var: str,
                                                           value: str) -> None:
    monkeypatch.setenv(var, value)
    r = cli("scan", "-q", "--detectors", "metadata", str(cfx["gps_photo.jpg"]))
    assert r.code == 2 and var in r.err and "Traceback" not in r.err


@pytest.mark.parametrize(("policy", "suggestion"), [
    ("misspelt.toml", '"metadata.gps"'),
    ("bad_rule_id_misspelt.toml", '"metadata.gps"'),
    ("bad_text_disable_misspelt.toml", '"text.email"'),
    ("bad_text_severity_misspelt.toml", '"text.payment_card"'),
    ("bad_table_misspelt.toml", '"text"'),
    ("bad_limits_misspelt.toml", '"max_file_mb"'),
    ("bad_text_key_misspelt.toml", '"codenames"'),
])
def test_misspelt_ids_are_refused_with_did_you_mean(cli: Callable[..., Any], cfx: dict[str, Path], policy: str,
                                                    suggestion: str) -> None:
    r = cli("scan", "-q", "--policy", str(cfx[policy]), str(cfx["gps_photo.jpg"]))
    assert r.code == 2 and f"did you mean {suggestion}?" in r.err


def test_family_prefixes_and_own_patterns_are_valid_rule_ids(tmp_path: Path) -> None:
    path = tmp_path / "families.toml"
    path.write_text('[rules."metadata"]\nseverity = "high"\n[rules."metadata.gps"]\nseverity = "high"\n'
                    '[rules."text"]\nenabled = false\n[rules."visual"]\nenabled = false\n'
                    '[rules."text.purchase_order"]\nseverity = "low"\n'
                    '[[text.patterns]]\nid = "text.purchase_order"\nregex = "PO-[0-9]{6}"\n')
    check_rule_ids(build_settings(str(path), env={}), available())  # no ConfigError
    known = known_rule_ids(available())
    assert {"metadata", "metadata.gps", "metadata.gps.site", "text", "text.payment_card", "visual"} <= known
    assert "text.purchase_order" not in known and "metdata.gps" not in known
    path.write_text('[rules."text.purchase_ordre"]\nenabled = false\n'
                    '[[text.patterns]]\nid = "text.purchase_order"\nregex = "PO-[0-9]{6}"\n')
    with pytest.raises(ConfigError, match=re.escape('did you mean "text.purchase_order"')):
        check_rule_ids(build_settings(str(path), env={}), available())


def test_policy_notice_names_the_file_what_it_turns_off_and_relaxes(cfx: dict[str, Path], tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert policy_notice(build_settings(None, env={})) == []  # no policy file: nothing to say
    (tmp_path / "leakscan.toml").write_text(cfx["weakening.toml"].read_text())
    lines = policy_notice(build_settings(None, env={}))
    assert str(tmp_path / "leakscan.toml") in lines[0] and "working directory" in lines[0]
    off = next(line for line in lines if "turns off" in line)
    assert "metadata.gps" in off and "text.payment_card" in off
    assert any("[decisions] high = approve" in line for line in lines)
    flagged = policy_notice(build_settings(None, {"detectors": "metadata"}, env={}))
    assert any("only these detectors run: metadata" in line for line in flagged)


def _weakened_scan(cli: Callable[..., Any], cfx: dict[str, Path], *extra: str) -> Any:
    """A leakscan.toml in the working directory (the cli fixture's tmp_path) switches GPS off."""
    Path("leakscan.toml").write_text(cfx["weakening.toml"].read_text())
    return cli("scan", "-q", "--detectors", "metadata", *extra, str(cfx["gps_photo.jpg"]))


def test_working_directory_policy_is_recorded_in_the_json_report(cli: Callable[..., Any],
                                                                  cfx: dict[str, Path]) -> None:
    r = _weakened_scan(cli, cfx, "--format", "json")
    report = json.loads(r.out)
    settings = report["settings"]
    assert report["files"][0]["decision"] == "approve"  # what the policy did: the GPS photo passes
    assert settings["policy_path"] == "leakscan.toml" and settings["policy_origin"] == "working directory"
    assert settings["disabled_rules"] == ["metadata.gps", "text.payment_card"]
    assert "[decisions] high = approve" in settings["relaxed"]


def test_working_directory_policy_is_announced_on_stderr(cli: Callable[..., Any], cfx: dict[str, Path]) -> None:
    """Needs the one line in cli.scan that prints policy_notice(settings) to stderr."""
    r = _weakened_scan(cli, cfx)
    assert "leakscan.toml" in r.err and "working directory" in r.err
    assert "turns off: metadata.gps, text.payment_card" in r.err


@pytest.mark.slow
@pytest.mark.parametrize(("detector", "policy"), [
    ("text", '[scan]\nocr_engine = "rapidocr"\n'),
    ("visual", '[visual]\nruntime = "onnx"\nmodel = "lite0"\n'),
], ids=["text-rapidocr", "visual-onnx-embedder"])
def test_onnxruntime_leaves_no_telemetry_behind(cfx: dict[str, Path], tmp_path: Path, detector: str,
                                                policy: str) -> None:
    """ONNX Runtime's wheels queue telemetry in $XDG_CACHE_HOME/Microsoft/DeveloperTools/.onnxruntime/
    (deviceid, onnxruntime.db) on import. A real scan in a fresh HOME writes only leakscan's own cache."""
    if find_spec("onnxruntime") is None or find_spec("rapidocr") is None:
        pytest.skip("onnxruntime / rapidocr not installed")
    home, cache, cwd = tmp_path / "home", tmp_path / "cache", tmp_path / "cwd"
    for folder in (home, cache, cwd):
        folder.mkdir()
    (cwd / "policy.toml").write_text(policy)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEAKSCAN_", "ORT_", "XDG_"))}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(cache), LEAKSCAN_DEVICE="cpu", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "scanner", "scan", "-q", "--jobs", "1", "--format", "jsonl", "--policy",
           "policy.toml", "--detectors", detector, str(cfx["card_photo.png"])]
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=SCAN_TIMEOUT_S)
    report = json.loads(done.stdout)
    assert report["errors"] == [], report["errors"]  # the engine really ran (no fallback, no error)
    if detector == "text":
        assert report["decision"] == "block"
    written = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert not {w for w in written if "onnxruntime" in w.lower() or "Microsoft" in w}
    own = ("cache/leakscan/", "home/.local/share/leakscan/")  # its cache and its audit trail (audit_db)
    assert {w for w in written if not w.startswith(own)} == {"cwd/policy.toml"}
