"""The compact search index (`.ctxeng/index.json`) that `ctxeng context` reads instead of the records.

Columns (lists per field) rather than rows keep the JSON fast to parse on every prompt; postings
map a stemmed term to the rows that contain it, per row type. What only the final output needs
(signatures, docstrings, doc excerpts) lives in `index-details.jsonl`, one JSON row per line,
read by byte offset for the few rows a prompt selects. Everything is sorted so the bytes are stable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from itertools import accumulate, chain
from json.encoder import encode_basestring
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, overload

from ctxeng.core.fsio import dumps_json_bytes
from ctxeng.core.tokens import TOKENIZER_NAME
from ctxeng.pack.facts import Definition, RepoFacts, first_sentence
from ctxeng.pack.index.docs_part import doc_parts
from ctxeng.pack.index.reader import DETAILS_FILE, INDEX_FILE, INDEX_VERSION, SCALE
from ctxeng.pack.index.terms_memo import Terms
from ctxeng.pack.paths import is_vendored
from ctxeng.pack.rank import Ranking

if TYPE_CHECKING:
    from ctxeng.pack.conventions import Conventions

MAX_COMMITS = 2_000  # newest commits kept for prompt matching
MAX_NEIGHBOURS = 8
MAX_COMMIT_DEFS = 12  # a commit touching more definitions (a rename, a sweep) associates none
DATA_KINDS = frozenset({"field", "constant", "variable", "attribute", "property_field", "enum_member"})
DOC_TERMS = 12  # terms of a definition's docstring sentence that a prompt can match

# Columns (documented here, read by ctxeng.pack.context):
# files:    path, score, summary            near: per file, flat [file, weight‰, file, weight‰, ...]
# defs:     file, name (into `names`), parent (def row or -1), line, score, code (1 = a callable or type,
#           0 = a field, constant or variable)
#           details row i: [signature, doc, kind, end line]
# docs:     path, line, heading             details row len(defs) + j: [excerpt]
# terms:    kind → stemmed term → rows; kinds d(efinition names), e (their docstrings' first sentence), f(ile paths), s(ection headings),
#           b(odies of sections, first words), c(ommit subjects), g(lossary terms)
# commits:  sha, date, subject, files, touched (flat [file, definition name, ...] its patch touched)
# glossary: term, meaning, source


def _scaled(x: float, top: float) -> int:
    return round(SCALE * x / top) if top > 0 else 0


def build_index(
    facts: RepoFacts, ranking: Ranking, conv: Conventions, terms: Terms | None = None
) -> tuple[dict[str, Any], DetailRows]:
    """The index as plain data, and the detail rows (one JSON text each) it points into.

    `terms` splits names and texts into search terms (`ctxeng.pack.index.terms_memo`: through the
    terms an earlier build stored); the index is the same with or without it."""
    terms = terms or Terms()
    name_terms, text_terms = terms.name, terms.text
    paths = [p for p in facts.files if not is_vendored(p)]
    row = {p: i for i, p in enumerate(paths)}
    top_file = max(ranking.file_score.values(), default=0.0)
    top_def = max(ranking.def_score, default=0.0)
    kept = [i for i, d in enumerate(facts.defs) if d.path in row]
    defs = facts.defs if len(kept) == len(facts.defs) else [facts.defs[i] for i in kept]
    def_scores = ranking.def_score if len(kept) == len(facts.defs) else [ranking.def_score[i] for i in kept]
    docs = [d for d in facts.docs if d.text.strip()]
    commits = facts.commits[:MAX_COMMITS]
    # Column by column with `map` (the loops run in C: 43k definitions on sqlalchemy).
    def_names = list(map(attrgetter("name"), defs))
    def_paths = list(map(attrgetter("path"), defs))
    # Names are stored once (a large repository repeats `__init__`, `get` ... thousands of times) and
    # qualified names are rebuilt from parent links when a prompt needs them.
    names = sorted(set(def_names))
    name_id = dict(zip(names, range(len(names))))
    name_col = list(map(name_id.__getitem__, def_names))
    # The ranking's parent rows are these when no definition was left out (`heat.parent_rows`: the same rule).
    whole = defs is facts.defs and ranking.parents is not None and len(ranking.parents) == len(defs)
    parents = list(ranking.parents) if whole and ranking.parents is not None else _parents(defs)
    postings: dict[str, dict[str, list[int]]] = {
        "d": _name_postings(names, name_col, name_terms),
        "e": {},
        "f": {},
    }
    post_e = postings["e"]
    for n, d in enumerate(defs):
        if d.doc:
            named = name_terms(d.name)
            _post(post_e, [t for t in text_terms(d.doc, DOC_TERMS) if t not in named], n)
    for n, p in enumerate(paths):
        _post(postings["f"], name_terms(p.rsplit(".", 1)[0]), n)
    doc_part = doc_parts(docs, text_terms, terms.out_dir)
    details = DetailRows(defs, doc_part["rows"])
    postings["s"], postings["b"], postings["c"], postings["g"] = doc_part["s"], doc_part["b"], {}, {}
    for n, c in enumerate(commits):
        _post(postings["c"], text_terms(c.subject, 16), n)
    for n, t in enumerate(facts.glossary):
        _post(postings["g"], name_terms(t.term), n)
    index = {
        "version": INDEX_VERSION,
        "repository": facts.name,
        "head": facts.head,
        "tokenizer": TOKENIZER_NAME,
        "files": {"path": paths, "score": [_scaled(ranking.file_score.get(p, 0.0), top_file) for p in paths],
                  "summary": [facts.files[p].doc for p in paths]},
        "near": _neighbours(facts, ranking, row),
        "names": names,
        "defs": {"file": list(map(row.__getitem__, def_paths)), "name": name_col,
                 "parent": parents, "line": list(map(attrgetter("line"), defs)),
                 "code": [0 if kind in DATA_KINDS else 1 for kind in map(attrgetter("kind"), defs)],
                 "score": [round(SCALE * x / top_def) for x in def_scores] if top_def > 0 else [0] * len(defs)},
        "docs": {"path": [d.path for d in docs], "line": [d.line for d in docs], "heading": [d.heading for d in docs]},
        "commits": {"sha": [c.sha[:12] for c in commits], "date": [c.date[:10] for c in commits],
                    "subject": [c.subject for c in commits],
                    "files": [sorted(row[p] for p in c.files if p in row)[:8] for c in commits],
                    "touched": [_touched(c.symbols, row) for c in commits]},
        "glossary": {"term": [t.term for t in facts.glossary],
                     "meaning": [first_sentence(t.meaning, 200) for t in facts.glossary],
                     "source": [t.source for t in facts.glossary]},
        "commands": [[c.category, c.command] for c in conv.commands[:12]],
        "terms": {kind: dict(sorted(table.items())) for kind, table in postings.items()},
        "details": {"file": DETAILS_FILE, "defs": len(kept), "offsets": _offsets(details)},
    }  # fmt: skip
    return index, details


#: Definitions past which `DetailRows` spells their rows anew on each read rather than holding them
#: (spelling twice costs ~20 ms on sqlalchemy's 43k, whose refresh keeps one spelling).
LAZY_DETAILS = 100_000


class DetailRows(Sequence[str]):
    """The details file's rows: the definitions' (past `LAZY_DETAILS` of them spelled anew on each read:
    held as strings they were ~100 MB at the pack stage's peak at 100,000 files; issue 12), then the
    doc sections' `docs`."""

    def __init__(self, defs: Sequence[Definition], docs: list[str]) -> None:
        self.defs, self.docs = defs, docs
        self.held = list(_def_rows(defs)) if len(defs) <= LAZY_DETAILS else None

    def __len__(self) -> int:
        return len(self.defs) + len(self.docs)

    def __iter__(self) -> Iterator[str]:
        return chain(_def_rows(self.defs) if self.held is None else self.held, self.docs)

    @overload
    def __getitem__(self, at: int) -> str: ...
    @overload
    def __getitem__(self, at: slice) -> list[str]: ...
    def __getitem__(self, at: int | slice) -> str | list[str]:
        if isinstance(at, slice):
            return list(self)[at]
        n = len(self.defs)
        at = at + len(self) if at < 0 else at
        if not 0 <= at < len(self):
            raise IndexError(at)
        if at >= n:
            return self.docs[at - n]
        return next(_def_rows(self.defs[at : at + 1])) if self.held is None else self.held[at]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]


