"""E-mail expanders on generated .eml and .msg files: fields, body text, attachments as children, errors."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from fixtures import mail_fixtures as mf
from scanner.config import Settings
from scanner.containers.base import FIELDS_KIND, TEXT_KIND, Budget, Limits, read_fields
from scanner.containers.mail import EmailExpander
from scanner.containers.outlook import OutlookExpander
from scanner.errors import CorruptItem, ItemTooLarge
from scanner.model import ErrorRecord, Item
from scanner.sources import item_from_bytes
from scanner.text.markup import html_to_text

GPS_IFD = 0x8825


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return mf.build(tmp_path_factory.mktemp("mail"))


def expand(path: Path, limits: Limits | None = None) -> list[Item | ErrorRecord]:
    item = item_from_bytes(path.name, path.read_bytes())
    expander = OutlookExpander(Settings()) if item.kind == "application/vnd.ms-outlook" else EmailExpander(Settings())
    assert item.kind in expander.kinds
    return list(expander.expand(item, Budget(limits or Limits())))


def children(out: list[Item | ErrorRecord]) -> dict[str, Item]:
    return {x.location: x for x in out if isinstance(x, Item) and x.kind not in (FIELDS_KIND, TEXT_KIND)}


def errors(out: list[Item | ErrorRecord]) -> list[ErrorRecord]:
    return [x for x in out if isinstance(x, ErrorRecord)]


def fields(out: list[Item | ErrorRecord]) -> list[tuple[str, str, str]]:
    return [f for x in out if isinstance(x, Item) and x.kind == FIELDS_KIND for f in read_fields(x)]


def text(out: list[Item | ErrorRecord]) -> str:
    return "\n".join(x.data.decode() for x in out if isinstance(x, Item) and x.kind == TEXT_KIND)


def has_gps(jpeg: bytes) -> bool:
    with Image.open(io.BytesIO(jpeg)) as im:
        return bool(im.getexif().get_ifd(GPS_IFD))


def test_attachments_are_children_with_their_metadata(files: dict[str, Path]) -> None:
    out = expand(files["mail_attachments_gps_zip.eml"])
    kids = children(out)
    assert list(kids) == ["attachment[1]:IMG_0042.jpg", "attachment[2]:bonnen.zip"]
    assert kids["attachment[1]:IMG_0042.jpg"].kind == "image/jpeg"
    assert has_gps(kids["attachment[1]:IMG_0042.jpg"].data)
    assert kids["attachment[2]:bonnen.zip"].kind == "application/zip"
    with zipfile.ZipFile(io.BytesIO(kids["attachment[2]:bonnen.zip"].data)) as zf:
        assert zf.read("scans/receipt.png") == mf.receipt_png()
    assert not errors(out)


def test_header_fields_by_category(files: dict[str, Path]) -> None:
    got = fields(expand(files["mail_attachments_gps_zip.eml"]))
    assert ("contact", "From", mf.SENDER) in got
    assert ("contact", "To", mf.RECIPIENT) in got
    assert ("text", "Subject", "Foto's en bon") in got
    assert ("device", "X-Mailer", "Leakscan Fixture Mailer 1.0") in got
    assert ("identity", "Organization", "Voorbeeld BV") in got
    assert ("other", "Received", "laptop.example.nl mx.example.com 192.0.2.17") in got
    assert ("time", "Date", "Tue, 05 Mar 2024 14:30:00 +0000") in got
    assert ("other", "attachment filename", "IMG_0042.jpg") in got


def test_html_body_text_holds_the_card_number(files: dict[str, Path]) -> None:
    out = expand(files["mail_html_card.eml"])
    body = text(out)
    assert mf.CARD in body and "Betaling" in body and "zie bijlage" in body
    assert "<b>" not in body and "p {}" not in body  # markup and style are not text
    assert not children(out) and not errors(out)


def test_nested_message_is_yielded_whole_and_expands_again(files: dict[str, Path]) -> None:
    kids = children(expand(files["mail_nested_gps.eml"]))
    inner = kids["attachment[1]:message.eml"]
    assert inner.kind == "message/rfc822" and inner.depth == 1
    out = list(EmailExpander(Settings()).expand(inner, Budget(Limits())))
    photo = children(out)["attachment[1]:message.eml!attachment[1]:strand.jpg"]
    assert photo.depth == 2 and has_gps(photo.data)
    assert ("text", "Subject", "Doorgestuurd: vakantie") in fields(out)


def test_malformed_base64_is_a_corrupt_part_and_the_rest_is_read(files: dict[str, Path]) -> None:
    out = expand(files["mail_bad_base64.eml"])
    [err] = errors(out)
    assert err.code == CorruptItem.code and "base64" in err.message
    assert err.location == "attachment[1]:data.bin"
    assert not children(out)
    assert "Hallo Piet" in text(out)


def test_smime_encrypted_is_an_error_not_an_empty_approve(files: dict[str, Path]) -> None:
    out = expand(files["mail_smime_encrypted.eml"])
    assert [e.message for e in errors(out)] == ["encrypted message: content not analysed"]
    assert not children(out)
    assert ("contact", "From", mf.SENDER) in fields(out)


def test_huge_attachment_is_refused_before_decoding_and_others_kept(files: dict[str, Path]) -> None:
    out = expand(files["mail_huge_attachment.eml"], Limits(max_member_bytes=1_000_000))
    [err] = errors(out)
    assert err.code == ItemTooLarge.code and err.location == "attachment[1]:groot.bin"
    assert list(children(out)) == ["attachment[2]:klein.jpg"]
    assert list(children(expand(files["mail_huge_attachment.eml"]))) == ["attachment[1]:groot.bin",
                                                                         "attachment[2]:klein.jpg"]


def test_member_count_limit_stops_the_expansion(files: dict[str, Path]) -> None:
    with pytest.raises(ItemTooLarge):
        expand(files["mail_attachments_gps_zip.eml"], Limits(max_members=1))
    with pytest.raises(ItemTooLarge):
        expand(files["outlook_gps_embedded.msg"], Limits(max_total_bytes=5_000))


def test_outlook_msg_fields_body_and_attachments(files: dict[str, Path]) -> None:
    out = expand(files["outlook_gps_embedded.msg"])
    got = fields(out)
    contacts = [v for c, n, v in got if c == "contact"]  # transport From/To, or the sender/recipient properties
    assert mf.SENDER in contacts and mf.RECIPIENT in contacts
    assert len(contacts) == len(set(contacts))
    assert ("identity", "creator name", "Jan Jansen") in got
    assert ("identity", "last modified by", "J. Jansen (laptop)") in got
    assert ("device", "X-Mailer", "Microsoft Outlook 16.0") in got
    assert mf.CARD in text(out)
    kids = children(out)
    assert list(kids) == ["attachment[1]:IMG_0042.jpg", "attachment[2]:Doorgestuurd bericht.msg"]
    assert has_gps(kids["attachment[1]:IMG_0042.jpg"].data)
    embedded = kids["attachment[2]:Doorgestuurd bericht.msg"]
    assert embedded.kind == "application/vnd.ms-outlook"
    inner = list(OutlookExpander(Settings()).expand(embedded, Budget(Limits())))
    [photo] = children(inner).values()
    assert photo.location.endswith("!attachment[1]:strand.jpg") and has_gps(photo.data)


def test_outlook_smime_is_an_error_with_headers_kept(files: dict[str, Path]) -> None:
    out = expand(files["outlook_smime.msg"])
    assert [e.message for e in errors(out)] == ["encrypted message: content not analysed"]
    assert not children(out)
    assert mf.SENDER in [v for c, n, v in fields(out) if c == "contact"]


@pytest.mark.parametrize("data", [b"", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "__substg1.0_".encode("utf-16-le") * 40])
def test_broken_outlook_file_is_corrupt(data: bytes) -> None:
    item = item_from_bytes("x.msg", data)
    with pytest.raises(CorruptItem):
        list(OutlookExpander(Settings()).expand(item, Budget(Limits())))


def test_hostile_names_and_truncated_multipart() -> None:
    raw = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n'
           b'--B\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename="../../etc/pa!ss\x07wd"\r\n'
           b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n")  # no closing boundary
    out = list(EmailExpander(Settings()).expand(item_from_bytes("m.eml", raw), Budget(Limits())))
    assert list(children(out)) == ["attachment[1]:pa?ss?wd"]
    assert [e.code for e in errors(out)] == ["corrupt"]
    assert "hi" in text(out)


def test_html_to_text_keeps_comments_and_alt_but_not_scripts() -> None:
    got = html_to_text('<p>a<script>var k="s3cret";</script><img alt="IBAN NL91"><!-- pin 1234 --></p>')
    assert "s3cret" not in got and "IBAN NL91" in got and "pin 1234" in got


def test_a_header_value_quoted_in_an_error_is_read_by_the_rules_and_never_printed(tmp_path: Path) -> None:
    """An unknown Content-Transfer-Encoding is quoted in the part's error: a card number there is a finding (block)
    and the message is not shown (it was printed in full in every report format and the result store)."""
    import json

    from scanner.api import scan

    card = "4111 1111 1111 1111"
    mail = ("From: a@example.com\nTo: b@example.com\nSubject: x\nMIME-Version: 1.0\n"
            'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nhello\n--b\n'
            f"Content-Type: application/octet-stream\nContent-Transfer-Encoding: {card}\n\nAAAA\n--b--\n")
    (tmp_path / "m.eml").write_text(mail)
    (report,) = scan(tmp_path / "m.eml", Settings(detectors=("metadata", "text"), jobs=1, audit_db="off")).files
    body = json.dumps(report.to_dict())
    assert report.decision.label == "block" and card not in body and card.replace(" ", "") not in body
    assert "text.payment_card" in {f.rule_id for f in report.findings}
