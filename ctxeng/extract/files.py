"""The per-file stages, code and docs: each file version is extracted and redacted once, then cached."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field

from ctxeng.core.cache import ExtractCache, checked_row, row_record
from ctxeng.core.config import DocsConfig
from ctxeng.core.gcpause import gc_paused
from ctxeng.core.progress import Progress
from ctxeng.core.provenance import Provenance
from ctxeng.core.record_store import CODE, DOCS, RecordStore
from ctxeng.core.records import Record, Row, record_from_row, share_meta_strings
from ctxeng.extract.code import extract_code_batches, header_language, language_of
from ctxeng.extract.doc_paths import doc_kind
from ctxeng.extract.languages import language_for
from ctxeng.extract.selection import SourceFile, load_texts
from ctxeng.secrets import Redactor


@dataclass
class FileRecords:
    """Redacted `file`/`symbol` (code) and `doc` records, with their counters; undated unless
    `extract_files` was given a provenance."""

    code: list[Record] = field(default_factory=list)
    docs: list[Record] = field(default_factory=list)
    docs_stats: Counter[str] = field(default_factory=Counter)
    redactions: Counter[str] = field(default_factory=Counter)
    cached: int = 0
    #: Per path, the extraction cache's key of the version extracted (with a cache only): the records
    #: of a path are a function of it, so the records writer can reuse their bytes (`pipeline.records_write`).
    keys: dict[str, str] = field(default_factory=dict)
    #: Where the records go instead of `code` and `docs` when given (`extract_files`'s `store`).
    store: RecordStore | None = None


def extract_files(
    files: list[SourceFile],
    docs: DocsConfig | None,
    redactor: Redactor,
    cache: ExtractCache | None,
    progress: Progress,
    headers: str | None = None,
    provenance: Provenance | None = None,
    store: RecordStore | None = None,
) -> FileRecords:
    """Code and doc records of `files` (docs skipped when `docs` is None), from the cache where possible.

    Records carry no provenance yet (commit "", time 0): dating them is the caller's job, so a cached
    entry stays valid as history moves on. `headers` says what `.h` files are read as (see
    `header_language`); by default it is decided from `files`, the build's whole selection.
    With `provenance`, every record comes dated by it (`Provenance.stamp`'s dating; the cache still
    stores them undated): those read from the cache are built dated, not built and then copied.
    With `store`, the records are added to it (code, then docs: `record_store.CODE`/`DOCS`) as each
    file is done, and `code` and `docs` stay empty.
    """
    headers = headers or header_language(source.path for source in files)
    out = FileRecords(store=store)
    misses: list[SourceFile] = []
    # Reading the hits allocates only acyclic objects (tens of thousands of records on a large
    # repository): a collection pass during it is wasted work, a sixth of the stage on sqlalchemy.
    make = row_record if provenance is None else _Dating(provenance).record
    with gc_paused():
        for source in files:
            version = _version(source, headers)
            hit = cache.get(source.path, version, make=make) if cache else None
            if cache:
                out.keys[source.path] = cache.key(source.path, version)
            if hit is None:
                misses.append(source)
                continue
            records, counters = hit
            _add(out, records, counters, shared=True)
            out.cached += 1
    load_texts(misses)  # files selected by a stored verdict are read now, all in one batch
    # File by file as extracted (in the order of `misses`): with a store, never all records at once.
    batches = extract_code_batches(misses, Provenance(), progress, headers)
    pending = next(batches, None)
    for source in misses:
        stats: Counter[str] = Counter()
        raw: list[Record] = []
        while pending is not None and pending[0].path == source.path:
            raw = raw + pending[1]
            pending = next(batches, None)
        if docs is not None and doc_kind(source.path) is not None:
            from ctxeng.extract.docs import (
                extract_doc_file,  # the splitters' regexes: only when a doc changed
            )

            raw = raw + extract_doc_file(source.path, source.text, "", 0, docs, stats)
        before = Counter(redactor.counts)
        records = redactor.records(raw)
        counters = {"docs": dict(stats), "redactions": dict(redactor.counts - before)}
        if cache:
            cache.put(source.path, _version(source, headers), records, counters)
        _add(out, provenance.stamp(records) if provenance is not None else records, counters)
    return out


def _version(source: SourceFile, headers: str) -> str:
    """The cache's version id of a file: its blob, plus the language when the build chose it (`.h`)."""
    spec = language_of(source.path, headers)
    if spec is None or spec is language_for(source.path):
        return source.blob
    return f"{source.blob}:{spec.name}"


def _add(
    out: FileRecords, records: list[Record], counters: dict[str, dict[str, int]], shared: bool = False
) -> None:
    """Add a file's records and counters to `out` (`shared`: their strings are already shared)."""
    code: list[Record] = [] if out.store is not None else out.code
    docs: list[Record] = [] if out.store is not None else out.docs
    for rec in records:
        if not shared:
            rec = _shared_strings(rec)
        (docs if rec.kind == "doc" else code).append(rec)
    if out.store is not None:
        out.store.extend(code, CODE)
        out.store.extend(docs, DOCS)
    out.docs_stats.update(counters.get("docs", {}))
    out.redactions.update(counters.get("redactions", {}))


class _Dating:
    """`Provenance.stamp`'s dating of the records read from the cache, each file's answer for the
    definitions no patch touched found once (most of a file's definitions, ~45k on sqlalchemy)."""

    def __init__(self, dating: Provenance) -> None:
        self.dating = dating
        self._unseen: dict[str, tuple[str, int]] = {}

    def record(self, row: Row) -> Record:
        """A cache entry's row as a dated record: built once, not built and then copied. Its strings
        are shared as the cache interned them."""
        rid, kind, path, start, end, _, _, name, text, meta = checked_row(row)
        dating = self.dating
        if kind != "symbol":
            commit, when = dating.of_file(path)
        elif path in dating.staged or (path, name) in dating.symbol_commits:
            commit, when = dating.of_symbol(path, name)
        else:  # most definitions: the file's one answer
            unseen = self._unseen.get(path)
            if unseen is None:
                unseen = self._unseen[path] = dating.of_unseen_symbol(path)
            commit, when = unseen
        return record_from_row((rid, kind, path, start, end, commit, when, name, text, meta))


def _shared_strings(rec: Record) -> Record:
    """`rec` with its repeated short strings (kind, path, language, called and referenced names) made one
    object each across all records (`core.records.share_meta_strings`). Values and order are unchanged.
    """
    intern = sys.intern
    share_meta_strings(rec.meta)
    return Record(rec.id, intern(rec.kind), intern(rec.path), rec.start_line, rec.end_line, rec.commit,
                  rec.time, rec.name, rec.text, rec.meta)  # fmt: skip
