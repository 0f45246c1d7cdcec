"""The Markdown heading splitter (ATX and setext headings, fence-aware) and Markdown title cleaning.

One forward pass over the lines with a little state (an open fence, an HTML comment, a raw HTML
block), so any input costs linear time. Bodies lose HTML comments, raw HTML blocks, badge-only
lines, front matter, link definitions, MDX import/export lines and mkdocstrings autodoc lines.
Hand-written rather than markdown-it-py for speed (x8) and a light hook path: see `doc_sections`.
"""

from __future__ import annotations

import re
from typing import Protocol

MAX_TITLE_CHARS = 300  # a longer title is prose, never a heading (shared by every splitter)


class SectionSink(Protocol):
    """Where a splitter sends what it reads (implemented by the section builder in `markup`)."""

    body: list[tuple[int, str]]

    def line(self, number: int, text: str) -> None:
        """A body line of the current section."""

    def heading(self, level: int, title: str, number: int) -> None:
        """A heading on line `number`: it starts a new section."""

    def heading_from_tail(self, count: int, level: int) -> None:
        """The last `count` body lines turn out to be a heading (setext underline)."""


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


_FRONT_TITLE = re.compile(r"title[ \t]*[:=][ \t]*(['\"]?)(?P<title>[^'\"\n].*?)\1[ \t]*$")


def front_matter_title(lines: list[str]) -> str:
    """The `title` of a document's front matter, else "" (docs sites often name a page only there)."""
    end = _front_matter_end(lines)
    for line in lines[1 : end - 1]:
        match = _FRONT_TITLE.match(line)
        if match and match.group("title").strip() not in (">", "|", ">-", "|-"):
            return clean_title(match.group("title"))
    return ""


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


def split_markdown(lines: list[str], b: SectionSink) -> None:
    """Feed the lines of a Markdown document to `b`: headings, and body lines after cleaning."""
    fence: tuple[str, int] | None = None  # (char, length) of the open code fence
    drop_fence = False  # the open fence is a MyST autodoc directive: drop it whole
    html_until: str | None = None  # "" = a blank line ends the raw HTML block, else that closing tag
    in_comment = False
    para = 0  # lines in the open paragraph (a setext underline turns them into a heading)
    para_ok = True  # the previous line allows a paragraph to start (blank, heading, start)
    skip_indented = False  # inside mkdocstrings options (indented lines after ":::")
    title = front_matter_title(lines)
    if title:  # the page's name heads every section, as an H1 would (level 0: any heading nests under it)
        b.heading(0, title, 1)
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
