"""Redaction remembered across builds for records whose content a key fixes (commit records by sha)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ctxeng.core.cache import CacheTable
from ctxeng.core.records import Record
from ctxeng.secrets.redact import Redactor

CACHE_FILE = "cache/redact/commits.json"


class RedactionMemo:
    """`Redactor.record` per key, with the rule counts it made, kept in `<out_dir>/cache/redact/`.

    A key must fix the record's content (with the salt: the extractor code and the settings that
    shape records and redaction). Most records hold no secret: their entry is just "unchanged",
    and the record built this run is used as it is.
    """

    def __init__(self, out_dir: Path, salt: str) -> None:
        self.table = CacheTable(out_dir / CACHE_FILE, salt)
        self.used: set[str] = set()

    def record(self, key: str, rec: Record, redactor: Redactor) -> Record:
        """`redactor.record(rec)`, its counts added to `redactor.counts`, from the memo when it has `key`."""
        self.used.add(key)
        entry = self.table.entries.get(key)
        if entry is not None:
            counts, data = entry
            if counts:
                redactor.counts.update(counts)
            return rec if data is None else Record.from_json(data)
        outer, redactor.counts = redactor.counts, Counter()
        try:
            out = redactor.record(rec)
            counts = dict(redactor.counts)
        finally:
            outer.update(redactor.counts)
            redactor.counts = outer
        self.table.put(key, [counts, None if out is rec else out.to_json()])
        return out

    def save(self) -> None:
        """Write back what changed (entries of records not seen this build are pruned in time)."""
        self.table.save(self.used)