def _def_rows(defs: Sequence[Definition]) -> Iterator[str]:
    """The definitions' detail rows, spelled as they are read."""
    # Rows of strings only: the JSON string encoder that `dumps_json` itself uses, without building an
    # encoder per row (a third of the index's CPU on 44k rows).
    q = encode_basestring
    return map("[{},{},{},{}]".format, map(q, map(attrgetter("signature"), defs)), map(q, map(attrgetter("doc"), defs)),
               map(q, map(attrgetter("kind"), defs)), map(attrgetter("end_line"), defs))  # fmt: skip


def _parents(defs: list[Definition]) -> list[int]:
    """Per definition, the row of the first one in its file whose qualified name is its parent, or -1."""
    # Keyed only by the scopes that are some definition's parent, not by every definition (~700,000
    # tuples at 100,000 files).
    scopes = {(d.path, d.parent) for d in defs if d.parent}
    by_qual: dict[tuple[str, str], int] = {}
    for n, d in enumerate(defs):
        if (d.path, d.qualname) in scopes:
            by_qual.setdefault((d.path, d.qualname), n)
    return [by_qual.get((d.path, d.parent), -1) if d.parent else -1 for d in defs]


def shrink_touched(facts: RepoFacts, wider_than: int = 0) -> None:
    """Cut, in place, the touched definitions of each commit changing more than `wider_than` files to
    what `build_index` can still tell from them.

    A commit that touched more indexed definitions than `MAX_COMMIT_DEFS` is indexed as touching none
    (`_touched`): its first `MAX_COMMIT_DEFS + 1` are enough to say so. The first commit of a 100,000-file
    repository touched ~700,000 (~45 MB of pairs at the pack stage's peak; issue 12). Ranking reads
    those of commits changing at most `heat.WIDE_COMMIT` files: before `rank`, pass that.
    """
    indexed: set[str] | None = None  # made only when a commit qualifies (most refreshes: none)
    for n, commit in enumerate(facts.commits):
        if len(commit.symbols) > MAX_COMMIT_DEFS and len(commit.files) > wider_than:
            if indexed is None:
                indexed = {p for p in facts.files if not is_vendored(p)}
            pairs = [pair for pair in commit.symbols if pair[0] in indexed][: MAX_COMMIT_DEFS + 1]
            if len(pairs) > MAX_COMMIT_DEFS:
                facts.commits[n] = replace(commit, symbols=tuple(pairs))


