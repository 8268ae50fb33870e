"""The scan cut into three stages that hand picklable Packs between processes (the split Ray engine's work).

    stages = Stages(pipeline)
    pack = stages.prepare(path)          CPU: read, open containers, CPU detectors, decode the model inputs
    packs = stages.models([pack, ...])   models: the batch detectors (visual, faces) over many files at once
    report = stages.finish(pack)         CPU: the detectors that need the models' facts (text), then the policy

Which detector runs where is derived, not listed: the batch detectors (BatchDetector: the model ones) make
the model stage; a CPU detector that needs a fact a model provides (text needs the visual `scenes`) runs
after it, every other CPU detector before it. The stages reuse the Pipeline's own steps (its read, tree,
detector runs and report tree), so a file gets the same FileReport as from `Pipeline.scan_paths`: findings
and errors are put back in the local run order at the end. A Pack carries the file's tree of items (their
bytes), the findings, errors and facts so far, and the pictures decoded for the models (downscaled to what
each model detector asks for), so the model stage decodes nothing that stage one decoded.

Fail closed, per item: each stage catches what a file raises (outside the detectors' own guards) and turns
that file into an error Pack, reported `review` with an `internal` error naming the stage; a model batch
that raises is run again file by file, so only the file that raises is reviewed.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from ..detectors.base import BatchDetector, Detector
from ..errors import ConfigError, ItemError
from ..expansion import Node
from ..facts import Facts
from ..media import PictureKey
from ..model import ErrorRecord, FileReport, Finding
from ..pipeline import Pipeline, _Work, expect_pictures
from ..sources import display_path
from ..subject import Subject

if TYPE_CHECKING:
    from PIL import Image

STAGE = "execution.ray"
T = TypeVar("T")
TREE = -1  # the order key of what the tree itself found (member names, container errors): first, as locally


@dataclass(slots=True)
class NodeState:
    """One node's work so far; `*_keys` give each finding and error the run-order place of who made it."""

    node: Node
    findings: list[Finding]
    finding_keys: list[int]
    errors: list[ErrorRecord]
    error_keys: list[int]
    timings: dict[str, float]
    handled: bool
    facts: Facts
    pictures: dict[PictureKey, Image.Image] = field(default_factory=dict)
    decode_error: ItemError | None = None


@dataclass(slots=True)
class Pack:
    """One file between stages: its nodes (root first), or the error that ends its scan."""

    path: str
    nodes: list[NodeState]
    error: ErrorRecord | None = None
    t_read: float = 0.0


def split(detectors: Sequence[Detector]) -> tuple[list[Detector], list[Detector], list[Detector]]:
    """(before the models, the models, after the models), each in run order."""
    models: list[Detector] = [d for d in detectors if isinstance(d, BatchDetector)]
    later: list[Detector] = []
    given = {fact for d in models for fact in _facts(d, "provides")}
    for det in detectors:  # run order: a detector's providers come before it
        if det in models:
            if _facts(det, "needs") & {f for d in later for f in _facts(d, "provides")}:
                raise ConfigError(f"the split Ray engine cannot run {det.id}: it needs a fact of a later stage")
            continue
        if _facts(det, "needs") & given:
            later.append(det)
            given |= _facts(det, "provides")
    first = [d for d in detectors if d not in models and d not in later]
    return first, models, later


def _facts(det: Detector, which: str) -> frozenset[str]:
    return frozenset(getattr(det, which, ()))


