"""Local features (SIFT + RANSAC) re-ranking the embedding shortlist: real OpenCV and the real EfficientNet-Lite
weights on CPU over generated workbench scenes (fixtures/place_fixtures.py)."""

from __future__ import annotations

import hashlib
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.place_fixtures import bench_world, build, photo
from scanner.config import Settings
from scanner.detectors.visual import VisualDetector
from scanner.engines import EngineSet
from scanner.engines.embedder import build_embedder
from scanner.errors import ConfigError
from scanner.model import Finding, Item
from scanner.subject import Subject
from scanner.visual.check import check_gallery, render
from scanner.visual.gallery import Gallery
from scanner.visual.local import SIDE, KeypointCache, extract, inliers
from scanner.visual.options import parse_options

pytest.importorskip("efficientnet_lite_pytorch")

NEW_VIEWS = ("bench_rotated.jpg", "bench_closeup.jpg", "bench_relit.jpg")


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build(tmp_path_factory.mktemp("place"))


def settings_for(fx: dict[str, Path], cache: Path, **visual: object) -> Settings:
    refs = fx["refs/restricted/bench-x/left.jpg"].parents[2]
    return Settings(device="cpu", refs=refs, cache_dir=cache, sections={"visual": {"model": "lite0", **visual}})


@pytest.fixture(scope="module")
def settings(fx: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return settings_for(fx, tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def detector(settings: Settings) -> VisualDetector:
    return VisualDetector(settings, EngineSet(settings))


def subject(path: Path, settings: Settings) -> Subject:
    data = path.read_bytes()
    return Subject(Item(str(path), data, hashlib.sha256(data).hexdigest(), "jpeg"), settings)


def restricted(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.rule_id == "visual.restricted"]


@pytest.mark.parametrize("name", NEW_VIEWS)
def test_new_view_of_an_enrolled_bench_has_many_inliers_and_another_bench_few(fx: dict[str, Path], name: str) -> None:
    from PIL import Image

    ref = extract(Image.open(fx["refs/restricted/bench-x/centre.jpg"]), 1000)
    # at the default 400 px side: rotated ~370, close-up ~210, relit ~45 (109 at 640 px); min_inliers is 15
    assert inliers(extract(Image.open(fx[name]), 1000), ref) >= 2 * 15
    assert inliers(extract(Image.open(fx["other_bench.jpg"]), 1000), ref) < 15


@pytest.mark.parametrize("name", NEW_VIEWS)
def test_new_view_is_flagged_through_local_features(
    fx: dict[str, Path], settings: Settings, detector: VisualDetector, name: str
) -> None:
    s = subject(fx[name], settings)
    (hit,) = restricted(detector.detect(s))
    assert hit.evidence["label"] == "bench-x" and hit.evidence["matched_by"] == "local features"
    assert int(hit.evidence["inliers"]) >= int(hit.evidence["min_inliers"]) == 15  # type: ignore[call-overload]
    assert "matching points in the same layout" in hit.message
    assert str(hit.evidence["nearest_reference"]).startswith("restricted/bench-x/")
    assert s.facts.timings["visual.local"] > 0


@pytest.mark.parametrize("name", ["other_bench.jpg", "refs/allowed/lobby/lobby-1.jpg"])
def test_another_bench_or_a_lobby_is_not_a_local_feature_match(
    fx: dict[str, Path], settings: Settings, detector: VisualDetector, name: str
) -> None:
    found = restricted(detector.detect(subject(fx[name], settings)))
    assert all(f.evidence["matched_by"] != "local features" for f in found)


def test_switched_off_no_keypoints_and_embedding_evidence(fx: dict[str, Path], tmp_path: Path) -> None:
    s = settings_for(fx, tmp_path, local_features=False)
    det = VisualDetector(s, EngineSet(s))
    gallery = det.gallery()
    assert gallery is not None and gallery.keypoints is None
    subj = subject(fx["bench_closeup.jpg"], s)
    assert all(f.evidence["matched_by"] == "embedding" for f in restricted(det.detect(subj)))
    assert "visual.local" not in subj.facts.timings
    assert not list((tmp_path / "visual").glob("sift*.npz"))


def test_keypoints_are_cached_and_a_changed_reference_is_extracted_again(fx: dict[str, Path], tmp_path: Path) -> None:
    refs = tmp_path / "refs"
    shutil.copytree(fx["refs/restricted/bench-x/left.jpg"].parents[2], refs)
    s = replace(settings_for(fx, tmp_path / "cache"), refs=refs)
    options, embedder = parse_options(s), build_embedder(s)
    g1 = Gallery.load(options, embedder, s.cache_dir)
    (cache_file,) = (tmp_path / "cache" / "visual").glob("sift1000-*refs-v*.npz")
    before = KeypointCache(cache_file).entries
    assert len(before) == len(g1.refs)
    first = next(iter(before.values()))
    assert first.desc.dtype.name == "uint8" and len(first) <= 1000
    changed = refs / "restricted" / "bench-x" / "left.jpg"
    photo(bench_world(7), ((0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5))).save(changed, quality=88)
    g2 = Gallery.load(options, embedder, s.cache_dir)
    after = KeypointCache(cache_file).entries
    assert len(set(before) - set(after)) == 1 and hashlib.sha256(changed.read_bytes()).hexdigest() in after
    assert g2.keypoints is not None
    i = [r.path for r in g2.refs].index(changed)
    assert (g2.keypoints[i].xy.shape != g1.keypoints[i].xy.shape  # type: ignore[index]
            or (g2.keypoints[i].xy != g1.keypoints[i].xy).any())  # type: ignore[index]


def test_refs_check_says_which_references_came_back_through_local_features(detector: VisualDetector) -> None:
    gallery = detector.gallery()
    assert gallery is not None
    report = check_gallery(gallery)
    bench = next(r for r in report.labels if r.label == "bench-x")
    assert bench.recalled == 3 and bench.by_local_features == 3  # the three photos overlap: verified each other
    assert not report.false_matches
    assert "found again through local features (matching points in the same layout): bench-x 3" in render(report)
    assert report.to_dict()["labels"][0] == {**report.to_dict()["labels"][0], "label": "bench-x",  # type: ignore[index]
                                             "by_local_features": 3}


@pytest.mark.parametrize("side", [320, 480])
def test_sift_runs_at_a_smaller_side_and_still_verifies_a_new_view(fx: dict[str, Path], side: int) -> None:
    from PIL import Image

    centre = Image.open(fx["refs/restricted/bench-x/centre.jpg"])
    assert max(centre.size) == 640
    small, full = extract(centre, 1000, side), extract(centre, 1000, 640)
    assert len(small) > 0 and float(small.xy.max()) < side <= float(full.xy.max()) + 1  # in the shrunk picture
    rotated = extract(Image.open(fx["bench_rotated.jpg"]), 1000, side)
    assert inliers(rotated, small) >= 30
    assert inliers(extract(Image.open(fx["other_bench.jpg"]), 1000, side), small) < 15


def test_keypoint_cache_is_named_by_its_extraction_side(tmp_path: Path) -> None:
    assert KeypointCache.for_setting(tmp_path, 1000, 640).path == tmp_path / "sift1000-refs-v1.npz"
    assert KeypointCache.for_setting(tmp_path, 1000, 480).path == tmp_path / "sift1000-480px-refs-v1.npz"
    assert KeypointCache.for_setting(tmp_path, 1000).path == KeypointCache.for_setting(tmp_path, 1000, SIDE).path


def test_a_keypoint_cache_at_another_side_replaces_the_old_one(tmp_path: Path) -> None:
    import os

    from scanner.visual.local import EMPTY

    old, other = tmp_path / "sift1000-refs-v1.npz", tmp_path / "sift10000-400px-refs-v1.npz"
    for stale in (old, other):
        stale.write_bytes(b"x")
        os.utime(stale, (1, 1))  # unused for decades
    cache = KeypointCache.for_setting(tmp_path, 1000, 400)
    cache.entries["a" * 64], cache.dirty = EMPTY, True
    cache.save(["a" * 64])
    assert cache.path is not None and cache.path.is_file() and not old.exists()
    assert other.exists()  # another max_keypoints setting is not this one's older version


@pytest.mark.parametrize(
    ("key", "value"),
    [("min_inliers", 3), ("min_inliers", "many"), ("local_top_k", 0), ("max_keypoints", 10),
     ("local_features", "yes")],
)
def test_local_settings_are_validated(settings: Settings, key: str, value: object) -> None:
    with pytest.raises(ConfigError):
        parse_options(replace(settings, sections={"visual": {key: value}}))


def test_local_settings_parse(settings: Settings) -> None:
    opts = parse_options(replace(settings, sections={"visual": {"min_inliers": 30, "local_top_k": 3}}))
    assert (opts.local_features, opts.min_inliers, opts.local_top_k, opts.max_keypoints) == (True, 30, 3, 1000)
