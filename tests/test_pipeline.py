"""Pipeline seams with small stand-in detectors: errors, timeouts and crashes fail closed; batches."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from scanner.config import Settings
from scanner.errors import EngineUnavailable, ItemTimeout
from scanner.model import Decision, Finding, Severity
from scanner.pipeline import Pipeline, deadline
from scanner.subject import Subject


class Stub:
    """A detector whose behaviour the test sets; a stand-in for one seam, not for an engine."""

    id = "stub"
    rules = ("stub.seen", "stub.noise")

    def __init__(self, action) -> None:
        self.action = action
        self.batches: list[int] = []

    def accepts(self, subject: Subject) -> bool:
        return True

    def detect(self, subject: Subject) -> list[Finding]:
        return self.action(subject)


class BatchStub(Stub):
    def detect_batch(self, subjects: Sequence[Subject]) -> list[list[Finding]]:
        self.batches.append(len(subjects))
        return [self.action(s) for s in subjects]


def _raise(exc: Exception):
    def act(_s: Subject) -> list[Finding]:
        raise exc
    return act


def _sleep(_s: Subject) -> list[Finding]:
    time.sleep(5)
    return []


@pytest.mark.parametrize(("action", "code"), [
    (_raise(EngineUnavailable("tesseract is not installed")), "engine_unavailable"),
    (_raise(RuntimeError("bug")), "internal"),
    (_sleep, "timeout"),
])
def test_detector_failures_give_review(fx, action, code: str) -> None:
    pipe = Pipeline(Settings(timeout_s=0.2), detectors=[Stub(action)])
    (report,) = pipe.scan_paths([str(fx["clean.jpg"])])
    assert report.decision == Decision.REVIEW
    assert [e.code for e in report.errors] == [code]


def test_deadline_raises_and_restores() -> None:
    with pytest.raises(ItemTimeout), deadline(0.05):
        time.sleep(1)
    with deadline(1):
        pass  # no alarm left behind
    time.sleep(0.01)


def test_batch_detectors_see_the_whole_chunk(fx) -> None:
    det = BatchStub(lambda s: [Finding("stub.seen", "stub", Severity.LOW, 1.0, s.item.sha256[:8])])
    pipe = Pipeline(Settings(), detectors=[det])
    reports = pipe.scan_paths([str(fx["clean.jpg"]), str(fx["gps_dirty.png"]), str(fx["empty.jpg"])])
    assert det.batches == [2]  # the unreadable file never reaches detectors
    assert [r.findings[0].message if r.findings else None for r in reports] == [
        reports[0].sha256[:8], reports[1].sha256[:8], None]
    assert reports[2].errors[0].code == "unsupported"


def test_one_bad_file_does_not_spoil_its_batch(fx) -> None:
    from scanner.errors import CorruptItem

    def act(s: Subject) -> list[Finding]:
        if s.item.kind == "image/png":
            raise CorruptItem("bad pixels")
        return [Finding("stub.seen", "stub", Severity.LOW, 1.0, "seen")]

    det = BatchStub(act)
    good, bad = Pipeline(Settings(), detectors=[det]).scan_paths([str(fx["clean.jpg"]), str(fx["clean.png"])])
    assert det.batches == [2]
    assert good.errors == () and good.findings[0].rule_id == "stub.seen"
    assert [e.code for e in bad.errors] == ["corrupt"] and bad.decision == Decision.REVIEW


def test_unhandled_kind_is_not_approved(fx) -> None:
    class ImagesOnly(Stub):
        def accepts(self, subject: Subject) -> bool:
            return subject.item.kind.startswith("image/")

    (report,) = Pipeline(Settings(), detectors=[ImagesOnly(lambda s: [])]).scan_paths([str(fx["not_an_image.jpg"])])
    assert report.decision == Decision.REVIEW and report.errors[0].code == "unsupported"


def test_policy_applies_overrides_before_deciding(fx) -> None:
    from scanner.policy import parse_policy

    det = Stub(lambda s: [Finding("stub.noise", "stub", Severity.HIGH, 1.0, "noise")])
    policy = parse_policy({"rules": {"stub.noise": {"enabled": False}}})
    (report,) = Pipeline(Settings(policy=policy), detectors=[det]).scan_paths([str(fx["clean.jpg"])])
    assert report.decision == Decision.APPROVE and report.findings == ()


def test_config_errors_surface_before_workers_start(cli, fx, tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[decisons]\nmedium = 'block'\n")
    for jobs in ("1", "2"):
        paths = (str(fx["clean.jpg"]), str(fx["gps_dirty.jpg"]))
        assert cli("scan", "-q", "-j", jobs, "--policy", str(bad), *paths).code == 2
    assert cli("scan", "-q", "-j", "2", "--detectors", "metdata", str(fx["gps_dirty.jpg"])).code == 2


def _die(paths: Sequence[str]) -> None:
    import os

    os._exit(3)  # a worker killed mid-chunk (out of memory, SIGKILL)


def test_a_dying_worker_gives_review_not_a_crash(fx, monkeypatch) -> None:
    from scanner import runner

    monkeypatch.setattr(runner, "_scan_chunk", _die)
    reports = list(runner.run([str(fx["clean.jpg"]), str(fx["clean.png"])], Settings(jobs=2, batch_size=1)))
    assert len(reports) == 2
    assert all(r.decision == Decision.REVIEW and r.errors[0].code == "internal" for r in reports)


def test_subject_caches_each_size_and_filter_once() -> None:
    import hashlib
    import io

    from PIL import Image

    from scanner.model import Item

    buf = io.BytesIO()
    Image.radial_gradient("L").resize((1600, 1200)).convert("RGB").save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    subject = Subject(Item("g.jpg", data, hashlib.sha256(data).hexdigest(), "image/jpeg"), Settings())
    fast, sharp = subject.picture(640, fast_resize=True), subject.picture(640)
    assert fast is not sharp and fast.size == sharp.size == (640, 480)
    assert subject.picture(640, fast_resize=True) is fast and subject.picture(640) is sharp
    assert subject.picture(None, fast_resize=True) is subject.picture(None)  # no downscale: no filter to pick


def test_containers_are_scanned_one_at_a_time(fx, tmp_path) -> None:
    """Memory bound: the members of one container are done before the next container is opened."""
    import zipfile

    from scanner.containers.archive import ArchiveExpander

    events: list[tuple[str, str]] = []
    real = ArchiveExpander(Settings())

    class Recording:
        id, kinds = "recording", real.kinds

        def expand(self, item, budget):
            events.append(("open", item.source.rsplit("/", 1)[-1]))
            yield from real.expand(item, budget)

    det = Stub(lambda s: events.append(("detect", s.item.source.rsplit("/", 1)[-1])) or [])
    holders = []
    for name in ("a.zip", "b.zip"):
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as zf:
            zf.write(fx["clean.jpg"], "one.jpg")
        holders.append(str(path))
    pipe = Pipeline(Settings(), detectors=[det], expanders={"application/zip": Recording()})
    pipe.scan_paths([holders[0], str(fx["clean.jpg"]), holders[1]])
    assert events.index(("open", "b.zip")) > events.index(("detect", "a.zip"))


def test_a_time_limit_running_out_while_an_engine_loads_is_not_the_engines_failure() -> None:
    """The per-file limit can run out inside a model load (the first file of a worker): that file is reviewed
    (timeout), the next one builds the engine again; a real start failure is remembered."""
    from scanner.config import Settings
    from scanner.engines import EngineSet
    from scanner.errors import EngineUnavailable, ItemTimeout

    calls: list[int] = []

    def slow_then_fine(_settings: Settings) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ItemTimeout("analysis took longer than 0.1 s")
        return "engine"

    engines = EngineSet(Settings())
    with pytest.raises(ItemTimeout):
        engines.get("ocr", slow_then_fine)
    assert engines.get("ocr", slow_then_fine) == "engine" and len(calls) == 2

    def broken(_settings: Settings) -> str:
        calls.append(1)
        raise EngineUnavailable("no model")

    for _ in range(2):
        with pytest.raises(EngineUnavailable):
            engines.get("faces", broken)
    assert len(calls) == 3
