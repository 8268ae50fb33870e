"""Headless Chromium for tests: the system browser (Debian `chromium`) driven by Playwright, fully offline.

No `playwright install`: Playwright's own driver launches `/usr/bin/chromium` (or $LEAKSCAN_CHROMIUM).
A test that needs it skips cleanly when Playwright or the browser is missing. Host names other than
localhost do not resolve (Chromium's --host-resolver-rules) and every request to anything but loopback is
recorded, so a page that reaches for a CDN fails its test. (No request interception: Playwright's routing
stalled multipart uploads from fetch().)

    from tests.browser import chromium_page

    def test_page(...):
        with chromium_page() as tab:
            tab.page.goto(url)
            ...
            assert not tab.csp_errors and not tab.page_errors and not tab.outside_requests
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
LOCAL_SCHEMES = frozenset({"blob", "data", "about", "file"})  # file: a report opened from disk
FLAGS = ("--no-sandbox", "--disable-gpu", "--no-first-run")  # no sandbox: tests may run as root in a container
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"


def chromium_path() -> str | None:
    """$LEAKSCAN_CHROMIUM, else the first of chromium, chromium-browser, google-chrome on PATH."""
    given = os.environ.get("LEAKSCAN_CHROMIUM")
    if given:
        return given if os.access(given, os.X_OK) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Tab:
    """A page and what it said: console messages, uncaught errors, dialogs and blocked outside requests."""

    page: Any
    console: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)  # alert/confirm/prompt messages (an injected script ran)
    outside_requests: list[str] = field(default_factory=list)

    @property
    def csp_errors(self) -> list[str]:
        return [text for _, text in self.console if "Content Security Policy" in text or "Content-Security" in text]


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or (parts.hostname or "") in LOOPBACK


@contextlib.contextmanager
def chromium_page(width: int = 1000, height: int = 760) -> Iterator[Tab]:
    """A fresh headless Chromium tab (new profile: no storage carried between tests)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    path = chromium_path()
    if path is None:
        pytest.skip("no chromium installed (Debian package `chromium`)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=[*FLAGS, OFFLINE])
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            tab = Tab(page)

            def request(r: Any) -> None:
                if not _is_local(r.url):
                    tab.outside_requests.append(r.url)

            page.on("request", request)
            page.on("console", lambda m: tab.console.append((m.type, m.text)))
            page.on("pageerror", lambda e: tab.page_errors.append(str(e)))

            def dialog(d: Any) -> None:
                tab.dialogs.append(d.message)
                d.dismiss()

            page.on("dialog", dialog)
            yield tab
        finally:
            browser.close()


def keep_screenshot(shot: bytes, target: os.PathLike[str] | str) -> None:
    """Write a committed screenshot under docs/ only when it is missing or LEAKSCAN_UPDATE_SCREENSHOT is set,
    so a test run does not rewrite a tracked file (PNG bytes differ between Chromium builds)."""
    if not os.path.exists(target) or os.environ.get("LEAKSCAN_UPDATE_SCREENSHOT"):
        with open(target, "wb") as out:
            out.write(shot)
