"""ExifTool as a second metadata reader: one `exiftool -stay_open` process per worker, started on first use.

It reads the GPS of formats our Python readers do not cover (vendor records such as FLIR segments, GoPro
GPMF, camera RAW maker notes) and cross-checks those they do. Each file is handed over as a private temporary
file (ExifTool reads paths, not pipes, in batch mode): on Linux an anonymous in-memory file (memfd, read
through /proc), elsewhere a 0600 temporary file deleted right after; each answer must come within
`timeout_s`, or the process is killed (the next file starts a fresh one) and the caller is told.
ExifTool's messages are never passed on (they may quote the file's content): only numbers come back.
"""

from __future__ import annotations

import json
import math
import os
import selectors
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import EngineError, EngineUnavailable

# -G1:4: every copy of a tag in its own group ("GPS:Copy2:GPSLatitude"): -G1 alone keeps the first copy of each
# group, so an empty decoy before the real block hid it; the tag patterns take the positions not named GPS*
# (XMP LocationCreated, Google EarthPos, DJI Latitude, C2PA JSON ExifGPSLatitude, DJI's GpsLongtitude)
ARGS = ("-n", "-j", "-G1:4", "-a", "-ee", "-GPS*", "-*Latitude*", "-*Longitude*", "-*Longtitude*", "-*Position*",
        "-*Coordinates*", "-api", "LargeFileSupport=1")
_READY = b"{ready}"
_PAIRS = (("GPSLatitude", "GPSLongitude"), ("GPSDestLatitude", "GPSDestLongitude"))
_JOINED = ("GPSCoordinates", "GPSPosition")
_DERIVED = "Composite"  # computed by ExifTool from the other groups


@dataclass(frozen=True, slots=True)
class Coordinate:
    group: str  # the ExifTool group that holds it (EXIF GPS: "GPS", QuickTime keys: "Keys", FLIR: "FLIR" ...)
    lat: float
    lon: float


def number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number: float | None = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):  # text even with -n ("52,22.2N" in XMP or C2PA JSON): read as XMP's notation
        from ..metadata.xmp import parse_coordinate

        number = parse_coordinate(value) if isinstance(value, str) else None
    return number if number is not None and math.isfinite(number) else None


def signed(tags: Mapping[str, object], tag: str, negative: str) -> float | None:
    """EXIF GPS values come unsigned with a separate reference tag (`-n` keeps "S"/"W" there)."""
    value = number(tags.get(tag))
    ref = str(tags.get(tag + "Ref", "")).strip().upper()[:1]
    return -abs(value) if value is not None and ref == negative else value


def _pair(lat: float | None, lon: float | None) -> bool:
    return lat is not None and lon is not None and abs(lat) <= 90 and abs(lon) <= 180


def coordinates(record: dict[str, object]) -> list[Coordinate]:
    """Positions in one `-j -G1 -n` record: pairs from one group; Composite only when no group has one."""
    groups: dict[str, dict[str, object]] = {}
    for key, value in record.items():
        group, _, tag = key.rpartition(":")
        if group:
            groups.setdefault(group, {})[tag] = value
    # -G1:4 numbers each tag's copies on its own ("GPS:Copy1:GPSLatitudeRef" beside "GPS:Copy2:GPSLatitude"):
    # a copy without its Ref tags takes those of its group's other copies (else 6.2 W would read as 6.2 E)
    refs: dict[str, dict[str, object]] = {}
    for group, tags in groups.items():
        for tag, value in tags.items():
            if tag.endswith("Ref"):
                refs.setdefault(_base(group), {}).setdefault(tag, value)
    for group, tags in groups.items():
        for tag, value in refs.get(_base(group), {}).items():
            tags.setdefault(tag, value)
    out: list[Coordinate] = []
    for group, tags in sorted(groups.items(), key=lambda g: g[0] == _DERIVED):
        if group == _DERIVED and out:
            break
        for lat_tag, lon_tag in _PAIRS + _other_pairs(tags):
            lat, lon = signed(tags, lat_tag, "S"), signed(tags, lon_tag, "W")
            if _pair(lat, lon):
                out.append(Coordinate(_base(group), lat or 0.0, lon or 0.0))
        for tag in _JOINED:
            parts = str(tags.get(tag, "")).replace(",", " ").split()
            if len(parts) >= 2 and _pair(number(parts[0]), number(parts[1])):
                out.append(Coordinate(_base(group), number(parts[0]) or 0.0, number(parts[1]) or 0.0))
    return out


