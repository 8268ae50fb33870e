"""Files that slipped through (fixtures/slips.py): containers that hid a photo with GPS or printed a card number,
a damaged EXIF block that lost the picture. Real expanders, fixers and the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures import slips as fx
from scanner import scan
from scanner.config import Settings

NO_PIXELS = Settings(detectors=("metadata",), jobs=1)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return fx.build(tmp_path_factory.mktemp("slips"))


@pytest.mark.parametrize("name", ["encrypted_member_card_name.zip", "broken_attachment_card_name.eml"])
def test_a_card_number_naming_an_unreadable_member_is_found_and_never_printed(files: dict[str, Path], name: str,
                                                                            cli: Callable[..., Any]) -> None:
    (report,) = scan(files[name], NO_PIXELS).files
    assert report.decision.label == "block"
    assert any(f.rule_id == "text.payment_card" and f.location == "member name" for f in report.findings)
    assert any("[name masked]" in e.location for e in report.errors)  # still reviewed as not fully analysed
    digits = fx.CARD.replace(" ", "")
    dumped = json.dumps(report.to_dict())
    assert fx.CARD not in dumped and digits not in dumped
    for fmt in ("console", "jsonl"):
        result = cli("scan", "--format", fmt, str(files[name]))
        assert result.code == 1 and "1111" in result.out
        assert fx.CARD not in result.out + result.err and digits not in result.out + result.err


@pytest.mark.parametrize(("name", "error"), [
    ("zips_back_to_back.zip", True), ("member_outside_the_directory.zip", True),
    ("pipe_member.zip", False), ("link_member_with_a_photo.zip", False), ("unknown_tar_type.tar", False)])
def test_a_photo_other_readers_extract_is_scanned(files: dict[str, Path], name: str, error: bool) -> None:
    """Members outside the central directory (read by their local headers, as jar and streaming unzippers do),
    a pipe's or a link's bytes (unzip writes them out) and a tar type tar does not know: the photo is scanned."""
    (report,) = scan(files[name], NO_PIXELS).files
    gps = [node.location for node in report.walk() for f in node.findings if f.rule_id == "metadata.gps"]
    assert report.decision.label == "review" and len(gps) == 1 and gps[0].endswith(("photo.jpg", "secret.jpg"))
    outside = [e for node in report.walk() for e in node.errors if "outside the central directory" in e.message]
    assert bool(outside) is error


def test_a_damaged_exif_block_does_not_lose_the_picture(files: dict[str, Path], tmp_path: Path,
                                                        cli: Callable[..., Any]) -> None:
    """ImageOps.exif_transpose wrote the EXIF block out again and raised TypeError on this one: every pixel
    detector failed (review, nothing read) and `leakscan fix` stopped with exit 3, no copy for any file."""
    from scanner.media import decode

    assert decode(files["damaged_exif_turned.jpg"].read_bytes(), 10**6).size == (20, 40)  # turned as EXIF says
    (report,) = scan(files["damaged_exif_turned.jpg"], Settings(jobs=1)).files
    assert not [e.message for e in report.errors if "failed" in e.message]
    clean = tmp_path / "clean.jpg"
    clean.write_bytes(fx.gps_jpeg())
    result = cli("fix", "--out", str(tmp_path / "out"), str(files["damaged_exif_turned.jpg"]), str(clean))
    assert result.code in (0, 1), result.err
    from PIL import Image

    with Image.open(tmp_path / "out" / "damaged_exif_turned.safe.jpg") as copy:
        assert copy.size == (20, 40) and not copy.getexif()
    assert (tmp_path / "out" / "clean.safe.jpg").exists()


def test_a_fixer_that_breaks_costs_that_file_its_copy_only(files: dict[str, Path], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.actions import image, safecopy

    real = image.ImageFixer.fix

    def breaks_on_one(self: Any, data: bytes, *args: Any, **kw: Any) -> Any:
        if data == files["damaged_exif_turned.jpg"].read_bytes():
            raise KeyError("a bug")
        return real(self, data, *args, **kw)

    monkeypatch.setattr(image.ImageFixer, "fix", breaks_on_one)
    clean = tmp_path / "clean.jpg"
    clean.write_bytes(fx.gps_jpeg())
    (tmp_path / "out").mkdir()
    results = {Path(r.path).name: r for r in safecopy.fix_paths(
        [str(files["damaged_exif_turned.jpg"]), str(clean)], NO_PIXELS, out_dir=str(tmp_path / "out"))}
    assert results["damaged_exif_turned.jpg"].problem == "no safe copy: the safe copy failed (KeyError)"
    assert results["clean.jpg"].problem is None and results["clean.jpg"].decision.label == "approve"


@pytest.mark.parametrize("name", ["icc_text_zip.png", "icc_text_zip.jpg"])
def test_the_colour_profile_is_read_and_not_copied(files: dict[str, Path], name: str, tmp_path: Path,
                                                   cli: Callable[..., Any]) -> None:
    """An ICC profile's text tags go through the text rules and an archive in it is found (a PNG's profile is
    compressed, so the search over the file's bytes missed it: approve); the safe copy carries no profile."""
    from PIL import Image

    (report,) = scan(files[name], NO_PIXELS).files
    rules = {f.rule_id for f in report.findings}
    assert report.decision.label == "block" and {"text.payment_card", "metadata.hidden_payload"} <= rules
    assert fx.CARD not in json.dumps(report.to_dict()) and "jan.jansen@" not in json.dumps(report.to_dict())
    result = cli("fix", "--out", str(tmp_path), str(files[name]))
    assert result.code == 0 and "colours converted to sRGB; ICC profile not copied" in result.out
    (copy,) = tmp_path.glob("icc_text_zip.safe.*")
    with Image.open(copy) as im:
        assert "icc_profile" not in im.info
    assert b"PK\x03\x04" not in copy.read_bytes() and b"Jansen" not in copy.read_bytes()


