"""Videos (MP4, MOV, 3GP, M4V) -> sampled frames as picture items, so OCR, visual and face detectors see them.

One frame per FRAME_INTERVAL_S seconds from the start, at most MAX_FRAMES (a longer video is sampled
evenly over its whole length instead), each a PNG child at `frame@12.0s`, turned upright as a player
shows it (a phone's portrait video is stored sideways with a display matrix). Frames are decoded with PyAV
(its wheel bundles ffmpeg), imported here only; without it the video is `review` ("frames not checked"),
never approved unseen. The video's own metadata (GPS, device, owner) is read by the metadata detector
from the container item itself (metadata/video.py).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import CorruptItem, ItemTooLarge, UnsupportedItem
from ..formats import VIDEO_KINDS
from ..model import ErrorRecord, Item
from .base import Budget, Expansion, child, error

if TYPE_CHECKING:
    from PIL import Image

    from ..config import Settings

FRAME_INTERVAL_S = 2.0  # one sampled frame per this many seconds ...
MAX_FRAMES = 10  # ... at most this many per video (then spread evenly over its length)
MAX_FRAME_SIDE = 1920  # frames are scaled down to this long side (OCR still reads 1080p text)
_TIME_SLACK = 0.05  # a frame this close before a sample time counts as at it


def sample_times(duration: float | None) -> list[float]:
    """The times (s) to sample: every FRAME_INTERVAL_S from 0, or MAX_FRAMES spread over a long video."""
    if duration is None or duration <= 0:
        return [0.0]
    step = max(FRAME_INTERVAL_S, duration / MAX_FRAMES)
    times: list[float] = []
    t = 0.0
    while t < duration and len(times) < MAX_FRAMES:
        times.append(round(t, 3))
        t += step
    return times


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


class VideoExpander:
    """video/* -> sampled frames (PNG children); see the module docstring."""

    id = "video"
    kinds = VIDEO_KINDS

    def __init__(self, settings: Settings) -> None:
        self.max_pixels = int(settings.max_megapixels * 1_000_000)

    def expand(self, item: Item, budget: Budget) -> Expansion:
        try:
            import av
        except ImportError:
            yield error(UnsupportedItem("video frames not checked: PyAV is not installed "
                                        "(pip install 'leakscan[video]')"), "expand", item.location)
            return
        av.logging.set_level(None)  # ffmpeg's messages may quote bytes of the file: never to the console
        try:
            container = av.open(io.BytesIO(item.data), mode="r")
        except (av.FFmpegError, ValueError, OSError) as exc:
            raise CorruptItem(f"video container unreadable ({type(exc).__name__})") from None
        with container:
            yield from self._frames(av, container, item, budget)

    def _frames(self, av: Any, container: Any, item: Item, budget: Budget) -> Iterator[Item | ErrorRecord]:
        if not container.streams.video:
            return
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > self.max_pixels:
            raise ItemTooLarge(f"video frames of {width}x{height} are over the pixel cap")
        duration = _duration(stream, container)
        times = sample_times(duration)
        got = 0
        for t in times:
            try:
                frame = _frame_at(container, stream, t)
            except (av.FFmpegError, ValueError, OSError, MemoryError) as exc:
                yield error(CorruptItem(f"video frame at {t:.1f}s undecodable ({type(exc).__name__})"),
                            "expand", item.location)
                continue
            if frame is None:
                yield error(CorruptItem(f"video frame at {t:.1f}s missing (truncated or damaged stream)"),
                            "expand", item.location)
                continue
            image = _upright(frame)
            image.thumbnail((MAX_FRAME_SIDE, MAX_FRAME_SIDE))
            data = _png(image)
            budget.admit(len(data), None, f"frame@{t:.1f}s")
            got += 1
            yield child(item, f"frame@{t:.1f}s", data, "image/png", generated=True)
        if duration is None and got:
            yield error(UnsupportedItem("video length unknown: only its first frame was checked"),
                        "expand", item.location)


def _upright(frame: Any) -> Image.Image:
    """The frame as shown: a phone's portrait video is stored sideways with a display matrix (PyAV's
    `rotation`, counter-clockwise degrees, as PIL's `rotate` takes them)."""
    image: Image.Image = frame.to_image()
    angle = float(getattr(frame, "rotation", 0) or 0)
    return image.rotate(angle, expand=True) if angle % 360 else image


def _duration(stream: Any, container: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    return None


def _frame_at(container: Any, stream: Any, t: float) -> Any:
    """The first frame at or after `t` seconds: seek to the key frame before it, decode forward."""
    if t > 0:
        container.seek(int(t / stream.time_base), stream=stream, backward=True, any_frame=False)
    else:
        container.seek(0, stream=stream)
    for frame in container.decode(stream):
        if frame.time is None or frame.time >= t - _TIME_SLACK:
            return frame
    return None