def _touched(symbols: tuple[tuple[str, str], ...], row: dict[str, int]) -> list[int | str]:
    """A commit's touched definitions as a flat [file row, name, ...] list (by name, so they outlive
    the definition rows an index patch renumbers); none when it touched more than `MAX_COMMIT_DEFS`
    (a rename or a sweep says nothing about any one definition)."""
    pairs = [(row[p], n) for p, n in symbols if p in row]
    return [x for f, n in sorted(pairs) for x in (f, n)] if len(pairs) <= MAX_COMMIT_DEFS else []


def _offsets(rows: Iterable[str]) -> list[int]:
    """Byte offset of each row in the details file, plus its total length."""
    # Each row's UTF-8 length plus its newline, summed up (the whole loop runs in C).
    return list(accumulate(map((1).__add__, map(len, map(str.encode, rows))), initial=0))


def _name_postings(
    names: list[str], name_col: list[int], name_terms: Callable[[str], list[str]]
) -> dict[str, list[int]]:
    """Postings of definition names: each term → the rows (ascending, once per time the term occurs
    in a row's name) of the definitions whose name has it. Split once per distinct name (a large
    repository repeats `__init__`, `get` ... thousands of times), not per row; posted row by row, so
    each list comes out ascending with no merge (sorting merged per-name lists cost as much again)."""
    split = list(map(name_terms, names))
    table: dict[str, list[int]] = {}
    get = table.get
    for n, k in enumerate(name_col):
        for term in split[k]:
            rows = get(term)
            if rows is None:
                table[term] = [n]
            else:
                rows.append(n)
    return table


