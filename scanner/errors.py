"""The scanner's exception tree; third-party errors are mapped to it at the boundary.

    ScannerError
     +-- ConfigError            bad policy file, flag or environment value (exit code 2)
     +-- ItemError              one item cannot be fully analysed -> recorded, verdict `review`
     |    +-- Unreadable        the file could not be opened or read
     |    +-- UnsupportedItem   type not recognised or not handled
     |    +-- CorruptItem       truncated, malformed, undecodable
     |    +-- ItemTooLarge      over a byte, pixel or metadata cap
     |    +-- ItemTimeout       analysis ran past the per-file time limit
     +-- EngineError            a heavy back end failed while running
          +-- EngineUnavailable the back end is not installed or its weights are missing

Every ItemError and EngineError becomes an `ErrorRecord` in the report and the policy turns
it into `review` (fail closed); nothing here is ever swallowed into an `approve`.
"""

from __future__ import annotations


class ScannerError(Exception):
    """Base of all errors raised by the scanner."""

    code = "scanner_error"


class ConfigError(ScannerError):
    code = "config_error"


class ItemError(ScannerError):
    code = "item_error"


class Unreadable(ItemError):
    code = "unreadable"


class UnsupportedItem(ItemError):
    code = "unsupported"


class CorruptItem(ItemError):
    code = "corrupt"


class ItemTooLarge(ItemError):
    code = "too_large"


class ItemTimeout(ItemError):
    code = "timeout"


class EngineError(ScannerError):
    code = "engine_error"


class EngineUnavailable(EngineError):
    code = "engine_unavailable"
