"""`leakscan serve`: the approval service on HOST:PORT (scanner.service), behind bearer tokens."""

from __future__ import annotations

import logging
import os
from typing import Any

import click

from .config import build_settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=str),
              help="API tokens, one per line (also LEAKSCAN_TOKENS, comma-separated).")
@click.option("--no-auth", is_flag=True, help="No token needed (only on a loopback address).")
@click.option("--max-upload-mb", type=click.FloatRange(min=0.001), help="Upload limit (default: max_file_mb).")
@click.option("--webhook-secret-file", type=click.Path(dir_okay=False, path_type=str),
              help="Secret that signs job callbacks (also LEAKSCAN_WEBHOOK_SECRET).")
@click.option("--webhook-attempts", type=click.IntRange(1, 20), default=5, show_default=True,
              help="Callback deliveries tried before giving up.")
@click.option("--webhook-backoff", type=click.FloatRange(min=0.0), default=1.0, show_default=True,
              help="Seconds before the first retry; doubled after each.")
@click.option("--max-batch", type=click.IntRange(1, 256), default=8, show_default=True, envvar="LEAKSCAN_MAX_BATCH",
              help="Uploads that arrive together and go to one worker as one batch, at most.")
@click.option("--max-wait-ms", type=click.FloatRange(0, 10_000), default=20.0, show_default=True,
              envvar="LEAKSCAN_MAX_WAIT_MS", help="How long a batch waits for more uploads after its first.")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False, path_type=str), help="Policy TOML.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), help="Worker processes (one thread each); 0 = cores.")
def serve(host: str, port: int, token_file: str | None, no_auth: bool, max_upload_mb: float | None,
          webhook_secret_file: str | None, webhook_attempts: int, webhook_backoff: float, max_batch: int,
          max_wait_ms: float, policy_file: str | None, **overrides: Any) -> None:
    """Serve POST /v1/scan, /v1/fix (a safe copy), /v1/jobs (approve/review/block over HTTP), /healthz, /metrics.

    The workers load their models at start; /healthz answers 503 "starting" until they have."""
    from .audit import Recorder
    from .preflight import check_setup
    from .service import create_app
    from .service.auth import check_auth_config, load_tokens
    from .service.batcher import BatchOptions
    from .service.scanning import AuditReportStore
    from .service.webhooks import load_secret
    from .threads import limit_threads

    limit_threads()
    settings = build_settings(policy_file, overrides)
    check_setup(settings)  # a wrong set-up: exit 2 now, not a review for every upload
    tokens = load_tokens(token_file, os.environ)
    check_auth_config(tokens, no_auth, host)
    secret = load_secret(webhook_secret_file, dict(os.environ))
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    for chatty in ("httpx", "httpcore"):  # their INFO lines print each webhook's whole address (credentials too)
        logging.getLogger(chatty).setLevel(logging.WARNING)
    store = AuditReportStore(Recorder(settings, "serve"))  # off when audit_db is "off": answers then live in memory
    app = create_app(settings, tokens, no_auth, max_upload_mb=max_upload_mb, webhook_secret=secret,
                     webhook_attempts=webhook_attempts, webhook_backoff_s=webhook_backoff, store=store,
                     batching=BatchOptions(max_batch, max_wait_ms))
    import uvicorn

    uvicorn.run(app, host=host, port=port, access_log=False, server_header=False, log_level="info")
