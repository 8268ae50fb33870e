"""Issue 9: containers scanned to the last embedded item, end to end (real expanders, detectors, policy).

Each leak must be reported at its location inside the file; what cannot be opened is an error on the
node that could not be opened (review); clean containers are approved.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures import archive_fixtures, mail_fixtures, office_fixtures, pdf_fixtures
from scanner import scan
from scanner.config import Settings
from scanner.model import FileReport

SETTINGS = Settings(detectors=("metadata", "text"), jobs=1)

# fixture -> decision, [(rule id, location of the part it must be found in)], [(error code, location)]
CASES: dict[str, tuple[str, list[tuple[str, str]], list[tuple[str, str]]]] = {
    "dirty.docx": ("block", [("metadata.gps", "word/media/image1.jpeg"), ("metadata.identity", "docProps"),
                             ("metadata.history", "docProps"),
                             ("text.payment_card", "word/document.xml#text")], []),
    "dirty.pptx": ("block", [("metadata.gps", "ppt/media/image1.jpeg"), ("metadata.identity", "docProps"),
                             ("text.payment_card", "ppt/notesSlides/notesSlide1.xml#text")], []),
    "hidden_sheet.xlsx": ("review", [("metadata.history", "docProps"),
                                     ("text.iban", "xl/sharedStrings.xml#text")], []),
    "dirty.odt": ("block", [("metadata.gps", "Pictures/10000000photo.jpg"), ("metadata.identity", "meta.xml"),
                            ("text.payment_card", "content.xml#text")], []),
    "dirty.epub": ("review", [("metadata.gps", "OEBPS/images/cover.jpg"), ("metadata.identity", "package.opf"),
                              ("text.iban", "OEBPS/ch1.xhtml#text")], []),
    "gps_jpeg.pdf": ("review", [("metadata.gps", "page[1]/image[1]")], []),
    "receipt_scan.pdf": ("block", [("text.payment_card", "page[1]")], []),
    "incremental_password.pdf": ("block", [("metadata.history", "fields"), ("text.secret", "revision[1]!text")], []),
    "attachment_gps.pdf": ("review", [("metadata.gps", "attachment[1]:site.jpg")], []),
    "mail_attachments_gps_zip.eml": ("block", [("metadata.gps", "attachment[1]:IMG_0042.jpg"),
                                               ("text.payment_card", "attachment[2]:bonnen.zip!scans/receipt.png")],
                                     []),
    "mail_nested_gps.eml": ("review", [("metadata.gps", "attachment[1]:message.eml!attachment[1]:strand.jpg")], []),
    "mail_html_card.eml": ("block", [("text.payment_card", "body")], []),
    "outlook_gps_embedded.msg": ("block", [("metadata.gps", "attachment[1]:IMG_0042.jpg"),
                                           ("text.payment_card", "body")], []),
    # what cannot be opened is an error on the node that holds it
    "billion_laughs.docx": ("block", [], [("corrupt", "")]),
    "zip_bomb.docx": ("review", [], [("too_large", "")]),
    "encrypted.odt": ("review", [], [("unsupported", "")]),
    "encrypted.pdf": ("review", [], [("unsupported", "")]),
    "truncated.pdf": ("review", [], [("corrupt", "")]),
    "mail_smime_encrypted.eml": ("review", [], [("unsupported", "")]),
    # clean containers
    "clean.docx": ("approve", [], []),
    "clean_photo.pdf": ("approve", [], []),
}


ARCHIVE_CASES: dict[str, tuple[str, list[tuple[str, str]], list[tuple[str, str]]]] = {
    "clean_two_photos.zip": ("approve", [], []),
    "nested_gps.zip": ("review", [("metadata.gps", "inner.zip!DCIM/IMG_0001.jpg")], []),
    "heic_gps.tar.gz": ("review", [("metadata.gps", "phone/IMG_0042.heic")], []),
    "bomb_ratio.zip": ("review", [], [("too_large", "")]),
    "traversal_names.zip": ("review", [], []),
    "encrypted_member.zip": ("review", [], [("unsupported", "")]),
    "comment_pan.zip": ("block", [("text.payment_card", "metadata")], []),
    "gps_photo.7z": ("review", [("metadata.gps", "camera/IMG_7.jpg")], []),
}
ALL_CASES = {**CASES, **ARCHIVE_CASES}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("containers")
    built: dict[str, Path] = {}
    for module in (office_fixtures, pdf_fixtures, mail_fixtures, archive_fixtures):
        built.update(module.build(out))
    return built


@pytest.fixture(scope="module")
def reports(files: dict[str, Path]) -> dict[str, FileReport]:
    names = sorted(ALL_CASES)
    found = scan([files[n] for n in names], SETTINGS).files
    return {Path(r.path).name: r for r in found}


def _found(report: FileReport) -> set[tuple[str, str]]:
    return {(f.rule_id, node.location) for node in report.walk() for f in node.findings}


def _errors(report: FileReport) -> set[tuple[str, str]]:
    return {(e.code, node.location) for node in report.walk() for e in node.errors}


@pytest.mark.parametrize("name", sorted(ALL_CASES))
def test_container_leaks_are_found_where_they_are(reports: dict[str, FileReport], name: str) -> None:
    decision, leaks, errors = ALL_CASES[name]
    report = reports[name]
    assert report.decision.label == decision, (name, sorted(_found(report)), sorted(_errors(report)))
    assert set(leaks) <= _found(report), (name, sorted(_found(report)))
    assert set(errors) <= _errors(report), (name, sorted(_errors(report)))
    if decision == "approve":
        assert not _errors(report)


def test_a_parents_decision_is_the_worst_of_its_parts(reports: dict[str, FileReport]) -> None:
    for report in reports.values():
        for node in report.walk():
            own = max([r.decision for r in node.verdict.reasons if not r.location], default=None)
            worst = max([p.decision for p in node.parts] + ([own] if own is not None else []), default=None)
            assert worst is None or node.decision == worst, node.where


def test_reasons_name_the_part_and_the_json_tree_nests(reports: dict[str, FileReport]) -> None:
    report = reports["dirty.docx"]
    gps = next(r for r in report.verdict.reasons if r.rule_id == "metadata.gps")
    assert gps.location == "word/media/image1.jpeg"
    doc = json.loads(json.dumps(report.to_dict()))
    assert doc["schema_version"] == "2.1"
    media = next(p for p in doc["parts"] if p["location"] == "word/media/image1.jpeg")
    assert media["decision"] == "review" and media["parts"] == []
    assert "4111 1111 1111 1111" not in json.dumps(doc)


def test_hostile_member_names_never_touch_the_disk(files: dict[str, Path], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (report,) = scan(files["traversal_names.zip"], SETTINGS).files
    assert list(tmp_path.iterdir()) == []
    locations = [p.location for p in report.parts]
    assert locations and all("\x1b" not in loc and "!" not in loc for loc in locations)
    assert "../../etc/passwd" in locations  # shown as text, never used as a path


def test_a_secret_used_as_a_member_name_is_found_and_never_printed(files: dict[str, Path], tmp_path: Path) -> None:
    import zipfile

    holder = tmp_path / "names.zip"
    with zipfile.ZipFile(holder, "w") as zf:
        zf.writestr("cards/4539 1488 0343 6467.txt", "nothing here")
        zf.writestr("wifi password: Hunter2Secret!.txt", "nothing here")
        zf.write(files["clean_two_photos.zip"], "plain.zip")
    (report,) = scan(holder, SETTINGS).files
    found = {f.rule_id for node in report.walk() for f in node.findings}
    assert {"text.payment_card", "text.secret"} <= found
    assert report.decision.label == "block"
    dumped = json.dumps(report.to_dict())
    assert "4539 1488 0343 6467" not in dumped and "Hunter2Secret" not in dumped
    assert "plain.zip" in {p.location for p in report.parts}  # ordinary names are kept


def test_nesting_past_max_depth_is_review_not_approve(files: dict[str, Path], tmp_path: Path) -> None:
    import io
    import zipfile

    data = files["clean_two_photos.zip"].read_bytes()
    for level in range(7):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(f"level{level}.zip", data)
        data = buf.getvalue()
    path = tmp_path / "deep.zip"
    path.write_bytes(data)
    (report,) = scan(path, SETTINGS).files
    assert report.decision.label == "review"
    assert any(e.code == "too_large" and "max_depth" in e.message for node in report.walk() for e in node.errors)

