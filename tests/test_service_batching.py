"""The micro-batcher and the warm start: its seam with a fake scan function (grouping by size and by wait,
reports matched by path, failures answered with review), then a real `leakscan serve` process answering
many concurrent uploads, each with its own report, in shared batches."""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from scanner import Settings
from scanner.model import ErrorRecord, FileReport
from scanner.service.batcher import Batcher, BatchOptions
from scanner.sources import display_path
from tests.serving import running_server

SETTINGS = Settings(detectors=("metadata",))


def _report(path: str, decision_error: str | None = None) -> FileReport:
    errors = (ErrorRecord("internal", decision_error, "test"),) if decision_error else ()
    return FileReport(display_path(path), hashlib.sha256(path.encode()).hexdigest(), "image/jpeg", 1,
                      SETTINGS.policy.decide((), errors), (), errors)


def _fail(path: str, reason: str) -> FileReport:
    return _report(path, reason)


class FakeScan:
    """Records each batch; answers in reverse order (so matching by order would mislabel)."""

    def __init__(self, answer: Any = None) -> None:
        self.batches: list[list[str]] = []
        self.answer = answer or (lambda paths: [_report(p) for p in reversed(paths)])
        self.lock = threading.Lock()

    def __call__(self, paths: Sequence[str]) -> list[FileReport]:
        with self.lock:
            self.batches.append(list(paths))
        time.sleep(0.01)
        result: list[FileReport] = self.answer(list(paths))
        return result


async def _submit_all(batcher: Batcher, paths: list[str], gap_s: float = 0.0) -> list[FileReport]:
    batcher.start()
    try:
        tasks = []
        for p in paths:
            tasks.append(asyncio.create_task(batcher.submit(p)))
            await asyncio.sleep(gap_s)
        return list(await asyncio.gather(*tasks))
    finally:
        await batcher.close()


def test_batches_fill_up_to_max_batch() -> None:
    scan = FakeScan()
    batcher = Batcher(scan, _fail, BatchOptions(max_batch=3, max_wait_ms=2000), slots=1)
    paths = [f"/up/{i}.jpg" for i in range(7)]
    t0 = time.monotonic()
    reports = asyncio.run(_submit_all(batcher, paths))
    assert [len(b) for b in scan.batches] == [3, 3, 1]
    assert [r.path for r in reports] == paths  # each request its own report, though answered in reverse
    assert all(r.verdict.decision.name == "APPROVE" for r in reports)
    assert time.monotonic() - t0 >= 1.5  # the last, lone upload waited max_wait for company


def test_a_batch_closes_after_max_wait() -> None:
    scan = FakeScan()
    batcher = Batcher(scan, _fail, BatchOptions(max_batch=8, max_wait_ms=50), slots=2)
    paths = [f"/up/{i}.jpg" for i in range(3)]

    async def go() -> list[FileReport]:
        batcher.start()
        try:
            first = [asyncio.create_task(batcher.submit(p)) for p in paths[:2]]
            await asyncio.sleep(0.4)  # well past max_wait: the first two have gone
            later = asyncio.create_task(batcher.submit(paths[2]))
            return list(await asyncio.gather(*first, later))
        finally:
            await batcher.close()

    reports = asyncio.run(go())
    assert scan.batches == [paths[:2], paths[2:]]
    assert [r.path for r in reports] == paths


def test_max_wait_zero_sends_what_is_there() -> None:
    scan = FakeScan()
    batcher = Batcher(scan, _fail, BatchOptions(max_batch=8, max_wait_ms=0), slots=1)
    reports = asyncio.run(_submit_all(batcher, ["/a", "/b"], gap_s=0.2))
    assert scan.batches == [["/a"], ["/b"]] and [r.path for r in reports] == ["/a", "/b"]


def test_a_missing_a_doubled_or_a_stranger_report_never_mislabels() -> None:
    def answer(paths: list[str]) -> list[FileReport]:
        # /0 missing, /1 twice, /2 fine, plus a report for a file nobody sent
        return [_report(paths[1]), _report(paths[1]), _report(paths[2]), _report("/someone/else.jpg")]

    batcher = Batcher(FakeScan(answer), _fail, BatchOptions(max_batch=3, max_wait_ms=500), slots=1)
    reports = asyncio.run(_submit_all(batcher, ["/0", "/1", "/2"]))
    assert [r.path for r in reports] == ["/0", "/1", "/2"]
    assert [r.verdict.decision.name for r in reports] == ["REVIEW", "REVIEW", "APPROVE"]
    assert "0 reports came back" in reports[0].errors[0].message
    assert "2 reports came back" in reports[1].errors[0].message


def test_a_batch_that_raises_gives_each_upload_a_review() -> None:
    def answer(paths: list[str]) -> list[FileReport]:
        raise OSError("pipe broke: card 4539148803436467")

    batcher = Batcher(FakeScan(answer), _fail, BatchOptions(max_batch=2, max_wait_ms=500), slots=1)
    reports = asyncio.run(_submit_all(batcher, ["/x", "/y"]))
    assert [r.path for r in reports] == ["/x", "/y"]
    assert all(r.verdict.decision.name == "REVIEW" for r in reports)
    assert all("OSError" in r.errors[0].message and "4539" not in r.errors[0].message for r in reports)


