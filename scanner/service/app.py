"""create_app(settings, tokens, no_auth, ...) -> FastAPI: the routes, request ids, one log line per request,
metrics, and fail-closed errors (a bug answers 500 with a JSON body that says review, never a bare 200)."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from .. import __version__
from ..config import Settings
from ..errors import ConfigError
from .auth import authorized
from .batcher import BatchOptions
from .docs import mount_docs
from .fixing import fix_upload
from .jobs import Jobs, WebhookConfig
from .metrics import Metrics
from .page import mount_page
from .scanning import ReportStore, Scans
from .uploads import Upload, UploadError, check_length, receive_upload
from .webhooks import valid_callback

log = logging.getLogger("leakscan.service")
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
CACHE_HEADER = "X-Leakscan-Cache"
MAX_QUEUED_JOBS = 64  # /v1/jobs not done yet (each upload waits on disk): past this, 503 and Retry-After
CLIENT_CLOSED = 499  # nginx's status for a client that closed the connection before the answer
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})  # others: one label


def create_app(settings: Settings, tokens: Sequence[str] = (), no_auth: bool = False, *,
               max_upload_mb: float | None = None, store: ReportStore | None = None,
               webhook_secret: bytes | None = None, webhook_attempts: int = 5, webhook_backoff_s: float = 1.0,
               workers: int | None = None, batching: BatchOptions | None = None) -> FastAPI:
    """The service. The worker pool starts with the app (lifespan), is warmed in the background (/healthz
    answers 503 "starting" until every worker has loaded its models) and is closed with the app."""
    if not tokens and not no_auth:
        raise ConfigError("no API token given (and no_auth not set)")
    limit = int((max_upload_mb or settings.max_file_mb) * 1_000_000)
    metrics = Metrics()
    hooks = WebhookConfig(webhook_secret, webhook_attempts, webhook_backoff_s,
                          lambda outcome: metrics.webhooks.labels(outcome).inc())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scans = Scans(settings, store, workers, batching, metrics.batch_size.observe)
        app.state.scans, app.state.jobs = scans, Jobs(scans, hooks)
        scans.start()
        warming = asyncio.get_running_loop().create_task(scans.warm_up(), name="leakscan-warm-up")
        try:
            yield
        finally:
            app.state.jobs.cancel_all()
            warming.cancel()
            await scans.close()

    app = FastAPI(title="leakscan", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.limit, app.state.metrics = limit, metrics
    app.middleware("http")(_observe)

    def require_token(request: Request) -> None:
        if not no_auth and not authorized(request.headers.get("authorization"), tokens):
            raise HTTPException(401, "missing or invalid bearer token", {"WWW-Authenticate": 'Bearer realm="leakscan"'})

    guarded = [Depends(require_token)]
    app.get("/healthz")(_healthz)
    app.get("/metrics", dependencies=guarded)(_metrics)
    app.post("/v1/scan", dependencies=guarded)(_scan)
    app.post("/v1/fix", dependencies=guarded)(_fix)
    app.post("/v1/jobs", dependencies=guarded, status_code=202)(_submit)
    app.get("/v1/jobs/{job_id}", dependencies=guarded)(_job)
    mount_page(app)
    mount_docs(app)
    return app


async def _healthz(request: Request) -> JSONResponse:
    """200 {"status": "ok"} once every worker is warm; 503 while "starting", or "failed" (cannot scan)."""
    scans = request.app.state.scans
    body: dict[str, Any] = {"status": scans.status, "version": __version__}
    if scans.warmup is not None:
        body["workers"] = scans.warmup.workers
        body["warmup_s"] = round(scans.warmup.seconds, 2)
        if scans.warmup.errors:  # e.g. an engine missing: scans then answer review with that error
            body["warmup_errors"] = list(scans.warmup.errors)
    return JSONResponse(body, 200 if scans.status == "ok" else 503)


async def _metrics(request: Request) -> Response:
    state = request.app.state
    state.metrics.scans_in_flight.set(state.scans.in_flight)
    state.metrics.queue_depth.set(state.scans.batcher.queued)
    state.metrics.jobs_in_flight.set(state.jobs.in_flight)
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


async def _receive(request: Request) -> Upload | JSONResponse:
    """The upload on disk, or the 400/413 answer."""
    state = request.app.state
    try:
        check_length(request.headers.get("content-length"), state.limit)
        return await receive_upload(request.stream(), request.headers.get("content-type"), state.limit,
                                    state.scans.folder.name)
    except UploadError as exc:
        return JSONResponse({"error": exc.message}, exc.status, headers={"Connection": "close"})


async def _scan(request: Request) -> Response:
    """Scan one upload (multipart field `file`): 200 and its report, `decision` at the top level."""
    upload = await _receive(request)
    if isinstance(upload, JSONResponse):
        return upload
    try:
        answer = await request.app.state.scans.scan(upload)
    finally:
        upload.remove()
    request.state.decision = answer.decision
    source = "cache" if answer.cached else "scan"
    metrics = request.app.state.metrics
    metrics.decisions.labels(answer.decision, source).inc()
    if answer.cached:
        metrics.cache_hits.inc()
    return JSONResponse(answer.report, headers={CACHE_HEADER: "hit" if answer.cached else "miss"})


async def _fix(request: Request) -> Response:
    """A safe copy of one upload (`file`): 200 and the copy's bytes, its re-scan decision in the
    X-Leakscan-Decision header (the original's in X-Leakscan-Original-Decision); 422 `review` when no copy
    can be made."""
    upload = await _receive(request)
    if isinstance(upload, JSONResponse):
        return upload
    try:
        answer = await fix_upload(request.app.state.scans, upload)
    finally:
        upload.remove()
    request.state.decision = answer.decision
    if answer.data is None:
        return JSONResponse(answer.problem_body(), 422)
    return Response(answer.data, media_type=answer.media_type, headers=answer.headers())


async def _submit(request: Request) -> Response:
    """Queue one upload (`file`, optional `callback_url`): 202 and the job id; GET /v1/jobs/{id} for the report.
    With MAX_QUEUED_JOBS not done yet: 503 and Retry-After, before the upload is read (each waits on disk)."""
    if request.app.state.jobs.in_flight >= MAX_QUEUED_JOBS:
        return JSONResponse({"error": f"{MAX_QUEUED_JOBS} jobs are waiting: try again later"}, 503,
                            headers={"Retry-After": "5", "Connection": "close"})
    upload = await _receive(request)
    if isinstance(upload, JSONResponse):
        return upload
    callback = upload.fields.get("callback_url") or None
    problem = _callback_problem(callback, request.app.state.jobs.webhooks.secret is not None)
    if problem:
        upload.remove()
        return JSONResponse({"error": problem}, 400)
    job = request.app.state.jobs.submit(upload, callback)
    return JSONResponse(job.to_dict(), 202, headers={"Location": f"/v1/jobs/{job.id}"})


def _callback_problem(url: str | None, have_secret: bool) -> str | None:
    if url is None:
        return None
    if not valid_callback(url):
        return "callback_url must be an http or https URL"
    if not have_secret:
        return "callbacks need a webhook secret (--webhook-secret-file or LEAKSCAN_WEBHOOK_SECRET)"
    return None


async def _job(job_id: str, request: Request) -> dict[str, Any]:
    job = request.app.state.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, "no such job")
    if job.report is not None:
        request.state.decision = job.report["decision"]
    result: dict[str, Any] = job.to_dict()
    return result


async def _observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Request id in and out, one log line, the metrics; an exception -> 500 that says review."""
    given = request.headers.get("x-request-id", "")
    rid = given if REQUEST_ID.fullmatch(given) else secrets.token_hex(8)
    start = time.perf_counter()
    try:
        response = await call_next(request)
    except ClientDisconnect:  # the client went away mid-upload: nobody to answer, and not a server bug
        log.info("request_id=%s client disconnected", rid)
        response = Response(status_code=CLIENT_CLOSED)
    except Exception as exc:  # a server bug: fail closed, the type only (a message may quote content)
        log.error("request_id=%s unhandled %s", rid, type(exc).__name__)
        response = JSONResponse({"decision": "review", "error": "internal server error", "request_id": rid}, 500)
    elapsed = time.perf_counter() - start
    route = getattr(request.scope.get("route"), "path", "other")
    decision = getattr(request.state, "decision", "-")
    method = request.method if request.method in METHODS else "OTHER"
    metrics = request.app.state.metrics
    metrics.requests.labels(route, method, str(response.status_code)).inc()
    metrics.latency.labels(route).observe(elapsed)
    response.headers["X-Request-ID"] = rid
    log.info("request_id=%s method=%s route=%s status=%d decision=%s cache=%s duration_ms=%.1f", rid,
             method, route, response.status_code, decision, response.headers.get(CACHE_HEADER, "-"),
             elapsed * 1000)
    return response
