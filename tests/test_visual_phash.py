"""Perceptual hash: survives resize + JPEG + 5% crop, rejects other images (no model needed)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.visual_fixtures import rack_scene, screenshot_of, slide
from scanner.visual.phash import KnownImages, informative, phash_gray, to_gray


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> KnownImages:
    folder = tmp_path_factory.mktemp("known")
    slide(7, "Project X roadmap").save(folder / "roadmap.png")
    rack_scene(5).save(folder / "rack.jpg", quality=92)
    Image.new("RGB", (300, 200), (255, 255, 255)).save(folder / "blank.png")
    return KnownImages.load(folder)


def crop(image: Image.Image, left: float = 0, top: float = 0, right: float = 0, bottom: float = 0) -> Image.Image:
    w, h = image.size
    return image.crop((int(w * left), int(h * top), w - int(w * right), h - int(h * bottom)))


TRANSFORMS = {
    "resize50+q70": lambda im: jpeg(im.resize((im.width // 2, im.height // 2)), 70),
    "resize+q60+crop5left": lambda im: jpeg(crop(im.resize((im.width * 3 // 5, im.height * 3 // 5)), left=0.05), 60),
    "crop2.5each": lambda im: jpeg(crop(im, 0.025, 0.025, 0.025, 0.025), 80),
    "crop5bottom+upscale": lambda im: jpeg(crop(im, bottom=0.05).resize((im.width * 3 // 2, im.height * 3 // 2)), 85),
    "screenshot": lambda im: screenshot_of(im),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@pytest.mark.parametrize("source", ["roadmap", "rack"])
def test_survives_transform(known: KnownImages, name: str, source: str) -> None:
    original = slide(7, "Project X roadmap") if source == "roadmap" else rack_scene(5)
    hit = known.best(TRANSFORMS[name](original))
    assert hit is not None and hit.path.stem == source and hit.distance <= 40, hit


@pytest.mark.parametrize("other", ["slide8", "rack6", "white"])
def test_rejects_other_images(known: KnownImages, other: str) -> None:
    image = {"slide8": slide(8, "Offsite agenda"), "rack6": rack_scene(6),
             "white": Image.new("RGB", (400, 300), (250, 250, 250))}[other]
    hit = known.best(image)
    assert hit is None or hit.distance > 40, hit


def test_flat_known_image_is_skipped(known: KnownImages) -> None:
    assert [p.name for p in known.skipped] == ["blank.png"]
    assert not informative(to_gray(Image.new("RGB", (64, 64), (10, 10, 10))))


def test_hash_is_256_bits_and_deterministic() -> None:
    gray = to_gray(rack_scene(1))
    a, b = phash_gray(gray), phash_gray(gray.copy())
    assert a.dtype.name == "uint8" and a.shape == (32,) and (a == b).all()
