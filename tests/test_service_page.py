"""The employee page (GET /) in headless Chromium against a real `leakscan serve` on 127.0.0.1: real uploads
through the file input, verdicts and evidence boxes drawn, a hostile file name shown as text and never run,
no CSP violation, nothing fetched from outside; the token sign-in path with auth on. Writes the screenshot
docs/service-page.png. Skips when Playwright or Chromium is not installed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures import text_fixtures
from tests.browser import chromium_page, keep_screenshot
from tests.serving import RunningServer, running_server

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "docs" / "service-page.png"
HOSTILE = "<img src=x onerror=alert(1)>.jpg"
TOKEN = "tok-page-" + "0f1e2d3c4b5a69788796a5b4"
DETECTORS = {"LEAKSCAN_DETECTORS": "metadata,text"}
WAIT_MS = 180_000
MAX_SCREENSHOT_BYTES = 300_000

RED_PIXELS = """(sel) => {
  const canvas = document.querySelector(sel);
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let red = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i] > 180 && data[i + 1] < 60 && data[i + 2] < 60) red++;
  return red;
}"""


@pytest.fixture(scope="module")
def uploads(tmp_path_factory: pytest.TempPathFactory, fx: dict[str, Path]) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("page-uploads")
    text = text_fixtures.build(tmp_path_factory.mktemp("page-text"))
    files = {"card.png": text["card_pan"], "receipt.png": text["receipt_en"], "holiday.jpg": fx["clean.jpg"],
             HOSTILE: fx["gps_dirty.jpg"]}
    out = {}
    for name, source in files.items():
        out[name] = folder / name
        shutil.copyfile(source, out[name])
    return out


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("page-open"), ["--no-auth", "-j", "2"], DETECTORS) as server:
        yield server


def _results(page: Any, count: int) -> dict[str, dict[str, Any]]:
    """name -> {decision, verdict text, reasons, canvas selector} once `count` results carry a decision."""
    _wait_decided(page, count)
    rows = page.eval_on_selector_all("li.result", """(items) => items.map((li, i) => {
        li.id = "r" + i;
        return {name: li.querySelector(".name").textContent, decision: li.dataset.decision,
                verdict: li.querySelector(".verdict").textContent,
                reasons: Array.from(li.querySelectorAll(".reasons li")).map((x) => x.textContent),
                canvas: "#r" + i + " canvas", hidden: li.querySelector("canvas").hidden};
    })""")
    return {row["name"]: row for row in rows}


def _wait_decided(page: Any, count: int) -> None:
    """Until `count` results carry a decision (a function, not a string: the page's CSP forbids eval)."""
    page.wait_for_function("(n) => document.querySelectorAll('li.result[data-decision]').length >= n", arg=count,
                           timeout=WAIT_MS)


def _wait_drawn(page: Any, selectors: list[str]) -> None:
    for sel in selectors:
        page.wait_for_function("(s) => document.querySelector(s).width > 0", arg=sel, timeout=WAIT_MS)


def test_employee_page_in_chromium(open_server: RunningServer, uploads: dict[str, Path]) -> None:
    with chromium_page() as tab:
        page = tab.page
        page.goto(open_server.url + "/")
        page.set_input_files("#files", [str(p) for p in uploads.values()])
        rows = _results(page, len(uploads))
        images = [rows[n]["canvas"] for n in ("card.png", "receipt.png", "holiday.jpg")]
        _wait_drawn(page, images)
        red = {name: page.evaluate(RED_PIXELS, rows[name]["canvas"]) for name in ("card.png", "receipt.png")}
        hostile_images = page.evaluate("() => document.querySelectorAll('#results img').length")
        shot = page.screenshot(full_page=True)
    assert {n: r["decision"] for n, r in rows.items()} == {
        "card.png": "block", "receipt.png": "review", "holiday.jpg": "approve", HOSTILE: "review"}
    assert all(r["verdict"] == r["decision"] for r in rows.values())  # the verdict text shown
    assert any("card" in reason.lower() for reason in rows["card.png"]["reasons"])
    assert red["card.png"] > 50 and red["receipt.png"] > 50  # the evidence boxes (neither picture has red of its own)
    assert HOSTILE in rows  # the name shown as text, exactly
    assert hostile_images == 0 and tab.dialogs == []  # no element made from it, no script of it ran
    assert tab.csp_errors == [] and tab.page_errors == []
    assert tab.outside_requests == []
    assert len(shot) < MAX_SCREENSHOT_BYTES
    keep_screenshot(shot, SCREENSHOT)


def test_token_sign_in(tmp_path: Path, uploads: dict[str, Path]) -> None:
    (tmp_path / "tokens").write_text(TOKEN + "\n")
    args = ["--token-file", str(tmp_path / "tokens"), "-j", "1"]
    with running_server(tmp_path, args, {"LEAKSCAN_DETECTORS": "metadata"}) as server, chromium_page() as tab:
        page = tab.page
        page.goto(server.url + "/")
        page.set_input_files("#files", [str(uploads["holiday.jpg"])])
        refused = _results(page, 1)["holiday.jpg"]
        page.fill("#token", TOKEN)
        page.dispatch_event("#token", "change")
        page.set_input_files("#files", [str(uploads["holiday.jpg"])])
        _wait_decided(page, 2)
        signed_in = page.eval_on_selector("li.result", "(li) => li.dataset.decision")  # the newest is first
        stored = page.evaluate("() => [sessionStorage.getItem('leakscan.token'), localStorage.length, document.cookie]")
        page.reload()
        kept = page.input_value("#token")
    assert refused["decision"] == "review" and "token missing or wrong" in refused["reasons"]
    assert signed_in == "approve"
    assert stored == [TOKEN, 0, ""]  # the session only: nothing in localStorage or cookies
    assert kept == TOKEN  # the same tab keeps it across a reload
    assert tab.csp_errors == [] and tab.page_errors == [] and tab.outside_requests == []


def test_docs_render_offline_under_the_csp(open_server: RunningServer) -> None:
    with chromium_page() as tab:
        page = tab.page
        page.goto(open_server.url + "/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=WAIT_MS)
        title = page.inner_text(".swagger-ui .info .title")
        page.wait_for_selector("#operations-default-_scan_v1_scan_post, .opblock-summary-path", timeout=WAIT_MS)
        paths = page.eval_on_selector_all(".opblock-summary-path", "(xs) => xs.map((x) => x.textContent)")
    assert title.startswith("leakscan")
    assert "/v1/scan" in " ".join(paths)
    assert tab.csp_errors == [] and tab.page_errors == [] and tab.outside_requests == []


def test_safe_copy_offered_for_a_file_not_approved(open_server: RunningServer, uploads: dict[str, Path]) -> None:
    """Review -> "Make a safe copy" -> POST /v1/fix -> a download of the copy, with the copy's own verdict."""
    with chromium_page() as tab:
        page = tab.page
        page.goto(open_server.url + "/")
        page.set_input_files("#files", [str(uploads[HOSTILE]), str(uploads["holiday.jpg"])])
        rows = _results(page, 2)
        buttons = page.eval_on_selector_all("li.result", "(items) => items.map((li) => !!li.querySelector('.fix'))")
        page.click("li.result[data-decision='review'] button.fix")
        page.wait_for_selector("a.download", timeout=WAIT_MS)
        status = page.text_content(".fix-status")
        with page.expect_download() as download:
            page.click("a.download")
        copy = Path(download.value.path()).read_bytes()
        suggested = download.value.suggested_filename
    assert rows[HOSTILE]["decision"] == "review" and rows["holiday.jpg"]["decision"] == "approve"
    assert sorted(buttons) == [False, True]  # offered only where the file is not approved
    assert status == "safe copy: approve"
    assert suggested.endswith(".safe.jpg")
    assert copy.startswith(b"\xff\xd8") and copy != uploads[HOSTILE].read_bytes()
    assert tab.csp_errors == [] and tab.page_errors == [] and tab.dialogs == [] and tab.outside_requests == []