class Stages:
    """The three stages over one Pipeline's detectors and engines (built once per Ray worker or actor)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.order = {d.id: i for i, d in enumerate(pipeline.detectors)}
        self.first, self.models_, self.last = split(pipeline.detectors)
        self._one = {d.id: Pipeline(pipeline.settings, pipeline.engines, detectors=[d],
                                    expanders=pipeline.expanders) for d in pipeline.detectors}

    # -- stage one (CPU tasks) ---------------------------------------------------------------
    def prepare(self, path: str) -> Pack:
        """Read and open the file, run the CPU detectors that need no model, decode the models' pictures."""
        try:
            return self._prepare(path)
        except Exception as exc:  # the type name only: a message may quote file content
            return self._failed(path, "prepare", exc)

    def _prepare(self, path: str) -> Pack:
        t0 = time.perf_counter()
        read = self.pipeline._read(path)
        if isinstance(read, ErrorRecord):
            return Pack(path, [], read)
        works = self.pipeline._tree(read)
        t_read = time.perf_counter() - t0
        keys = [([TREE] * len(w.findings), [TREE] * len(w.subject.errors)) for w in works]
        self._run(self.first, works, keys)
        self._decode_for_models(works, keys)
        return Pack(path, [_freeze(w, k) for w, k in zip(works, keys, strict=True)], None, t_read)

    def _decode_for_models(self, works: list[_Work], keys: list[tuple[list[int], list[int]]]) -> None:
        """Decode, here on a CPU, the picture each model detector will ask for (a failure is kept for it)."""
        expect_pictures(self.models_, [w.subject for w in works])  # pictures of one draft: one decode
        for det in self.models_:
            for key in getattr(det, "pictures", ()):
                for w, (_, error_keys) in zip(works, keys, strict=True):
                    if not det.accepts(w.subject):
                        continue
                    with contextlib.suppress(Exception):  # kept by the Subject (ItemError), or raised again later
                        w.subject.picture(*key)
                    error_keys.extend([self.order[det.id]] * (len(w.subject.errors) - len(error_keys)))

    # -- stage two (the model actor pool) ----------------------------------------------------
    def models(self, packs: Sequence[Pack]) -> list[Pack]:
        """The model detectors over every node of every pack at once; a batch that raises, pack by pack."""
        try:
            return self._models(packs)
        except Exception:  # noqa: S110 - retried one pack at a time below, so only the bad file is reviewed
            pass
        out = []
        for pack in packs:
            try:
                out.extend(self._models([pack]))
            except Exception as exc:
                out.append(self._failed(pack.path, "models", exc))
        return out

    def _models(self, packs: Sequence[Pack]) -> list[Pack]:
        thawed = [[_thaw(s, self.pipeline) for s in p.nodes] for p in packs]
        works = [w for ws in thawed for w, _ in ws]
        keys = [k for ws in thawed for _, k in ws]
        self._run(self.models_, works, keys)
        for w in works:  # the models' pictures are done with: stage three decodes what it reads itself
            w.subject._pictures.clear()
        return [Pack(p.path, [_freeze(w, k) for w, k in ws], p.error, p.t_read)
                for p, ws in zip(packs, thawed, strict=True)]

    # -- stage three (CPU tasks) -------------------------------------------------------------
    def finish(self, pack: Pack) -> FileReport:
        """The detectors after the models, then the report tree and its verdicts, as the local engine makes them."""
        try:
            return self._finish(pack)
        except Exception as exc:
            return self._finish(self._failed(pack.path, "finish", exc))

    def _finish(self, pack: Pack) -> FileReport:
        if pack.error is not None:
            return self.pipeline.error_report(display_path(pack.path), pack.error)
        thawed = [_thaw(s, self.pipeline) for s in pack.nodes]
        works, keys = [w for w, _ in thawed], [k for _, k in thawed]
        self._run(self.last, works, keys)
        for w, (finding_keys, error_keys) in zip(works, keys, strict=True):  # back in the local run order
            w.findings = _in_order(w.findings, finding_keys)
            w.subject.errors = _in_order(w.subject.errors, error_keys)
        return self.pipeline._tree_report(works, pack.t_read)

    # -- shared --------------------------------------------------------------------------------
    def _run(self, detectors: Sequence[Detector], works: list[_Work], keys: list[tuple[list[int], list[int]]]) -> None:
        """Each detector over `works` (batched as the Pipeline batches), tagging what it adds with its place."""
        for det in detectors:
            self._one[det.id]._run_detectors(works)
            place = self.order[det.id]
            for w, (finding_keys, error_keys) in zip(works, keys, strict=True):
                finding_keys.extend([place] * (len(w.findings) - len(finding_keys)))
                error_keys.extend([place] * (len(w.subject.errors) - len(error_keys)))

    def _failed(self, path: str, stage: str, exc: Exception) -> Pack:
        error = ErrorRecord("internal", f"the {stage} stage failed: {type(exc).__name__}", f"{STAGE}.{stage}")
        return Pack(path, [], error)


def _in_order(values: list[T], keys: list[int]) -> list[T]:
    """`values` stably sorted by their run-order keys (what each stage added, put back where locally it comes)."""
    return [v for _, v in sorted(zip(keys, values, strict=True), key=lambda pair: pair[0])]


def _freeze(w: _Work, keys: tuple[list[int], list[int]]) -> NodeState:
    s = w.subject
    return NodeState(w.node, w.findings, keys[0], s.errors, keys[1], w.timings, w.handled, s.facts,
                     dict(s._pictures), s._decode_error)


def _thaw(state: NodeState, pipeline: Pipeline) -> tuple[_Work, tuple[list[int], list[int]]]:
    """A fresh _Work from `state` (copies: a batch retried pack by pack starts again from the state it was given)."""
    subject = Subject(state.node.item, pipeline.settings)
    subject.facts, subject.errors = copy.deepcopy(state.facts), list(state.errors)
    subject._pictures, subject._decode_error = dict(state.pictures), state.decode_error
    w = _Work(subject, state.node)
    w.findings, w.timings, w.handled = list(state.findings), dict(state.timings), state.handled
    return w, (list(state.finding_keys), list(state.error_keys))
