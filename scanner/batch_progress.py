"""Progress of a batch scan on stderr: files done, files/s, ETA (when the total is known), how many came from the store.

On a terminal a bar redrawn in place; otherwise (a batch job's log) one plain line every LOG_EVERY_S seconds.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

LOG_EVERY_S = 10.0
REDRAW_EVERY_S = 0.2


def eta_text(seconds: float) -> str:
    s = int(seconds + 0.5)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02}m"
    return f"{s // 60}m{s % 60:02}s" if s >= 60 else f"{s}s"


class BatchProgress:
    """Counts files as they finish; `total` may be None (a manifest read from stdin): then no ETA."""

    def __init__(self, enabled: bool, total: int | None, out: TextIO | None = None) -> None:
        self.out = out or sys.stderr
        self.enabled = enabled
        self.tty = enabled and self.out.isatty()
        self.total = total
        self.done = 0
        self.stored = 0
        self._start = time.monotonic()
        self._shown = self._start

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._start, 1e-9)
        rate = self.done / elapsed
        text = f"leakscan: {self.done}" + (f"/{self.total}" if self.total is not None else "") + " files"
        text += f", {rate:.1f} files/s"
        if self.total is not None and rate > 0 and self.done < self.total:
            text += f", ETA {eta_text((self.total - self.done) / rate)}"
        return text + f", {self.stored} from the store"

    def advance(self, from_store: bool) -> None:
        self.done += 1
        self.stored += int(from_store)
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._shown >= (REDRAW_EVERY_S if self.tty else LOG_EVERY_S):
            self._shown = now
            self._show()

    def _show(self, end: str = "") -> None:
        if self.tty:
            self.out.write("\r\x1b[K" + self.line() + end)
        else:
            self.out.write(self.line() + "\n")
        self.out.flush()

    def __enter__(self) -> BatchProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.enabled and self.done:
            self._show("\n")
