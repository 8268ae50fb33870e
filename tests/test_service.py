"""The approval service against a real `leakscan serve` process on 127.0.0.1 (and create_app in-process for
the store hook and the fail-closed 500). Detectors: metadata and text (OCR), so one scan takes about a second."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures import text_fixtures
from tests.serving import stop

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "tok-" + "a1b2c3d4e5f6a7b8c9d0"
SECRET = "webhook-secret-0123456789abcdef"
SECRET_NAME = "Passport-Scan-Of-Jansen.jpg"  # an upload name that must never reach the server log
LIMIT_MB = 1
START_TIMEOUT_S = 90


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, url: str, log: Path) -> None:
        self.url, self.log = url, log

    def client(self, token: str | None = TOKEN, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, trust_env=False, **kw)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("serve")
    (tmp / "tokens").write_text(f"# service tokens\n{TOKEN}\n")
    (tmp / "secret").write_text(SECRET)
    port = _free_port()
    log = tmp / "server.log"
    env = {**os.environ, "LEAKSCAN_DETECTORS": "metadata,text", "PYTHONPATH": str(ROOT)}
    env.pop("LEAKSCAN_TOKENS", None)
    cmd = [sys.executable, "-m", "scanner", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--token-file", str(tmp / "tokens"), "--max-upload-mb", str(LIMIT_MB), "-j", "2",
           "--webhook-secret-file", str(tmp / "secret"), "--webhook-attempts", "3", "--webhook-backoff", "0.1"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=tmp, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(url + "/healthz", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield Server(url, log)
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def text_fx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return text_fixtures.build(tmp_path_factory.mktemp("text"))


def _post(client: httpx.Client, path: Path, name: str | None = None, route: str = "/v1/scan",
          headers: dict[str, str] | None = None, **data: str) -> httpx.Response:
    files = {"file": (name or path.name, path.read_bytes(), "application/octet-stream")}
    return client.post(route, files=files, data=data, headers=headers)


# --- auth ----------------------------------------------------------------------------------------

def test_auth_no_token_bad_token_good_token(server: Server, fx: dict[str, Path]) -> None:
    for token in (None, "tok-wrong-wrong-wrong-wrong"):
        with server.client(token) as c:
            r = _post(c, fx["clean.jpg"])
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "decision" not in r.text
    with server.client() as c:
        r = _post(c, fx["clean.jpg"])
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == "approve"
    with server.client(None) as c:  # health needs no token; metrics does
        assert c.get("/healthz").status_code == 200
        assert c.get("/metrics").status_code == 401


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.org", "::"])
def test_no_auth_refused_off_loopback(cli: Any, host: str) -> None:
    result = cli("serve", "--no-auth", "--host", host, "--port", "1")
    assert result.code == 2
    assert "loopback" in result.err


def test_no_token_refused(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEAKSCAN_TOKENS", raising=False)
    result = cli("serve", "--port", "1")
    assert result.code == 2 and "no API token" in result.err
    monkeypatch.setenv("LEAKSCAN_TOKENS", "short")
    result = cli("serve", "--port", "1")
    assert result.code == 2 and "short" not in result.err.replace("shorter", "")


# --- uploads -------------------------------------------------------------------------------------

def test_size_limit_413_by_header_and_while_streaming(server: Server) -> None:
    big = os.urandom(LIMIT_MB * 1_000_000 + 10)
    with server.client() as c:
        r = c.post("/v1/scan", files={"file": ("big.bin", big)})
        assert r.status_code == 413, r.text

        def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count as it reads
            yield b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\n"
            for i in range(0, len(big), 65536):
                yield big[i : i + 65536]
            yield b"\r\n--XyZ--\r\n"

        r = c.post("/v1/scan", content=chunks(), headers={"content-type": "multipart/form-data; boundary=XyZ"})
        assert r.status_code == 413, r.text
        assert "content-length" not in r.request.headers  # really streamed (chunked)


@pytest.mark.parametrize(("body", "ctype"), [
    (b"just bytes", "application/octet-stream"),
    (b"no boundary", "multipart/form-data"),
    (b"--B\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--B--\r\n", "multipart/form-data; boundary=B"),
    (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nxyz",  # truncated
     "multipart/form-data; boundary=B"),
    (b"garbage that is not a multipart body at all", "multipart/form-data; boundary=B"),
])
def test_bad_multipart_400(server: Server, body: bytes, ctype: str) -> None:
    with server.client() as c:
        r = c.post("/v1/scan", content=body, headers={"content-type": ctype})
    assert r.status_code == 400, r.text


# --- verdicts ------------------------------------------------------------------------------------

def test_gps_photo_review_with_metadata_gps(server: Server, fx: dict[str, Path]) -> None:
    with server.client() as c:
        r = _post(c, fx["gps_dirty.jpg"], name="../../etc/holiday\x1b[2J.jpg")
    assert r.status_code == 200
    body = r.json()
    assert body["decision"] == "review" and body["schema_version"] == "2.1"
    assert "metadata.gps" in {f["rule_id"] for f in body["findings"]}
    assert body["path"] == "holiday\\u001b[2J.jpg"  # a label: no directories, control characters escaped
    assert "leakscan-serve-" not in r.text  # never the temp file's name
    assert body["sha256"] == hashlib.sha256(fx["gps_dirty.jpg"].read_bytes()).hexdigest()


def test_card_photo_block_without_digits(server: Server, text_fx: dict[str, Path]) -> None:
    with server.client() as c:
        r = _post(c, text_fx["card_pan_photo"], name=SECRET_NAME, headers={"X-Request-ID": "card-req-1"})
    assert r.status_code == 200
    assert r.json()["decision"] == "block"
    assert r.headers["x-request-id"] == "card-req-1"
    digits = text_fixtures.CARD_PAN.replace(" ", "")
    assert digits not in r.text and text_fixtures.CARD_PAN not in r.text and digits[:12] not in r.text


def test_fix_answers_with_a_safe_copy_scanned_again(server: Server, fx: dict[str, Path]) -> None:
    hostile = 'trip "to"\r\nX-Evil: 1 ../HQ.jpg'
    with server.client() as c:
        r = _post(c, fx["gps_dirty.jpg"], name=hostile, route="/v1/fix")
    assert r.status_code == 200, r.text
    assert r.headers["x-leakscan-original-decision"] == "review"
    assert r.headers["x-leakscan-decision"] == "approve" and int(r.headers["x-leakscan-changes"]) >= 1
    assert r.headers["content-type"] == "image/jpeg" and "x-evil" not in r.headers
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="') and ".safe.jpg" in disposition and "\r" not in disposition
    assert r.content.startswith(b"\xff\xd8") and r.content != fx["gps_dirty.jpg"].read_bytes()
    with server.client() as c:  # the copy, scanned on its own, is what the header said
        again = _post(c, fx["gps_dirty.jpg"], route="/v1/scan")
        assert again.json()["decision"] == "review"
        files = {"file": ("copy.jpg", r.content, "image/jpeg")}
        assert c.post("/v1/scan", files=files).json()["decision"] == "approve"


def test_fix_covers_a_card_number_and_never_echoes_it(server: Server, text_fx: dict[str, Path]) -> None:
    with server.client() as c:
        r = _post(c, text_fx["card_pan_photo"], name="card.png", route="/v1/fix")
    assert r.status_code == 200 and r.headers["x-leakscan-original-decision"] == "block"
    assert r.headers["x-leakscan-decision"] != "block"
    digits = text_fixtures.CARD_PAN.replace(" ", "")
    assert digits.encode() not in r.content and digits not in str(r.headers)


def test_fix_without_a_copy_is_422_review(server: Server, tmp_path: Path) -> None:
    odd = tmp_path / "notes.bin"
    odd.write_bytes(b"\x00\x01 not a format anyone reads " * 10)
    with server.client() as c:
        r = _post(c, odd, route="/v1/fix")
    assert r.status_code == 422
    body = r.json()
    assert body["decision"] == "review" and body["problem"].startswith("no safe copy")


def test_repost_answers_from_cache(server: Server, fx: dict[str, Path]) -> None:
    with server.client() as c:
        first = _post(c, fx["gps_southwest.jpg"], name="a.jpg")
        second = _post(c, fx["gps_southwest.jpg"], name="b.jpg")
        metrics = c.get("/metrics").text
    assert first.headers["x-leakscan-cache"] == "miss" and second.headers["x-leakscan-cache"] == "hit"
    a, b = first.json(), second.json()
    assert (a["path"], b["path"]) == ("a.jpg", "b.jpg")
    a["path"] = b["path"] = ""
    for part in (a, b):
        part.pop("parts")
    assert a == b
    assert re.search(r"^leakscan_cache_hits_total [1-9]", metrics, re.M)
    assert re.search(r'^leakscan_decisions_total\{decision="review",source="cache"\} [1-9]', metrics, re.M)


# --- jobs and webhooks ---------------------------------------------------------------------------

class _Receiver:
    """An http.server on 127.0.0.1 in a thread that records each POST and answers `status`."""

    def __init__(self, status: int) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.calls) < n and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _verify(headers: dict[str, str], body: bytes) -> bool:
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(SECRET.encode(), signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, s.split(",", 1)[1]) for s in headers["webhook-signature"].split())


def _wait_job(c: httpx.Client, job_id: str) -> dict[str, Any]:
    for _ in range(600):
        job: dict[str, Any] = c.get(f"/v1/jobs/{job_id}").json()
        if job["status"] == "done" and job.get("webhook", {}).get("state") != "pending":
            return job
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def test_job_with_signed_webhook(server: Server, fx: dict[str, Path]) -> None:
    receiver = _Receiver(204)
    try:
        with server.client() as c:  # credentials in the callback address must not reach the server log
            url = receiver.url.replace("http://", "http://damuser:Hook-Passw0rd@") + "?api_key=HOOKKEY123"
            r = _post(c, fx["gps_dirty.jpg"], route="/v1/jobs", callback_url=url)
            assert r.status_code == 202, r.text
            job = _wait_job(c, r.json()["id"])
        receiver.wait(1)
    finally:
        receiver.close()
    assert job["decision"] == "review" and job["webhook"] == {"state": "delivered", "attempts": 1}
    log = server.log.read_text()
    assert "Hook-Passw0rd" not in log and "HOOKKEY123" not in log
    assert len(receiver.calls) == 1
    headers, body = receiver.calls[0]
    assert _verify(headers, body)
    assert not _verify(headers, body + b" ")
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    sent = json.loads(body)
    assert sent["id"] == job["id"] and sent["report"]["decision"] == "review"


def test_failing_receiver_is_retried_a_bounded_number_of_times(server: Server, fx: dict[str, Path]) -> None:
    receiver = _Receiver(500)
    try:
        with server.client() as c:
            r = _post(c, fx["clean.jpg"], route="/v1/jobs", callback_url=receiver.url)
            job = _wait_job(c, r.json()["id"])
        time.sleep(0.5)  # nothing after the last attempt
    finally:
        receiver.close()
    assert job["webhook"] == {"state": "failed", "attempts": 3}
    assert len(receiver.calls) == 3
    assert len({h["webhook-id"] for h, _ in receiver.calls}) == 1  # one message, retried


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1/x", "/relative", "http://"])
def test_non_http_callback_refused(server: Server, fx: dict[str, Path], url: str) -> None:
    with server.client() as c:
        r = _post(c, fx["clean.jpg"], route="/v1/jobs", callback_url=url)
        assert r.status_code == 400
        assert c.get("/v1/jobs/nope").status_code == 404


# --- metrics, page, logs -------------------------------------------------------------------------

def test_metrics_have_the_counters(server: Server, fx: dict[str, Path]) -> None:
    with server.client() as c:
        _post(c, fx["clean.jpg"])
        text = c.get("/metrics").text
    assert re.search(r'^leakscan_requests_total\{method="POST",route="/v1/scan",status="200"\} [1-9]', text, re.M)
    assert re.search(r'^leakscan_requests_total\{method="POST",route="/v1/scan",status="401"\} [1-9]', text, re.M)
    assert re.search(r'^leakscan_decisions_total\{decision="approve",source="(scan|cache)"\} [1-9]', text, re.M)
    assert re.search(r'^leakscan_request_duration_seconds_bucket\{le="\+Inf",route="/v1/scan"\} [1-9]', text, re.M)
    assert "leakscan_scans_in_flight 0.0" in text and "leakscan_jobs_in_flight" in text


def test_page_is_offline_and_strict(server: Server) -> None:
    with server.client(None) as c:
        page = c.get("/")
        assets = [c.get(f"/static/{n}") for n in ("app.js", "app.css")]
        assert c.get("/static/..%2Fapp.py").status_code == 404
        assert c.get("/openapi.json").json()["info"]["title"] == "leakscan"
    assert page.status_code == 200 and all(a.status_code == 200 for a in assets)
    for r in (page, *assets):
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert "unsafe-inline" not in r.headers["content-security-policy"]
    assert re.findall(r"<script(?![^>]*\bsrc=)", page.text) == [] and "<style" not in page.text
    assert " on" not in re.sub(r"\s+", " ", " ".join(re.findall(r"<[^>]+>", page.text))).replace(" one", "")
    js = assets[0].text
    assert "innerHTML" not in js and "eval(" not in js
    assert not re.search(r"https?://", page.text + js + assets[1].text)


def test_docs_are_served_offline(server: Server) -> None:
    with server.client(None) as c:
        page = c.get("/docs")
        assert page.status_code == 200, page.text
        refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assets = {ref: c.get(ref) for ref in refs}
        assert c.get("/docs/assets/index.html").status_code == 404  # the bundle's demo page points at petstore
    assert not re.search(r"https?://", page.text)
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/static/docs.js"} <= set(refs)
    for ref, r in assets.items():
        assert r.status_code == 200 and len(r.content) > 100, ref
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self';" in csp and "unsafe" not in csp
    assert "http" not in csp
    assert "validatorUrl: null" in assets["/static/docs.js"].text  # no badge fetched from validator.swagger.io


def test_healthz_waited_for_the_warm_workers(server: Server) -> None:
    with server.client(None) as c:
        health = c.get("/healthz").json()
    assert health["status"] == "ok" and health["workers"] == 2 and health["warmup_s"] > 0
    assert "warmup_errors" not in health
    assert re.search(r"workers ready: 2 in [0-9.]+ s", server.log.read_text("utf-8", "replace"))


def test_log_has_request_ids_and_no_secrets(server: Server) -> None:
    time.sleep(0.2)
    log = server.log.read_text("utf-8", "replace")
    assert re.search(r"request_id=card-req-1 method=POST route=/v1/scan status=200 decision=block", log)
    for secret in (TOKEN, SECRET, SECRET_NAME, text_fixtures.CARD_PAN, text_fixtures.CARD_PAN.replace(" ", "")):
        assert secret not in log


# --- in process: the store hook and the fail-closed 500 -----------------------------------------

class _Store:
    """A report store like the audit store: lookup/record; `broken` makes lookup raise (a server bug)."""

    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
        self.rows: dict[tuple[str, str, str], Any] = {}

    def lookup(self, sha256: str, policy_hash: str, version: str) -> Any:
        if self.broken:
            raise RuntimeError("database is locked: card 4539148803436467")
        return self.rows.get((sha256, policy_hash, version))

    def record(self, sha256: str, policy_hash: str, version: str, report: Any, reused: bool = False) -> None:
        self.rows[(sha256, policy_hash, version)] = report


def _app_client(store: _Store) -> Any:
    from fastapi.testclient import TestClient

    from scanner import Settings
    from scanner.service import create_app

    app = create_app(Settings(detectors=("metadata",), jobs=1), [TOKEN], store=store, workers=1)
    return TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})


def test_store_hook_records_and_answers(fx: dict[str, Path]) -> None:
    store = _Store()
    data = fx["gps_dirty.jpg"].read_bytes()
    with _app_client(store) as c:
        first = c.post("/v1/scan", files={"file": ("x.jpg", data)})
    assert first.headers["x-leakscan-cache"] == "miss"
    (sha, policy_hash, version), = store.rows
    from scanner import Settings
    from scanner.audit import policy_hash as audit_hash

    assert sha == hashlib.sha256(data).hexdigest() and version
    assert policy_hash == audit_hash(Settings(detectors=("metadata",)))  # the key the watcher and CLI use too
    with _app_client(store) as c:  # a new process (empty LRU): the store answers
        second = c.post("/v1/scan", files={"file": ("y.jpg", data)})
    assert second.headers["x-leakscan-cache"] == "hit"
    assert second.json()["decision"] == "review" and second.json()["path"] == "y.jpg"


def test_server_bug_is_500_that_says_review(fx: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    with _app_client(_Store(broken=True)) as c:
        r = c.post("/v1/scan", files={"file": ("x.jpg", fx["clean.jpg"].read_bytes())})
    assert r.status_code == 500
    assert r.json()["decision"] == "review" and r.json()["request_id"] == r.headers["x-request-id"]
    assert "4539" not in r.text and "4539" not in caplog.text


@pytest.mark.skipif(not shutil.which("node"), reason="node not installed")
def test_page_script_parses() -> None:
    script = ROOT / "scanner" / "service" / "static" / "app.js"
    assert subprocess.run(["node", "--check", str(script)], capture_output=True).returncode == 0


def test_the_audit_trail_records_every_answer_and_serves_repeats(fx: dict[str, Path], tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from scanner import Settings
    from scanner.audit import AuditStore, Recorder
    from scanner.service import create_app
    from scanner.service.scanning import AuditReportStore

    settings = Settings(detectors=("metadata",), jobs=1, audit_db=str(tmp_path / "audit.sqlite"))
    data = fx["gps_dirty.jpg"].read_bytes()
    for name in ("first.jpg", "again.jpg"):  # two processes' worth of apps: the second answers from SQLite
        store = AuditReportStore(Recorder(settings, "serve"))
        app = create_app(settings, [TOKEN], store=store, workers=1)
        with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            r = c.post("/v1/scan", files={"file": (name, data)})
        assert r.json()["decision"] == "review"
    assert r.headers["x-leakscan-cache"] == "hit"
    rows = AuditStore(tmp_path / "audit.sqlite").history()
    assert [(row["source"], row["decision"]) for row in rows] == [("serve", "review")] * 2
    assert sorted(int(row["reused"]) for row in rows) == [0, 1]


def test_fix_of_a_document_keeps_its_extension_and_type(server: Server, tmp_path: Path) -> None:
    """The copy of a DOCX was sent as `x.safe` with application/octet-stream (the CLI kept `.docx`)."""
    from fixtures.office_fixtures import docx

    path = tmp_path / "plan.docx"
    path.write_bytes(docx(dirty=True))
    with server.client() as c:
        r = _post(c, path, route="/v1/fix")
    assert r.status_code == 200, r.text
    assert 'filename="plan.safe.docx"' in r.headers["content-disposition"]
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_a_client_that_goes_away_mid_upload_is_not_a_server_error(server: Server) -> None:
    """It was logged as ERROR "unhandled ClientDisconnect" with status 500 (alerts fire on those)."""
    host, port = server.url.removeprefix("http://").split(":")
    body = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.jpg\"\r\n\r\n" + b"\xff" * 1000
    with socket.create_connection((host, int(port))) as s:
        s.sendall(b"POST /v1/scan HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode()
                  + b"\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n" + body)
    deadline = time.monotonic() + 20
    while "client disconnected" not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = server.log.read_text()
    assert "client disconnected" in log and "unhandled ClientDisconnect" not in log


def test_jobs_past_the_queue_limit_are_refused_before_the_upload_is_read(fx: dict[str, Path],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.service import app as service_app

    monkeypatch.setattr(service_app, "MAX_QUEUED_JOBS", 0)
    with _app_client(_Store()) as c:
        r = c.post("/v1/jobs", files={"file": ("x.jpg", fx["clean.jpg"].read_bytes())})
    assert r.status_code == 503 and r.headers["retry-after"] == "5"


# --- the upload's name ---------------------------------------------------------------------------

CARD = "4111 1111 1111 1111"


@pytest.mark.parametrize("first", ["holiday.jpg", f"card {CARD}.jpg"])
def test_a_card_number_in_the_uploads_name_is_found_whatever_came_first(server: Server, fx: dict[str, Path],
                                                                        tmp_path: Path, first: str) -> None:
    """The same bytes under an ordinary name and under a card number, in either order (the second one is
    answered from the cache): the card name blocks, masked; the ordinary name is not blocked by the other's."""
    photo = tmp_path / "photo.jpg"  # bytes of their own per case: the cache starts cold for them
    photo.write_bytes(fx["clean.jpg"].read_bytes() + (b"\0" if first == "holiday.jpg" else b"\0\0"))
    names = [first, "holiday.jpg" if first != "holiday.jpg" else f"card {CARD}.jpg"]
    with server.client() as c:
        answers = [_post(c, photo, name=name) for name in names]
    for name, answer in zip(names, answers, strict=True):
        assert answer.status_code == 200 and CARD not in answer.text and CARD.replace(" ", "") not in answer.text
        body = answer.json()
        if "card" in name:
            assert body["decision"] == "block" and body["path"].startswith("[name masked ")
            assert any(f["location"] == "file name" for f in body["findings"])
        else:
            assert body["decision"] != "block" and body["path"] == "holiday.jpg"
            assert not any(f["location"] == "file name" for f in body["findings"])
    assert answers[1].headers["x-leakscan-cache"] == "hit"
    assert CARD not in server.log.read_text() and CARD.replace(" ", "") not in server.log.read_text()


