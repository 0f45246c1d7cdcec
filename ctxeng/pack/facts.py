"""What the pack knows about a repository, distilled from its (already redacted) records."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from ctxeng.core.display import safe_text
from ctxeng.core.record_runs import runs_of
from ctxeng.core.records import Record
from ctxeng.pack.prose import compact_signature as compact_signature  # re-exported: callers import them here
from ctxeng.pack.prose import first_sentence as first_sentence

if TYPE_CHECKING:
    from ctxeng.pack.facts_memo import FactsMemo


@dataclass(frozen=True, slots=True)
class Definition:
    """A definition (class, function, method ...) as the map and the index show it."""

    path: str
    line: int
    end_line: int
    name: str
    qualname: str
    kind: str
    signature: str
    doc: str  # first sentence of its docstring / leading comment
    parent: str
    public: bool
    calls: tuple[str, ...]
    variants: int = 1  # definitions of this qualname in the file (overloads, property setters) shown as one


@dataclass(frozen=True, slots=True)
class SourceFileFacts:
    """A code file: language, size, summary and how it links to other files."""

    path: str
    language: str
    lines: int
    doc: str  # first sentence of the module docstring / leading comment
    imports: tuple[str, ...]
    refs: dict[str, int]
    exports: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DocSection:
    """A section of a design document."""

    path: str
    line: int
    heading: str  # "A > B"
    title: str
    doc_kind: str
    level: int
    text: str


@dataclass(frozen=True, slots=True)
class Commit:
    """A non-merge commit: what changed and why (its subject)."""

    sha: str
    time: int
    date: str
    subject: str
    body: str
    files: tuple[str, ...]
    added: int
    deleted: int
    bot: bool = False  # authored by a bot account
    # (path, name) of the definitions its patch touched (only commits inside the history stage's patch window)
    symbols: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Term:
    """A glossary entry."""

    term: str
    meaning: str
    source: str
    kind: str


@dataclass
class RepoFacts:
    """Everything the pack renders, in deterministic order (sorted by path, line, name)."""

    name: str
    head: str = ""
    files: dict[str, SourceFileFacts] = field(default_factory=dict)
    defs: list[Definition] = field(default_factory=list)
    docs: list[DocSection] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)  # newest first
    cochange: dict[str, list[tuple[str, int, float]]] = field(default_factory=dict)
    change_counts: dict[str, int] = field(default_factory=dict)  # commits touching each file
    last_changed: dict[str, str] = field(default_factory=dict)  # tracked path → date of its newest commit
    glossary: list[Term] = field(default_factory=list)
    tracked: list[str] = field(default_factory=list)  # every tracked path (code or not), sorted
    commit_count: int = 0  # all mined commits (`commits` may be trimmed to the newest)
    first_date: str = ""  # date of the oldest mined commit


def _is_overload(sig: str) -> bool:
    return sig.startswith(("@overload", "@typing.overload", "@t.overload", "@typing_extensions.overload"))


def collapse_variants(defs: list[Definition]) -> list[Definition]:
    """One definition per (path, qualname): overloads and property setters fold into the real one.

    The representative is the first definition that is not an `@overload` stub (else the first);
    it keeps its own line and records how many definitions it stands for.
    """
    keys = list(map(attrgetter("path", "qualname"), defs))
    counts = Counter(keys)
    if len(counts) == len(defs):
        return defs
    groups: dict[tuple[str, str], list[Definition]] = {}
    for key, d in zip(keys, defs):
        if counts[key] > 1:
            groups.setdefault(key, []).append(d)
    chosen = {
        key: next((g for g in group if not _is_overload(g.signature)), group[0])
        for key, group in groups.items()
    }
    out = []
    for key, d in zip(keys, defs):
        if key not in groups:
            out.append(d)
        elif chosen[key] is d:
            out.append(replace(d, variants=len(groups[key])))
    return out


def _symbols(rows: Any) -> tuple[tuple[str, str], ...]:
    """A commit record's touched definitions as sorted (path, name) pairs (malformed rows skipped)."""
    pairs = {
        (safe_text(str(r.get("path", ""))), safe_text(str(r.get("name", ""))))
        for r in rows if isinstance(r, dict) and r.get("path") and r.get("name")
    }  # fmt: skip
    return tuple(sorted(pairs))


