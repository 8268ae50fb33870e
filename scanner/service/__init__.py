"""The approval service (`leakscan serve`): uploads over HTTP -> approve/review/block, through one worker pool.

    app.py       create_app(settings, tokens, ...) -> FastAPI: routes, request ids, logs, fail-closed errors
    auth.py      bearer tokens (file or LEAKSCAN_TOKENS), constant-time check, loopback-only --no-auth
    uploads.py   multipart streamed to a private temp file: size counted as it arrives, sha256 on the way
    scanning.py  the shared Pool, the (sha256, settings) -> report LRU and the optional report store hook
    jobs.py      asynchronous jobs (POST /v1/jobs) and their signed webhooks (webhooks.py)
    metrics.py   Prometheus metrics in the service's own registry
"""

from .app import create_app

__all__ = ["create_app"]
