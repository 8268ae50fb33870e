"""`leakscan fix` end to end: real scans before and after, real ExifTool on the copies, the originals untouched."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fixtures import fix_fixtures
from fixtures.text_fixtures import CARD_PAN, payment_card
from scanner.cli import main

EXIFTOOL = shutil.which("exiftool")
PLAIN_GROUPS = {"ExifTool", "System", "File", "JFIF", "Composite", "PNG", "ZIP", "XML"}  # no metadata of the author


def run_fix(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["fix", *args])
    return code, out.getvalue()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The fix fixtures fixed in one run (full detectors), with the originals' hashes from before."""
    work = tmp_path_factory.mktemp("fix")
    files = fix_fixtures.build(work)
    hashes = {name: sha(p) for name, p in files.items()}
    code, out = run_fix("--format", "json", "-j", "1", *(str(p) for p in files.values()))
    doc = json.loads(out)
    rows = {Path(r["path"]).name: r for r in doc["files"]}
    return {"code": code, "rows": rows, "files": files, "hashes": hashes, "out": out}


def exif_groups(path: Path) -> dict[str, Any]:
    assert EXIFTOOL, "exiftool is part of the test environment"
    raw = subprocess.run([EXIFTOOL, "-j", "-a", "-G1", "-ee", str(path)], capture_output=True, check=True).stdout
    return json.loads(raw)[0]


def jpeg_ends_at_eoi(data: bytes) -> bool:
    """The first EOI after the (single) scan is the file's last two bytes: nothing is appended."""
    sos = data.find(b"\xff\xda")
    return sos > 0 and data.find(b"\xff\xd9", sos) == len(data) - 2


def test_photo_with_gps_and_card_is_approved_after_fix(fixed: dict[str, Any]) -> None:
    row = fixed["rows"]["card_gps.jpg"]
    assert row["original_decision"] == "block" and row["decision"] == "approve", row["needs_human"]
    actions = {(c["action"], c["rule_id"]) for c in row["changes"]}
    assert ("fill", "text.payment_card") in actions and ("removed", "metadata.gps") in actions
    assert row["rescan"]["decision"] == "approve"
    copy = Path(row["safe_copy"])
    assert copy.name == "card_gps.safe.jpg" and copy.parent == fixed["files"]["card_gps.jpg"].parent
    tags = exif_groups(copy)
    assert not [k for k in tags if k.split(":")[0] not in PLAIN_GROUPS and k != "SourceFile"], tags
    assert not any("GPS" in k for k in tags)
    assert jpeg_ends_at_eoi(copy.read_bytes())
    assert not jpeg_ends_at_eoi(fixed["files"]["card_gps.jpg"].read_bytes())  # the original had a trailer


def test_report_never_shows_the_card_number(fixed: dict[str, Any]) -> None:
    digits = CARD_PAN.replace(" ", "")
    assert digits not in fixed["out"].replace(" ", "") and CARD_PAN not in fixed["out"]


def test_originals_are_unchanged(fixed: dict[str, Any]) -> None:
    assert {n: sha(p) for n, p in fixed["files"].items()} == fixed["hashes"]


def test_rotated_photo_stays_upright_and_the_fill_covers_the_number(fixed: dict[str, Any]) -> None:
    row = fixed["rows"]["card_gps_exif6.jpg"]
    assert row["decision"] == "approve", row["needs_human"]
    copy = Image.open(row["safe_copy"])
    assert "exif" not in copy.info and copy.size == (856, 540)  # upright, and nothing left to rotate it again
    got = np.asarray(copy.convert("RGB"), np.float32)
    want = np.asarray(payment_card(), np.float32)
    left, top, right, bottom = fix_fixtures.CARD_BOX
    assert got[top + 10 : bottom - 10, left + 10 : right - 60].max() < 40  # the number is under a dark fill
    outside = np.ones(got.shape[:2], bool)
    for c in row["changes"]:
        if c["region"]:
            r = c["region"]
            outside[r["y"] : r["y"] + r["h"], r["x"] : r["x"] + r["w"]] = False
    assert np.abs(got - want)[outside].mean() < 6  # everything else is the upright card (JPEG noise only)


def test_docx_copy_is_approved_with_metadata_gone(fixed: dict[str, Any]) -> None:
    row = fixed["rows"]["card_gps.docx"]
    assert row["original_decision"] == "block" and row["decision"] == "approve", row["needs_human"]
    with zipfile.ZipFile(row["safe_copy"]) as zf:
        core = zf.read("docProps/core.xml").decode()
        app = zf.read("docProps/app.xml").decode()
        picture = zf.read("word/media/image1.jpeg")
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert "creator" not in core and "Company" not in app and "Template" not in app
    assert jpeg_ends_at_eoi(picture) and "exif" not in Image.open(io.BytesIO(picture)).info
    where = {c["location"] for c in row["changes"] if c["action"] == "fill"}
    assert where == {"word/media/image1.jpeg"}


