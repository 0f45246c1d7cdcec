"""Definitions in documentation text: glossary items, prose definitions, and plain terms and meanings.

Pure functions over a section's lines (indexes are positions in those lines); `glossary` turns what
they find into records. Every pattern is linear on hostile input: runs stop at the next delimiter.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

MAX_MEANING_CHARS = 400
# Words that head a parameter list or a note, not a term of the domain.
STRUCTURAL_TERMS = frozenset(
    "returns return type default example examples note notes usage see also parameters arguments options"
    " since deprecated warning value values todo".split()
)
#: One definition found in text: (term, meaning, first line index, last line index).
Item = tuple[str, str, int, int]


@dataclass
class _OpenItem:
    """A glossary item being read: its term and the meaning lines seen so far (indexes into the text)."""

    term: str
    first: int
    last: int
    parts: list[str] = field(default_factory=list)


# --- glossary items -------------------------------------------------------------------------------

_BULLET = r"(?:[-*+]|\d{1,3}[.)])[ \t]+"
_BULLET_START = re.compile(_BULLET)
_SEPARATOR = r"[ \t]*(?::(?!//)|—|–|[ \t]-[ \t])[ \t]*"  # not the colon of a URL
_ITEM_PATTERNS = (
    re.compile(rf"(?:{_BULLET})?(?:\*\*|__)(?P<term>[^*_\n]+?):(?:\*\*|__)[ \t]*(?P<meaning>.+)$"),
    re.compile(rf"(?:{_BULLET})?(?:\*\*|__)(?P<term>[^*_\n]+?)(?:\*\*|__){_SEPARATOR}(?P<meaning>.+)$"),
    re.compile(rf"{_BULLET}(?P<term>`[^`\n]+`|\*[^*\n]+\*|_[^_\n]+_){_SEPARATOR}(?P<meaning>.+)$"),
    re.compile(rf"{_BULLET}(?P<term>\[[^\]\n]+\](?:\[[^\]\n]*\]|\([^)\n]*\))){_SEPARATOR}(?P<meaning>.+)$"),
    re.compile(rf"{_BULLET}(?P<term>[^:—–*`\[\]\n]{{1,60}}?){_SEPARATOR}(?P<meaning>.+)$"),
)
_DEFINITION = re.compile(r"[ \t]{0,3}:[ \t]+(?P<meaning>\S.*)$")  # "Term\n: meaning" definition lists
_TABLE_DELIMITER = re.compile(r"\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)+\|?[ \t]*$")
_RST_GLOSSARY = re.compile(r"([ \t]*)\.\.[ \t]+glossary::[ \t]*$")


def glossary_items(lines: list[str], rst: bool, bold_only: bool = False) -> list[Item]:
    """Definition items in a glossary section's lines: (term, meaning, first index, last index).

    With `bold_only`, list items count only when their term is bold (definition lists and tables always do).
    """
    out: list[Item] = []
    item: _OpenItem | None = None
    fence = in_table = False
    for index, line in enumerate(lines):
        text = line.strip()
        nxt = lines[index + 1] if index + 1 < len(lines) else ""
        fence_line = text.startswith(("```", "~~~"))
        fence = fence != fence_line
        if fence or fence_line or not text:
            _close(item, out)
            item, in_table = None, False
            continue
        definition = _DEFINITION.match(line)
        if definition and item is not None:  # "Term" then ": meaning" (several definitions may follow)
            item.parts.append(definition.group("meaning"))
            item.last = index
            continue
        in_table = in_table or ("|" in text and _TABLE_DELIMITER.match(nxt.strip()) is not None)
        if in_table:
            _close(item, out)
            item = None
            _table_row(text, nxt, index, out)
            continue
        matched = _match_item(text, bold_only)
        if matched:
            _close(item, out)
            item = _OpenItem(matched[0], index, index, [matched[1]])
        elif _DEFINITION.match(nxt) or (
            rst and line[:1] not in " \t" and nxt[:1] in (" ", "\t") and nxt.strip()
        ):
            _close(item, out)
            term = text.split(" : ")[0] if rst else text  # an RST term may carry " : classifier"
            item = _OpenItem(term, index, index)  # a definition-list term; its meaning follows
        elif item is not None and not _BULLET_START.match(text):
            item.parts.append(text)  # a wrapped line of the open item
            item.last = index
        else:
            _close(item, out)
            item = None
    _close(item, out)
    return out


def _close(item: _OpenItem | None, out: list[Item]) -> None:
    """Emit an open item if it has a valid term and a meaning."""
    if item is not None:
        term, meaning = clean_term(item.term), meaning_of(" ".join(item.parts))
        if term and meaning:
            out.append((term, meaning, item.first, item.last))


def _table_row(text: str, nxt: str, index: int, out: list[Item]) -> None:
    """A row of a two-column (or wider) table: first cell the term, second its meaning; header rows skipped."""
    if _TABLE_DELIMITER.match(text) or _TABLE_DELIMITER.match(nxt.strip()):
        return
    cells = [cell.strip() for cell in text.strip().strip("|").split("|")]
    if len(cells) >= 2:
        term, meaning = clean_term(cells[0]), meaning_of(cells[1])
        if term and meaning:
            out.append((term, meaning, index, index))


def _match_item(text: str, bold_only: bool = False) -> tuple[str, str] | None:
    for pattern in _ITEM_PATTERNS[:2] if bold_only else _ITEM_PATTERNS:
        match = pattern.match(text)
        if match and match.group("meaning").strip():
            return match.group("term").strip().rstrip(":").strip(), match.group("meaning")
    return None


def rst_glossary_items(lines: list[str]) -> Iterator[Item]:
    """Terms of RST `.. glossary::` blocks: term lines at one indentation, definitions deeper."""
    index = 0
    while index < len(lines):
        directive = _RST_GLOSSARY.match(lines[index])
        index += 1
        if not directive:
            continue
        base, term_indent = len(directive.group(1)), -1
        terms: list[tuple[str, int]] = []
        parts: list[str] = []
        last = index
        while index < len(lines):
            line = lines[index]
            text = line.strip()
            indent = len(line) - len(line.lstrip())
            if text and indent <= base:
                break
            if text and term_indent < 0 and not text.startswith(":"):  # options such as :sorted: come first
                term_indent = indent
            if text and indent == term_indent:
                yield from _glossary_entries(terms, parts, last)
                if parts:
                    terms, parts = [], []
                terms.append((text, index))
            elif text and term_indent >= 0 and indent > term_indent and terms:
                parts.append(text)
                last = index
            index += 1
        yield from _glossary_entries(terms, parts, last)


def _glossary_entries(terms: list[tuple[str, int]], parts: list[str], last: int) -> Iterator[Item]:
    meaning = meaning_of(" ".join(parts)) if parts else ""
    if not meaning:
        return
    for raw, first in terms:  # several term lines before one definition are synonyms
        term = clean_term(raw.split(" : ")[0])  # drop an RST classifier
        if term:
            yield term, meaning, first, last


# --- prose ----------------------------------------------------------------------------------------

_PROSE = re.compile(
    r"(?:^(?:[-*+][ \t]+|\d{1,3}[.)][ \t]+)?|(?<=[.!?:][ \t]))"
    r"(?P<lead>(?:(?:[Aa]n?|[Tt]he)[ \t]+)?)(?P<mark>\*\*|__|\*|_)(?P<term>[^*_\s](?:[^*_\n]{0,58}[^*_\s])?)(?P=mark)"
    r"[ \t]+(?:is|are|means|refers[ \t]+to|denotes|represents|stands[ \t]+for)[ \t]"
)
_NOT_PROSE = re.compile(rf"{_BULLET}|[>|:]|\.\.")  # list items, quotes, tables, definitions, directives
_PROSE_HINT = re.compile(
    r"[*_][^*_\n]{1,60}[*_]{1,2}[ \t]+(?:is|are|means|refers[ \t]+to|denotes|represents|stands[ \t]+for)[ \t]"
)


def has_prose_definition(text: str) -> bool:
    """Whether `text` may hold a prose definition (one regex pass; rules out most sections cheaply)."""
    return _PROSE_HINT.search(text) is not None


def prose_definitions(lines: list[str]) -> Iterator[Item]:
    """Definitions in prose: `**Term** is/means/refers to ...` and "A *term* is ..." at a sentence start.

    The meaning is the defining sentence itself (and the next one when it is short).
    """
    for text, offsets, first in _paragraphs(lines):
        for match in _PROSE.finditer(text):
            if match.group("mark") in ("*", "_") and not match.group("lead"):
                continue  # a lone *word* is emphasis; "A *word* is" is a definition
            term, meaning = clean_term(match.group("term")), meaning_of(text[match.start("lead") :])
            if term and meaning:
                row = first + bisect.bisect_right(offsets, match.start("term")) - 1
                yield term, meaning, row, row


def first_prose(lines: list[str]) -> str:
    """The first paragraph that is prose: not a list item, quote, table, directive or code."""
    for text, _, _ in _paragraphs(lines):
        if not _NOT_PROSE.match(text):
            return text
    return ""


def _paragraphs(lines: list[str]) -> Iterator[tuple[str, list[int], int]]:
    """Paragraphs outside code fences as (joined text, offset of each line in it, first line index)."""
    fence = False
    parts: list[str] = []
    offsets: list[int] = []
    first = 0
    for index, line in enumerate([*lines, ""]):
        text = line.strip()
        if text.startswith(("```", "~~~")):
            fence = not fence
        starts_item = _BULLET_START.match(text) is not None
        if parts and (fence or not text or starts_item or text.startswith(("```", "~~~"))):
            yield " ".join(parts), offsets, first
            parts, offsets = [], []
        if fence or not text or text.startswith(("```", "~~~")):
            continue
        if not parts:
            first, length = index, 0
        else:
            length = offsets[-1] + len(parts[-1]) + 1
        parts.append(text)
        offsets.append(length)


# --- plain text ----------------------------------------------------------------------------------

_LINK = re.compile(r"!?\[([^\[\]\n]*)\](?:\([^()\n]*\)|\[[^\[\]\n]*\])")  # inline and reference links
_ROLE = re.compile(r":[\w:+-]+:`([^`<\n]*?)(?:\s*<[^>\n]*>)?`")
# Each form's content excludes its own delimiter, so a scan never runs past the next one (linear time).
_EMPHASIS = re.compile(
    r"\*\*([^*\s](?:[^*\n]*?[^*\s])?)\*\*|__([^_\s](?:[^_\n]*?[^_\s])?)__(?!\w)"
    r"|\*([^*\s](?:[^*\n]*?[^*\s])?)\*|(?<!\w)_([^_\s](?:[^_\n]*?[^_\s])?)_(?!\w)"
)
# Starts only where a run of end marks starts: a failed try from inside the run fails the same way,
# and without the lookbehind a long run ("!?!?…") was retried from each mark (quadratic).
_SENTENCE_END = re.compile(r"(?<![.!?])[.!?]+[\"')\]]*\s+(?=[A-Z0-9`\"'(\[])")
_ABBREVIATIONS = frozenset(
    {"e.g.", "i.e.", "etc.", "vs.", "cf.", "approx.", "resp.", "incl.", "no.", "dr.", "mr."}
)


def plain(text: str) -> str:
    """Text without Markdown/RST inline markup (links keep their text, roles their target), one line."""
    text = _ROLE.sub(r"`\1`", _LINK.sub(r"\1", text)).replace("``", "`")
    return " ".join(_EMPHASIS.sub(lambda m: next(g for g in m.groups() if g is not None), text).split())


def meaning_of(text: str, sentences: int = 2) -> str:
    """The first sentence of `text` in plain form (the second too when the first is short), ≤ MAX_MEANING_CHARS.

    "" when that is under two words.
    """
    text = plain(text[: MAX_MEANING_CHARS * 8])  # plenty for two sentences; keeps huge paragraphs cheap
    ends = [
        m.end() for m in _SENTENCE_END.finditer(text)
        if text[: m.start() + 1].rsplit(None, 1)[-1].lower() not in _ABBREVIATIONS
    ]  # fmt: skip
    ends.append(len(text))
    out = text[: ends[0]].strip()
    if sentences > 1 and len(out) < 100 and len(ends) > 1 and ends[1] <= MAX_MEANING_CHARS:
        out = text[: ends[1]].strip()
    if len(out) > MAX_MEANING_CHARS:
        out = out[: MAX_MEANING_CHARS - 1].rsplit(" ", 1)[0].rstrip(",;: ") + "…"
    return out if len(out.split()) >= 2 else ""  # one word ("{string}", "Stable.") explains nothing


def clean_term(raw: str) -> str:
    """A term as written, without markup; "" unless it looks like a term (≤ 6 words, ≤ 60 chars, a letter)."""
    if len(raw) > 200:
        return ""
    term = plain(raw).strip().strip("`\"'").rstrip(":").strip()
    if not term or len(term) > 60 or len(term.split()) > 6 or not re.search(r"[^\W\d_]", term):
        return ""
    if term.endswith((".", "?", "!")) or term.lower().startswith(
        ("how ", "why ", "what ", "when ", "where ")
    ):
        return ""
    if term.lower() in STRUCTURAL_TERMS:
        return ""
    return term
