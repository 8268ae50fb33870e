"""A local 2-CPU Ray cluster for a test module; its workers import this scanner and the test modules.

    @pytest.fixture(scope="module", autouse=True)
    def cluster() -> Iterator[None]:
        yield from local_cluster()
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def local_cluster() -> Iterator[None]:
    import ray
    from ray.job_config import JobConfig

    job = JobConfig(code_search_path=[str(ROOT), str(ROOT / "tests")])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, job_config=job)
    try:
        yield
    finally:
        ray.shutdown()