def test_pdf_xmp_of_pages_and_pictures_and_thumbnails_are_read_and_not_copied(files: dict[str, Path], tmp_path: Path,
                                                                           cli: Callable[..., Any]) -> None:
    """Only the catalog's XMP was read (approve, where ExifTool shows GPS), and the safe copy kept the page's and
    the picture's XMP and the page thumbnail (an approved copy with GPS)."""
    (report,) = scan(files["pdf_page_and_picture_xmp.pdf"], NO_PIXELS).files
    gps = sorted(node.location.rsplit("!", 1)[-1] for node in report.walk() for f in node.findings
                 if f.rule_id == "metadata.gps")
    assert report.decision.label == "review" and gps == ["page[1] thumbnail", "xmp[7]", "xmp[8]"]
    result = cli("fix", "--out", str(tmp_path), str(files["pdf_page_and_picture_xmp.pdf"]))
    assert result.code == 0, result.out
    copy = (tmp_path / "pdf_page_and_picture_xmp.safe.pdf").read_bytes()
    assert b"GPSLatitude" not in copy and b"/Thumb" not in copy and b"/Metadata" not in copy


@pytest.mark.parametrize("name", sorted(fx.SKIPPED_BY_NAME))
def test_a_package_member_skipped_by_its_name_is_scanned_when_it_is_a_picture(files: dict[str, Path],
                                                                              name: str) -> None:
    """Fonts, printer settings, XML parts without a reader, ODF configuration, EPUB META-INF and style sheets were
    skipped by name alone (approve); their bytes are now sniffed and a picture among them is scanned."""
    (report,) = scan(files[name], NO_PIXELS).files
    gps = [node.location for node in report.walk() for f in node.findings if f.rule_id == "metadata.gps"]
    assert report.decision.label == "review" and any(g.endswith(fx.SKIPPED_BY_NAME[name]) for g in gps), gps


@pytest.mark.parametrize("name", [*sorted(fx.carried_in_text()), "dkim_first.eml", "two_messages.mbox",
                                  "saved_page.mhtml", "attached_message_base64.eml"])
