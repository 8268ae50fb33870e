"""A file's own name is untrusted text that travels with it (an attachment's, an upload's, a dropped file's name):
a card number or a password in it is a finding, and the scanner never prints it. Real CLI, store, drop folder and
service; pictures made here (a textless photo: only the name can be found)."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures.metadata_fixtures import scene
from scanner import scan
from scanner.config import Settings
from scanner.expansion import FILE_NAME

CARD = "4111 1111 1111 1111"
CARD_NAME = f"card {CARD}.jpg"
NO_PIXELS = Settings(detectors=("metadata",), jobs=1, audit_db="off")


def _photo(seed: int = 3) -> bytes:
    buf = io.BytesIO()
    scene(96, 64, seed=seed).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _printed(text: str) -> bool:
    """The card number in any usual spelling."""
    return CARD in text or CARD.replace(" ", "") in text or CARD.replace(" ", "-") in text


def _db_text(path: Path) -> str:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT * FROM decisions").fetchall()
    return json.dumps(rows, default=str)


def test_a_card_number_as_the_file_name_blocks_and_is_masked(tmp_path: Path, cli: Callable[..., Any]) -> None:
    (tmp_path / CARD_NAME).write_bytes(_photo())
    (report,) = scan(tmp_path / CARD_NAME, NO_PIXELS).files
    assert report.decision.label == "block"
    assert [(f.rule_id, f.location) for f in report.findings] == [("text.payment_card", FILE_NAME)]
    assert "[name masked " in report.path and not _printed(json.dumps(report.to_dict()))
    assert "Rename" in report.verdict.reasons[0].fix
    db = tmp_path / "audit.sqlite"
    os.environ["LEAKSCAN_AUDIT_DB"] = str(db)
    try:
        for fmt in ("console", "jsonl"):
            result = cli("scan", "--detectors", "metadata", "--format", fmt, str(tmp_path / CARD_NAME))
            assert result.code == 1 and "ending 1111" in result.out
            assert not _printed(result.out + result.err)
    finally:
        del os.environ["LEAKSCAN_AUDIT_DB"]
    assert not _printed(_db_text(db)) and "[name masked " in _db_text(db)


@pytest.mark.parametrize(("name", "rule"), [("password_Sup3rS3cret.png", "text.secret"),
                                            ("4111_1111_1111_1111.jpg", "text.payment_card"),
                                            ("NL91ABNA0417164300.jpg", "text.iban"),
                                            ("4111111111111111_20240101_123456.jpg", "text.payment_card"),
                                            ("wifi pass: Guest35c9d4.png", "text.secret")])
def test_names_spelt_as_files_are_spelt(tmp_path: Path, name: str, rule: str) -> None:
    (tmp_path / name).write_bytes(_photo())
    (report,) = scan(tmp_path / name, NO_PIXELS).files
    assert [f.rule_id for f in report.findings] == [rule] and name not in json.dumps(report.to_dict())


def test_a_folder_name_is_masked_but_not_a_finding(tmp_path: Path) -> None:
    folder = tmp_path / "password=Hunter2024x"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(_photo())
    (report,) = scan(folder, NO_PIXELS).files
    assert report.decision.label == "approve" and "Hunter2024x" not in report.path
    assert report.path.endswith("/holiday.jpg")


@pytest.mark.parametrize("name", ["password policy.jpg", "IMG_20240101_123456.jpg", "PXL_20231231_235959123.jpg",
                                  "WhatsApp Image 2024-01-01 at 12.34.56.jpeg", "received_1234567890123456.jpeg",
                                  "Boarding pass 2024-05-12.pdf", "Login-Page-v2.png", "wifi QR-code.png",
                                  "telegram-cloud-photo-size-4-4491186252760189555-x.jpg", "PIN codes.jpg",
                                  # Instagram/Facebook downloads: a Luhn-valid middle id (1 in 10 of them) is chance
                                  "99156320_4614348751113187_9709276813034389444_n.jpg",
                                  "461433223_375205193317395_3903578005785271859_n.jpg",
                                  # Messenger's saved pictures, an order number's groups, a UUID's digit groups
                                  "received_4290058434816665.jpeg", "Order 505-1640300-8491522.pdf",
                                  "547d053e-0372-5113-acab-5c6111c1d2cf.png", "PXL_20230802_003529568.jpg"])
def test_ordinary_names_are_no_finding(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(_photo())
    (report,) = scan(tmp_path / name, NO_PIXELS).files
    assert report.decision.label == "approve" and report.path.endswith(name), report.verdict.reasons


@pytest.mark.parametrize("first", ["innocent", "card"])
def test_the_store_answers_the_same_bytes_under_another_name_only_without_name_findings(
        tmp_path: Path, cli: Callable[..., Any], first: str) -> None:
    store, data = tmp_path / "results.sqlite", _photo()
    innocent, card = tmp_path / "a" / "holiday.jpg", tmp_path / "b" / CARD_NAME
    for path in (innocent, card):
        path.parent.mkdir()
    order = [innocent, card] if first == "innocent" else [card, innocent]
    for n, path in enumerate(order):
        path.write_bytes(data)
        result = cli("scan", "--detectors", "metadata", "--format", "jsonl", "--store", str(store), str(path))
        (body,) = [json.loads(line) for line in result.out.splitlines()]
        assert body["decision"] == ("block" if path == card else "approve"), (n, body["reasons"])
        assert not _printed(result.out + result.err)
    again = cli("scan", "--detectors", "metadata", "--format", "jsonl", "--store", str(store), str(card))
    assert json.loads(again.out)["decision"] == "block" and "1 from the store" in again.err
    with sqlite3.connect(store) as db:  # found by its masked name and stat: no second row
        assert db.execute("SELECT COUNT(*) FROM decisions WHERE name LIKE '%name masked%'").fetchone()[0] == 1
    assert not _printed(_db_text(store))


def test_fix_shows_the_copy_masked_and_keeps_the_original(tmp_path: Path, cli: Callable[..., Any]) -> None:
    (tmp_path / CARD_NAME).write_bytes(_photo())
    out = tmp_path / "safe"
    result = cli("fix", "--out", str(out), str(tmp_path / CARD_NAME))
    assert result.code == 1 and "in the name of the file" in result.out  # the copy keeps the name: still a human's
    assert not _printed(result.out + result.err)
    assert (tmp_path / CARD_NAME).read_bytes() == _photo() and len(list(out.iterdir())) == 1


def test_a_dropped_file_named_with_a_card_number_is_blocked_and_masked(tmp_path: Path) -> None:
    from tests.test_watch import Watch, put, wait_for

    w = Watch(tmp_path / "drop", tmp_path / "audit.sqlite")
    try:
        put(w.root, CARD_NAME, _photo())
        wait_for(lambda: (w.root / "blocked" / CARD_NAME).exists(), "the file to be filed")
        sidecar = (w.root / "blocked" / f"{CARD_NAME}.leakscan.json").read_text("utf-8")
        wait_for(lambda: (w.root / "leakscan.log").exists(), "the log")
    finally:
        w.stop()
    assert json.loads(sidecar)["decision"] == "block" and not _printed(sidecar)
    assert not _printed((w.root / "leakscan.log").read_text("utf-8"))
    assert not _printed(_db_text(tmp_path / "audit.sqlite"))


def test_the_name_check_is_the_same_for_members(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "a.zip", "w") as z:
        z.writestr("password policy.jpg", _photo())
        z.writestr(CARD_NAME, _photo(4))
    (report,) = scan(tmp_path / "a.zip", NO_PIXELS).files
    assert [f.location for p in report.parts for f in p.findings] == ["member name"]  # the card, not the policy
    assert not _printed(json.dumps(report.to_dict()))
    shutil.rmtree(tmp_path)


@pytest.mark.parametrize("name", ["\u200e" + CARD + ".jpg", "\npassword Sup3rS3cret.jpg", "card\u200b" + CARD + ".jpg",
                                  "pass\u00adword=Sup3rS3cret.png", CARD + " 2.jpg", "4111 1111 1111.1111"])
def test_invisible_characters_copy_marks_and_digit_extensions_do_not_hide_a_name(tmp_path: Path, name: str,
                                                                                cli: Callable[..., Any]) -> None:
    (tmp_path / name).write_bytes(_photo())
    result = cli("scan", "--detectors", "metadata", "--format", "jsonl", str(tmp_path / name))
    assert json.loads(result.out)["decision"] == "block" and not _printed(result.out + result.err)
    assert "Sup3rS3cret" not in result.out + result.err


def test_fix_never_names_an_existing_copy_in_full(tmp_path: Path, cli: Callable[..., Any]) -> None:
    (tmp_path / CARD_NAME).write_bytes(_photo())
    cli("fix", str(tmp_path / CARD_NAME))
    again = cli("fix", "--format", "json", str(tmp_path / CARD_NAME))  # its copy exists now
    assert "exists" in again.out and not _printed(again.out + again.err)


def test_the_drop_folder_answers_from_its_trail_only_under_a_name_without_findings(tmp_path: Path) -> None:
    from tests.test_watch import Watch, put, wait_for

    w = Watch(tmp_path / "drop", tmp_path / "audit.sqlite")
    try:
        put(w.root, "holiday.jpg", _photo())
        wait_for(lambda: (w.root / "approved" / "holiday.jpg").exists(), "the first file")
        put(w.root, CARD_NAME, _photo())  # the same bytes: the trail knows them as approved
        wait_for(lambda: any((w.root / d / CARD_NAME).exists() for d in ("approved", "blocked")), "the second")
    finally:
        w.stop()
    assert (w.root / "blocked" / CARD_NAME).exists()


def test_ray_reports_are_matched_to_masked_paths(tmp_path: Path) -> None:
    from scanner.execution.ray_engine import ordered
    from scanner.model import ErrorRecord
    from scanner.pipeline import Pipeline
    from scanner.sources import display_path

    settings = Settings(detectors=("metadata",), jobs=1, audit_db="off")
    paths = [str(tmp_path / CARD_NAME), str(tmp_path / "holiday.jpg")]
    pipeline = Pipeline(settings, detectors=())
    reports = [pipeline.error_report(display_path(p), ErrorRecord("unreadable", "x", "read")) for p in reversed(paths)]
    assert [r.path.endswith("holiday.jpg") for r in ordered(paths, reports, settings)] == [False, True]


@pytest.mark.parametrize("archive", ["zip", "tar", "7z"])
@pytest.mark.parametrize("entry", [CARD_NAME, f"card {CARD}/"])
def test_an_empty_member_or_a_folder_entry_named_with_a_card_number_is_found(tmp_path: Path, entry: str,
                                                                             archive: str) -> None:
    """Neither becomes a child item (nothing to scan), so its name was never read."""
    import tarfile
    import zipfile

    path = tmp_path / f"a.{archive}"
    if archive == "zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr(entry, b"")
            z.writestr("notes.txt", b"hello")
    elif archive == "7z":
        import py7zr

        with py7zr.SevenZipFile(path, "w") as z:
            if entry.endswith("/"):
                (tmp_path / "folder").mkdir()
                z.write(tmp_path / "folder", entry.rstrip("/"))
            else:
                z.writestr(b"", entry)
            z.writestr(b"hello", "notes.txt")
    else:
        with tarfile.open(path, "w") as t:
            info = tarfile.TarInfo(entry.rstrip("/"))
            info.type = tarfile.DIRTYPE if entry.endswith("/") else tarfile.REGTYPE
            t.addfile(info, io.BytesIO(b""))
            note = tarfile.TarInfo("notes.txt")
            note.size = 5
            t.addfile(note, io.BytesIO(b"hello"))
    (report,) = scan(path, NO_PIXELS).files
    assert report.decision.label == "block" and not _printed(json.dumps(report.to_dict()))


def test_an_attachment_named_with_a_card_number_only_in_its_content_type_is_found(tmp_path: Path) -> None:
    """Clients show Content-Type's name= when they ignore the disposition's filename: both are read."""
    import base64

    body = base64.b64encode(_photo()).decode()
    mail = ("From: a@example.com\nTo: b@example.com\nSubject: photos\nMIME-Version: 1.0\n"
            'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nsee attached\n--b\n'
            f'Content-Type: image/jpeg; name="card {CARD}.jpg"\n'
            'Content-Disposition: attachment; filename="holiday.jpg"\n'
            f"Content-Transfer-Encoding: base64\n\n{body}\n--b--\n")
    (tmp_path / "m.eml").write_text(mail)
    (report,) = scan(tmp_path / "m.eml", NO_PIXELS).files
    assert report.decision.label == "block" and not _printed(json.dumps(report.to_dict()))
