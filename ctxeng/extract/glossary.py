"""The domain glossary: the project's own terms, where each is defined and what it means.

Sources, strongest first (one record per term, compared case-insensitively; the strongest source
wins, then the earliest path and line):
1. "glossary": items of explicit glossaries — sections titled Glossary/Terminology/Definitions/
   Concepts/Vocabulary (bullets `- **Term**: meaning`, `**Term** — meaning`, definition lists,
   two-column tables, RST definition lists, one subsection per term) and RST `.. glossary::` blocks;
2. "doc": definitions in the prose of design docs (`**Term** is ...`, "A *term* is ...");
3. "code": public classes and types with a docstring whose name is a domain noun (mentioned in the
   docs or referenced from two or more other files), at most MAX_CODE_TERMS of them, ranked by the
   number of files that reference them; generic names (Error, Config, Test*, ...) are skipped.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ctxeng.records import Record, record_id, sort_key

MAX_CODE_TERMS = 200
MAX_MEANING_CHARS = 400
MAX_ALSO = 5
GLOSSARY_TITLE = re.compile(
    r"\b(glossary|terminology|definitions|vocabulary|(?:key|common|important) terms|concepts)\b", re.IGNORECASE
)
# Words that head a parameter list or a note, not a term of the domain.
STRUCTURAL_TERMS = frozenset(
    "returns return type default example examples note notes usage see also parameters arguments options"
    " since deprecated warning value values todo".split()
)
CODE_KINDS = frozenset({"class", "interface", "type", "struct", "enum", "trait", "protocol", "record", "union"})
GENERIC_NAMES = frozenset(
    "error exception warning base config configuration settings options mixin helper helpers util utils"
    " utility utilities object data info meta main impl interface abstract wrapper factory builder handler"
    " manager test tests testcase mock fake stub dummy example sample foo bar baz temp tmp default common"
    " generic args kwargs params result response request".split()
)
_GENERIC_PREFIX = re.compile(r"(?:Test|Mock|Fake|Stub|Dummy|Abstract|Base)(?=[A-Z_]|$)")
_GENERIC_SUFFIX = re.compile(r"(?:Test|Tests|TestCase|Mixin|Helpers?|Utils?|Error|Exception|Warning)$")
_TEST_PATH = re.compile(r"(?:^|/)(?:tests?|__tests__|spec|testing)/|(?:^|/)test_[^/]*$|_test\.\w+$|\.(?:test|spec)\.\w+$")
_RANK = {"glossary": 0, "doc": 1, "code": 2}


@dataclass(frozen=True, slots=True)
class _Term:
    """One place that defines a term."""

    term: str
    meaning: str
    kind: str  # glossary | doc | code
    source: Record
    start_line: int
    end_line: int


@dataclass
class _OpenItem:
    """A glossary item being read: its term and the meaning lines seen so far (indexes into the text)."""

    term: str
    first: int
    last: int
    parts: list[str] = field(default_factory=list)


def build_glossary(records: list[Record]) -> list[Record]:
    """One `glossary` record per domain term found in `records` (code and doc records), sorted by term."""
    docs = sorted((r for r in records if r.kind == "doc"), key=sort_key)
    terms = [*_explicit_terms(docs), *_prose_terms(docs)]
    terms += _code_terms(records, docs, {_key(t.term) for t in terms})
    return _assemble(terms, records)


# --- explicit glossaries ---------------------------------------------------------------------------

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


def glossary_title(title: str) -> str:
    """"strong" for a Glossary/Terminology/Definitions/Vocabulary heading, "weak" for Concepts, else ""."""
    match = GLOSSARY_TITLE.search(title) if len(title.split()) <= 4 else None
    if not match:
        return ""
    return "weak" if match.group(1).lower() == "concepts" else "strong"


def _explicit_terms(docs: list[Record]) -> Iterator[_Term]:
    for rec in docs:
        titles = rec.name.split(" > ")
        lines = rec.text.split("\n")
        items = list(_rst_glossary(lines)) if ".. glossary::" in rec.text else []
        own = glossary_title(titles[-1])
        above = {glossary_title(t) for t in titles[:-1]}
        # A "Concepts" chapter holds prose and parameter lists too: there only bold terms count, and
        # its subsections only as one term each.
        if own or "strong" in above:
            items += _items(lines, rst=rec.meta.get("format") == "rst", bold_only=own == "weak")
        for term, meaning, first, last in items:
            yield _Term(term, meaning, "glossary", rec, _line(rec, first), _line(rec, last))
        if not own and above - {""} and not items:  # a glossary with one subsection per term
            term, meaning = _clean_term(titles[-1]), _meaning(_first_prose(lines))
            if term and meaning:
                yield _Term(term, meaning, "glossary", rec, rec.start_line, rec.end_line)


def _items(lines: list[str], rst: bool, bold_only: bool = False) -> list[tuple[str, str, int, int]]:
    """Definition items in a glossary section's lines: (term, meaning, first index, last index).

    With `bold_only`, list items count only when their term is bold (definition lists and tables always do).
    """
    out: list[tuple[str, str, int, int]] = []
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
        elif _DEFINITION.match(nxt) or (rst and line[:1] not in " \t" and nxt[:1] in (" ", "\t") and nxt.strip()):
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


def _close(item: _OpenItem | None, out: list[tuple[str, str, int, int]]) -> None:
    """Emit an open item if it has a valid term and a meaning."""
    if item is not None:
        term, meaning = _clean_term(item.term), _meaning(" ".join(item.parts))
        if term and meaning:
            out.append((term, meaning, item.first, item.last))


def _table_row(text: str, nxt: str, index: int, out: list[tuple[str, str, int, int]]) -> None:
    """A row of a two-column (or wider) table: first cell the term, second its meaning; header rows skipped."""
    if _TABLE_DELIMITER.match(text) or _TABLE_DELIMITER.match(nxt.strip()):
        return
    cells = [cell.strip() for cell in text.strip().strip("|").split("|")]
    if len(cells) >= 2:
        term, meaning = _clean_term(cells[0]), _meaning(cells[1])
        if term and meaning:
            out.append((term, meaning, index, index))


def _match_item(text: str, bold_only: bool = False) -> tuple[str, str] | None:
    for pattern in _ITEM_PATTERNS[:2] if bold_only else _ITEM_PATTERNS:
        match = pattern.match(text)
        if match and match.group("meaning").strip():
            return match.group("term").strip().rstrip(":").strip(), match.group("meaning")
    return None


def _rst_glossary(lines: list[str]) -> Iterator[tuple[str, str, int, int]]:
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


def _glossary_entries(terms: list[tuple[str, int]], parts: list[str], last: int) -> Iterator[tuple[str, str, int, int]]:
    meaning = _meaning(" ".join(parts)) if parts else ""
    if not meaning:
        return
    for raw, first in terms:  # several term lines before one definition are synonyms
        term = _clean_term(raw.split(" : ")[0])  # drop an RST classifier
        if term:
            yield term, meaning, first, last


# --- prose definitions ------------------------------------------------------------------------------

_PROSE = re.compile(
    r"(?:^(?:[-*+][ \t]+|\d{1,3}[.)][ \t]+)?|(?<=[.!?:][ \t]))"
    r"(?P<lead>(?:(?:[Aa]n?|[Tt]he)[ \t]+)?)(?P<mark>\*\*|__|\*|_)(?P<term>[^*_\s](?:[^*_\n]{0,58}[^*_\s])?)(?P=mark)"
    r"[ \t]+(?:is|are|means|refers[ \t]+to|denotes|represents|stands[ \t]+for)[ \t]"
)


_PROSE_HINT = re.compile(
    r"[*_][^*_\n]{1,60}[*_]{1,2}[ \t]+(?:is|are|means|refers[ \t]+to|denotes|represents|stands[ \t]+for)[ \t]"
)


def _prose_terms(docs: list[Record]) -> Iterator[_Term]:
    for rec in docs:
        if rec.meta.get("doc_kind") == "changelog" or not _PROSE_HINT.search(rec.text):
            continue  # one pass in C rules out most sections before any per-paragraph work
        kind = "glossary" if any(glossary_title(t) for t in rec.name.split(" > ")) else "doc"
        for text, offsets, first in _paragraphs(rec.text.split("\n")):
            for match in _PROSE.finditer(text):
                if match.group("mark") in ("*", "_") and not match.group("lead"):
                    continue  # a lone *word* is emphasis; "A *word* is" is a definition
                term, meaning = _clean_term(match.group("term")), _meaning(text[match.start("lead") :])
                if term and meaning:
                    row = first + bisect.bisect_right(offsets, match.start("term")) - 1
                    yield _Term(term, meaning, kind, rec, _line(rec, row), _line(rec, row))


def _first_prose(lines: list[str]) -> str:
    """The first paragraph that is prose: not a list item, quote, table, directive or code."""
    for text, _, _ in _paragraphs(lines):
        if not re.match(rf"{_BULLET}|[>|:]|\.\.", text):
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


# --- code ------------------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _code_terms(records: list[Record], docs: list[Record], defined: set[str]) -> list[_Term]:
    """Public documented types whose names are domain nouns, ranked by the files that reference them."""
    symbols = [
        r for r in records
        if r.kind == "symbol" and r.meta.get("kind") in CODE_KINDS and _public(r) and str(r.meta.get("doc") or "").strip()
        and not is_generic(r.name) and not _TEST_PATH.search(r.path)
    ]  # fmt: skip
    if not symbols:
        return []
    names = {r.name for r in symbols}
    referencing: dict[str, set[str]] = {}
    for rec in records:
        if rec.kind == "file":
            for ident in sorted(set(rec.meta.get("refs") or {}) & names):
                referencing.setdefault(ident, set()).add(rec.path)
    mentioned = {w.lower() for rec in docs for w in _WORD.findall(f"{rec.name}\n{rec.text}")}
    ranked = []
    for sym in symbols:
        files = len(referencing.get(sym.name, set()) - {sym.path})
        in_docs = sym.name.lower() in mentioned
        if in_docs or files >= 2:
            ranked.append(((-files, not in_docs, sym.name.lower(), sym.path, sym.start_line, sym.id), sym))
    ranked.sort(key=lambda pair: pair[0])
    out: list[_Term] = []
    new: set[str] = set()
    for _, sym in ranked:
        key = _key(sym.name)
        if key not in defined and key not in new:
            if len(new) >= MAX_CODE_TERMS:
                continue
            new.add(key)
        meaning = _meaning(str(sym.meta["doc"]).strip().split("\n\n")[0], sentences=1)
        if meaning:
            out.append(_Term(sym.name, meaning, "code", sym, sym.start_line, sym.end_line))
    return out


def is_generic(name: str) -> bool:
    """Whether a type name is a generic programming word rather than a domain term."""
    bare = name.strip("_")
    return (
        len(bare) < 3 or bare.lower() in GENERIC_NAMES or bare.isupper()
        or _GENERIC_PREFIX.match(bare) is not None or _GENERIC_SUFFIX.search(bare) is not None
    )  # fmt: skip


def _public(rec: Record) -> bool:
    visibility = rec.meta.get("visibility")
    return visibility == "public" if visibility else not rec.name.startswith("_")


# --- assembly --------------------------------------------------------------------------------------


def _assemble(terms: list[_Term], records: list[Record]) -> list[Record]:
    """Pick the strongest definition of each term; the other places that define or describe it go in `also`."""
    groups: dict[str, list[_Term]] = {}
    for term in terms:
        groups.setdefault(_key(term.term), []).append(term)
    described = _describers(records)
    out: list[Record] = []
    for key in sorted(groups):
        group = sorted(groups[key], key=lambda t: (_RANK[t.kind], t.source.path, t.start_line, t.term))
        best = group[0]
        paths = {t.source.path for t in group} | described.get(_singular(key), set())
        also = sorted(paths - {best.source.path})[:MAX_ALSO]
        src = best.source
        meta = {"source": f"{src.path}:{best.start_line}", "kind": best.kind, "also": also}
        out.append(Record(record_id("glossary", best.term.lower()), "glossary", src.path, best.start_line,
                          best.end_line, src.commit, src.time, best.term, best.meaning, meta))  # fmt: skip
    return out


def _describers(records: Iterable[Record]) -> dict[str, set[str]]:
    """Paths by (singular, lower-case) name: doc sections titled with it and definitions named it."""
    out: dict[str, set[str]] = {}
    for rec in records:
        if rec.kind == "doc":
            name = str(rec.meta.get("title") or rec.name.split(" > ")[-1])
        elif rec.kind == "symbol":
            name = rec.name
        else:
            continue
        out.setdefault(_singular(_key(name)), set()).add(rec.path)
    return out


# --- text helpers ----------------------------------------------------------------------------------

_LINK = re.compile(r"!?\[([^\[\]\n]*)\](?:\([^()\n]*\)|\[[^\[\]\n]*\])")  # inline and reference links
_ROLE = re.compile(r":[\w:+-]+:`([^`<\n]*?)(?:\s*<[^>\n]*>)?`")
# Each form's content excludes its own delimiter, so a scan never runs past the next one (linear time).
_EMPHASIS = re.compile(
    r"\*\*([^*\s](?:[^*\n]*?[^*\s])?)\*\*|__([^_\s](?:[^_\n]*?[^_\s])?)__(?!\w)"
    r"|\*([^*\s](?:[^*\n]*?[^*\s])?)\*|(?<!\w)_([^_\s](?:[^_\n]*?[^_\s])?)_(?!\w)"
)
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*\s+(?=[A-Z0-9`\"'(\[])")
_ABBREVIATIONS = frozenset({"e.g.", "i.e.", "etc.", "vs.", "cf.", "approx.", "resp.", "incl.", "no.", "dr.", "mr."})


def plain(text: str) -> str:
    """Text without Markdown/RST inline markup (links keep their text, roles their target), one line."""
    text = _ROLE.sub(r"`\1`", _LINK.sub(r"\1", text)).replace("``", "`")
    return " ".join(_EMPHASIS.sub(lambda m: next(g for g in m.groups() if g is not None), text).split())


def _meaning(text: str, sentences: int = 2) -> str:
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


def _clean_term(raw: str) -> str:
    """A term as written, without markup; "" unless it looks like a term (≤ 6 words, ≤ 60 chars, a letter)."""
    term = plain(raw).strip().strip("`\"'").rstrip(":").strip()
    if not term or len(term) > 60 or len(term.split()) > 6 or not re.search(r"[^\W\d_]", term):
        return ""
    if term.endswith((".", "?", "!")) or term.lower().startswith(("how ", "why ", "what ", "when ", "where ")):
        return ""
    if term.lower() in STRUCTURAL_TERMS:
        return ""
    return term


def _key(term: str) -> str:
    return " ".join(term.lower().split())


def _singular(key: str) -> str:
    if len(key) > 3 and key.endswith("s") and not key.endswith("ss"):
        return key[:-1]
    return key


def _line(rec: Record, index: int) -> int:
    """The source line of line `index` of a doc record's text (via its line_map)."""
    breaks = rec.meta.get("line_map") or []
    if not breaks:
        return min(rec.start_line + 1 + index, max(rec.end_line, rec.start_line))
    at = bisect.bisect_right([b[0] for b in breaks], index) - 1
    text_index, source = breaks[max(at, 0)]
    return int(source) + index - int(text_index)
