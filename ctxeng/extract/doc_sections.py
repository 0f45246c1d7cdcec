"""Split Markdown, reStructuredText, AsciiDoc and plain text into sections by heading (pure, linear time).

Every splitter is one forward pass over the lines with a little state (an open fence or block, a
skipped directive), so deeply nested lists or quotes and megabyte-long lines cost linear time and
no recursion. Bodies are cleaned on the way: see `markdown` for Markdown; RST loses comments and
presentational or autodoc directives, AsciiDoc its comments and attribute entries.

Why hand-written rather than markdown-it-py (installed with rich) or docutils: only headings,
fences, comments and directives matter here, and the libraries cost far more for that
(`python bench/bench_docs.py --compare DIR...`, CPU-s best of 3, parsing alone before any
sectioning, on a shared machine): the Markdown of gin, express, requests and sqlalchemy (0.38 MB)
splits at ~10 MB/s here against ~1.2 MB/s for markdown-it-py's parse (x8); sqlalchemy's 5.5 MB
of RST at ~26 MB/s against ~0.9 MB/s for docutils 0.23 (x28, and it is not a dependency). Importing
markdown-it-py adds ~50 ms to a hook's `refresh`, which re-splits changed documents; docutils
reports Sphinx-only roles and directives as errors. tests/test_doc_splitters_fuzz.py holds the
splitters to what a parser would guarantee: no crash on any input, linear time on adversarial
input, sections covering the text in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ctxeng.extract.markdown_headings import MAX_TITLE_CHARS, clean_title, split_markdown

FORMATS = ("markdown", "rst", "asciidoc", "text")


@dataclass(frozen=True, slots=True)
class Section:
    """The text under one heading, up to the next heading of any level.

    `titles` is the heading path from the top; text before the first heading is level 0, with no
    titles unless Markdown front matter names the page (its title then heads every path);
    `start_line`/`end_line` (1-based) span the heading and the last kept body line; `body` holds
    the kept lines as (source line, text): trimmed, runs of blank lines collapsed to one.
    """

    titles: tuple[str, ...]
    level: int
    start_line: int
    end_line: int
    body: tuple[tuple[int, str], ...]

    @property
    def title(self) -> str:
        """The heading text alone ("" before the first heading)."""
        return self.titles[-1] if self.titles else ""

    @property
    def text(self) -> str:
        """The body as one string."""
        return "\n".join(text for _, text in self.body)


def split_sections(text: str, fmt: str) -> list[Section]:
    """Split a document in format `fmt` (one of FORMATS) into its sections, in document order.

    Sections with an empty body are included (the caller decides what to keep); text before the
    first heading is a level-0 section with no titles, present only when it has a body.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    builder = _Builder()
    if fmt == "markdown":
        split_markdown(lines, builder)
    elif fmt == "rst":
        _adorned(lines, builder, rst=True)
    elif fmt == "asciidoc":
        _asciidoc(lines, builder)
    elif fmt == "text":
        _adorned(lines, builder, rst=False)
    else:
        raise ValueError(f"unknown document format {fmt!r}")
    return builder.finish()


class _Builder:
    """Collects body lines and cuts a new section at every heading, tracking the heading path."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.stack: list[tuple[int, str]] = []
        self.level = 0
        self.start = 1
        self.body: list[tuple[int, str]] = []

    def line(self, number: int, text: str) -> None:
        self.body.append((number, text))

    def heading(self, level: int, title: str, number: int) -> None:
        self._flush()
        if len(self.stack) == 1 and self.stack[0][0] == 0 and self.stack[0][1].casefold() == title.casefold():
            self.stack.pop()  # an H1 repeating the front matter's title is that title, not a child of it
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, title))
        self.level, self.start, self.body = level, number, []

    def heading_from_tail(self, count: int, level: int) -> None:
        """Turn the last `count` body lines (a paragraph) into a heading (Markdown setext)."""
        tail = self.body[-count:]
        del self.body[-count:]
        self.heading(level, clean_title(" ".join(t.strip() for _, t in tail)), tail[0][0])

    def finish(self) -> list[Section]:
        self._flush()
        return self.sections

    def _flush(self) -> None:
        body = _tidy(self.body)
        if self.level == 0 and not body:  # text before the first heading: only when there is some
            return
        titles = tuple(title for _, title in self.stack)
        start = self.start if titles else body[0][0]  # text before any heading starts where its text does
        end = body[-1][0] if body else start
        self.sections.append(Section(titles, self.level, start, max(end, start), tuple(body)))


def _tidy(body: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Strip trailing spaces, collapse blank runs to one blank line, trim blank ends."""
    out: list[tuple[int, str]] = []
    for number, text in body:
        text = text.rstrip()
        if text or (out and out[-1][1]):
            out.append((number, text))
    while out and not out[-1][1]:
        out.pop()
    return out


