"""Worker processes that scan one file at a time with a hard wall-clock limit (for the fuzz campaign).

A worker that runs past the limit is killed and replaced: a hang in C code (a decoder loop) cannot be
interrupted from inside, so the watchdog sits outside, in this parent process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
import traceback
import warnings
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import TracebackType

from scanner import Settings, scan
from scanner.engines import EngineSet

SETTINGS = Settings(detectors=("metadata",), jobs=1)
MESSAGE_CHARS = 120


@dataclass(frozen=True, slots=True)
class Outcome:
    """What scanning one mutant gave: the decision, rule ids and errors; or a crash; or a hang."""

    decision: str = ""
    rules: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    crash: str = ""
    hang: bool = False

    @property
    def error_codes(self) -> set[str]:
        return {e.partition(":")[0] for e in self.errors}


def scan_one(path: str, engines: EngineSet) -> Outcome:
    """Scan through the library API; an exception escaping it is a crash (with where it came from)."""
    try:
        (report,) = scan(path, SETTINGS, engines).files
    except Exception as exc:  # the point of the fuzz: nothing may escape scan()
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return Outcome(crash=f"{type(exc).__name__}: {str(exc)[:MESSAGE_CHARS]} at {where.filename}:{where.lineno}")
    return Outcome(report.decision.label, tuple(sorted({f.rule_id for f in report.findings})),
                   tuple(f"{e.code}: {e.message[:MESSAGE_CHARS]}" for e in report.errors))


def _serve(conn: Connection) -> None:
    warnings.simplefilter("ignore")  # Pillow warns about every corrupt EXIF block; the counts say enough
    engines = EngineSet(SETTINGS)  # once per worker: the geocoder loads its table once
    while True:
        path = conn.recv()
        if path is None:
            return
        conn.send(scan_one(path, engines))


class _Worker:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.process: BaseProcess = ctx.Process(target=_serve, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.path: str | None = None
        self.started = 0.0

    def give(self, path: str) -> None:
        self.path, self.started = path, time.monotonic()
        self.conn.send(path)

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            with contextlib.suppress(OSError):  # already gone
                self.conn.send(None)
        self.process.join(5)
        self.conn.close()


class WatchdogPool:
    """`jobs` workers; scan_all() gives each path to a free worker and kills one that takes > timeout s."""

    def __init__(self, jobs: int, timeout: float) -> None:
        self.timeout = timeout
        self.workers = [_Worker() for _ in range(max(1, jobs))]

    def __enter__(self) -> WatchdogPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for w in self.workers:
            w.stop(kill=exc is not None)

    def scan_all(self, paths: Sequence[str]) -> dict[str, Outcome]:
        todo, out = deque(paths), {}
        while todo or any(w.path for w in self.workers):
            for w in self.workers:
                if w.path is None and todo:
                    w.give(todo.popleft())
            busy = [w for w in self.workers if w.path is not None]
            left = min(w.started + self.timeout for w in busy) - time.monotonic()
            ready = wait([w.conn for w in busy], timeout=max(0.0, left))
            for w in busy:
                path = w.path or ""
                if w.conn in ready:
                    out[path] = self._receive(w)
                elif time.monotonic() - w.started > self.timeout:
                    out[path] = Outcome(hang=True)
                    self._replace(w, kill=True)
        return out

    def _receive(self, w: _Worker) -> Outcome:
        try:
            outcome: Outcome = w.conn.recv()
        except (EOFError, OSError):  # the worker died (a segfault in a decoder, out of memory)
            outcome = Outcome(crash=f"worker died (exit code {w.process.exitcode})")
            self._replace(w, kill=True)
            return outcome
        w.path = None
        return outcome

    def _replace(self, w: _Worker, kill: bool) -> None:
        w.stop(kill)
        self.workers[self.workers.index(w)] = _Worker()
