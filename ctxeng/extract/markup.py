"""Split Markdown, reStructuredText, AsciiDoc and plain text into sections by heading (pure, linear time).

Every splitter is one forward pass over the lines with a little state (an open fence, an HTML
comment, a skipped directive block), so deeply nested lists or quotes and megabyte-long lines cost
linear time and no recursion. Bodies are cleaned on the way: HTML comments, raw HTML blocks,
badge-only lines, front matter and link definitions (Markdown), comments and presentational or
autodoc directives (RST), comment lines and attribute entries (AsciiDoc) are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FORMATS = ("markdown", "rst", "asciidoc", "text")
MAX_TITLE_CHARS = 300  # a longer line is prose, never a heading (also keeps heading checks cheap)


@dataclass(frozen=True, slots=True)
class Section:
    """The text under one heading, up to the next heading of any level.

    `titles` is the heading path from the top (`()` for text before the first heading, level 0);
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
        _markdown(lines, builder)
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
        if not self.stack and not body:
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


# --- Markdown -------------------------------------------------------------------------------------

_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]|$)")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*$")
_BREAK = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")  # a thematic break: never part of a paragraph
_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})(.*)$")
_LIST_OR_QUOTE = re.compile(r"[ \t]*(?:[-*+][ \t]|\d{1,9}[.)][ \t]|>|\|)")
_LINK_DEF = re.compile(r" {0,3}\[[^\[\]\n]+\]:[ \t]+\S+")
_MDX_LINE = re.compile(r"(?:import\s.+\sfrom\s+['\"][^'\"]+['\"];?|export\s+(?:const|default|function)\b.*)$")
_MKDOCSTRINGS = re.compile(r":::[ \t]+[\w.]+[ \t]*$")  # mkdocstrings' autodoc line
_HTML_RAW = re.compile(r" {0,3}<(script|pre|style|textarea)(?:[\s>]|$)", re.IGNORECASE)
_HTML_BLOCK = re.compile(
    r" {0,3}</?(?:address|article|aside|base|basefont|blockquote|body|caption|center|col|colgroup|dd|details"
    r"|dialog|dir|div|dl|dt|fieldset|figcaption|figure|footer|form|frame|frameset|h[1-6]|head|header|hr|html"
    r"|iframe|legend|li|link|main|menu|menuitem|nav|noframes|ol|optgroup|option|p|param|picture|search"
    r"|section|summary|table|tbody|td|tfoot|th|thead|title|tr|track|ul)(?:[\s>]|/>|$)",
    re.IGNORECASE,
)
_HTML_TAG_LINE = re.compile(r" {0,3}(?:<[A-Za-z][\w-]*(?:\s[^<>]*)?/?>|</[A-Za-z][\w-]*\s*>)\s*$")
# Bracket and parenthesis runs stop at the next opener too, so no scan restarts over the same text
# (linear even on a line of a million "[" or "](").
_IMAGE = r"!\[[^\[\]\n]*\](?:\([^()\n]*\)|\[[^\[\]\n]*\])"
_LINKED_IMAGE = rf"\[{_IMAGE}\](?:\([^()\n]*\)|\[[^\[\]\n]*\])"
_IMAGES_LINE = re.compile(rf"(?:[ \t]*(?:{_LINKED_IMAGE}|{_IMAGE}|<img\b[^<>]*>))+[ \t]*")
_BADGE_HINT = re.compile(rf"{_LINKED_IMAGE}|badge|shields\.io", re.IGNORECASE)
_ANY_IMAGE = re.compile(rf"{_LINKED_IMAGE}|{_IMAGE}")
_LINK = re.compile(r"\[([^\[\]\n]*)\](?:\([^()\n]*\)|\[[^\[\]\n]*\])")
_TAG = re.compile(r"<[^<>\n]*>")
_ATTR_LIST = re.compile(r"\s*\{[#.][^{}]*\}$")  # "## Title {#anchor}" (Pandoc, MkDocs)


def clean_title(title: str) -> str:
    """A heading's text without images or badges, HTML tags, a trailing attribute list; links keep their text."""
    title = _LINK.sub(r"\1", _ANY_IMAGE.sub("", title))
    return " ".join(_ATTR_LIST.sub("", _TAG.sub("", title)).split())


def is_badge_line(line: str) -> bool:
    """A line holding only images of which at least one is linked or a badge (build/coverage badges)."""
    head = line.lstrip()[:2]
    if head not in ("[!", "![") and not head.startswith("<"):
        return False
    return _IMAGES_LINE.fullmatch(line) is not None and _BADGE_HINT.search(line) is not None


def _front_matter_end(lines: list[str]) -> int:
    """Index of the first line after YAML (---) or TOML (+++) front matter, else 0."""
    opener = lines[0].strip() if lines else ""
    if opener not in ("---", "+++") or len(lines) < 3:
        return 0
    first = lines[1].strip()
    if not re.match(r"[\w-]+\s*[:=]", first):  # a thematic break, not front matter
        return 0
    closers = ("---", "...") if opener == "---" else ("+++",)
    for index in range(1, len(lines)):
        if lines[index].strip() in closers:
            return index + 1
    return 0


