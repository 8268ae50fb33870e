"""The whole stack through the CLI: metadata, visual and OCR detectors together, every output format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures import text_fixtures, visual_fixtures


@pytest.fixture(scope="module")
def tfx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return text_fixtures.build(tmp_path_factory.mktemp("text"))


@pytest.fixture(scope="module")
def vfx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return visual_fixtures.build(tmp_path_factory.mktemp("visual"))


def test_full_card_number_appears_in_no_output_format(cli, tfx) -> None:
    pan = text_fixtures.CARD_PAN
    variants = {pan, pan.replace(" ", ""), pan.replace(" ", "-")}
    outputs = []
    for fmt in ("console", "json", "jsonl"):
        result = cli("scan", "-j", "1", "--format", fmt, str(tfx["card_pan"]), str(tfx["card_pan_photo"]))
        assert result.code == 1
        outputs.append(result.out + result.err)
    rows = [json.loads(line) for line in outputs[2].splitlines()]
    assert all(any(f["rule_id"] == "text.payment_card" for f in r["findings"]) for r in rows)
    assert all(r["decision"] == "block" for r in rows)
    for out in outputs:
        for v in variants:
            assert v not in out
    assert "ending " + pan[-4:] in outputs[0] and "**** " + pan[-4:] in outputs[1]


def test_restricted_place_and_receipt_in_one_batch(cli, tfx, vfx, fx) -> None:
    refs = Path(vfx["refs/restricted/server-room/rack-1.jpg"]).parents[2]
    result = cli("scan", "-j", "1", "--format", "jsonl", "--refs", str(refs), str(vfx["query_rack.jpg"]),
                 str(tfx["receipt_nl"]), str(fx["gps_dirty.jpg"]), str(fx["truncated.jpg"]))
    rows = {Path(r["path"]).name: r for r in result.jsonl()}
    rules = {name: {f["rule_id"] for f in r["findings"]} for name, r in rows.items()}
    assert "visual.restricted" in rules["query_rack.jpg"] and rows["query_rack.jpg"]["decision"] == "block"
    assert "text.receipt" in rules["receipt_nl.png"]
    assert "metadata.gps" in rules["gps_dirty.jpg"]
    assert rows["truncated.jpg"]["decision"] == "review" and rows["truncated.jpg"]["errors"]
    timings = rows["receipt_nl.png"]["timings"]
    assert {"read", "metadata", "visual", "text"} <= set(timings)


def test_refs_check_command(cli, vfx) -> None:
    refs = Path(vfx["refs/restricted/server-room/rack-1.jpg"]).parents[2]
    result = cli("refs", "check", "--refs", str(refs), "--format", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["labels"][0]["label"] == "server-room" and report["labels"][0]["references"] == 4
    assert cli("refs", "check").code == 2  # no folder configured


def test_missing_reference_folder_is_a_config_error(cli, fx, tmp_path) -> None:
    assert cli("scan", "-q", "--refs", str(tmp_path / "nope"), str(fx["clean.jpg"])).code == 2


def test_secrets_typed_into_metadata_captions_are_found_and_masked(cli, tmp_path) -> None:
    from PIL import Image

    exif = Image.Exif()
    exif[0x010E] = "card 4539 1488 0343 6467 exp 12/27"
    exif[0x9286] = b"ASCII\x00\x00\x00wifi password: Hunter2Secret!"
    path = tmp_path / "captioned.jpg"
    Image.new("RGB", (64, 48), "white").save(path, exif=exif.tobytes())
    result = cli("scan", "-j", "1", "--format", "jsonl", str(path))
    (row,) = result.jsonl()
    found = {f["rule_id"]: f for f in row["findings"]}
    assert row["decision"] == "block"
    assert found["text.payment_card"]["location"] == "EXIF ImageDescription"
    assert "text.secret" in found
    assert "4539 1488 0343 6467" not in result.out and "Hunter2Secret" not in result.out
