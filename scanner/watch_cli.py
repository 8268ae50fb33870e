"""`leakscan watch DIR`: the drop folder front end (click). Thin: the Watcher does the work."""

from __future__ import annotations

from typing import Any

import click

from .config import build_settings, policy_notice
from .text_safety import printable

DEFAULT_INTERVAL_S = 1.0


@click.command("watch")
@click.argument("folder", type=click.Path(file_okay=False, path_type=str))
@click.option("--poll", is_flag=True, help="Rescan on a timer only, no inotify (network shares).")
@click.option("--interval", type=click.FloatRange(min=0.05), default=DEFAULT_INTERVAL_S, show_default=True,
              help="Seconds a file's size and mtime must stay the same before it is taken.")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=str), help="Policy TOML.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), help="Worker processes (one thread each); 0 = cores.")
@click.option("--detectors", help="Comma-separated detector ids to run (default: all).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0.1), help="Per-file time limit in seconds.")
@click.option("--fix", "fix", is_flag=True,
              help="Also file a safe copy (leakscan fix) of each file not approved under approved/ when it passes.")
@click.option("-q", "--quiet", is_flag=True, help="No line per file on stdout (DIR/leakscan.log has them).")
def watch(folder: str, poll: bool, interval: float, policy_file: str | None, quiet: bool, fix: bool,
          **overrides: Any) -> None:
    """Watch FOLDER/incoming/ and file each drop under approved/, review/, blocked/ or failed/ with its report.

    Runs until SIGTERM or Ctrl-C; a file being scanned then stays in FOLDER/.processing/ and is
    finished first on the next start.
    """
    from .audit import Recorder
    from .dropfolder import FolderBusy
    from .execution import Pool
    from .preflight import check_setup
    from .threads import limit_threads
    from .watcher import Watcher

    settings = build_settings(policy_file, overrides)
    for line in policy_notice(settings):
        click.echo(line, err=True)
    limit_threads()
    check_setup(settings)  # a wrong set-up: exit 2 now, not a review for every dropped file
    recorder = Recorder(settings, "watch", warn=lambda line: click.echo(line, err=True))
    echo = None if quiet else (lambda line: click.echo(printable(line, 500)))
    with Pool(settings) as pool:
        watcher = Watcher(folder, settings, pool, recorder, interval=interval, poll=poll, echo=echo, fix=fix)
        try:
            watcher.run()
        except FolderBusy as exc:
            raise click.UsageError(str(exc)) from None