def test_zip_copy_is_approved_with_comment_and_picture_metadata_gone(fixed: dict[str, Any]) -> None:
    row = fixed["rows"]["card_gps.zip"]
    assert row["decision"] == "approve", row["needs_human"]
    with zipfile.ZipFile(row["safe_copy"]) as zf:
        assert zf.comment == b"" and zf.read("notes.txt") == b"Lunch with the team.\n"
        picture = zf.read("photos/card.jpg")
    tags = Image.open(io.BytesIO(picture)).info
    assert "exif" not in tags and "xmp" not in tags and jpeg_ends_at_eoi(picture)


def test_pdf_copy_is_approved_with_info_and_picture_metadata_gone(fixed: dict[str, Any]) -> None:
    from pypdf import PdfReader

    row = fixed["rows"]["card_gps.pdf"]
    assert row["original_decision"] == "block" and row["decision"] == "approve", row["needs_human"]
    reader = PdfReader(row["safe_copy"])
    assert reader.metadata is None or not {"/Author", "/Title"} & set(reader.metadata)
    (image,) = reader.pages[0].images
    assert "exif" not in Image.open(io.BytesIO(image.data)).info
    assert not any("Author" in k or "GPS" in k for k in exif_groups(Path(row["safe_copy"])))
    assert {c["location"] for c in row["changes"] if c["action"] == "fill"} == {"page[1]/image[1]"}


def test_exit_code_is_zero_when_every_copy_is_approved(fixed: dict[str, Any]) -> None:
    assert fixed["code"] == 0


METADATA_ONLY = '[scan]\ndetectors = ["metadata"]\n'


@pytest.fixture
def quick(tmp_path: Path) -> Path:
    """A policy that runs the metadata detector only (same policy for the scan and the re-scan)."""
    policy = tmp_path / "metadata_only.toml"
    policy.write_text(METADATA_ONLY)
    return policy


def test_out_dir_equal_to_input_dir_refuses_a_name_collision(tmp_path: Path, fx: dict[str, Path],
                                                             quick: Path) -> None:
    photo = tmp_path / "gps_dirty.jpg"
    shutil.copy(fx["gps_dirty.jpg"], photo)
    taken = tmp_path / "gps_dirty.safe.jpg"
    taken.write_bytes(b"someone else's file")
    code, out = run_fix("--policy", str(quick), "--out", str(tmp_path), "--format", "json", str(photo))
    row = json.loads(out)["files"][0]
    assert code == 1 and row["safe_copy"] is None and "exists" in row["problem"]
    assert taken.read_bytes() == b"someone else's file"
    code, out = run_fix("--policy", str(quick), "--out", str(tmp_path), "--force", "--format", "json", str(photo))
    assert code == 0 and json.loads(out)["files"][0]["safe_copy"] == str(taken)
    assert taken.read_bytes().startswith(b"\xff\xd8") and "exif" not in Image.open(taken).info
    assert not list(tmp_path.glob(".leakscan-*"))  # no temporary file left behind


def test_never_overwrites_an_input_even_with_force(tmp_path: Path, fx: dict[str, Path], quick: Path) -> None:
    photo = tmp_path / "a.jpg"
    shutil.copy(fx["gps_dirty.jpg"], photo)
    (tmp_path / "a.safe.jpg").hardlink_to(photo)  # the copy's name is another name of the input
    before = sha(photo)
    code, out = run_fix("--policy", str(quick), "--force", "--format", "json", str(photo))
    row = json.loads(out)["files"][0]
    assert code == 1 and row["safe_copy"] is None and "being fixed" in row["problem"]
    assert sha(photo) == before


@pytest.mark.parametrize(("name", "copy_name", "fmt"), [
    ("gps_dirty.jpg", "gps_dirty.safe.jpg", "JPEG"),
    ("gps_dirty.png", "gps_dirty.safe.png", "PNG"),
    ("gps_dirty.webp", "gps_dirty.safe.webp", "WEBP"),
    ("gps_dirty.tiff", "gps_dirty.safe.tiff", "TIFF"),
    ("gps_dirty.heic", "gps_dirty.safe.jpg", "JPEG"),  # HEIC in, JPEG out (the [fix] heic default)
])
def test_formats_kept_or_converted_and_gps_gone(tmp_path: Path, fx: dict[str, Path], quick: Path,
                                                name: str, copy_name: str, fmt: str) -> None:
    src = tmp_path / name
    shutil.copy(fx[name], src)
    code, out = run_fix("--policy", str(quick), "--format", "json", str(src))
    row = json.loads(out)["files"][0]
    assert code == 0 and row["original_decision"] == "review" and row["decision"] == "approve"
    copy = tmp_path / copy_name
    assert Path(row["safe_copy"]) == copy and Image.open(copy).format == fmt
    assert not any("GPS" in k for k in exif_groups(copy))


def test_a_restricted_place_needs_a_human(tmp_path: Path, vfx: dict[str, Path]) -> None:
    refs = Path(vfx["refs/restricted/server-room/rack-1.jpg"]).parents[2]
    src = tmp_path / "rack.jpg"
    shutil.copy(vfx["query_rack.jpg"], src)
    code, out = run_fix("--refs", str(refs), "-j", "1", str(src))
    assert code == 1 and "NEEDS A HUMAN" in out and "needs a human:" in out
    assert (tmp_path / "rack.safe.jpg").is_file()  # the metadata is still gone from the copy


