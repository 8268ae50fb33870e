"""Visual detector with the real EfficientNet-Lite weights on CPU over generated fixtures (no mocked backbone)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.visual_fixtures import build, rack_scene
from scanner.config import Settings
from scanner.detectors.visual import VisualDetector
from scanner.engines import EngineSet
from scanner.engines.embedder import build_embedder, cuda_possible
from scanner.errors import ConfigError, EngineUnavailable
from scanner.model import Item
from scanner.subject import Subject
from scanner.visual.check import check_gallery, render
from scanner.visual.gallery import EmbeddingCache, Gallery
from scanner.visual.options import parse_options
from scanner.visual.store import CACHE_VERSION

pytest.importorskip("efficientnet_lite_pytorch")


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build(tmp_path_factory.mktemp("visual"))


@pytest.fixture(scope="module")
def settings(fx: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    refs = fx["refs/known/roadmap.png"].parents[1]
    return Settings(device="cpu", refs=refs, cache_dir=tmp_path_factory.mktemp("cache"),
                    sections={"visual": {"model": "lite0"}})


@pytest.fixture(scope="module")
def detector(settings: Settings) -> VisualDetector:
    return VisualDetector(settings, EngineSet(settings))


def subject(path: Path, settings: Settings) -> Subject:
    data = path.read_bytes()
    kind = "png" if path.suffix == ".png" else "jpeg"
    return Subject(Item(str(path), data, hashlib.sha256(data).hexdigest(), kind), settings)


def rules(findings: list) -> set[str]:  # type: ignore[type-arg]
    return {f.rule_id for f in findings}


def test_matching_photo_flagged_and_lobby_not(
    fx: dict[str, Path], settings: Settings, detector: VisualDetector
) -> None:
    rack, lobby = subject(fx["query_rack.jpg"], settings), subject(fx["query_lobby.jpg"], settings)
    found_rack, found_lobby = detector.detect_batch([rack, lobby])
    restricted = [f for f in found_rack if f.rule_id == "visual.restricted"]
    assert restricted and restricted[0].evidence["label"] == "server-room"
    assert "rack-" in str(restricted[0].evidence["nearest_reference"])
    assert "visual.restricted" not in rules(found_lobby)
    assert rack.facts.timings["visual.embed"] > 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [("known_resized.jpg", True), ("known_screenshot.png", True), ("unrelated_slide.png", False),
     ("query_rack.jpg", False)],
)
def test_known_image(fx: dict[str, Path], settings: Settings, detector: VisualDetector, name: str,
                     expected: bool) -> None:
    findings = detector.detect(subject(fx[name], settings))
    assert ("visual.known_image" in rules(findings)) is expected


def test_batch_equals_single(fx: dict[str, Path], settings: Settings, detector: VisualDetector) -> None:
    names = ["query_rack.jpg", "query_lobby.jpg", "known_resized.jpg"]
    batch = detector.detect_batch([subject(fx[n], settings) for n in names])
    single = [detector.detect(subject(fx[n], settings)) for n in names]
    assert [rules(b) for b in batch] == [rules(s) for s in single]


def test_no_refs_still_runs_cues(fx: dict[str, Path], tmp_path: Path) -> None:
    s = Settings(device="cpu", cache_dir=tmp_path, sections={"visual": {"model": "lite0"}})
    det = VisualDetector(s, EngineSet(s))
    findings = det.detect(subject(fx["query_rack.jpg"], s))
    assert not rules(findings) & {"visual.restricted", "visual.known_image"}


def test_cache_invalidated_when_reference_changes(fx: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    refs = tmp_path / "refs"
    shutil.copytree(fx["refs/known/roadmap.png"].parents[1], refs)
    s = Settings(device="cpu", refs=refs, cache_dir=tmp_path / "cache", sections={"visual": {"model": "lite0"}})
    options, embedder = parse_options(s), build_embedder(s)
    g1 = Gallery.load(options, embedder, s.cache_dir)
    cache_file = next((tmp_path / "cache" / "visual").glob(f"{embedder.model_id}-refs-*.npz"))  # not sift*.npz
    before = set(EmbeddingCache(cache_file).entries)
    changed = refs / "restricted" / "server-room" / "rack-1.jpg"
    rack_scene(4242).save(changed, quality=90)
    g2 = Gallery.load(options, embedder, s.cache_dir)
    after = set(EmbeddingCache(cache_file).entries)
    assert len(before - after) == 1 and len(after - before) == 1
    new_sha = hashlib.sha256(changed.read_bytes()).hexdigest()
    assert new_sha in after
    i = [r.path for r in g2.refs].index(changed)
    assert (g1.views[i] != g2.views[i]).any()


def test_older_cache_versions_are_deleted_when_the_new_one_is_written(fx: dict[str, Path], tmp_path: Path) -> None:
    s = Settings(device="cpu", refs=fx["refs/known/roadmap.png"].parents[1], cache_dir=tmp_path / "cache",
                 sections={"visual": {"model": "lite0"}})
    embedder = build_embedder(s)
    visual = tmp_path / "cache" / "visual"
    visual.mkdir(parents=True)
    stale = visual / f"{embedder.model_id}-refs-v0.npz"
    other_model = visual / "efficientnet-lite2-0123456789ab-refs-v0.npz"
    for f in (stale, other_model):
        f.write_bytes(b"old")
        os.utime(f, (1e9, 1e9))  # unused for years
    Gallery.load(parse_options(s), embedder, s.cache_dir)
    assert not stale.exists() and other_model.exists()
    assert [f.name for f in visual.glob(f"{embedder.model_id}-*")] == [f"{embedder.model_id}-refs-v{CACHE_VERSION}.npz"]


def test_refs_check_reports_recall(settings: Settings, detector: VisualDetector) -> None:
    gallery = detector.gallery()
    assert gallery is not None
    report = check_gallery(gallery, detector.known())
    (label,) = report.labels
    assert label.label == "server-room" and label.references == 4 and label.recalled >= 3
    assert len(label.missed) == label.references - label.recalled
    assert all(ref.startswith("restricted/server-room/") for ref, _ in label.missed)
    assert report.allowed == 4 and not report.false_matches
    assert "server-room" in render(report)
    assert report.to_dict()["known_images"] == 1


def test_policy_threshold_override_and_validation(settings: Settings) -> None:
    from dataclasses import replace

    s = replace(settings, sections={"visual": {"model": "lite0", "thresholds": {"server-room": 0.99}}})
    assert parse_options(s).thresholds["server-room"] == 0.99
    with pytest.raises(ConfigError):
        parse_options(replace(settings, sections={"visual": {"bogus": 1}}))
    with pytest.raises(ConfigError):
        parse_options(replace(settings, sections={"visual": {"margin": "wide"}}))


def test_cuda_requested_without_gpu_is_unavailable() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(EngineUnavailable):
        build_embedder(Settings(device="cuda"))


def test_auto_on_a_machine_without_a_gpu_does_not_import_torch(tmp_path: Path) -> None:
    """Without an NVIDIA (or WSL GPU) device node no CUDA device can exist: `auto` is the CPU without importing torch
    (~3 CPU s per worker); the ONNX backbone exported earlier embeds a picture; a one-photo scan took 7.0 s -> 4.1 s."""
    if cuda_possible():
        pytest.skip("a GPU device node is present: torch is asked")
    lite0 = {"visual": {"model": "lite0"}}
    cache = tmp_path / "cache"
    build_embedder(Settings(cache_dir=cache, device="cpu", sections=lite0))  # exports the ONNX file (torch)
    code = ("import sys; from pathlib import Path; from PIL import Image; from scanner.config import Settings; "
            "from scanner.engines.embedder import build_embedder, resolve_device; "
            "lite0 = {'visual': {'model': 'lite0'}}; "
            "e = build_embedder(Settings(cache_dir=Path(sys.argv[1]), device='auto', sections=lite0)); "
            "v = e.embed([Image.new('RGB', (64, 48), 'gray')]); "
            "print(resolve_device('auto'), e.runtime, v.features.shape[0], 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(cache)], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.split() == ["cpu", "onnx", "1", "False"]


@pytest.mark.gpu
def test_gpu_half_precision_matches_cpu(fx: dict[str, Path]) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA")
    from PIL import Image

    from scanner.engines.embedder import TorchEmbedder

    images = [Image.open(fx[n]).convert("RGB") for n in ("query_rack.jpg", "query_lobby.jpg")]
    cpu, gpu = TorchEmbedder("lite2", "cpu").embed(images), TorchEmbedder("lite2", "cuda").embed(images)
    assert (cpu.features * gpu.features).sum(axis=1).min() > 0.99
    assert (cpu.probs.argmax(1) == gpu.probs.argmax(1)).all()


@pytest.mark.gpu
def test_gpu_scan_gives_the_cpu_findings(fx: dict[str, Path], tmp_path: Path) -> None:
    """The product path on CUDA (worker processes, batches across files, fp16) agrees with the CPU one."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA")
    from scanner.api import scan

    refs = fx["refs/known/roadmap.png"].parents[1]
    queries = [fx[n] for n in ("query_rack.jpg", "query_lobby.jpg", "known_resized.jpg", "unrelated_slide.png")]

    def rules(device: str) -> dict[str, list[str]]:
        s = Settings(device=device, jobs=2, batch_size=4, refs=refs, cache_dir=tmp_path / device,
                     detectors=("visual",))
        return {Path(r.path).name: sorted(f.rule_id for f in r.findings) for r in scan(queries, s).files}

    on_gpu = rules("cuda")
    assert on_gpu == rules("cpu")
    assert "visual.restricted" in on_gpu["query_rack.jpg"] and "visual.known_image" in on_gpu["known_resized.jpg"]
