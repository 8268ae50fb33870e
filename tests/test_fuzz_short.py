"""A short run of the metadata fuzz campaign (benchmarks/fuzz_metadata.py) over the generated fixtures:
no crash, no hang, no approval while ExifTool reads a coordinate or an archive is embedded.

The full campaign (10,000 mutants with the corpus) is `benchmarks/fuzz_metadata.py --count 10000`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures import metadata_fixtures

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import _exiftool  # noqa: E402
import _fuzz_mutators as mut  # noqa: E402
import fuzz_metadata  # noqa: E402
from _fuzz_pool import Outcome  # noqa: E402

pytestmark = pytest.mark.skipif(not _exiftool.available(), reason="exiftool not installed")
MUTANTS = 300
SEED = 0
MIN_ORACLE_SHARE = 0.1  # at least this share of mutants carries an ExifTool coordinate, and as many an archive


@pytest.fixture(scope="session")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fuzz_seeds")
    metadata_fixtures.build(out)
    return out


@pytest.fixture(scope="session")
def campaign(seeds: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, int], str]:
    out = tmp_path_factory.mktemp("fuzz_out")
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fuzz_metadata.py"), "--sources", str(seeds),
                           "--count", str(MUTANTS), "--seed", str(SEED), "--jobs", "2", "--timeout", "10",
                           "--out", str(out), "--summary", str(out / "summary.json")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})  # this checkout's scanner, not the installed one
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "summary.json").read_text()), done.stdout


def test_oracle_is_not_empty(campaign: tuple[dict[str, int], str]) -> None:
    summary, _ = campaign
    assert summary["mutants"] == MUTANTS
    assert summary["exiftool_coordinate"] >= MIN_ORACLE_SHARE * MUTANTS
    assert summary["archive"] >= MIN_ORACLE_SHARE * MUTANTS


@pytest.mark.parametrize("failure", fuzz_metadata.CLASSES)
def test_no_failures(campaign: tuple[dict[str, int], str], failure: str) -> None:
    summary, stdout = campaign
    assert summary[failure] == 0, stdout[-6000:]


def test_a_truncated_file_with_a_readable_coordinate_may_not_be_approved(seeds: Path, tmp_path: Path) -> None:
    """The oracle itself: a cut file whose GPS ExifTool still reads counts as unsafe when approved."""
    data = (seeds / "gps_dirty.jpg").read_bytes()
    mutant = mut.Mutant(data[: len(data) // 3], "truncate")
    path = tmp_path / "cut.jpg"
    path.write_bytes(mutant.data)
    (record,) = _exiftool.read_records([path]).values()
    unsafe = fuzz_metadata.judge(0, path, mutant, record, Outcome("approve"))
    assert "unsafe_gps" in unsafe.classes and unsafe.coords
    assert fuzz_metadata.judge(0, path, mutant, record, Outcome("review", errors=("corrupt: cut",))).classes == ()


def test_an_embedded_archive_may_not_be_approved(seeds: Path) -> None:
    import random

    mutant = mut.MUTATORS["zip_in_app15"](random.Random(1), (seeds / "clean.jpg").read_bytes())
    assert mutant is not None and mut.archive_inside(mutant)
    judged = fuzz_metadata.judge(0, seeds / "clean.jpg", mutant, {}, Outcome("approve"))
    assert judged.classes == ("unsafe_archive",)
    cut = mut.Mutant(mutant.data[: mutant.archive[0] + 10] if mutant.archive else b"", "truncate", mutant.archive)
    assert not mut.archive_inside(cut)  # a ZIP cut in half is no longer an archive a reader can open


def test_mutants_are_reproducible(seeds: Path) -> None:
    pool = fuzz_metadata.sources([seeds])
    first = [fuzz_metadata.make_mutant(SEED, i, pool, {})[1] for i in (0, 7, 123)]
    again = [fuzz_metadata.make_mutant(SEED, i, pool, {})[1] for i in (0, 7, 123)]
    assert first == again