def _meta(rec: Record, key: str, default: Any) -> Any:
    value = rec.meta.get(key, default)
    return default if value is None else value


def definition_of(rec: Record, shared: dict[str, str] | None = None) -> Definition:
    """The definition a `symbol` record describes (its path made display-safe by the caller).

    `shared` (text → itself) makes equal docstring sentences and signatures one object each: methods
    of one shape repeat theirs across files (the synthetic 100,000-file repository: ~70 MB of copies
    in the pack stage)."""
    meta = rec.meta
    doc = first_sentence(str(meta.get("doc") or ""))
    signature = compact_signature(str(meta.get("signature") or ""), rec.name)
    if shared is not None:
        doc, signature = shared.setdefault(doc, doc), shared.setdefault(signature, signature)
    return Definition(
        path=rec.path, line=rec.start_line, end_line=rec.end_line, name=rec.name,
        qualname=str(meta.get("qualname") or rec.name), kind=str(meta.get("kind") or ""),
        signature=signature,
        doc=doc, parent=str(meta.get("parent") or ""),
        public=meta.get("visibility") != "private" and not rec.name.startswith("_"),
        calls=(),  # not used by ranking (file-level references are), so not kept
    )  # fmt: skip


def commit_of(rec: Record) -> Commit:
    """The commit a `commit` record describes."""
    stats = dict(_meta(rec, "stats", {}))
    files = tuple(
        sorted(safe_text(str(f.get("path", ""))) for f in _meta(rec, "files", []) if isinstance(f, dict))
    )
    subject, _, body = rec.text.partition("\n")
    return Commit(
        sha=rec.commit, time=rec.time, date=str(_meta(rec, "date", "")), subject=rec.name or subject,
        body=body.strip(), files=files, added=int(stats.get("added", 0) or 0),
        deleted=int(stats.get("deleted", 0) or 0), bot=bool(rec.meta.get("bot")),
        symbols=_symbols(_meta(rec, "symbols", [])),
    )  # fmt: skip


def facts_from_records(
    name: str,
    records: Iterable[Record],
    tracked: Iterable[str] = (),
    head: str = "",
    memo: FactsMemo | None = None,
) -> RepoFacts:
    """Distil records (any order) into `RepoFacts`; unknown kinds and missing meta keys are tolerated.

    With `memo` (`ctxeng.pack.facts_memo`), definitions and commits of records it has seen come from
    it instead of being distilled again; the facts are the same.
    """
    if memo is not None and not isinstance(records, Sequence):
        records = list(records)  # read again when the memo's runs of definitions cannot be joined
    facts = _distil(name, records, head, memo, runs=memo is not None)
    if facts is None:  # a stored file's run shares its path with an escaped file name's definitions
        facts = _distil(name, records, head, memo, runs=False)
        assert facts is not None
    return _finish(facts, tracked)


def _distil(
    name: str, records: Iterable[Record], head: str, memo: FactsMemo | None, runs: bool
) -> RepoFacts | None:
    """`records` as facts, their definitions ordered (`collapse_variants` of the sorted list), the rest
    not yet; definitions through the memo's sorted runs per file when `runs` (None: they cannot be joined)."""
    facts = RepoFacts(name=name, head=head)
    commits = facts.commits
    shared: dict[str, str] = {}  # `definition_of`'s shared docstring sentences and signatures
    commit_records: list[Record] = []  # through the memo in one go (`FactsMemo.commits`)
    # Run by run of one kind and path (in C): a file's symbol records are one run when sorted, and
    # the memo takes a known file's run without a step per record (sqlalchemy: 43k records).
    for (kind, original), run in runs_of(records):
        # A file name with a newline would become a heading of its own.
        shown = original if original.isprintable() else safe_text(original)
        if kind == "symbol" and runs:
            memo.add_definitions(original, shown, run)  # type: ignore[union-attr]
            continue
        recs: Iterable[Record] = run
        if shown is not original:
            recs = [replace(rec, path=shown) for rec in recs]
        if kind == "commit" and memo is not None:
            commit_records += recs
        else:
            _take_run(facts, kind, recs, shared)
    if commit_records:
        commits += memo.commits(commit_records)  # type: ignore[union-attr]
    if runs:
        defs = memo.definitions()  # type: ignore[union-attr]
        if defs is None:
            return None
        facts.defs = defs
    else:
        facts.defs = collapse_variants(sorted(facts.defs, key=attrgetter("path", "line", "qualname", "kind")))
    return facts