def _post(table: dict[str, list[int]], terms: list[str], i: int) -> None:
    for term in terms:
        table.setdefault(term, []).append(i)


def _neighbours(facts: RepoFacts, ranking: Ranking, row: dict[str, int]) -> list[list[int]]:
    """Per file, its strongest neighbours as a flat [file, weight in ‰, ...] list: reference edges
    (both directions) and co-change partners."""
    weight: dict[int, dict[int, float]] = {i: {} for i in range(len(row))}
    for src, targets in ranking.edges.items():
        a = row.get(src)
        if a is None:
            continue
        total = sum(targets.values()) or 1.0
        mine = weight[a]
        for dst, w in targets.items():
            b = row.get(dst)
            if b is not None and b != a:
                mine[b] = mine.get(b, 0.0) + w / total
                theirs = weight[b]  # being used by a file is a weaker tie than using it
                theirs[a] = theirs.get(a, 0.0) + 0.5 * w / total
    for path, partners in facts.cochange.items():
        a = row.get(path)
        if a is None:
            continue
        mine = weight[a]
        for other, _, share in partners:
            b = row.get(other)
            if b is not None and b != a:
                mine[b] = mine.get(b, 0.0) + share
    out = []
    for i in range(len(row)):
        # Heaviest first, ties by row: sorted on (-weight, row) pairs (no key function call per pair).
        near = sorted([(-w, j) for j, w in weight[i].items()])[:MAX_NEIGHBOURS]
        out.append([x for w, j in near for x in (j, max(1, round(-1000 * w)))])
    return out


def write_index(folder: Path, index: dict[str, Any], details: Iterable[str]) -> None:
    """Write `index.json` and its details file into `folder` (deterministic bytes).

    Streamed: at 100,000 files each file is ~60 MB, and joining, decoding and encoding it whole
    cost ~120 MB each at the pack stage's peak (issue 12).
    """
    write_details(folder, details)
    write_index_json(folder, index)


def write_details(folder: Path, details: Iterable[str]) -> None:
    """Write the details file (`build_index`'s rows, one per line) into `folder`."""
    with (folder / DETAILS_FILE).open("w", encoding="utf-8") as fh:
        fh.writelines(f"{row}\n" for row in details)


def write_index_json(folder: Path, index: dict[str, Any]) -> None:
    """Write `index.json` into `folder` (deterministic bytes), streamed (see `write_index`)."""
    with (folder / INDEX_FILE).open("wb") as out:
        _write_json(out, index, 2)
        out.write(b"\n")


def _write_json(out: BinaryIO, value: Any, depth: int) -> None:
    """Write `dumps_json_bytes(value)` to `out`, the objects of the first `depth` levels member by member:
    the same bytes (sorted keys, compact separators) without the whole text in memory at once (the
    index's postings alone are tens of MB at 100,000 files; issue 12)."""
    if depth <= 0 or type(value) is not dict or not all(type(key) is str for key in value):
        out.write(dumps_json_bytes(value))
        return
    sep = b"{"
    for key in sorted(value):
        out.write(sep + dumps_json_bytes(key) + b":")
        _write_json(out, value[key], depth - 1)
        sep = b","
    out.write(b"}" if sep == b"," else b"{}")
