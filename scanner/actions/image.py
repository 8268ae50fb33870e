"""Safe copy of one picture: orientation applied, text filled, faces hidden, re-encoded without metadata.

Only the first picture is kept (MPO frames, gain maps, thumbnails, further pages or animation frames
are dropped), every metadata block and any byte after the image data go (nothing is copied over:
the pixels are encoded afresh), and the ICC colour profile is kept. JPEG, PNG, WebP, GIF and TIFF
keep their format; HEIC/HEIF/AVIF become JPEG (or PNG, `[fix] heic`); anything else becomes PNG.
"""

from __future__ import annotations

import io
import warnings
from typing import TYPE_CHECKING, Any

from ..errors import ItemError
from ..media import open_image, orientation
from .base import JPEG_KEEP, Change, Context, Fixed, FixOptions, Unfixable
from .redact import redact

if TYPE_CHECKING:
    from PIL import Image

IMAGE_KINDS = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/tiff", "image/heic",
                         "image/heif", "image/avif"})
KEEP = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "GIF": "GIF", "TIFF": "TIFF"}
EXT = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "TIFF": "tif"}
MODES = {"JPEG": ("L", "RGB", "CMYK"), "PNG": ("L", "LA", "RGB", "RGBA"), "WEBP": ("RGB", "RGBA"),
         "GIF": ("L", "RGB", "RGBA"), "TIFF": ("L", "LA", "RGB", "RGBA", "CMYK")}
PALETTE_FORMATS = ("PNG", "GIF")
PALETTE_SIZE = 256
DEFAULT_JPEG_QUALITY = 92
WEBP_QUALITY = 90
CONVERTED_FORMATS = ("HEIF", "AVIF")
_PIL_ERRORS = (OSError, ValueError, SyntaxError, EOFError, RuntimeError, MemoryError)


def output_format(source: str | None, options: FixOptions, keep_format: bool) -> str:
    """The format the copy is written in; Unfixable when the source's must be kept but cannot be written."""
    if source in KEEP:
        return KEEP[source]
    if keep_format:  # inside a document the member's name and content type fix its format
        raise Unfixable(f"a {source} picture inside a document cannot be rewritten in its own format")
    if source in CONVERTED_FORMATS:
        return "PNG" if options.heic == "png" else "JPEG"
    return "PNG"


def _target_mode(image: Image.Image, fmt: str) -> str:
    if image.mode in MODES[fmt]:
        return image.mode
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    return "RGBA" if has_alpha and "RGBA" in MODES[fmt] else "RGB"