def _strip_comments(line: str, in_comment: bool) -> tuple[str, bool]:
    """The line without HTML comment spans, and whether a comment is still open at its end."""
    if not in_comment and "<!--" not in line:
        return line, False
    out: list[str] = []
    pos = 0
    while True:
        if in_comment:
            end = line.find("-->", pos)
            if end < 0:
                return "".join(out), True
            pos, in_comment = end + 3, False
        start = line.find("<!--", pos)
        if start < 0:
            out.append(line[pos:])
            return "".join(out), False
        out.append(line[pos:start])
        pos, in_comment = start + 4, True


def _markdown(lines: list[str], b: _Builder) -> None:
    fence: tuple[str, int] | None = None  # (char, length) of the open code fence
    drop_fence = False  # the open fence is a MyST autodoc directive: drop it whole
    html_until: str | None = None  # "" = a blank line ends the raw HTML block, else that closing tag
    in_comment = False
    para = 0  # lines in the open paragraph (a setext underline turns them into a heading)
    para_ok = True  # the previous line allows a paragraph to start (blank, heading, start)
    skip_indented = False  # inside mkdocstrings options (indented lines after ":::")
    for index in range(_front_matter_end(lines), len(lines)):
        raw, number = lines[index], index + 1
        if fence:
            stripped = raw.strip()
            if stripped and set(stripped) == {fence[0]} and len(stripped) >= fence[1]:
                fence, para_ok = None, True
            if not drop_fence:
                b.line(number, raw)
            continue
        if html_until is not None:
            if html_until == "" and not raw.strip():
                html_until, para, para_ok = None, 0, True
                b.line(number, "")
            elif html_until and html_until in raw.lower():
                html_until, para_ok = None, True
            continue
        line, in_comment = _strip_comments(raw, in_comment)
        if not line.strip():
            if not raw.strip():  # a real blank line (a line of comment text is nothing at all)
                b.line(number, "")
                para, para_ok, skip_indented = 0, True, False
            continue
        if skip_indented and line[:1] in (" ", "\t"):
            continue
        skip_indented = False
        fence_match = _FENCE.match(line)
        if fence_match and not (fence_match.group(1)[0] == "`" and "`" in fence_match.group(2)):
            fence = (fence_match.group(1)[0], len(fence_match.group(1)))
            drop_fence = fence_match.group(2).strip().startswith("{auto")
            para, para_ok = 0, False
            if not drop_fence:
                b.line(number, line)
            continue
        atx = _ATX.match(line)
        title = _atx_title(line[atx.end() :]) if atx else ""
        if atx and len(title) <= MAX_TITLE_CHARS:
            if title:
                b.heading(len(atx.group(1)), title, number)
            para, para_ok = 0, True
            continue  # an empty ATX heading (only a logo, say) carries nothing
        if para and _SETEXT.match(line) and sum(len(t) for _, t in b.body[-para:]) <= MAX_TITLE_CHARS:
            b.heading_from_tail(para, 1 if line.strip()[0] == "=" else 2)
            para, para_ok = 0, True
            continue
        if line.lstrip().startswith("<"):
            html_until = _html_block(line, para)
            if html_until is not None:
                lower = line.lower()
                if html_until and lower.find(html_until, lower.find("<") + 1) >= 0:
                    html_until = None  # opened and closed on one line
                para, para_ok = 0, True
                continue
        if is_badge_line(line) or _LINK_DEF.match(line) or _MDX_LINE.match(line):
            continue
        if _MKDOCSTRINGS.match(line):
            skip_indented = True
            continue
        if _BREAK.match(line):
            para, para_ok = 0, True
            b.line(number, line)
            continue
        if _LIST_OR_QUOTE.match(line) or (not para and line.startswith(("    ", "\t"))):
            para = 0  # list items, quotes and tables end a paragraph; indented code never starts one
        elif para or para_ok:
            para += 1
        para_ok = False
        b.line(number, line)


def _atx_title(rest: str) -> str:
    """An ATX heading's text without its optional closing sequence of #s."""
    title = rest.strip()
    trimmed = title.rstrip("#")
    if not trimmed or trimmed[-1] in " \t":
        title = trimmed
    return clean_title(title)


def _html_block(line: str, para: int) -> str | None:
    """How a raw HTML block starting on `line` ends ("" = at a blank line), or None if it is not one."""
    raw = _HTML_RAW.match(line)
    if raw:
        return f"</{raw.group(1).lower()}>"
    if _HTML_BLOCK.match(line):
        return ""
    if not para and _HTML_TAG_LINE.match(line):  # CommonMark: this kind cannot interrupt a paragraph
        return ""
    return None


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


def _adorned_title(lines: list[str], index: int, chars: frozenset[str]) -> tuple[tuple[str, bool], str, int] | None:
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
_ADOC_DROP = re.compile(r"(?::[\w!-]+:(?:[ \t].*)?|\[\[?[^\]\n]*\]\]?|(?:image|ifdef|ifndef|endif|ifeval|toc)::.*)$")


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
