"""Ray Data engine: the local engine's scan spread over a Ray cluster (`leakscan scan --engine ray`).

    RayEngine(settings, address).scan(paths) -> Iterator[FileReport]   (the same contract as Pool.scan)
    RayEngine(...).scan_manifest(list_file, cwd=...) -> Iterator[Listed]  (the list read on the cluster: ray_manifest)

The paths become a Ray Dataset (`from_items`: index + absolute path; `read_images` is never used, it
fails on mixed sizes and would decode outside our caps). One `map_batches` stage runs on an actor pool:
each actor holds a one-worker local `Pool` (scanner.execution) whose worker builds the Pipeline once,
and scans a batch of paths as one chunk, so batch detectors (the visual model, faces) see the files
of a batch together, on the GPU when the cluster has one (`num_gpus` per actor). Reports come back to
the driver as rows (pickled FileReports) and are handed on as they arrive, so reporters, exit codes
and the result store work as with the local engine.

Nothing is lost silently (fail closed):
- every file is scanned inside the actor's own Pool: per-file errors, a file that hangs (even in C
  code) or kills its worker are recorded as `review` by the same watchdog as locally; a Ray actor runs
  its methods outside the main thread, where the pipeline's SIGALRM limit cannot act, so this watchdog
  is the per-file limit (timeout_s per file plus GRACE_S per chunk, extended while stages progress);
- a batch that still raises in the actor is scanned again file by file; a file that raises alone gets
  an `internal` error report, so one exception never aborts the Ray job;
- the driver counts what came back: a file whose row never arrives (a dropped block, the job failing,
  the cluster gone) is reported `review` with an `internal` error, once, at the end.
Here one actor does every stage of its batch; ray_split.SplitRayEngine (`--engine ray-split`) runs the CPU
stages (read, hash, decode, metadata, OCR) as tasks around an actor pool for the models (see docs/ray.md).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import socket
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..errors import ConfigError
from ..expansion import shown_path
from ..model import ErrorRecord, FileReport
from ..pipeline import Pipeline
from ..sources import display_path
from ..threads import limit_threads
from .pool import Pool, chunk_size
from .ray_rows import CarriedActor
from .worker import PipelineFactory

if TYPE_CHECKING:
    from ray.data import Dataset

    from ..batch import OwnFiles
    from .ray_manifest import Listed, StoreAnswers

INSTALL_HINT = 'the Ray engine needs Ray: pip install "leakscan[ray]" (ray[data])'
STAGE = "execution.ray"
PROBE_S = 5.0  # a --ray-address that takes no TCP connection within this is a configuration error
CODE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder that holds the scanner package


def available() -> bool:
    """Whether Ray can be imported (without importing it: `leakscan --help` stays instant)."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def relabel(report: FileReport, old: str, new: str) -> FileReport:
    """The report tree with `path` `old` shown as `new` (actors read absolute paths; reports keep the given one)."""
    parts = tuple(relabel(p, old, new) for p in report.parts)
    return replace(report, path=new if report.path == old else report.path, parts=parts)


class ScanActor:
    """One Ray actor: a one-worker local Pool (a watchdog per file), scanning one batch of paths at a time."""

    def __init__(self, settings: Settings, factory: PipelineFactory = Pipeline) -> None:
        limit_threads()
        self.settings = settings
        # spawn: forking a Ray worker (gRPC threads) is unsafe; the worker builds its own Pipeline with
        # `factory`, and this process keeps a detector-less one for error reports only
        self.pool = Pool(settings, 1, pipeline=Pipeline(settings, detectors=()), factory=factory, method="spawn")

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        indexes = [int(i) for i in batch["index"]]
        paths = [str(p) for p in batch["path"]]
        reports = self._scan(paths)
        return {"index": indexes, "report": [pickle.dumps(r) for r in reports]}

    def _scan(self, paths: list[str]) -> list[FileReport]:
        """Reports in the order of `paths`: the batch as one chunk, else file by file, else an error report."""
        try:
            return ordered(paths, list(self.pool.scan(paths, chunk=len(paths))), self.settings)
        except Exception:  # noqa: S110 - a bug somewhere in the batch: retried file by file below
            pass
        out = []
        for path in paths:
            try:
                out.extend(ordered([path], list(self.pool.scan([path], chunk=1)), self.settings))
            except Exception as exc:  # the type name only: a message may quote file content
                error = ErrorRecord("internal", f"scan failed in the Ray actor: {type(exc).__name__}", STAGE)
                out.append(self.pool.local.error_report(display_path(path), error))
        return out


def ordered(paths: list[str], reports: list[FileReport], settings: Settings) -> list[FileReport]:
    """`reports` (in any order) matched to `paths` by the path each report shows (a name the text rules hit masked
    as `settings` mask it); one report per path."""
    by_path: dict[str, deque[FileReport]] = defaultdict(deque)
    for r in reports:
        by_path[r.path].append(r)
    shown = [shown_path(settings, display_path(p)) for p in paths]
    out = [by_path[s].popleft() for s in shown if by_path[s]]
    if len(out) != len(paths):
        raise RuntimeError("the pool returned a report per file, but not for these files")
    return out


