"""`leakscan fix`: write a safe copy of each file (`<stem>.safe.<ext>`), scan it again, say what needs a human."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .config import POLICY_FILE_NAME, build_settings, policy_notice
from .model import Decision
from .text_safety import printable

LINE_MAX_CHARS = 500


@click.command("fix")
@click.argument("paths", nargs=-1, required=True, type=click.Path(readable=False, path_type=str))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=str),
              help="Write the safe copies into this folder, made if missing (default: next to each file).")
@click.option("--force", is_flag=True, help="Overwrite an existing file of the safe copy's name (never an input).")
@click.option("--format", "fmt", type=click.Choice(["console", "json"]), default="console", show_default=True,
              help="console lines, or one JSON document with every change and the re-scan's report.")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=str),
              help=f"Policy TOML (default: ./{POLICY_FILE_NAME} or $LEAKSCAN_POLICY); [fix] sets the styles.")
@click.option("--refs", type=click.Path(file_okay=False, path_type=str), help="Reference photo folder.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), help="Worker processes (one thread each); 0 = cores.")
def fix(paths: tuple[str, ...], out_dir: str | None, force: bool, fmt: str, policy_file: str | None,
        **overrides: Any) -> None:
    """Write a safe copy of each file and scan the copy again with the same policy.

    Pictures: orientation applied, text covered with a solid fill, faces pixelated or blurred, re-encoded
    without metadata, thumbnails, extra frames or trailing bytes (colours converted to sRGB, no ICC profile);
    HEIC becomes JPEG.
    DOCX/PPTX/XLSX/ODT, ZIP and PDF: pictures replaced by safe copies, document properties (PDF: Info,
    XMP) removed. The original is never changed. Exit 0 only when every copy is approved; 1 when something
    needs a human.
    """
    from .cli import EXIT_FLAGGED, EXIT_OK
    from .threads import limit_threads

    limit_threads()
    from . import __version__
    from .actions.safecopy import fix_paths
    from .audit import Recorder
    from .model import SCHEMA_VERSION
    from .preflight import check_setup
    from .reporters.json import dumps

    settings = build_settings(policy_file, overrides)
    for line in policy_notice(settings):
        click.echo(line, err=True)
    check_setup(settings)  # a wrong set-up: exit 2 now, not "needs a human" for every file
    if out_dir is not None:
        try:
            os.makedirs(out_dir, exist_ok=True)
        except OSError as exc:
            raise click.BadParameter(f"cannot make the folder: {exc.strerror}", param_hint="--out") from None
    results = list(fix_paths(list(paths), settings, out_dir, force))
    if not results:
        raise click.UsageError("no files found under the given paths")
    recorder = Recorder(settings, "fix", warn=lambda line: click.echo(line, err=True))
    for r in results:  # the original's decision and the copy's, each under its own name
        recorder.record(r.before.to_dict(), name=r.path)
        if r.after is not None and r.safe_path is not None:
            recorder.record(r.after.to_dict(), name=r.safe_path)
    if fmt == "json":
        doc = {"schema_version": SCHEMA_VERSION, "scanner_version": __version__, "settings": settings.to_dict(),
               "files": [r.to_dict() for r in results],
               "summary": {"approved": sum(r.decision == Decision.APPROVE for r in results), "files": len(results)}}
        click.echo(dumps(doc))
    else:
        for r in results:
            _console(r)
    worst = max(r.decision for r in results)
    sys.exit(EXIT_OK if worst == Decision.APPROVE else EXIT_FLAGGED)


def _console(result: Any) -> None:
    def say(text: str) -> None:
        click.echo(printable(text, LINE_MAX_CHARS))

    if result.safe_path is None:
        say(f"NO COPY  {result.path}")
    else:
        state = "APPROVED" if result.decision == Decision.APPROVE else "NEEDS A HUMAN"
        say(f"{state}  {result.path} -> {result.safe_path}")
        for c in result.changes:
            where = f"{c.location}: " if c.location else ""
            box = f" at {c.region.x},{c.region.y} {c.region.w}x{c.region.h}" if c.region else ""
            why = f" ({c.rule_id})" if c.rule_id else ""
            say(f"    {c.action:9} {where}{c.detail}{why}{box}")
    for line in result.needs_human:
        say(f"    needs a human: {line}")
