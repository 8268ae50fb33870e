"""Issue 8, classes 4-6: cut HEIC/AVIF, secondary MPO pictures, archives/documents hidden in images.

Each attack file is generated (fixtures/hardening_payloads.py) and scanned once with the real CLI; on
the code before this change every attack row below was approved (or mislabelled `unsupported`).
"""

from __future__ import annotations

import io
import json
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fixtures import hardening_payloads
from scanner.metadata import payload

ROOT = Path(__file__).resolve().parents[1]

# name -> (decision, rule id or "error:<code>" that must be there)
CASES: dict[str, tuple[str, str | None]] = {
    **{f"heic_cut{p}.heic": ("review", "error:corrupt") for p in hardening_payloads.CUTS},
    **{f"avif_cut{p}.avif": ("review", "error:corrupt") for p in hardening_payloads.CUTS},
    "mpo_undefined_text.jpg": ("review", "error:unsupported"),
    "mpo_large_thumbnail_text.jpg": ("review", "error:unsupported"),
    "zip_in_jpeg_com.jpg": ("review", "metadata.hidden_payload"),
    "zip_in_jpeg_app15.jpg": ("review", "metadata.hidden_payload"),
    "ole_in_jpeg_app15.jpg": ("review", "metadata.hidden_payload"),
    "zip_in_png_prvt.png": ("review", "metadata.hidden_payload"),
    **{f"{kind}_after_{ext}.{ext}": ("review", "metadata.hidden_payload")
       for kind in ("zip", "pdf", "7z") for ext in ("gif", "tif", "heic", "avif")},
    # controls: real-looking files that must stay clean
    **{f"{ext}_ok.{ext}": ("approve", None) for ext in ("gif", "tif", "heic", "avif")},
    "mpo_preview_ok.jpg": ("approve", None),
    "mpo_gain_map_ok.jpg": ("approve", None),
}


@pytest.fixture(scope="session")
def hx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return hardening_payloads.build(tmp_path_factory.mktemp("hardening"))


@pytest.fixture(scope="session")
def scanned(hx: dict[str, Path]) -> dict[str, dict]:
    folder = next(iter(hx.values())).parent
    out = subprocess.run([sys.executable, "-m", "scanner", "scan", "--detectors", "metadata", "--format", "jsonl",
                          "-q", str(folder)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    return {Path(r["path"]).name: r for r in map(json.loads, out.stdout.splitlines())}


def test_every_fixture_has_a_row(hx: dict[str, Path]) -> None:
    assert set(hx) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_decision(scanned: dict[str, dict], name: str) -> None:
    decision, marker = CASES[name]
    report = scanned[name]
    got = {f["rule_id"] for f in report["findings"]} | {f"error:{e['code']}" for e in report["errors"]}
    assert report["decision"] == decision, (name, got)
    if marker is not None:
        assert marker in got, (name, got)
    else:
        assert not got, (name, got)


def test_cut_heic_is_named_truncated(scanned: dict[str, dict]) -> None:
    for percent in hardening_payloads.CUTS:
        messages = " ".join(e["message"] for e in scanned[f"heic_cut{percent}.heic"]["errors"])
        assert "truncated" in messages


def test_secondary_frame_error_names_the_frame(scanned: dict[str, dict]) -> None:
    message = scanned["mpo_undefined_text.jpg"]["errors"][0]["message"]
    assert "frame 2 of 2" in message and "Undefined" in message


def test_payload_finding_names_where_and_what(scanned: dict[str, dict]) -> None:
    [com] = [f for f in scanned["zip_in_jpeg_com.jpg"]["findings"] if f["rule_id"] == "metadata.hidden_payload"]
    assert "JPEG COM segment" in com["location"] and "2 member(s)" in com["message"]
    [chunk] = [f for f in scanned["zip_in_png_prvt.png"]["findings"] if f["rule_id"] == "metadata.hidden_payload"]
    assert "PNG prVt chunk" in chunk["location"]


def test_found_zip_is_a_real_archive(hx: dict[str, Path]) -> None:
    """What the scanner reports is what an unzip tool lists."""
    data = hx["zip_in_jpeg_app15.jpg"].read_bytes()
    [found] = payload.find(data)
    with zipfile.ZipFile(io.BytesIO(data[found.offset:])) as z:
        assert sorted(z.namelist()) == ["cards.csv", "passwords.txt"]
    if shutil.which("unzip"):
        listing = subprocess.run(["unzip", "-l", str(hx["zip_after_gif.gif"])], capture_output=True, text=True)
        assert "passwords.txt" in listing.stdout


@pytest.mark.parametrize("signature", [sig for sig, _ in payload._SIGNATURES])
def test_signatures_in_random_bytes_are_not_payloads(signature: bytes) -> None:
    """Entropy-coded image data can hold a signature by chance; validation must reject it."""
    rng = random.Random(signature)
    blob = bytearray(rng.randbytes(400_000))
    for pos in range(1000, len(blob) - 2000, 997):
        blob[pos : pos + len(signature)] = signature
    assert payload.find(bytes(blob)) == []


@pytest.mark.parametrize(("blob", "kind"), [
    (hardening_payloads.zip_blob(), "ZIP"), (hardening_payloads.pdf_blob(), "PDF"),
    (hardening_payloads.sevenzip_blob(), "7z"), (hardening_payloads.ole_blob(), "OLE"),
    (hardening_payloads.rar_blob(), "RAR"),
])
def test_each_payload_kind_is_found_in_noise(blob: bytes, kind: str) -> None:
    noise = random.Random(1).randbytes(5000)
    [found] = payload.find(noise + blob + noise)
    assert (found.offset, found.kind) == (5000, kind)