def test_a_photo_carried_as_text_or_in_an_unusual_message_is_scanned(files: dict[str, Path], name: str) -> None:
    """data: URIs, RTF pictures, uuencoded blocks; mail sniffed as text (DKIM headers first, a saved web page), the
    second message of an mbox, a base64 attached message: each photo was left unread (approve)."""
    (report,) = scan(files[name], NO_PIXELS).files
    gps = [node.location for node in report.walk() for f in node.findings if f.rule_id == "metadata.gps"]
    assert report.decision.label == "review" and len(gps) == 1, (gps, [e.message for e in report.errors])


@pytest.mark.parametrize(("name", "why"), [("no_boundary.eml", "no boundary"),
                                           ("two_content_types.eml", "two Content-Type headers"),
                                           ("unknown_transfer_encoding.eml", "transfer encoding 'x-gzip64'")])
def test_a_message_readers_disagree_on_is_reviewed(files: dict[str, Path], name: str, why: str) -> None:
    (report,) = scan(files[name], NO_PIXELS).files
    messages = [e.message for node in report.walk() for e in node.errors]
    assert report.decision.label == "review" and any(why in m for m in messages), messages


@pytest.mark.parametrize(("name", "outcome"), [("pdf_ten_nested_forms.pdf", "forms nested more than 8 levels"),
                                               ("pdf_attachment_under_dos.pdf", "gps"),
                                               ("pdf_first_revision_with_comment.pdf", "gps"),
                                               ("pdf_photo_as_soft_mask.pdf", "gps"),
                                               ("pdf_photo_never_drawn.pdf", "gps"),
                                               ("pdf_associated_file.pdf", "gps"),
                                               ("pdf_that_is_also_a_zip.pdf", "starts inside the PDF"),
                                               ("pdf_name_tree_cycle.pdf", "name tree deeper than 32")])
def test_a_pdf_photo_out_of_the_usual_reach_is_read_or_reviewed(files: dict[str, Path], name: str,
                                                                outcome: str) -> None:
    (report,) = scan(files[name], NO_PIXELS).files
    gps = [node.location for node in report.walk() for f in node.findings if f.rule_id == "metadata.gps"]
    errors = [e.message for node in report.walk() for e in node.errors]
    assert report.decision.label == "review"
    assert gps if outcome == "gps" else any(outcome in e for e in errors), (gps, errors)


def test_fix_never_makes_two_copies_under_one_name_and_copies_are_readable(tmp_path: Path,
                                                                          cli: Callable[..., Any]) -> None:
    """a.heic and a.jpg both make a.safe.jpg: the second overwrote the first with --force (its report still said
    otherwise) and without it was refused as "exists" about a file this run wrote; a file named twice was refused
    the same way; copies were mode 0600 whatever the umask."""
    import os

    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (64, 48), (90, 140, 200)).save(photos / "a.heic")
    (photos / "a.jpg").write_bytes(fx.gps_jpeg())
    old = os.umask(0o022)
    try:
        result = cli("fix", "--force", "--format", "json", "--out", str(tmp_path / "out"),
                     str(photos / "a.jpg"), str(photos))
    finally:
        os.umask(old)
    entries = json.loads(result.out)["files"]
    assert len(entries) == 2  # a.jpg named twice is fixed once
    made = [e for e in entries if e["safe_copy"]]
    refused = [e for e in entries if not e["safe_copy"]]
    assert len(made) == 1 and len(refused) == 1 and "made in this run" in refused[0]["problem"]
    copy = tmp_path / "out" / "a.safe.jpg"
    assert (copy.stat().st_mode & 0o777) == 0o644
    with Image.open(copy) as im:  # the copy is the one its entry says
        assert (im.size == (160, 120)) is (made[0]["path"].endswith("a.jpg"))


