"""Markup as a person reads it: the visible text of HTML, SVG or XML, with comments and alt/title/value texts.

An e-mail's HTML body, and a standalone .html, .svg or .xml file, are read by the text rules through this: an entity
(`4111&nbsp;1111...`, `&#160;`) or a tag between a card number's groups (`<span>4111</span> <span>1111</span>`)
must not hide what the page shows.
"""

from __future__ import annotations

import contextlib
import re
from html.parser import HTMLParser

_MARKUP_START = re.compile(r"\A\ufeff?\s*<(?:[!?]|[A-Za-z])")
SHOWN_VALUES = frozenset({"alt", "title", "value", "placeholder"})  # attributes a reader sees (a tooltip, a field)
# values a page keeps out of sight that a reader can still get at: link targets, <meta content>, labels, data-*
UNSEEN_VALUES = frozenset({"href", "xlink:href", "content", "label", "summary", "abbr", "cite", "longdesc",
                           "aria-label", "aria-description"})


class _HtmlText(HTMLParser):
    """Visible text of an HTML body, plus comments and alt/title texts (a leak can hide there too)."""

    SKIP = frozenset({"script", "style", "head"})
    BREAKS = frozenset({"br", "p", "div", "tr", "li", "td", "th", "h1", "h2", "h3", "h4", "table", "text"})

    def __init__(self, unseen: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._unseen = unseen

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":  # a <head> never closed (its end tag is optional) ends where the body starts
            self._skip = 0
        if tag in self.SKIP:
            self._skip += 1
        if tag in self.BREAKS:
            self.parts.append("\n")
        self.parts.extend(f" {v} " for k, v in attrs if v and self._kept(k))

    def _kept(self, name: str) -> bool:
        if name in SHOWN_VALUES:
            return True
        return self._unseen and (name in UNSEEN_VALUES or name.startswith("data-"))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)

    def handle_comment(self, data: str) -> None:
        self.parts.append(f"\n{data}\n")


def html_to_text(html: str, *, unseen: bool = False) -> str:
    """The text a browser shows, with comments and alt/title/value/placeholder texts; `unseen`: also the values
    kept out of sight (UNSEEN_VALUES, data-*), entities decoded (a standalone page or a book's page, whose markup
    is also read as written; an e-mail body is read through this alone)."""
    parser = _HtmlText(unseen)
    with contextlib.suppress(ValueError, AssertionError, IndexError, RecursionError):  # lenient: keep what was read
        parser.feed(html)
        parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def looks_like_markup(text: str) -> bool:
    """Text that starts with a tag, a doctype, a comment or an XML declaration: HTML, SVG, XML."""
    return _MARKUP_START.match(text[:4096]) is not None
