"""The archive expander on generated archives: members, nesting, GPS kept, bombs, hostile names, encryption,
truncation, links, limits and mutated bytes."""

from __future__ import annotations

import io
import os
import random
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from fixtures import archive_fixtures as af
from fixtures.metadata_fixtures import AMSTERDAM, gps_exif
from scanner.config import Settings
from scanner.containers.archive import ArchiveExpander
from scanner.containers.base import FIELDS_KIND, TEXT_KIND, Budget, Expander, Limits, read_fields
from scanner.errors import ItemError, ItemTooLarge, UnsupportedItem
from scanner.model import ErrorRecord, Item
from scanner.sources import item_from_bytes

GPS_IFD = 0x8825
EXPANDER = ArchiveExpander(Settings())


@pytest.fixture(scope="module")
def arc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return af.build(tmp_path_factory.mktemp("archive_fixtures"))


def expand(data: bytes, name: str = "f", limits: Limits | None = None, location: str = "") -> list[Item | ErrorRecord]:
    return list(EXPANDER.expand(item_from_bytes(name, data, location), Budget(limits or Limits())))


def parts(out: list[Item | ErrorRecord]) -> tuple[list[Item], list[ErrorRecord], list[tuple[str, str, str]]]:
    items = [o for o in out if isinstance(o, Item) and o.kind != FIELDS_KIND]
    errors = [o for o in out if isinstance(o, ErrorRecord)]
    fields = [f for o in out if isinstance(o, Item) and o.kind == FIELDS_KIND for f in read_fields(o)]
    return items, errors, fields


def has_gps(data: bytes) -> bool:
    import pillow_heif

    pillow_heif.register_heif_opener()
    with Image.open(io.BytesIO(data)) as im:
        return bool(im.getexif().get_ifd(GPS_IFD))


GPS_JPEG = af.jpeg(seed=1, exif=gps_exif(*AMSTERDAM))

CASES = [
    # fixture, child locations in order, (error code, error location) pairs
    ("clean_two_photos.zip", ["holiday/a.jpg", "holiday/b.jpg"], []),
    ("nested_gps.zip", ["readme.txt", "inner.zip"], []),
    ("heic_gps.tar.gz", ["phone/IMG_0042.heic"], []),
    ("photos_gps.tar.bz2", ["p/gps.jpg"], []),
    ("photos_gps.tar.xz", ["p/gps.jpg"], []),
    ("bomb_ratio.zip", ["photo.jpg"], [("too_large", "zeros.bin")]),
    ("bomb_ratio.gz", [], [("too_large", "decompressed")]),
    ("traversal_names.zip", ["../../etc/passwd", "/abs/x.jpg", "C:\\x.jpg", "?[31mred.jpg"], []),
    ("encrypted_member.zip", ["clean.jpg"], [("unsupported", "secret/gps.jpg")]),
    ("truncated.zip", ["a.jpg", "b.jpg", "c.jpg"], [("corrupt", "c.jpg"), ("corrupt", "")]),
    ("lying_size.zip", [], [("corrupt", "big.bin")]),
    ("comment_pan.zip", ["a.jpg"], []),
    ("symlink_member.zip", ["link_to_shadow", "photo.jpg"], []),  # a link's bytes (its target) are read too
    ("duplicate_names.zip", ["same.jpg", "same.jpg"], []),
    ("links_special.tar", ["dir/a.jpg", "dir/a.jpg"], []),
    ("truncated.tar", ["photos/clean.jpg"], [("corrupt", "")]),
    ("garbage_then_member.tar", ["photos/clean.jpg"], [("corrupt", "")]),
    ("gps_photo.jpg.gz", ["receipt.jpg"], []),
    ("gps_photo.bz2", ["decompressed"], []),
    ("gps_photo.xz", ["decompressed"], []),
    ("truncated.gz", ["cut.jpg"], [("corrupt", "cut.jpg")]),
    ("gps_photo.7z", ["camera/IMG_7.jpg", "notes.txt"], []),
    ("encrypted.7z", [], [("unsupported", "secret.jpg")]),
]


