"""The domain glossary: the project's own terms, where each is defined and what it means.

Sources, strongest first (one record per term, compared case-insensitively; the strongest source
wins, then the earliest path and line):
1. "glossary": items of explicit glossaries — sections titled Glossary/Terminology/Definitions/
   Vocabulary (bullets `- **Term**: meaning`, `**Term** — meaning`, definition lists, two-column
   tables, RST definition lists, one subsection per term) and RST `.. glossary::` blocks; a
   "Concepts" chapter counts more cautiously (bold terms, definition lists, tables, subsections);
2. "doc": definitions in the prose of design docs (`**Term** is ...`, "A *term* is ...");
3. "code": public classes and types with a docstring whose name is a domain noun (mentioned in the
   docs or referenced from two or more other files), at most MAX_CODE_TERMS of them, ranked by the
   number of files that reference them; generic names (Error, Config, Test*, ...) are skipped.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ctxeng.core.records import Record, record_id, sort_key
from ctxeng.extract.definitions import (
    clean_term,
    first_prose,
    glossary_items,
    has_prose_definition,
    meaning_of,
    prose_definitions,
    rst_glossary_items,
)

MAX_CODE_TERMS = 200
MAX_ALSO = 5
GLOSSARY_TITLE = re.compile(
    r"\b(glossary|terminology|definitions|vocabulary|(?:key|common|important) terms|concepts)\b",
    re.IGNORECASE,
)
CODE_KINDS = frozenset(
    {"class", "interface", "type", "struct", "enum", "trait", "protocol", "record", "union"}
)
GENERIC_NAMES = frozenset(
    "error exception warning base config configuration settings options mixin helper helpers util utils"
    " utility utilities object data info meta main impl interface abstract wrapper factory builder handler"
    " manager test tests testcase mock fake stub dummy example sample foo bar baz temp tmp default common"
    " generic args kwargs params result response request".split()
)
_GENERIC_PREFIX = re.compile(r"(?:Test|Mock|Fake|Stub|Dummy|Abstract|Base)(?=[A-Z_]|$)")
_GENERIC_SUFFIX = re.compile(r"(?:Test|Tests|TestCase|Mixin|Helpers?|Utils?|Error|Exception|Warning)$")
_TEST_PATH = re.compile(
    r"(?:^|/)(?:tests?|__tests__|spec|testing)/|(?:^|/)test_[^/]*$|_test\.\w+$|\.(?:test|spec)\.\w+$"
)
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


def build_glossary(records: Iterable[Record], memo: Path | None = None) -> list[Record]:
    """One `glossary` record per domain term found in `records` (code and doc records), sorted by term.

    `records` is read three times (a list, or a store's records read back from disk). With `memo`
    (the output folder), the words the docs use are kept by a digest of the doc records
    (`ctxeng.core.digest_memo`): a code commit leaves them as they were; the glossary is the same."""
    docs = sorted((r for r in records if r.kind == "doc"), key=sort_key)
    terms = [*_explicit_terms(docs), *_prose_terms(docs)]
    terms += _code_terms(records, docs, {_key(t.term) for t in terms}, memo)
    return _assemble(terms, records)


def glossary_title(title: str) -> str:
    """How surely a heading names a glossary: "strong" (Glossary, Terminology, ...), "weak" (Concepts) or ""."""
    match = GLOSSARY_TITLE.search(title) if len(title.split()) <= 4 else None
    if not match:
        return ""
    return "weak" if match.group(1).lower() == "concepts" else "strong"


def _explicit_terms(docs: list[Record]) -> Iterator[_Term]:
    for rec in docs:
        titles = rec.name.split(" > ")
        lines = rec.text.split("\n")
        items = list(rst_glossary_items(lines)) if ".. glossary::" in rec.text else []
        own = glossary_title(titles[-1])
        above = {glossary_title(t) for t in titles[:-1]}
        # A "Concepts" chapter holds prose and parameter lists too: there only bold terms count, and
        # its subsections only as one term each.
        if own or "strong" in above:
            items += glossary_items(lines, rst=rec.meta.get("format") == "rst", bold_only=own == "weak")
        for term, meaning, first, last in items:
            yield _Term(term, meaning, "glossary", rec, _line(rec, first), _line(rec, last))
        if not own and above - {""} and not items:  # a glossary with one subsection per term
            term, meaning = clean_term(titles[-1]), meaning_of(first_prose(lines))
            if term and meaning:
                yield _Term(term, meaning, "glossary", rec, rec.start_line, rec.end_line)


def _prose_terms(docs: list[Record]) -> Iterator[_Term]:
    for rec in docs:
        if rec.meta.get("doc_kind") == "changelog" or not has_prose_definition(rec.text):
            continue
        kind = "glossary" if any(glossary_title(t) for t in rec.name.split(" > ")) else "doc"
        for term, meaning, first, last in prose_definitions(rec.text.split("\n")):
            yield _Term(term, meaning, kind, rec, _line(rec, first), _line(rec, last))


# --- code ------------------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _mentioned(docs: list[Record], memo: Path | None) -> set[str]:
    """Every word of the docs' headings and texts, lower-cased (through `memo`'s digest memo when given)."""
    if memo is None:
        return {w.lower() for rec in docs for w in _WORD.findall(f"{rec.name}\n{rec.text}")}
    from ctxeng.core.digest_memo import DigestMemo, digest, source_version

    table = DigestMemo(memo, "doc-words", source_version(__file__))
    key = digest(s for rec in docs for s in (rec.name, rec.text))
    got = table.get(key)
    if isinstance(got, list):
        return set(got)
    words = _mentioned(docs, None)
    table.put(key, sorted(words))
    return words


def _code_terms(
    records: Iterable[Record], docs: list[Record], defined: set[str], memo: Path | None = None
) -> list[_Term]:
    """Public documented types whose names are domain nouns, ranked by the files that reference them."""
    # Kept without their text (all a term needs is where it is and the docstring): on a huge
    # repository these are tens of thousands of records read back from disk.
    symbols = [
        Record(r.id, r.kind, r.path, r.start_line, r.end_line, r.commit, r.time, r.name, "", {"doc": r.meta["doc"]})
        for r in records
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
    mentioned = _mentioned(docs, memo)
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
        meaning = meaning_of(str(sym.meta["doc"]).strip().split("\n\n")[0], sentences=1)
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


def _assemble(terms: list[_Term], records: Iterable[Record]) -> list[Record]:
    """Pick the strongest definition of each term; the other places that define or describe it go in `also`."""
    groups: dict[str, list[_Term]] = {}
    for term in terms:
        groups.setdefault(_key(term.term), []).append(term)
    described = _describers(records, {_singular(key) for key in groups})
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


def _describers(records: Iterable[Record], wanted: set[str]) -> dict[str, set[str]]:
    """Paths by (singular, lower-case) name, for the names in `wanted`: doc sections titled with it and
    definitions named it."""
    out: dict[str, set[str]] = {}
    for rec in records:
        if rec.kind == "doc":
            name = str(rec.meta.get("title") or rec.name.split(" > ")[-1])
        elif rec.kind == "symbol":
            name = rec.name
        else:
            continue
        key = _singular(_key(name))
        if key in wanted:
            out.setdefault(key, set()).add(rec.path)
    return out


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