def _base(group: str) -> str:
    """The group without the copy number -G1:4 adds ("GPS:Copy2" -> "GPS"): what a finding shows."""
    return group.split(":", 1)[0]


def _other_pairs(tags: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    """(XLatitude, XLongitude) tag pairs of one group beyond the GPS ones: EarthPosLatitude, DJI Latitude,
    LocationCreatedGPSLatitude, ExifGPSLatitude, and DJI's misspelt GpsLongtitude."""
    pairs = []
    for tag in tags:
        if tag.lower().endswith("latitude") and (tag, tag[:-8] + "Longitude") not in _PAIRS:
            stem = tag[:-8]
            lon = next((t for t in (stem + "Longitude", stem + "Longtitude") if t in tags), None)
            if lon is not None:
                pairs.append((tag, lon))
    return tuple(pairs)


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, be killed when the worker that started us dies (a worker killed
    by the watchdog must not leave ExifTool behind: it does not exit when its argument pipe closes)."""
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        pr_set_pdeathsig, sigkill = 1, 9
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, sigkill)


class ExifToolReader:
    """One `exiftool -stay_open True -@ -` process; `gps(data)` -> the coordinates ExifTool reads."""

    def __init__(self, executable: str, timeout_s: float) -> None:
        self.executable = executable
        self.timeout_s = timeout_s
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen([self.executable, "-stay_open", "True", "-@", "-"], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                          preexec_fn=_die_with_parent)
        return self._proc

    def gps(self, data: bytes) -> list[Coordinate]:
        if hasattr(os, "memfd_create"):  # Linux: an anonymous in-memory file, gone even if this worker is killed
            fd = os.memfd_create("leakscan-exiftool", os.MFD_CLOEXEC)
            try:
                with open(fd, "wb", closefd=False) as fh:
                    fh.write(data)
                return coordinates(self._ask(f"/proc/{os.getpid()}/fd/{fd}"))
            finally:
                os.close(fd)
        fd, path = tempfile.mkstemp(prefix="leakscan-exiftool-")  # elsewhere: mode 0600, removed right after
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            return coordinates(self._ask(path))
        finally:
            os.unlink(path)

    def _ask(self, path: str) -> dict[str, object]:
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        command = "\n".join((*ARGS, "-charset", "filename=utf8", path, "-execute")) + "\n"
        try:
            proc.stdin.write(command.encode("utf-8"))
            proc.stdin.flush()
            out = self._read_until_ready(proc)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise EngineError(f"exiftool second reader failed ({type(exc).__name__})") from None
        except BaseException:  # the file's own time limit ran out mid-answer: never read this answer later
            self.close()
            raise
        try:
            records = json.loads(out) if out.strip() else []
        except ValueError:
            self.close()
            raise EngineError("exiftool second reader answered something that is not JSON") from None
        return records[0] if records and isinstance(records[0], dict) else {}

    def _read_until_ready(self, proc: subprocess.Popen[bytes]) -> bytes:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + self.timeout_s
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while not buf.rstrip().endswith(_READY):
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise TimeoutError
                chunk = os.read(fd, 65_536)
                if not chunk:
                    raise OSError("exiftool exited")
                buf += chunk
        return buf.rstrip()[: -len(_READY)]

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def __del__(self) -> None:
        self.close()


def build_exiftool(mode: str, timeout_s: float) -> ExifToolReader | None:
    """The reader, or None when `mode` is "off" or ("auto") ExifTool is not installed; "on" requires it."""
    if mode == "off":
        return None
    executable = shutil.which("exiftool")
    if executable is None:
        if mode == "on":
            raise EngineUnavailable("exiftool is not installed (setting exiftool = \"on\")")
        return None
    return ExifToolReader(executable, timeout_s)