def test_unfixable_kinds_are_said_to_need_a_human(tmp_path: Path, quick: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("nothing to see\n")
    code, out = run_fix("--policy", str(quick), "--format", "json", str(note))
    row = json.loads(out)["files"][0]
    assert code == 1 and row["safe_copy"] is None and "text/plain" in row["problem"]
    assert row["needs_human"]


def test_bad_fix_table_is_a_usage_error(tmp_path: Path, fx: dict[str, Path]) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text('[fix]\nfaces = "smudge"\n')
    code, _ = run_fix("--policy", str(policy), str(fx["gps_dirty.jpg"]))
    assert code == 2


@pytest.fixture(scope="module")
def vfx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from fixtures import visual_fixtures

    return visual_fixtures.build(tmp_path_factory.mktemp("visual"))


def test_watch_fix_files_an_approved_safe_copy(tmp_path: Path, fx: dict[str, Path]) -> None:
    """`watch --fix` in process: the GPS photo goes to review/, its safe copy to approved/ with a sidecar."""
    from scanner.audit import Recorder
    from scanner.config import Settings
    from scanner.execution import Pool
    from scanner.watcher import Watcher

    settings = Settings(detectors=("metadata",), jobs=1, audit_db=str(tmp_path / "audit.sqlite"))
    root = tmp_path / "drop"
    with Pool(settings, 1) as pool:
        watcher = Watcher(root, settings, pool, Recorder(settings, "watch"), fix=True)
        shutil.copy(fx["gps_dirty.jpg"], root / ".processing" / "photo.jpg")
        watcher.process(watcher.folder.left_over())
    assert (root / "review" / "photo.jpg").is_file()
    copy = root / "approved" / "photo.safe.jpg"
    card = json.loads((root / "approved" / "photo.safe.jpg.leakscan.json").read_text())
    assert card["decision"] == "approve" and card["fixed_from"] == "photo.jpg"
    assert any(c["rule_id"] == "metadata.gps" for c in card["changes"])
    assert not any("GPS" in k for k in exif_groups(copy))
    assert not [p for p in (root / ".processing").iterdir()]  # no temporary copy left behind


def test_a_document_inside_an_archive_is_rewritten_too(tmp_path: Path, quick: Path) -> None:
    """ZIP > DOCX > JPEG: the nested document's properties and its picture's GPS are gone from the copy."""
    from fixtures.office_fixtures import docx

    src = tmp_path / "bundle.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("reports/q3.docx", docx(dirty=True))
    code, out = run_fix("--policy", str(quick), "--format", "json", str(src))
    row = json.loads(out)["files"][0]
    assert row["safe_copy"] == str(tmp_path / "bundle.safe.zip")
    with zipfile.ZipFile(row["safe_copy"]) as outer:
        inner = zipfile.ZipFile(io.BytesIO(outer.read("reports/q3.docx")))
    assert "creator" not in inner.read("docProps/core.xml").decode()
    assert "exif" not in Image.open(io.BytesIO(inner.read("word/media/image1.jpeg"))).info
    assert "reports/q3.docx!word/media/image1.jpeg" in {c["location"] for c in row["changes"]}
    # the tracked changes and comments are content: kept, and the re-scan says so (a person decides)
    assert code == 1 and any("comments" in line for line in row["needs_human"])


def test_out_folder_is_made_when_missing(tmp_path: Path, fx: dict[str, Path], quick: Path) -> None:
    out_dir = tmp_path / "safe" / "copies"
    code, out = run_fix("--policy", str(quick), "--out", str(out_dir), "--format", "json", str(fx["gps_dirty.jpg"]))
    assert code == 0 and json.loads(out)["files"][0]["safe_copy"] == str(out_dir / "gps_dirty.safe.jpg")
    blocked = tmp_path / "a-file"
    blocked.write_bytes(b"")
    code, _ = run_fix("--policy", str(quick), "--out", str(blocked / "sub"), str(fx["gps_dirty.jpg"]))
    assert code == 2  # a usage error, said before any file is read


def test_fix_writes_both_decisions_to_the_audit_trail(tmp_path: Path, fx: dict[str, Path], quick: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.audit import AuditStore

    db = tmp_path / "audit.sqlite"
    monkeypatch.setenv("LEAKSCAN_AUDIT_DB", str(db))
    photo = tmp_path / "trip.jpg"
    shutil.copy(fx["gps_dirty.jpg"], photo)
    code, _ = run_fix("--policy", str(quick), str(photo))
    rows = {Path(r["name"]).name: r for r in AuditStore(db).history()}
    assert code == 0 and set(rows) == {"trip.jpg", "trip.safe.jpg"}
    assert rows["trip.jpg"]["decision"] == "review" and rows["trip.safe.jpg"]["decision"] == "approve"
    assert {r["source"] for r in rows.values()} == {"fix"}
    assert rows["trip.jpg"]["sha256"] == sha(photo)
