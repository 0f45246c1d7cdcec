"""A cache table that writes what a build added to a small side file instead of rewriting itself.

`CacheTable` rewrites its whole file when one entry changes. The tables a rebuild touches in a
few entries are large (sqlalchemy: the pack stage's distilled facts ~20-40 MB, the mined history
~20 MB), so after a one-file commit each refresh rewrote tens of megabytes to add two entries.
`JournalTable` keeps the same contract (entries by key under a salt; an entry's value is a pure
function of its key, so any mix of files holding entries is as good as one) and writes new
entries to `<file>.new`, folding them into the main file once they are an eighth of it, or when
unused entries are dropped. A torn or unreadable journal reads as empty: only misses, never wrong.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from ctxeng.core.cache import KEEP_RATIO, _load_table, _store_table

#: The journal is folded into the main file once it holds more than this share of the main's entries
#: (a first build, with no main file yet, writes the main file).
JOURNAL_SHARE = 8


class JournalTable:
    """`CacheTable`'s interface (`entries`, `put`, `save`), with additions journaled (see the module docstring)."""

    def __init__(self, path: Path, salt: str) -> None:
        self.path, self.salt = path, salt
        self.journal = path.with_name(path.name + ".new")
        self._entries: dict[str, Any] | None = None
        self._added: dict[str, Any] = {}  # the journal's entries: read back, then this build's
        self._main = 0  # entries in the main file
        self.dirty = False

    @property
    def entries(self) -> dict[str, Any]:
        """Every entry, main file and journal (read on first use)."""
        if self._entries is None:
            entries = _load_table(self.path, self.salt)
            self._main = len(entries)
            self._added = _load_table(self.journal, self.salt)
            entries.update(self._added)
            self._entries = entries
        return self._entries

    def put(self, key: str, value: Any) -> None:
        """Set the entry of `key`."""
        self.entries[key] = value
        self._added[key] = value
        self.dirty = True

    def save(self, used: set[str], drop_unused: bool = False) -> None:
        """Write what changed: the journal, or (when it is large, or unused entries outnumber the `used`
        ones `KEEP_RATIO` to one, or `drop_unused`, and are dropped) the main file, the journal then removed."""
        entries = self.entries
        prune = (drop_unused and len(entries) > len(used)) or len(entries) > (KEEP_RATIO + 1) * max(
            1, len(used)
        )
        if prune:
            for key in [k for k in entries if k not in used]:
                del entries[key]
        try:
            if prune or (self.dirty and len(self._added) > self._main // JOURNAL_SHARE):
                _store_table(self.path, self.salt, entries)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.journal)
                self._added, self._main = {}, len(entries)
            elif self.dirty:
                _store_table(self.journal, self.salt, self._added)
        except OSError:
            pass  # a cache that cannot be written only costs time
        self.dirty = False