@pytest.mark.parametrize(("name", "children", "errors"), CASES, ids=[c[0] for c in CASES])
def test_fixture_children_and_errors(arc: dict[str, Path], name: str, children: list[str],
                                     errors: list[tuple[str, str]]) -> None:
    items, errs, _ = parts(expand(arc[name].read_bytes(), name))
    assert [i.location for i in items] == children
    assert [(e.code, e.location) for e in errs] == errors
    assert all(i.depth == 1 and i.source == name for i in items)


def test_gps_survives_every_archive_format(arc: dict[str, Path]) -> None:
    for name, member in [("photos_gps.tar.bz2", "p/gps.jpg"), ("photos_gps.tar.xz", "p/gps.jpg"),
                         ("gps_photo.jpg.gz", "receipt.jpg"), ("gps_photo.bz2", "decompressed"),
                         ("gps_photo.xz", "decompressed"), ("gps_photo.7z", "camera/IMG_7.jpg"),
                         ("duplicate_names.zip", "same.jpg")]:
        items, _, _ = parts(expand(arc[name].read_bytes()))
        gps = [i for i in items if i.location == member and i.data == GPS_JPEG]
        assert gps and has_gps(gps[0].data), name


def test_nested_zip_is_a_child_that_expands_to_the_gps_photo(arc: dict[str, Path]) -> None:
    items, _, _ = parts(expand(arc["nested_gps.zip"].read_bytes(), "nested_gps.zip"))
    inner = next(i for i in items if i.location == "inner.zip")
    assert inner.kind == "application/zip"
    grand = list(EXPANDER.expand(inner, Budget(Limits())))
    assert len(grand) == 1 and isinstance(grand[0], Item)
    assert grand[0].location == "inner.zip!DCIM/IMG_0001.jpg" and grand[0].depth == 2
    assert grand[0].data == GPS_JPEG and has_gps(grand[0].data)


def test_heic_in_tar_gz_keeps_its_gps(arc: dict[str, Path]) -> None:
    items, _, _ = parts(expand(arc["heic_gps.tar.gz"].read_bytes()))
    assert items[0].kind == "image/heic" and has_gps(items[0].data)


def test_zip_bomb_is_refused_before_decompression(arc: dict[str, Path]) -> None:
    budget = Budget(Limits())
    out = list(EXPANDER.expand(item_from_bytes("b", arc["bomb_ratio.zip"].read_bytes()), budget))
    items, errs, _ = parts(out)
    assert "zip bomb" in errs[0].message and all(len(i.data) < af.BOMB_BYTES for i in items)
    assert budget.bytes < af.BOMB_BYTES  # never counted, never decompressed


def test_text_and_comments_reach_the_text_rules(arc: dict[str, Path]) -> None:
    _, _, fields = parts(expand(arc["comment_pan.zip"].read_bytes()))
    assert ("text", "zip comment", f"card {af.CARD}") in fields
    _, _, gz_fields = parts(expand(arc["gps_photo.jpg.gz"].read_bytes()))
    assert ("text", "gzip comment", f"card {af.CARD}") in gz_fields
    items, _, _ = parts(expand(arc["traversal_names.zip"].read_bytes()))
    assert items[0].kind == TEXT_KIND and b"root:x:0:0" in items[0].data


def test_links_and_special_members_are_fields_not_children(arc: dict[str, Path]) -> None:
    items, errs, fields = parts(expand(arc["links_special.tar"].read_bytes()))
    assert errs == []
    assert {("identity", "tar owner", "jjansen"), ("identity", "tar group", "finance")} <= set(fields)
    assert ("history", "link member", "dir/shadow -> /etc/shadow") in fields
    assert ("history", "link member", "dir/hard -> dir/a.jpg") in fields
    assert {("history", "special member", "dir/fifo"), ("history", "special member", "dev/sda")} <= set(fields)
    assert [i.data for i in items] == [af.jpeg(seed=0), GPS_JPEG]  # duplicates: both scanned
    _, _, zip_fields = parts(expand(arc["symlink_member.zip"].read_bytes()))
    assert zip_fields == [("history", "link member", "link_to_shadow")]


