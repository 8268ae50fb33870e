"""Issue 8, class 7: CLI and runner edges, with real files, real FIFOs and real worker processes.

Deep trees, a FIFO swapped in after the walk, unreadable arguments, `-o` naming an input, names
that used to print alike, SIGTERM/SIGHUP/SIGINT with workers running, internal-crash exit code,
and the bytes a worker holds at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures import hardening_cli
from scanner import cli as cli_module
from scanner.reporters.json import JsonLinesReporter
from tests.terminal import like_a_terminal

ROOT = Path(__file__).resolve().parents[1]
SCAN = (sys.executable, "-m", "scanner", "scan", "-q", "--detectors", "metadata")
HANG_LIMIT_S = 60  # a subprocess that runs longer than this is hanging


@pytest.fixture(scope="session")
def hx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return hardening_cli.build(tmp_path_factory.mktemp("hardening_cli"))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(*args: str, timeout: float = HANG_LIMIT_S, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env, check=False,
                          **kw)  # type: ignore[call-overload]


# --- deep trees -------------------------------------------------------------------------------

def test_tree_600_levels_deep_gets_a_decision_for_every_file(cli, hx) -> None:
    result = cli("scan", "-q", "-j", "1", "--format", "jsonl", "--detectors", "metadata", str(hx["deep"]))
    rows = result.jsonl()
    assert [Path(r["path"]).name for r in rows] == ["bottom.jpg", "top.jpg"]  # depth first, name order
    assert result.code == 0 and {r["decision"] for r in rows} == {"approve"}
    assert rows[0]["path"].split("/").count("d") == hardening_cli.DEEP_LEVELS
    console = cli("scan", "-q", "-j", "1", "--detectors", "metadata", str(hx["deep"]))
    assert rows[0]["path"] in console.out  # printed whole: a cut path is ambiguous


def test_deep_tree_with_a_loop_back_to_its_top_is_walked_once(cli, hx, tmp_path) -> None:
    tree = tmp_path / "tree"
    bottom = hardening_cli.deep_tree(tree, hx["photo.jpg"].read_bytes())
    os.symlink(tree, bottom / "loop")
    rows = cli("scan", "-q", "-j", "1", "--format", "jsonl", "--detectors", "metadata", str(tree)).jsonl()
    assert sorted(Path(r["path"]).name for r in rows) == ["bottom.jpg", "top.jpg"]


# --- a FIFO swapped in after the walk ---------------------------------------------------------

_SWAP_AND_SCAN = """
import json, os, sys, time
from scanner import runner, sources
from scanner.config import Settings
path = sys.argv[1]
paths = [e.path for e in sources.walk([path])]
os.unlink(path)
os.mkfifo(path)
if sys.argv[2] == "writer":  # someone holds the pipe open and never writes
    os.open(path, os.O_RDWR)
t0 = time.monotonic()
(report,) = runner.run(paths, Settings(jobs=1, timeout_s=5, detectors=("metadata",)))
print(json.dumps({"decision": report.decision.label, "codes": [e.code for e in report.errors],
                  "seconds": time.monotonic() - t0}))
