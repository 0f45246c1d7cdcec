"""The one record schema every extractor emits and every later stage reads (`records.jsonl`)."""

from __future__ import annotations

import hashlib
import operator
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ctxeng.core.fsio import dumps_json, read_jsonl

#: Record kinds, with what `name`, `text` and `meta` hold for each:
#: - file:     one per extracted source file. name = path, text = module docstring / leading comment,
#:             meta = {language, blob, bytes, lines, definitions: [qualname], imports: [str],
#:                     refs: {identifier: count}}
#: - symbol:   a definition. name = identifier, text = its source (containers: header + docstring),
#:             meta = {language, kind, qualname, signature, doc, parent, calls: [identifier]}
#: - commit:   a non-merge commit. name = subject, text = full message,
#:             meta = {date, files: [{path, status}], symbols: [{path, name}], diff, diff_truncated,
#:                     bot (only when true: authored by a bot account)}
#: - cochange: one per file at HEAD. name = path, text = "", meta = {commits, partners: [{path, count, share}]}
#: - doc:      a design-doc section. name = heading path ("A > B"), text = section body,
#:             meta = {doc_kind, level, title}
#: - glossary: a project term. name = term, text = its meaning, meta = {source: "path:line", also: [paths]}
KINDS = ("file", "symbol", "commit", "cochange", "doc", "glossary")


def record_id(kind: str, *key: str) -> str:
    """A stable id from the record's kind and identifying key (never from line numbers or text)."""
    digest = hashlib.sha1("\x1f".join((kind, *key)).encode("utf-8", "backslashreplace")).hexdigest()
    return f"{kind[:3]}-{digest[:16]}"


@dataclass(frozen=True, slots=True)
class Record:
    """One unit of knowledge about the repository, with its provenance.

    `path`, `start_line` and `end_line` (1-based, inclusive; 0 when not tied to lines) say where it
    comes from; `commit` is the commit that last produced it ("" = staged, not yet committed) and
    `time` that commit's committer time in Unix seconds (0 when uncommitted). Records are redacted
    by the secret stage before they are written anywhere.
    """

    id: str
    kind: str
    path: str
    start_line: int
    end_line: int
    commit: str
    time: int
    name: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The record as a plain dict (the JSONL row); `meta` is shared, not copied.

        Spelled out rather than `dataclasses.asdict`, which deep-copies every meta value and made
        writing sqlalchemy's 60k records 40x slower.
        """
        return {
            "commit": self.commit, "end_line": self.end_line, "id": self.id, "kind": self.kind,
            "meta": self.meta, "name": self.name, "path": self.path, "start_line": self.start_line,
            "text": self.text, "time": self.time,
        }  # fmt: skip

    def dated(self, commit: str, time: int) -> Record:
        """A copy with another provenance commit and time (text and meta shared, not copied).

        Built directly: `dataclasses.replace` costs ~5 µs a record, a quarter second over sqlalchemy's symbols.
        """
        return Record(self.id, self.kind, self.path, self.start_line, self.end_line, commit, time,
                      self.name, self.text, self.meta)  # fmt: skip

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Record:
        """Rebuild a record from a JSONL row."""
        return cls(**row)


#: Meta values and lists that repeat across records (languages, kinds, called and imported names).
_SHARED_WORDS = ("language", "kind", "parent", "visibility")
_SHARED_LISTS = ("calls", "imports", "exports")


#: A record as a tuple of its fields in `Record`'s order (the extraction cache's and the history carry's rows).
Row = tuple[str, str, str, int, int, str, int, str, str, dict[str, Any]]
_SETTERS = tuple(getattr(Record, f.name).__set__ for f in fields(Record))


def record_from_row(row: Row) -> Record:
    """`Record(*row)` in a third of the time: the frozen class's `__init__` sets each field through
    `object.__setattr__`, its slots' own setters do the same directly (sqlalchemy's 43k cached code
    records and 15k carried commit records are read on every refresh). TypeError unless ten fields."""
    if len(row) != 10:
        raise TypeError("not a record row")
    rec = object.__new__(Record)
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9 = _SETTERS
    s0(rec, row[0]), s1(rec, row[1]), s2(rec, row[2]), s3(rec, row[3]), s4(rec, row[4])
    s5(rec, row[5]), s6(rec, row[6]), s7(rec, row[7]), s8(rec, row[8]), s9(rec, row[9])
    return rec


def share_meta_strings(meta: dict[str, Any], extra_words: tuple[str, ...] = ()) -> None:
    """Make `meta`'s repeated short strings one object each, in place (values unchanged).

    Records parsed from JSON or unpickled from workers hold every string as its own copy; a 100,000-file
    repository keeps ~800,000 of them through the build, so sharing the repeated ones matters.
    `extra_words` names further string values to share (e.g. `qualname`).
    """
    intern = sys.intern
    for key in (*_SHARED_WORDS, *extra_words):
        value = meta.get(key)
        if type(value) is str:
            meta[key] = intern(value)
    for key in _SHARED_LISTS:
        items = meta.get(key)
        if type(items) is list and items and all(type(x) is str for x in items):
            meta[key] = [intern(x) for x in items]
    refs = meta.get("refs")
    if type(refs) is dict and refs and all(type(k) is str for k in refs):
        meta["refs"] = {intern(k): n for k, n in refs.items()}


def sort_key(record: Record) -> tuple[str, str, int, str]:
    """Total order of records in `records.jsonl`: kind, path, line, then id to break ties."""
    return (record.kind, record.path, record.start_line, record.id)


#: `sort_key` in C (the same tuple): sorting sqlalchemy's 62k records calls it once per record.
_SORT_KEY = operator.attrgetter("kind", "path", "start_line", "id")


def dedupe_ids(records: Iterable[Record]) -> list[Record]:
    """Sort records and make ids unique (a repeated id gets a `~N` suffix in sorted order)."""
    ordered = sorted(records, key=_SORT_KEY)
    seen: dict[str, int] = {}
    out: list[Record] = []
    for rec in ordered:
        n = seen.get(rec.id, 0)
        seen[rec.id] = n + 1
        if n:
            rec = Record(**{**rec.to_json(), "id": f"{rec.id}~{n}"})
        out.append(rec)
    return out


def serialise(records: Iterable[Record]) -> Iterator[str]:
    """JSONL lines (with newline) for records in the given order."""
    for rec in records:
        yield dumps_json(rec.to_json()) + "\n"


def load_records(path: Path, kinds: Iterable[str] | None = None) -> list[Record]:
    """Read `records.jsonl`, optionally keeping only some kinds."""
    wanted = set(kinds) if kinds is not None else None
    out = []
    for row in read_jsonl(path):
        if wanted is None or row["kind"] in wanted:
            out.append(Record.from_json(row))
    return out