def _in_srgb(pixels: Image.Image, icc: bytes | None) -> tuple[Image.Image, str]:
    """The pixels converted from their ICC colour profile to sRGB, and what the change note adds.

    The profile itself is not copied: its text tags are free text (a name, an e-mail address, a card number) and
    it can carry a whole file, and a copy without one is read as sRGB. A profile that cannot be read or used on
    these pixels is dropped as it is (the colours may shift a little)."""
    if not icc:
        return pixels, ""
    from PIL import ImageCms

    if pixels.mode not in ("RGB", "RGBA"):
        return pixels, " (ICC profile not copied)"
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(pixels, source, ImageCms.createProfile("sRGB"), outputMode=pixels.mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return pixels, " (ICC profile not copied: unreadable, colours may shift)"
    if converted is None:
        return pixels, " (ICC profile not copied)"
    converted.info = {}  # the conversion attaches its own sRGB profile: not written either
    return converted, " (colours converted to sRGB; ICC profile not copied)"


def _save_args(fmt: str, source: Image.Image, options: FixOptions) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if fmt == "JPEG":
        keep_tables = options.jpeg_quality == JPEG_KEEP and source.format in ("JPEG", "MPO")
        tables = getattr(source, "quantization", None)
        if keep_tables and tables:
            from PIL import JpegImagePlugin

            args["qtables"] = tables  # the original's quality: no second loss on top of the first
            sampling = JpegImagePlugin.get_sampling(source)
            if sampling >= 0:
                args["subsampling"] = sampling
        else:
            q = options.jpeg_quality
            args["quality"] = q if isinstance(q, int) else DEFAULT_JPEG_QUALITY
    elif fmt == "PNG":
        args["optimize"] = True  # the copy should not grow much over an optimised original
    elif fmt == "WEBP":
        args["quality"] = WEBP_QUALITY
    elif fmt == "TIFF":
        args["compression"] = "tiff_lzw"
    return args


def _palette(image: Image.Image, args: dict[str, Any]) -> tuple[Image.Image, dict[str, Any]]:
    """The edited picture back as an exact palette image when it has at most 256 colours (else as it is)."""
    import numpy as np
    from PIL import Image

    if image.getcolors(PALETTE_SIZE) is None:
        return image, args
    arr = np.asarray(image)
    bands = arr.shape[2] if arr.ndim == 3 else 1
    pixels = arr.reshape(-1, bands)
    keys = np.zeros(len(pixels), dtype=np.uint32)  # each colour as one number, first band highest: sorts as rows do
    for b in range(bands):
        keys = (keys << np.uint32(8)) | pixels[:, b].astype(np.uint32)
    table = np.unique(keys)  # at most 256 colours: np.unique(axis=0) sorted every pixel row (0.85 s a megapixel)
    index = np.searchsorted(table, keys)
    colours = np.stack([(table >> np.uint32(8 * (bands - 1 - b))) & np.uint32(0xFF) for b in range(bands)], axis=1)
    out = Image.fromarray(index.reshape(arr.shape[:2]).astype(np.uint8), "P")
    rgb = colours[:, :3] if bands >= 3 else np.repeat(colours[:, :1], 3, axis=1)
    out.putpalette(rgb.astype(np.uint8).tobytes())
    if bands in (2, 4):  # alpha per palette entry (tRNS)
        return out, {**args, "transparency": colours[:, -1].astype(np.uint8).tobytes()}
    return out, args


class ImageFixer:
    """Pictures of every format the scanner decodes."""

    id = "image"

    def accepts(self, kind: str) -> bool:
        return kind in IMAGE_KINDS

    def fix(self, data: bytes, kind: str, location: str, ctx: Context, keep_format: bool) -> Fixed:
        from PIL import Image

        try:
            source = open_image(data, ctx.max_pixels)
            fmt = output_format(source.format, ctx.options, keep_format)
            frames = getattr(source, "n_frames", 1)
            icc = source.info.get("icc_profile") or None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                source.load()
                turn = orientation(source)  # the EXIF block is not written out again (a damaged one raised)
                oriented = source.transpose(turn) if turn is not None else source.copy()
            mode = _target_mode(oriented, fmt)
            pixels = oriented.convert(mode) if oriented.mode != mode else oriented
            pixels.info = {}  # nothing of the original's metadata may ride along into the encoder
            pixels, colours = _in_srgb(pixels, icc)
            report = ctx.report(location)
            changes = redact(pixels, report.findings if report else (), ctx.options, location)
            args = _save_args(fmt, source, ctx.options)
            if oriented.mode == "P" and fmt in PALETTE_FORMATS:  # a palette picture stays one (size)
                pixels, args = _palette(pixels, args)
            out = io.BytesIO()
            pixels.save(out, fmt, **args)
        except ItemError as exc:
            raise Unfixable(f"picture cannot be rewritten: {exc}") from None
        except _PIL_ERRORS as exc:
            raise Unfixable(f"picture cannot be rewritten ({type(exc).__name__})") from None
        changes.extend(_metadata_changes(ctx, location))
        changes.append(Change("re-encoded", "", location, None,
                              f"{source.format} -> {fmt} without metadata or trailing bytes" + colours))
        if frames > 1:
            changes.append(Change("dropped", "", location, None, f"{frames - 1} further picture(s) or frame(s)"))
        return Fixed(out.getvalue(), EXT[fmt], changes)


def _metadata_changes(ctx: Context, location: str) -> list[Change]:
    report = ctx.report(location)
    rules = sorted({f.rule_id for f in report.findings if f.rule_id.startswith("metadata.")}) if report else []
    return [Change("removed", rule, location, None, "metadata not copied") for rule in rules]