def test_the_drop_folder_files_what_it_scanned_whatever_the_name(tmp_path: Path) -> None:
    """A hard link from the dropper's folder let the approved file change after approval; a 241-byte name stayed
    in .processing/ (its sidecar's name was too long) and sent its neighbour to failed/; `watch --fix` filed the
    safe copy under its escaped display name, and put what it was made from into the shared audit trail."""
    import os
    import sqlite3

    from scanner.audit import Recorder
    from scanner.execution import Pool
    from scanner.watcher import Watcher

    settings = Settings(detectors=("metadata",), jobs=1, audit_db=str(tmp_path / "audit.sqlite"))
    root, outside = tmp_path / "drop", tmp_path / "outside.jpg"
    clean = fx.damaged_exif_turned()
    outside.write_bytes(clean)
    long_name, odd_name = "L" * 241 + ".jpg", "e\x1b[2Jvil.jpg"
    with Pool(settings, 1) as pool:
        watcher = Watcher(root, settings, pool, Recorder(settings, "watch"), fix=True)
        os.link(outside, root / "incoming" / "linked.jpg")
        (root / "incoming" / long_name).write_bytes(fx.gps_jpeg())
        (root / "incoming" / odd_name).write_bytes(fx.gps_jpeg())
        claimed = [watcher.folder.claim(n) for n in ("linked.jpg", long_name, odd_name)]
        watcher.process([p for p in claimed if p is not None])
    outside.write_bytes(fx.gps_jpeg())  # the dropper changes its file after the verdict
    assert (root / "approved" / "linked.jpg").read_bytes() == clean
    assert not list((root / ".processing").iterdir()) and not list((root / "failed").iterdir())
    filed = [p.name for p in (root / "review").iterdir() if not p.name.endswith(".leakscan.json")]
    assert len(filed) == 2 and odd_name in filed and any(n.startswith("LLLL") for n in filed)
    assert (root / "approved" / "e\x1b[2Jvil.safe.jpg").is_file()  # the copy's real name, not its display form
    with sqlite3.connect(tmp_path / "audit.sqlite") as db:
        bodies = [json.loads(r[0]) for r in db.execute("SELECT report FROM decisions")]
    assert bodies and not [b for b in bodies if "fixed_from" in b or "changes" in b]


@pytest.mark.parametrize(("mode", "bands"), [("RGB", 3), ("RGBA", 4), ("L", 1), ("LA", 2)])
def test_a_palette_copy_is_made_from_a_colour_table_not_by_sorting_every_pixel(mode: str, bands: int) -> None:
    """np.unique(axis=0) over every pixel took 0.85 s a megapixel (a 28 KB 4000x4000 palette PNG held the service
    for 15 s); the table lookup gives the same indices, palette and transparency."""
    import numpy as np
    from PIL import Image

    from scanner.actions.image import _palette

    rng = np.random.default_rng(bands)
    colours = rng.integers(0, 256, (200, bands), dtype=np.uint8)
    pixels = colours[rng.integers(0, 200, (120, 160))]
    picture = Image.fromarray(pixels[:, :, 0] if bands == 1 else pixels, mode)
    out, args = _palette(picture, {})
    table, index = np.unique(pixels.reshape(-1, bands), axis=0, return_inverse=True)
    assert np.array_equal(np.asarray(out), index.reshape(120, 160))
    rgb = table[:, :3] if bands >= 3 else np.repeat(table[:, :1], 3, axis=1)
    assert out.getpalette()[: 3 * len(table)] == rgb.reshape(-1).tolist()
    assert args.get("transparency") == (table[:, -1].tobytes() if bands in (2, 4) else None)