def _take_run(facts: RepoFacts, kind: str, recs: Iterable[Record], shared: dict[str, str]) -> None:
    """Add records `recs`, all of `kind` (their paths display-safe), to `facts`; `shared` as in
    `definition_of`."""
    if kind == "symbol":
        facts.defs += (definition_of(rec, shared) for rec in recs)
    elif kind == "commit":
        facts.commits += map(commit_of, recs)
    elif kind == "file":
        for rec in recs:
            facts.files[rec.path] = SourceFileFacts(
                path=rec.path, language=str(_meta(rec, "language", "")), lines=int(_meta(rec, "lines", rec.end_line)),
                doc=first_sentence(rec.text), imports=tuple(sorted(str(i) for i in _meta(rec, "imports", []))),
                refs={str(k): int(v) for k, v in sorted(dict(_meta(rec, "refs", {})).items())},
                exports=tuple(sorted({str(e) for e in _meta(rec, "exports", [])})),
            )  # fmt: skip
    elif kind == "doc":
        facts.docs += (
            DocSection(
                path=rec.path, line=rec.start_line, heading=rec.name, title=str(_meta(rec, "title", rec.name)),
                doc_kind=str(_meta(rec, "doc_kind", "other")), level=int(_meta(rec, "level", 1)), text=rec.text,
            )
            for rec in recs
        )  # fmt: skip
    elif kind == "cochange":
        for rec in recs:
            facts.change_counts[rec.path] = int(_meta(rec, "commits", 0))
            partners = [
                (safe_text(str(p.get("path", ""))), int(p.get("count", 0)), float(p.get("share", 0.0)))
                for p in _meta(rec, "partners", [])
                if isinstance(p, dict)
            ]
            facts.cochange[rec.path] = sorted(partners, key=lambda p: (-p[1], p[0]))
    elif kind == "glossary":
        facts.glossary += (
            Term(term=rec.name, meaning=rec.text.strip(), source=str(_meta(rec, "source", f"{rec.path}:{rec.start_line}")),
                 kind=str(_meta(rec, "kind", "")))
            for rec in recs
        )  # fmt: skip


def _finish(facts: RepoFacts, tracked: Iterable[str]) -> RepoFacts:
    """Order and summarise what `_distil` gathered: commits newest first, per-file dates and counts."""
    facts.commits.sort(key=lambda c: (-c.time, c.sha))
    facts.files = dict(sorted(facts.files.items()))
    facts.tracked = sorted({safe_text(t) for t in tracked} | set(facts.files) | {d.path for d in facts.docs})
    tracked_set = set(facts.tracked)
    counts: dict[str, int] = Counter(chain.from_iterable(map(attrgetter("files"), facts.commits)))
    # Oldest first, so the newest date wins.
    dated = [(commit.date[:10], commit.files) for commit in reversed(facts.commits)]
    newest = {path: day for day, files in dated for path in files}
    facts.last_changed = {p: day for p, day in sorted(newest.items()) if p in tracked_set}
    for path, n in facts.change_counts.items():  # a cochange record may count commits beyond those mined
        counts[path] = max(n, counts.get(path, 0))
    facts.change_counts = dict(sorted(counts.items()))
    facts.docs.sort(key=attrgetter("path", "line", "heading"))
    facts.commit_count = len(facts.commits)
    facts.first_date = facts.commits[-1].date if facts.commits else ""
    facts.cochange = dict(sorted(facts.cochange.items()))
    facts.glossary.sort(key=lambda t: (t.term.lower(), t.term))
    from ctxeng.pack.describe import describe_files  # describe builds on this module

    describe_files(facts)  # every code file gets a one-line "what it does"
    return facts
