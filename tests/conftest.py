"""Shared fixtures: the project's generated images (built once per test session) and a CLI runner."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fixtures import metadata_fixtures  # noqa: E402
from scanner.cli import main  # noqa: E402


@pytest.fixture(scope="session")
def fx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> path of every metadata fixture (gps_dirty.jpg, truncated.jpg, ...)."""
    return metadata_fixtures.build(tmp_path_factory.mktemp("metadata_fixtures"))


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def jsonl(self) -> list[dict]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> Callable[..., CliResult]:
    """Run `leakscan ARGS` in-process (main(argv) -> exit code), from an empty folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEAKSCAN_POLICY", raising=False)

    def run(*args: str) -> CliResult:
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session", autouse=True)
def _audit_trail_in_a_temp_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    """`leakscan scan` records every decision (audit_db): the tests' trail lives under a temp folder, never ~."""
    import os

    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg_data"))
    os.environ.pop("LEAKSCAN_AUDIT_DB", None)
