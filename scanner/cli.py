"""Command line front end (click): `leakscan scan`, `leakscan policy init`. Thin: it calls scanner.api."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import click

from . import __version__
from .config import POLICY_FILE_NAME, Settings, build_settings
from .errors import ConfigError
from .model import Decision
from .reporters import FORMATS
from .text_safety import printable

EXIT_OK, EXIT_FLAGGED, EXIT_USAGE = 0, 1, 2
PROGRESS_MIN_FILES = 4


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leakscan")
def cli() -> None:
    """Check images and attachments before they are shared: approve, review or block.

    Exit codes: 0 all approved, 1 something needs review or is blocked (see --fail-on),
    2 usage or configuration error.
    """


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="console", show_default=True,
              help="console table, one JSON document, or JSON Lines (one object per file).")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="Write the report here.")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=str),
              help=f"Policy TOML (default: ./{POLICY_FILE_NAME} or $LEAKSCAN_POLICY).")
@click.option("--fail-on", type=click.Choice(["review", "block"]), default="review", show_default=True,
              help="Lowest verdict that makes the exit code 1.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), help="Worker processes (one thread each); 0 = cores.")
@click.option("--detectors", help="Comma-separated detector ids to run (default: all).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where models run.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Images per model batch.")
@click.option("--ocr-engine", type=click.Choice(["auto", "tesseract", "rapidocr", "both"]), help="OCR back end.")
@click.option("--ocr-lang", help="Tesseract languages (default eng+nld+deu).")
@click.option("--refs", type=click.Path(file_okay=False, path_type=str), help="Reference photo folder.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0.1), help="Per-file time limit in seconds.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def scan(paths: tuple[str, ...], fmt: str, output: Any, policy_file: str | None, fail_on: str, quiet: bool,
         **overrides: Any) -> None:
    """Scan files and folders (recursively) and print a verdict for each file."""
    settings = build_settings(policy_file, overrides)
    counts = _run_scan(list(paths), settings, fmt, output, quiet)
    if not sum(counts.values()):  # a mistyped or empty drop folder must not read as "all approved"
        raise click.UsageError("no files found under the given paths")
    worst = max(d for d in Decision if counts[d.label])
    raise SystemExit(EXIT_FLAGGED if worst >= Decision.parse(fail_on) else EXIT_OK)


def _run_scan(paths: list[str], settings: Settings, fmt: str, output: Any, quiet: bool) -> dict[str, int]:
    """Stream every report to the reporter; the count of each decision."""
    from .threads import limit_threads

    limit_threads()  # before numpy loads: this process may run detectors itself (--jobs 1), like the workers
    from . import api, reporters
    from .progress import Progress

    reporter = reporters.make(fmt, output)
    reporter.start(settings)
    counts = {d.label: 0 for d in Decision}
    with Progress(enabled=not quiet and sys.stderr.isatty(), min_files=PROGRESS_MIN_FILES) as progress:
        for report in api.scan_iter(paths, settings, on_start=progress.start):
            reporter.add(report)
            counts[report.decision.label] += 1
            progress.advance()
    reporter.finish(counts)
    return counts


@cli.group()
def refs() -> None:
    """Reference photos of restricted and allowed places (refs/restricted/<label>, refs/allowed/<label>)."""


@refs.command("check")
@click.option("--refs", "refs_dir", type=click.Path(file_okay=False, exists=True, path_type=str),
              help="Reference folder (default: [visual] refs of the policy).")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=str), help="Policy TOML.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def refs_check(refs_dir: str | None, policy_file: str | None, fmt: str) -> None:
    """Leave-one-out recall and false matches per label: have you enrolled enough photos?"""
    import json

    from .detectors.visual import VisualDetector
    from .engines import EngineSet
    from .visual.check import check_gallery, render

    settings = build_settings(policy_file, {"refs": refs_dir})
    detector = VisualDetector(settings, EngineSet(settings))
    gallery = detector.gallery()
    if gallery is None:
        raise ConfigError("no reference folder: give --refs DIR or set [visual] refs in the policy")
    report = check_gallery(gallery, detector.known())
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:  # folder and file names are untrusted: no control characters on the terminal
        click.echo("\n".join(printable(line, 500) for line in render(report).splitlines()))


@cli.group()
def policy() -> None:
    """Work with policy files."""


@policy.command("init")
@click.argument("path", default=POLICY_FILE_NAME, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def policy_init(path: Path, force: bool) -> None:
    """Write a commented default policy file (leakscan.toml)."""
    if path.exists() and not force:
        raise click.UsageError(f"{path} exists (use --force to overwrite)")
    path.write_text(resources.files("scanner").joinpath("default_policy.toml").read_text("utf-8"), "utf-8")
    click.echo(f"wrote {path}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code instead of exiting (testable without subprocesses)."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="leakscan", standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except ConfigError as exc:
        click.echo(f"leakscan: configuration error: {printable(str(exc), 500)}", err=True)
        return EXIT_USAGE
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
