"""A real `leakscan serve` process on 127.0.0.1 for tests: start it, wait until /healthz says ok, stop it.

    with running_server(tmp_path, ["--no-auth"], {"LEAKSCAN_DETECTORS": "metadata"}) as server:
        httpx.get(server.url + "/healthz")

`server.health` holds every /healthz answer seen while it started ((status code, body status), in order).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    log: Path
    process: subprocess.Popen[bytes]
    health: list[tuple[int, str]] = field(default_factory=list)


def _wait_ready(server: RunningServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        assert server.process.poll() is None, server.log.read_text("utf-8", "replace")
        try:
            r = httpx.get(server.url + "/healthz", timeout=2, trust_env=False)
            server.health.append((r.status_code, str(r.json().get("status"))))
            if r.status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server did not become ready"
        time.sleep(0.1)


@contextlib.contextmanager
def running_server(folder: Path, args: Sequence[str], env: Mapping[str, str] | None = None) -> Iterator[RunningServer]:
    """`python -m scanner serve --host 127.0.0.1 --port FREE ARGS` with its log in `folder`/server.log."""
    port = free_port()
    log = folder / "server.log"
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full_env.pop("LEAKSCAN_TOKENS", None)
    cmd = [sys.executable, "-m", "scanner", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=folder, env=full_env)
    server = RunningServer(f"http://127.0.0.1:{port}", log, proc)
    try:
        _wait_ready(server)
        yield server
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the service shuts down its workers), SIGKILL after 20 s."""
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