"""


@pytest.mark.parametrize("other_end", ["none", "writer"])
def test_fifo_swapped_in_after_the_walk_gets_review_without_hanging(hx, tmp_path, other_end: str) -> None:
    victim = tmp_path / "photo.jpg"
    shutil.copy(hx["photo.jpg"], victim)
    try:
        proc = _run(sys.executable, "-c", _SWAP_AND_SCAN, str(victim), other_end)
    except subprocess.TimeoutExpired:
        pytest.fail("scanning a FIFO hung")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["decision"] == "review" and out["codes"] == ["unsupported"]
    assert out["seconds"] < 5  # refused on the descriptor's type, not after the time limit


# --- one unreadable argument among readable ones ------------------------------------------------

@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder another user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="leakscan-hardening-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_unreadable_argument_gets_review_and_the_others_are_scanned(hx, shared_dir: Path) -> None:
    readable, unreadable = shared_dir / "readable.jpg", shared_dir / "unreadable.jpg"
    shutil.copy(hx["photo.jpg"], readable)
    shutil.copy(hx["photo.jpg"], unreadable)
    readable.chmod(0o644)
    unreadable.chmod(0o000)
    as_user: tuple[str, ...] = ()
    if os.geteuid() == 0:  # root reads everything: run the scan as nobody
        as_user = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
        if shutil.which("setpriv") is None:
            pytest.skip("needs setpriv to drop root")
    env_cache = f"XDG_CACHE_HOME={shared_dir}"
    proc = _run("env", env_cache, *as_user, *SCAN, "--format", "jsonl", str(readable), str(unreadable))
    rows = {Path(r["path"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    assert proc.returncode == 1, proc.stderr
    assert rows["readable.jpg"]["decision"] == "approve"
    assert rows["unreadable.jpg"]["decision"] == "review"
    assert rows["unreadable.jpg"]["errors"][0]["code"] == "unreadable"


# --- -o never writes over a file being scanned -------------------------------------------------

def _same_file(tree: Path) -> tuple[list[str], Path]:
    return [str(tree / "photo.jpg")], tree / "photo.jpg"


def _hard_link_into_folder(tree: Path) -> tuple[list[str], Path]:
    (tree / "sub").mkdir()
    os.link(tree / "photo.jpg", tree / "sub" / "inside.jpg")
    os.rename(tree / "photo.jpg", tree / "elsewhere.jpg")
    return [str(tree / "sub")], tree / "elsewhere.jpg"


def _symlink_to_input(tree: Path) -> tuple[list[str], Path]:
    os.symlink(tree / "photo.jpg", tree / "report.txt")
    return [str(tree / "photo.jpg")], tree / "report.txt"


@pytest.mark.parametrize("setup", [_same_file, _hard_link_into_folder, _symlink_to_input])
def test_output_that_is_a_scanned_file_is_refused_and_left_intact(cli, hx, tmp_path, setup) -> None:
    shutil.copy(hx["photo.jpg"], tmp_path / "photo.jpg")
    inputs, output = setup(tmp_path)
    before = _sha(output)
    result = cli("scan", "-q", "--detectors", "metadata", "-o", str(output), *inputs)
    assert result.code == 2
    assert "being scanned" in result.err
    assert _sha(output) == before


def test_stdout_appending_to_a_scanned_file_is_refused(hx, tmp_path) -> None:
    photo = tmp_path / "photo.jpg"
    shutil.copy(hx["photo.jpg"], photo)
    before = _sha(photo)
    with photo.open("ab") as append:  # leakscan scan photo.jpg >> photo.jpg
        proc = subprocess.run([*SCAN, str(photo)], cwd=ROOT, stdout=append, stderr=subprocess.PIPE, text=True,
                              timeout=HANG_LIMIT_S, check=False)
    assert proc.returncode == 2 and "being scanned" in proc.stderr
    assert _sha(photo) == before


def test_output_fifo_is_refused_without_hanging(hx, tmp_path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # someone reads: an open for writing would succeed
    try:
        proc = _run(*SCAN, "-o", str(fifo), str(hx["photo.jpg"]))
    except subprocess.TimeoutExpired:
        pytest.fail("writing the report to a FIFO hung")
    finally:
        os.close(reader)
    assert proc.returncode == 2 and "not a regular file" in proc.stderr


def test_output_to_a_new_or_unrelated_file_still_works(cli, hx, tmp_path) -> None:
    new = tmp_path / "new.jsonl"
    assert cli("scan", "-q", "--format", "jsonl", "--detectors", "metadata", "-o", str(new),
               str(hx["photo.jpg"])).code == 0
    assert json.loads(new.read_text())["decision"] == "approve"
    old = tmp_path / "old.jsonl"
    old.write_text("x" * 10_000)
    assert cli("scan", "-q", "--format", "jsonl", "--detectors", "metadata", "-o", str(old),
               str(hx["photo.jpg"])).code == 0
    assert json.loads(old.read_text())["decision"] == "approve"  # truncated, not appended to
    assert cli("scan", "-q", "--detectors", "metadata", "-o", os.devnull, str(hx["photo.jpg"])).code == 0


# --- names that print alike -------------------------------------------------------------------

def unescape(shown: str) -> bytes:
    r"""The inverse of the documented display: `\\` -> `\`, `\xNN` -> byte, `\uNNNN`/`\UNNNNNNNN` -> char."""
    out = bytearray()
    i = 0
    while i < len(shown):
        if shown[i] != "\\":
            out += shown[i].encode("utf-8")
            i += 1
            continue
        kind = shown[i + 1]
        width = {"\\": 0, "x": 2, "u": 4, "U": 8}[kind]
        if kind == "\\":
            out += b"\\"
        elif kind == "x":
            out.append(int(shown[i + 2 : i + 4], 16))
        else:
            out += chr(int(shown[i + 2 : i + 2 + width], 16)).encode("utf-8")
        i += 2 + width
    return bytes(out)


def test_paths_are_unambiguous_and_reversible_in_every_format(cli, hx) -> None:
    folder = str(hx["odd_names"])
    base = ("scan", "-q", "-j", "1", "--detectors", "metadata")
    jsonl = [r["path"] for r in cli(*base, "--format", "jsonl", folder).jsonl()]
    doc = [f["path"] for f in json.loads(cli(*base, "--format", "json", folder).out)["files"]]
    console = [line.split(" ", 2)[2].strip() for line in cli(*base, folder).out.splitlines()
               if "APPROVE" in line]
    expected = {os.fsencode(folder) + b"/" + name for name in hardening_cli.ODD_NAMES}
    for shown in (jsonl, doc, console):
        assert len(set(shown)) == len(hardening_cli.ODD_NAMES), shown
        assert {unescape(p) for p in shown} == expected
    assert all(ch.isprintable() for p in console for ch in p)


# --- signals and exit codes -------------------------------------------------------------------

def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat_line = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat_line.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_signal_stops_the_workers_and_exits_with_its_code(hx, tmp_path, sig: signal.Signals, code: int) -> None:
    out = (tmp_path / "out.jsonl").open("w")
    proc = subprocess.Popen([*SCAN, "-j", "2", "--format", "jsonl", str(hx["busy"])], cwd=ROOT, stdout=out,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=like_a_terminal)
    try:
        deadline = time.monotonic() + HANG_LIMIT_S
        workers: set[int] = set()
        while len(workers) < 2 and proc.poll() is None and time.monotonic() < deadline:
            workers |= _children(proc.pid)
            time.sleep(0.05)
        assert len(workers) >= 2 and proc.poll() is None, "the scan never ran two workers"
        time.sleep(0.5)
        if sig == signal.SIGINT:  # Ctrl-C goes to the whole foreground group
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=HANG_LIMIT_S)  # orphaned workers would hold stderr open
        left = [pid for pid in workers if _alive(pid)]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in workers:  # never leave workers behind, even when the test fails
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        out.close()
    assert proc.returncode == code, err
    assert left == [], f"workers outlived the scan: {left}"
    assert "Traceback" not in err


def test_internal_error_has_its_own_exit_code_and_shows_no_content(cli, hx, monkeypatch) -> None:
    def broken(self: JsonLinesReporter, report: object) -> None:
        raise RuntimeError("card 4111 1111 1111 1111 from the picture")

    monkeypatch.setattr(JsonLinesReporter, "add", broken)
    result = cli("scan", "-q", "--format", "jsonl", "--detectors", "metadata", str(hx["photo.jpg"]))
    assert result.code == cli_module.EXIT_INTERNAL == 3
    assert len({cli_module.EXIT_OK, cli_module.EXIT_FLAGGED, cli_module.EXIT_USAGE, cli_module.EXIT_INTERNAL}) == 4
    assert "4111" not in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1 and "internal error" in result.err


# --- bytes a worker holds at once -------------------------------------------------------------

_PEAK = """
import json, re, sys
from pathlib import Path
from scanner.config import build_settings
from scanner.pipeline import Pipeline
def rss(field):
    return int(re.search(field + r":\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024
paths = sys.argv[1:]
settings = build_settings(None, {"batch_size": len(paths), "detectors": "metadata"},
                          env={"LEAKSCAN_MAX_BATCH_MB": "25"})
pipe = Pipeline(settings)
Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark to the current RSS
base = rss("VmRSS")
reports = pipe.scan_paths(paths)
print(json.dumps({"peak": rss("VmHWM") - base, "paths": [r.path for r in reports],
                  "decisions": [r.decision.label for r in reports]}))
"""


def test_a_worker_holds_at_most_the_byte_budget_of_a_chunk(hx) -> None:
    paths = sorted(str(p) for p in hx["big"].iterdir())
    proc = _run(sys.executable, "-c", _PEAK, *paths)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["paths"] == paths and set(out["decisions"]) == {"review"}  # unsupported type: review
    whole_chunk = hardening_cli.BIG_FILES * hardening_cli.BIG_FILE_BYTES  # 96 MB
    budget = 25_000_000 + hardening_cli.BIG_FILE_BYTES  # two 12 MB files fit under 25 MB
    assert out["peak"] < budget < whole_chunk, out["peak"]

