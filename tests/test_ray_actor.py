"""The Ray engine without a Ray cluster: its actor, with one seam (its Pool's scan) replaced to reach the nets
that real files rarely reach (every path of a batch answered, in order, however the batch's scan fails);
and a --ray-address nobody answers."""

from __future__ import annotations

import pickle
import socket
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from scanner.config import Settings
from scanner.execution.ray_engine import STAGE, ScanActor, ordered
from scanner.model import Decision, ErrorRecord, FileReport

SETTINGS = Settings(detectors=("metadata",), jobs=1)
PLACEHOLDER = ErrorRecord("test", "a report to match by path", "test")  # the fakes' reports: paths matter here


@pytest.fixture
def actor() -> Iterator[ScanActor]:
    made = ScanActor(SETTINGS)  # a Pool that starts no worker until it scans
    yield made
    made.pool.close()


def test_a_batch_is_answered_in_order_with_real_reports(actor: ScanActor, fx: dict[str, Path]) -> None:
    paths = [str(fx["gps_dirty.jpg"]), str(fx["clean.jpg"]), str(fx["truncated.jpg"])]
    out = actor({"index": np.array([7, 3, 5]), "path": np.array(paths, dtype=object)})
    reports = [pickle.loads(b) for b in out["report"]]
    assert out["index"] == [7, 3, 5]
    assert [r.path for r in reports] == paths
    assert [r.decision for r in reports] == [Decision.REVIEW, Decision.APPROVE, Decision.REVIEW]


def test_a_batch_that_raises_is_scanned_file_by_file_and_a_file_that_raises_gets_review(
        actor: ScanActor, monkeypatch: pytest.MonkeyPatch) -> None:
    scanned: list[tuple[str, ...]] = []

    def fragile(paths: Sequence[str], chunk: int | None = None) -> Iterator[FileReport]:
        scanned.append(tuple(paths))
        if len(paths) > 1 or paths[0].endswith("bad.jpg"):
            raise RuntimeError("a bug, its message quoting file content")
        yield actor.pool.local.error_report(paths[0], PLACEHOLDER)

    monkeypatch.setattr(actor.pool, "scan", fragile)
    reports = actor._scan(["/a/one.jpg", "/a/bad.jpg", "/a/two.jpg"])
    assert scanned == [("/a/one.jpg", "/a/bad.jpg", "/a/two.jpg"), ("/a/one.jpg",), ("/a/bad.jpg",), ("/a/two.jpg",)]
    assert [r.path for r in reports] == ["/a/one.jpg", "/a/bad.jpg", "/a/two.jpg"]
    bad = reports[1]
    assert bad.decision == Decision.REVIEW
    assert [(e.code, e.stage) for e in bad.errors] == [("internal", STAGE)]
    assert "RuntimeError" in bad.errors[0].message and "file content" not in bad.errors[0].message


def test_ordered_puts_reports_back_in_input_order_and_refuses_a_missing_one(actor: ScanActor) -> None:
    a, b = (actor.pool.local.error_report(p, PLACEHOLDER) for p in ("/x/a", "/x/b"))
    assert ordered(["/x/a", "/x/b"], [b, a], Settings()) == [a, b]
    with pytest.raises(RuntimeError):
        ordered(["/x/a", "/x/b"], [b], Settings())


def test_a_ray_address_that_takes_no_connection_is_a_configuration_error_at_once(cli, fx) -> None:
    pytest.importorskip("ray")
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    res = cli("scan", "-q", "--engine", "ray", "--ray-address", f"127.0.0.1:{port}", str(fx["clean.jpg"]))
    assert res.code == 2
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in res.err
    assert time.monotonic() - t0 < 60  # Ray alone retries for minutes
