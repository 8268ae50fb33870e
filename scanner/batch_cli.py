"""`leakscan scan --store/--resume/--files-from`: the CLI's streaming batch path (scanner.batch does the work)."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

import click

from .config import Settings
from .formats import TEXT_KIND, sniff
from .model import Decision
from .sources import display_path
from .text_safety import printable

if TYPE_CHECKING:
    from .execution.ray_engine import RayEngine
    from .execution.stream import Engine

SNIFF_BYTES = 4096


@contextlib.contextmanager
def _manifest(files_from: str | None) -> Iterator[tuple[BinaryIO | None, int | None]]:
    """The manifest stream (stdin for `-`) and its line count when it is a file (for the ETA)."""
    from .batch import count_manifest

    if files_from is None:
        yield None, None
    elif files_from == "-":
        yield sys.stdin.buffer, None
    else:
        try:
            total = count_manifest(files_from)
            fh = open(files_from, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            shown = printable(display_path(files_from), 300)
            raise click.UsageError(f"cannot read the list {shown}: {exc.strerror}") from None
        with fh:
            yield fh, total


def check_output(output: str) -> None:
    """An existing report path must hold text (a previous report), never a picture or document that may be one of
    the inputs or an original: a report is written over it. (The batch path does not walk its inputs in advance;
    `leakscan report` writes over its targets.)"""
    if output == "-":
        return
    with contextlib.suppress(OSError):
        st = os.stat(output)
        if stat.S_ISREG(st.st_mode) and st.st_size:
            with open(output, "rb") as fh:
                if sniff(fh.read(SNIFF_BYTES)) != TEXT_KIND:
                    shown = printable(display_path(output), 300)
                    raise click.UsageError(f"refusing to write the report over {shown}: it is not a text file")


def _total(paths: list[str], counted: int | None, from_stdin: bool) -> int | None:
    """Files to expect (for the ETA): the manifest's lines plus the files under the given paths, walked once
    to count; None with a manifest on stdin (it can be read only once)."""
    from .batch import entries

    if from_stdin:
        return None
    return (counted or 0) + (sum(1 for _ in entries(paths)) if paths else 0)


def run_batch(paths: list[str], files_from: str | None, store_path: str | None, resume: bool, settings: Settings,
              fmt: str, output: str, quiet: bool, engine: Engine | None = None) -> dict[str, int]:
    """Stream every report (stored or scanned) to the reporter; the count of each decision. `engine` scans
    what the store does not answer (a RayEngine; None = a local pool started when a file must be scanned)."""
    from . import reporters
    from .audit import Recorder
    from .batch import BatchScan, OwnFiles, entries, manifest_lines
    from .batch_progress import BatchProgress
    from .cli import _open_report
    from .preflight import check_setup
    from .store import ResultStore

    if resume and (store_path is None or not os.path.exists(store_path)):
        raise click.UsageError("--resume needs the --store file of the interrupted scan (it does not exist)")
    check_setup(settings)  # a wrong set-up stops here (exit 2), before the store or the report is opened
    store = ResultStore(store_path, settings) if store_path else None
    same_db = store is not None and settings.audit_path is not None and \
        os.path.abspath(settings.audit_path) == os.path.abspath(store.path)
    recorder = Recorder(settings, "cli", warn=lambda line: click.echo(line, err=True)) if not same_db else None
    check_output(output)
    counts = {d.label: 0 for d in Decision}
    on_cluster = _reads_manifests(engine)
    with contextlib.ExitStack() as stack:
        spool = stack.enter_context(tempfile.TemporaryDirectory(prefix="leakscan-list-")) if on_cluster else ""
        lists, paths = _cluster_lists(spool, paths, files_from) if on_cluster else ([], paths)
        manifest, counted = stack.enter_context(_manifest(None if on_cluster and files_from == "-" else files_from))
        out = stack.enter_context(_open_report(output, frozenset()))
        st = os.fstat(out.fileno()) if _has_fileno(out) else None
        own = OwnFiles.of((st.st_dev, st.st_ino) if st and stat.S_ISREG(st.st_mode) else None,
                          output if output != "-" else None, store_path)
        batch = BatchScan(settings, store, own=own, engine=engine)
        listed = manifest_lines(manifest) if manifest is not None and not on_cluster else iter(())
        found = entries(_chain(paths, listed))
        reporter = reporters.make(fmt, out)
        reporter.start(settings)
        inline = any(sent for _, sent in lists)  # paths or stdin listed on the cluster: not walked here to count
        total = None if inline else _total(paths, counted, files_from == "-")
        with BatchProgress(not quiet, total) as progress:
            outcomes = batch.run(found)
            if on_cluster is not None:  # the Ray engine reads the lists itself (docs/ray.md), after any path left
                answers = batch.store_answers()
                for manifest_path, sent in lists:
                    cluster = on_cluster.scan_manifest(manifest_path, cwd=os.getcwd(), answers=answers, skip=own,
                                                       inline=sent)
                    outcomes = itertools.chain(outcomes, batch.run_listed(cluster))
            for outcome in outcomes:
                reporter.add(outcome.report)
                if recorder is not None:
                    recorder.record(outcome.report.to_dict(), reused=outcome.from_store)
                counts[outcome.report.decision.label] += 1
                progress.advance(outcome.from_store)
        reporter.finish(counts)
    return counts


def _cluster_lists(spool: str, paths: list[str], files_from: str | None) -> tuple[list[tuple[str, bool]], list[str]]:
    """What a Ray engine lists on its cluster, in order: ([(list file, sent inline)], the paths left to the driver).

    The paths given on the command line go into a list file in `spool` (a path holding a newline cannot be a line:
    it stays with the driver, which walks it and hands its files over in slices), and so does a list on stdin,
    copied as it streams in; the shards carry their lines, since only this machine can read `spool`. A list file
    named with --files-from is read by the cluster itself (shared storage).
    """
    lists: list[tuple[str, bool]] = []
    left = [p for p in paths if "\n" in p]
    given = [os.fsencode(p) for p in paths if "\n" not in p]
    if given:
        name = os.path.join(spool, "paths.txt")
        with open(name, "wb") as fh:
            fh.write(b"\n".join(given) + b"\n")
        lists.append((name, True))
    if files_from == "-":
        name = os.path.join(spool, "stdin.txt")
        with open(name, "wb") as fh:
            shutil.copyfileobj(sys.stdin.buffer, fh)
        lists.append((name, True))
    elif files_from is not None:
        lists.append((files_from, False))
    return lists, left


def _reads_manifests(engine: Engine | None) -> RayEngine | None:
    """`engine` when it reads a manifest on its cluster (the Ray engines) rather than being handed its paths."""
    from .execution.ray_engine import RayEngine

    return engine if isinstance(engine, RayEngine) else None


def _chain(paths: list[str], listed: Iterator[str]) -> Iterator[str]:
    yield from paths
    yield from listed


def _has_fileno(out: object) -> bool:
    try:
        out.fileno()  # type: ignore[attr-defined]
    except (OSError, ValueError, AttributeError):
        return False
    return True
