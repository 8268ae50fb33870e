"""Asynchronous jobs: POST /v1/jobs answers 202 + an id; the scan runs in the background; the report is
kept for GET /v1/jobs/{id} and, with a callback_url, sent as a signed webhook (webhooks.py)."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .scanning import Scans
from .uploads import Upload
from .webhooks import Delivery, deliver

MAX_JOBS = 10_000  # finished jobs beyond this are forgotten, oldest first


@dataclass
class Job:
    id: str
    label: str
    callback_url: str | None
    status: str = "queued"  # queued -> running -> done
    report: dict[str, Any] | None = None
    delivery: Delivery | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status, "path": self.label,
                               "decision": self.report["decision"] if self.report else None,
                               "report": self.report}
        if self.delivery is not None:
            out["webhook"] = {"state": self.delivery.state, "attempts": self.delivery.attempts}
        return out


@dataclass
class WebhookConfig:
    secret: bytes | None
    attempts: int = 5
    backoff_s: float = 1.0
    on_attempt: Callable[[str], None] = field(default=lambda _: None)


class Jobs:
    """The jobs of this process (in memory), each run as an asyncio task that holds its own reference."""

    def __init__(self, scans: Scans, webhooks: WebhookConfig) -> None:
        self.scans, self.webhooks = scans, webhooks
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        return sum(1 for j in self._jobs.values() if j.status != "done")

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def submit(self, upload: Upload, callback_url: str | None) -> Job:
        job = Job(secrets.token_urlsafe(16), self.scans.label(upload), callback_url)
        if callback_url:
            job.delivery = Delivery()
        self._jobs[job.id] = job
        self._forget_old()
        task = asyncio.get_running_loop().create_task(self._run(job, upload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run(self, job: Job, upload: Upload) -> None:
        job.status = "running"
        try:
            answer = await self.scans.scan(upload)
            job.report = answer.report
        except Exception as exc:  # fail closed: a job never ends without a decision
            job.report = {"path": job.label, "decision": "review", "errors": [
                {"code": "internal", "message": f"service error ({type(exc).__name__})", "stage": "service"}]}
        finally:
            upload.remove()
            job.status = "done"
        if job.callback_url and job.delivery is not None and self.webhooks.secret is not None:
            body = json.dumps({"type": "scan.completed", **job.to_dict()}, sort_keys=True).encode()
            cfg = self.webhooks
            await deliver(job.callback_url, f"msg_{job.id}", body, cfg.secret or b"", cfg.attempts, cfg.backoff_s,
                          job.delivery, cfg.on_attempt)

    def _forget_old(self) -> None:
        for job_id in list(self._jobs):
            if len(self._jobs) <= MAX_JOBS:
                return
            if self._jobs[job_id].status == "done":
                del self._jobs[job_id]

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
