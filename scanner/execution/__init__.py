"""Execution: runs items, never decides. A persistent pool of worker processes with a watchdog in the parent.

    run(paths, settings)       one scan, streamed (stream.py)
    Pool(settings).scan(paths) the same through long-lived workers, from any thread (pool.py)
    Worker                     the parent's end of one process (handle.py); serve: its own end (worker.py)
    Engine                     what scans a list of paths: Pool, or ray_engine.RayEngine (optional, imported lazily)
"""

from .pool import GRACE_S, Pool, chunk_size
from .stream import Engine, run

__all__ = ["GRACE_S", "Engine", "Pool", "chunk_size", "run"]
