"""The enrolment-time logistic head (numpy) and the reference cache location, with the real model on CPU."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.visual_fixtures import build
from scanner.config import Settings
from scanner.detectors.visual import VisualDetector
from scanner.engines import EngineSet
from scanner.errors import ConfigError
from scanner.model import Item
from scanner.subject import Subject
from scanner.visual.gallery import HEAD_MIN_SCORE, Gallery
from scanner.visual.head import fit_head, loo_scores, threshold_from
from scanner.visual.options import VIEW_NAMES, VisualOptions, parse_options
from scanner.visual.store import Reference


def blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 32))
    x = np.concatenate([c + 0.3 * rng.normal(size=(8, 32)) for c in centres])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, np.repeat([0, 1, -1], 8)  # two labels and an allowed group


def test_head_separates_and_thresholds_sit_above_every_left_out_negative() -> None:
    x, lab = blobs()
    head = fit_head(x, lab, 2)
    assert (head.scores(x).argmax(axis=1)[lab >= 0] == lab[lab >= 0]).all()
    loo = loo_scores(x, lab, 2)
    for per_label in (False, True):
        thr = threshold_from(loo, lab, per_label)
        for li in range(2):
            assert (loo[lab != li, li] < thr[li]).all()
            assert (loo[lab == li, li] >= thr[li]).mean() > 0.5
    glob = threshold_from(loo, lab, per_label=False)
    assert glob[0] == glob[1] >= threshold_from(loo, lab, per_label=True).max()


def test_head_thresholds_stay_on_the_restricted_side_and_allowed_lookalikes_pass() -> None:
    x, lab = blobs(2)
    refs = [Reference("restricted" if li >= 0 else "allowed", f"label{li}" if li >= 0 else "lobby",
                      Path(f"ref{i}.jpg"), f"{i:064x}") for i, li in enumerate(lab)]
    views = np.repeat(x[:, None, :], len(VIEW_NAMES), axis=1).astype(np.float32)
    g = Gallery(refs, views, np.zeros((len(x), 4, x.shape[1]), np.float32), VisualOptions())
    assert (g.thresholds >= HEAD_MIN_SCORE).all()
    lobby_like = x[lab == -1].mean(axis=0)
    lobby_like /= np.linalg.norm(lobby_like)
    members = g.match(x[lab == 0][:2], np.zeros((2, 4, x.shape[1])))
    assert [m.label if m else None for m in members] == ["label0", "label0"]
    assert g.match(lobby_like[None, :], np.zeros((1, 4, x.shape[1]))) == [None]


def test_label_without_references_never_matches() -> None:
    x, lab = blobs(1)
    head = fit_head(x[lab != 1], lab[lab != 1], 2)
    assert np.isneginf(head.scores(x)[:, 1]).all()


def test_method_options_validated() -> None:
    s = Settings(sections={"visual": {"method": "knn", "calibration": "per-label", "head_lambda": 0.5}})
    opts = parse_options(s)
    assert (opts.method, opts.calibration, opts.head_lambda) == ("knn", "per-label", 0.5)
    assert parse_options(Settings()).method == "head"
    with pytest.raises(ConfigError):
        parse_options(Settings(sections={"visual": {"method": "svm"}}))


@pytest.mark.parametrize("method", ["head", "knn"])
def test_both_methods_flag_rack_not_lobby_and_cache_without_cache_dir(
    method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("efficientnet_lite_pytorch")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    fx = build(tmp_path / "fx")
    refs = fx["refs/known/roadmap.png"].parents[1]
    s = Settings(device="cpu", refs=refs, sections={"visual": {"model": "lite0", "method": method}})
    assert s.cache_dir is None
    det = VisualDetector(s, EngineSet(s))
    found = []
    names = ("query_rack.jpg", "query_lobby.jpg", "unrelated_slide.png", "known_screenshot.png", "known_resized.jpg")
    for name in names:
        data = fx[name].read_bytes()
        subject = Subject(Item(str(fx[name]), data, hashlib.sha256(data).hexdigest(), "image/jpeg"), s)
        found.append({f.rule_id: f for f in det.detect(subject)})
    hit = found[0].get("visual.restricted")
    assert hit is not None and hit.evidence["label"] == "server-room"
    assert ("head_score" in hit.evidence) is (method == "head")
    # neither the lobby nor slides (like neither reference group, nearer the allowed one) are a server room
    assert [n for n, f in zip(names, found, strict=True) if "visual.restricted" in f] == ["query_rack.jpg"]
    assert list((tmp_path / "xdg" / "leakscan" / "visual").glob("*-refs-v*.npz"))
    gallery = det.gallery()
    assert gallery is not None
    if method == "head":
        strict = replace(gallery.options, thresholds={"server-room": 1e9})
        assert type(gallery)(gallery.refs, gallery.views, gallery.cells, strict).match(
            gallery.features[:1], gallery.cells[:1]) == [None]
