"""Lookups over the records that the task templates share (built once per dataset run)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ctxeng.records import Record, sort_key

#: Symbol kinds whose records hold a body (functions and methods, as the tags queries name them).
CALLABLE_KINDS = frozenset({"function", "method", "constructor", "func", "fn"})


@dataclass
class RecordIndex:
    """Records by kind and the views tasks need, every list in `records.sort_key` order."""

    by_kind: dict[str, list[Record]] = field(default_factory=dict)
    files: dict[str, Record] = field(default_factory=dict)
    symbols_in: dict[str, list[Record]] = field(default_factory=dict)
    symbols_named: dict[str, list[Record]] = field(default_factory=dict)

    @classmethod
    def build(cls, records: list[Record]) -> RecordIndex:
        """Index `records` (any order; the index sorts)."""
        by_kind: dict[str, list[Record]] = defaultdict(list)
        for rec in sorted(records, key=sort_key):
            by_kind[rec.kind].append(rec)
        index = cls(by_kind=dict(by_kind))
        for rec in index.kind("file"):
            index.files.setdefault(rec.path, rec)
        symbols_in: dict[str, list[Record]] = defaultdict(list)
        symbols_named: dict[str, list[Record]] = defaultdict(list)
        for rec in index.kind("symbol"):
            symbols_in[rec.path].append(rec)
            symbols_named[rec.name].append(rec)
        index.symbols_in, index.symbols_named = dict(symbols_in), dict(symbols_named)
        return index

    def kind(self, kind: str) -> list[Record]:
        """All records of `kind` in sort order."""
        return self.by_kind.get(kind, [])


def qualname(rec: Record) -> str:
    """A symbol's qualified name (falls back to its name)."""
    return str(rec.meta.get("qualname") or rec.name)


def is_public(rec: Record) -> bool:
    """Whether a symbol is part of the file's interface: no leading underscore on any part."""
    return not any(part.startswith("_") for part in qualname(rec).split("."))


def newest(records: list[Record]) -> tuple[str, int]:
    """The newest (commit, time) among `records`; uncommitted ("", 0) wins over any commit."""
    if any(not rec.commit for rec in records):
        return "", 0
    best = max(records, key=lambda r: (r.time, r.commit))
    return best.commit, best.time