def test_hostile_names_are_display_text_only(arc: dict[str, Path], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    items, _, _ = parts(expand(arc["traversal_names.zip"].read_bytes(), location="up.zip"))
    assert [i.location for i in items][3] == "up.zip!?[31mred.jpg"
    assert not any("\x1b" in i.location for i in items)
    assert os.listdir(tmp_path) == []


def test_encrypted_zip_member_is_really_encrypted_and_reported(arc: dict[str, Path]) -> None:
    data = arc["encrypted_member.zip"].read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.read("secret/gps.jpg", pwd=b"hunter2") == GPS_JPEG  # the fixture is real ZipCrypto
    _, errs, _ = parts(expand(data))
    assert "encrypted" in errs[0].message


def test_truncated_zip_keeps_the_whole_members(arc: dict[str, Path]) -> None:
    items, _, _ = parts(expand(arc["truncated.zip"].read_bytes()))
    assert [i.data for i in items[:2]] == [af.jpeg(seed=0), af.jpeg(seed=4)]
    assert 0 < len(items[2].data) < len(GPS_JPEG)


def test_7z_with_encrypted_headers_cannot_be_read(arc: dict[str, Path]) -> None:
    with pytest.raises(UnsupportedItem, match="encrypted"):
        expand(arc["encrypted_headers.7z"].read_bytes())


@pytest.mark.parametrize("name", ["many_200.zip"])
def test_member_count_limit_stops_expansion(arc: dict[str, Path], name: str) -> None:
    gen = EXPANDER.expand(item_from_bytes(name, arc[name].read_bytes()), Budget(Limits(max_members=5)))
    got: list[Item | ErrorRecord] = []
    with pytest.raises(ItemTooLarge, match="more than 5 members"):
        got.extend(gen)
    assert len(got) == 5


def test_member_and_total_byte_limits(arc: dict[str, Path]) -> None:
    data = arc["clean_two_photos.zip"].read_bytes()
    items, errs, _ = parts(expand(data, limits=Limits(max_member_bytes=4094)))
    assert [i.location for i in items] == ["holiday/b.jpg"] and errs[0].code == "too_large"
    with pytest.raises(ItemTooLarge, match="members expand past"):
        expand(data, limits=Limits(max_total_bytes=5000))
    tar_items, tar_errs, _ = parts(expand(arc["photos_gps.tar.xz"].read_bytes(), limits=Limits(max_ratio=1.2)))
    assert tar_items == [] and tar_errs[0].code == "too_large"


def test_expander_contract_and_statelessness(arc: dict[str, Path]) -> None:
    assert isinstance(EXPANDER, Expander)
    a = EXPANDER.expand(item_from_bytes("a", arc["clean_two_photos.zip"].read_bytes()), Budget(Limits()))
    b = EXPANDER.expand(item_from_bytes("b", arc["gps_photo.7z"].read_bytes()), Budget(Limits()))
    first_a, first_b = next(a), next(b)
    assert isinstance(first_a, Item) and isinstance(first_b, Item)
    assert first_a.location == "holiday/a.jpg" and first_b.location == "camera/IMG_7.jpg"
    assert len(list(a)) == 1 and len(list(b)) == 1


MUTATED = ["clean_two_photos.zip", "nested_gps.zip", "heic_gps.tar.gz", "traversal_names.zip",
           "encrypted_member.zip", "links_special.tar", "gps_photo.jpg.gz", "gps_photo.bz2", "gps_photo.xz",
           "gps_photo.7z", "symlink_member.zip", "photos_gps.tar.bz2"]


@pytest.mark.parametrize("name", MUTATED)
def test_mutated_archives_never_crash(arc: dict[str, Path], name: str) -> None:
    """Flipped bytes and cut ends: children, error records or an ItemError, never another exception."""
    rng = random.Random(name)
    base = arc[name].read_bytes()
    for _ in range(40):
        data = bytearray(base)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = data[: rng.randint(len(data) // 2, len(data))] if rng.random() < 0.3 else data
        try:
            out = expand(bytes(data), limits=Limits(max_total_bytes=50_000_000))
        except ItemError:
            continue
        assert all(isinstance(o, Item | ErrorRecord) for o in out)
