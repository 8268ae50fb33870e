"""C2PA manifests (fixtures/c2pa_fixtures.py): GPS in a camera's `stds.exif` assertion (APP11 over two segments, PNG
caBX, CBOR) and the CreativeWork author are read by our own readers, without ExifTool; a store cut short is
`review`; a manifest without GPS stays approvable; `leakscan fix` leaves no manifest in the copy. The JUMBF walker
and the CBOR decoder never raise on damaged bytes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fixtures import c2pa_fixtures as fx
from scanner import scan
from scanner.config import Settings
from scanner.errors import CorruptItem
from scanner.metadata import c2pa, cbor

OURS = Settings(detectors=("metadata",), jobs=1, exiftool="off")
GPS_FILES = ("c2pa_gps_two_app11.jpg", "c2pa_gps_cabx.png", "c2pa_gps_cbor.jpg")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return fx.build(tmp_path_factory.mktemp("c2pa"))


@pytest.mark.parametrize("name", GPS_FILES)
def test_gps_in_a_c2pa_manifest_is_found_without_exiftool(files: dict[str, Path], name: str) -> None:
    """ExifTool reads 39,21.102N 74,26.5737W from the stds.exif assertion; with the second reader off the file
    was approved."""
    (report,) = scan(files[name], OURS).files
    gps = [f for f in report.findings if f.rule_id == "metadata.gps"]
    assert report.decision.label != "approve" and len(gps) == 1
    assert gps[0].location == "C2PA stds.exif" and "39.3517 N, 74.4429 W" in gps[0].message
    assert (gps[0].evidence["lat"], gps[0].evidence["lon"]) == (39.3517, -74.442895)
    assert not report.errors


@pytest.mark.parametrize("name", GPS_FILES)
def test_exiftool_reads_the_same_position(files: dict[str, Path], name: str) -> None:
    """The second reader agrees: no further finding of its own (its coordinate is the one we read)."""
    if shutil.which("exiftool") is None:
        pytest.skip("ExifTool is not installed")
    (report,) = scan(files[name], Settings(detectors=("metadata",), jobs=1, exiftool="on")).files
    assert [f.location for f in report.findings if f.rule_id == "metadata.gps"] == ["C2PA stds.exif"]


def test_the_author_of_a_creative_work_assertion_is_identifying_and_masked(files: dict[str, Path]) -> None:
    (report,) = scan(files["c2pa_gps_two_app11.jpg"], OURS).files
    (identity,) = [f for f in report.findings if f.rule_id == "metadata.identity"]
    assert identity.location == "C2PA stds.schema-org.CreativeWork" and "author" in identity.message
    assert fx.AUTHOR not in json.dumps(report.to_dict())


def test_a_manifest_cut_short_is_reviewed(files: dict[str, Path]) -> None:
    """The second APP11 packet is lost (ExifTool: "Invalid JUMBF size or missing JUMBF chunk", no GPS)."""
    (report,) = scan(files["c2pa_cut_short.jpg"], OURS).files
    assert report.decision.label == "review"
    assert any(e.message.startswith("C2PA manifest:") and "cut short" in e.message for e in report.errors)


def test_a_manifest_without_gps_or_person_stays_approvable(files: dict[str, Path]) -> None:
    (report,) = scan(files["c2pa_no_gps.jpg"], OURS).files
    assert report.decision.label == "approve" and not report.errors
    assert not [f for f in report.findings if f.rule_id.startswith("metadata.gps")]
    assert {f.location for f in report.findings} == {"C2PA c2pa.actions", "C2PA c2pa.claim"}  # device notes


@pytest.mark.parametrize("name", ["c2pa_gps_two_app11.jpg", "c2pa_gps_cabx.png"])
def test_the_safe_copy_has_no_manifest(files: dict[str, Path], name: str, tmp_path: Path) -> None:
    from scanner.cli import main

    src = tmp_path / name
    shutil.copy(files[name], src)
    policy = tmp_path / "metadata_only.toml"
    policy.write_text('[scan]\ndetectors = ["metadata"]\n')
    assert main(["fix", "--policy", str(policy), "--format", "json", str(src)]) == 0
    copy = next(tmp_path.glob("*.safe.*")).read_bytes()
    assert b"\xff\xeb" not in copy[: copy.find(b"\xff\xda")] and b"caBX" not in copy and b"jumb" not in copy
    assert not c2pa.read(copy, 1 << 20).positions


def test_split_packets_are_joined_in_sequence_order() -> None:
    """APP11 packets stored out of order still make the store (readers order them by sequence number)."""
    store = fx.manifest_store(fx.assertion("stds.exif", fx.EXIF_JSON))
    first, second = fx.app11(store, parts=2)
    found = c2pa.read(b"\xff\xd8" + second + first, 1 << 20)
    assert not found.problems and [p[0] for p in found.positions] == ["C2PA stds.exif"]


def test_a_store_over_the_metadata_cap_is_a_problem_not_read() -> None:
    store = fx.manifest_store(fx.assertion("stds.exif", fx.EXIF_JSON))
    found = c2pa.read(b"\xff\xd8" + b"".join(fx.app11(store)), 100)
    assert not found.positions and found.problems == [f"APP11 manifest store of {len(store)} bytes is over the "
                                                      "metadata cap"]


def test_an_isobmff_c2pa_box_is_read(tmp_path: Path) -> None:
    """HEIC/AVIF/MP4: a top-level `uuid` box with the C2PA UUID, version and flags, purpose "manifest", an offset,
    the store (the C2PA specification's layout; ExifTool 12.57 does not read this box, so no fixture relies on it)."""
    import io

    import pillow_heif

    from fixtures.metadata_fixtures import scene

    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    scene(seed=7).save(buf, "HEIF")
    store = fx.manifest_store(fx.assertion("stds.exif", fx.EXIF_JSON))
    path = tmp_path / "c2pa_gps_uuid.heic"
    path.write_bytes(buf.getvalue() + fx.box(b"uuid", c2pa.C2PA_UUID + bytes(4) + b"manifest\x00" + bytes(8) + store))
    (report,) = scan(path, OURS).files
    assert [f.location for f in report.findings if f.rule_id == "metadata.gps"] == ["C2PA stds.exif"]
    assert report.decision.label == "review" and not report.errors


def test_damaged_stores_never_raise(files: dict[str, Path]) -> None:
    """Every cut and a byte flipped at every 7th offset of a real store: problems, never an exception."""
    data = files["c2pa_gps_cabx.png"].read_bytes()
    chunk = data.find(b"caBX")
    store = data[chunk + 4 : chunk + 4 + int.from_bytes(data[chunk - 4 : chunk], "big")]
    damaged = [store[:n] for n in range(0, len(store), 3)]
    damaged += [store[:i] + bytes([store[i] ^ 0xA5]) + store[i + 1 :] for i in range(0, len(store), 7)]
    for blob in damaged:
        c2pa.read(b"\x89PNG\r\n\x1a\n" + len(blob).to_bytes(4, "big") + b"caBX" + blob + bytes(4), 1 << 20)


@pytest.mark.parametrize(("body", "error"), [
    (b'"4,53.4E"', ""),  # a bare value: a text field, nothing else
    (b"[1, 2.5, null]", ""),
    (b'{"exif:GPSLatitude": 1e999, "exif:GPSLongitude": "4,53.4E"}', "GPS value present but not readable"),
    (b'{"exif:GPSLatitude": "north", "exif:GPSLongitude": 4.89}', "GPS value present but not readable"),
    (b"[" * 5000 + b"]" * 5000, "JSON is unreadable"),
    (b"[" * 40 + b"]" * 40, "nested deeper"),
])
def test_odd_assertion_values_are_read_or_reviewed(body: bytes, error: str, tmp_path: Path) -> None:
    """A value that is not a coordinate under a GPS key, JSON too deep: review (the longitude alone is shown)."""
    path = tmp_path / "odd.png"
    path.write_bytes(fx.png_with(fx.manifest_store(fx.superbox(fx.JSON_TYPE, "stds.exif", fx.box(b"json", body)))))
    (report,) = scan(path, OURS).files
    assert not [f for f in report.findings if f.rule_id == "metadata.gps"]
    if error:
        assert report.decision.label == "review" and any(error in e.message for e in report.errors)
    else:
        assert report.decision.label == "approve" and not report.errors


@pytest.mark.parametrize(("raw", "why"), [
    (b"\x82\x01", "more than its bytes hold"),  # an array of 2 with one item
    (b"\x82\x01\x19\x01", "cut short"),  # its second item, a 16-bit number, has one byte
    (b"\x1c", "reserved"),  # additional information 28
    (b"\x9b" + (1 << 40).to_bytes(8, "big"), "more than its bytes hold"),  # a huge declared array
    (b"\x5a\xff\xff\xff\xff", "cut short"),  # a byte string longer than the data
    (b"\x81" * 40 + b"\x00", "nested deeper"),
    (b"\xff", "break outside"),
    (b"\x9f\x01", "no break"),
    (b"\x5f\x61a\xff", "another type"),  # a text chunk in an indefinite byte string
    (b"\x01\x02", "after its item"),
])
def test_cbor_damage_is_corrupt_item(raw: bytes, why: str) -> None:
    with pytest.raises(CorruptItem, match=why):
        cbor.decode(raw)


def test_cbor_reads_what_a_manifest_holds() -> None:
    value = {"a": [1, -7, b"\x00", None, True, "x" * 30], 1: {"n": 1 << 40}}
    assert cbor.decode(fx.cbor(value)) == value
    assert cbor.decode(b"\xd2\x9f\x61a\x62bc\xff") == ["a", "bc"]  # a tag, an indefinite array
    assert cbor.decode(b"\xf9\x3c\x00") == 1.0 and cbor.decode(b"\x7f\x61a\x61b\xff") == "ab"
    with pytest.raises(CorruptItem, match="too many"):
        cbor.decode(b"\x83\x01\x02\x03", max_items=3)