# --- reStructuredText and plain text --------------------------------------------------------------

_RST_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_TEXT_PUNCT = frozenset("=-~*#")
_EXPLICIT = re.compile(r"([ \t]*)\.\.(?:[ \t]+(.*))?$")
_DIRECTIVE = re.compile(r"(?:\|[^|]+\|[ \t]+)?([\w:.-]+)::(?:[ \t]|$)")
#: Directives that add nothing a reader needs: presentation, navigation, autodoc, raw markup.
DROP_DIRECTIVES = frozenset({
    "image", "figure", "raw", "toctree", "contents", "include", "literalinclude", "meta", "highlight",
    "index", "sectionauthor", "moduleauthor", "tabularcolumns", "currentmodule", "module", "py:module",
    "py:currentmodule", "autosummary", "only", "title", "default-role", "role", "sectnum", "header", "footer",
})  # fmt: skip
_SUBSTITUTIONS_LINE = re.compile(r"(?:[ \t]*\|[^|\s][^|]*\|_{0,2})+[ \t]*")


def _drop_explicit(content: str) -> bool:
    """Whether an RST explicit markup block (`.. <content>`) is dropped: comments, targets, dull directives."""
    directive = _DIRECTIVE.match(content)
    if directive:
        name = directive.group(1).lower()
        return name in DROP_DIRECTIVES or name.split(":")[-1].startswith("auto") or content.startswith("|")
    if content.startswith("["):
        return False  # footnotes and citations carry text
    return True  # hyperlink targets (".. _name:") and comments


def _adornment(line: str, chars: frozenset[str]) -> str:
    """The line if it is an adornment (one punctuation character repeated, from column 0), else ""."""
    text = line.rstrip()
    if len(text) < 2 or text[0] not in chars or text != text[0] * len(text):
        return ""
    return text


def _adorned_title(
    lines: list[str], index: int, chars: frozenset[str]
) -> tuple[tuple[str, bool], str, int] | None:
    """A title at `index` as ((character, overlined), text, lines used), else None (docutils' rules)."""
    line = lines[index]
    over = _adornment(line, chars)
    if over:
        if index + 2 >= len(lines):
            return None
        title = lines[index + 1].strip()
        fits = len(title) <= min(len(over), MAX_TITLE_CHARS)
        if title and fits and lines[index + 2].rstrip() == over:
            return (over[0], True), title, 3
        return None
    if index + 1 >= len(lines) or line[:1] in (" ", "\t") or len(line) > MAX_TITLE_CHARS:
        return None
    under = _adornment(lines[index + 1], chars)
    title = line.strip()
    # docutils: an underline shorter than the title still counts unless it is under 4 characters
    if under and (len(under) >= len(title) or len(under) >= 4):
        return (under[0], False), title, 2
    return None


