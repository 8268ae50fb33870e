"""leakscan: checks an image or attachment before it is shared and answers approve, review or block."""

from __future__ import annotations

__version__ = "0.1.0"
