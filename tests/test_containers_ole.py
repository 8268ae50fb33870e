"""Legacy Office (OLE) and password-protected OOXML: never approved, the reason said plainly."""

from __future__ import annotations

import io

import pytest

from scanner import Settings, scan_bytes
from scanner.formats import sniff


def _ole(*streams: tuple[list[str], bytes]) -> bytes:
    from extract_msg.ole_writer import OleWriter

    writer = OleWriter()
    for path, data in streams:
        writer.addEntry(path, data)  # type: ignore[attr-defined]
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(("streams", "says"), [
    ([(["EncryptedPackage"], b"\x00" * 4096), (["EncryptionInfo"], b"\x04\x00\x04\x00")], "password-protected"),
    ([(["WordDocument"], b"\xec\xa5" + b"\x00" * 4094)], "legacy Word binary document"),
    ([(["Workbook"], b"\x09\x08" + b"\x00" * 4094)], "legacy Excel binary document"),
])
def test_ole_documents_get_review_with_the_reason(streams: list[tuple[list[str], bytes]], says: str) -> None:
    data = _ole(*streams)
    assert sniff(data) == "application/x-ole-storage"
    report = scan_bytes(data, "doc.bin", Settings(detectors=("metadata", "text"), jobs=1))
    assert report.decision.label == "review"
    assert any(says in e.message for e in report.errors), [e.message for e in report.errors]
    assert not any("no detector handles" in e.message for node in report.walk() for e in node.errors)
