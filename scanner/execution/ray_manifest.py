"""A manifest scanned on the cluster: the list is read, walked and stat'ed by Ray tasks, never held by the driver.

    scan_manifest(engine, manifest, cwd=..., answers=..., skip=...) -> Iterator[Listed]   (one per file)

The driver reads the manifest, streaming, to count its lines, then to cut it into shards of whole lines (a
byte range and the number of its first line; a few hundred shards for millions of lines) and hands Ray only
the shards. A read
task per shard opens the manifest itself (it must be on storage every node shares, at the same path), takes
each line as a path (bytes decoded as file names are, blank lines skipped, relative paths from the driver's
working folder), walks it when it is a folder (sources.walk, as the local batch path does), stats each file
and gives one row per file: to scan, answered by the result store (its (name, stat) is in `answers.stats`, the
driver's sorted 64-bit hashes of the store's stat keys, or its content in `answers.sizes` and `shas`), or a
problem (missing, not a regular file, the report file itself), or one row for a folder with no file. The scan
stages take the rows to scan (ray_rows.carry) and carry the others, so every line comes back.

Fail closed, with bounded memory on the driver: a bitmap of the manifest's lines (1 bit a line) says which
came back in full; a folder line is done when all its files are (a folder in flight holds a bit a file).
A row Ray runs twice is taken once. After the job (or when it fails) the driver reads the manifest again, and
every non-blank line that did not come back in full is reported `review` with an `internal` error, once.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import os
import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from .. import sources
from ..expansion import shown_path
from ..model import ErrorRecord, FileReport
from ..store import file_sha256
from .ray_engine import STAGE, relabel
from .ray_rows import EMPTY, META, PROBLEM, SCAN, STORED, Batch

if TYPE_CHECKING:
    from ..batch import OwnFiles
    from .ray_engine import RayEngine

SHARD_LINES = 4096  # manifest lines per read task at most (fewer for a short list, so every CPU lists)


@dataclass(frozen=True, slots=True)
class Listed:
    """One file of the manifest: the path as listed (or under a listed folder), its store key and stat, and its
    report, or None when the store answers it (its (name, stat) was stored when the scan started)."""

    path: str
    name: str
    size: int | None
    key: str | None
    report: FileReport | None
    sha: str | None = None  # its sha256, when the read task hashed it and found it stored by content


@dataclass(frozen=True, slots=True)
class StoreAnswers:
    """What the result store can answer, for the read tasks, in compact sorted lists sent once.

    `stats`: 64-bit hashes of (store name, stat key) of its complete results (a listed file with that stat is not
    read). `sizes`, `shas`, `max_bytes`: the sizes and 64-bit sha256 prefixes of its fully analysed files and the
    hashing cap (bytes): a file whose size is stored is hashed where it is listed; a prefix match is looked up by
    its full sha256 on the driver, and scanned when that finds nothing (a copy or a moved file, as store.answer).
    """

    stats: Sequence[int] = ()
    sizes: Sequence[int] = ()
    shas: Sequence[int] = ()
    max_bytes: int = 0


def sha_prefix(sha256: str) -> int:
    """The first 64 bits of a hex sha256 (the read tasks' compact form of the store's contents)."""
    return int(sha256[:16], 16)


def stat_hash(name: str, key: str) -> int:
    """64 bits of (store name, stat key): the store's answers in a compact sorted list sent to the read tasks."""
    digest = hashlib.blake2b(f"{name}\0{key}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def shards(manifest: str, lines_per_shard: int, inline: bool = False) -> tuple[int, list[dict[str, Any]]]:
    """(lines in the manifest, [{start, end, first}]: byte ranges of whole lines and the number of the first);
    `inline`: each shard also carries its lines (`lines`, bytes), for a list only the driver can read."""
    out: list[dict[str, Any]] = []
    held: list[list[bytes]] = []  # each shard's lines, when inline
    lines = pos = 0
    with open(manifest, "rb") as fh:
        for raw in fh:
            if lines % lines_per_shard == 0:
                out.append({"start": pos, "end": pos, "first": lines})
                held.append([])
            pos += len(raw)
            lines += 1
            out[-1]["end"] = pos
            if inline:
                held[-1].append(raw)
    if inline:
        for shard, kept in zip(out, held, strict=True):
            shard["lines"] = b"".join(kept)
    return lines, out


def manifest_lines(manifest: str) -> Iterator[tuple[int, bytes]]:
    """(number, line without its newline) of every line, streamed."""
    with open(manifest, "rb") as fh:
        for number, raw in enumerate(fh):
            yield number, raw[:-1] if raw.endswith(b"\n") else raw


# -- on the cluster: the read tasks -------------------------------------------------------------------------
def read_shards(batch: Batch, *, manifest: str, cwd: str, answers: Any, skip: OwnFiles | None) -> Batch:
    """A read task: the rows of every line of the shards in `batch` (read from the manifest, or from the shard
    itself when it carries its lines). A line that fails is a problem row, never an exception; a list the task
    cannot open fails the job (then the driver reviews every line without a result)."""
    import ray

    kept: StoreAnswers = (ray.get(answers) if isinstance(answers, ray.ObjectRef) else answers) or StoreAnswers()
    out: Batch = {col: [] for col in META}
    held = batch.get("lines")
    for at, (start, end, first) in enumerate(zip(batch["start"], batch["end"], batch["first"], strict=True)):
        with open(manifest, "rb") if held is None else io.BytesIO(bytes(held[at])) as fh:
            if held is None:
                fh.seek(int(start))
            pos, number = int(start), int(first)
            while pos < int(end) and (raw := fh.readline()):
                pos += len(raw)
                line = raw[:-1] if raw.endswith(b"\n") else raw
                if line:
                    _list_line(out, number, os.fsdecode(line), cwd, kept, skip)
                number += 1
    return out


def _list_line(out: Batch, number: int, given: str, cwd: str, kept: StoreAnswers, skip: OwnFiles | None) -> None:
    top = os.path.join(cwd, given)
    try:
        found = list(sources.walk([top]))
    except Exception as exc:  # the type name only
        error = ErrorRecord("internal", f"cannot list this path: {type(exc).__name__}", f"{STAGE}.list")
        _add(out, number, 0, 1, PROBLEM, top, given, None, error)
        return
    if not found:  # a folder with no file: nothing to report (as locally), but the line is done
        _add(out, number, 0, 0, EMPTY, top, given, None, None)
    for sub, entry in enumerate(found):
        shown = given + entry.path[len(top):]
        name = _name(cwd, shown)
        problem = entry.problem
        if skip is not None:  # the report and the store this scan writes
            problem = skip.problem(entry.key, name) or problem
        stat = None if problem is not None else _stat(entry.path)
        kind = PROBLEM if problem is not None else SCAN
        sha = ""
        if stat is not None and _stored(kept.stats, stat_hash(name, stat[1])):
            kind = STORED
        elif stat is not None and _stored(kept.sizes, stat[0]):  # a copy or a moved file? as store.answer does
            digest = file_sha256(entry.path, kept.max_bytes)
            if digest and _stored(kept.shas, sha_prefix(digest)):
                kind, sha = STORED, digest
        _add(out, number, sub, len(found), kind, entry.path, shown, stat, problem, sha)


def _name(cwd: str, shown: str) -> str:
    """The store's name of a file (as scanner.store.target makes it on the driver, from the driver's folder)."""
    return sources.display_path(os.path.normpath(os.path.join(cwd, shown)))


def _stat(path: str) -> tuple[int, str] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_size, f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def _stored(answers: Sequence[int], value: int) -> bool:
    at = bisect.bisect_left(answers, value)
    return at < len(answers) and answers[at] == value


def _add(out: Batch, number: int, sub: int, count: int, kind: str, path: str, shown: str,
         stat: tuple[int, str] | None, problem: ErrorRecord | None, sha: str = "") -> None:
    values = (number, number, sub, count, kind, os.fsencode(path), os.fsencode(shown),
              stat[0] if stat else -1, stat[1] if stat else "", sha, problem.code if problem else "",
              problem.message if problem else "", problem.stage if problem else "")
    for col, value in zip(out, values, strict=True):
        out[col].append(value)


# -- on the driver -------------------------------------------------------------------------------------------
class Tally:
    """Which manifest lines came back in full: a bit a line, and for a folder line in flight a bit a file of it."""

    def __init__(self, lines: int) -> None:
        self.lines = lines
        self.bits = bytearray((lines + 7) // 8)
        self.partial: dict[int, tuple[int, bytearray, list[int]]] = {}  # line -> (files, bit a file, [seen])

    def done(self, line: int) -> bool:
        return bool(self.bits[line >> 3] & (1 << (line & 7)))

    def take(self, line: int, sub: int, count: int) -> bool:
        """Whether this row is new (not a batch Ray ran twice); marks its line done when its last file is in."""
        if not 0 <= line < self.lines or self.done(line):  # not a line of the list cut into shards
            return False
        if count > 1:
            files, bits, seen = self.partial.setdefault(line, (count, bytearray((count + 7) // 8), [0]))
            if not 0 <= sub < files or bits[sub >> 3] & (1 << (sub & 7)):
                return False
            bits[sub >> 3] |= 1 << (sub & 7)
            seen[0] += 1
            if seen[0] < files:
                return True
            del self.partial[line]
        self.bits[line >> 3] |= 1 << (line & 7)
        return True

    def came_back(self, line: int) -> tuple[int, int] | None:
        """(files that came back, files) of a folder line that came back in part, else None."""
        partly = self.partial.get(line)
        return (partly[2][0], partly[0]) if partly else None


def scan_manifest(engine: RayEngine, manifest: str, *, cwd: str, answers: StoreAnswers | None = None,
                  skip: OwnFiles | None = None, inline: bool = False) -> Iterator[Listed]:
    """One Listed per file of the manifest, as the cluster finishes them; what never comes back, reviewed last.

    `inline`: the manifest is a file only the driver can read (the paths given on the command line, a list read
    from stdin): the shards carry their lines to the cluster (in the object store), the driver still reads the
    file to cut it and, at the end, to review what did not come back.
    """
    from ..batch import count_manifest

    per_shard = max(1, min(SHARD_LINES, -(-count_manifest(manifest) // engine._actors())))
    lines, cut = shards(manifest, per_shard, inline)
    tally = Tally(lines)
    failure: Exception | None = None
    try:
        for row in _rows(engine, manifest, cut, cwd, answers, skip):
            if tally.take(int(row["line"]), int(row["sub"]), int(row["count"])):
                listed = _listed(engine, row, cwd)
                if listed is not None:
                    yield listed
    except Exception as exc:  # the job failed (actors gone, cluster lost): what is missing is reviewed below
        failure = exc
    why = f"the Ray job failed ({type(failure).__name__})" if failure else "the Ray engine returned no result"
    yield from _missing(engine, manifest, tally, cwd, why)


def _rows(engine: RayEngine, manifest: str, cut: list[dict[str, Any]], cwd: str, answers: StoreAnswers | None,
          skip: OwnFiles | None) -> Iterator[dict[str, Any]]:
    if not cut:
        return
    import ray
    import ray.data

    ref = ray.put(answers or StoreAnswers())  # once into the object store, not once per task
    read = partial(read_shards, manifest=os.path.abspath(manifest), cwd=cwd, answers=ref, skip=skip)
    listed = ray.data.from_items(cut, override_num_blocks=len(cut)).map_batches(
        read, batch_size=1, batch_format="numpy", num_cpus=1)
    size = engine.settings.batch_size or 16
    yield from engine._stages(listed, size, engine._actors(), carried=True).iter_rows()


def _listed(engine: RayEngine, row: dict[str, Any], cwd: str) -> Listed | None:
    kind = str(row["kind"])
    if kind == EMPTY:
        return None
    shown = os.fsdecode(bytes(row["shown"]))
    size, key = int(row["size"]), str(row["key"])
    stat = (size, key) if size >= 0 and key else (None, None)
    report: FileReport | None = None
    if kind == PROBLEM:
        error = ErrorRecord(str(row["code"]), str(row["message"]), str(row["stage"]))
        report = engine.local.error_report(sources.display_path(shown), error)
    elif kind == SCAN:
        report = _report(engine, bytes(row["report"]), shown)
    return Listed(shown, _name(cwd, shown), stat[0], stat[1], report, str(row["sha"]) or None)


def _report(engine: RayEngine, blob: bytes, shown: str) -> FileReport:
    try:
        report = pickle.loads(blob)  # noqa: S301 - written by our own actors on our cluster
        assert isinstance(report, FileReport)
    except Exception as exc:  # an empty or broken row: reviewed, never dropped
        error = ErrorRecord("internal", f"the Ray engine's result could not be read: {type(exc).__name__}", STAGE)
        return engine.local.error_report(sources.display_path(shown), error)
    return relabel(report, report.path, shown_path(engine.settings, sources.display_path(shown)))


def _missing(engine: RayEngine, manifest: str, tally: Tally, cwd: str, why: str) -> Iterator[Listed]:
    """A review for every non-blank line that did not come back in full (read again: the list is not kept)."""
    for number, line in manifest_lines(manifest):
        if not line or number >= tally.lines or tally.done(number):
            continue
        shown = os.fsdecode(line)
        partly = tally.came_back(number)
        note = f"; {partly[0]} of the {partly[1]} files under it came back" if partly else ""
        report = engine.local.error_report(sources.display_path(shown), ErrorRecord("internal", why + note, STAGE))
        yield Listed(shown, _name(cwd, shown), None, None, report)
