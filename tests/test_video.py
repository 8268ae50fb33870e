"""Videos (MP4/MOV/3GP/M4V): sniffed by brand, GPS and device/owner tags read from `moov` (©xyz, 3GPP loci,
Apple QuickTime keys) by a strict bounded walker, frames sampled into picture children that OCR reads."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

from fixtures import video_fixtures
from fixtures.metadata_fixtures import AMSTERDAM
from scanner import Decision, Settings, scan, scan_bytes
from scanner.containers import video as video_expander
from scanner.errors import CorruptItem
from scanner.formats import sniff
from scanner.metadata import video

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import _exiftool  # noqa: E402

pytest.importorskip("av", reason="PyAV (the video extra) is not installed")
META = Settings(detectors=("metadata",), jobs=1)
POSITIONS = {"phone_xyz.mp4": video_fixtures.BERLIN, "iphone_keys.mov": AMSTERDAM,
             "camera_loci.3gp": video_fixtures.LISBON, "gps_truncated.mp4": video_fixtures.LISBON}


@pytest.fixture(scope="module")
def vids(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return video_fixtures.build(tmp_path_factory.mktemp("videos"))


@pytest.mark.parametrize(("name", "kind"), [("phone_xyz.mp4", "video/mp4"), ("iphone_keys.mov", "video/quicktime"),
                                            ("camera_loci.3gp", "video/3gpp"), ("clean.m4v", "video/x-m4v")])
def test_sniffed_by_brand(vids: dict[str, Path], name: str, kind: str) -> None:
    assert sniff(vids[name].read_bytes()) == kind


@pytest.mark.parametrize("name", sorted(POSITIONS))
def test_gps_in_video(vids: dict[str, Path], name: str) -> None:
    report = scan([vids[name]], META).files[0]
    gps = [f for f in report.findings if f.rule_id == "metadata.gps"]
    assert len(gps) == 1, report.findings
    lat, lon = POSITIONS[name]
    assert gps[0].evidence["lat"] == pytest.approx(lat, abs=1e-3)
    assert gps[0].evidence["lon"] == pytest.approx(lon, abs=1e-3)
    assert report.decision == Decision.REVIEW


def test_device_and_owner_tags(vids: dict[str, Path]) -> None:
    report = scan([vids["iphone_keys.mov"]], META).files[0]
    rules = {f.rule_id for f in report.findings}
    assert {"metadata.device", "metadata.identity", "metadata.capture_time"} <= rules
    phone = scan([vids["phone_xyz.mp4"]], META).files[0]
    device = next(f for f in phone.findings if f.rule_id == "metadata.device")
    assert {"Make", "Model"} <= set(device.evidence)


def test_clean_video_is_approved_with_its_frames(vids: dict[str, Path]) -> None:
    report = scan([vids["clean.m4v"]], Settings(jobs=1)).files[0]
    assert report.decision == Decision.APPROVE and not report.errors
    assert [p.location for p in report.parts] == ["frame@0.0s", "frame@2.0s"]
    assert all(p.kind == "image/png" for p in report.parts)


def test_card_number_on_a_frame_is_blocked(vids: dict[str, Path]) -> None:
    report = scan([vids["card_frame.mp4"]], Settings(jobs=1)).files[0]
    assert report.decision == Decision.BLOCK
    hits = [p.location for p in report.parts if any(f.rule_id == "text.payment_card" for f in p.findings)]
    assert "frame@2.0s" in hits and "frame@0.0s" not in hits


def test_truncated_video_keeps_gps_and_is_reviewed(vids: dict[str, Path]) -> None:
    report = scan([vids["gps_truncated.mp4"]], Settings(jobs=1)).files[0]
    assert any(f.rule_id == "metadata.gps" for f in report.findings)
    assert any(e.code == "corrupt" for e in report.errors)
    assert report.decision == Decision.REVIEW


def test_without_pyav_frames_are_not_checked(vids: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # `import av` raises ImportError. In this process: a spawned worker (the pool spawns once torch is
    # loaded, which depends on test order) would import the real PyAV afresh.
    monkeypatch.setitem(sys.modules, "av", None)
    report = scan_bytes(vids["clean.m4v"].read_bytes(), "clean.m4v", Settings(jobs=1))
    assert report.decision == Decision.REVIEW
    assert any("frames not checked" in e.message for e in report.errors)


@pytest.mark.parametrize(("text", "expected"), [
    ("+51.9225+004.4792/", (51.9225, 4.4792)), ("-33.8688-070.6693+012.5/", (-33.8688, -70.6693)),
    ("+5155.35+00428.75/", (51 + 55.35 / 60, 4 + 28.75 / 60)), ("+515521+0042845/", (51 + 55 / 60 + 21 / 3600,
                                                                                       4 + 28 / 60 + 45 / 3600)),
])
def test_iso6709(text: str, expected: tuple[float, float]) -> None:
    assert video.parse_iso6709(text) == pytest.approx(expected)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


@pytest.mark.parametrize("moov", [
    _box(b"moov", _box(b"udta", b"\x00\x00\x00\x40\xa9xyz+51")),  # a child past its parent's end
    _box(b"moov", _box(b"udta", b"garbage!garbage!")),  # bytes that are not a box
    _box(b"moov", _box(b"udta", _box(b"\xa9xyz", b"\x00\x05\x15\xc7nowhere"))),  # an unreadable location
], ids=["past-end", "not-a-box", "bad-location"])
def test_malformed_moov_is_corrupt(moov: bytes) -> None:
    data = _box(b"ftyp", b"isom\x00\x00\x02\x00isom") + moov
    try:
        meta = video.read(data)
    except CorruptItem:
        return
    assert meta.problems


def test_nesting_is_bounded() -> None:
    inner = _box(b"udta", b"")
    for _ in range(video.MAX_DEPTH + 2):
        inner = _box(b"trak", inner)
    with pytest.raises(CorruptItem):
        video.read(_box(b"ftyp", b"isom\x00\x00\x02\x00") + _box(b"moov", inner))


def test_sample_times() -> None:
    assert video_expander.sample_times(5.0) == [0.0, 2.0, 4.0]
    long = video_expander.sample_times(600.0)
    assert len(long) == video_expander.MAX_FRAMES and long[-1] == 540.0


@pytest.mark.skipif(not _exiftool.available(), reason="exiftool not installed")
def test_exiftool_agrees_on_the_coordinates(vids: dict[str, Path]) -> None:
    paths = [vids[name] for name in sorted(POSITIONS) if name != "gps_truncated.mp4"]
    theirs = _exiftool.coordinates(paths)
    for path in paths:
        ours = next(f for f in scan([path], META).files[0].findings if f.rule_id == "metadata.gps")
        assert any(abs(c.lat - ours.evidence["lat"]) < 1e-3 and abs(c.lon - ours.evidence["lon"]) < 1e-3
                   for c in theirs[path]), (path.name, theirs[path])


def test_a_telemetry_track_is_named_as_not_read() -> None:
    """A GoPro GPMF (`gpmd`) track may carry a GPS track in its samples: not decoded, so it is a problem."""
    entry = _box(b"gpmd", bytes(8))
    stsd = _box(b"stsd", b"\x00\x00\x00\x00\x00\x00\x00\x01" + entry)
    trak = _box(b"trak", _box(b"mdia", _box(b"minf", _box(b"stbl", stsd))))
    meta = video.read(_box(b"ftyp", b"mp41\x00\x00\x00\x00") + _box(b"moov", trak))
    assert any("GoPro GPMF" in p for p in meta.problems)


def test_portrait_video_frames_are_upright(vids: dict[str, Path]) -> None:
    """A phone's portrait video is stored sideways with a display matrix: the sampled frame is turned upright."""
    import io

    from PIL import Image

    from scanner.containers.base import Budget, Limits
    from scanner.model import Item
    from scanner.sources import item_from_bytes

    item = item_from_bytes("x.mp4", vids["portrait_rotated.mp4"].read_bytes())
    frames = [o for o in video_expander.VideoExpander(Settings()).expand(item, Budget(Limits())) if isinstance(o, Item)]
    assert frames and frames[0].location == "frame@0.0s"
    image = Image.open(io.BytesIO(frames[0].data)).convert("RGB")
    assert image.size == (video_fixtures.SIZE[1], video_fixtures.SIZE[0])  # portrait
    red, green, _blue = image.getpixel((10, 10))  # type: ignore[misc]
    assert red > 200 and green < 60  # the mark is at the top left
    assert image.getpixel((image.size[0] - 10, 10)) == (255, 255, 255)


@pytest.mark.skipif(not _exiftool.available(), reason="exiftool not installed")
def test_frames_the_scanner_encoded_are_not_read_for_metadata(vids: dict[str, Path],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The second reader sees the video itself, never the PNG frames the expander made (no metadata of theirs)."""
    from scanner.engines.exiftool import ExifToolReader

    seen: list[bytes] = []
    real = ExifToolReader.gps

    def counting(self: ExifToolReader, data: bytes) -> list[object]:
        seen.append(data[:8])
        return list(real(self, data))

    monkeypatch.setattr(ExifToolReader, "gps", counting)
    data = vids["phone_xyz.mp4"].read_bytes()
    report = scan_bytes(data, "phone_xyz.mp4", Settings(detectors=("metadata", "text"), jobs=1, exiftool="on"))
    assert any(p.location.startswith("frame@") for p in report.walk())  # frames were made and read (OCR)
    assert seen == [data[:8]]
    assert any(f.rule_id == "metadata.gps" for f in report.findings)
