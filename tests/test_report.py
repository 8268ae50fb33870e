"""`leakscan report STORE --html/--sarif/--csv` over a store from a real scan (metadata + OCR) of files whose
names attack the renderers; the HTML also rendered in headless Chromium (no script runs; screenshot kept)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from fixtures.report_fixtures import HOSTILE_CSV, HOSTILE_HTML, build
from fixtures.text_fixtures import CARD_PAN
from scanner.cli import main
from scanner.reporters.csv import cell
from scanner.reporters.stored import real_path
from scanner.sources import display_path
from tests.browser import chromium_page, keep_screenshot

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "docs" / "report.png"
SCREENSHOT_MAX_BYTES = 300_000


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """A result store of one real scan; stale.jpg changed afterwards."""
    folder = tmp_path_factory.mktemp("report")
    files = build(folder / "in")
    db = folder / "results.sqlite"
    code = main(["scan", str(folder / "in"), "--store", str(db), "--detectors", "metadata,text", "-j", "1", "-q",
                 "--format", "jsonl", "-o", str(folder / "scan.jsonl")])
    assert code == 1
    files["stale.jpg"].write_bytes(files["clean.jpg"].read_bytes())
    return db, files


def _report(db: Path, out: Path, *args: str) -> int:
    return main(["report", str(db), *args])


def _pan_digits(text: str) -> bool:
    return CARD_PAN.replace(" ", "") in re.sub(r"[\s-]", "", text)


def test_html_is_escaped_offline_masked_and_draws_thumbnails(store: tuple[Path, dict[str, Path]],
                                                               tmp_path: Path) -> None:
    db, files = store
    html_path = tmp_path / "r.html"
    assert _report(db, tmp_path, "--html", str(html_path)) == 0
    html = html_path.read_text("utf-8")
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html.lower() and not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp and "default-src &#39;none&#39;" in csp.group(1) and "img-src data:" in csp.group(1)
    sections = html.split('<section class="file">')[1:]
    shown = {n: s for s in sections for n in files if display_path(str(files[n])).replace('"', "&#34;")
             .replace("<", "&lt;").replace(">", "&gt;") in s}
    assert set(shown) == {HOSTILE_HTML, HOSTILE_CSV, "stale.jpg"}  # clean.jpg is approved: summary only
    assert "data:image/jpeg;base64," in shown[HOSTILE_HTML] and "data:image/jpeg;base64," in shown[HOSTILE_CSV]
    assert "no thumbnail" in shown["stale.jpg"]  # changed since the scan: its boxes would mark the wrong place
    assert "**** " in shown[HOSTILE_HTML] and not _pan_digits(html)
    assert "text.payment_card" in html and "metadata.gps" in html


def test_sarif_2_1_0_structure(store: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    db, files = store
    assert _report(db, tmp_path, "--sarif", str(tmp_path / "r.sarif")) == 0
    doc = json.loads((tmp_path / "r.sarif").read_text("utf-8"))
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    (run,) = doc["runs"]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert run["tool"]["driver"]["name"] == "leakscan" and len(rules) == len(set(rules))
    by_file: dict[str, list[dict[str, Any]]] = {}
    for result in run["results"]:
        assert rules[result["ruleIndex"]] == result["ruleId"] and result["level"] in ("error", "warning", "note")
        assert result["message"]["text"]
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert urlparse(uri).scheme == "file"
        by_file.setdefault(unquote(urlparse(uri).path), []).append(result)
    assert set(by_file) == {str(files[n]) for n in (HOSTILE_HTML, HOSTILE_CSV, "stale.jpg")}
    card = [r for r in by_file[str(files[HOSTILE_HTML])] if r["ruleId"] == "text.payment_card"]
    assert card and card[0]["level"] == "error"
    (rect, *_) = card[0]["attachments"][0]["rectangles"]
    assert 0 <= rect["left"] < rect["right"] and 0 <= rect["top"] < rect["bottom"]
    gps = by_file[str(files[HOSTILE_CSV])]
    assert [r["ruleId"] for r in gps] == ["metadata.gps"] and gps[0]["level"] == "warning"
    assert not _pan_digits(json.dumps(doc))


def test_csv_has_a_row_per_reason_and_per_approved_file_and_no_formula(store: tuple[Path, dict[str, Path]],
                                                                     tmp_path: Path) -> None:
    db, files = store
    assert _report(db, tmp_path, "--csv", str(tmp_path / "r.csv")) == 0
    text = (tmp_path / "r.csv").read_text("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["file"] for r in rows} == {display_path(str(p)) for p in files.values()}
    assert [r["rule_id"] for r in rows if r["file"].endswith("clean.jpg")] == [""]
    assert all(not v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())
    assert not _pan_digits(text)


@pytest.mark.parametrize(("value", "safe"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("plain", "plain"), ("a=b", "a=b"), (None, ""), (3, "3"),
])
def test_csv_cells_are_never_formulas(value: object, safe: str) -> None:
    assert cell(value) == safe


@pytest.mark.parametrize("name", ["/a/b.jpg", "/a\\b.jpg", os.fsdecode(b"/caf\xe9.jpg"), "/x\x1b[31m\u202e.jpg",
                                  "/lit\\x41.jpg", "/\U0001f600.jpg"])
def test_real_path_inverts_display_path(name: str) -> None:
    assert real_path(display_path(name)) == name


def test_report_needs_an_output_and_an_existing_store(tmp_path: Path, store: tuple[Path, dict[str, Path]]) -> None:
    assert _report(store[0], tmp_path) == 2
    assert main(["report", str(tmp_path / "none.sqlite"), "--csv", str(tmp_path / "x.csv")]) == 2
    assert not (tmp_path / "x.csv").exists()


def test_a_report_is_never_written_over_a_picture(tmp_path: Path, store: tuple[Path, dict[str, Path]]) -> None:
    """`leakscan report results.sqlite --html photo.jpg` (a typo) replaced the photo with HTML, even a read-only one
    (the report is renamed into place); now exit 2 and the photo unchanged. A previous report is replaced."""
    db, files = store
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(files["clean.jpg"].read_bytes())
    photo.chmod(0o444)
    for option in ("--html", "--sarif", "--csv"):
        assert main(["report", str(db), option, str(photo)]) == 2
        assert photo.read_bytes() == files["clean.jpg"].read_bytes()
    old = tmp_path / "old.csv"
    old.write_text("file,decision\n")
    assert main(["report", str(db), "--csv", str(old)]) == 0 and old.read_text() != "file,decision\n"


def test_a_report_can_go_to_standard_output(store: tuple[Path, dict[str, Path]], capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`--csv -` writes to standard output (was: a file named "-"); two outputs cannot both be `-`."""
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["report", str(store[0]), "--csv", "-"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][:2] == ["file", "decision"] and len(rows) > 2 and not (tmp_path / "-").exists()
    assert main(["report", str(store[0]), "--csv", "-", "--sarif", "-"]) == 2