def test_close_answers_whoever_waits() -> None:
    release = threading.Event()

    def answer(paths: list[str]) -> list[FileReport]:
        release.wait(5)
        return [_report(p) for p in paths]

    batcher = Batcher(FakeScan(answer), _fail, BatchOptions(max_batch=1, max_wait_ms=0), slots=1)

    async def go() -> list[FileReport]:
        batcher.start()
        tasks = [asyncio.create_task(batcher.submit(p)) for p in ("/busy", "/queued")]
        await asyncio.sleep(0.2)
        assert batcher.queued == 1 and batcher.scanning == 1
        release.set()
        closing = asyncio.create_task(batcher.close())
        out = list(await asyncio.gather(*tasks))
        await closing
        return out

    reports = asyncio.run(go())
    assert [r.path for r in reports] == ["/busy", "/queued"]
    assert all(r.verdict is not None for r in reports)


@pytest.mark.parametrize(("max_batch", "max_wait_ms"), [(0, 20), (257, 20), (8, -1), (8, 10_001)])
def test_options_are_validated(max_batch: int, max_wait_ms: float) -> None:
    with pytest.raises(ValueError, match="max_"):
        BatchOptions(max_batch, max_wait_ms)


@pytest.mark.parametrize("flags", [["--max-batch", "0"], ["--max-wait-ms", "-5"], ["--max-batch", "x"]])
def test_serve_rejects_bad_batch_options(cli: Any, flags: list[str]) -> None:
    result = cli("serve", "--no-auth", "--port", "1", *flags)
    assert result.code == 2


# --- warm start (in process: the warm-up held back by a seam) ------------------------------------

def test_healthz_says_starting_until_every_worker_is_warm(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from scanner.service import create_app, scanning

    gate = threading.Event()
    real_warm = scanning.warm

    def held_warm(pool: Any, folder: str) -> Any:
        gate.wait(30)
        return real_warm(pool, folder)

    monkeypatch.setattr(scanning, "warm", held_warm)
    app = create_app(Settings(detectors=("metadata",), jobs=1), no_auth=True, workers=1)
    with TestClient(app) as c:
        starting = c.get("/healthz")
        gate.set()
        for _ in range(300):
            ready = c.get("/healthz")
            if ready.status_code == 200:
                break
            time.sleep(0.1)
    assert starting.status_code == 503 and starting.json()["status"] == "starting"
    assert ready.status_code == 200 and ready.json()["status"] == "ok" and ready.json()["workers"] == 1


# --- a real server ---------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(p) for p in task.read_text().split()]
    return found


def test_concurrent_posts_share_batches_and_each_gets_its_own_answer(fx: dict[str, Path], tmp_path: Path) -> None:
    from scanner.pipeline import Pipeline

    names = ["gps_dirty.jpg", "clean.jpg", "truncated.jpg", "gps_southwest.jpg", "clean.png", "not_an_image.jpg",
             "identity_dirty.jpg", "gps_dirty.png", "empty.jpg", "gps_xmp_only.jpg", "control_chars.jpg",
             "thumbnail_stale.jpg"]
    reports = Pipeline(SETTINGS).scan_paths([str(fx[n]) for n in names])  # the same files, scanned here
    expected = {Path(r.path).name: r.verdict.decision.name.lower() for r in reports}
    assert len(set(expected.values())) >= 2  # the set mixes decisions, so a swapped answer would show
    args = ["--no-auth", "-j", "2", "--max-batch", "4", "--max-wait-ms", "300"]
    with running_server(tmp_path, args, {"LEAKSCAN_DETECTORS": "metadata"}) as server:
        assert len(_children(server.process.pid)) >= 2  # warm: the workers run before any request

        def post(name: str) -> httpx.Response:
            files = {"file": (f"upload-{name}", fx[name].read_bytes(), "application/octet-stream")}
            return httpx.post(server.url + "/v1/scan", files=files, timeout=120, trust_env=False)

        with ThreadPoolExecutor(len(names)) as pool:
            answers = dict(zip(names, pool.map(post, names), strict=True))
        metrics = httpx.get(server.url + "/metrics", trust_env=False).text
    for name, r in answers.items():
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["path"] == f"upload-{name}"
        if fx[name].stat().st_size:
            assert body["sha256"] == hashlib.sha256(fx[name].read_bytes()).hexdigest()
        assert body["decision"] == expected[name], name
    count = float(re.search(r"^leakscan_batch_size_count ([0-9.]+)", metrics, re.M).group(1))  # type: ignore[union-attr]
    assert count < len(names)  # fewer batches than uploads: some were scanned together
    assert "leakscan_queue_depth 0.0" in metrics