class RayEngine:
    """Scans through Ray Data: on the cluster at `address`, or a local one started here (and stopped at close()).

    `settings.jobs` caps the actors (0: one per CPU of the cluster); each actor takes one CPU and, when the
    cluster has GPUs and settings.device is not cpu, an equal share of them. `factory` builds each actor's
    Pipeline (in its worker process) and must be importable there (a module-level function or class).
    """

    def __init__(self, settings: Settings, address: str | None = None, *,
                 factory: PipelineFactory = Pipeline) -> None:
        self.settings = settings
        self.local = factory(settings)  # a configuration error surfaces here, before the cluster is asked
        self._factory = factory
        self._ray, self._started = _connect(settings, address)

    def __enter__(self) -> RayEngine:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the local cluster this engine started (a cluster given by address keeps running)."""
        if self._started:
            self._ray.shutdown()
            self._started = False

    def scan(self, paths: Sequence[str], chunk: int | None = None) -> Iterator[FileReport]:
        """FileReports for `paths` as batches finish (order not kept); exactly one per path."""
        if not paths:
            return
        todo = set(range(len(paths)))
        try:
            for row in self._rows([os.path.abspath(p) for p in paths], chunk):
                index = int(row["index"])
                if index not in todo:  # a batch Ray ran twice (an actor restarted): reported once
                    continue
                report = pickle.loads(row["report"])  # noqa: S301 - written by our own actors on our cluster
                todo.discard(index)
                yield relabel(report, report.path, shown_path(self.settings, display_path(paths[index])))
        except Exception as exc:  # the job failed (actors gone, cluster lost): what is missing is reviewed below
            failure: Exception | None = exc
        else:
            failure = None
        why = f"the Ray job failed ({type(failure).__name__})" if failure else "the Ray engine returned no result"
        for index in sorted(todo):
            yield self.local.error_report(display_path(paths[index]), ErrorRecord("internal", why, STAGE))

    def scan_manifest(self, manifest: str, *, cwd: str, answers: StoreAnswers | None = None,
                      skip: OwnFiles | None = None, inline: bool = False) -> Iterator[Listed]:
        """Every file of a manifest (a path a line, on storage the cluster shares, or sent with the shards when
        `inline`), listed on the cluster, never held here as paths; one Listed per file, a missing one reviewed at
        the end (ray_manifest.py)."""
        from .ray_manifest import scan_manifest

        yield from scan_manifest(self, manifest, cwd=cwd, answers=answers, skip=skip, inline=inline)

    def _rows(self, absolute: list[str], chunk: int | None) -> Iterator[dict[str, Any]]:
        import ray.data

        size = chunk or chunk_size(len(absolute), self._actors(), self.settings.batch_size)
        items = [{"index": i, "path": p} for i, p in enumerate(absolute)]
        blocks = -(-len(items) // size)
        dataset = ray.data.from_items(items, override_num_blocks=blocks)
        yield from self._stages(dataset, size, blocks).iter_rows()

    def _stages(self, dataset: Dataset, size: int, blocks: int, *, carried: bool = False) -> Dataset:
        """The scan over `dataset`'s (index, path) rows; `carried`: rows of a manifest (ray_rows.carry)."""
        import ray.data

        actors = self._actors()
        actor_args: dict[str, Any] = {"settings": self.settings, "factory": self._factory}
        if carried:
            actor, actor_args = CarriedActor, {"inner": ScanActor, "adds": "report", **actor_args}
        return dataset.map_batches(
            actor if carried else ScanActor, fn_constructor_kwargs=actor_args, batch_size=size,
            batch_format="numpy", compute=ray.data.ActorPoolStrategy(min_size=1, max_size=min(actors, blocks)),
            num_cpus=1, num_gpus=self._gpu_share(actors))

    def _actors(self) -> int:
        cpus = int(self._ray.cluster_resources().get("CPU", 1))
        return max(1, min(self.settings.jobs or cpus, cpus))

    def _gpu_share(self, actors: int) -> float:
        gpus = float(self._ray.cluster_resources().get("GPU", 0))
        if self.settings.device == "cpu" or gpus <= 0:
            return 0.0
        return min(1.0, gpus / actors)


def _check_reachable(address: str) -> None:
    """A ConfigError at once when HOST:PORT takes no TCP connection (Ray itself retries for minutes)."""
    target = address.split("://", 1)[-1]
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():  # "auto", or a form Ray resolves itself
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_S).close()
    except OSError as exc:
        raise ConfigError(f"cannot reach the Ray cluster at {address}: {exc.strerror or type(exc).__name__}") from None


def _connect(settings: Settings, address: str | None) -> tuple[Any, bool]:
    """`ray`, initialised (joined to the cluster at `address`, or a local cluster of worker_count CPUs), and
    whether this call started it (then close() stops it); a Ray already initialised in this process is used."""
    if not available():
        raise ConfigError(INSTALL_HINT)
    import ray
    from ray.data import DataContext
    from ray.job_config import JobConfig

    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    if ray.is_initialized():
        return ray, False
    if address is not None:
        _check_reachable(address)
    options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address is None:  # the workers import this very scanner package, whatever their working directory
            options["job_config"] = JobConfig(code_search_path=[CODE_ROOT])
            ray.init(num_cpus=settings.worker_count, include_dashboard=False, **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        raise ConfigError(f"cannot start or join {where}: {type(exc).__name__}") from None
    with contextlib.suppress(Exception):
        logging.getLogger("ray").setLevel(logging.WARNING)
    return ray, True