def _no_card(text: str) -> bool:
    return CARD not in text and CARD.replace(" ", "") not in text and CARD.replace(" ", "%20") not in text


@pytest.mark.parametrize("name", [f"\u200e{CARD}.jpg", "A" * 236 + f" {CARD}.jpg"])
def test_a_card_number_behind_an_invisible_character_or_a_long_name_is_found(server: Server, fx: dict[str, Path],
                                                                            name: str) -> None:
    with server.client() as c:
        r = _post(c, fx["clean.jpg"], name=name)
    assert r.json()["decision"] == "block" and _no_card(r.text)


def test_jobs_and_safe_copies_never_show_the_card_in_the_name(server: Server, fx: dict[str, Path]) -> None:
    name = f"card {CARD}.jpg"
    with server.client() as c:
        queued = _post(c, fx["gps_dirty.jpg"], name=name, route="/v1/jobs")
        job = _wait_job(c, queued.json()["id"])
        fixed = _post(c, fx["gps_dirty.jpg"], name=name, route="/v1/fix")
    assert _no_card(queued.text) and _no_card(json.dumps(job)) and job["decision"] == "block"
    assert job["path"].startswith("[name masked ")
    assert fixed.status_code == 200 and _no_card(json.dumps(dict(fixed.headers)))
    assert "name_masked_" in fixed.headers["content-disposition"]


@pytest.mark.parametrize("disposition", [
    "filename*=UTF-8''card%204111%201111%201111%201111.jpg",  # only the RFC 5987 form: it was read as no name
    "filename=\"card 4111 1111 1111 1111.jpg\"; filename*=UTF-8''holiday.jpg",  # the plain one differs: read too
])
def test_a_card_number_in_an_extended_file_name_is_found(server: Server, fx: dict[str, Path], disposition: str) -> None:
    body = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; " + disposition.encode() +
            b"\r\nContent-Type: application/octet-stream\r\n\r\n" + fx["clean.jpg"].read_bytes() + b"\r\n--B--\r\n")
    with server.client() as c:
        r = c.post("/v1/scan", content=body, headers={"Content-Type": "multipart/form-data; boundary=B"})
    assert r.status_code == 200 and r.json()["decision"] == "block" and _no_card(r.text)
    assert any(f["location"] == "file name" for f in r.json()["findings"])
