"""A multipart upload streamed to a private temp file: the size is counted as it arrives, the sha256 on the way.

Nothing is held in memory beyond one network chunk: the `file` part goes straight to a file created
under a generated name (the upload's own name is only a label), small text fields are capped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ..sources import display_path

if TYPE_CHECKING:  # a typing-only name in python-multipart
    from python_multipart.multipart import MultipartCallbacks

MULTIPART_OVERHEAD = 64 * 1024  # boundaries, part headers and small fields on top of the file itself
MAX_FIELD_CHARS = 2048  # callback_url and any other text field
MAX_LABEL_CHARS = 255
MAX_NAME_CHARS = 4096  # what the text rules read of a file name: a card number after 240 letters is still found
FILE_FIELD = "file"
TEXT_FIELDS = frozenset({"callback_url"})
_FILENAME_STAR = re.compile(rb"(?:^|;)\s*filename\*\s*=\s*([^;]*)", re.IGNORECASE)


class UploadError(Exception):
    """The request cannot be scanned: `status` 400 (bad multipart) or 413 (too large)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Upload:
    """The file part on disk (`path`, under a generated name), its label, size, sha256 and the text fields."""

    path: str
    label: str = "upload"  # the name shown (cut to MAX_LABEL_CHARS); the rules read `name`, the whole of it
    size: int = 0
    sha256: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    name: str = ""  # the file name as sent (escaped, at most MAX_NAME_CHARS); "" = the label
    also: str = ""  # a second name sent for it (`filename=` beside a different `filename*=`): read by the rules too

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def _bare(filename: str) -> str:
    return display_path(os.path.basename(filename))[:MAX_NAME_CHARS]


def _extended_filename(disposition: bytes) -> str | None:
    """`filename*=UTF-8''4532%200151...` (RFC 5987/7578), which python-multipart drops: decoded, or None if absent."""
    m = _FILENAME_STAR.search(disposition)
    if m is None:
        return None
    charset, _, rest = m.group(1).decode("latin-1").strip().strip('"').partition("'")
    encoded = rest.partition("'")[2] if "'" in rest else rest
    try:
        return unquote(encoded, encoding=charset or "utf-8", errors="replace")
    except LookupError:  # an unknown charset: read as UTF-8
        return unquote(encoded, errors="replace")


def check_length(content_length: str | None, limit: int) -> None:
    """413 before reading when Content-Length already says the body is over the limit."""
    if content_length is None:
        return
    try:
        length = int(content_length)
    except ValueError:
        raise UploadError(400, "bad Content-Length") from None
    if length > limit + MULTIPART_OVERHEAD:
        raise UploadError(413, f"upload over the {limit / 1e6:.1f} MB limit")


def boundary_of(content_type: str | None) -> bytes:
    kind, params = parse_options_header(content_type or "")
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise UploadError(400, "expected multipart/form-data with a boundary")
    return params[b"boundary"]


async def receive_upload(chunks: AsyncIterator[bytes], content_type: str | None, limit: int, folder: str) -> Upload:
    """Stream the body into a new 0600 file in `folder`; UploadError on bad multipart or over `limit` bytes."""
    path = os.path.join(folder, secrets.token_hex(16))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    sink = _Sink(Upload(path), limit)
    try:
        with os.fdopen(fd, "wb") as fh:
            parser = MultipartParser(boundary_of(content_type), sink.callbacks())
            received = 0
            async for chunk in chunks:
                received += len(chunk)
                if received > limit + MULTIPART_OVERHEAD:
                    raise UploadError(413, f"upload over the {limit / 1e6:.1f} MB limit")
                parser.write(chunk)
                pending, sink.pending = sink.pending, []
                if pending:  # the disk write off the event loop
                    await anyio.to_thread.run_sync(fh.writelines, pending)
        return sink.finish()
    except MultipartParseError:
        sink.upload.remove()
        raise UploadError(400, "malformed multipart body") from None
    except BaseException:
        sink.upload.remove()
        raise


class _Sink:
    """python-multipart callbacks: route each part's bytes to the file, a capped text field, or nowhere."""

    def __init__(self, upload: Upload, limit: int) -> None:
        self.upload, self.limit = upload, limit
        self.pending: list[bytes] = []
        self.digest = hashlib.sha256()
        self.files = 0
        self.ended = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._target: str | None = None
        self._text = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {"on_part_begin": self._part_begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value_cb, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
                "on_part_end": self._part_end, "on_end": self._end}

    def _part_begin(self) -> None:
        self._disposition, self._target, self._text = b"", None, bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._disposition)
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if name == FILE_FIELD:
            self.files += 1
            if self.files > 1:
                raise UploadError(400, "more than one `file` part")
            plain = params.get(b"filename", b"").decode("utf-8", "replace")
            extended = _extended_filename(self._disposition)  # RFC 6266: preferred where a client sends both
            filename = extended if extended is not None else plain
            self.upload.name = _bare(filename)
            self.upload.label = self.upload.name[:MAX_LABEL_CHARS] or "upload"
            if extended is not None and plain and _bare(plain) != self.upload.name:
                self.upload.also = _bare(plain)  # the other name a client may show: the rules read it too
        self._target = name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        piece = data[start:end]
        if self._target == FILE_FIELD:
            self.upload.size += len(piece)
            if self.upload.size > self.limit:
                raise UploadError(413, f"upload over the {self.limit / 1e6:.1f} MB limit")
            self.digest.update(piece)
            self.pending.append(piece)
        elif self._target in TEXT_FIELDS:
            self._text += piece
            if len(self._text) > MAX_FIELD_CHARS:
                raise UploadError(400, f"form field over {MAX_FIELD_CHARS} bytes")

    def _part_end(self) -> None:
        if self._target in TEXT_FIELDS:
            self.upload.fields[self._target or ""] = self._text.decode("utf-8", "replace")
        self._target = None

    def _end(self) -> None:
        self.ended = True

    def finish(self) -> Upload:
        if not self.ended:
            raise UploadError(400, "incomplete multipart body")
        if not self.files:
            raise UploadError(400, f"no `{FILE_FIELD}` part in the form")
        self.upload.sha256 = self.digest.hexdigest()
        return self.upload
