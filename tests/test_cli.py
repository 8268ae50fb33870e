"""The CLI as a user and a script see it: exit codes, JSON Lines schema, odd file names, escaping."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from scanner.model import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]


def test_exit_codes(cli, fx) -> None:
    assert cli("scan", "-q", "--detectors", "metadata", str(fx["clean.jpg"])).code == 0
    assert cli("scan", "-q", "--detectors", "metadata", str(fx["gps_dirty.jpg"])).code == 1
    assert cli("scan", "-q", "--fail-on", "block", "--detectors", "metadata", str(fx["gps_dirty.jpg"])).code == 0
    assert cli("scan", "--format", "xml", str(fx["clean.jpg"])).code == 2
    assert cli("scan", "--policy", "/nonexistent/policy.toml", str(fx["clean.jpg"])).code == 2
    empty = fx["clean.jpg"].parent / "empty_folder"
    empty.mkdir(exist_ok=True)
    assert cli("scan", "-q", str(empty)).code == 2  # nothing scanned is not "all approved"


def test_jsonl_schema_one_object_per_file(cli, fx) -> None:
    result = cli("scan", "--format", "jsonl", "--detectors", "metadata", "-j", "1",
                 str(fx["gps_dirty.jpg"]), str(fx["clean.png"]), str(fx["truncated.jpg"]))
    rows = {Path(r["path"]).name: r for r in result.jsonl()}
    assert set(rows) == {"gps_dirty.jpg", "clean.png", "truncated.jpg"}
    for row in rows.values():
        assert row["schema_version"] == SCHEMA_VERSION
        assert {"path", "sha256", "decision", "findings", "errors", "timings"} <= set(row)
        for f in row["findings"]:
            assert set(f) >= {"rule_id", "severity", "confidence", "message", "location", "region", "evidence"}
    assert rows["gps_dirty.jpg"]["decision"] == "review"
    assert rows["clean.png"]["decision"] == "approve" and rows["clean.png"]["findings"] == []
    assert rows["truncated.jpg"]["errors"][0]["code"] == "corrupt"
    assert len(rows["clean.png"]["sha256"]) == 64


def test_json_document_matches_golden_shape(cli, fx, tmp_path) -> None:
    import zipfile

    holder = tmp_path / "holder.zip"  # a container, so the shape of `parts` is guarded too
    with zipfile.ZipFile(holder, "w") as zf:
        zf.write(fx["gps_dirty.jpg"], "gps_dirty.jpg")
    result = cli("scan", "--format", "json", "--detectors", "metadata", "-j", "1", str(holder))
    doc = json.loads(result.out)
    golden = json.loads((ROOT / "tests" / "golden" / "report_shape.json").read_text())

    def shape(obj):
        if isinstance(obj, dict):
            return {k: shape(v) for k, v in sorted(obj.items()) if k not in ("evidence", "timings", "settings")}
        if isinstance(obj, list):
            return [shape(obj[0])] if obj else []
        return type(obj).__name__

    assert shape(doc) == golden
    assert doc["summary"] == {"approve": 0, "review": 1, "block": 0}


def test_folder_recursion_and_symlink_loop(cli, fx, tmp_path) -> None:
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    shutil.copy(fx["clean.jpg"], tree / "a" / "b" / "one.jpg")
    shutil.copy(fx["gps_dirty.png"], tree / "two.png")
    os.symlink(tree, tree / "a" / "loop")
    os.symlink(tree / "missing.jpg", tree / "dangling.jpg")
    rows = cli("scan", "--format", "jsonl", "--detectors", "metadata", str(tree)).jsonl()
    names = sorted(Path(r["path"]).name for r in rows)
    assert names == ["dangling.jpg", "one.jpg", "two.png"]
    dangling = next(r for r in rows if r["path"].endswith("dangling.jpg"))
    assert dangling["decision"] == "review" and dangling["errors"][0]["code"] == "unreadable"


def test_dash_and_non_utf8_file_names(cli, fx, tmp_path) -> None:
    dash = tmp_path / "-rf.jpg"
    shutil.copy(fx["gps_dirty.jpg"], dash)
    odd = os.fsencode(tmp_path) + b"/caf\xe9.jpg"
    shutil.copy(fx["clean.jpg"], odd)
    os.chdir(tmp_path)
    rows = cli("scan", "--format", "jsonl", "--detectors", "metadata", "--", "-rf.jpg",
               os.fsdecode(odd)).jsonl()
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in rows}
    assert by_name["-rf.jpg"]["decision"] == "review"
    assert by_name["caf\\xe9.jpg"]["decision"] == "approve"


def test_console_strips_control_characters(cli, fx) -> None:
    result = cli("scan", "--detectors", "metadata", str(fx["control_chars.jpg"]))
    assert result.code == 1
    assert "\x1b]0;pwned" not in result.out and "\x07" not in result.out
    assert "REVIEW" in result.out


def test_jobs_2_gives_same_verdicts_as_jobs_1(cli, fx) -> None:
    paths = [str(p) for p in fx.values()]
    one = {r["path"]: (r["decision"], len(r["findings"])) for r in
           cli("scan", "--format", "jsonl", "--detectors", "metadata", "-j", "1", *paths).jsonl()}
    two = {r["path"]: (r["decision"], len(r["findings"])) for r in
           cli("scan", "--format", "jsonl", "--detectors", "metadata", "-j", "2", *paths).jsonl()}
    assert one == two and len(one) == len(fx)


def test_policy_init_writes_a_policy_that_loads(cli, tmp_path) -> None:
    assert cli("policy", "init").code == 0
    assert (tmp_path / "leakscan.toml").is_file()
    assert cli("policy", "init").code == 2  # no silent overwrite
    assert cli("scan", "-q", "--detectors", "metadata", str(tmp_path / "leakscan.toml")).code == 1  # not an image


def test_python_dash_m_and_console_script(fx) -> None:
    proc = subprocess.run([sys.executable, "-m", "scanner", "scan", "--detectors", "metadata", "--format", "jsonl",
                           str(fx["gps_dirty.webp"])], capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["findings"][0]["rule_id"].startswith("metadata.")
    assert subprocess.run([sys.executable, "-m", "scanner", "--help"], capture_output=True,
                          check=False).returncode == 0


def test_importing_the_cli_loads_no_heavy_engine() -> None:
    code = ("import sys, scanner.cli; heavy = {'torch', 'onnxruntime', 'rapidocr', 'pytesseract', 'cv2', 'numpy'};"
            "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
