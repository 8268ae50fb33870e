"""An RTF document's bytes -> its visible text, its \\info fields, its pictures and its embedded objects' data.

One pass over the tokens with an explicit stack of groups (no recursion: a file of a million `{` cannot blow the
stack; groups nested past MAX_GROUPS are read as if flat). Each group has a destination: the body (text read),
a table whose text is not shown (fonts, colours, styles: dropped; pictures and objects inside are still collected),
a group a reader skips (unknown `\\*` destinations such as document variables, shape property values: its text is
kept apart, as `unshown`), an \\info field, a picture's or an object's hex data. Hidden text (`\\v`) and deleted
revisions are read as body text: a leak can hide there. `\\'hh` bytes decode with the document's ANSI code page
(`\\ansicpgN`), `\\uN` as Unicode, skipping its `\\ucN` fallback characters.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

MAX_GROUPS = 10_000  # nesting deeper than this is read flat (and said: the file is reviewed)
MAX_WORD = 32  # a control word is at most 32 letters (the specification)
BODY, SKIP, PICT, OBJDATA, OBJECT = "body", "skip", "pict", "objdata", "object"
UNSHOWN = "unshown"  # text a reader does not show but the file carries (unknown `\*` groups, shape properties)
# destinations whose text is not shown: tables, styles, themes, revision and list tables, stored XML
SKIPPED = frozenset({"fonttbl", "colortbl", "stylesheet", "listtable", "listoverridetable", "revtbl", "rsidtbl",
                     "filetbl", "pgdsctbl", "xmlnstbl", "themedata", "colorschememapping", "latentstyles",
                     "datastore", "generator", "objname", "info", "mmathPr", "fontemb", "fontfile",
                     "falt", "panose", "sn", "atnid", "bkmkstart", "bkmkend", "userprops", "nonshppict"})
# `\*` groups of binary data, generated ids and tables: not even unshown text
NOISE = frozenset({"themedata", "colorschememapping", "datastore", "xmlnstbl", "rsidtbl", "latentstyles", "generator",
                   "panose", "blipuid", "fontemb", "fontfile", "mmathPr", "pgdsctbl", "wgrffmtfilter", "passwordhash",
                   "defchp", "defpap", "listpicture", "pnseclvl", "bkmkstart", "bkmkend", "nesttableprops"})
# \info fields: identity, text and time
INFO_FIELDS = {"author": ("identity", "Author"), "operator": ("identity", "Operator"),
               "company": ("identity", "Company"), "manager": ("identity", "Manager"),
               "atnauthor": ("identity", "CommentAuthor"), "title": ("text", "Title"),
               "subject": ("text", "Subject"), "keywords": ("text", "Keywords"), "doccomm": ("text", "Comments"),
               "comment": ("text", "Comment"), "category": ("text", "Category"),
               "hlinkbase": ("other", "HyperlinkBase"), "propname": ("", ""), "staticval": ("text", "")}
INFO_TIMES = {"creatim": "Created", "revtim": "Revised", "printim": "Printed", "buptim": "BackedUp"}
TIME_PARTS = ("yr", "mo", "dy", "hr", "min", "sec")
# `\*` destinations whose content is read (the rest are skipped as a reader skips them)
STARRED = frozenset({"objclass", "fldinst", "annotation", "shppict", "shpinst", "shptxt", "objdata", "company",
                     "manager", "atnauthor", "userprops"})
# destinations with text of their own, read as the body is (a line break around each, so words do not run together)
BLOCKS = frozenset({"result", "fldinst", "annotation", "shptxt", "footnote", "header", "headerl", "headerr", "headerf",
                    "footer", "footerl", "footerr", "footerf"})
BREAKS = {"par": "\n", "line": "\n", "sect": "\n", "page": "\n", "row": "\n", "tab": "\t", "cell": "\t",
          "emdash": "\u2014", "endash": "\u2013", "bullet": "\u2022", "lquote": "\u2018", "rquote": "\u2019",
          "ldblquote": "\u201c", "rdblquote": "\u201d", "emspace": " ", "enspace": " ", "qmspace": " "}
CHARSETS = {"mac": "mac_roman", "pc": "cp437", "pca": "cp850"}
SYMBOLS = {"~": "\u00a0", "_": "-", "\\": "\\", "{": "{", "}": "}", "\n": "\n", "\r": "\n", "\t": "\t"}
_TOKEN = re.compile(rb"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])|[\r\n]+|([^\\{}\r\n]+)",
                    re.DOTALL)


@dataclass(slots=True)
class Frame:
    dest: str = BODY
    uc: int = 1
    index: int = -1  # the picture or object this group fills
    info: str = ""  # the \info field or time this group fills
    parts: dict[str, int] | None = None  # a time's \yr \mo \dy...
    star: bool = False  # the group began with `\*`
    fresh: bool = True  # no control word yet: a `\*` may still make it a destination
    block: bool = False  # a text of its own (a field instruction, a comment, a footnote): a line break after it


@dataclass(slots=True)
class Rtf:
    """What one RTF file holds."""

    text: list[str] = field(default_factory=list)
    fields: list[tuple[str, str, str]] = field(default_factory=list)
    pictures: list[bytearray] = field(default_factory=list)
    objects: list[tuple[str, bytearray]] = field(default_factory=list)  # (class name, hex data)
    problems: list[str] = field(default_factory=list)
    unshown: list[str] = field(default_factory=list)  # text of groups a reader skips: still in the file


class _Parser:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.out = Rtf()
        self.stack = [Frame()]
        self.flat = 0  # groups past MAX_GROUPS, read as part of their parent
        self.codec = "cp1252"
        self.skip = 0  # fallback characters of a \u still to skip
        self.pending = bytearray()  # \'hh bytes not decoded yet (a multi-byte character)
        self.buffers: dict[int, list[str]] = {}  # id(frame) -> text of an \info field
        self.propname = ""

    @property
    def top(self) -> Frame:
        return self.stack[-1]

    def run(self) -> Rtf:
        pos, data = 0, self.data
        while pos < len(data):
            m = _TOKEN.match(data, pos)
            if m is None:  # a lone backslash at the end
                break
            pos = m.end()
            word, hexbyte, symbol, brace, run = m.group(1, 3, 4, 5, 6)
            if word is not None:
                pos = self.control(word.decode("ascii"), m.group(2), pos)
            elif hexbyte is not None:
                self.byte(int(hexbyte, 16))
            elif symbol is not None:
                self.symbol(symbol.decode("latin-1"))
            elif brace is not None:
                self.brace(brace)
            elif run is not None:
                self.chars(run)
        self.flush()
        if len(self.stack) > 1 or self.flat:
            self.out.problems.append(f"RTF ends inside {len(self.stack) - 1 + self.flat} open groups (truncated?)")
        return self.out

    # --- groups
    def brace(self, brace: bytes) -> None:
        self.flush()
        if brace == b"{":
            if len(self.stack) >= MAX_GROUPS:
                if not self.flat:
                    self.out.problems.append(f"RTF groups nested deeper than {MAX_GROUPS}: read as one group")
                self.flat += 1
                return
            top = self.top
            self.stack.append(Frame(SKIP if top.dest in (OBJECT, PICT) else top.dest, top.uc, top.index,
                                    "" if top.info in INFO_TIMES else top.info))
            if top.dest == UNSHOWN:
                self.out.unshown.append("\n")
            return
        if self.flat:
            self.flat -= 1
        elif len(self.stack) == 1:
            self.out.problems.append("RTF has a `}` that closes no group")
        else:
            frame = self.stack.pop()
            if frame.info:
                self.close(frame)
            elif frame.block:
                self.emit("\n")

    def close(self, frame: Frame) -> None:
        if frame.info in INFO_TIMES and frame.parts:
            p = frame.parts
            stamp = (f"{p.get('yr', 0):04d}-{p.get('mo', 0):02d}-{p.get('dy', 0):02d}T{p.get('hr', 0):02d}:"
                     f"{p.get('min', 0):02d}:{p.get('sec', 0):02d}")
            self.out.fields.append(("time", INFO_TIMES[frame.info], stamp))
            return
        text = "".join(self.buffers.pop(id(frame), []))
        if frame.info and frame.info == self.top.info:  # a group inside the field ({\author {\b Jan}}): its text
            self.buffers.setdefault(id(self.top), []).append(text)
            return
        text = text.strip()
        if frame.info not in INFO_FIELDS or not text:
            return
        if frame.info == "propname":
            self.propname = text
        elif frame.info == "staticval":
            self.out.fields.append(("text", self.propname or "custom property", text))
        else:
            category, name = INFO_FIELDS[frame.info]
            self.out.fields.append((category, name, text))

    # --- control words and symbols
    def control(self, word: str, param: bytes | None, pos: int) -> int:
        self.flush()
        top, n = self.top, int(param) if param is not None else None
        starred, top.star, fresh = top.star, False, top.fresh
        top.fresh = False
        if word == "bin":  # raw bytes follow: a picture's data, or skipped
            size = max(n or 0, 0)
            if top.dest in (PICT, OBJDATA):
                self.target(top).extend(self.data[pos : pos + size].hex().encode())
            return pos + size
        if fresh and self.destination(word, starred):
            return pos
        if top.info in INFO_TIMES and word in TIME_PARTS and n is not None:
            if top.parts is None:
                top.parts = {}
            top.parts[word] = n
        elif word == "ansicpg" and n is not None:
            self.codec = _codec(n, self.codec)
        elif word in CHARSETS:
            self.codec = CHARSETS[word]
        elif word == "uc" and n is not None:
            top.uc = max(n, 0)
        elif word == "u" and n is not None:
            self.emit(chr(n + 65536 if n < 0 else n) if -32768 <= n <= 65535 else "\ufffd")
            self.skip = top.uc
        elif word in BREAKS:
            self.emit(BREAKS[word])
        elif starred and fresh:
            top.dest = SKIP
        return pos

    def destination(self, word: str, starred: bool) -> bool:
        """Whether `word`, first in its group, makes the group a destination (then set up)."""
        top = self.top
        if starred and word not in STARRED:
            top.dest = SKIP if word in NOISE else UNSHOWN
            self.out.unshown.append("\n")
            return True
        if word == "pict":
            top.dest, top.index = PICT, len(self.out.pictures)
            self.out.pictures.append(bytearray())
        elif word == "object":
            top.dest, top.index = OBJECT, len(self.out.objects)
            self.out.objects.append(("", bytearray()))
        elif word in ("objdata", "objclass") and (len(self.stack) < 2 or self.stack[-2].dest != OBJECT):
            top.dest = SKIP  # outside an \object: nothing to fill
        elif word == "objdata":
            top.dest = OBJDATA
        elif word == "objclass":
            top.dest, top.info = SKIP, "objclass"
        elif word in BLOCKS:
            top.dest, top.info, top.block = BODY, "", True
            self.emit("\n")
        elif word in INFO_FIELDS or word in INFO_TIMES:
            top.dest, top.info = SKIP, word
        elif word in SKIPPED:
            top.dest = SKIP
        elif word == "sv":  # a shape's property value: its alternative text, a WordArt's text
            top.dest = UNSHOWN
            self.out.unshown.append("\n")
        else:
            return False
        return True

    def symbol(self, sym: str) -> None:
        if sym == "*":
            self.top.star = True
            return
        self.flush()
        if sym in SYMBOLS:
            self.emit(SYMBOLS[sym])

    # --- text
    def byte(self, value: int) -> None:
        if self.skip:
            self.skip -= 1
            return
        self.pending.append(value)

    def chars(self, run: bytes) -> None:
        self.flush()
        top = self.top
        if top.dest in (PICT, OBJDATA):
            self.target(top).extend(run)
            return
        if self.skip:
            cut = min(self.skip, len(run))
            self.skip -= cut
            run = run[cut:]
        if run:
            self.emit(run.decode(self.codec, "replace"))

    def target(self, top: Frame) -> bytearray:
        """The hex of the picture or object `top` fills."""
        return self.out.pictures[top.index] if top.dest == PICT else self.out.objects[top.index][1]

    def flush(self) -> None:
        if self.pending:
            text = bytes(self.pending).decode(self.codec, "replace")
            self.pending.clear()
            self.emit(text)

    def emit(self, text: str) -> None:
        top = self.top
        if top.info == "objclass":
            cls, hexdata = self.out.objects[top.index]
            self.out.objects[top.index] = (cls + text, hexdata)
        elif top.info:
            self.buffers.setdefault(id(top), []).append(text)
        elif top.dest == BODY:
            self.out.text.append(text)
        elif top.dest == UNSHOWN:
            self.out.unshown.append(text)


def _codec(page: int, current: str) -> str:
    name = f"cp{page}"
    try:
        codecs.lookup(name)
    except LookupError:
        return current
    return name


def read_rtf(data: bytes) -> Rtf:
    """Everything the parser collects from `data` (it never raises on malformed input: see `problems`)."""
    return _Parser(data).run()