def test_answers_stored_before_a_reference_photo_was_added_are_not_reused(tmp_path: Path) -> None:
    """The audit trail's and the result store's key hashed the reference folder's path only: a room enrolled as
    restricted afterwards kept every earlier approval of its photos (a re-drop, a store re-run, the service)."""
    from scanner.audit import policy_hash

    refs = tmp_path / "refs"
    (refs / "restricted" / "lab").mkdir(parents=True)
    settings = Settings(refs=refs)
    before = policy_hash(settings)
    assert policy_hash(settings) == before  # stable while nothing changes
    (refs / "restricted" / "lab" / "bench.jpg").write_bytes(fx.gps_jpeg())
    enrolled = policy_hash(settings)
    assert enrolled != before
    (refs / "consented" / "jan").mkdir(parents=True)
    (refs / "consented" / "jan" / "jan.jpg").write_bytes(fx.gps_jpeg())
    assert policy_hash(settings) not in (before, enrolled)


@pytest.mark.parametrize(("name", "outside"), [("unlisted_in.docx", True), ("photo_as_text_part.eml", False),
                                               ("xmp_in_custom_xml.docx", False)])
def test_a_photo_in_a_document_s_hidden_entry_or_a_text_part_is_scanned(files: dict[str, Path], name: str,
                                                                       outside: bool) -> None:
    (report,) = scan(files[name], NO_PIXELS).files
    gps = [node.location for node in report.walk() for f in node.findings if f.rule_id == "metadata.gps"]
    errors = [e.message for node in report.walk() for e in node.errors]
    assert report.decision.label == "review" and len(gps) == 1, (gps, errors)
    assert any("outside the package's central directory" in e for e in errors) is outside


def test_a_card_number_in_a_multipart_preamble_is_read(files: dict[str, Path]) -> None:
    (report,) = scan(files["card_in_preamble.eml"], Settings(detectors=("metadata", "text"), jobs=1)).files
    rules = {f.rule_id for node in report.walk() for f in node.findings}
    assert report.decision.label == "block" and "text.payment_card" in rules
    assert fx.CARD not in json.dumps(report.to_dict())


TEXT_ONLY = Settings(detectors=("metadata", "text"), jobs=1)
BLOCKING = [*sorted(fx.SECRET_LINES), *sorted(fx.UNSEEN_IN_DOCUMENTS), "png_password_keyword.png",
            "png_card_in_first_of_two_comments.png",
            "user_comment_ucs2.jpg", "mail_keywords_header.eml", "mail_unclosed_head.eml"]


@pytest.mark.parametrize("name", BLOCKING)
def test_a_secret_written_so_a_person_reads_it_is_found_and_not_printed(files: dict[str, Path], name: str) -> None:
    """Zero-width characters, soft hyphens, Arabic-Indic digits, slashes between a card's groups, a Turkish
    capital I before the keyword, keywords the list lacked, a password in a URL, a field named "Password", the
    first of two PNG comments, a UCS-2 UserComment, mail headers outside the fixed list, an HTML body whose
    <head> is not closed: each was approve."""
    settings = TEXT_ONLY if name.endswith((".txt", ".eml", ".docx", ".ods")) else NO_PIXELS
    (report,) = scan(files[name], settings).files
    rules = {f.rule_id for node in report.walk() for f in node.findings}
    assert report.decision.label == "block" and rules & {"text.payment_card", "text.secret"}, rules
    dumped = json.dumps(report.to_dict())
    assert "Hunter2!x" not in dumped and "Zx9Qw8Er7Ty6Ui5Op4" not in dumped and fx.CARD not in dumped


