"""Command line front end (click): `leakscan scan`, `leakscan policy init`. Thin: it calls scanner.api."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import stat
import sys
import threading
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

import click

from . import __version__
from .config import POLICY_FILE_NAME, Settings, build_settings, policy_notice
from .errors import ConfigError
from .model import Decision
from .reporters import FORMATS
from .sources import display_path
from .text_safety import printable

if TYPE_CHECKING:
    from .execution import Engine

EXIT_OK, EXIT_FLAGGED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_SIGNAL_BASE = 128  # stopped by signal N: exit 128 + N (SIGINT 130, SIGTERM 143, SIGHUP 129)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
PROGRESS_MIN_FILES = 4


class _DetectorsOption(click.Option):
    """--detectors, its help listing the registered detectors (built-in and plugins) when help is shown:
    a new detector is one module and one registry line, and `leakscan --help` stays instant."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from .detectors import available

        self.help = f"Comma-separated detector ids to run: {', '.join(f.id for f in available())} (default: all)."
        return super().get_help_record(ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leakscan")
def cli() -> None:
    """Check images and attachments before they are shared: approve, review or block.

    Exit codes: 0 all approved, 1 something needs review or is blocked (see --fail-on),
    2 usage or configuration error, 3 internal error, 128 + N stopped by signal N (130 Ctrl-C).
    """


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(readable=False, path_type=str))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="console", show_default=True,
              help="console table, one JSON document, or JSON Lines (one object per file).")
@click.option("-o", "--output", metavar="PATH", default="-",
              help="Write the report here (never over a file being scanned).")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=str),
              help=f"Policy TOML (default: ./{POLICY_FILE_NAME} or $LEAKSCAN_POLICY).")
