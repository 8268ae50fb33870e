"""The split Ray engine: CPU tasks read, decode and run OCR; an actor pool runs the models on batches across files.

    SplitRayEngine(settings, address).scan(paths) -> Iterator[FileReport]   (RayEngine's contract and driver net)

One Ray Dataset of (index, path) rows, one row per file throughout, three `map_batches` stages
(scanner/execution/ray_stages.py does the work; this module only places it):
  1. prepare  Ray tasks, 1 CPU each: read, hash, open containers, metadata, decode the models' inputs.
  2. models   an actor pool (`ActorPoolStrategy`): the visual model and faces, `batch_size` files a batch,
              rows from any file of stage one; one actor per GPU when the cluster has GPUs (`num_gpus` 1), else
              CPU actors (half the CPUs), each loading the models once.
  3. finish   Ray tasks, 1 CPU each: OCR and the text rules (they need the visual scene cues), then the policy.
Rows carry pickled Packs (bytes, findings so far, the downscaled model pictures) and at the end pickled
FileReports. Each stage catches per file (a raised exception would abort the Ray job, and `max_errored_blocks`
would drop whole blocks): the file gets `review` with an `internal` error naming the stage, the others go on.
A CPU task whose worker process dies is run again TASK_RETRIES times (Ray's own default would retry it
without end), then the job fails and the driver reviews every file without a report (RayEngine.scan).
That explicit retry count also keeps stage one out of the actor: Ray Data fuses a task stage into the
actor stage after it only when their remote arguments are equal.
"""

from __future__ import annotations

import pickle
import uuid
from functools import partial
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..model import ErrorRecord
from ..pipeline import Pipeline
from ..threads import limit_threads
from .ray_engine import RayEngine
from .ray_rows import CarriedActor, carry
from .ray_stages import STAGE, Pack, Stages
from .worker import PipelineFactory

if TYPE_CHECKING:
    from ray.data import Dataset

TASK_RETRIES = 2  # a CPU task whose worker process died (a decoder crash) runs again twice, then the job fails
_STAGES: dict[str, Stages] = {}  # per Ray worker process: the current scan's stages, built once, one entry


def _stages(token: str, settings: Settings, factory: PipelineFactory) -> Stages:
    stages = _STAGES.get(token)
    if stages is None:
        _STAGES.clear()  # another scan's detectors and engines: let them go
        limit_threads()
        stages = _STAGES[token] = Stages(factory(settings))
    return stages


def _load(blob: Any, path: str, stage: str) -> Pack:
    """The Pack in a row, or an error Pack when it cannot be read back (never an exception into Ray)."""
    try:
        pack = pickle.loads(blob)  # noqa: S301 - written by our own stages on our cluster
        assert isinstance(pack, Pack)
        return pack
    except Exception as exc:
        return Pack(path, [], ErrorRecord("internal", f"the {stage} stage failed: {type(exc).__name__}",
                                          f"{STAGE}.{stage}"))


def _rows(batch: dict[str, Any]) -> tuple[list[int], list[str]]:
    return [int(i) for i in batch["index"]], [str(p) for p in batch["path"]]


def prepare_batch(batch: dict[str, Any], *, token: str, settings: Settings,
                  factory: PipelineFactory) -> dict[str, list[Any]]:
    """Stage one (a Ray task): a Pack per path."""
    stages = _stages(token, settings, factory)
    indexes, paths = _rows(batch)
    return {"index": indexes, "path": paths, "pack": [pickle.dumps(stages.prepare(p)) for p in paths]}


class ModelActor:
    """Stage two (one actor of the pool): the model detectors over a batch of Packs from any files."""

    def __init__(self, settings: Settings, factory: PipelineFactory = Pipeline) -> None:
        limit_threads()
        self.stages = Stages(factory(settings))

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        indexes, paths = _rows(batch)
        packs = [_load(b, p, "models") for b, p in zip(batch["pack"], paths, strict=True)]
        done = self.stages.models(packs)
        return {"index": indexes, "path": paths, "pack": [pickle.dumps(p) for p in done]}


def finish_batch(batch: dict[str, Any], *, token: str, settings: Settings,
                 factory: PipelineFactory) -> dict[str, list[Any]]:
    """Stage three (a Ray task): a FileReport per Pack."""
    stages = _stages(token, settings, factory)
    indexes, paths = _rows(batch)
    reports = [stages.finish(_load(b, p, "finish")) for b, p in zip(batch["pack"], paths, strict=True)]
    return {"index": indexes, "report": [pickle.dumps(r) for r in reports]}


class SplitRayEngine(RayEngine):
    """RayEngine's driver (connect, count rows, review what never comes back) over the three-stage dataset."""

    def __init__(self, settings: Settings, address: str | None = None, *,
                 factory: PipelineFactory = Pipeline) -> None:
        super().__init__(settings, address, factory=factory)
        self._token = uuid.uuid4().hex

    def _stages(self, dataset: Dataset, size: int, blocks: int, *, carried: bool = False) -> Dataset:
        """The three stages over `dataset`'s (index, path) rows; `carried`: rows of a manifest (ray_rows.carry)."""
        import ray.data

        cpus = int(self._ray.cluster_resources().get("CPU", 1))
        given: dict[str, Any] = {"token": self._token, "settings": self.settings, "factory": self._factory}
        actors, gpus = self._model_actors(cpus)
        prepare: Any = partial(prepare_batch, **given)
        finish: Any = partial(finish_batch, **given)
        actor: type = ModelActor
        actor_args: dict[str, Any] = {"settings": self.settings, "factory": self._factory}
        if carried:
            prepare = partial(carry, stage=prepare, adds="pack")
            finish = partial(carry, stage=finish, adds="report")
            actor, actor_args = CarriedActor, {"inner": ModelActor, "adds": "pack", **actor_args}
        prepared = dataset.map_batches(prepare, batch_size=size, batch_format="numpy", num_cpus=1,
                                       max_retries=TASK_RETRIES)
        modelled = prepared.map_batches(
            actor, fn_constructor_kwargs=actor_args, batch_size=max(size, self.settings.batch_size or 1),
            batch_format="numpy", compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors),
            num_cpus=1 if cpus > 1 else 0, num_gpus=gpus)
        return modelled.map_batches(finish, batch_size=size, batch_format="numpy", num_cpus=1,
                                    max_retries=TASK_RETRIES)

    def _model_actors(self, cpus: int) -> tuple[int, float]:
        """(actors, GPUs per actor): one per GPU, else CPU actors on half the CPUs (the tasks need the rest)."""
        gpus = float(self._ray.cluster_resources().get("GPU", 0))
        if self.settings.device != "cpu" and gpus > 0:
            return max(1, int(gpus)), min(1.0, gpus)
        return max(1, min(self.settings.jobs or cpus, cpus) // 2), 0.0