def test_html_in_headless_chromium_runs_no_script_and_is_kept_as_a_screenshot(
        store: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    db, _ = store
    html_path = tmp_path / "r.html"
    assert _report(db, tmp_path, "--html", str(html_path)) == 0
    with chromium_page(width=1000, height=1200) as tab:
        page = tab.page
        page.goto(html_path.as_uri())
        page.wait_for_load_state("load")
        state = page.evaluate("""() => ({
            hostile: document.body.textContent.includes('"><img src=x onerror=alert(1)>.jpg'),
            injected: document.querySelectorAll('img[src="x"], script').length,
            thumbs: [...document.images].filter(i => i.complete && i.naturalWidth > 0).length,
            styled: getComputedStyle(document.body).backgroundColor,
        })""")
        shot = page.screenshot(full_page=True)
    # no alert, no request beyond the file and its data: URIs, no console message (a CSP violation is one)
    assert tab.dialogs == [] and tab.outside_requests == [] and tab.console == [] and tab.page_errors == []
    assert state["hostile"] and state["injected"] == 0 and state["thumbs"] == 2
    assert state["styled"] == "rgb(250, 250, 250)"  # the style sheet passed the CSP by its hash
    assert 10_000 < len(shot) < SCREENSHOT_MAX_BYTES
    keep_screenshot(shot, SCREENSHOT)


def test_html_shows_at_most_max_files_and_says_how_many_more(store: tuple[Path, dict[str, Path]],
                                                            tmp_path: Path) -> None:
    db, _ = store
    assert _report(db, tmp_path, "--html", str(tmp_path / "r.html"), "--max-files", "1", "--no-thumbnails") == 0
    html = (tmp_path / "r.html").read_text("utf-8")
    assert html.count('<section class="file">') == 1 and "2 more files need a look" in html
    assert "data:image" not in html