@click.option("--fail-on", type=click.Choice(["review", "block"]), default="review", show_default=True,
              help="Lowest verdict that makes the exit code 1.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), help="Worker processes (one thread each); 0 = cores.")
@click.option("--detectors", cls=_DetectorsOption, help="Comma-separated detector ids to run (default: all).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where models run.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Images per model batch.")
@click.option("--ocr-engine", type=click.Choice(["auto", "tesseract", "rapidocr", "both"]), help="OCR back end.")
@click.option("--ocr-lang", help="Tesseract languages (default eng+nld+deu).")
@click.option("--ocr-backend", type=click.Choice(["auto", "onnxruntime", "openvino"]),
              help="RapidOCR inference library (openvino: the leakscan[openvino] extra).")
@click.option("--refs", type=click.Path(file_okay=False, path_type=str), help="Reference photo folder.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0.1), help="Per-file time limit in seconds.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("--store", "store_path", metavar="DB", help="Result store (SQLite): store every result; a re-run "
              "answers unchanged files from it and scans only the rest.")
@click.option("--resume", is_flag=True, help="Continue an interrupted --store scan (the store must exist).")
@click.option("--files-from", metavar="LIST", help="Also scan the paths listed in LIST, one per line (- = stdin); "
              "read as it goes (with --engine ray: listed on the cluster, as are the paths given; docs/ray.md).")
@click.option("--engine", type=click.Choice(["local", "ray", "ray-split"]), default="local", show_default=True,
              help="local worker processes, or Ray Data (a local Ray cluster, or --ray-address; the paths given are "
              "walked there); needs leakscan[ray]. ray-split: CPU tasks for reading, metadata and OCR, an actor "
              "pool for the models (docs/ray.md).")
@click.option("--ray-address", metavar="HOST:PORT", help="Join this Ray cluster (with --engine ray; see docs/ray.md).")
def scan(paths: tuple[str, ...], fmt: str, output: str, policy_file: str | None, fail_on: str, quiet: bool,
         store_path: str | None, resume: bool, files_from: str | None, engine: str, ray_address: str | None,
         **overrides: Any) -> None:
    """Scan files and folders (recursively) and print a verdict for each file."""
    if not paths and files_from is None:
        raise click.UsageError("give files or folders to scan, or --files-from LIST")
    _check_engine(engine, ray_address)
    settings = build_settings(policy_file, overrides)
    for line in policy_notice(settings):  # a leakscan.toml that switches rules off must never act silently
        click.echo(line, err=True)
    with _engine(engine, ray_address, settings) as runner:
        if store_path or resume or files_from is not None or runner is not None:  # streamed: scanner.batch_cli
            # (a Ray engine always: the paths given are listed and walked on the cluster, docs/ray.md)
            from .batch_cli import run_batch
            from .threads import limit_threads

            limit_threads()
            counts = run_batch(list(paths), files_from, store_path, resume, settings, fmt, output, quiet, runner)
        else:
            counts = _run_scan(list(paths), settings, fmt, output, quiet)
    if not sum(counts.values()):  # a mistyped or empty drop folder must not read as "all approved"
        raise click.UsageError("no files found under the given paths")
    worst = max(d for d in Decision if counts[d.label])
    raise SystemExit(EXIT_FLAGGED if worst >= Decision.parse(fail_on) else EXIT_OK)


def _check_engine(engine: str, ray_address: str | None) -> None:
    """Usage errors before anything starts: --ray-address without Ray, or Ray asked for but not installed."""
    from .execution import ray_engine

    if ray_address is not None and not engine.startswith("ray"):
        raise click.UsageError("--ray-address needs --engine ray")
    if engine.startswith("ray") and not ray_engine.available():
        raise click.UsageError(ray_engine.INSTALL_HINT)


@contextlib.contextmanager
def _engine(engine: str, ray_address: str | None, settings: Settings) -> Iterator[Engine | None]:
    """None for the local engine (api.scan_iter makes its pool), else a RayEngine, closed afterwards."""
    if not engine.startswith("ray"):
        yield None
        return
    from .execution.ray_engine import RayEngine
    from .execution.ray_split import SplitRayEngine

    with (SplitRayEngine if engine == "ray-split" else RayEngine)(settings, ray_address) as runner:
        yield runner


def _run_scan(paths: list[str], settings: Settings, fmt: str, output: str, quiet: bool) -> dict[str, int]:
    """Walk, open the report file (never over a scanned file), stream every report; the count of each decision."""
    from .threads import limit_threads

    limit_threads()  # before numpy loads: this process may run detectors itself (--jobs 1), like the workers
    from . import api, reporters
    from .audit import Recorder
    from .preflight import check_setup
    from .progress import Progress

    check_setup(settings)  # a wrong set-up stops here, before the report is opened (exit 2)
    recorder = Recorder(settings, "cli", warn=lambda line: click.echo(line, err=True))
    plan = api.plan(paths)
    counts = {d.label: 0 for d in Decision}
    with _open_report(output, plan.keys) as out:
        reporter = reporters.make(fmt, out)
        reporter.start(settings)
        with Progress(enabled=not quiet and sys.stderr.isatty(), min_files=PROGRESS_MIN_FILES) as progress:
            for report in api.scan_iter(plan, settings, on_start=progress.start):
                reporter.add(report)
                recorder.record(report.to_dict())
                counts[report.decision.label] += 1
                progress.advance()
        reporter.finish(counts)
    return counts


@contextlib.contextmanager
def _open_report(output: str, scanned: frozenset[tuple[int, int]]) -> Iterator[TextIO]:
    """The report stream. A file is opened without truncating and checked on its descriptor first:
    it must not be (a link to) a file being scanned, and must be a regular file, a terminal or /dev/null."""
    if output == "-":
        stdout = sys.stdout
        with contextlib.suppress(OSError, ValueError):  # `>> photo.jpg` would append to the photo
            _check_report_fd(stdout.fileno(), "standard output", scanned, any_type=True)
        yield stdout
        return
    shown = printable(display_path(output), 300)
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise click.UsageError(f"cannot write the report to {shown}: {exc.strerror}") from None
    with open(fd, "w", encoding="utf-8") as fh:
        _check_report_fd(fd, shown, scanned, any_type=False)
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.ftruncate(fd, 0)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        yield fh


def _check_report_fd(fd: int, shown: str, scanned: frozenset[tuple[int, int]], any_type: bool) -> None:
    """Usage error when the descriptor is a file being scanned, or (unless any_type) an odd file type."""
    st = os.fstat(fd)
    if (st.st_dev, st.st_ino) in scanned:
        raise click.UsageError(f"refusing to write the report to {shown}: it is a file being scanned")
    if not any_type and not (stat.S_ISREG(st.st_mode) or os.isatty(fd) or os.path.samestat(st, os.stat(os.devnull))):
        raise click.UsageError(f"refusing to write the report to {shown}: not a regular file or terminal")


@cli.group()
def refs() -> None:
    """Reference photos: restricted and allowed places (refs/restricted/<label>, refs/allowed/<label>) and
    the consent list (refs/consented/<name>)."""


@refs.command("check")
@click.option("--refs", "refs_dir", type=click.Path(file_okay=False, exists=True, path_type=str),
              help="Reference folder (default: [visual] refs of the policy).")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=str), help="Policy TOML.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def refs_check(refs_dir: str | None, policy_file: str | None, fmt: str) -> None:
    """Leave-one-out recall and false matches per label: have you enrolled enough photos? And the consent
    list: how many people, and photos that do not show exactly one face."""
    import json

    from . import api
    from .faces.check import render_consent
    from .visual.check import render

    settings = build_settings(policy_file, {"refs": refs_dir})
    consent = api.check_consent(settings)
    places = settings.refs is None or (settings.refs / "restricted").is_dir() or consent is None
    report = api.check_references(settings) if places else None  # a folder may hold the consent list only
    if fmt == "json":
        out = report.to_dict() if report is not None else {}
        click.echo(json.dumps({**out, "consent": consent.to_dict() if consent else None}, indent=2))
        return
    text = "\n".join(part for part in (render(report) if report else "", render_consent(consent) if consent else "")
                     if part)  # folder and file names are untrusted: no control characters on the terminal
    click.echo("\n".join(printable(line, 500) for line in text.splitlines()))


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


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived: unwind (which stops the worker processes) and exit 128 + signal.

    A BaseException, so no `except Exception` on the way (a detector guard) can swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into Stopped in the main thread while the CLI runs; a second signal is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _stop(signum: int, _frame: FrameType | None) -> None:
        for sig in STOP_SIGNALS:  # stopping the workers must not be interrupted by a repeated signal
            signal.signal(sig, signal.SIG_IGN)
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, _stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code instead of exiting (testable without subprocesses)."""
    try:
        with _stop_on_signals():
            return _main(argv)
    except Stopped as exc:
        click.echo(f"leakscan: stopped by {signal.Signals(exc.signum).name}", err=True)
        return EXIT_SIGNAL_BASE + exc.signum
    except KeyboardInterrupt:
        click.echo("leakscan: interrupted", err=True)
        return EXIT_SIGNAL_BASE + signal.SIGINT
    except Exception as exc:  # a bug: one line, the type only (a message may quote file content)
        click.echo(f"leakscan: internal error ({type(exc).__name__}); the report is incomplete", err=True)
        return EXIT_INTERNAL


def _main(argv: Sequence[str] | None) -> int:
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="leakscan", standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0)
    except click.exceptions.Abort as exc:  # click turns Ctrl-C into Abort
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        click.echo("aborted", err=True)
        return EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except ConfigError as exc:
        click.echo(f"leakscan: configuration error: {printable(str(exc), 500)}", err=True)
        return EXIT_USAGE
    return EXIT_OK


# each front end's command lives in its own module (imported last: they use this module's exit codes)
from .fix_cli import fix  # noqa: E402
from .history_cli import history  # noqa: E402
from .report_cli import report  # noqa: E402
from .serve_cli import serve  # noqa: E402
from .watch_cli import watch  # noqa: E402

for _command in (serve, watch, history, report, fix):
    cli.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
