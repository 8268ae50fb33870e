"""The audit trail: idempotent lookup, history filters, concurrency, and no secret in the database bytes."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from fixtures import hardening_metadata_text
from scanner import audit
from scanner.audit import AuditStore, policy_hash
from scanner.config import Settings, build_settings


def _body(sha: str, decision: str = "approve", *, errors: bool = False, path: str = "a.jpg") -> dict:
    part = {"path": path, "location": "x/y.png", "findings": [{"rule_id": "metadata.gps"}], "reasons": [],
            "errors": [{"code": "corrupt"}] if errors else [], "parts": []}
    return {"schema_version": "2.0", "path": path, "sha256": sha, "decision": decision,
            "reasons": [{"rule_id": "metadata.identity"}], "findings": [{"rule_id": "metadata.identity"}],
            "errors": [], "parts": [part]}


def test_lookup_answers_only_the_same_content_policy_and_version(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "a.sqlite")
    store.record(_body("s1", "review"), "watch", "P1")
    assert store.lookup("s1", "P1", audit.__version__)["decision"] == "review"
    assert store.lookup("s1", "P2", audit.__version__) is None  # another policy: scan again
    assert store.lookup("s1", "P1", "9.9.9") is None  # another scanner version: scan again
    assert store.lookup("s2", "P1", audit.__version__) is None
    store.record(_body("s3", "review", errors=True), "cli", "P1")  # not fully analysed (a timeout...): never reused
    assert store.lookup("s3", "P1", audit.__version__) is None
    (row,) = [r for r in store.history() if r["sha256"] == "s1"]
    assert row["rule_ids"] == ["metadata.gps", "metadata.identity"]  # the whole tree, sorted, distinct


def test_policy_hash_ignores_speed_settings_and_follows_what_decides(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    base = policy_hash(Settings())
    assert policy_hash(Settings(jobs=7, batch_size=3, device="cpu", audit_db="off")) == base
    assert policy_hash(Settings(max_depth=1)) != base
    toml = tmp_path / "p.toml"
    toml.write_text('[decisions]\nmedium = "block"\n')  # stricter: not in `relaxed`, still a different policy
    assert policy_hash(build_settings(str(toml), env={})) != base
    monkeypatch.setattr(audit, "__version__", "9.9.9")
    assert policy_hash(Settings()) != base


def test_history_filters_by_time_and_decision(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "h.sqlite"
    store = AuditStore(db)
    for i, decision in enumerate(["approve", "block", "review", "block"]):
        store.record(_body(f"s{i}", decision, path=f"f{i}\x1b[31m.jpg"), "watch", "P")
    with sqlite3.connect(db) as conn:  # the first two were decided long ago
        conn.execute("UPDATE decisions SET time = '2020-01-01T00:00:00.000+00:00' WHERE sha256 IN ('s0', 's1')")
    monkeypatch.setenv("LEAKSCAN_AUDIT_DB", str(db))
    rows = json.loads(cli("history", "--format", "json").out)
    assert [r["sha256"] for r in rows] == ["s3", "s2", "s1", "s0"]  # newest first
    blocks = json.loads(cli("history", "--decision", "block", "--format", "json").out)
    assert [r["sha256"] for r in blocks] == ["s3", "s1"]
    recent = json.loads(cli("history", "--since", "2021-06-01", "--decision", "block", "--format", "json").out)
    assert [r["sha256"] for r in recent] == ["s3"]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE decisions SET time = '2021-06-01T00:30:00.000+00:00' WHERE sha256 = 's2'")
    local = json.loads(cli("history", "--since", "2021-06-01T02:00:00+02:00", "--format", "json").out)
    assert [r["sha256"] for r in local] == ["s3", "s2"]  # an offset is turned into UTC before comparing
    text = cli("history", "--limit", "2")
    assert text.code == 0 and len(text.out.splitlines()) == 2 and "\x1b" not in text.out
    assert cli("history", "--since", "yesterday").code == 2


def test_scan_records_each_file_and_the_store_holds_no_secret(cli, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    files = hardening_metadata_text.build(tmp_path / "fx")
    picked = [files[n] for n in ("exif_make_card.jpg", "xmp_creator_card.jpg", "png_text_keyword_card.png")]
    db = tmp_path / "trail" / "audit.sqlite"
    monkeypatch.setenv("LEAKSCAN_AUDIT_DB", str(db))
    result = cli("scan", "--detectors", "metadata", "-j", "1", "--format", "jsonl", *map(str, picked))
    assert result.code == 1 and "warning" not in result.err
    rows = AuditStore(db).history()
    assert len(rows) == 3 and {r["source"] for r in rows} == {"cli"}
    assert all(r["decision"] == "block" and "text.payment_card" in r["rule_ids"] for r in rows)
    raw = b"".join(p.read_bytes() for p in db.parent.iterdir())  # the database, its WAL and shm
    for secret in hardening_metadata_text.SECRETS:
        assert secret.encode() not in raw
    assert b"text.payment_card" in raw  # the grep reads the real rows


def test_a_trail_that_cannot_be_written_is_a_warning_never_a_failed_scan(cli, fx, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("LEAKSCAN_AUDIT_DB", str(blocker / "audit.sqlite"))  # a folder that is a file
    result = cli("scan", "--detectors", "metadata", "-j", "1", str(fx["clean.jpg"]))
    assert result.code == 0 and "approve" in result.out.lower()
    assert result.err.count("audit trail not written") == 1


def test_off_writes_nothing(cli, fx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("LEAKSCAN_AUDIT_DB", "off")
    assert cli("scan", "--detectors", "metadata", "-j", "1", str(fx["clean.jpg"])).code == 0
    assert not (tmp_path / "data").exists()
    monkeypatch.delenv("LEAKSCAN_AUDIT_DB")
    assert cli("scan", "--detectors", "metadata", "-j", "1", str(fx["clean.jpg"])).code == 0
    assert AuditStore(tmp_path / "data" / "leakscan" / "audit.sqlite").count() == 1  # the default location


def test_threads_write_at_once(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "c.sqlite")
    per_thread, threads = 50, 4

    def write(t: int) -> None:
        for i in range(per_thread):
            store.record(_body(f"{t}-{i}"), "serve", "P")

    workers = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert store.count() == per_thread * threads
    with sqlite3.connect(tmp_path / "c.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
