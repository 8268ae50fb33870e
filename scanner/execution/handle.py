"""The parent's end of one worker process: its pipe, the chunk it holds, and when that chunk must be done."""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

from ..config import Settings
from ..pipeline import Pipeline
from .worker import READY, Beat, PipelineFactory, Task, serve

BEAT_GRACE_S = 2.0  # on top of timeout_s per item of a stage: the pipe, a busy machine
START_LIMIT_S = 300.0  # a spawned worker may load models before its first chunk; past this it is stuck
STOP_GRACE_S = 2.0  # how long a stopped worker gets to exit before SIGKILL
_NOTHING = object()


@dataclass(frozen=True, slots=True)
class Chunk:
    """Files sent to one worker together; `split`: on a timeout or a death, retry each file alone."""

    paths: tuple[str, ...]
    split: bool


class Worker:
    """One worker process seen from the parent. Not shared: one scan holds it while it has a chunk."""

    def __init__(self, process: BaseProcess, conn: Connection, per_item_s: float) -> None:
        self.process = process
        self.conn = conn
        self.per_item_s = per_item_s
        self.ready = False
        self.chunk: Chunk | None = None
        self.limit = 0.0
        self.deadline = math.inf

    @classmethod
    def start(cls, ctx: BaseContext, settings: Settings, factory: PipelineFactory, task: Task,
              inherited: Pipeline | None) -> Worker:
        parent_end, child_end = ctx.Pipe()
        args = (child_end, settings, os.getpid(), factory, task, inherited)
        process: BaseProcess = ctx.Process(target=serve, args=args, name="leakscan-worker", daemon=True)  # type: ignore[attr-defined]
        process.start()
        child_end.close()  # so the parent's end reads EOF once the worker is gone
        return cls(process, parent_end, settings.timeout_s)

    def give(self, chunk: Chunk, limit: float) -> None:
        """Send a chunk; its clock starts now, or when the worker says READY (a spawned one builds models first)."""
        self.chunk, self.limit = chunk, limit
        self.deadline = time.monotonic() + limit + (0.0 if self.ready else START_LIMIT_S)
        self.conn.send(list(chunk.paths))

    def receive(self) -> Any:
        """The next message, or _NOTHING when the worker is gone (the pipe closed or broke mid-message)."""
        try:
            message = self.conn.recv() if self.conn.poll(0) else _NOTHING
        except (EOFError, OSError):
            return _NOTHING
        if message == READY:
            self.ready = True
            self.deadline = time.monotonic() + self.limit if self.chunk else math.inf
        elif isinstance(message, Beat) and self.chunk is not None:  # progress: this stage's own limit from now
            self.deadline = time.monotonic() + self.per_item_s * message.items + BEAT_GRACE_S
        return message

    def overdue(self) -> bool:
        return time.monotonic() >= self.deadline

    def kill(self) -> None:
        """SIGKILL: a worker stuck in C code with signals blocked still stops."""
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self.process.kill()
        self._reap(STOP_GRACE_S)

    def stop(self) -> None:
        """Ask it to finish (None on the pipe), then SIGTERM, then SIGKILL."""
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self._reap(STOP_GRACE_S, escalate=True)

    def _reap(self, grace: float, escalate: bool = False) -> None:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            self.process.join(grace)
            if escalate and self.process.is_alive():
                self.process.terminate()
                self.process.join(grace)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
        self.conn.close()


def gone(message: object) -> bool:
    return message is _NOTHING
