"""The worker process's side: bind to the parent, build the detectors once, scan the chunks the pipe brings."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection

from ..config import Settings
from ..model import FileReport
from ..pipeline import Pipeline
from ..threads import limit_threads

PipelineFactory = Callable[[Settings], Pipeline]
Task = Callable[[Sequence[str]], list[FileReport]]

READY = "ready"  # sent once the detectors are built: the first chunk's clock starts then
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_pipeline: Pipeline | None = None  # this worker process's pipeline (set once in serve)


@dataclass(frozen=True, slots=True)
class Beat:
    """A heartbeat: the worker starts a stage over `items` items (reading a file, opening a container, one
    detector over one item or a batch); the watchdog gives that stage timeout_s per item from now."""

    items: int


@dataclass(frozen=True, slots=True)
class Failure:
    """The task raised (a bug): the exception's type name only, a message may quote file content."""

    error: str


def scan_chunk(paths: Sequence[str]) -> list[FileReport]:
    """The default task: this worker's pipeline over one chunk."""
    assert _pipeline is not None, "worker not initialised"
    return _pipeline.scan_paths(paths)


def bind_to_parent(parent: int) -> None:
    """Signals as a worker wants them; and a worker never outlives the scan that started it.

    The parent stops its workers itself (SIGTERM, SIGHUP, SIGINT, a crash, a watchdog kill); as a
    second net, Linux sends a worker SIGKILL when the parent thread that started it ends however it
    ends (PR_SET_PDEATHSIG; the pool starts workers from one thread that lives as long as the pool).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    for sig in (signal.SIGTERM, signal.SIGHUP):  # a forked worker inherits the front end's handlers
        signal.signal(sig, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


def serve(conn: Connection, settings: Settings, parent: int, factory: PipelineFactory, task: Task,
          inherited: Pipeline | None) -> None:
    """The worker's life: set up, say READY, then one reply per chunk until the parent sends None or goes."""
    global _pipeline
    bind_to_parent(parent)
    limit_threads()
    _pipeline = inherited if inherited is not None else factory(settings)  # forked: the parent's, already built
    _pipeline.on_stage = lambda items: conn.send(Beat(items))
    conn.send(READY)
    while True:
        try:
            chunk = conn.recv()
        except (EOFError, OSError):
            return
        if chunk is None:
            return
        try:
            reply: list[FileReport] | Failure = task(chunk)
        except Exception as exc:  # the parent records the chunk as review; this worker stays usable
            reply = Failure(type(exc).__name__)
        conn.send(reply)
