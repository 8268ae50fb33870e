"""Actions write files; detectors and the policy never do. `fix` makes safe copies (safecopy.py).

A fixer makes the safe copy of one family of items (images.py: pictures; package.py: ZIP-based
documents and archives, whose pictures go back through the registry; pdf.py: PDF page images,
Info and XMP). Adding one = one module + one
line in FIXERS.
"""

from __future__ import annotations

from .base import Change, Context, Fixed, Fixer, FixOptions, Unfixable
from .image import ImageFixer
from .package import PackageFixer
from .pdf import PdfFixer

FIXERS: tuple[Fixer, ...] = (ImageFixer(), PackageFixer(), PdfFixer())

__all__ = ["FIXERS", "Change", "Context", "FixOptions", "Fixed", "Fixer", "Unfixable"]
