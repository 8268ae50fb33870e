"""`leakscan report STORE --html/--sarif/--csv`: reports people look at, made from a result store (scan --store)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TextIO

import click

from .config import build_settings
from .sources import display_path
from .text_safety import printable

MAX_FILES = 1000


@contextlib.contextmanager
def _writing(path: str) -> Iterator[TextIO]:
    """Written next to the target and renamed over it at the end: a failed report never leaves half a file.
    `-`: standard output."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    tmp = f"{path}.{os.getpid()}.part"
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            yield fh
        os.replace(tmp, path)
    except OSError as exc:
        raise click.UsageError(f"cannot write {printable(display_path(path), 300)}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


@click.command("report")
@click.argument("store_path", metavar="STORE", type=click.Path(dir_okay=False, exists=True, path_type=str))
@click.option("--html", "html_path", metavar="PATH", help="Self-contained HTML: summary, then each flagged file.")
@click.option("--sarif", "sarif_path", metavar="PATH", help="SARIF 2.1.0 (code review, CI).")
@click.option("--csv", "csv_path", metavar="PATH", help="CSV for spreadsheets (formula-safe cells).")
@click.option("--max-files", type=click.IntRange(min=0), default=MAX_FILES, show_default=True,
              help="Flagged files shown in detail in the HTML (all are in the summary, SARIF and CSV).")
@click.option("--no-thumbnails", is_flag=True, help="HTML without thumbnails (the files are not read).")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=str),
              help="Policy TOML (its file and pixel caps apply to thumbnails).")
def report(store_path: str, html_path: str | None, sarif_path: str | None, csv_path: str | None, max_files: int,
           no_thumbnails: bool, policy_file: str | None) -> None:
    """Reports from a result store (leakscan scan --store): the latest result of every file in it.

    A PATH of - is standard output (one of them at most). An existing PATH must be a text file (a previous report):
    a picture or document is never written over.
    """
    from .batch_cli import check_output
    from .reporters import stored
    from .store import open_store

    targets = [p for p in (html_path, sarif_path, csv_path) if p]
    if not targets:
        raise click.UsageError("give at least one of --html, --sarif, --csv")
    if targets.count("-") > 1:
        raise click.UsageError("only one of --html, --sarif, --csv can be - (standard output)")
    for target in targets:  # a typo must not turn a photo into a report (originals are never modified)
        check_output(target)
    settings = build_settings(policy_file)
    db = open_store(store_path)
    if html_path:
        from .reporters.html import write_html

        summary = stored.summarise(db.latest())
        with _writing(html_path) as out:
            write_html(out, summary, stored.flagged(db.latest(), max_files), store_name=os.path.basename(store_path),
                       limit=max_files, thumbs=not no_thumbnails, max_bytes=int(settings.max_file_mb * 1_000_000),
                       max_pixels=int(settings.max_megapixels * 1_000_000))
    if sarif_path:
        from .reporters.sarif import write_sarif

        with _writing(sarif_path) as out:
            write_sarif(out, stored.flagged(db.latest(), limit=2**62))
    if csv_path:
        from .reporters.csv import write_csv

        with _writing(csv_path) as out:
            write_csv(out, db.latest())