def _adorned(lines: list[str], b: _Builder, rst: bool) -> None:
    """RST (rst=True) or plain text with RST-style underlined titles (no directives, fewer characters)."""
    chars = _RST_PUNCT if rst else _TEXT_PUNCT
    styles: dict[tuple[str, bool], int] = {}  # level by order of first appearance, as in docutils
    skip_indent = -1  # indentation of a dropped explicit markup block, -1 when none
    can_title = True  # titles start a paragraph: after a blank line, another title, or the start
    index = 0
    while index < len(lines):
        raw, number = lines[index], index + 1
        blank = not raw.strip()
        indent = len(raw) - len(raw.lstrip())
        if skip_indent >= 0:
            if blank or indent > skip_indent:
                index, can_title = index + 1, blank
                continue
            skip_indent = -1
        if blank:
            b.line(number, "")
            index, can_title = index + 1, True
            continue
        if rst:
            explicit = _EXPLICIT.match(raw)
            if explicit and _drop_explicit((explicit.group(2) or "").strip()):
                skip_indent, index, can_title = indent, index + 1, False
                continue
            if _SUBSTITUTIONS_LINE.fullmatch(raw):  # a line of |badge| references
                index += 1
                continue
        found = _adorned_title(lines, index, chars) if can_title else None
        if found:
            style, title, used = found
            b.heading(styles.setdefault(style, len(styles) + 1), title, number)
            index, can_title = index + used, True
            continue
        b.line(number, raw)
        index, can_title = index + 1, False


# --- AsciiDoc -------------------------------------------------------------------------------------

_ADOC_TITLE = re.compile(r"(={1,6})[ \t]+(\S.*)$")
_ADOC_DELIMITER = re.compile(r"(-{4,}|\.{4,}|\+{4,}|/{4,}|={4,}|\*{4,}|_{4,}|`{3})$")
_ADOC_UNDERLINES = {"=": 1, "-": 2, "~": 3, "^": 4, "+": 5}
_ADOC_DROP = re.compile(
    r"(?::[\w!-]+:(?:[ \t].*)?|\[\[?[^\]\n]*\]\]?|(?:image|ifdef|ifndef|endif|ifeval|toc)::.*)$"
)


def _asciidoc(lines: list[str], b: _Builder) -> None:
    delimiter = ""  # the open delimited block's fence (listing, literal, comment, example, ...)
    can_title = True
    index = 0
    while index < len(lines):
        raw, number = lines[index], index + 1
        text = raw.rstrip()
        if delimiter:
            if delimiter[0] != "/":  # comment blocks are dropped whole
                b.line(number, raw)
            if text == delimiter:
                delimiter = ""
            index += 1
            continue
        if not text:
            b.line(number, "")
            index, can_title = index + 1, True
            continue
        if text.startswith("//") and not text.startswith("////"):
            index += 1
            continue
        one_line = _ADOC_TITLE.match(text) if len(text) <= MAX_TITLE_CHARS else None
        if one_line:
            title = re.sub(r"[ \t]+=+$", "", one_line.group(2)).strip()
            b.heading(len(one_line.group(1)), clean_title(title), number)
            index, can_title = index + 1, True
            continue
        two_line = _adoc_underlined(lines, index) if can_title else 0
        if two_line:
            b.heading(two_line, text.strip(), number)
            index, can_title = index + 2, True
            continue
        if _ADOC_DELIMITER.match(text):
            delimiter = text
            if text[0] == "/":  # comments are transparent: they neither add text nor end a paragraph
                index += 1
                continue
            b.line(number, raw)
        elif not _ADOC_DROP.match(text):
            b.line(number, raw)
        index, can_title = index + 1, False


def _adoc_underlined(lines: list[str], index: int) -> int:
    """The level of a two-line AsciiDoc title at `index` (underline within 2 characters of it), else 0."""
    title = lines[index].rstrip()
    if index + 1 >= len(lines) or len(title) < 2 or len(title) > MAX_TITLE_CHARS or not title[0].isalnum():
        return 0
    under = lines[index + 1].rstrip()
    if len(under) < 2 or under[0] not in _ADOC_UNDERLINES or under != under[0] * len(under):
        return 0
    return _ADOC_UNDERLINES[under[0]] if abs(len(under) - len(title)) <= 2 else 0