def test_numbers_in_a_table_are_not_a_card_with_the_wider_separators(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text("site,lat,lon,visits\nhq,52.373100,4.892200,1234\nlab,51.922500,4.479170,5678\n"
                    "ids,4111,1111,1111\n")
    (report,) = scan(path, TEXT_ONLY).files
    assert report.decision.label == "approve", [f.message for f in report.findings]


@pytest.mark.parametrize(("name", "second_reader"), [("ascii_gps.jpg", False), ("drone_xmp.jpg", True),
                                                     ("xmp_utf16.jpg", False), ("gain_map_with_gps.jpg", False),
                                                     ("gps_in_a_subifd.jpg", False), ("raw_app1_xmp.png", False),
                                                     ("raw_8bim_exif.png", False), ("raw_8bim_xmp.png", False),
                                                     ("xmp_rdf_resource.jpg", False), ("xmp_rdf_value.jpg", False)])
def test_a_position_stored_as_text_or_under_a_drone_s_tag_is_found(files: dict[str, Path], name: str,
                                                                   second_reader: bool) -> None:
    """GPS as ASCII text: our reader now reads the numbers (it said "unusable", low: approve). A DJI drone's
    XMP Latitude/Longitude: ExifTool reads them; the second reader asked for GPS* tags only (and with -G1 kept
    only the first copy of each tag, so an empty decoy before the real block hid it)."""
    import shutil

    if second_reader and shutil.which("exiftool") is None:
        pytest.skip("ExifTool is not installed")
    settings = Settings(detectors=("metadata",), jobs=1, exiftool="on" if second_reader else "off")
    (report,) = scan(files[name], settings).files
    gps = [f for f in report.findings if f.rule_id == "metadata.gps"]
    assert report.decision.label == "review" and gps and "52.37" in gps[0].message
    assert ("exiftool" in gps[0].location) is second_reader


def test_the_second_reader_pairs_copies_other_tags_and_text_degrees() -> None:
    """-G1:4 records: the real block after an empty decoy, a copy whose Ref tags sit in another copy, DJI's
    misspelt Longtitude, C2PA JSON text degrees."""
    from scanner.engines.exiftool import coordinates

    def one(record: dict[str, object]) -> tuple[float, float]:
        (c,) = coordinates(record)
        return round(c.lat, 4), round(c.lon, 4)

    assert one({"GPS:GPSLatitude": "", "GPS:GPSLongitude": "", "GPS:Copy1:GPSLatitude": 52.37,
                "GPS:Copy1:GPSLongitude": 4.89, "GPS:Copy2:GPSLatitude": ""}) == (52.37, 4.89)
    assert one({"GPS:Copy1:GPSLatitudeRef": "N", "GPS:Copy1:GPSLongitudeRef": "W", "GPS:Copy2:GPSLatitude": 53.36,
                "GPS:Copy2:GPSLongitude": 6.26}) == (53.36, -6.26)
    assert one({"XMP-drone-dji:GpsLatitude": 52.37, "XMP-drone-dji:GpsLongtitude": 4.89}) == (52.37, 4.89)
    assert one({"JSON:ExifGPSLatitude": "52,22.2N", "JSON:ExifGPSLongitude": "4,53.4E"}) == (52.37, 4.89)


@pytest.mark.parametrize("where", ["jfxx", "photoshop"])
def test_a_jfxx_or_photoshop_thumbnail_of_another_picture_is_found(files: dict[str, Path], where: str) -> None:
    """Only the EXIF IFD1 thumbnail was compared with the picture: a JFXX or Photoshop thumbnail showing what was
    cropped away (readers and ExifTool extract both) was approved. The same picture as its thumbnail stays quiet."""
    (other,) = scan(files[f"{where}_thumbnail_other.jpg"], NO_PIXELS).files
    (same,) = scan(files[f"{where}_thumbnail_same.jpg"], NO_PIXELS).files
    assert [f.location for f in other.findings if f.rule_id == "metadata.thumbnail"] == [
        {"jfxx": "JFXX thumbnail", "photoshop": "Photoshop thumbnail"}[where]]
    assert other.decision.label == "review"
    assert not [f for f in same.findings if f.rule_id == "metadata.thumbnail"] and same.decision.label == "approve"


@pytest.mark.parametrize("name", sorted(fx.exif_carriers()))
def test_gps_in_an_exif_block_our_readers_skipped_is_found_without_exiftool(files: dict[str, Path],
                                                                          name: str) -> None:
    settings = Settings(detectors=("metadata",), jobs=1, exiftool="off")
    (report,) = scan(files[name], settings).files
    gps = [f for f in report.findings if f.rule_id == "metadata.gps"]
    assert report.decision.label == "review" and gps and "52.37" in gps[0].message
